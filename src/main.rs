//! The `runtime` binary. Everything lives in `crates/cli`; this file only
//! exists so the product binary and the end-to-end tests in `tests/` share a
//! package (the tests find the binary through `CARGO_BIN_EXE_runtime`).

fn main() -> std::process::ExitCode {
    runtime_cli::main()
}
