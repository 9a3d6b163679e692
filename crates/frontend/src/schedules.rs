//! Schedules (`CreateSchedule` … `ListScheduleMatchingTimes`): validated here and kept in the
//! `schedules` table, where the system worker picks them up. Every change is a compare-and-set
//! on the row's version, so a user's update and the worker's progress never overwrite one
//! another; a change that needs the worker's attention sets the row's wake-up time to now.

use crate::registry::NamespaceRegistry;
use crate::validation as v;
use std::sync::Arc;
use sundial_api::sundial::persistence::v1::{BufferedStart, ScheduleProgress, ScheduleRecord};
use sundial_api::temporal::common::v1::SearchAttributes;
use sundial_api::temporal::enums::v1::ScheduleOverlapPolicy;
use sundial_api::temporal::schedule::v1::{
    Schedule, ScheduleInfo, ScheduleListEntry, ScheduleListInfo, SchedulePatch, ScheduleSpec, schedule_action,
};
use sundial_api::workflowservice::v1::*;
use sundial_common::ServiceError;
use sundial_common::time::now_nanos;
use sundial_persistence::{PersistenceError, ScheduleRow, ScheduleStore};
use sundial_schedule::proto::{described_spec, spec_to_pb, timestamp_from_nanos, timestamp_from_pb, timestamp_to_pb};
use sundial_schedule::scheduler;

mod query;

/// Longest schedule id (Temporal's `limit.maxIDLength` default).
const MAX_ID_LENGTH: usize = 1000;
/// ListSchedules page size when the request gives none, and its cap.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;
/// How many compare-and-set attempts a patch or update makes against a busy worker.
const CAS_ATTEMPTS: usize = 5;

#[derive(Clone)]
pub struct ScheduleHandler {
    registry: NamespaceRegistry,
    store: Arc<dyn ScheduleStore>,
}

/// How long Describe waits for the scheduler to act on a trigger or backfill, and how often it
/// looks.
const DESCRIBE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
const DESCRIBE_POLL: std::time::Duration = std::time::Duration::from_millis(25);

/// The scheduler owes the schedule a pass now, and a manual start (trigger, backfill) waits in
/// its buffer.
fn owes_manual_start(row: &ScheduleRow, now: i64) -> bool {
    row.next_wake <= now
        && row
            .record
            .progress
            .as_ref()
            .is_some_and(|p| p.buffered.iter().any(|b| b.manual))
}

fn not_found(schedule_id: &str) -> ServiceError {
    ServiceError::NotFound(format!("schedule \"{schedule_id}\" not found"))
}

fn conflict_token(version: i64) -> Vec<u8> {
    version.to_be_bytes().to_vec()
}

fn schedule_id(id: &str) -> Result<(), ServiceError> {
    if id.is_empty() {
        return Err(ServiceError::invalid("ScheduleId is not set on request."));
    }
    if id.len() > MAX_ID_LENGTH {
        return Err(ServiceError::invalid(format!(
            "ScheduleId exceeds maximum allowed length ({}/{MAX_ID_LENGTH})",
            id.len()
        )));
    }
    Ok(())
}

/// Checks a schedule and returns it with its spec in canonical form (calendars and cron
/// strings compiled into structured calendars), as Temporal stores and describes it.
fn checked_schedule(
    schedule: Option<Schedule>,
    namespace_id: &str,
    id: &str,
) -> Result<(Schedule, sundial_schedule::CompiledSpec), ServiceError> {
    let mut schedule = schedule.ok_or_else(|| ServiceError::invalid("Schedule is not set on request."))?;
    let spec = schedule.spec.clone().unwrap_or_default();
    let compiled = sundial_schedule::proto::compile(&spec, namespace_id, id)
        .map_err(|e| ServiceError::invalid(format!("Invalid schedule spec: {e}")))?;
    schedule.spec = Some(spec_to_pb(compiled.canonical()));
    let action = schedule
        .action
        .as_mut()
        .and_then(|a| a.action.as_mut())
        .ok_or_else(|| ServiceError::invalid("Schedule action is not set."))?;
    let schedule_action::Action::StartWorkflow(start) = action;
    v::workflow_id(&start.workflow_id)?;
    v::named(
        start.workflow_type.as_ref().map_or("", |t| t.name.as_str()),
        "WorkflowType",
    )?;
    v::task_queue(start.task_queue.as_ref())?;
    v::timeout(&mut start.workflow_execution_timeout, "WorkflowExecutionTimeout")?;
    v::timeout(&mut start.workflow_run_timeout, "WorkflowRunTimeout")?;
    v::timeout(&mut start.workflow_task_timeout, "WorkflowTaskTimeout")?;
    v::retry_policy(start.retry_policy.as_ref())?;
    if !start.cron_schedule.is_empty() {
        return Err(ServiceError::invalid(
            "A scheduled workflow cannot have a cron schedule.",
        ));
    }
    if let Some(policies) = schedule.policies.as_mut() {
        if ScheduleOverlapPolicy::try_from(policies.overlap_policy).is_err() {
            return Err(ServiceError::invalid("Unknown schedule overlap policy."));
        }
        sundial_common::time::validate_and_cap_opt(&mut policies.catchup_window)
            .map_err(|e| ServiceError::invalid(format!("Invalid catch-up window: {e}")))?;
    }
    if let Some(state) = schedule.state.as_ref()
        && state.limited_actions
        && state.remaining_actions < 0
    {
        return Err(ServiceError::invalid("RemainingActions cannot be negative."));
    }
    Ok((schedule, compiled))
}

