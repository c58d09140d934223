#!/usr/bin/env bash
# Runs every test. On a fresh Debian machine it first installs what the tests need.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v dotnet >/dev/null || { echo "The .NET 10 SDK is required: https://dot.net" >&2; exit 1; }
command -v python3 >/dev/null || need+=(python3)
# The browser tests (tests/browser): Debian's chromium, driven by playwright-core from npm (no browser download).
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v npm >/dev/null || need+=(nodejs npm)
# The bench smoke test's h2load paths (the throughput cross-check, target 1 side by side): nghttp2's load generator.
command -v h2load >/dev/null || need+=(nghttp2-client)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq "${need[@]}" >/dev/null; fi
fi

(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

# A real PostgreSQL on loopback for the Postgres half of the usage-store tests; they fail, not skip,
# when it is required and unreachable.
pg_env=$(tests/scripts/start-postgres.sh)  # an assignment, so that set -e sees a failed start
eval "$pg_env"
trap 'tests/scripts/stop-postgres.sh' EXIT
export OMNIGATEWAY_REQUIRE_POSTGRES=1

# A real redis-server on loopback for RateLimiting:Provider=Redis (shared counts across two gateways).
redis_env=$(tests/scripts/start-redis.sh)
eval "$redis_env"
trap 'tests/scripts/stop-redis.sh; tests/scripts/stop-postgres.sh' EXIT
export OMNIGATEWAY_REQUIRE_REDIS=1
export OMNIGATEWAY_REQUIRE_H2LOAD=1

dotnet test OmniGateway.sln -c Release "$@"
