namespace OmniGateway.Validation;

public static class ValidationExtensions
{
    public static IHostApplicationBuilder AddRequestValidation(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<RequestValidator>();
        builder.Services.AddSingleton<RequestBufferBudget>();
        return builder;
    }
}