/// Applies a patch: trigger, backfills, pause, unpause.
fn apply_patch(
    rec: &mut ScheduleRecord,
    patch: &SchedulePatch,
    spec: &sundial_schedule::CompiledSpec,
    now: i64,
) -> Result<(), ServiceError> {
    if let Some(trigger) = &patch.trigger_immediately {
        let at = trigger
            .scheduled_time
            .as_ref()
            .map_or(now, sundial_common::time::timestamp_to_nanos);
        // Whole seconds, as scheduled workflow ids carry them.
        let nominal = timestamp_to_pb(timestamp_from_nanos(
            at.div_euclid(1_000_000_000).saturating_mul(1_000_000_000),
        ));
        scheduler::buffer(
            rec,
            BufferedStart {
                nominal_time: Some(nominal),
                actual_time: Some(sundial_common::time::nanos_to_timestamp(now)),
                overlap_policy: trigger.overlap_policy,
                manual: true,
                others_asked_to_stop: false,
            },
        );
    }
    for backfill in &patch.backfill_request {
        let (Some(start), Some(end)) = (&backfill.start_time, &backfill.end_time) else {
            return Err(ServiceError::invalid("A backfill needs a start and an end time."));
        };
        let (start, end) = (timestamp_from_pb(start), timestamp_from_pb(end));
        if end < start {
            return Err(ServiceError::invalid("A backfill's end time is before its start time."));
        }
        // Temporal's backfill includes a time equal to its start.
        let from = start.checked_sub(jiff::SignedDuration::from_nanos(1)).unwrap_or(start);
        let mut cursor = from;
        while let Some(t) = spec.next_time(cursor) {
            if t.nominal > end {
                break;
            }
            cursor = t.next;
            scheduler::buffer(
                rec,
                BufferedStart {
                    nominal_time: Some(timestamp_to_pb(t.nominal)),
                    actual_time: Some(timestamp_to_pb(t.nominal)),
                    overlap_policy: backfill.overlap_policy,
                    manual: true,
                    others_asked_to_stop: false,
                },
            );
            if rec
                .progress
                .as_ref()
                .is_some_and(|p| p.buffered.len() >= scheduler::MAX_BUFFER)
            {
                break;
            }
        }
    }
    if !patch.pause.is_empty() || !patch.unpause.is_empty() {
        let state = rec
            .schedule
            .get_or_insert_with(Default::default)
            .state
            .get_or_insert_with(Default::default);
        if !patch.pause.is_empty() {
            state.paused = true;
            state.notes = patch.pause.clone();
        } else {
            state.paused = false;
            state.notes = patch.unpause.clone();
        }
    }
    Ok(())
}

impl ScheduleHandler {
    pub fn new(registry: NamespaceRegistry, store: Arc<dyn ScheduleStore>) -> Self {
        ScheduleHandler { registry, store }
    }

    async fn namespace(&self, name: &str) -> Result<Arc<sundial_persistence::NamespaceRecord>, ServiceError> {
        if name.is_empty() {
            return Err(ServiceError::invalid("Namespace not set on request."));
        }
        self.registry.by_name(name).await
    }

