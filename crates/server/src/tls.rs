//! TLS from Temporal's `global.tls` keys: the frontend's public port (`frontend.server`), and
//! the internal ports of history, matching and worker with the calls between roles
//! (`internode.server`, `internode.client`; a node's internode certificate is also its client
//! certificate, presented when the servers require one). Server TLS, mTLS (`requireClientAuth`
//! against `clientCaFiles`/`clientCaData`), certificates given as files or base64 PEM data and
//! re-read every `refreshInterval` (a changed certificate is used for the next handshake; one
//! that does not load keeps the old), and the system worker's client settings (`systemWorker`,
//! else `frontend.client`) for reaching a TLS frontend.
//!
//! Not yet: `hostOverrides`, `remoteClusters`, expiration checks, `disableHostVerification`;
//! client-side CAs are read once at start.

use crate::config::DurationText;
use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use base64::Engine;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `global.tls`.
#[derive(Debug, Default, Deserialize, PartialEq, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TlsSection {
    /// How often certificate files and data are re-read; unset or 0: loaded once.
    #[serde(default)]
    pub refresh_interval: Option<DurationText>,
    #[serde(default)]
    pub frontend: Option<GroupTls>,
    #[serde(default)]
    pub internode: Option<GroupTls>,
    #[serde(default)]
    pub system_worker: Option<WorkerTls>,
    /// Accepted, not acted on (see the module comment).
    #[serde(default)]
    pub expiration_checks: Option<serde_yaml::Value>,
    #[serde(default)]
    pub remote_clusters: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize, PartialEq, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GroupTls {
    #[serde(default)]
    pub server: Option<ServerTls>,
    #[serde(default)]
    pub client: Option<ClientTls>,
    #[serde(default)]
    pub host_overrides: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize, PartialEq, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerTls {
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_file: String,
    #[serde(default)]
    pub cert_data: String,
    #[serde(default)]
    pub key_data: String,
    #[serde(default)]
    pub client_ca_files: Vec<String>,
    #[serde(default)]
    pub client_ca_data: Vec<String>,
    #[serde(default)]
    pub require_client_auth: bool,
}

#[derive(Debug, Default, Deserialize, PartialEq, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientTls {
    #[serde(default)]
    pub server_name: String,
    #[serde(default)]
    pub disable_host_verification: bool,
    #[serde(default)]
    pub root_ca_files: Vec<String>,
    #[serde(default)]
    pub root_ca_data: Vec<String>,
    #[serde(default)]
    pub force_tls: bool,
}

/// `global.tls.systemWorker`: the system worker's identity towards the frontend.
#[derive(Debug, Default, Deserialize, PartialEq, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkerTls {
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_file: String,
    #[serde(default)]
    pub cert_data: String,
    #[serde(default)]
    pub key_data: String,
    #[serde(default)]
    pub client: Option<ClientTls>,
}

impl ServerTls {
    /// Temporal turns server TLS on when a key is configured.
    fn enabled(&self) -> bool {
        !self.key_file.is_empty() || !self.key_data.is_empty()
    }
}

impl ClientTls {
    /// Temporal's client TLS is on with root CAs or `forceTLS`.
    fn enabled(&self) -> bool {
        !self.root_ca_files.is_empty() || !self.root_ca_data.is_empty() || self.force_tls
    }
}

impl TlsSection {
    /// The frontend's server settings, when its TLS is on.
    pub fn frontend_server(&self) -> Option<&ServerTls> {
        self.frontend
            .as_ref()
            .and_then(|g| g.server.as_ref())
            .filter(|s| s.enabled())
    }

    pub fn refresh(&self) -> anyhow::Result<Option<Duration>> {
        let interval = match &self.refresh_interval {
            None => return Ok(None),
            Some(DurationText::Seconds(s)) if s.is_finite() && *s >= 0.0 => Duration::try_from_secs_f64(*s)?,
            Some(DurationText::Seconds(s)) => bail!("global.tls.refreshInterval {s} is not a duration"),
            Some(DurationText::Text(t)) => {
                sundial_dynconfig::parse_duration(t).map_err(|e| anyhow::anyhow!("global.tls.refreshInterval: {e}"))?
            }
        };
        Ok(Some(interval).filter(|d| !d.is_zero()))
    }

    /// The internal ports' server settings, when internode TLS is on.
    pub fn internode_server(&self) -> Option<&ServerTls> {
        self.internode
            .as_ref()
            .and_then(|g| g.server.as_ref())
            .filter(|s| s.enabled())
    }

