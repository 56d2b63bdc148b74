#!/usr/bin/env bash
# npm start: set-up and build, then sync a workspace folder (default
# ./diaryx-demo, filled with a small demo workspace when new) with the
# embedded local sync server. Extra arguments go to `diaryx-sync sync`, e.g.
#   npm start -- --dir ~/journal        (a second device: another folder)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/build.mjs --quiet
dir="diaryx-demo"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "--dir" ]; then dir=""; fi
done
if [ -n "$dir" ]; then args=(--dir "$dir" "${args[@]}"); fi
exec node bin/diaryx-sync.mjs sync --demo "${args[@]}"
