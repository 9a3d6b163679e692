//! The `/metrics` HTTP endpoint: plain HTTP/1.1 GET, one listener per process (all roles of
//! the process share it and are told apart by `service_name`), as Temporal serves it.

use crate::{Metrics, MetricsError};
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Temporal's default `prometheus.handlerPath`.
pub const HANDLER_PATH: &str = "/metrics";

/// A running endpoint; dropping it does not stop it, [`MetricsServer::stop`] does.
pub struct MetricsServer {
    pub address: SocketAddr,
    task: JoinHandle<()>,
}

impl MetricsServer {
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Binds `address` (`host:port`) and serves `metrics` at `path` (normally [`HANDLER_PATH`])
/// until stopped.
pub async fn serve(address: &str, path: &str, metrics: Metrics) -> Result<MetricsServer, MetricsError> {
    let listen_error = |source| MetricsError::Listen {
        address: address.to_owned(),
        source,
    };
    let listener = TcpListener::bind(address).await.map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    let path: std::sync::Arc<str> = if path.is_empty() {
        HANDLER_PATH.into()
    } else {
        path.into()
    };
    let task = tokio::spawn(accept_loop(listener, path, metrics));
    Ok(MetricsServer { address: bound, task })
}

async fn accept_loop(listener: TcpListener, path: std::sync::Arc<str>, metrics: Metrics) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "metrics endpoint cannot accept a connection");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let (metrics, path) = (metrics.clone(), path.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let response = respond(&req, &path, &metrics);
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "metrics scrape connection ended with an error");
            }
        });
    }
}

fn respond<B>(req: &hyper::Request<B>, path: &str, metrics: &Metrics) -> hyper::Response<Full<Bytes>> {
    let reply = |status: http::StatusCode, content_type: &'static str, body: String| {
        let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
        response
    };
    if req.uri().path() != path {
        return reply(http::StatusCode::NOT_FOUND, "text/plain", "not found\n".into());
    }
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return reply(http::StatusCode::METHOD_NOT_ALLOWED, "text/plain", "use GET\n".into());
    }
    match metrics.render() {
        Ok(text) => reply(http::StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", text),
        Err(e) => reply(http::StatusCode::INTERNAL_SERVER_ERROR, "text/plain", format!("{e}\n")),
    }
}
