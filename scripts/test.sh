#!/usr/bin/env bash
# The test command of the README: installs missing build tools, then runs
# every test of the workspace (unit, crate and end-to-end tests against
# loopback servers and real processes), then the engine's tests once more
# with every call in an engine worker process (the way `runtime serve`
# runs connector code), so worker and in-process engines answer alike.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo test --workspace --locked --features failpoints "$@"
if [ "$#" -eq 0 ]; then
    ENGINE_TESTS_IN_WORKERS=1 cargo test --locked -p runtime-engine
fi
