//! Standalone activities: StartActivityExecution and its family, validated here with
//! Temporal's messages and routed to the history host of the activity's key
//! (`sundial_common::standalone::activity_key`). List and count read visibility directly.

use super::*;
use prost_wkt_types::Duration as PbDuration;
use sundial_common::standalone::activity_key;
use sundial_common::time::pb_duration_nanos as nanos;

fn disabled() -> Status {
    Status::unimplemented("Standalone activity is disabled")
}

fn run_id(id: &str) -> Result<(), ServiceError> {
    if !id.is_empty() && uuid::Uuid::try_parse(id).is_err() {
        return Err(ServiceError::invalid("invalid run id: must be a valid UUID"));
    }
    Ok(())
}

fn is_set(d: &Option<PbDuration>) -> bool {
    d.as_ref().is_some_and(|d| nanos(d) > 0)
}

fn min(a: PbDuration, b: PbDuration) -> PbDuration {
    if nanos(&a) <= nanos(&b) { a } else { b }
}

fn negative(d: &Option<PbDuration>, field: &str) -> Result<(), ServiceError> {
    match d {
        Some(d) if d.seconds < 0 || d.nanos < 0 => {
            Err(ServiceError::invalid(format!("invalid {field}: negative duration")))
        }
        _ => Ok(()),
    }
}

/// Temporal's timeout rules for a standalone activity: schedule-to-close bounds the others;
/// without it start-to-close is required and nothing else is bounded (zero means no limit).
fn normalize_timeouts(req: &mut StartActivityExecutionRequest) -> Result<(), ServiceError> {
    negative(&req.schedule_to_close_timeout, "ScheduleToCloseTimeout")?;
    negative(&req.schedule_to_start_timeout, "ScheduleToStartTimeout")?;
    negative(&req.start_to_close_timeout, "StartToCloseTimeout")?;
    negative(&req.heartbeat_timeout, "HeartbeatTimeout")?;
    for d in [
        &mut req.schedule_to_close_timeout,
        &mut req.schedule_to_start_timeout,
        &mut req.start_to_close_timeout,
        &mut req.heartbeat_timeout,
        &mut req.start_delay,
    ] {
        sundial_common::time::validate_and_cap_opt(d).map_err(|e| ServiceError::invalid(e.to_string()))?;
    }
    let zero = PbDuration::default();
    if let Some(s2c) = req.schedule_to_close_timeout.filter(|d| nanos(d) > 0) {
        req.schedule_to_start_timeout = Some(
            req.schedule_to_start_timeout
                .filter(|d| nanos(d) > 0)
                .map_or(s2c, |d| min(d, s2c)),
        );
        req.start_to_close_timeout = Some(
            req.start_to_close_timeout
                .filter(|d| nanos(d) > 0)
                .map_or(s2c, |d| min(d, s2c)),
        );
    } else if is_set(&req.start_to_close_timeout) {
        req.schedule_to_close_timeout = Some(zero);
        if !is_set(&req.schedule_to_start_timeout) {
            req.schedule_to_start_timeout = Some(zero);
        }
    } else {
        return Err(ServiceError::invalid(format!(
            "a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set on the activity. ActivityId={} ActivityType={}",
            req.activity_id,
            req.activity_type.as_ref().map_or("", |t| t.name.as_str())
        )));
    }
    let stc = req.start_to_close_timeout.unwrap_or(zero);
    req.heartbeat_timeout = Some(
        req.heartbeat_timeout
            .filter(|d| nanos(d) > 0)
            .map_or(zero, |hb| min(hb, stc)),
    );
    Ok(())
}

/// The history host of the activity's key.
macro_rules! on_activity {
    ($self:ident, $namespace_id:expr, $activity_id:expr, $method:ident, $internal:ident, $req:expr) => {{
        let key = activity_key($activity_id);
        on_history!(
            $self,
            $namespace_id,
            &key,
            $method,
            hs::$internal {
                namespace_id: $namespace_id.clone(),
                request: Some($req),
            }
        )
        .await
    }};
}

