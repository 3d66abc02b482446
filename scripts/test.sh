#!/usr/bin/env bash
# The test command of the README: installs missing build tools, then runs
# every test of the workspace (unit, crate and end-to-end tests against
# loopback servers and real processes).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo test --workspace --locked --features failpoints "$@"
