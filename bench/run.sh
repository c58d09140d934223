#!/usr/bin/env bash
# The benchmark in one command: bench/run.sh [--micro] [--smoke] [--warmup SECONDS]
#   macro scenarios (direct vs gateway vs nginx) → bench/results/latest.md + overhead-by-concurrency.png
#   --micro  also BenchmarkDotNet (validator, SSE usage reader, relay hot path) → bench/results/micro/
#   --smoke  seconds instead of minutes (what the test suite runs)
#   --warmup load per target before any measured round (full profile: 30 s; the JIT settles in ~25 s)
# bench/profile.sh takes the per-subsystem CPU profile → bench/results/profile.md
# Installs nginx and h2load on Debian when missing (the pass-through floor; optional: without nginx
# the run measures direct vs gateway only).
set -euo pipefail
cd "$(dirname "$0")/.."

micro=0; args=()
for a in "$@"; do if [ "$a" = "--micro" ]; then micro=1; else args+=("$a"); fi; done

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
  echo "bench: installing nginx (pass-through floor)" >&2
  { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nginx-light || \
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nginx; } >/dev/null 2>&1 \
    || echo "bench: could not install nginx; measuring direct vs gateway only" >&2
fi
# h2load: the native load generator of the throughput cross-check (optional: without it the cross-check is left out).
if ! command -v h2load >/dev/null; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
  echo "bench: installing h2load (nghttp2-client)" >&2
  { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nghttp2-client; } >/dev/null 2>&1 \
    || echo "bench: could not install h2load; no throughput cross-check" >&2
fi
# Many open streams per process in the scale scenario.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

dotnet build OmniGateway.sln -c Release -v quiet -nologo >/dev/null
dotnet bench/OmniGateway.Bench/bin/Release/net10.0/OmniGateway.Bench.dll run "${args[@]}"
if [ "$micro" = 1 ]; then
  dotnet run -c Release --no-build --project bench/OmniGateway.Bench.Micro -- --filter '*' --job short --iterationCount 10
fi
