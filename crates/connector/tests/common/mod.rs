#![allow(dead_code)]

use std::path::Path;

use runtime_connector::Connector;
use tempfile::TempDir;

/// A connector directory with the given files (parents created).
pub fn dir_with(files: &[(&str, &str)]) -> TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), files);
    tmp
}

pub fn write(root: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

pub const ROOT_SPEC: (&str, &str) = ("spec.yml", "key: acme\nname: Acme\n");
pub const MAKE_CLIENT: (&str, &str) = (
    "auth/make-api-client.js",
    "export default function makeApiClient() { return {baseUri: 'http://x'} }",
);
pub const JS: &str = "export default async function f() {}";

pub fn load_ok(dir: &Path) -> Connector {
    match runtime_connector::load(dir) {
        Ok(c) => c,
        Err(problems) => panic!("unexpected problems: {problems:#?}"),
    }
}

pub fn messages(problems: &[runtime_connector::Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}