impl ExecutionHandler {
    /// The namespace id, if standalone activities are on for the namespace.
    async fn standalone_ns(&self, namespace: &str) -> Res<String> {
        self.standalone_ns_in(namespace, SERVING).await
    }

    /// `standalone_ns` for a namespace in one of `states` (listing and deleting also serve
    /// a deleted namespace, which the worker role's reclaimer empties through them).
    async fn standalone_ns_in(&self, namespace: &str, states: &[NamespaceState]) -> Res<String> {
        let namespace_id = self.ns_in(namespace, states).await?;
        if !self.standalone_on(namespace) {
            return Err(disabled());
        }
        Ok(namespace_id)
    }

    /// `activity.enableStandalone` for the namespace.
    pub(super) fn standalone_on(&self, namespace: &str) -> bool {
        self.dc
            .get(&keys::ACTIVITY_ENABLE_STANDALONE, &Scope::namespace(namespace))
    }

    pub async fn start_activity_execution(
        &self,
        mut req: StartActivityExecutionRequest,
    ) -> Res<StartActivityExecutionResponse> {
        let namespace_id = self.standalone_ns(&req.namespace).await?;
        if req.request_id.is_empty() {
            req.request_id = uuid::Uuid::new_v4().to_string();
        }
        v::request_id(&req.request_id)?;
        v::task_queue(req.task_queue.as_ref())?;
        if req.activity_id.is_empty() {
            return Err(ServiceError::invalid("activityId is not set").into());
        }
        if req.activity_type.as_ref().is_none_or(|t| t.name.is_empty()) {
            return Err(ServiceError::invalid("activityType is not set").into());
        }
        v::retry_policy(req.retry_policy.as_ref())?;
        normalize_timeouts(&mut req)?;
        self.check_sizes(
            &req.namespace,
            &[
                ("activityId", &req.activity_id),
                (
                    "activityType",
                    req.activity_type.as_ref().map_or("", |t| t.name.as_str()),
                ),
                ("identity", &req.identity),
            ],
            &[req.input.as_ref()],
        )?;
        self.check_search_attributes(&req.namespace, req.search_attributes.as_ref())
            .await?;
        let activity_id = req.activity_id.clone();
        let mut resp: StartActivityExecutionResponse = on_activity!(
            self,
            &namespace_id,
            &activity_id,
            start_activity_execution,
            StartActivityExecutionRequest,
            req.clone()
        )?;
        resp.link = Some(sundial_api::temporal::common::v1::Link {
            variant: Some(sundial_api::temporal::common::v1::link::Variant::Activity(
                sundial_api::temporal::common::v1::link::Activity {
                    namespace: req.namespace.clone(),
                    activity_id,
                    run_id: resp.run_id.clone(),
                },
            )),
        });
        Ok(resp)
    }

    pub async fn describe_activity_execution(
        &self,
        req: DescribeActivityExecutionRequest,
    ) -> Res<DescribeActivityExecutionResponse> {
        super::activities::activity_id(&req.activity_id)?;
        if !req.long_poll_token.is_empty() && req.run_id.is_empty() {
            return Err(ServiceError::invalid("run id is required when long poll token is provided").into());
        }
        run_id(&req.run_id)?;
        let namespace_id = self.standalone_ns(&req.namespace).await?;
        let activity_id = req.activity_id.clone();
        on_activity!(
            self,
            &namespace_id,
            &activity_id,
            describe_activity_execution,
            DescribeActivityExecutionRequest,
            req
        )
    }

    pub async fn poll_activity_execution(
        &self,
        req: PollActivityExecutionRequest,
    ) -> Res<PollActivityExecutionResponse> {
        super::activities::activity_id(&req.activity_id)?;
        run_id(&req.run_id)?;
        let namespace_id = self.standalone_ns(&req.namespace).await?;
        let activity_id = req.activity_id.clone();
        on_activity!(
            self,
            &namespace_id,
            &activity_id,
            poll_activity_execution,
            PollActivityExecutionRequest,
            req
        )
    }

