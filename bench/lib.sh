# Sourced by bench/profile.sh and bench/ab.sh: the fake upstream, a gateway under test and h2load's load,
# set up one way for both. Expects to run from the repository root; processes it starts go into the
# caller's `pids` array (the caller kills them on exit), and the last one's pid is `started_pid`.

bench_dll=bench/OmniGateway.Bench/bin/Release/net10.0/OmniGateway.Bench.dll
bench_gateway_dll=$PWD/src/OmniGateway/bin/Release/net10.0/OmniGateway.dll
bench_key=og-bench-tenant-key-0123456789abcdef0123456789

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# install_missing COMMAND:PACKAGE...: installs, on Debian, the package of each command that is missing
install_missing() {
  local need=() pair
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}"); done
  if [ ${#need[@]} -gt 0 ]; then
    { as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}"; } >/dev/null
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_upstream PORT: the bench's fake upstream
start_upstream() { dotnet "$bench_dll" upstream "$1" >/dev/null 2>&1 & started_pid=$!; pids+=("$started_pid"); }

# start_gateway FOLDER DLL PORT UPSTREAM_PORT [NAME=VALUE...]: a gateway as operators run it (Production, the bench
# tenant, its SQLite ledger in data/ under FOLDER, its content root), with any settings given after the ports.
# The subshell execs env, which execs dotnet: started_pid is the gateway's own pid. DLL may be relative to the caller's
# folder: it is resolved before the subshell moves to FOLDER.
start_gateway() {
  local folder=$1 dll port=$3 upstream=$4
  dll=$(realpath -e "$2") || { echo "bench: no gateway at $2" >&2; return 1; }
  shift 4
  mkdir -p "$folder"
  ( cd "$folder" && exec env ASPNETCORE_ENVIRONMENT=Production Upstream__Mode=Live Upstream__BaseUrl="http://127.0.0.1:$upstream" \
      Upstream__ApiKey=sk-bench-upstream-key \
      Gateway__Tenants__0__Id=bench Gateway__Tenants__0__KeySha256__0="$(printf %s "$bench_key" | sha256sum | cut -d' ' -f1)" "$@" \
      dotnet "$dll" --urls "http://127.0.0.1:$port" >/dev/null 2>&1 ) & started_pid=$!
  pids+=("$started_pid")
}

# wait_healthy PORT...: until each answers /healthz (30 s at most each); fails if one never does
wait_healthy() {
  local port
  for port in "$@"; do
    for _ in $(seq 300); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || { echo "bench: nothing answers on port $port" >&2; return 1; }
  done
}

# zero_delay_streams UPSTREAM_PORT BODY_FILE: the upstream answers 12 text deltas with no delay; BODY_FILE is the call
zero_delay_streams() {
  curl -fs -X PUT -H 'content-type: application/json' \
    -d '{"textDeltas":12,"eventDelayMs":0,"audioBytes":0,"holdUntilReleased":false}' "http://127.0.0.1:$1/control/shape"
  cat > "$2" <<'JSON'
{"model":"qwen3.5-omni-plus-all","input":[{"role":"user","content":[{"type":"input_text","text":"Summarise the weekend plan in two sentences."}]}],"stream":true,"modalities":["text","audio"],"audio":{"voice":"Tina","format":"wav"}}
JSON
}

# h2load_streams CONNECTIONS SECONDS BODY_FILE PORT: h2load's report of that many seconds of calls
h2load_streams() {
  h2load --h1 -c "$1" -D "$2" -d "$3" -H "authorization: Bearer $bench_key" -H 'content-type: application/json' \
    "http://127.0.0.1:$4/v1/responses"
}
