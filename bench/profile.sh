#!/usr/bin/env bash
# A per-subsystem CPU profile of the gateway under the throughput load (issue 11), as anyone can take it:
#   bench/profile.sh [--no-build] [SECONDS=20] [WARMUP=30]   → bench/results/profile.md (~2.5 minutes with the defaults)
# Starts the fake upstream and the gateway (Release, Production, SQLite ledger in data/ under its content
# root, Information logs to a pipe) with DOTNET_PerfMapEnabled=1, so perf can name JIT-compiled frames, and
# DOTNET_EnableWriteXorExecute=0: with W^X on, JIT code runs from a double-mapped memfd that perf does not match
# to /tmp/perf-PID.map, and two thirds of the samples came out unnamed ("unowned: runtime");
# drives it with h2load (32 connections, 12 text deltas per stream, no delay) for WARMUP seconds (the JIT
# settles in ~25 s), then samples every thread of the gateway with `perf record -g` for SECONDS while
# the load goes on, and sorts the samples into subsystems with bench/profile-subsystems.py.
# The bare YARP pass-through (bench/OmniGateway.Bench.PassThrough) is then warmed and sampled the same way, so
# each subsystem's figure stands beside the framework's own: what the gateway adds, part by part.
# Installs linux-perf and nghttp2-client on Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1; [ "${1:-}" = "--no-build" ] && { build=0; shift; }
seconds=${1:-20}; warmup=${2:-30}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
need=()
command -v perf >/dev/null || need+=(linux-perf)
command -v h2load >/dev/null || need+=(nghttp2-client)
if [ ${#need[@]} -gt 0 ]; then
  { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}"; } >/dev/null
fi
[ "$build" = 1 ] && dotnet build OmniGateway.sln -c Release -v quiet -nologo >/dev/null

bench=bench/OmniGateway.Bench/bin/Release/net10.0/OmniGateway.Bench.dll
gateway=$PWD/src/OmniGateway/bin/Release/net10.0/OmniGateway.dll
passthrough=bench/OmniGateway.Bench.PassThrough/bin/Release/net10.0/OmniGateway.Bench.PassThrough.dll
key=og-bench-tenant-key-0123456789abcdef0123456789
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d /tmp/omnigateway-profile.XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP_PROFILE:-}" ] && echo "kept $work" >&2 || rm -rf "$work"; }
trap cleanup EXIT  # KEEP_PROFILE=1 keeps the work folder (perf.data, perf.txt) for a closer look

up=$(free_port); gw=$(free_port); yarp=$(free_port)
dotnet "$bench" upstream "$up" >/dev/null 2>&1 & pids+=($!)
( cd "$work" && exec env ASPNETCORE_ENVIRONMENT=Production DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 Upstream__Mode=Live \
    Upstream__BaseUrl="http://127.0.0.1:$up" Upstream__ApiKey=sk-profile-upstream-key \
    Gateway__Tenants__0__Id=bench Gateway__Tenants__0__KeySha256__0="$(printf %s "$key" | sha256sum | cut -d' ' -f1)" \
    dotnet "$gateway" --urls "http://127.0.0.1:$gw" >/dev/null 2>&1 ) & pids+=($!)
env ASPNETCORE_ENVIRONMENT=Production DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 \
  dotnet "$passthrough" "http://127.0.0.1:$up" --urls "http://127.0.0.1:$yarp" >/dev/null 2>&1 & pids+=($!)
for port in "$up" "$gw" "$yarp"; do
  for _ in $(seq 300); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
done
gateway_pid=$(pgrep -f -- "--urls http://127.0.0.1:$gw" | head -1)
yarp_pid=$(pgrep -f -- "--urls http://127.0.0.1:$yarp" | head -1)
curl -fs -X PUT -H 'content-type: application/json' \
  -d '{"textDeltas":12,"eventDelayMs":0,"audioBytes":0,"holdUntilReleased":false}' "http://127.0.0.1:$up/control/shape"
cat > "$work/body.json" <<'JSON'
{"model":"qwen3.5-omni-plus-all","input":[{"role":"user","content":[{"type":"input_text","text":"Summarise the weekend plan in two sentences."}]}],"stream":true,"modalities":["text","audio"],"audio":{"voice":"Tina","format":"wav"}}
JSON
load() { h2load --h1 -c 32 -D "$2" -d "$work/body.json" -H "authorization: Bearer $key" -H 'content-type: application/json' "http://127.0.0.1:$1/v1/responses"; }

# sample NAME PORT PID: warm-up, then perf on that process while the load goes on → $work/NAME.perf.txt, $work/NAME.h2load.txt
sample() {
  echo "profile: $1: warm-up ${warmup} s" >&2
  load "$2" "$warmup" >/dev/null
  echo "profile: $1: sampling ${seconds} s" >&2
  load "$2" "$((seconds + 2))" > "$work/$1.h2load.txt" &
  local loader=$!
  sleep 1
  perf record -F 499 -g -p "$3" -o "$work/$1.perf.data" -- sleep "$seconds" 2>"$work/$1.perf-record.txt"
  wait "$loader"
  perf script -i "$work/$1.perf.data" 2>/dev/null > "$work/$1.perf.txt"
}
sample gateway "$gw" "$gateway_pid"
sample yarp "$yarp" "$yarp_pid"
python3 bench/profile-subsystems.py "$work/gateway.perf.txt" "$work/gateway.h2load.txt" "bench/profile.sh $seconds $warmup" "$seconds" 499 \
  --beside "$work/yarp.perf.txt" "$work/yarp.h2load.txt" > bench/results/profile.md
echo "profile: bench/results/profile.md" >&2
