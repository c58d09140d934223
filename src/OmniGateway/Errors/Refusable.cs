using System.Diagnostics.CodeAnalysis;

namespace OmniGateway.Errors;

/// <summary>
/// A value, or the error that refuses the request: never both, never neither. For steps that are async
/// (so cannot use <c>TryX(out …)</c>) and may refuse: <c>if (step.Refused(out var value, out var error)) return error.ToResult();</c>
/// </summary>
public readonly struct Refusable<T> where T : notnull
{
    private readonly T? _value;
    private readonly GatewayError? _error;

    private Refusable(T? value, GatewayError? error) => (_value, _error) = (value, error);

    public static implicit operator Refusable<T>(T value) => new(value, null);

    public static implicit operator Refusable<T>(GatewayError error) => new(default, error);

    public bool Refused([NotNullWhen(false)] out T? value, [NotNullWhen(true)] out GatewayError? error)
    {
        (value, error) = (_value, _error);
        return error is not null;
    }
}
