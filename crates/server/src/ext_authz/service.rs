//! The `envoy.service.auth.v3.Authorization` gRPC service, written here rather than
//! taken from envoy-types' generated `AuthorizationServer`, for one reason: its answer
//! type. The generated server must answer a prost `CheckResponse`: for an allowed Check
//! that meant building a `HeaderValueOption` (two owned strings) per header, an owned
//! string per header to remove and the decision as a `Struct` of hash maps, then
//! sizing and encoding them, only to drop them all. [`CheckAnswer`] is either a prost
//! `CheckResponse` (denials and PDP failures, which are rare and small) or, for an
//! allowed Check, the `CheckResponse` already in wire form, written straight from the
//! verdict and the decision into one buffer ([`CheckAnswer::allowed`]); either way it
//! encodes to bytes that decode as the `CheckResponse` it stands for. The request side
//! is envoy-types' `CheckRequest`, decoded by tonic's prost codec as before. The
//! service answers `Check` and, like the generated server, any other method of any
//! service routed to it with `UNIMPLEMENTED`.

use super::ExtAuthz;
use super::metadata::{self, MetadataError};
use super::wire::{close, open, put_string_field, put_text, put_varint_field};
use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse, HeaderAppendAction};
use prost::Message;
use prost::bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType};
use serde::Serialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};

/// The gRPC path of the one method served.
const CHECK_PATH: &str = "/envoy.service.auth.v3.Authorization/Check";

/// Field numbers of the messages an allowed answer is made of: `CheckResponse`,
/// `OkHttpResponse`, `HeaderValueOption` and `HeaderValue`.
mod field {
    pub(super) const RESPONSE_STATUS: u32 = 1;
    pub(super) const RESPONSE_OK: u32 = 3;
    pub(super) const RESPONSE_DYNAMIC_METADATA: u32 = 4;
    pub(super) const OK_HEADERS: u32 = 2;
    pub(super) const OK_HEADERS_TO_REMOVE: u32 = 5;
    pub(super) const OK_RESPONSE_HEADERS_TO_ADD: u32 = 6;
    pub(super) const OPTION_HEADER: u32 = 1;
    pub(super) const OPTION_APPEND_ACTION: u32 = 3;
    pub(super) const HEADER_KEY: u32 = 1;
    pub(super) const HEADER_VALUE: u32 = 2;
}

/// What a Check is answered with (see the module's documentation).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CheckAnswer {
    /// A denial or a PDP failure, as a prost message (boxed: a `CheckResponse` is ten
    /// times the size of the wire form's `Vec`, and denials are the rare case).
    Message(Box<CheckResponse>),
    /// An allowed Check's `CheckResponse`, in wire form.
    Wire(Vec<u8>),
}

impl Default for CheckAnswer {
    fn default() -> CheckAnswer {
        CheckAnswer::Message(Box::default())
    }
}

impl From<CheckResponse> for CheckAnswer {
    fn from(response: CheckResponse) -> CheckAnswer {
        CheckAnswer::Message(Box::new(response))
    }
}

/// An allowed Check's answer, before it is written: the upstream request's headers,
/// the `x-policygate-*` names to remove from it, the headers for the client and the
/// decision for `dynamic_metadata`.
pub(crate) struct Allowed<'a, D: Serialize + ?Sized> {
    pub(crate) headers: &'a [(&'a str, String)],
    pub(crate) remove: &'a [&'a str],
    pub(crate) to_client: &'a [(&'a str, String)],
    /// `None` leaves `dynamic_metadata` out.
    pub(crate) decision: Option<&'a D>,
}

