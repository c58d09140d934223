using Microsoft.Extensions.Options;

namespace OmniGateway.Shutdown;

/// <summary><c>Gateway:ShutdownTimeout</c> — how long in-flight streams may run on after SIGTERM.</summary>
public sealed class ShutdownOptions
{
    /// <summary>
    /// Answers with speech easily run past the host's default 30 s. What is still open when this runs
    /// out ends with an SSE <c>error</c> event (<c>gateway_shutting_down</c>) and an <c>interrupted</c> record.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromMinutes(5);
}

internal sealed class ShutdownOptionsValidator : IValidateOptions<ShutdownOptions>
{
    public ValidateOptionsResult Validate(string? name, ShutdownOptions options) =>
        options.ShutdownTimeout < TimeSpan.Zero || options.ShutdownTimeout > TimeSpan.FromHours(1)
            ? ValidateOptionsResult.Fail("Gateway:ShutdownTimeout must be a time span between 00:00:00 and 01:00:00 such as 00:05:00.")
            : ValidateOptionsResult.Success;
}
