namespace OmniGateway.Usage;

public static class UsageExtensions
{
    public static IHostApplicationBuilder AddUsageLedger(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IUsageLedger, LogOnlyUsageLedger>();
        builder.Services.AddSingleton<UsageRecorder>();
        return builder;
    }
}
