//! OperatorService's Nexus endpoints: validation as Temporal's frontend does it, rows in the
//! `nexus_endpoints` table. Reads go to the database, so a change is visible cluster-wide at
//! once; an update names the version it read (compare-and-set).

use crate::registry::NamespaceRegistry;
use std::sync::{Arc, LazyLock};
use sundial_api::operatorservice::v1::*;
use sundial_api::prost::Message;
use sundial_api::sundial::persistence::v1::{NexusEndpointRecord, NexusWorkerTarget, nexus_endpoint_record};
use sundial_api::temporal::nexus::v1::{Endpoint, EndpointSpec, EndpointTarget, endpoint_target};
use sundial_common::ServiceError;
use sundial_persistence::{NexusEndpointRow, NexusEndpointStore, PersistenceError};

/// Temporal's `limit.endpointNameMaxLength`, `limit.endpointDescriptionMaxSize`,
/// `limit.endpointListDefaultPageSize` and `limit.endpointListMaxPageSize` defaults.
const MAX_NAME_LENGTH: usize = 200;
const MAX_DESCRIPTION_SIZE: usize = 20_000;
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: i32 = 1000;
const MAX_URL_LENGTH: usize = 1000;
const MAX_TASK_QUEUE_LENGTH: usize = 1000;
const NAME_PATTERN: &str = "^[a-zA-Z][a-zA-Z0-9\\-]*[a-zA-Z0-9]$";

static NAME_REGEX: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(NAME_PATTERN).expect("the endpoint name pattern compiles"));

#[derive(Clone)]
pub struct NexusEndpointHandler {
    registry: NamespaceRegistry,
    store: Arc<dyn NexusEndpointStore>,
}

/// Problems with a request, reported together as Temporal does ("a, b").
#[derive(Default)]
struct Issues(Vec<String>);

impl Issues {
    fn add(&mut self, issue: impl Into<String>) {
        self.0.push(issue.into());
    }

    fn into_result(self) -> Result<(), ServiceError> {
        if self.0.is_empty() { Ok(()) } else { Err(self.error()) }
    }

    fn error(self) -> ServiceError {
        ServiceError::InvalidArgument(self.0.join(", "))
    }
}

fn name_issues(name: &str, issues: &mut Issues) {
    if name.is_empty() {
        issues.add("endpoint name not set");
        return;
    }
    if name.len() > MAX_NAME_LENGTH {
        issues.add(format!("endpoint name exceeds length limit of {MAX_NAME_LENGTH}"));
    }
    if !NAME_REGEX.is_match(name) {
        issues.add(format!("endpoint name must match the regex: {NAME_PATTERN:?}"));
    }
}

fn id_issues(id: &str, issues: &mut Issues) {
    if id.is_empty() {
        issues.add("endpoint ID not set");
    } else if let Err(e) = uuid::Uuid::parse_str(id) {
        issues.add(format!("malformed endpoint ID: {:?}", e.to_string()));
    }
}

fn task_queue_issue(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("taskQueue is not set".into())
    } else if name.len() > MAX_TASK_QUEUE_LENGTH {
        Some("taskQueue length exceeds limit".into())
    } else if name.starts_with(sundial_common::partition::RESERVED_PREFIX) {
        Some(format!(
            "task queue name cannot start with reserved prefix {}",
            sundial_common::partition::RESERVED_PREFIX
        ))
    } else {
        None
    }
}

fn url_issue(url: &str) -> Option<String> {
    if url.is_empty() {
        return Some("empty target URL".into());
    }
    if url.len() > MAX_URL_LENGTH {
        return Some(format!("target URL length exceeds limit of {MAX_URL_LENGTH}"));
    }
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    (scheme != "http" && scheme != "https")
        .then(|| format!("invalid target URL scheme: {scheme:?}, expected http or https"))
}

impl NexusEndpointHandler {
    pub fn new(registry: NamespaceRegistry, store: Arc<dyn NexusEndpointStore>) -> Self {
        Self { registry, store }
    }

