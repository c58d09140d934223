#!/usr/bin/env bash
# Stops the redis-server started by start-redis.sh and removes its folder. Safe to call twice.
set -uo pipefail
dir=${OMNIGATEWAY_REDIS_DIR:-}
[ -n "$dir" ] && [ -d "$dir" ] || exit 0
if [ -f "$dir/redis.pid" ]; then
  pid=$(cat "$dir/redis.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
rm -rf "$dir"
