using System.Collections;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using OmniGateway.Catalog;
using OmniGateway.Proxy;
using OmniGateway.Simulator;
using OmniGateway.Tenants;
using OmniGateway.Upstream;

namespace OmniGateway.Tests.Deploy;

/// <summary>
/// Decides whether an environment variable in a deploy file is a configuration key the gateway reads, by walking
/// the options classes with reflection: renaming <c>UpstreamOptions.ApiKeyFile</c> breaks the test that checks
/// <c>Upstream__ApiKeyFile</c>, instead of silently shipping a manifest whose setting nobody reads.
/// </summary>
internal static class ConfigurationKeys
{
    // typeof, not names: a renamed options class fails to compile here.
    private static readonly Dictionary<string, Type> BoundSections = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Upstream"] = typeof(UpstreamOptions),
        ["Gateway"] = typeof(GatewayOptions),
        ["Simulator"] = typeof(SimulatorOptions),
    };

    // Contract sections 5 and 6 name these before every branch has an options class for them. Once a class
    // named `<Section>Options` exists in the gateway, it is walked instead and this list no longer matters.
    private static readonly Dictionary<string, string[]> ContractSections = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Usage"] = ["Provider", "ConnectionString"],
        ["RateLimiting"] = ["Provider"],
        ["Management"] = ["Port"],
    };

    // Read through IConfiguration directly (GetConnectionString, Logging:Format) or by the host itself.
    private static readonly HashSet<string> DirectKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "ConnectionStrings:Postgres", "ConnectionStrings:Redis", "Logging:Format",
        "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS", "ASPNETCORE_URLS", "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT",
    };

    /// <summary>Null when the gateway reads <paramref name="environmentVariable"/>; otherwise why not.</summary>
    public static string? Problem(string environmentVariable)
    {
        var key = environmentVariable.Replace("__", ":", StringComparison.Ordinal);
        if (DirectKeys.Contains(key)) return null;
        var segments = key.Split(':');
        var section = segments[0];

        // Serilog's own settings are open-ended (sinks, enrichers); the section name is all we can hold it to.
        if (section.Equals("Serilog", StringComparison.OrdinalIgnoreCase)) return segments.Length > 1 ? null : "Serilog needs a sub-key";

        // The model catalogue binds at the configuration root: Models:<id>:…
        if (section.Equals("Models", StringComparison.OrdinalIgnoreCase))
            return Walk(typeof(ModelCatalogOptions), segments, 0) ? null : $"no ModelCatalogOptions property matches {key}";

        var options = BoundSections.GetValueOrDefault(section) ?? OptionsClassNamed(section + "Options");
        if (options is not null)
            return Walk(options, segments, 1) ? null : $"{options.Name} has no property for {key}";

        if (ContractSections.TryGetValue(section, out var names))
            return segments.Length == 2 && names.Contains(segments[1], StringComparer.OrdinalIgnoreCase)
                ? null : $"{key} is not among the contract's {section} keys ({string.Join(", ", names)})";

        return $"no options class or known key matches {key}";
    }

    private static Type? OptionsClassNamed(string name) =>
        typeof(UpstreamOptions).Assembly.GetTypes().FirstOrDefault(t => t.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Follows the binder's rules: properties by name (or [ConfigurationKeyName]), any key of a dictionary,
    /// numeric indexes of a list, and a value only at a scalar.</summary>
    private static bool Walk(Type type, string[] segments, int index)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (index == segments.Length) return IsScalar(type);
        if (IsScalar(type)) return false;

        if (DictionaryValueType(type) is { } value) return Walk(value, segments, index + 1);
        if (ListItemType(type) is { } item) return int.TryParse(segments[index], out _) && Walk(item, segments, index + 1);

        var property = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .FirstOrDefault(p => p.SetMethod is { IsPublic: true } && string.Equals(
                p.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? p.Name, segments[index], StringComparison.OrdinalIgnoreCase));
        return property is not null && Walk(property.PropertyType, segments, index + 1);
    }

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal)
        || type == typeof(TimeSpan) || type == typeof(DateTimeOffset) || type == typeof(Uri);

    private static Type? DictionaryValueType(Type type) =>
        type.GetInterfaces().Append(type)
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>))
            ?.GetGenericArguments()[1];

    private static Type? ListItemType(Type type) =>
        type.IsArray ? type.GetElementType()
        : typeof(IEnumerable).IsAssignableFrom(type)
            ? type.GetInterfaces().Append(type)
                .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))
                ?.GetGenericArguments()[0]
            : null;
}
