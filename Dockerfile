# syntax=docker/dockerfile:1
# OmniGateway container image.
#   docker build -t omnigateway .
#   docker run -p 8080:8080 -v omnigateway-data:/app/data omnigateway      # simulator mode, no key needed
# The upstream key is never part of the image: mount it as a file and point Upstream__ApiKeyFile at it
# (docker-compose.yml and deploy/kubernetes/ do exactly that).

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src

# Restore in its own layer from only the files that decide the package graph, so a code change
# reuses the cached packages instead of downloading them again.
COPY Directory.Build.props Directory.Packages.props ./
COPY src/OmniGateway/OmniGateway.csproj src/OmniGateway/
RUN dotnet restore src/OmniGateway/OmniGateway.csproj

COPY src/ src/
# UseAppHost=false: the entrypoint is `dotnet OmniGateway.dll`, so the native launcher would be dead weight.
RUN dotnet publish src/OmniGateway/OmniGateway.csproj -c Release --no-restore -o /app/publish -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app

# 8080 rather than 80: a non-root process cannot bind below 1024. 9464 serves /metrics and detailed /readyz
# (Management:Port), for the cluster's scraper, not for the public.
ENV ASPNETCORE_HTTP_PORTS=8080 \
    Management__Port=9464 \
    Usage__ConnectionString="Data Source=/app/data/omnigateway.db"

COPY --from=build /app/publish .

# The SQLite usage store must outlive the container and be writable by the non-root user;
# created here, while still root, because the image's `app` user cannot create folders in /app.
RUN mkdir -p /app/data && chown "$APP_UID" /app/data
VOLUME /app/data

# The aspnet image's built-in `app` user. Numeric, so Kubernetes' runAsNonRoot can verify it.
USER $APP_UID

EXPOSE 8080 9464

# No HEALTHCHECK: the aspnet image has neither curl nor wget, and adding one only for this would grow the
# attack surface of every deployment. Orchestrators probe GET /healthz (liveness) and GET /readyz
# (readiness) from outside instead; see deploy/kubernetes/deployment.yaml.
ENTRYPOINT ["dotnet", "OmniGateway.dll"]
