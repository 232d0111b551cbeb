//! The `envoy.service.auth.v3.Authorization` gRPC service, written here rather than
//! taken from envoy-types' generated `AuthorizationServer`, for one reason: its answer
//! type. The generated server must answer a prost `CheckResponse`, whose
//! `dynamic_metadata` is a `Struct` of hash maps that prost sizes again at every
//! level when it encodes it. [`CheckAnswer`] is that `CheckResponse` without its
//! metadata, plus the metadata already in wire form (`metadata::struct_bytes`); it
//! encodes to exactly the bytes of the `CheckResponse` it stands for, and decodes as
//! one. The request side is envoy-types' `CheckRequest`, decoded by tonic's prost codec
//! as before. The service answers `Check` and, like the generated server, any other
//! method of any service routed to it with `UNIMPLEMENTED`.

use super::ExtAuthz;
use envoy_types::ext_authz::v3::pb::{CheckRequest, CheckResponse};
use prost::Message;
use prost::bytes::{Buf, BufMut};
use prost::encoding::{
    DecodeContext, WireType, encode_key, encode_varint, encoded_len_varint, key_len,
};
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::codegen::{Body, BoxFuture, Service, StdError, http};

/// `CheckResponse.dynamic_metadata`'s field number.
const DYNAMIC_METADATA: u32 = 4;

/// The gRPC path of the one method served.
const CHECK_PATH: &str = "/envoy.service.auth.v3.Authorization/Check";

/// A `CheckResponse` whose `dynamic_metadata` is held as the wire bytes of its
/// `Struct` (see the module's documentation). Built by [`CheckAnswer::with_metadata`]
/// or from a `CheckResponse`, so that `dynamic_metadata` is never written twice.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CheckAnswer {
    /// Everything but the metadata held as bytes.
    response: CheckResponse,
    /// The body of the `dynamic_metadata` `Struct`, when there is one; the response's
    /// own `dynamic_metadata` is then `None`.
    metadata: Option<Vec<u8>>,
}

impl From<CheckResponse> for CheckAnswer {
    /// The answer that is exactly `response` (a denial or a PDP failure).
    fn from(response: CheckResponse) -> CheckAnswer {
        CheckAnswer {
            response,
            metadata: None,
        }
    }
}

impl CheckAnswer {
    /// `response` with `metadata` (a `Struct`'s body, see `metadata::struct_bytes`) as
    /// its `dynamic_metadata`, replacing any it had.
    pub(crate) fn with_metadata(
        mut response: CheckResponse,
        metadata: Option<Vec<u8>>,
    ) -> CheckAnswer {
        if metadata.is_some() {
            response.dynamic_metadata = None;
        }
        CheckAnswer { response, metadata }
    }

    /// The `CheckResponse` this answer encodes, metadata decoded: what Envoy reads.
    #[cfg(test)]
    pub(crate) fn to_response(&self) -> CheckResponse {
        let bytes = self.encode_to_vec();
        CheckResponse::decode(bytes.as_slice()).unwrap_or_default()
    }
}

impl Message for CheckAnswer {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        self.response.encode_raw(buf);
        if let Some(metadata) = &self.metadata {
            encode_key(DYNAMIC_METADATA, WireType::LengthDelimited, buf);
            encode_varint(metadata.len() as u64, buf);
            buf.put_slice(metadata);
        }
    }

    /// Decoding yields the `CheckResponse` with its metadata decoded there (the answer
    /// it stands for); the server never decodes one.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        self.response.merge_field(tag, wire_type, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.response.encoded_len()
            + self.metadata.as_ref().map_or(0, |m| {
                key_len(DYNAMIC_METADATA) + encoded_len_varint(m.len() as u64) + m.len()
            })
    }

    fn clear(&mut self) {
        self.response.clear();
        self.metadata = None;
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
    use envoy_types::ext_authz::v3::pb::{HttpResponse, OkHttpResponse};
    use envoy_types::pb::google::protobuf::{Struct, Value as PbValue, value};
    use envoy_types::pb::google::rpc;

    #[test]
    fn an_answer_decodes_as_the_check_response_it_stands_for() {
        let decision = Struct {
            fields: [(
                "decision".to_owned(),
                PbValue {
                    kind: Some(value::Kind::StringValue("DEGRADE".to_owned())),
                },
            )]
            .into(),
        };
        let response = CheckResponse {
            status: Some(rpc::Status {
                code: 0,
                message: String::new(),
                details: Vec::new(),
            }),
            dynamic_metadata: None,
            http_response: Some(HttpResponse::OkResponse(OkHttpResponse::default())),
        };
        let with_metadata = CheckResponse {
            dynamic_metadata: Some(decision.clone()),
            ..response.clone()
        };
        // Metadata bytes replace any `dynamic_metadata` the response had.
        let stale = CheckResponse {
            dynamic_metadata: Some(Struct::default()),
            ..response.clone()
        };
        let answer = CheckAnswer::with_metadata(stale, Some(decision.encode_to_vec()));
        let bytes = answer.encode_to_vec();
        assert_eq!(answer.encoded_len(), bytes.len());
        assert_eq!(bytes.len(), with_metadata.encoded_len());
        assert_eq!(answer.to_response(), with_metadata);
        // An empty Struct is still a present `dynamic_metadata`.
        let empty = CheckAnswer::with_metadata(response.clone(), Some(Vec::new()));
        assert_eq!(empty.encoded_len(), empty.encode_to_vec().len());
        assert_eq!(
            empty.to_response().dynamic_metadata,
            Some(Struct::default())
        );
        // Without metadata, the bytes are the response's own.
        let plain = CheckAnswer::from(response.clone());
        assert_eq!(plain.encode_to_vec(), response.encode_to_vec());
        assert_eq!(plain.to_response(), response);
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
