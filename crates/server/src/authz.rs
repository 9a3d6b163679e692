//! `global.authorization` (Temporal's keys and docker variables) and what the frontend needs
//! from it. Authorization is on when both `authorizer` and `claimMapper` are `default`; with an
//! empty authorizer every call is allowed, and with an empty claim mapper every caller is a
//! system admin, so either leaves it off, as in Temporal.

use crate::config::DurationText;
use anyhow::bail;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Default, Deserialize, PartialEq, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthorizationSection {
    #[serde(default)]
    pub jwt_key_provider: Option<JwtKeyProvider>,
    #[serde(default)]
    pub permissions_claim_name: String,
    #[serde(default)]
    pub permissions_regex: String,
    #[serde(default)]
    pub authorizer: String,
    #[serde(default)]
    pub claim_mapper: String,
    #[serde(default)]
    pub auth_header_name: String,
    #[serde(default)]
    pub auth_extra_header_name: String,
    #[serde(default)]
    pub audience: String,
    /// Outbound tokens to remote clusters: accepted, no effect (a single cluster).
    #[serde(default)]
    pub remote_cluster_auth: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize, PartialEq, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JwtKeyProvider {
    #[serde(default, rename = "keySourceURIs", alias = "keySourceUris")]
    pub key_source_uris: Vec<String>,
    #[serde(default)]
    pub refresh_interval: Option<DurationText>,
}

/// What the frontend's check is built from.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub key_sources: Vec<String>,
    /// 0: keys are read once.
    pub refresh: Duration,
    pub permissions_claim: String,
    pub permissions_regex: Option<regex::Regex>,
    pub audience: Option<String>,
    pub header: String,
}

impl AuthorizationSection {
    /// The TEMPORAL_JWT_* and TEMPORAL_AUTH_* variables of Temporal's docker template.
    pub fn apply_env(&mut self, get: &impl Fn(&str) -> Option<String>) {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        let sources: Vec<String> = ["TEMPORAL_JWT_KEY_SOURCE1", "TEMPORAL_JWT_KEY_SOURCE2"]
            .iter()
            .filter_map(|k| get(k))
            .collect();
        if !sources.is_empty() || get("TEMPORAL_JWT_KEY_REFRESH").is_some() {
            let provider = self.jwt_key_provider.get_or_insert_with(Default::default);
            if !sources.is_empty() {
                provider.key_source_uris = sources;
            }
            if let Some(v) = get("TEMPORAL_JWT_KEY_REFRESH") {
                provider.refresh_interval = Some(DurationText::Text(v));
            }
        }
        if let Some(v) = get("TEMPORAL_JWT_PERMISSIONS_CLAIM") {
            self.permissions_claim_name = v;
        }
        if let Some(v) = get("TEMPORAL_JWT_PERMISSIONS_REGEX") {
            self.permissions_regex = v;
        }
        if let Some(v) = get("TEMPORAL_AUTH_AUTHORIZER") {
            self.authorizer = v;
        }
        if let Some(v) = get("TEMPORAL_AUTH_CLAIM_MAPPER") {
            self.claim_mapper = v;
        }
    }

    /// `None` when authorization is off; an error for an authorizer or claim mapper Temporal
    /// would not start with.
    pub fn settings(&self) -> anyhow::Result<Option<AuthSettings>> {
        let authorizer = self.authorizer.to_ascii_lowercase();
        let mapper = self.claim_mapper.to_ascii_lowercase();
        match authorizer.as_str() {
            "" | "default" => {}
            other => bail!("unknown authorizer: {other}"),
        }
        match mapper.as_str() {
            "" | "default" => {}
            other => bail!("unknown claim mapper: {other}"),
        }
        if authorizer.is_empty() || mapper.is_empty() {
            return Ok(None);
        }
        let provider = self.jwt_key_provider.clone().unwrap_or_default();
        let refresh = match &provider.refresh_interval {
            None => Duration::from_secs(60),
            Some(DurationText::Seconds(s)) if s.is_finite() && *s >= 0.0 => Duration::try_from_secs_f64(*s)?,
            Some(DurationText::Seconds(s)) => bail!("jwtKeyProvider.refreshInterval {s} is not a duration"),
            Some(DurationText::Text(t)) => sundial_dynconfig::parse_duration(t)
                .map_err(|e| anyhow::anyhow!("jwtKeyProvider.refreshInterval: {e}"))?,
        };
        let permissions_regex = if self.permissions_regex.is_empty() {
            None
        } else {
            match regex::Regex::new(&self.permissions_regex) {
                Ok(re)
                    if ["namespace", "role"]
                        .iter()
                        .all(|g| re.capture_names().flatten().any(|n| n == *g)) =>
                {
                    Some(re)
                }
                _ => {
                    // Temporal's fallback too.
                    tracing::warn!(
                        regex = %self.permissions_regex,
                        "permissionsRegex does not compile or lacks the namespace and role groups; splitting at ':'"
                    );
                    None
                }
            }
        };
        Ok(Some(AuthSettings {
            key_sources: provider.key_source_uris,
            refresh,
            permissions_claim: Some(self.permissions_claim_name.clone())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "permissions".into()),
            permissions_regex,
            audience: Some(self.audience.clone()).filter(|a| !a.is_empty()),
            header: Some(self.auth_header_name.clone())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "authorization".into()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_only_with_the_default_authorizer_and_claim_mapper() {
        let mut section = AuthorizationSection::default();
        assert!(section.settings().ok().flatten().is_none());
        section.authorizer = "Default".into();
        assert!(
            section.settings().ok().flatten().is_none(),
            "the noop claim mapper makes everyone admin"
        );
        section.claim_mapper = "default".into();
        let settings = section.settings().ok().flatten();
        assert_eq!(settings.as_ref().map(|s| s.header.as_str()), Some("authorization"));
        assert_eq!(settings.map(|s| s.refresh), Some(Duration::from_secs(60)));
        section.authorizer = "mine".into();
        let err = section.settings().map(|_| ()).expect_err("refused").to_string();
        assert_eq!(err, "unknown authorizer: mine");
    }

    #[test]
    fn docker_variables_fill_the_section() {
        let mut section = AuthorizationSection::default();
        let env = |k: &str| match k {
            "TEMPORAL_JWT_KEY_SOURCE1" => Some("http://keys/jwks.json".to_owned()),
            "TEMPORAL_JWT_KEY_REFRESH" => Some("30s".to_owned()),
            "TEMPORAL_AUTH_AUTHORIZER" | "TEMPORAL_AUTH_CLAIM_MAPPER" => Some("default".to_owned()),
            _ => None,
        };
        section.apply_env(&env);
        let settings = section.settings().ok().flatten().expect("on");
        assert_eq!(settings.key_sources, vec!["http://keys/jwks.json".to_owned()]);
        assert_eq!(settings.refresh, Duration::from_secs(30));
    }
}