    /// How roles dial one another: TLS when `internode.client` turns it on, presenting the
    /// internode server certificate when the servers require client certificates.
    pub fn internode_client(&self) -> anyhow::Result<Option<tonic::transport::ClientTlsConfig>> {
        let Some(client) = self
            .internode
            .as_ref()
            .and_then(|g| g.client.as_ref())
            .filter(|c| c.enabled())
        else {
            return Ok(None);
        };
        let identity = match self.internode_server() {
            Some(server) if server.require_client_auth => Some((
                pem_bytes(&server.cert_file, &server.cert_data, "internode certificate")?,
                pem_bytes(&server.key_file, &server.key_data, "internode key")?,
            )),
            _ => None,
        };
        WorkerClientTls {
            client: client.clone(),
            identity,
        }
        .config()
        .map(Some)
        .context("global.tls.internode.client")
    }

    /// Checks that what is configured loads, and refuses a layout whose roles could not
    /// reach one another.
    pub fn check(&self) -> anyhow::Result<()> {
        self.refresh()?;
        if let Some(server) = self.frontend_server() {
            load_server(server).context("global.tls.frontend.server")?;
        }
        if let Some(server) = self.internode_server() {
            load_server(server).context("global.tls.internode.server")?;
            if self.internode_client()?.is_none() {
                bail!(
                    "global.tls.internode.server serves TLS, but internode.client has no rootCaFiles, rootCaData \
                     or forceTLS (TEMPORAL_TLS_SERVER_CA_CERT): the roles could not reach one another"
                );
            }
        } else {
            self.internode_client()?;
        }
        if let Some(client) = self.worker_client()? {
            client.config().context("the system worker's TLS settings")?;
        }
        Ok(())
    }

    /// Settings accepted without effect, for the start-up warnings.
    pub fn notices(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.expiration_checks.is_some() {
            out.push("global.tls.expirationChecks is accepted but not acted on".to_owned());
        }
        if self.remote_clusters.is_some() {
            out.push("global.tls.remoteClusters has no effect: Sundial runs a single cluster".to_owned());
        }
        if self.frontend.as_ref().is_some_and(|g| g.host_overrides.is_some()) {
            out.push("global.tls.frontend.hostOverrides is not supported: the default server certificate is used for every SNI".to_owned());
        }
        out
    }

    /// How the system worker dials the frontend: `systemWorker` when it sets a certificate, a
    /// root CA or forceTLS, else `frontend.client` when that turns TLS on; plaintext otherwise.
    pub fn worker_client(&self) -> anyhow::Result<Option<WorkerClientTls>> {
        if let Some(w) = &self.system_worker {
            let client = w.client.clone().unwrap_or_default();
            let has_cert = !w.cert_file.is_empty() || !w.cert_data.is_empty();
            if has_cert || client.enabled() {
                let identity = if has_cert {
                    Some((
                        pem_bytes(&w.cert_file, &w.cert_data, "systemWorker cert")?,
                        pem_bytes(&w.key_file, &w.key_data, "systemWorker key")?,
                    ))
                } else {
                    None
                };
                return Ok(Some(WorkerClientTls { client, identity }));
            }
        }
        match self.frontend.as_ref().and_then(|g| g.client.as_ref()) {
            Some(client) if client.enabled() => Ok(Some(WorkerClientTls {
                client: client.clone(),
                identity: None,
            })),
            _ => Ok(None),
        }
    }
}

