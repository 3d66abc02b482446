mod common;

use std::fs;

use runtime_events::Event;
use runtime_sinks::{build, json_line, FileSink, FileSinkConfig, Sink, SinkConfig};

fn read_events(path: &std::path::Path) -> Vec<Event> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn appends_lines_that_parse_back_across_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let all = common::events(5);
    let config: SinkConfig = format!("file:{}", path.display()).parse().unwrap();

    let mut sink = build(&config).unwrap();
    assert!(path.exists(), "build creates the file");
    sink.deliver(&common::lines(&all[..3])).await.unwrap();
    sink.deliver(&[]).await.unwrap();
    drop(sink);
    // A new sink on the same file appends rather than truncating.
    let mut sink = build(&config).unwrap();
    sink.deliver(&common::lines(&all[3..])).await.unwrap();

    assert_eq!(read_events(&path), all);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.lines().count(),
        5,
        "newlines inside records stay escaped"
    );
    assert!(text.ends_with('\n'));
}

#[tokio::test]
async fn repairs_a_torn_last_line_before_appending() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let whole = json_line(&common::event(0)).unwrap();
    let torn = &json_line(&common::event(1)).unwrap()[..40];
    fs::write(&path, [whole.as_slice(), torn].concat()).unwrap();

    let mut sink = FileSink::open(&FileSinkConfig { path: path.clone() }).unwrap();
    sink.deliver(&common::lines(&common::events(3)[1..]))
        .await
        .unwrap();

    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        serde_json::from_str::<Event>(lines[1]).is_err(),
        "the torn line stays alone"
    );
    let readable: Vec<Event> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(readable, common::events(3));
}

#[test]
fn a_file_that_ends_whole_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let whole = json_line(&common::event(0)).unwrap();
    fs::write(&path, &whole).unwrap();
    FileSink::open(&FileSinkConfig { path: path.clone() }).unwrap();
    assert_eq!(fs::read(&path).unwrap(), whole);
}

#[test]
fn a_missing_directory_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("events.jsonl");
    let err = build(&SinkConfig::File(FileSinkConfig { path: path.clone() }))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("no-such-dir"), "{err}");
}

#[test]
fn json_line_has_the_contract_keys_and_one_newline() {
    let line = json_line(&common::event(7)).unwrap();
    assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
    assert_eq!(line.last(), Some(&b'\n'));
    let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "connector",
            "collection",
            "type",
            "recordId",
            "record",
            "strategy",
            "emittedAt"
        ]
    );
    assert_eq!(v["recordId"], "7");
}
