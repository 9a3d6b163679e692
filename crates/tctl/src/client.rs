//! The connection to the frontend: one tonic channel shared by the workflow, operator and
//! health clients, per-call deadlines from `--context_timeout`, and the translation of gRPC
//! errors into the one-line messages a user reads on stderr.

use crate::cli::{GlobalArgs, OutputFormat};
use anyhow::{Context as _, anyhow, bail};
use std::future::Future;
use std::time::Duration;
use sundial_api::operatorservice::v1::operator_service_client::OperatorServiceClient;
use sundial_api::prost::Message;
use sundial_api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

/// The connection every client of a command shares: the channel, with `--auth` set as the
/// `authorization` header of each call.
pub type Conn = tonic::service::interceptor::InterceptedService<Channel, AuthHeader>;

#[derive(Clone)]
pub struct AuthHeader(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for AuthHeader {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Everything a command needs: clients, the namespace and the output format.
pub struct Ctx {
    pub address: String,
    pub namespace: String,
    pub timeout: Duration,
    pub json: bool,
    pub workflow: WorkflowServiceClient<Conn>,
    pub operator: OperatorServiceClient<Conn>,
    pub channel: Conn,
}

/// TLS as tctl v1 turns it on: with a CA, a client certificate, or a server name given
/// (`--tls_*_path` or `TEMPORAL_CLI_TLS_*`). Without a CA the system's roots verify the server.
fn tls_config(global: &GlobalArgs) -> anyhow::Result<Option<tonic::transport::ClientTlsConfig>> {
    let wanted = global.tls_ca_path.is_some()
        || global.tls_cert_path.is_some()
        || global.tls_key_path.is_some()
        || global.tls_server_name.is_some();
    if !wanted {
        if global.tls_disable_host_verification {
            bail!("--tls_disable_host_verification needs TLS: give --tls_ca_path or a client certificate");
        }
        return Ok(None);
    }
    if global.tls_disable_host_verification {
        bail!("--tls_disable_host_verification is not supported: name the certificate's host with --tls_server_name");
    }
    let read = |path: &str, what: &str| std::fs::read(path).with_context(|| format!("reading {what} {path}"));
    let mut config = tonic::transport::ClientTlsConfig::new();
    match &global.tls_ca_path {
        Some(ca) => config = config.ca_certificate(tonic::transport::Certificate::from_pem(read(ca, "--tls_ca_path")?)),
        None => config = config.with_native_roots(),
    }
    match (&global.tls_cert_path, &global.tls_key_path) {
        (Some(cert), Some(key)) => {
            config = config.identity(tonic::transport::Identity::from_pem(
                read(cert, "--tls_cert_path")?,
                read(key, "--tls_key_path")?,
            ))
        }
        (None, None) => {}
        _ => bail!("--tls_cert_path and --tls_key_path go together"),
    }
    if let Some(name) = &global.tls_server_name {
        config = config.domain_name(name.clone());
    }
    Ok(Some(config))
}

impl Ctx {
    pub async fn connect(global: &GlobalArgs) -> anyhow::Result<Ctx> {
        let address = global.address.trim().to_owned();
        if address.is_empty() {
            bail!("--address is empty; expected host:port");
        }
        let tls = tls_config(global)?;
        let uri = if address.contains("://") {
            address.clone()
        } else if tls.is_some() {
            format!("https://{address}")
        } else {
            format!("http://{address}")
        };
        let timeout = Duration::from_secs(global.context_timeout.max(1));
        let mut endpoint = Endpoint::from_shared(uri)
            .map_err(|e| anyhow!("invalid --address {address:?}: {e}"))?
            .connect_timeout(timeout);
        if let Some(tls) = tls {
            endpoint = endpoint.tls_config(tls).context("TLS settings")?;
        }
        let channel = match tokio::time::timeout(timeout, endpoint.connect()).await {
            Ok(Ok(channel)) => channel,
            Ok(Err(e)) => bail!("cannot connect to the server at {address}: {}", error_chain(&e)),
            Err(_) => bail!(
                "cannot connect to the server at {address}: timed out after {}s",
                timeout.as_secs()
            ),
        };
        let auth = match global.auth.as_deref().filter(|a| !a.is_empty()) {
            Some(value) => Some(
                value
                    .parse()
                    .map_err(|_| anyhow!("--auth is not a valid header value"))?,
            ),
            None => None,
        };
        let channel = tonic::service::interceptor::InterceptedService::new(channel, AuthHeader(auth));
        Ok(Ctx {
            namespace: global.namespace.clone(),
            timeout,
            json: global.output == OutputFormat::Json || global.print_json,
            workflow: WorkflowServiceClient::new(channel.clone()),
            operator: OperatorServiceClient::new(channel.clone()),
            channel,
            address,
        })
    }

    /// Runs one RPC under the context timeout; `what` names the operation in errors.
    pub async fn call<T, F>(&self, what: &str, fut: F) -> Result<T, RpcError>
    where
        F: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        self.call_with_timeout(what, self.timeout, fut).await
    }

    pub async fn call_with_timeout<T, F>(&self, what: &str, timeout: Duration, fut: F) -> Result<T, RpcError>
    where
        F: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        match tokio::time::timeout(timeout, fut).await {
            Ok(Ok(resp)) => Ok(resp.into_inner()),
            Ok(Err(status)) => Err(RpcError {
                message: describe_status(what, &status, &self.address),
                code: Some(status.code()),
            }),
            Err(_) => Err(RpcError {
                message: format!(
                    "{what} failed: no answer from {} within {}s (raise --context_timeout)",
                    self.address,
                    timeout.as_secs()
                ),
                code: None,
            }),
        }
    }

    /// A request with the grpc-timeout header set, so the server gives up when we do.
    pub fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        req.set_timeout(self.timeout);
        req
    }
}

