//! Per-host rate limits against the mock API's rate-limit mode (429 with
//! `Retry-After: 1` over N requests in any one second): a burst without a
//! limit draws 429s; under the limit it draws none and takes its time; a
//! limit above the API's shrinks on the first 429s; scopes do not share;
//! retries wait for their turn too. Only lower bounds on time are asserted.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{fast, settings_for};
use mock_api::{Fault, MockApi, MockOptions};
use runtime_api_client::{ApiRequest, ClientSettings, HttpClient, HttpConfig, RateLimit};

fn mock(per_second: usize) -> MockApi {
    MockApi::start_with(MockOptions {
        rate_limit_per_second: Some(per_second),
        ..MockOptions::default()
    })
}

fn config(rate_limit: Option<RateLimit>, max_attempts: u32) -> HttpConfig {
    HttpConfig {
        rate_limit,
        max_attempts,
        max_retry_elapsed: Duration::from_secs(60),
        request_timeout: Duration::from_secs(30),
        ..fast()
    }
}

fn scoped(api: &MockApi, scope: &str) -> ClientSettings {
    ClientSettings {
        limit_scope: scope.to_string(),
        ..settings_for(&api.base_url())
    }
}

/// Sends `n` GETs at once; returns how many failed.
async fn burst(
    client: &HttpClient,
    settings: &ClientSettings,
    config: &HttpConfig,
    n: usize,
) -> usize {
    let settings = Arc::new(settings.clone());
    let config = Arc::new(config.clone());
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (client, settings, config) = (client.clone(), settings.clone(), config.clone());
            tokio::spawn(async move {
                client
                    .send(
                        &settings,
                        &config,
                        ApiRequest::new("GET", &format!("/echo/{i}")),
                    )
                    .await
            })
        })
        .collect();
    let mut failed = 0;
    for t in tasks {
        if t.await.unwrap().is_err() {
            failed += 1;
        }
    }
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_rate_limit_a_burst_draws_429s() {
    let api = mock(10);
    let client = HttpClient::new().unwrap();
    let failed = burst(
        &client,
        &settings_for(&api.base_url()),
        &config(None, 1),
        30,
    )
    .await;
    assert!(api.rate_limited() >= 10, "{} 429s", api.rate_limited());
    assert_eq!(failed, api.rate_limited());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_the_apis_limit_a_burst_draws_no_429_and_takes_its_time() {
    let api = mock(10);
    let client = HttpClient::new().unwrap();
    // 9 a second against an API allowing 10: spacing keeps any one second
    // at 9 whatever the timer jitter.
    let limit = RateLimit::new(9, 1.0);
    let started = Instant::now();
    let failed = burst(
        &client,
        &settings_for(&api.base_url()),
        &config(limit, 1),
        30,
    )
    .await;
    let took = started.elapsed();
    assert_eq!(api.rate_limited(), 0);
    assert_eq!(failed, 0);
    // 30 requests, one every 1/9 s: at least 29/9 s.
    assert!(took >= Duration::from_secs(3), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn above_the_apis_limit_the_first_429s_shrink_the_budget() {
    let api = mock(10);
    let client = HttpClient::new().unwrap();
    // 30 a second against 10: the 429s halve it to 15, then 7.5 a second.
    let limit = RateLimit::new(30, 1.0);
    let started = Instant::now();
    let failed = burst(
        &client,
        &settings_for(&api.base_url()),
        &config(limit, 6),
        45,
    )
    .await;
    let took = started.elapsed();
    assert_eq!(failed, 0, "429s are retried after Retry-After");
    let middle = started + took / 2;
    let times = api.rate_limited_at();
    let first = times.iter().filter(|t| **t < middle).count();
    let second = times.len() - first;
    assert!(first >= 1, "the budget was above the API's: {times:?}");
    assert!(
        second * 2 < first.max(1) || second == 0,
        "429s in the first half: {first}, in the second: {second}"
    );
    // Without the limit the same burst draws one 429 per request over the
    // API's 10 in the first second (see the first test): far more.
    assert!(times.len() <= 6, "{} 429s", times.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_scopes_do_not_share_a_bucket() {
    let api = MockApi::start();
    let client = HttpClient::new().unwrap();
    // 2 a second: a shared bucket would put 500 ms between any two requests.
    let cfg = config(RateLimit::new(2, 1.0), 1);
    let (a, b) = (scoped(&api, "conn-a"), scoped(&api, "conn-b"));
    let (fa, fb) = tokio::join!(burst(&client, &a, &cfg, 3), burst(&client, &b, &cfg, 3));
    assert_eq!((fa, fb), (0, 0));
    let mut times: Vec<Instant> = api.requests().iter().map(|r| r.received_at).collect();
    times.sort();
    assert_eq!(times.len(), 6);
    // Each scope's first request goes at once: the first two are close.
    assert!(
        times[1] - times[0] < Duration::from_millis(250),
        "{:?}",
        times[1] - times[0]
    );
    // Within a scope they are spaced: three per scope take at least 1 s.
    assert!(
        times[5] - times[0] >= Duration::from_millis(950),
        "{:?}",
        times[5] - times[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retries_wait_for_their_turn_too() {
    let api = MockApi::start();
    api.inject(
        "/echo",
        1,
        Fault::Status {
            code: 500,
            retry_after: None,
            body: None,
        },
    );
    let client = HttpClient::new().unwrap();
    // Back-off is 5 to 20 ms (fast()); the budget spaces by 500 ms.
    let cfg = config(RateLimit::new(2, 1.0), 3);
    let res = client
        .send(
            &settings_for(&api.base_url()),
            &cfg,
            ApiRequest::new("GET", "/echo/x"),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 200);
    let times: Vec<Instant> = api.requests().iter().map(|r| r.received_at).collect();
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= Duration::from_millis(450),
        "{:?}",
        times[1] - times[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_retry_after_holds_the_host_no_longer_than_a_retry_may_wait() {
    let api = MockApi::start();
    api.inject(
        "/echo",
        1,
        Fault::Status {
            code: 429,
            retry_after: Some("3600".into()),
            body: None,
        },
    );
    let client = HttpClient::new().unwrap();
    let cfg = HttpConfig {
        max_retry_elapsed: Duration::from_secs(1),
        ..config(RateLimit::new(10, 1.0), 3)
    };
    let s = settings_for(&api.base_url());
    let err = client
        .send(&s, &cfg, ApiRequest::new("GET", "/echo/a"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Retry-After 3600 s"), "{err}");
    // The next call waits out the 1 s hold, not the hour.
    let started = Instant::now();
    let waited = tokio::time::timeout(
        Duration::from_secs(30),
        client.send(&s, &cfg, ApiRequest::new("GET", "/echo/b")),
    )
    .await
    .expect("held for the hour");
    assert_eq!(waited.unwrap().status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
}
