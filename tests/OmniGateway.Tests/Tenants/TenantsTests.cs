using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OmniGateway.Catalog;
using OmniGateway.Tenants;

namespace OmniGateway.Tests.Tenants;

public sealed class TenantsTests
{
    private static readonly ModelCatalog Catalog = new(Options.Create(new ModelCatalogOptions
    {
        Models = new() { ["qwen3.5-omni-plus-all"] = new ModelOptions() },
    }));

    [Fact]
    public void IssuedKeys_StartWithOg_Carry256RandomBits_AndAreKnownByTheirHashOnly()
    {
        var issued = Enumerable.Range(0, 100).Select(_ => ApiKeys.Issue()).ToList();
        foreach (var (key, hash, keyId) in issued)
        {
            Assert.StartsWith("og-", key, StringComparison.Ordinal);
            Assert.Equal(32, Base64Url.DecodeFromChars(key.AsSpan(3)).Length);
            Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(key)), hash);
            Assert.Equal(KeyIds.FromHash(hash), keyId);
            Assert.DoesNotContain(key[3..], keyId, StringComparison.Ordinal);
        }
        Assert.Equal(issued.Count, issued.Select(i => i.Key).Distinct().Count());
    }

    [Theory]
    [InlineData("""{"Name":"no id"}""", "Id")]
    [InlineData("""{"Id":"has space"}""", "Id")]
    [InlineData("""{"Id":"ok","Disabled":"yes"}""", "Disabled")]
    [InlineData("""{"Id":"ok","AllowedModels":["gpt-9"]}""", "AllowedModels[0]")]
    [InlineData("""{"Id":"ok","Limits":{"DailyTokens":0}}""", "Limits.DailyTokens")]
    [InlineData("""{"Id":"ok","Limits":{"DailyTokens":1.5}}""", "Limits.DailyTokens")]
    [InlineData("""{"Id":"ok","Limits":{"RequestsPerMinute":3000000000}}""", "Limits.RequestsPerMinute")]
    [InlineData("""{"Id":"ok","Limits":{"DailyToken":5}}""", "Limits.DailyToken")]
    [InlineData("""{"Id":"ok","KeySha256":["not-a-hash"]}""", "KeySha256[0]")]
    [InlineData("""{"Id":"ok","Colour":"blue"}""", "Colour")]
    public void BadTenant_Is400NamingTheField(string json, string param)
    {
        using var document = JsonDocument.Parse(json);
        Assert.False(TenantInput.TryParse(document.RootElement, creating: true, Catalog, out var input, out var error));
        Assert.Null(input);
        Assert.Equal((400, param), (error!.Status, error.Param));
    }

    [Fact]
    public void Patch_ChangesOnlyWhatItNames_AndNullRemovesALimit()
    {
        var now = DateTimeOffset.UnixEpoch;
        var current = new StoredTenant("t1", "Old", false, ["qwen3.5-omni-plus-all"], new TenantLimits { DailyTokens = 10, MonthlyTokens = 20 }, now, now);
        using var document = JsonDocument.Parse("""{"name":"New","limits":{"dailyTokens":null,"RequestsPerMinute":5},"Source":"api"}""");

        Assert.True(TenantInput.TryParse(document.RootElement, creating: false, Catalog, out var input, out var error));
        Assert.Null(error);
        var patched = input!.ApplyTo(current, now.AddHours(1));

        Assert.Equal("New", patched.Name);
        Assert.Equal(["qwen3.5-omni-plus-all"], patched.AllowedModels);
        Assert.Equal((null, 20L, 5), (patched.Limits.DailyTokens, patched.Limits.MonthlyTokens, patched.Limits.RequestsPerMinute));
        Assert.Equal(now.AddHours(1), patched.UpdatedAt);
    }
}
