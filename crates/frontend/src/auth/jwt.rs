//! Temporal's default JWT claim mapper: the keys (JWKS documents from `file://` or
//! `http(s)://` URIs, by `kid`, re-read every refresh interval; a reload where any URI fails keeps
//! the old set) and the checks on a token (RS256 or ES256 only, a `kid` it knows, `exp`/`nbf`/`iat`
//! checked when present without leeway, `aud` when an audience is configured).

use super::{Claims, Permissions};
use arc_swap::ArcSwap;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Verified tokens kept at most; the cache is emptied when it is full.
const CACHE_LIMIT: usize = 10_000;

/// The verification keys, by `kid`, and the tokens they verified.
pub struct KeySet {
    uris: Vec<String>,
    keys: ArcSwap<HashMap<String, DecodingKey>>,
    /// Bumped whenever `keys` is replaced: a token verified with older keys is checked again.
    generation: std::sync::atomic::AtomicU64,
    /// A client sends the same token on every call; its signature is checked once (RSA
    /// verification was a quarter of the server's CPU per workflow in bench/security.py).
    verified: std::sync::Mutex<HashMap<String, Verified>>,
    http: reqwest::Client,
}

struct Verified {
    claims: Claims,
    generation: u64,
    /// `nbf` and `exp` (Unix seconds), re-checked on every use.
    not_before: Option<i64>,
    expires: Option<i64>,
}

impl KeySet {
    /// Loads the keys once; a failure is logged (tokens are refused until a reload works), as
    /// in Temporal.
    pub async fn load(uris: Vec<String>) -> Arc<KeySet> {
        let set = Arc::new(KeySet {
            uris,
            keys: ArcSwap::from_pointee(HashMap::new()),
            generation: Default::default(),
            verified: Default::default(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        });
        set.reload().await;
        set
    }

    /// Keys from JWKS text, for tests and callers holding the document already.
    pub fn from_jwks(text: &str) -> Result<Arc<KeySet>, String> {
        let keys = parse_jwks(text)?;
        Ok(Arc::new(KeySet {
            uris: Vec::new(),
            keys: ArcSwap::from_pointee(keys),
            generation: Default::default(),
            verified: Default::default(),
            http: reqwest::Client::new(),
        }))
    }

    async fn reload(&self) {
        let mut all = HashMap::new();
        for uri in &self.uris {
            match self.fetch(uri).await.and_then(|text| parse_jwks(&text)) {
                Ok(keys) => all.extend(keys),
                Err(e) => {
                    tracing::warn!(uri = %uri, error = %e, "reading JWT keys failed; keeping the keys loaded before");
                    return;
                }
            }
        }
        tracing::info!(keys = all.len(), "JWT keys loaded");
        self.keys.store(Arc::new(all));
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    async fn fetch(&self, uri: &str) -> Result<String, String> {
        if let Some(rest) = uri.strip_prefix("file://") {
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(format!("{uri}: a file URI must have no host or localhost"));
            }
            return std::fs::read_to_string(path).map_err(|e| format!("{uri}: {e}"));
        }
        if !(uri.starts_with("http://") || uri.starts_with("https://")) {
            return Err(format!(
                "{uri}: only file://, http:// and https:// key sources are supported"
            ));
        }
        let response = self.http.get(uri).send().await.map_err(|e| format!("{uri}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{uri}: HTTP {}", response.status()));
        }
        response.text().await.map_err(|e| format!("{uri}: {e}"))
    }

    /// Re-reads the keys every `interval` until the task is aborted.
    pub fn spawn_refresh(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        sundial_common::periodic::while_alive(self, interval, |set| async move { set.reload().await })
    }

    /// The claims of `header` (the `authorization` value), or why the token is refused.
    pub fn claims(&self, header: &str, audience: Option<&str>, permissions: &Permissions) -> Result<Claims, String> {
        let (scheme, token) = header
            .split_once(' ')
            .ok_or("the authorization header is not 'Bearer <token>'")?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(format!("unsupported authorization scheme {scheme:?}"));
        }
        let token = token.trim();
        let now = sundial_common::time::now_nanos() / 1_000_000_000;
        let generation = self.generation.load(std::sync::atomic::Ordering::Acquire);
        {
            let verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(v) = verified.get(token)
                && v.generation == generation
                && v.not_before.is_none_or(|nbf| nbf <= now)
                && v.expires.is_none_or(|exp| now <= exp)
            {
                return Ok(v.claims.clone());
            }
        }
        let head = jsonwebtoken::decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
        if !matches!(head.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(format!("token algorithm {:?} is not RS256 or ES256", head.alg));
        }
        let kid = head.kid.ok_or("the token has no kid")?;
        let keys = self.keys.load();
        let key = keys.get(&kid).ok_or_else(|| format!("no key with kid {kid:?}"))?;
        let mut validation = Validation::new(head.alg);
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        validation.validate_nbf = true;
        match audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<serde_json::Value>(token, key, &validation)
            .map_err(|e| format!("token refused: {e}"))?;
        let body = data.claims;
        if body
            .get("iat")
            .and_then(serde_json::Value::as_i64)
            .is_some_and(|iat| iat > now)
        {
            return Err("the token was issued in the future".into());
        }
        let subject = match body.get("sub") {
            None => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(_) => return Err("sub is not a string".into()),
        };
        let granted: Vec<String> = body
            .get(&permissions.claim)
            .and_then(serde_json::Value::as_array)
            .map(|items| items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let claims = permissions.claims(subject, &granted);
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= CACHE_LIMIT {
            verified.clear();
        }
        verified.insert(
            token.to_owned(),
            Verified {
                claims: claims.clone(),
                generation,
                not_before: body.get("nbf").and_then(serde_json::Value::as_i64),
                expires: body.get("exp").and_then(serde_json::Value::as_i64),
            },
        );
        Ok(claims)
    }
}

fn parse_jwks(text: &str) -> Result<HashMap<String, DecodingKey>, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else { continue };
        // RSA and EC keys only: a shared-secret key would let anyone who reads it sign.
        if !matches!(
            jwk.algorithm,
            jsonwebtoken::jwk::AlgorithmParameters::RSA(_) | jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_)
        ) {
            continue;
        }
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => {
                keys.insert(kid, key);
            }
            Err(e) => tracing::warn!(kid = %kid, error = %e, "skipping an unusable JWT key"),
        }
    }
    Ok(keys)
}
