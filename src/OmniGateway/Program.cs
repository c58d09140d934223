using OmniGateway.Auth;
using OmniGateway.Catalog;
using OmniGateway.Cors;
using OmniGateway.Errors;
using OmniGateway.Hosting;
using OmniGateway.Management;
using OmniGateway.Observability;
using OmniGateway.OpenApi;
using OmniGateway.Playground;
using OmniGateway.Proxy;
using OmniGateway.RateLimiting;
using OmniGateway.Shutdown;
using OmniGateway.Simulator;
using OmniGateway.Tenants;
using OmniGateway.Upstream;
using OmniGateway.Usage;
using OmniGateway.Usage.Export;
using OmniGateway.Validation;

ConfigurationWatch.PollConfigurationFiles(); // appsettings reload without a recursive watch of the content root (the ledger lives there)
var builder = WebApplication.CreateBuilder(args);

builder.AddObservability();      // Serilog, OpenTelemetry metrics, health
builder.AddGatewayErrors();      // one error shape
builder.AddModelCatalog();       // Models:<id>, shipped voices.json beneath configuration
builder.AddTenants();            // Gateway:Tenants
builder.AddTenantAuth();         // 3 key header forms → tenant | admin
builder.AddBrowserCors();        // Gateway:Cors:AllowedOrigins + each tenant's AllowedOrigins
builder.AddTenantRateLimits();   // one admission step: requests, streams, tokens per minute, budgets → 429
builder.AddRequestValidation();  // contract 3.2 rules, 3.3 enrichment
builder.AddUpstream();           // Upstream:Destinations, keys, safe retries: the one invoker
builder.AddUpstreamProxy();      // IHttpForwarder + SSE relay
builder.AddSimulator();          // used when Upstream:Mode resolves to Simulator
builder.AddUsageLedger();        // SQLite | Postgres: records, budgets, API tenants
builder.AddUsageExport();        // Usage:Export:Webhooks ← durable outbox in the usage store
builder.AddGracefulShutdown();   // Gateway:ShutdownTimeout: streams outlive SIGTERM, then end in-band
builder.AddGatewayOpenApi();     // Swagger: catalogue-driven enums and example
builder.AddManagementPort();     // Management:Port (9464): /metrics and detailed /readyz off the API port
builder.AddTransportBlocks();    // 16 KiB socket blocks: a large body in 4× fewer reads

var app = builder.Build();
app.LogUpstreamMode();
app.UseAccessLog();             // one line per request, at its end
app.UseGatewayErrors();
app.UseBrowserCors();            // preflights, CORS headers, a tenant's origins (before auth: preflights carry no key)
app.UseManagementPort();         // each endpoint answers on its own port only
app.UseTenantAuth();             // authentication + authorization, except where an endpoint's filter checks the key

app.MapResponsesApi();           // POST /v1/responses
app.MapCatalogApi();             // /v1/models, /v1/voices
app.MapUsageApi();               // /v1/usage, /admin/usage
app.MapTenantsAdminApi();        // /admin/tenants, keys
app.MapOperationalEndpoints();   // /healthz, /readyz, /metrics
app.MapPlayground();            // /playground: embedded page, usage view (anonymous; the key stays in the browser)
app.MapGatewayOpenApi();         // /swagger, /swagger/v1/swagger.json (anonymous)
app.Run();
