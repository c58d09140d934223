#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on a free loopback port for the tests: a real server, never a
# mock. Installs Debian's postgresql package if it is missing (as root, or through sudo). Prints the
# variables to export, so use it as:
#   eval "$(tests/scripts/start-postgres.sh)"     ...     tests/scripts/stop-postgres.sh
# Everything lives in one temporary folder (data, socket, log), removed by stop-postgres.sh.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

bin=$(pg_bin)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "start-postgres: installing Debian's postgresql package" >&2
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >&2
  bin=$(pg_bin)
fi
[ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "start-postgres: no initdb found after installing postgresql" >&2; exit 1; }

free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    return
  fi
  local port
  for port in $(seq 25432 25532); do
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
  echo "start-postgres: no free port in 25432-25532" >&2; return 1
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/omnigateway-pg.XXXXXX")
chmod 755 "$dir"
# initdb refuses to run as root: as root, the server runs as the package's postgres user.
run=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" --shell /usr/sbin/nologin postgres
  chown postgres "$dir"
  run=(runuser -u postgres --)
fi

"${run[@]}" "$bin/initdb" --pgdata="$dir/data" --username=postgres --auth=trust --encoding=UTF8 --no-instructions >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# postgres cannot bind port 0 and say which port it got, so the port is probed free first; another process can
# take it before the server binds it, and then the start is tried again on another port.
# fsync stays on (the default): the crash tests check what a committed transaction promises.
for attempt in 1 2 3 4 5; do
  port=$(free_port)
  rm -f "$dir/server.log"
  "${run[@]}" "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300" start >&2 && break
  if [ "$attempt" -lt 5 ] && grep -q "Address already in use" "$dir/server.log" 2>/dev/null; then
    echo "start-postgres: port $port was taken before the server bound it; trying another" >&2
    continue
  fi
  cat "$dir/server.log" >&2; exit 1
done

echo "export OMNIGATEWAY_TEST_POSTGRES='Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres'"
echo "export OMNIGATEWAY_PG_DIR='$dir'"
echo "export OMNIGATEWAY_PG_BIN='$bin'"
