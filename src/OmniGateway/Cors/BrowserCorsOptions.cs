namespace OmniGateway.Cors;

/// <summary>
/// <c>Gateway:Cors</c>: the browser origins every tenant may call from. Each tenant adds its own in
/// <c>AllowedOrigins</c> (configuration or the admin API). Empty by default: no page on another origin
/// can read an answer until an operator names it.
/// </summary>
public sealed class BrowserCorsOptions
{
    /// <summary>Origins such as <c>https://app.example.com</c>; <c>*</c> allows every origin (an explicit opt-in).</summary>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>How long a browser may cache a preflight answer.</summary>
    public TimeSpan PreflightMaxAge { get; set; } = TimeSpan.FromMinutes(10);
}
