#!/usr/bin/env bash
# Installs Deno for the benchmark into bench/.deno (gitignored; not a project
# dependency). The npm registry ships Deno's Linux binary as a package.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -x "$here/.deno/node_modules/@deno/linux-x64-glibc/deno" ]; then
  echo "deno already installed: $("$here/.deno/node_modules/@deno/linux-x64-glibc/deno" --version | head -1)"
  exit 0
fi
mkdir -p "$here/.deno"
npm install --no-audit --no-fund --prefix "$here/.deno" @deno/linux-x64-glibc
"$here/.deno/node_modules/@deno/linux-x64-glibc/deno" --version