    /// Checks a spec and turns it into the stored record (the target's namespace by id).
    async fn record_of(&self, spec: Option<EndpointSpec>) -> Result<NexusEndpointRecord, ServiceError> {
        let spec = spec.unwrap_or_default();
        let mut issues = Issues::default();
        name_issues(&spec.name, &mut issues);
        let Some(variant) = spec.target.and_then(|t| t.variant) else {
            issues.add("empty target variant");
            return Err(issues.error());
        };
        let target = match variant {
            endpoint_target::Variant::Worker(worker) => {
                let mut namespace_id = String::new();
                if worker.namespace.is_empty() {
                    issues.add("target namespace not set");
                } else {
                    match self.registry.by_name(&worker.namespace).await {
                        Ok(ns) => namespace_id = ns.id.clone(),
                        Err(e) => {
                            return Err(ServiceError::FailedPrecondition(format!(
                                "could not verify namespace referenced by target exists: {e}"
                            )));
                        }
                    }
                }
                if let Some(issue) = task_queue_issue(&worker.task_queue) {
                    issues.add(format!("invalid target task queue: {issue:?}"));
                }
                nexus_endpoint_record::Target::Worker(NexusWorkerTarget {
                    namespace_id,
                    task_queue: worker.task_queue,
                })
            }
            endpoint_target::Variant::External(external) => {
                if let Some(issue) = url_issue(&external.url) {
                    issues.add(issue);
                }
                nexus_endpoint_record::Target::ExternalUrl(external.url)
            }
        };
        if spec.description.as_ref().map_or(0, Message::encoded_len) > MAX_DESCRIPTION_SIZE {
            issues.add(format!("description size exceeds limit of {MAX_DESCRIPTION_SIZE}"));
        }
        issues.into_result()?;
        Ok(NexusEndpointRecord {
            name: spec.name,
            description: spec.description,
            target: Some(target),
            ..Default::default()
        })
    }

    /// The row as the API shows it: the target's namespace by name, and a last-modified time
    /// only once the endpoint was changed.
    async fn endpoint_of(&self, row: NexusEndpointRow) -> Result<Endpoint, ServiceError> {
        let record = row.record;
        let variant = match record.target {
            Some(nexus_endpoint_record::Target::Worker(worker)) => {
                let namespace = self.registry.by_id(&worker.namespace_id).await?.name.clone();
                Some(endpoint_target::Variant::Worker(endpoint_target::Worker {
                    namespace,
                    task_queue: worker.task_queue,
                }))
            }
            Some(nexus_endpoint_record::Target::ExternalUrl(url)) => {
                Some(endpoint_target::Variant::External(endpoint_target::External { url }))
            }
            None => None,
        };
        Ok(Endpoint {
            version: row.version,
            url_prefix: format!("/nexus/endpoints/{}/services", row.id),
            id: row.id,
            spec: Some(EndpointSpec {
                name: record.name,
                description: record.description,
                target: Some(EndpointTarget { variant }),
            }),
            created_time: record.created_time,
            last_modified_time: if row.version > 1 {
                record.last_modified_time
            } else {
                None
            },
        })
    }

