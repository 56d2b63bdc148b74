#!/usr/bin/env bash
# npm start: set-up and build, then the main job of the command line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/build.mjs --quiet
exec node bin/diaryx-sync.mjs manifest "$@"
