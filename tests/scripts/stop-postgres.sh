#!/usr/bin/env bash
# Stops the server start-postgres.sh started and removes its folder (from the variables it exported).
set -uo pipefail
dir=${OMNIGATEWAY_PG_DIR:-}
bin=${OMNIGATEWAY_PG_BIN:-}
[ -n "$dir" ] && [ -d "$dir" ] || exit 0
run=()
[ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
"${run[@]}" "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >/dev/null 2>&1 || true
rm -rf "$dir"