    fn check_attributes(
        ns: &sundial_persistence::NamespaceRecord,
        attrs: Option<&SearchAttributes>,
    ) -> Result<(), ServiceError> {
        crate::search_attributes::validate_search_attributes(&ns.detail, attrs)
    }

    pub async fn create(&self, req: CreateScheduleRequest) -> Result<CreateScheduleResponse, ServiceError> {
        let ns = self.namespace(&req.namespace).await?;
        schedule_id(&req.schedule_id)?;
        v::request_id(&req.request_id)?;
        let (schedule, spec) = checked_schedule(req.schedule, &ns.id, &req.schedule_id)?;
        Self::check_attributes(&ns, req.search_attributes.as_ref())?;
        if let Some(sundial_api::temporal::schedule::v1::schedule_action::Action::StartWorkflow(start)) =
            schedule.action.as_ref().and_then(|a| a.action.as_ref())
        {
            Self::check_attributes(&ns, start.search_attributes.as_ref())?;
        }
        let now = now_nanos();
        let mut rec = ScheduleRecord {
            schedule: Some(schedule),
            memo: req.memo,
            search_attributes: req.search_attributes,
            progress: Some(ScheduleProgress {
                // Times before the schedule existed are not caught up.
                processed_until: Some(sundial_common::time::nanos_to_timestamp(now)),
                ..Default::default()
            }),
            create_time: Some(sundial_common::time::nanos_to_timestamp(now)),
            update_time: Some(sundial_common::time::nanos_to_timestamp(now)),
            create_request_id: req.request_id.clone(),
        };
        if let Some(patch) = &req.initial_patch {
            apply_patch(&mut rec, patch, &spec, now)?;
        }
        let row = ScheduleRow {
            namespace_id: ns.id.clone(),
            schedule_id: req.schedule_id.clone(),
            version: 1,
            next_wake: now,
            record: rec,
        };
        match self.store.create_schedule(&row).await {
            Ok(()) => Ok(CreateScheduleResponse {
                conflict_token: conflict_token(1),
            }),
            Err(PersistenceError::AlreadyExists(_)) => {
                // A retried create (same request id) is answered as the first one was.
                match self.store.get_schedule(&ns.id, &req.schedule_id).await? {
                    Some(existing)
                        if !req.request_id.is_empty() && existing.record.create_request_id == req.request_id =>
                    {
                        Ok(CreateScheduleResponse {
                            conflict_token: conflict_token(existing.version),
                        })
                    }
                    _ => Err(ServiceError::WorkflowAlreadyStarted {
                        message: "Schedule with this ID is already registered.".into(),
                        start_request_id: req.request_id,
                        run_id: String::new(),
                    }),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn row(&self, namespace_id: &str, id: &str) -> Result<ScheduleRow, ServiceError> {
        schedule_id(id)?;
        self.store
            .get_schedule(namespace_id, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    pub async fn describe(&self, req: DescribeScheduleRequest) -> Result<DescribeScheduleResponse, ServiceError> {
        let ns = self.namespace(&req.namespace).await?;
        let mut row = self.row(&ns.id, &req.schedule_id).await?;
        // Temporal answers Describe after the scheduler handled what it was asked before (a
        // query waits for the pending workflow task): a trigger or backfill just made is
        // waited for, briefly, so the action it took shows.
        let deadline = tokio::time::Instant::now() + DESCRIBE_WAIT;
        while owes_manual_start(&row, now_nanos()) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(DESCRIBE_POLL).await;
            row = self.row(&ns.id, &req.schedule_id).await?;
        }
        let info = schedule_info(&row, &ns.id);
        let rec = row.record;
        let schedule = rec.schedule.map(|mut s| {
            s.spec = s.spec.as_ref().map(described_spec);
            // As Temporal since 1.24: the action's attributes come back typed, even those
            // given without a type.
            if let Some(schedule_action::Action::StartWorkflow(start)) =
                s.action.as_mut().and_then(|a| a.action.as_mut())
                && let Some(attrs) = start.search_attributes.as_mut()
            {
                *attrs = sundial_persistence::visibility::row_attributes(Some(&ns.detail), attrs).returned;
            }
            s
        });
        Ok(DescribeScheduleResponse {
            schedule,
            info: Some(info),
            memo: rec.memo,
            search_attributes: rec.search_attributes,
            conflict_token: conflict_token(row.version),
        })
    }

    /// Loads the row, applies `change`, and saves it with the worker woken; retried on a
    /// concurrent change.
    async fn modify(
        &self,
        namespace_id: &str,
        id: &str,
        mut change: impl FnMut(&mut ScheduleRow) -> Result<(), ServiceError>,
    ) -> Result<(), ServiceError> {
        for _ in 0..CAS_ATTEMPTS {
            let mut row = self.row(namespace_id, id).await?;
            change(&mut row)?;
            row.record.update_time = Some(sundial_common::time::now_timestamp());
            row.next_wake = now_nanos();
            match self.store.update_schedule(&row).await {
                Ok(()) => return Ok(()),
                Err(PersistenceError::ConditionFailed(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Unavailable(
            "the schedule is being changed concurrently; retry".into(),
        ))
    }

    pub async fn update(&self, req: UpdateScheduleRequest) -> Result<UpdateScheduleResponse, ServiceError> {
        let ns = self.namespace(&req.namespace).await?;
        let (schedule, _) = checked_schedule(req.schedule, &ns.id, &req.schedule_id)?;
        Self::check_attributes(&ns, req.search_attributes.as_ref())?;
        let token = req.conflict_token;
        let attrs = req.search_attributes;
        let memo = req.memo;
        self.modify(&ns.id, &req.schedule_id, |row| {
            if !token.is_empty() && token != conflict_token(row.version) {
                return Err(ServiceError::FailedPrecondition(
                    "mismatched conflict token: the schedule was changed since it was read".into(),
                ));
            }
            row.record.schedule = Some(schedule.clone());
            // Unset leaves them as they are; set replaces them whole.
            if let Some(attrs) = &attrs {
                row.record.search_attributes = Some(attrs.clone());
            }
            if let Some(memo) = &memo {
                row.record.memo = Some(memo.clone());
            }
            Ok(())
        })
        .await?;
        Ok(UpdateScheduleResponse {})
    }

    pub async fn patch(&self, req: PatchScheduleRequest) -> Result<PatchScheduleResponse, ServiceError> {
        let ns = self.namespace(&req.namespace).await?;
        let patch = req.patch.unwrap_or_default();
        let namespace_id = ns.id.clone();
        self.modify(&ns.id, &req.schedule_id, |row| {
            let spec = compiled(row, &namespace_id)?;
            apply_patch(&mut row.record, &patch, &spec, now_nanos())
        })
        .await?;
        Ok(PatchScheduleResponse {})
    }

    pub async fn delete(&self, req: DeleteScheduleRequest) -> Result<DeleteScheduleResponse, ServiceError> {
        let ns = self.namespace(&req.namespace).await?;
        schedule_id(&req.schedule_id)?;
        if !self.store.delete_schedule(&ns.id, &req.schedule_id).await? {
            return Err(not_found(&req.schedule_id));
        }
        Ok(DeleteScheduleResponse {})
    }

    pub async fn list(&self, req: ListSchedulesRequest) -> Result<ListSchedulesResponse, ServiceError> {
        let ns = self.namespace(&req.namespace).await?;
        let filter = query::Filter::parse(&req.query)?;
        let page = usize::try_from(req.maximum_page_size)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_PAGE)
            .min(MAX_PAGE);
        let mut after =
            String::from_utf8(req.next_page_token).map_err(|_| ServiceError::invalid("Invalid NextPageToken."))?;
        let mut schedules = Vec::new();
        // Filtered rows are skipped; scan on until the page is full or the rows run out.
        loop {
            let rows = self.store.list_schedules(&ns.id, &after, page).await?;
            let exhausted = rows.len() < page;
            for row in rows {
                after = row.schedule_id.clone();
                if filter.matches(&row, &ns.detail) {
                    schedules.push(list_entry(&row, &ns.id));
                    if schedules.len() == page {
                        break;
                    }
                }
            }
            if exhausted {
                return Ok(ListSchedulesResponse {
                    schedules,
                    next_page_token: Vec::new(),
                });
            }
            if schedules.len() == page {
                return Ok(ListSchedulesResponse {
                    schedules,
                    next_page_token: after.into_bytes(),
                });
            }
        }
    }

    /// CountSchedules: the namespace's schedules the query selects (the same filter as
    /// ListSchedules), counted by scanning them.
    pub async fn count(&self, req: CountSchedulesRequest) -> Result<CountSchedulesResponse, ServiceError> {
        let ns = self.namespace(&req.namespace).await?;
        let filter = query::Filter::parse(&req.query)?;
        let mut after = String::new();
        let mut count = 0i64;
        loop {
            let rows = self.store.list_schedules(&ns.id, &after, MAX_PAGE).await?;
            count += rows.iter().filter(|row| filter.matches(row, &ns.detail)).count() as i64;
            match rows.last() {
                Some(last) if rows.len() == MAX_PAGE => after = last.schedule_id.clone(),
                _ => break,
            }
        }
        Ok(CountSchedulesResponse {
            count,
            groups: Vec::new(),
        })
    }

    pub async fn list_matching_times(
        &self,
        req: ListScheduleMatchingTimesRequest,
    ) -> Result<ListScheduleMatchingTimesResponse, ServiceError> {
        let ns = self.namespace(&req.namespace).await?;
        let row = self.row(&ns.id, &req.schedule_id).await?;
        let (Some(start), Some(end)) = (&req.start_time, &req.end_time) else {
            return Err(ServiceError::invalid("StartTime and EndTime are required."));
        };
        let spec = compiled(&row, &ns.id)?;
        let times = spec.matching_times(timestamp_from_pb(start), timestamp_from_pb(end));
        Ok(ListScheduleMatchingTimesResponse {
            start_time: times.into_iter().map(timestamp_to_pb).collect(),
        })
    }
}

fn compiled(row: &ScheduleRow, namespace_id: &str) -> Result<sundial_schedule::CompiledSpec, ServiceError> {
    let spec = row
        .record
        .schedule
        .as_ref()
        .and_then(|s| s.spec.clone())
        .unwrap_or_default();
    sundial_schedule::proto::compile(&spec, namespace_id, &row.schedule_id)
        .map_err(|e| ServiceError::Internal(format!("stored schedule spec does not compile: {e}")))
}

fn future_times(row: &ScheduleRow, namespace_id: &str) -> Vec<prost_wkt_types::Timestamp> {
    let Ok(spec) = compiled(row, namespace_id) else {
        return Vec::new();
    };
    let now = timestamp_from_nanos(now_nanos());
    scheduler::future_action_times(&row.record, &spec, now, scheduler::FUTURE_ACTION_TIMES)
        .into_iter()
        .map(timestamp_to_pb)
        .collect()
}

fn schedule_info(row: &ScheduleRow, namespace_id: &str) -> ScheduleInfo {
    let p = row.record.progress.clone().unwrap_or_default();
    ScheduleInfo {
        action_count: p.action_count,
        missed_catchup_window: p.missed_catchup_window,
        overlap_skipped: p.overlap_skipped,
        buffer_dropped: p.buffer_dropped,
        buffer_size: i64::try_from(p.buffered.len()).unwrap_or(i64::MAX),
        running_workflows: p.running.clone(),
        recent_actions: p.recent_actions.clone(),
        future_action_times: future_times(row, namespace_id),
        create_time: row.record.create_time,
        update_time: row.record.update_time,
        ..Default::default()
    }
}

fn list_entry(row: &ScheduleRow, namespace_id: &str) -> ScheduleListEntry {
    let schedule = row.record.schedule.clone().unwrap_or_default();
    let workflow_type = schedule.action.as_ref().and_then(|a| a.action.as_ref()).and_then(|a| {
        let schedule_action::Action::StartWorkflow(w) = a;
        w.workflow_type.clone()
    });
    let state = schedule.state.clone().unwrap_or_default();
    let p = row.record.progress.clone().unwrap_or_default();
    let recent = p.recent_actions.iter().rev().take(5).rev().cloned().collect();
    let future: Vec<_> = future_times(row, namespace_id).into_iter().take(5).collect();
    ScheduleListEntry {
        schedule_id: row.schedule_id.clone(),
        memo: row.record.memo.clone(),
        search_attributes: row.record.search_attributes.clone(),
        info: Some(ScheduleListInfo {
            // As Temporal lists it: described, without the (large) time zone data.
            spec: schedule.spec.as_ref().map(spec_for_list),
            workflow_type,
            notes: state.notes,
            paused: state.paused,
            recent_actions: recent,
            future_action_times: future,
            ..Default::default()
        }),
    }
}

fn spec_for_list(spec: &ScheduleSpec) -> ScheduleSpec {
    let mut spec = described_spec(spec);
    spec.timezone_data = Vec::new();
    spec
}
