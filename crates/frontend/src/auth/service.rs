//! The gRPC-level check in front of the frontend's services: it reads the caller's claims from
//! the headers and, for calls scoped to a namespace, the request's `namespace` field from the
//! body (the field's number comes from the API descriptors at build time), before the service
//! decodes anything.

use super::{Claims, KeySet, Permissions, SYSTEM_TOKEN_HEADER, api, authorize, role};
use bytes::Bytes;
use http_body_util::BodyExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use sundial_api::errors::status_with_detail;
use sundial_api::temporal::errordetails::v1::PermissionDeniedFailure;
use tonic::body::Body;

/// What the check needs; shared by every wrapped service.
pub struct AuthLayer {
    keys: Arc<KeySet>,
    permissions: Permissions,
    audience: Option<String>,
    /// The header the JWT comes in (`authorization`).
    header: String,
    /// The cluster's secret the system worker presents.
    system_token: String,
}

impl AuthLayer {
    pub fn new(
        keys: Arc<KeySet>,
        permissions: Permissions,
        audience: Option<String>,
        header: String,
        system_token: String,
    ) -> Arc<Self> {
        Arc::new(AuthLayer {
            keys,
            permissions,
            audience,
            header: header.to_ascii_lowercase(),
            system_token,
        })
    }

    pub fn wrap<S>(self: &Arc<Self>, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }

    /// The caller's claims, `None` when it showed none that hold.
    fn claims(&self, headers: &http::HeaderMap) -> Option<Claims> {
        if let Some(token) = headers.get(SYSTEM_TOKEN_HEADER) {
            return (!self.system_token.is_empty() && token.as_bytes() == self.system_token.as_bytes()).then(|| {
                Claims {
                    subject: "sundial-system-worker".into(),
                    system: role::ADMIN,
                    ..Claims::default()
                }
            });
        }
        let value = headers.get(self.header.as_str())?.to_str().ok()?;
        match self.keys.claims(value, self.audience.as_deref(), &self.permissions) {
            Ok(claims) => Some(claims),
            Err(why) => {
                tracing::info!(reason = %why, "authorization token refused");
                None
            }
        }
    }
}

/// A service behind the authorization check.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    layer: Arc<AuthLayer>,
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for AuthService<S> {
    const NAME: &'static str = S::NAME;
}

fn denied() -> http::Response<Body> {
    status_with_detail(
        tonic::Code::PermissionDenied,
        "Request unauthorized.",
        &PermissionDeniedFailure { reason: String::new() },
    )
    .into_http()
}

impl<S> tower_service::Service<http::Request<Body>> for AuthService<S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The ready service handles this call; a fresh clone waits for the next poll_ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let path = request.uri().path().to_owned();
            let Some(need) = api::requirement(&path) else {
                tracing::info!(method = %path, "refusing a method the authorizer does not know");
                return Ok(denied());
            };
            if need.level == 0 {
                return inner.call(request).await;
            }
            let Some(claims) = layer.claims(request.headers()) else {
                return Ok(denied());
            };
            let (request, namespace) = match need.scope {
                api::Scope::Cluster => (request, String::new()),
                api::Scope::Namespace => match read_namespace(request, &path).await {
                    Some(read) => read,
                    None => return Ok(denied()),
                },
            };
            if !authorize(&path, &namespace, &claims) {
                tracing::info!(method = %path, %namespace, subject = %claims.subject, "request unauthorized");
                return Ok(denied());
            }
            inner.call(request).await
        })
    }
}

/// Reads the whole (unary) request to find its `namespace`, and gives back a request with the
/// same bytes. `None` if the body cannot be read or is not one gRPC message.
async fn read_namespace(request: http::Request<Body>, path: &str) -> Option<(http::Request<Body>, String)> {
    let field = sundial_api::rpc_namespaces::namespace_field(path).unwrap_or(0);
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await.ok()?.to_bytes();
    let gzip = parts
        .headers
        .get("grpc-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let namespace = if field == 0 {
        String::new()
    } else {
        namespace_of(&bytes, field, gzip)?
    };
    Some((
        http::Request::from_parts(parts, Body::new(http_body_util::Full::new(bytes))),
        namespace,
    ))
}

/// The string field `field` of the one length-prefixed gRPC message in `frame`.
fn namespace_of(frame: &Bytes, field: i32, gzip: bool) -> Option<String> {
    let (&compressed, rest) = frame.split_first()?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let body = rest.get(4..4usize.checked_add(len)?)?;
    let message: std::borrow::Cow<[u8]> = match compressed {
        0 => body.into(),
        1 if gzip => {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body).read_to_end(&mut out).ok()?;
            out.into()
        }
        _ => return None,
    };
    string_field(&message, u64::try_from(field).ok()?)
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The last value of top-level string field `number` (proto3: the last one wins); empty if
/// absent; `None` if the message is malformed.
fn string_field(mut buf: &[u8], number: u64) -> Option<String> {
    let mut found = String::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        match key & 7 {
            0 => {
                varint(&mut buf)?;
            }
            1 => buf = buf.get(8..)?,
            2 => {
                let len = usize::try_from(varint(&mut buf)?).ok()?;
                let value = buf.get(..len)?;
                if key >> 3 == number {
                    found = std::str::from_utf8(value).ok()?.to_owned();
                }
                buf = &buf[len..];
            }
            5 => buf = buf.get(4..)?,
            _ => return None,
        }
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sundial_api::prost::Message;

    fn frame(message: &[u8]) -> Bytes {
        let mut out = vec![0u8];
        out.extend_from_slice(&(message.len() as u32).to_be_bytes());
        out.extend_from_slice(message);
        out.into()
    }

    #[test]
    fn the_namespace_is_read_from_where_each_request_keeps_it() {
        let start = sundial_api::workflowservice::v1::StartWorkflowExecutionRequest {
            namespace: "orders".into(),
            workflow_id: "w".into(),
            input: None,
            ..Default::default()
        };
        let path = "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution";
        let field = sundial_api::rpc_namespaces::namespace_field(path).unwrap_or(0);
        assert_eq!(
            namespace_of(&frame(&start.encode_to_vec()), field, false).as_deref(),
            Some("orders")
        );
        let done = sundial_api::workflowservice::v1::RespondActivityTaskCompletedRequest {
            task_token: b"token".to_vec(),
            namespace: "billing".into(),
            identity: "me".into(),
            ..Default::default()
        };
        let path = "/temporal.api.workflowservice.v1.WorkflowService/RespondActivityTaskCompleted";
        let field = sundial_api::rpc_namespaces::namespace_field(path).unwrap_or(0);
        assert_eq!(field, 4);
        assert_eq!(
            namespace_of(&frame(&done.encode_to_vec()), field, false).as_deref(),
            Some("billing")
        );
        // gzip-compressed, as SDKs send by default.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &done.encode_to_vec()).ok();
        let mut compressed = frame(&gz.finish().unwrap_or_default()).to_vec();
        compressed[0] = 1;
        assert_eq!(
            namespace_of(&compressed.into(), field, true).as_deref(),
            Some("billing")
        );
        assert_eq!(
            namespace_of(&Bytes::from_static(&[0, 0, 0, 0, 9, 1]), 1, false),
            None,
            "truncated"
        );
    }
}