    pub async fn request_cancel_activity_execution(
        &self,
        mut req: RequestCancelActivityExecutionRequest,
    ) -> Res<RequestCancelActivityExecutionResponse> {
        super::activities::activity_id(&req.activity_id)?;
        run_id(&req.run_id)?;
        if req.request_id.is_empty() {
            req.request_id = uuid::Uuid::new_v4().to_string();
        }
        v::request_id(&req.request_id)?;
        let namespace_id = self.standalone_ns(&req.namespace).await?;
        let activity_id = req.activity_id.clone();
        on_activity!(
            self,
            &namespace_id,
            &activity_id,
            request_cancel_activity_execution,
            RequestCancelActivityExecutionRequest,
            req
        )
    }

    pub async fn terminate_activity_execution(
        &self,
        mut req: TerminateActivityExecutionRequest,
    ) -> Res<TerminateActivityExecutionResponse> {
        let namespace_id = self.standalone_ns(&req.namespace).await?;
        super::activities::activity_id(&req.activity_id)?;
        run_id(&req.run_id)?;
        if req.request_id.is_empty() {
            req.request_id = uuid::Uuid::new_v4().to_string();
        }
        v::request_id(&req.request_id)?;
        let activity_id = req.activity_id.clone();
        on_activity!(
            self,
            &namespace_id,
            &activity_id,
            terminate_activity_execution,
            TerminateActivityExecutionRequest,
            req
        )
    }

    pub async fn delete_activity_execution(
        &self,
        req: DeleteActivityExecutionRequest,
    ) -> Res<DeleteActivityExecutionResponse> {
        super::activities::activity_id(&req.activity_id)?;
        run_id(&req.run_id)?;
        let namespace_id = self.standalone_ns_in(&req.namespace, DELETING).await?;
        let activity_id = req.activity_id.clone();
        on_activity!(
            self,
            &namespace_id,
            &activity_id,
            delete_activity_execution,
            DeleteActivityExecutionRequest,
            req
        )
    }

    pub async fn list_activity_executions(
        &self,
        req: ListActivityExecutionsRequest,
    ) -> Res<ListActivityExecutionsResponse> {
        self.standalone_ns_in(&req.namespace, DELETING).await?;
        Ok(crate::visibility::list_activities(&self.registry, self.visibility.as_ref(), req).await?)
    }

    pub async fn count_activity_executions(
        &self,
        req: CountActivityExecutionsRequest,
    ) -> Res<CountActivityExecutionsResponse> {
        self.standalone_ns_in(&req.namespace, DELETING).await?;
        Ok(crate::visibility::count_activities(&self.registry, self.visibility.as_ref(), req).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: i64) -> Option<PbDuration> {
        Some(PbDuration { seconds: s, nanos: 0 })
    }

    #[test]
    fn timeouts_are_normalized_like_temporal() {
        let mut only_s2c = StartActivityExecutionRequest {
            schedule_to_close_timeout: secs(60),
            start_to_close_timeout: secs(90),
            heartbeat_timeout: secs(120),
            ..Default::default()
        };
        assert!(normalize_timeouts(&mut only_s2c).is_ok());
        assert_eq!(only_s2c.schedule_to_start_timeout, secs(60));
        assert_eq!(only_s2c.start_to_close_timeout, secs(60));
        assert_eq!(only_s2c.heartbeat_timeout, secs(60));
        let mut only_stc = StartActivityExecutionRequest {
            start_to_close_timeout: secs(5),
            ..Default::default()
        };
        assert!(normalize_timeouts(&mut only_stc).is_ok());
        assert_eq!(only_stc.schedule_to_close_timeout, secs(0));
        assert_eq!(only_stc.schedule_to_start_timeout, secs(0));
        assert_eq!(only_stc.heartbeat_timeout, secs(0));
        let mut none = StartActivityExecutionRequest::default();
        assert!(normalize_timeouts(&mut none).is_err());
        let mut bad = StartActivityExecutionRequest {
            start_to_close_timeout: secs(-1),
            ..Default::default()
        };
        assert!(normalize_timeouts(&mut bad).is_err());
    }
}
