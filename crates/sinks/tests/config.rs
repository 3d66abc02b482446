use std::path::PathBuf;
use std::time::Duration;

use runtime_sinks::{build, SinkConfig, SinkError};

#[test]
fn accepted_forms() {
    assert_eq!("stdout".parse::<SinkConfig>().unwrap(), SinkConfig::Stdout);
    match "file:out/events.jsonl".parse::<SinkConfig>().unwrap() {
        SinkConfig::File(c) => assert_eq!(c.path, PathBuf::from("out/events.jsonl")),
        other => panic!("{other:?}"),
    }
    match "file:///tmp/x y.jsonl".parse::<SinkConfig>().unwrap() {
        SinkConfig::File(c) => assert_eq!(c.path, PathBuf::from("/tmp/x y.jsonl")),
        other => panic!("{other:?}"),
    }
    match "https://hooks.example.com/in?k=1"
        .parse::<SinkConfig>()
        .unwrap()
    {
        SinkConfig::Http(c) => {
            assert_eq!(c.url.as_str(), "https://hooks.example.com/in?k=1");
            assert_eq!(c.max_batch, 500);
            assert_eq!(c.timeout, Duration::from_secs(30));
            assert_eq!(c.max_attempts, 0, "the default never drops events");
            assert_eq!(c.base_backoff, Duration::from_millis(200));
            assert_eq!(c.max_backoff, Duration::from_secs(30));
            assert!(c.headers.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        "HTTP://127.0.0.1:9/x".parse::<SinkConfig>().unwrap(),
        SinkConfig::Http(_)
    ));
}

#[test]
fn rejected_forms_say_what_is_accepted() {
    for bad in [
        "",
        "stderr",
        "file:",
        "ftp://host/x",
        "http://",
        "https:// bad host/",
        "kafka:topic",
    ] {
        let err = bad.parse::<SinkConfig>().unwrap_err();
        assert!(matches!(err, SinkError::Parse { .. }), "{bad}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("{bad:?}")), "{msg}");
        assert!(
            msg.contains("`stdout`") && msg.contains("`file:PATH`") && msg.contains("https://"),
            "{msg}"
        );
    }
}

#[test]
fn build_checks_http_settings() {
    let SinkConfig::Http(mut c) = "http://user:hunter2@127.0.0.1:9/in".parse().unwrap() else {
        panic!()
    };
    let sink = build(&SinkConfig::Http(c.clone())).unwrap();
    assert!(sink.describe().contains("127.0.0.1:9/in"));
    assert!(!sink.describe().contains("hunter2"), "{}", sink.describe());
    assert!(!format!("{c:?}").contains("hunter2"));

    c.headers = vec![("authorization".into(), "Bearer s3cret".into())];
    assert!(!format!("{c:?}").contains("s3cret"));
    c.headers = vec![("bad header".into(), "v".into())];
    let err = build(&SinkConfig::Http(c.clone()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("bad header") && err.contains("127.0.0.1:9/in"),
        "{err}"
    );

    c.headers.clear();
    c.max_batch = 0;
    let err = build(&SinkConfig::Http(c)).err().unwrap().to_string();
    assert!(err.contains("max_batch"), "{err}");
}