    pub async fn create(&self, req: CreateNexusEndpointRequest) -> Result<CreateNexusEndpointResponse, ServiceError> {
        let mut record = self.record_of(req.spec).await?;
        let name = record.name.clone();
        record.created_time = Some(sundial_common::time::now_timestamp());
        let id = uuid::Uuid::new_v4().to_string();
        let row = match self.store.create_nexus_endpoint(&id, &record).await {
            Ok(row) => row,
            Err(PersistenceError::AlreadyExists(_)) => {
                return Err(ServiceError::AlreadyExists(format!(
                    "error creating Nexus endpoint. Endpoint with name {name} already registered"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(endpoint = %name, id = %row.id, "Nexus endpoint created");
        Ok(CreateNexusEndpointResponse {
            endpoint: Some(self.endpoint_of(row).await?),
        })
    }

    pub async fn update(&self, req: UpdateNexusEndpointRequest) -> Result<UpdateNexusEndpointResponse, ServiceError> {
        let mut record = self.record_of(req.spec).await?;
        let not_found = || {
            ServiceError::NotFound(format!(
                "error updating Nexus endpoint. endpoint ID {} not found",
                req.id
            ))
        };
        let Some(current) = self.store.get_nexus_endpoint(&req.id).await? else {
            return Err(not_found());
        };
        let mismatch = |expected: i64| {
            ServiceError::FailedPrecondition(format!(
                "nexus endpoint version mismatch. received: {} expected {expected}",
                req.version
            ))
        };
        if current.version != req.version {
            return Err(mismatch(current.version));
        }
        record.created_time = current.record.created_time;
        record.last_modified_time = Some(sundial_common::time::now_timestamp());
        let name = record.name.clone();
        let row = match self.store.update_nexus_endpoint(&req.id, req.version, &record).await {
            Ok(row) => row,
            Err(PersistenceError::AlreadyExists(_)) => {
                return Err(ServiceError::AlreadyExists(format!(
                    "error updating Nexus endpoint. Endpoint with name {name} already registered"
                )));
            }
            Err(PersistenceError::ConditionFailed(_)) => {
                return match self.store.get_nexus_endpoint(&req.id).await? {
                    Some(now) => Err(mismatch(now.version)),
                    None => Err(not_found()),
                };
            }
            Err(e) => return Err(e.into()),
        };
        Ok(UpdateNexusEndpointResponse {
            endpoint: Some(self.endpoint_of(row).await?),
        })
    }

    pub async fn delete(&self, req: DeleteNexusEndpointRequest) -> Result<DeleteNexusEndpointResponse, ServiceError> {
        let mut issues = Issues::default();
        id_issues(&req.id, &mut issues);
        if req.version <= 0 {
            issues.add("endpoint version is non-positive");
        }
        issues.into_result()?;
        if !self.store.delete_nexus_endpoint(&req.id).await? {
            return Err(ServiceError::NotFound(format!(
                "error deleting nexus endpoint with ID: {}",
                req.id
            )));
        }
        tracing::info!(id = %req.id, "Nexus endpoint deleted");
        Ok(DeleteNexusEndpointResponse {})
    }

    pub async fn get(&self, req: GetNexusEndpointRequest) -> Result<GetNexusEndpointResponse, ServiceError> {
        let mut issues = Issues::default();
        id_issues(&req.id, &mut issues);
        issues.into_result()?;
        let Some(row) = self.store.get_nexus_endpoint(&req.id).await? else {
            return Err(ServiceError::NotFound(format!(
                "Nexus endpoint with ID `{}` not found",
                req.id
            )));
        };
        Ok(GetNexusEndpointResponse {
            endpoint: Some(self.endpoint_of(row).await?),
        })
    }

    /// By id; with a name, the one endpoint of that name (or none), ignoring paging.
    pub async fn list(&self, req: ListNexusEndpointsRequest) -> Result<ListNexusEndpointsResponse, ServiceError> {
        if !req.name.is_empty() {
            let endpoints = match self.store.get_nexus_endpoint_by_name(&req.name).await? {
                Some(row) => vec![self.endpoint_of(row).await?],
                None => Vec::new(),
            };
            return Ok(ListNexusEndpointsResponse {
                next_page_token: Vec::new(),
                endpoints,
            });
        }
        let page_size = match req.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => return Err(ServiceError::invalid("page_size is negative")),
            n if n > MAX_PAGE_SIZE => {
                return Err(ServiceError::invalid(format!(
                    "page_size exceeds limit of {MAX_PAGE_SIZE}"
                )));
            }
            n => usize::try_from(n).unwrap_or(DEFAULT_PAGE_SIZE),
        };
        let after =
            String::from_utf8(req.next_page_token).map_err(|_| ServiceError::invalid("invalid next_page_token"))?;
        // One more than asked tells whether another page exists.
        let mut rows = self.store.list_nexus_endpoints(&after, page_size + 1).await?;
        let next_page_token = if rows.len() > page_size {
            rows.truncate(page_size);
            rows.last().map(|r| r.id.clone().into_bytes()).unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut endpoints = Vec::with_capacity(rows.len());
        for row in rows {
            endpoints.push(self.endpoint_of(row).await?);
        }
        Ok(ListNexusEndpointsResponse {
            next_page_token,
            endpoints,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues_of(check: impl FnOnce(&mut Issues)) -> Vec<String> {
        let mut issues = Issues::default();
        check(&mut issues);
        issues.0
    }

    #[test]
    fn names_follow_temporals_pattern() {
        assert!(issues_of(|i| name_issues("my-endpoint-1", i)).is_empty());
        assert_eq!(issues_of(|i| name_issues("", i)), ["endpoint name not set"]);
        for bad in ["1abc", "abc-", "a_b", "a"] {
            assert_eq!(issues_of(|i| name_issues(bad, i)).len(), 1, "{bad}");
        }
        assert_eq!(issues_of(|i| name_issues(&"a".repeat(201), i)).len(), 1);
    }

    #[test]
    fn ids_are_uuids_and_urls_http() {
        assert!(issues_of(|i| id_issues(&uuid::Uuid::new_v4().to_string(), i)).is_empty());
        assert_eq!(issues_of(|i| id_issues("", i)), ["endpoint ID not set"]);
        assert_eq!(issues_of(|i| id_issues("nope", i)).len(), 1);
        assert_eq!(url_issue("https://example.com/x"), None);
        assert!(url_issue("ftp://example.com").is_some_and(|m| m.contains("\"ftp\"")));
        assert!(url_issue("").is_some());
    }
}
