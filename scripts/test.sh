#!/usr/bin/env bash
# npm test: set-up, build, type-check, then every test (unit tests in Node and
# the same behaviour through the built .wasm).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/build.mjs
npm run --silent typecheck
npx vitest run "$@"
