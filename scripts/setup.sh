#!/usr/bin/env bash
# Installs what the project needs on a Debian machine that has Node.js:
# Debian packages (only those missing: the wasm32-wasi C toolchain for the
# QuickJS engine, Chromium for the browser tests) and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v clang-16 >/dev/null 2>&1 || need+=(clang-16)
command -v wasm-ld-16 >/dev/null 2>&1 || need+=(lld-16)
[ -f /usr/lib/wasm32-wasi/libc.a ] || need+=(wasi-libc)
[ -f /usr/lib/llvm-16/lib/clang/16/lib/wasi/libclang_rt.builtins-wasm32.a ] || need+=(libclang-rt-16-dev-wasm32)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
# Postgres server binaries for the scale-out tests (each test starts its own throw-away server).
if [ "${DIARYX_SKIP_POSTGRES:-0}" != 1 ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
fi
if [ "${DIARYX_SKIP_BROWSER:-0}" != 1 ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "[setup] installing Debian packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm packages, exactly as locked; again whenever the lock file changed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm ci"
  npm ci --no-audit --no-fund
fi
