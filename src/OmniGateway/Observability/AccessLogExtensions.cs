namespace OmniGateway.Observability;

public static class AccessLogExtensions
{
    /// <summary>First in the pipeline: the line is written after every other stage, error pages included, has finished.</summary>
    public static WebApplication UseAccessLog(this WebApplication app)
    {
        app.UseMiddleware<AccessLogMiddleware>();
        return app;
    }
}