impl CheckAnswer {
    /// An allowed Check's answer: status OK, an `ok_response` whose headers overwrite
    /// (`OVERWRITE_IF_EXISTS_OR_ADD`) any of the same name, and the decision as the
    /// `dynamic_metadata` `Struct`. A decision without a `Struct` form (which the
    /// EvaluateResponse never is) leaves `dynamic_metadata` out, and the error is
    /// returned beside the answer for the caller to log.
    pub(crate) fn allowed<D: Serialize + ?Sized>(
        answer: &Allowed<'_, D>,
    ) -> (CheckAnswer, Option<MetadataError>) {
        // The fields in tag order, as prost writes them (so the bytes are the same):
        // status (1), `ok_response` (3), `dynamic_metadata` (4).
        let mut out = Vec::with_capacity(1024);
        // An OK status is an empty `google.rpc.Status` (code 0, no message).
        let status = open(&mut out, field::RESPONSE_STATUS);
        close(&mut out, status);
        let ok = open(&mut out, field::RESPONSE_OK);
        for (name, value) in answer.headers {
            put_header(&mut out, field::OK_HEADERS, name, value);
        }
        for name in answer.remove {
            put_text(&mut out, field::OK_HEADERS_TO_REMOVE, name);
        }
        for (name, value) in answer.to_client {
            put_header(&mut out, field::OK_RESPONSE_HEADERS_TO_ADD, name, value);
        }
        close(&mut out, ok);
        let mut error = None;
        if let Some(decision) = answer.decision {
            let before = out.len();
            let metadata = open(&mut out, field::RESPONSE_DYNAMIC_METADATA);
            match metadata::append_struct(&mut out, decision) {
                Ok(()) => close(&mut out, metadata),
                Err(e) => {
                    out.truncate(before);
                    error = Some(e);
                }
            }
        }
        (CheckAnswer::Wire(out), error)
    }

    /// The `CheckResponse` this answer encodes: what Envoy reads.
    #[cfg(test)]
    pub(crate) fn to_response(&self) -> CheckResponse {
        let bytes = self.encode_to_vec();
        CheckResponse::decode(bytes.as_slice()).unwrap_or_default()
    }
}

/// One `HeaderValueOption` (field `tag`): `name: value`, overwriting.
fn put_header(out: &mut Vec<u8>, tag: u32, name: &str, value: &str) {
    let option = open(out, tag);
    let header = open(out, field::OPTION_HEADER);
    put_string_field(out, field::HEADER_KEY, name);
    put_string_field(out, field::HEADER_VALUE, value);
    close(out, header);
    put_varint_field(
        out,
        field::OPTION_APPEND_ACTION,
        HeaderAppendAction::OverwriteIfExistsOrAdd as u64,
    );
    close(out, option);
}

impl Message for CheckAnswer {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        match self {
            CheckAnswer::Message(response) => response.encode_raw(buf),
            CheckAnswer::Wire(bytes) => buf.put_slice(bytes),
        }
    }

    /// Decoding yields the `CheckResponse` (the answer it stands for); the server never
    /// decodes one.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        let mut response = match std::mem::take(self) {
            CheckAnswer::Message(response) => response,
            CheckAnswer::Wire(bytes) => Box::new(CheckResponse::decode(bytes.as_slice())?),
        };
        let merged = response.merge_field(tag, wire_type, buf, ctx);
        *self = CheckAnswer::Message(response);
        merged
    }

    fn encoded_len(&self) -> usize {
        match self {
            CheckAnswer::Message(response) => response.encoded_len(),
            CheckAnswer::Wire(bytes) => bytes.len(),
        }
    }

    fn clear(&mut self) {
        *self = CheckAnswer::default();
    }
}

/// The gRPC service over [`ExtAuthz`].
#[derive(Debug, Clone)]
pub(super) struct AuthorizationService {
    inner: Arc<ExtAuthz>,
}

impl AuthorizationService {
    pub(super) fn new(inner: ExtAuthz) -> AuthorizationService {
        AuthorizationService {
            inner: Arc::new(inner),
        }
    }
}

impl tonic::server::NamedService for AuthorizationService {
    const NAME: &'static str = "envoy.service.auth.v3.Authorization";
}

/// The `Check` method, as tonic's unary handling calls it.
struct CheckMethod(Arc<ExtAuthz>);

impl tonic::server::UnaryService<CheckRequest> for CheckMethod {
    type Response = CheckAnswer;
    type Future = BoxFuture<tonic::Response<CheckAnswer>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<CheckRequest>) -> Self::Future {
        let inner = Arc::clone(&self.0);
        Box::pin(async move {
            Ok(tonic::Response::new(
                super::check(&inner.state, request.into_inner()).await,
            ))
        })
    }
}

