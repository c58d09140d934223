using OmniGateway.Errors;
using OmniGateway.Validation;

namespace OmniGateway.Tests.Validation;

/// <summary>A validation's two sides, read through <see cref="Refusable{T}.Refused"/> as production reads them, for assertions on either.</summary>
internal static class Outcomes
{
    public static (ValidatedRequest? Value, GatewayError? Error) Sides(this Refusable<ValidatedRequest> outcome)
    {
        _ = outcome.Refused(out var value, out var error);
        return (value, error);
    }
}
