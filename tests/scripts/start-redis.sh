#!/usr/bin/env bash
# Starts a throwaway redis-server on a free loopback port for the tests: a real server, never a mock.
# Installs Debian's redis-server package if it is missing (as root, or through sudo). Prints the
# variables to export, so use it as:
#   eval "$(tests/scripts/start-redis.sh)"     ...     tests/scripts/stop-redis.sh
# Everything lives in one temporary folder (pid file, log), removed by stop-redis.sh.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v redis-server >/dev/null; then
  echo "start-redis: installing Debian's redis-server package" >&2
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq redis-server >&2
fi
bin=$(command -v redis-server)

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/omnigateway-redis.XXXXXX")
# redis-server cannot bind port 0 and say which port it got, so the port is probed free first; another process
# can take it before the server binds it, and then the start is tried again on another port. Daemonized, the
# server returns before it binds, so its log says how the start went: a port-open check cannot tell, since the
# process that took the port would answer it.
started=
for attempt in 1 2 3 4 5; do
  port=$(free_port)
  rm -f "$dir/redis.log"
  # No persistence: the counts are minutes long and a restart may forget them (the gateway fails open meanwhile).
  "$bin" --port "$port" --bind 127.0.0.1 --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --dir "$dir" --save "" --appendonly no >&2 || { cat "$dir/redis.log" >&2; exit 1; }
  for _ in $(seq 1 100); do
    if grep -q "Ready to accept connections" "$dir/redis.log" 2>/dev/null; then started=1; break; fi
    grep -q "Address already in use" "$dir/redis.log" 2>/dev/null && break
    sleep 0.1
  done
  [ -n "$started" ] && break
  if [ "$attempt" -lt 5 ] && grep -q "Address already in use" "$dir/redis.log" 2>/dev/null; then
    echo "start-redis: port $port was taken before redis-server bound it; trying another" >&2
    continue
  fi
  echo "start-redis: redis-server did not open port $port" >&2; cat "$dir/redis.log" >&2; exit 1
done

echo "export OMNIGATEWAY_TEST_REDIS='127.0.0.1:$port'"
echo "export OMNIGATEWAY_REDIS_DIR='$dir'"
echo "export OMNIGATEWAY_REDIS_BIN='$bin'"
