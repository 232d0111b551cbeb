//! The load: `load URL STREAMS SECONDS` keeps STREAMS Checks in flight over one HTTP/2
//! connection (as an Envoy worker does) for SECONDS, each a CheckRequest shaped as
//! Envoy's ext_authz filter sends it for `POST /v1/chat/completions` under
//! `policy/gateway-mapping.yaml`, with a fresh `x-request-id` each. Prints one line:
//! `checks=N ok=N denied=N errors=N rps=R p50_ms=X p99_ms=Y`. Exits 1 when any Check
//! failed at the transport or was answered with an `error_response`.

use envoy_types::ext_authz::v3::pb::{CheckRequest, HttpResponse};
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn check_request(id: &str) -> CheckRequest {
    let mut headers = HashMap::new();
    for (k, v) in [
        (":authority", "ai-gateway.internal"),
        (":method", "POST"),
        (":path", "/v1/chat/completions"),
        (":scheme", "https"),
        ("content-type", "application/json"),
        ("user-agent", "bench/1"),
        ("x-user-id", "alice"),
        ("x-data-sensitivity", "internal"),
        ("x-caller-trust", "high"),
        ("x-request-id", id),
    ] {
        headers.insert(k.to_owned(), v.to_owned());
    }
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                http: Some(HttpRequest {
                    method: "POST".to_owned(),
                    path: "/v1/chat/completions".to_owned(),
                    host: "ai-gateway.internal".to_owned(),
                    scheme: "https".to_owned(),
                    protocol: "HTTP/2".to_owned(),
                    headers,
                    ..HttpRequest::default()
                }),
                ..Request::default()
            }),
            context_extensions: [("env".to_owned(), "prod".to_owned())].into(),
            ..AttributeContext::default()
        }),
    }
}

#[derive(Default)]
struct Tally {
    ok: u64,
    denied: u64,
    errors: u64,
    latencies_us: Vec<u64>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "http://127.0.0.1:18191".to_owned());
    let streams: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let seconds: u64 = args.next().map_or(Ok(10), |s| s.parse())?;
    let client = AuthorizationClient::connect(url).await?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for stream in 0..streams {
        let mut client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let request = check_request(&format!("bench-{stream}-{n}"));
                let sent = Instant::now();
                match client.check(request).await {
                    Ok(response) => {
                        let elapsed = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                        tally.latencies_us.push(elapsed);
                        match response.into_inner().http_response {
                            Some(HttpResponse::OkResponse(_)) => tally.ok += 1,
                            Some(HttpResponse::DeniedResponse(_)) => tally.denied += 1,
                            _ => tally.errors += 1,
                        }
                    }
                    Err(_) => tally.errors += 1,
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await?;
        all.ok += t.ok;
        all.denied += t.denied;
        all.errors += t.errors;
        all.latencies_us.extend(t.latencies_us);
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let pct = |p: f64| {
        let n = all.latencies_us.len();
        if n == 0 {
            return 0.0;
        }
        let i = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
        all.latencies_us[i] as f64 / 1000.0
    };
    let checks = all.ok + all.denied + all.errors;
    println!(
        "checks={checks} ok={} denied={} errors={} rps={:.0} p50_ms={:.3} p99_ms={:.3}",
        all.ok,
        all.denied,
        all.errors,
        checks as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
    if all.errors > 0 {
        std::process::exit(1);
    }
    Ok(())
}
