#!/usr/bin/env bash
# Runs every test. On a fresh Debian machine it first installs what the tests need.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v dotnet >/dev/null || { echo "The .NET 10 SDK is required: https://dot.net" >&2; exit 1; }
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq "${need[@]}" >/dev/null; fi
fi

dotnet test OmniGateway.sln -c Release "$@"
