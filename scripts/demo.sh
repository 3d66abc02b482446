#!/usr/bin/env bash
# The main job of the README: builds the runtime (release) and runs the
# demo: a bundled mock API in-process, the example connector against it,
# events printed as they come. No external service needed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --locked
exec ./target/release/runtime demo "$@"
