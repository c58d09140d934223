using System.Net;
using System.Text;
using OmniGateway.IntegrationTests.Usage;

namespace OmniGateway.IntegrationTests.Hardening;

/// <summary>Issue 9.4: admin input is matched whole, and a deleted tenant's id is never handed out again (both stores).</summary>
public sealed class AdminInputTests
{
    [Theory, EveryStore]
    public async Task TrailingNewlineIdOrHash_Is400_AndARetiredIdIs409(string provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        await using var gateway = new LedgerGateway(store);
        using var admin = gateway.Client(LedgerGateway.AdminKey);

        foreach (var body in new[]
                 {
                     """{"Id":"web\n"}""",
                     """{"Id":"web\r\n"}""",
                     "{\"Id\":\"web2\",\"KeySha256\":[\"" + LedgerGateway.Sha256("og-some-key") + "\\n\"]}",
                 })
        {
            using var refused = await admin.PostAsync("/admin/tenants", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("\"code\":\"invalid_tenant\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var list = await admin.GetAsync("/admin/tenants"))
            Assert.DoesNotContain("web", await list.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using (var created = await admin.PostAsJsonAsync("/admin/tenants", new { Id = "zeta" }))
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using (var deleted = await admin.DeleteAsync("/admin/tenants/zeta"))
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using (var reused = await admin.PostAsJsonAsync("/admin/tenants", new { Id = "zeta" }))
        {
            Assert.Equal(HttpStatusCode.Conflict, reused.StatusCode);
            var text = await reused.Content.ReadAsStringAsync();
            Assert.Contains("\"code\":\"tenant_id_retired\"", text, StringComparison.Ordinal);
            Assert.Contains("\"param\":\"Id\"", text, StringComparison.Ordinal);
        }
        using (var stillGone = await admin.GetAsync("/admin/tenants/zeta"))
            Assert.Equal(HttpStatusCode.NotFound, stillGone.StatusCode);
    }
}
