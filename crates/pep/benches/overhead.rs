//! What the enforcer adds to a PDP call: latency of a direct `POST /evaluate` on
//! loopback versus the same call through `Enforcer::enforce` (build and validate the
//! request, call, check the answer against the contract, dispatch to a handler).
//!
//! Both paths hit the same in-process fake PDP, which answers a fixed, contract-valid
//! DEGRADE, so the difference is the enforcer's own work. Run with
//! `cargo bench -p policygate-pep --bench overhead` (optionally `-- <iterations>`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark binary may fail loudly"
)]

use axum::Router;
use axum::routing::post;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use policygate_pep::api::{Action, Sensitivity};
use policygate_pep::{Enforcer, ObligationKind, OutputCapExt, PdpClient, RequestBuilder, handlers};
use std::time::{Duration, Instant};

const ANSWER: &str = r#"{"correlation_id":"bench-1","decision":"DEGRADE","rationale_codes":["SENSITIVE_OUTPUT_LIMIT"],"obligations":[{"type":"OUTPUT_CAP","params":{"max_tokens":200}}],"policy":{"policy_id":"bench","policy_version":"1","policy_sha256":"5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"},"matched_rule_id":"degrade_internal"}"#;

fn facts() -> RequestBuilder {
    RequestBuilder::new(Action::InferRun)
        .request_id("bench-1")
        .env("prod")
        .resource("document", Sensitivity::Internal)
        .resource_id("doc-42")
        .subject("service", "summariser")
        .signal("prompt_tokens", 5120)
        .signal("pii_detected", false)
        .signal("caller_trust", "medium")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn report(name: &str, samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort_unstable();
    let p50 = percentile(samples, 0.50);
    let p99 = percentile(samples, 0.99);
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{name:<28} p50 {:>8.1} µs   p99 {:>8.1} µs   mean {:>8.1} µs   (n = {})",
        micros(p50),
        micros(p99),
        micros(mean),
        samples.len()
    );
    (p50, p99)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let iterations: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000);

    let app = Router::new().route(
        "/evaluate",
        post(|_body: Bytes| async { ([("content-type", "application/json")], ANSWER) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // The baseline: a bare pooled HTTP client posting pre-serialised bytes.
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let raw: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    let body = Bytes::from(serde_json::to_vec(&facts().build().unwrap()).unwrap());
    let endpoint: http::Uri = format!("{url}/evaluate").parse().unwrap();
    let direct = || {
        let request = http::Request::post(endpoint.clone())
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))
            .unwrap();
        let raw = raw.clone();
        async move {
            let response = raw.request(request).await.unwrap();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(bytes.len(), ANSWER.len());
        }
    };

    let enforcer = Enforcer::new(
        PdpClient::builder(&url)
            .deadline(Duration::from_secs(2))
            .build()
            .unwrap(),
    );
    let on = handlers::<u32>()
        .on_allow_sync(|n, _d| n)
        .on_degrade_sync(|n, d| Ok(n.min(d.output_cap().unwrap().limit_max_tokens(None).unwrap())))
        .on_review_sync(|_n, _d| 0)
        .on_block_sync(|_n, d| panic!("unexpected BLOCK: {:?}", d.error()))
        .enforcing(ObligationKind::OutputCap);

    for _ in 0..500 {
        direct().await;
        assert_eq!(enforcer.enforce(facts(), 4096, &on).await, 200);
    }

    let mut direct_samples = Vec::with_capacity(iterations);
    let mut enforced_samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        direct().await;
        direct_samples.push(start.elapsed());

        let start = Instant::now();
        let out = enforcer.enforce(facts(), 4096, &on).await;
        enforced_samples.push(start.elapsed());
        assert_eq!(out, 200);
    }

    // The enforcer's CPU work alone, without the network: build + validate the request.
    let mut build_samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        let request = facts().build().unwrap();
        let bytes = serde_json::to_vec(&request).unwrap();
        build_samples.push(start.elapsed());
        assert!(!bytes.is_empty());
    }

    println!(
        "policygate-pep enforcer overhead on loopback (in-process fake PDP, current-thread runtime)"
    );
    let (d50, d99) = report("direct POST /evaluate", &mut direct_samples);
    let (e50, e99) = report("Enforcer::enforce", &mut enforced_samples);
    report("build + validate request", &mut build_samples);
    println!(
        "added by the enforcer:       p50 {:>+8.1} µs   p99 {:>+8.1} µs",
        micros(e50) - micros(d50),
        micros(e99) - micros(d99)
    );
}