/// What the system worker presents and trusts when it dials a TLS frontend.
#[derive(Debug, Clone)]
pub struct WorkerClientTls {
    client: ClientTls,
    /// PEM certificate chain and key.
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl WorkerClientTls {
    pub fn config(&self) -> anyhow::Result<tonic::transport::ClientTlsConfig> {
        if self.client.disable_host_verification {
            bail!("disableHostVerification is not supported: name the certificate's host in serverName instead");
        }
        let cas = self.ca_pems()?;
        let mut config = tonic::transport::ClientTlsConfig::new();
        if cas.is_empty() {
            // forceTLS without a CA: the frontend's certificate is checked against the system's.
            config = config.with_native_roots();
        }
        for ca in cas {
            config = config.ca_certificate(tonic::transport::Certificate::from_pem(ca));
        }
        if !self.client.server_name.is_empty() {
            config = config.domain_name(self.client.server_name.clone());
        }
        if let Some((cert, key)) = &self.identity {
            config = config.identity(tonic::transport::Identity::from_pem(cert, key));
        }
        Ok(config)
    }

    fn ca_pems(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        pem_list(&self.client.root_ca_files, &self.client.root_ca_data, "rootCa")
    }
}

/// The PEM of a CA list given as files (`<key>Files`) and as base64 data (`<key>Data`).
fn pem_list(files: &[String], data: &[String], key: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(files.len() + data.len());
    for f in files {
        out.push(std::fs::read(f).with_context(|| format!("reading {key}Files {f}"))?);
    }
    for d in data {
        out.push(decode_data(d, &format!("{key}Data"))?);
    }
    Ok(out)
}

fn decode_data(data: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .with_context(|| format!("{what} is not base64 of PEM text"))
}

/// One PEM item given as a file or as base64 data (not both).
fn pem_bytes(file: &str, data: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    match (file.is_empty(), data.is_empty()) {
        (false, false) => bail!("cannot specify the {what} as a file and as data at the same time"),
        (false, true) => std::fs::read(file).with_context(|| format!("reading the {what} {file}")),
        (true, false) => decode_data(data, what),
        (true, true) => bail!("no {what} is configured"),
    }
}

/// The raw PEM a server configuration is built from; compared on reload.
#[derive(PartialEq)]
struct ServerPem {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_cas: Vec<Vec<u8>>,
}

fn read_server_pem(s: &ServerTls) -> anyhow::Result<ServerPem> {
    if !s.client_ca_files.is_empty() && !s.client_ca_data.is_empty() {
        bail!("cannot specify clientCaFiles and clientCaData at the same time");
    }
    let client_cas = pem_list(&s.client_ca_files, &s.client_ca_data, "clientCa")?;
    if s.require_client_auth && client_cas.is_empty() {
        bail!("requireClientAuth needs clientCaFiles or clientCaData: no client could be verified");
    }
    Ok(ServerPem {
        cert: pem_bytes(&s.cert_file, &s.cert_data, "server certificate")?,
        key: pem_bytes(&s.key_file, &s.key_data, "server key")?,
        client_cas,
    })
}

/// rustls's *ring* provider, as tonic's `tls-ring` uses: the aws-lc-rs one (rustls's default,
/// with post-quantum key exchange) needs a C toolchain build that ring does not.
#[allow(deprecated)]
fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn build_server(pem: &ServerPem, require_client_auth: bool) -> anyhow::Result<rustls::ServerConfig> {
    let provider = crypto_provider();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem.cert)
        .collect::<Result<_, _>>()
        .context("the server certificate is not PEM")?;
    if certs.is_empty() {
        bail!("the server certificate file holds no certificate");
    }
    let key = PrivateKeyDer::from_pem_slice(&pem.key).context("the server key is not a PEM private key")?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])?;
    let builder = if require_client_auth {
        let mut roots = rustls::RootCertStore::empty();
        for ca in &pem.client_cas {
            for cert in CertificateDer::pem_slice_iter(ca) {
                roots
                    .add(cert.context("a client CA is not PEM")?)
                    .context("a client CA certificate is not usable")?;
            }
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .context("building the client-certificate verifier")?;
        builder.with_client_cert_verifier(verifier)
    } else {
        // Temporal asks for no client certificate unless it requires one.
        builder.with_no_client_auth()
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .context("the server certificate and key do not form a usable pair")?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

fn load_server(s: &ServerTls) -> anyhow::Result<(ServerPem, rustls::ServerConfig)> {
    let pem = read_server_pem(s)?;
    let config = build_server(&pem, s.require_client_auth)?;
    Ok((pem, config))
}

/// A TLS listener's state: the current server configuration, swapped when the certificates on
/// disk (or in the config's data) change.
pub struct ServerTlsState {
    /// Which settings these are, for logs.
    what: &'static str,
    settings: ServerTls,
    current: ArcSwap<rustls::ServerConfig>,
    loaded: Mutex<ServerPem>,
}

impl ServerTlsState {
    /// The frontend's (`None` without TLS).
    pub fn frontend(section: &TlsSection) -> anyhow::Result<Option<Arc<ServerTlsState>>> {
        section
            .frontend_server()
            .map(|s| Self::load(s, "global.tls.frontend.server"))
            .transpose()
    }

    /// The internal ports' (`None` without internode TLS).
    pub fn internode(section: &TlsSection) -> anyhow::Result<Option<Arc<ServerTlsState>>> {
        section
            .internode_server()
            .map(|s| Self::load(s, "global.tls.internode.server"))
            .transpose()
    }

    fn load(settings: &ServerTls, what: &'static str) -> anyhow::Result<Arc<ServerTlsState>> {
        let (pem, config) = load_server(settings).context(what)?;
        Ok(Arc::new(ServerTlsState {
            what,
            settings: settings.clone(),
            current: ArcSwap::from_pointee(config),
            loaded: Mutex::new(pem),
        }))
    }

    /// Re-reads the certificates; swaps the configuration if they changed. A failed reload
    /// keeps the configuration in use.
    fn reload(&self) {
        let pem = match read_server_pem(&self.settings) {
            Ok(pem) => pem,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "reloading the frontend's TLS certificates failed; keeping the loaded ones"
                );
                return;
            }
        };
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if *loaded == pem {
            return;
        }
        match build_server(&pem, self.settings.require_client_auth) {
            Ok(config) => {
                self.current.store(Arc::new(config));
                *loaded = pem;
                tracing::info!(settings = self.what, "loaded new TLS certificates");
            }
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "the frontend's new TLS certificates are not usable; keeping the loaded ones"
                )
            }
        }
    }

    /// Re-reads the certificates every `interval` until the task is aborted.
    pub fn spawn_refresh(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        sundial_common::periodic::while_alive(self, interval, |tls| async move {
            tokio::task::spawn_blocking(move || tls.reload()).await.ok();
        })
    }

    /// TLS connections from accepted TCP connections. Each handshake runs on its own task, so a
    /// slow or silent client holds up nobody; a failed one (a plaintext client, a client
    /// certificate the CAs did not sign) closes that connection only.
    pub fn incoming(
        self: Arc<Self>,
        tcp: impl tokio_stream::Stream<Item = std::io::Result<TcpStream>> + Send + 'static,
    ) -> tokio_stream::wrappers::ReceiverStream<std::io::Result<TlsStream<TcpStream>>> {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            use tokio_stream::StreamExt;
            let mut tcp = std::pin::pin!(tcp);
            while let Some(conn) = tcp.next().await {
                let conn = match conn {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::debug!(error = %e, "accepting a connection failed");
                        continue;
                    }
                };
                let acceptor = tokio_rustls::TlsAcceptor::from(self.current.load_full());
                let tx = tx.clone();
                tokio::spawn(async move {
                    let peer = conn.peer_addr().ok();
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(conn)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send(Ok(stream)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(?peer, error = %e, "TLS handshake refused"),
                        Err(_) => tracing::debug!(?peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internode_server_tls_needs_client_tls_to_match() {
        let section: TlsSection = serde_yaml::from_str(
            "internode:\n  server:\n    certData: Zm9v\n    keyData: YmFy\n    requireClientAuth: true\n    clientCaData: [Zm9v]\n",
        )
        .unwrap_or_default();
        assert!(section.internode_server().is_some());
        assert!(
            section.internode_client().ok().flatten().is_none(),
            "no client TLS configured"
        );
        let err = section.check().map(|_| ()).expect_err("refused").to_string();
        assert!(err.contains("global.tls.internode"), "{err}");
    }

    #[test]
    fn an_item_given_twice_or_not_at_all_is_an_error() {
        assert!(pem_bytes("/a", "Zm9v", "server key").is_err());
        assert!(pem_bytes("", "", "server key").is_err());
        assert_eq!(pem_bytes("", "Zm9v", "server key").ok(), Some(b"foo".to_vec()));
        let mtls_without_ca = ServerTls {
            cert_data: "Zm9v".into(),
            key_data: "Zm9v".into(),
            require_client_auth: true,
            ..ServerTls::default()
        };
        let err = read_server_pem(&mtls_without_ca)
            .map(|_| ())
            .expect_err("refused")
            .to_string();
        assert!(err.contains("requireClientAuth"), "{err}");
    }

    #[test]
    fn the_worker_uses_its_own_settings_before_the_frontend_client_ones() {
        let section: TlsSection = serde_yaml::from_str(
            "frontend:\n  client:\n    rootCaData: [Zm9v]\n    serverName: front\nsystemWorker:\n  certData: Zm9v\n  keyData: YmFy\n  client:\n    serverName: worker-view\n    rootCaData: [Zm9v]\n",
        )
        .unwrap_or_default();
        let worker = section.worker_client().ok().flatten();
        assert_eq!(
            worker.as_ref().map(|w| w.client.server_name.as_str()),
            Some("worker-view")
        );
        assert!(worker.is_some_and(|w| w.identity.is_some()));
        let legacy: TlsSection =
            serde_yaml::from_str("frontend:\n  client:\n    rootCaData: [Zm9v]\n    serverName: front\n")
                .unwrap_or_default();
        let worker = legacy.worker_client().ok().flatten();
        assert_eq!(worker.map(|w| w.client.server_name), Some("front".to_owned()));
        assert!(
            TlsSection::default().worker_client().ok().flatten().is_none(),
            "plaintext by default"
        );
    }
}
