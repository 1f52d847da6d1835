//! `GET /metrics` scraped after some commands and parsed by a real Prometheus text
//! parser (`prometheus-parse`): the commands counter (by type and outcome), the ack,
//! flush and sync histograms, the HTTP counter (by route template) moved; the gauges
//! read the log; no label carries personal data.

use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;

use super::support::{world, World};

async fn scrape(w: &World) -> (String, Scrape) {
    let answer = w.send("GET", "/metrics", None, None, &[]).await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
    let lines = answer.text.lines().map(|l| Ok(l.to_owned()));
    let parsed = Scrape::parse(lines).expect("the Prometheus text format parses");
    (answer.text, parsed)
}

/// The samples of `metric` whose labels include every pair of `labels`.
fn find<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

fn counter(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    find(scrape, metric, labels)
        .iter()
        .map(|s| match s.value {
            Value::Counter(v) => v,
            ref other => panic!("{metric} is a counter, not {other:?}"),
        })
        .sum()
}

fn gauge(scrape: &Scrape, metric: &str) -> f64 {
    match find(scrape, metric, &[]).first().map(|s| &s.value) {
        Some(Value::Gauge(v)) => *v,
        other => panic!("{metric} is a gauge, found {other:?}"),
    }
}

/// Observations of a histogram (its `+Inf` buckets), over every label set.
fn observations(scrape: &Scrape, metric: &str) -> f64 {
    let samples = find(scrape, metric, &[]);
    assert!(!samples.is_empty(), "{metric} is exposed");
    samples
        .iter()
        .map(|s| match &s.value {
            Value::Histogram(buckets) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map_or(0.0, |b| b.count),
            other => panic!("{metric} is a histogram, found {other:?}"),
        })
        .sum()
}

#[tokio::test]
async fn metrics_move_with_commands_and_hold_no_personal_data() {
    let w = world().await;
    let (_, before) = scrape(&w).await;
    let acks_before = observations(&before, "offboard_command_ack_seconds");

    let hire = json!({"email": "pat@truckpros.example", "first_name": "Zebulon", "last_name": "Kim", "active": true});
    for _ in 0..2 {
        let answer = w
            .send(
                "POST",
                "/v1/users",
                Some(&w.owner_token),
                Some(hire.clone()),
                &[("idempotency-key", "hire-pat")],
            )
            .await;
        assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
    }
    w.send(
        "POST",
        "/v1/users",
        Some(&w.owner_token),
        Some(hire.clone()),
        &[],
    )
    .await
    .error(409, "email_taken");
    w.get(&w.owner_token, "/v1/users/pat@truckpros.example")
        .await
        .ok();
    let acked = w
        .post(
            &w.owner_token,
            "/v1/consumers/crm/ack",
            json!({"position": 1}),
        )
        .await;
    assert_eq!(acked.status.as_u16(), 200, "{}", acked.text);

    let (text, after) = scrape(&w).await;
    let invite = |outcome| {
        counter(
            &after,
            "offboard_commands_total",
            &[("command", "invite_user"), ("outcome", outcome)],
        )
    };
    assert_eq!(invite("ok"), 1.0);
    assert_eq!(invite("duplicate"), 1.0);
    assert_eq!(invite("email_taken"), 1.0);
    assert!(observations(&after, "offboard_command_ack_seconds") >= acks_before + 3.0);
    assert!(observations(&after, "offboard_log_flush_commands") >= 1.0);
    assert!(observations(&after, "offboard_log_sync_seconds") >= 1.0);

    let position = w.engine.last_position();
    assert_eq!(gauge(&after, "offboard_log_position"), position as f64);
    assert!(gauge(&after, "offboard_checkpoint_age_seconds") >= 0.0);
    let lag = find(
        &after,
        "offboard_consumer_lag_events",
        &[("consumer", "crm"), ("org", &w.org.to_string())],
    );
    assert_eq!(lag.len(), 1);
    assert_eq!(lag[0].value, Value::Gauge((position - 1) as f64));

    let http = |method, route, status| {
        counter(
            &after,
            "offboard_http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(http("POST", "/v1/users", "201"), 2.0);
    assert_eq!(http("POST", "/v1/users", "409"), 1.0);
    // prometheus-parse's sample pattern stops at the first `}`, so it skips a line
    // whose label value holds one (Prometheus itself reads them): that line is checked
    // as text.
    assert!(
        text.lines().any(|l| l
            == r#"offboard_http_requests_total{method="GET",route="/v1/users/{user}",status="200"} 1"#),
        "the route template, never the path: {text}"
    );
    assert!(http("GET", "/metrics", "200") >= 1.0);
    // The first scrape and the three POSTs to /v1/users (the parser skips the braced
    // routes' buckets, see above).
    assert!(observations(&after, "offboard_http_request_duration_seconds") >= 4.0);

    assert!(!text.contains('@'), "no email in /metrics:\n{text}");
    assert!(!text.contains("Zebulon"), "no name in /metrics");
}
