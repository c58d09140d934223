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

source bench/lib.sh
install_missing perf:linux-perf h2load:nghttp2-client
[ "$build" = 1 ] && dotnet build OmniGateway.sln -c Release -v quiet -nologo >/dev/null

passthrough=bench/OmniGateway.Bench.PassThrough/bin/Release/net10.0/OmniGateway.Bench.PassThrough.dll
work=$(mktemp -d /tmp/omnigateway-profile.XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP_PROFILE:-}" ] && echo "kept $work" >&2 || rm -rf "$work"; }
trap cleanup EXIT  # KEEP_PROFILE=1 keeps the work folder (perf.data, perf.txt) for a closer look

up=$(free_port); gw=$(free_port); yarp=$(free_port)
start_upstream "$up"
start_gateway "$work" "$bench_gateway_dll" "$gw" "$up" DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
gateway_pid=$started_pid
env ASPNETCORE_ENVIRONMENT=Production DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 \
  dotnet "$passthrough" "http://127.0.0.1:$up" --urls "http://127.0.0.1:$yarp" >/dev/null 2>&1 & yarp_pid=$! # env execs dotnet
pids+=("$yarp_pid")
wait_healthy "$up" "$gw" "$yarp"
zero_delay_streams "$up" "$work/body.json"
load() { h2load_streams 32 "$2" "$work/body.json" "$1"; }

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
