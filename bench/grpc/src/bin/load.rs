//! The load: `load URL STREAMS SECONDS [light|full]` keeps STREAMS Checks in flight over
//! one HTTP/2 connection (as an Envoy worker does) for SECONDS, each a CheckRequest
//! shaped as Envoy's ext_authz filter sends it for `POST /v1/chat/completions` under
//! `policy/gateway-mapping.yaml`, with a fresh `x-request-id` each. Prints one line:
//! `checks=N ok=N denied=N errors=N rps=R p50_ms=X p99_ms=Y`. Exits 1 when any Check
//! failed at the transport, was answered with an `error_response`, or had a status that
//! does not go with its answer (OK with a denial, or a non-OK allow).
//!
//! How much of each answer the client decodes:
//! - `light` (the default) reads what the verdict is (`status.code` and which of
//!   `ok_response`, `denied_response`, `error_response` came) and steps over the rest of
//!   the bytes without building it, the way wrk in `bench/serve.sh` reads an HTTP
//!   answer's status and not its JSON body. On a machine where the client shares the
//!   cores with the server, the client's cost then hardly depends on how much the server
//!   says, so the throughput compares the servers rather than the client's decoding.
//! - `full` decodes every answer into envoy-types' `CheckResponse` (headers,
//!   `headers_to_remove`, the `dynamic_metadata` Struct), as Envoy itself does.

use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse, HttpResponse};
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tonic::client::Grpc;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

const CHECK: &str = "/envoy.service.auth.v3.Authorization/Check";

/// The verdict of a `CheckResponse` and nothing else: `status` (field 1) with only its
/// `code`, and which `http_response` came (fields 2, 3, 5) with its body stepped over;
/// `dynamic_metadata` (field 4) is an unknown field to this message, stepped over too.
#[derive(Clone, PartialEq, prost::Message)]
struct Verdict {
    #[prost(message, optional, tag = "1")]
    status: Option<Code>,
    #[prost(oneof = "Answer", tags = "2, 3, 5")]
    answer: Option<Answer>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Code {
    #[prost(int32, tag = "1")]
    code: i32,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Answer {
    #[prost(message, tag = "2")]
    Denied(Opaque),
    #[prost(message, tag = "3")]
    Ok(Opaque),
    #[prost(message, tag = "5")]
    Error(Opaque),
}

/// A message whose fields are all stepped over.
#[derive(Clone, PartialEq, prost::Message)]
struct Opaque {}

/// What the client makes of one answer.
enum Outcome {
    Ok,
    Denied,
    Error,
}

/// The outcome of an answer: an allow must come with status OK, a denial without it.
fn outcome(code: i32, ok: bool, denied: bool) -> Outcome {
    match (ok, denied, code == 0) {
        (true, false, true) => Outcome::Ok,
        (false, true, false) => Outcome::Denied,
        _ => Outcome::Error,
    }
}

#[derive(Clone, Copy)]
enum Decode {
    Light,
    Full,
}

/// An answer as one decode mode decodes it.
trait Answered: prost::Message + Default + Send + 'static {
    fn outcome(self) -> Outcome;
}

impl Answered for Verdict {
    fn outcome(self) -> Outcome {
        let code = self.status.map_or(0, |s| s.code);
        outcome(
            code,
            matches!(self.answer, Some(Answer::Ok(_))),
            matches!(self.answer, Some(Answer::Denied(_))),
        )
    }
}

impl Answered for CheckResponse {
    fn outcome(self) -> Outcome {
        let code = self.status.map_or(0, |s| s.code);
        outcome(
            code,
            matches!(self.http_response, Some(HttpResponse::OkResponse(_))),
            matches!(self.http_response, Some(HttpResponse::DeniedResponse(_))),
        )
    }
}

async fn check_as<R: Answered>(grpc: &mut Grpc<Channel>, request: CheckRequest) -> Outcome {
    if grpc.ready().await.is_err() {
        return Outcome::Error;
    }
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(CHECK);
    let codec = ProstCodec::<CheckRequest, R>::default();
    match grpc.unary(tonic::Request::new(request), path, codec).await {
        Ok(answer) => answer.into_inner().outcome(),
        Err(_) => Outcome::Error,
    }
}

async fn check(grpc: &mut Grpc<Channel>, decode: Decode, request: CheckRequest) -> Outcome {
    match decode {
        Decode::Light => check_as::<Verdict>(grpc, request).await,
        Decode::Full => check_as::<CheckResponse>(grpc, request).await,
    }
}

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
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:18191".to_owned());
    let streams: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let seconds: u64 = args.next().map_or(Ok(10), |s| s.parse())?;
    let decode = match args.next().as_deref() {
        None | Some("light") => Decode::Light,
        Some("full") => Decode::Full,
        Some(other) => return Err(format!("decode must be light or full, not {other}").into()),
    };
    let client = Grpc::new(Channel::from_shared(url)?.connect().await?);
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
                let outcome = check(&mut client, decode, request).await;
                let elapsed = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                match outcome {
                    Outcome::Ok => tally.ok += 1,
                    Outcome::Denied => tally.denied += 1,
                    Outcome::Error => {
                        tally.errors += 1;
                        continue;
                    }
                }
                tally.latencies_us.push(elapsed);
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
