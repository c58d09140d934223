#!/usr/bin/env bash
# A concurrent A/B of two gateways (issue 11), for changes too small for one-after-the-other rounds:
#   bench/ab.sh [--no-build] [BASELINE_DIR|same] [ROUNDS=8] [SECONDS=8] [WARMUP=30]   (~3 minutes with the defaults)
# A is this checkout's Release build; B is the OmniGateway.dll in BASELINE_DIR (e.g. a worktree's
# src/OmniGateway/bin/Release/net10.0), or this build again with "same" (an A/A, or a setting: B_ENV below).
# A_ENV / B_ENV add settings to one side, e.g. B_ENV="Usage__MaxBatchSize=64 DOTNET_TieredPGO=0".
# Both gateways run at once behind the bench's fake upstream (Production, SQLite ledger in data/ under each
# one's content root, Information logs to a pipe); each round drives both with h2load at the same time
# (16 connections each, 12 text deltas per stream, no delay) and reads each process's CPU from /proc.
# Why at once: on our 2-core VM, rounds taken one after the other moved ±15 % between identical builds
# (2026-12-06: 133–180 µs per stream), so a change had to move CPU by well over that to show; run side by
# side, both see the same machine and the ratio B/A of identical builds read 0.964–1.054 over eight rounds,
# median 1.000 (bench/README.md: measuring a small change). Each side's CPU per stream is higher than alone
# (the two compete for the cores); the ratio is the result, not either figure.
# Prints a markdown table: per round each side's streams/s and CPU µs per stream, and B/A; then the
# median ratio with its min–max. Installs nghttp2-client on Debian when h2load is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1; [ "${1:-}" = "--no-build" ] && { build=0; shift; }
baseline=${1:-same}; rounds=${2:-8}; seconds=${3:-8}; warmup=${4:-30}

source bench/lib.sh
install_missing h2load:nghttp2-client
[ "$build" = 1 ] && dotnet build OmniGateway.sln -c Release -v quiet -nologo >/dev/null

gateway_a=$bench_gateway_dll
if [ "$baseline" = same ]; then gateway_b=$gateway_a; else gateway_b=$baseline/OmniGateway.dll; fi
[ -f "$gateway_b" ] || { echo "ab: no OmniGateway.dll in $baseline" >&2; exit 2; }
work=$(mktemp -d /tmp/omnigateway-ab.XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

up=$(free_port); port_a=$(free_port); port_b=$(free_port)
start_upstream "$up"
# Each its own content root (and ledger); no management port, so the two do not both bind the default one.
# shellcheck disable=SC2086 # A_ENV and B_ENV are words on purpose
start_gateway "$work/a" "$gateway_a" "$port_a" "$up" Management__Port=0 ${A_ENV:-}
pid_a=$started_pid
# shellcheck disable=SC2086
start_gateway "$work/b" "$gateway_b" "$port_b" "$up" Management__Port=0 ${B_ENV:-}
pid_b=$started_pid
wait_healthy "$up" "$port_a" "$port_b"
zero_delay_streams "$up" "$work/body.json"
# load PORT SECONDS OUT: h2load's count of succeeded streams into OUT
load() { h2load_streams 16 "$2" "$work/body.json" "$1" | grep -oP '\d+(?= succeeded)' > "$3" || echo 0 > "$3"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, in clock ticks
echo "ab: warm-up ${warmup} s, both at once" >&2
# both_at_once SECONDS NAME: the two loads side by side (waits for them only, not for the processes under test)
both_at_once() {
  load "$port_a" "$1" "$work/$2.a" & local loader_a=$!
  load "$port_b" "$1" "$work/$2.b" & local loader_b=$!
  wait "$loader_a" "$loader_b"
}
both_at_once "$warmup" warm

tick_us=$((1000000 / $(getconf CLK_TCK)))
echo "| round | A streams/s | A CPU µs per stream | B streams/s | B CPU µs per stream | B/A |"
echo "|---:|---:|---:|---:|---:|---:|"
for round in $(seq "$rounds"); do
  a0=$(cpu_ticks "$pid_a"); b0=$(cpu_ticks "$pid_b")
  both_at_once "$seconds" round
  a1=$(cpu_ticks "$pid_a"); b1=$(cpu_ticks "$pid_b")
  python3 - "$(cat "$work/round.a")" "$(cat "$work/round.b")" "$((a1 - a0))" "$((b1 - b0))" "$tick_us" "$seconds" "$round" "$work/ratios" <<'PY'
import sys
streams_a, streams_b, ticks_a, ticks_b, tick_us, seconds, round_ = map(int, sys.argv[1:8])
if streams_a == 0 or streams_b == 0: sys.exit(f"ab: round {round_}: a side finished no stream")
cpu_a, cpu_b = ticks_a * tick_us / streams_a, ticks_b * tick_us / streams_b
print(f"| {round_} | {streams_a / seconds:.0f} | {cpu_a:.1f} | {streams_b / seconds:.0f} | {cpu_b:.1f} | {cpu_b / cpu_a:.3f} |")
with open(sys.argv[8], "a") as ratios: ratios.write(f"{cpu_b / cpu_a}\n")
PY
done
python3 - "$work/ratios" <<'PY'
import statistics, sys
r = sorted(float(line) for line in open(sys.argv[1]))
print(f"\nB/A CPU per stream: median {statistics.median(r):.3f} ({r[0]:.3f}–{r[-1]:.3f}) over {len(r)} rounds; "
      f"B lower in {sum(x < 1 for x in r)} of {len(r)}")
PY