/// A failed RPC: the one-line message, plus the gRPC code to branch on.
#[derive(Debug)]
pub struct RpcError {
    pub message: String,
    pub code: Option<Code>,
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RpcError {}

/// The name of the first `temporal.api.errordetails.v1` detail of a status, if any.
pub fn failure_detail(status: &Status) -> Option<String> {
    if status.details().is_empty() {
        return None;
    }
    let decoded = sundial_api::google::rpc::Status::decode(status.details()).ok()?;
    let any = decoded.details.first()?;
    Some(
        any.type_url
            .rsplit(['.', '/'])
            .next()
            .unwrap_or(&any.type_url)
            .to_owned(),
    )
}

/// One line saying what went wrong, without gRPC noise.
pub fn describe_status(what: &str, status: &Status, address: &str) -> String {
    let message = status.message().trim();
    match status.code() {
        Code::Unimplemented => format!("the server does not support {what} (UNIMPLEMENTED: {message})"),
        Code::Unavailable => format!("{what} failed: the server at {address} is unavailable: {message}"),
        Code::DeadlineExceeded => format!("{what} failed: deadline exceeded: {message}"),
        code => {
            let detail = failure_detail(status).map(|d| format!(" [{d}]")).unwrap_or_default();
            format!("{what} failed: {}{detail}: {message}", code_name(code))
        }
    }
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::InvalidArgument => "InvalidArgument",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::PermissionDenied => "PermissionDenied",
        Code::Unauthenticated => "Unauthenticated",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::Aborted => "Aborted",
        Code::Cancelled => "Canceled",
        Code::Internal => "Internal",
        Code::OutOfRange => "OutOfRange",
        Code::DataLoss => "DataLoss",
        _ => "Unknown",
    }
}

/// `a: b: c` from an error and its sources, skipping repeats.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// Reads a file named by a flag, with the flag in the error.
pub fn read_flag_file(flag: &str, path: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {flag} {path}"))
}