impl<B> Service<http::Request<B>> for AuthorizationService
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != CHECK_PATH {
            return Box::pin(async { Ok(tonic::Status::unimplemented("").into_http()) });
        }
        let method = CheckMethod(Arc::clone(&self.inner));
        Box::pin(async move {
            let codec = tonic_prost::ProstCodec::<CheckAnswer, CheckRequest>::default();
            Ok(tonic::server::Grpc::new(codec).unary(method, request).await)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // The prost form of one header, as denials are built: the reference here.
    use super::super::header as option;
    use envoy_types::ext_authz::v3::pb::{HttpResponse, OkHttpResponse};
    use envoy_types::pb::google::protobuf::{Struct, Value as PbValue, value};
    use envoy_types::pb::google::rpc;

    fn text(s: &str) -> PbValue {
        PbValue {
            kind: Some(value::Kind::StringValue(s.to_owned())),
        }
    }

    #[test]
    fn an_allowed_answer_decodes_as_the_check_response_it_stands_for() {
        let headers = [
            ("x-policygate-decision", "DEGRADE".to_owned()),
            ("x-policygate-correlation-id", "r-1".to_owned()),
            // An empty value is still a header (proto3 leaves the empty field out).
            ("x-policygate-rationale-codes", String::new()),
            ("x-policygate-max-tokens", "256".to_owned()),
        ];
        let remove = ["x-policygate-matched-rule", "x-policygate-denial"];
        let to_client = [("x-policygate-correlation-id", "r-1".to_owned())];
        // A long value, so that lengths take more than one varint byte.
        let long = "v".repeat(300);
        // One entry: prost writes a map in hash order, which the bytes compared below
        // must not depend on.
        let decision = serde_json::json!({"matched_rule_id": long});
        let (answer, error) = CheckAnswer::allowed(&Allowed {
            headers: &headers,
            remove: &remove,
            to_client: &to_client,
            decision: Some(&decision),
        });
        assert_eq!(error, None);
        let expected = CheckResponse {
            status: Some(rpc::Status {
                code: 0,
                message: String::new(),
                details: Vec::new(),
            }),
            dynamic_metadata: Some(Struct {
                fields: [("matched_rule_id".to_owned(), text(&long))].into(),
            }),
            http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
                headers: headers.iter().map(|(n, v)| option(n, v)).collect(),
                headers_to_remove: remove.iter().map(|n| (*n).to_owned()).collect(),
                response_headers_to_add: to_client.iter().map(|(n, v)| option(n, v)).collect(),
                ..OkHttpResponse::default()
            })),
        };
        let bytes = answer.encode_to_vec();
        assert_eq!(answer.to_response(), expected);
        // The same fields in the same order as prost writes them: the same bytes.
        assert_eq!(bytes, expected.encode_to_vec());
        // Decoding into an answer yields the response too.
        assert_eq!(
            CheckAnswer::decode(bytes.as_slice()).unwrap(),
            CheckAnswer::Message(Box::new(expected))
        );
    }

    #[test]
    fn a_decision_without_a_struct_form_leaves_the_metadata_out() {
        let headers = [("x-policygate-decision", "ALLOW".to_owned())];
        let (answer, error) = CheckAnswer::allowed(&Allowed {
            headers: &headers,
            remove: &[],
            to_client: &[],
            decision: Some("not a map"),
        });
        assert!(error.is_some());
        let response = answer.to_response();
        assert_eq!(response.dynamic_metadata, None);
        let Some(HttpResponse::OkResponse(ok)) = response.http_response else {
            panic!("not an ok_response: {response:?}");
        };
        assert_eq!(ok.headers, vec![option("x-policygate-decision", "ALLOW")]);
        assert_eq!(response.status.map(|s| s.code), Some(0));
    }

    #[test]
    fn a_message_answer_is_the_response_itself() {
        let response = CheckResponse {
            status: Some(rpc::Status {
                code: 7,
                message: "blocked".to_owned(),
                details: Vec::new(),
            }),
            ..CheckResponse::default()
        };
        let answer = CheckAnswer::from(response.clone());
        assert_eq!(answer.encode_to_vec(), response.encode_to_vec());
        assert_eq!(answer.encoded_len(), response.encoded_len());
        assert_eq!(answer.to_response(), response);
    }

    #[tokio::test]
    async fn other_methods_are_unimplemented() {
        let state = crate::state::fixture_state();
        let mut service = AuthorizationService::new(ExtAuthz { state });
        for path in [
            "/envoy.service.auth.v3.Authorization/Report",
            "/envoy.service.auth.v2.Authorization/Check",
        ] {
            let request = http::Request::post(path)
                .header("content-type", "application/grpc")
                .body(tonic::body::Body::empty())
                .unwrap();
            let response = service.call(request).await.unwrap();
            assert_eq!(response.status(), http::StatusCode::OK, "{path}");
            assert_eq!(
                response.headers()["grpc-status"],
                (tonic::Code::Unimplemented as i32).to_string().as_str(),
                "{path}"
            );
        }
    }
}
