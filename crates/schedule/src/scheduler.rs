//! The scheduler's state machine over a stored `ScheduleRecord`: which nominal times have come
//! due, what the overlap policy does with them, and what the system worker must do next. No
//! I/O: the worker reports what it saw (a workflow closed, a start went through) and acts on
//! the steps returned, then saves the record.

use crate::CompiledSpec;
use crate::proto::{duration_from_pb, timestamp_from_pb, timestamp_nanos, timestamp_to_pb};
use jiff::{SignedDuration, Timestamp};
use sundial_api::sundial::persistence::v1::{BufferedStart, ScheduleProgress, ScheduleRecord};
use sundial_api::temporal::common::v1::WorkflowExecution;
use sundial_api::temporal::enums::v1::{ScheduleOverlapPolicy, WorkflowExecutionStatus};
use sundial_api::temporal::schedule::v1::ScheduleActionResult;

/// Temporal keeps this many recent actions.
pub const RECENT_ACTIONS: usize = 10;
/// Describe and list show this many future action times.
pub const FUTURE_ACTION_TIMES: usize = 10;
/// Temporal's default catch-up window, and its minimum.
pub const DEFAULT_CATCHUP_WINDOW: SignedDuration = SignedDuration::from_hours(365 * 24);
pub const MIN_CATCHUP_WINDOW: SignedDuration = SignedDuration::from_secs(10);
/// How often the worker looks at a schedule that has workflows running, to see them close.
pub const RUNNING_POLL: SignedDuration = SignedDuration::from_secs(2);
/// Started runs a schedule keeps track of at most. Only ALLOW_ALL can have more than a few
/// running at once, and it decides nothing by them; without a bound a 1-second schedule whose
/// runs never end would grow its stored record every second, forever.
pub const MAX_RUNNING: usize = 100;
/// Buffered starts a schedule holds at most (triggers and backfills beyond it are dropped).
pub const MAX_BUFFER: usize = 1000;
/// Nominal times considered in one pass at most (a long downtime with a 1-second spec).
const MAX_TIMES_PER_PASS: usize = 10_000;

/// A start the worker should make now.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedStart {
    pub nominal: Timestamp,
    pub actual: Timestamp,
    pub workflow_id: String,
    /// The same for every attempt at this start, so a retried start is recognised.
    pub request_id: String,
    pub manual: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Start(PlannedStart),
    /// Request cancellation of these before the next start (CANCEL_OTHER).
    Cancel(Vec<WorkflowExecution>),
    /// Terminate these before the next start (TERMINATE_OTHER).
    Terminate(Vec<WorkflowExecution>),
    /// Nothing to do until the next wake-up.
    Wait,
}

fn progress(rec: &mut ScheduleRecord) -> &mut ScheduleProgress {
    rec.progress.get_or_insert_with(Default::default)
}

pub fn policy_of(rec: &ScheduleRecord) -> ScheduleOverlapPolicy {
    let p = rec
        .schedule
        .as_ref()
        .and_then(|s| s.policies.as_ref())
        .map_or(0, |p| p.overlap_policy);
    match ScheduleOverlapPolicy::try_from(p) {
        Ok(ScheduleOverlapPolicy::Unspecified) | Err(_) => ScheduleOverlapPolicy::Skip,
        Ok(p) => p,
    }
}

pub fn is_paused(rec: &ScheduleRecord) -> bool {
    rec.schedule
        .as_ref()
        .and_then(|s| s.state.as_ref())
        .is_some_and(|s| s.paused)
}

fn catchup_window(rec: &ScheduleRecord) -> SignedDuration {
    rec.schedule
        .as_ref()
        .and_then(|s| s.policies.as_ref())
        .and_then(|p| p.catchup_window.as_ref())
        .map(duration_from_pb)
        .filter(|d| !d.is_zero())
        .map_or(DEFAULT_CATCHUP_WINDOW, |d| d.max(MIN_CATCHUP_WINDOW))
}

/// Whether the schedule ran out of its limited actions.
pub fn out_of_actions(rec: &ScheduleRecord) -> bool {
    rec.schedule
        .as_ref()
        .and_then(|s| s.state.as_ref())
        .is_some_and(|s| s.limited_actions && s.remaining_actions <= 0)
}

/// The workflow id of the start for `nominal`: the action's id and the nominal time in UTC,
/// whole seconds, RFC 3339 — the id Temporal gives scheduled runs.
pub fn workflow_id_for(base: &str, nominal: Timestamp) -> String {
    format!("{base}-{}", nominal.strftime("%Y-%m-%dT%H:%M:%SZ"))
}

/// The action's workflow id, and whether it is used as is (`keep_original_workflow_id`).
fn action_workflow_id(rec: &ScheduleRecord) -> (String, bool) {
    let keep = rec
        .schedule
        .as_ref()
        .and_then(|s| s.policies.as_ref())
        .is_some_and(|p| p.keep_original_workflow_id);
    rec.schedule
        .as_ref()
        .and_then(|s| s.action.as_ref())
        .and_then(|a| a.action.as_ref())
        .map(|sundial_api::temporal::schedule::v1::schedule_action::Action::StartWorkflow(w)| w.workflow_id.clone())
        .map_or((String::new(), keep), |id| (id, keep))
}

/// Buffers a start, honouring BUFFER_ONE (at most one start waits) and the buffer bound.
pub fn buffer(rec: &mut ScheduleRecord, start: BufferedStart) {
    let policy = match ScheduleOverlapPolicy::try_from(start.overlap_policy) {
        Ok(ScheduleOverlapPolicy::Unspecified) | Err(_) => policy_of(rec),
        Ok(p) => p,
    };
    let p = progress(rec);
    if policy == ScheduleOverlapPolicy::BufferOne && !p.buffered.is_empty() && !p.running.is_empty() {
        // One start already waits for the running workflow: this one is dropped.
        p.overlap_skipped += 1;
        return;
    }
    if p.buffered.len() >= MAX_BUFFER {
        p.buffer_dropped += 1;
        return;
    }
    p.buffered.push(start);
}

/// Considers every nominal time after `processed_until` up to `now`: each is buffered, or
/// counted as missed when it is older than the catch-up window. While paused or out of
/// actions, times pass unused.
pub fn catch_up(rec: &mut ScheduleRecord, spec: &CompiledSpec, now: Timestamp) {
    let window = catchup_window(rec);
    let mut cursor = progress(rec).processed_until.as_ref().map_or(now, timestamp_from_pb);
    let skip = is_paused(rec) || out_of_actions(rec);
    for _ in 0..MAX_TIMES_PER_PASS {
        let Some(t) = spec.next_time(cursor) else {
            cursor = now;
            break;
        };
        if t.next > now {
            break;
        }
        cursor = t.next;
        if skip {
            continue;
        }
        if now.duration_since(t.next) > window {
            progress(rec).missed_catchup_window += 1;
            continue;
        }
        buffer(
            rec,
            BufferedStart {
                nominal_time: Some(timestamp_to_pb(t.nominal)),
                actual_time: Some(timestamp_to_pb(t.next)),
                overlap_policy: 0,
                manual: false,
                others_asked_to_stop: false,
            },
        );
    }
    progress(rec).processed_until = Some(timestamp_to_pb(cursor));
}

/// The next thing to do with the buffered starts, given the workflows still running.
pub fn next_step(rec: &mut ScheduleRecord, schedule_key: &str) -> Step {
    loop {
        let default_policy = policy_of(rec);
        let (base, keep_id) = action_workflow_id(rec);
        let limited_out = out_of_actions(rec);
        let p = progress(rec);
        let Some(first) = p.buffered.first_mut() else {
            return Step::Wait;
        };
        if limited_out && !first.manual {
            p.buffered.remove(0);
            continue;
        }
        let policy = match ScheduleOverlapPolicy::try_from(first.overlap_policy) {
            Ok(ScheduleOverlapPolicy::Unspecified) | Err(_) => default_policy,
            Ok(p) => p,
        };
        let nominal = first
            .nominal_time
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, timestamp_from_pb);
        let actual = first.actual_time.as_ref().map_or(nominal, timestamp_from_pb);
        let planned = PlannedStart {
            nominal,
            actual,
            workflow_id: if keep_id {
                base.clone()
            } else {
                workflow_id_for(&base, nominal)
            },
            // Triggers within one second share a nominal time (and workflow id), not their
            // buffered actual times; a retried start reuses both, and history recognises it.
            request_id: format!(
                "{schedule_key}-{}-{}",
                timestamp_nanos(nominal),
                timestamp_nanos(actual)
            ),
            manual: first.manual,
        };
        if p.running.is_empty() || policy == ScheduleOverlapPolicy::AllowAll {
            return Step::Start(planned);
        }
        match policy {
            ScheduleOverlapPolicy::Skip => {
                p.buffered.remove(0);
                p.overlap_skipped += 1;
            }
            ScheduleOverlapPolicy::CancelOther | ScheduleOverlapPolicy::TerminateOther => {
                if first.others_asked_to_stop {
                    return Step::Wait;
                }
                first.others_asked_to_stop = true;
                let running = p.running.clone();
                return if policy == ScheduleOverlapPolicy::CancelOther {
                    Step::Cancel(running)
                } else {
                    Step::Terminate(running)
                };
            }
            // BUFFER_ONE and BUFFER_ALL wait for the running workflow to close.
            _ => return Step::Wait,
        }
    }
}

/// Records that the first buffered start went through as `run_id` at `now`.
pub fn started(rec: &mut ScheduleRecord, start: &PlannedStart, run_id: &str, now: Timestamp) {
    if let Some(state) = rec.schedule.as_mut().and_then(|s| s.state.as_mut())
        && state.limited_actions
        && !start.manual
    {
        state.remaining_actions = state.remaining_actions.saturating_sub(1).max(0);
    }
    let p = progress(rec);
    if !p.buffered.is_empty() {
        p.buffered.remove(0);
    }
    p.action_count += 1;
    let execution = WorkflowExecution {
        workflow_id: start.workflow_id.clone(),
        run_id: run_id.to_owned(),
    };
    p.recent_actions.push(ScheduleActionResult {
        schedule_time: Some(timestamp_to_pb(start.nominal)),
        actual_time: Some(timestamp_to_pb(now)),
        start_workflow_result: Some(execution.clone()),
        start_workflow_status: WorkflowExecutionStatus::Running as i32,
    });
    let excess = p.recent_actions.len().saturating_sub(RECENT_ACTIONS);
    p.recent_actions.drain(..excess);
    if !p.running.contains(&execution) {
        p.running.push(execution);
        let excess = p.running.len().saturating_sub(MAX_RUNNING);
        p.running.drain(..excess);
    }
}

/// A workflow this schedule started has closed with `status`. A failure or timeout pauses
/// the schedule when its policy says so.
pub fn closed(rec: &mut ScheduleRecord, execution: &WorkflowExecution, status: WorkflowExecutionStatus) {
    let p = progress(rec);
    p.running
        .retain(|e| !(e.workflow_id == execution.workflow_id && e.run_id == execution.run_id));
    for action in &mut p.recent_actions {
        if action.start_workflow_result.as_ref() == Some(execution) {
            action.start_workflow_status = status as i32;
        }
    }
    p.last_completion_status = status as i32;
    let failed = matches!(
        status,
        WorkflowExecutionStatus::Failed | WorkflowExecutionStatus::TimedOut
    );
    let pause_on_failure = rec
        .schedule
        .as_ref()
        .and_then(|s| s.policies.as_ref())
        .is_some_and(|p| p.pause_on_failure);
    if failed
        && pause_on_failure
        && let Some(schedule) = rec.schedule.as_mut()
    {
        let state = schedule.state.get_or_insert_with(Default::default);
        state.paused = true;
        state.notes = format!(
            "paused because workflow {} failed ({})",
            execution.workflow_id,
            status.as_str_name()
        );
    }
}

/// When the worker should look at the schedule again.
pub fn next_wake(rec: &ScheduleRecord, spec: &CompiledSpec, now: Timestamp) -> Timestamp {
    let p = rec.progress.clone().unwrap_or_default();
    if !p.buffered.is_empty() && p.running.is_empty() {
        return now;
    }
    let mut wake = Timestamp::MAX;
    if !p.running.is_empty() {
        wake = now.checked_add(RUNNING_POLL).unwrap_or(Timestamp::MAX);
    }
    if !is_paused(rec) && !out_of_actions(rec) {
        let after = p.processed_until.as_ref().map_or(now, timestamp_from_pb);
        if let Some(t) = spec.next_time(after) {
            wake = wake.min(t.next);
        }
    }
    wake
}

/// The next `n` action times after `now` (none when paused or out of actions).
pub fn future_action_times(rec: &ScheduleRecord, spec: &CompiledSpec, now: Timestamp, n: usize) -> Vec<Timestamp> {
    if out_of_actions(rec) {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(n);
    let mut cursor = now;
    let limit = rec
        .schedule
        .as_ref()
        .and_then(|s| s.state.as_ref())
        .filter(|s| s.limited_actions)
        .map_or(n, |s| usize::try_from(s.remaining_actions).unwrap_or(0).min(n));
    while out.len() < limit {
        match spec.next_time(cursor) {
            Some(t) => {
                out.push(t.next);
                cursor = t.next;
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::compile;
    use sundial_api::temporal::schedule::v1 as pb;
    use sundial_api::temporal::workflow::v1::NewWorkflowExecutionInfo;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid")
    }

    /// A schedule firing every 10 s, created at `created`.
    fn record(policy: ScheduleOverlapPolicy, created: i64) -> (ScheduleRecord, CompiledSpec) {
        let spec = pb::ScheduleSpec {
            interval: vec![pb::IntervalSpec {
                interval: Some(prost_wkt_types::Duration { seconds: 10, nanos: 0 }),
                phase: None,
            }],
            ..Default::default()
        };
        let compiled = compile(&spec, "ns", "s").expect("compiles");
        let rec = ScheduleRecord {
            schedule: Some(pb::Schedule {
                spec: Some(spec),
                action: Some(pb::ScheduleAction {
                    action: Some(pb::schedule_action::Action::StartWorkflow(NewWorkflowExecutionInfo {
                        workflow_id: "wf".into(),
                        ..Default::default()
                    })),
                }),
                policies: Some(pb::SchedulePolicies {
                    overlap_policy: policy as i32,
                    ..Default::default()
                }),
                state: None,
            }),
            progress: Some(ScheduleProgress {
                processed_until: Some(timestamp_to_pb(at(created))),
                ..Default::default()
            }),
            ..Default::default()
        };
        (rec, compiled)
    }

    fn start_all(rec: &mut ScheduleRecord, now: i64) -> Vec<String> {
        let mut ids = Vec::new();
        while let Step::Start(p) = next_step(rec, "key") {
            started(rec, &p, &format!("run-{}", ids.len()), at(now));
            ids.push(p.workflow_id);
        }
        ids
    }

    fn p(rec: &ScheduleRecord) -> ScheduleProgress {
        rec.progress.clone().unwrap_or_default()
    }

    #[test]
    fn due_times_start_with_the_nominal_time_in_the_workflow_id() {
        let (mut rec, spec) = record(ScheduleOverlapPolicy::AllowAll, 1_000);
        catch_up(&mut rec, &spec, at(1_025));
        assert_eq!(
            start_all(&mut rec, 1_025),
            ["wf-1970-01-01T00:16:50Z", "wf-1970-01-01T00:17:00Z"]
        );
        assert_eq!(p(&rec).action_count, 2);
        assert_eq!(p(&rec).running.len(), 2);
        assert_eq!(
            next_wake(&rec, &spec, at(1_025)),
            at(1_027),
            "running workflows are polled"
        );
        // Nothing is considered twice.
        catch_up(&mut rec, &spec, at(1_025));
        assert_eq!(next_step(&mut rec, "key"), Step::Wait);
    }

    #[test]
    fn skip_drops_a_start_while_one_runs_and_buffer_one_keeps_one() {
        let (mut rec, spec) = record(ScheduleOverlapPolicy::Skip, 1_000);
        catch_up(&mut rec, &spec, at(1_011));
        assert_eq!(start_all(&mut rec, 1_011).len(), 1);
        catch_up(&mut rec, &spec, at(1_041));
        assert_eq!(next_step(&mut rec, "key"), Step::Wait);
        assert_eq!(p(&rec).overlap_skipped, 3);

        let (mut rec, spec) = record(ScheduleOverlapPolicy::BufferOne, 1_000);
        catch_up(&mut rec, &spec, at(1_011));
        start_all(&mut rec, 1_011);
        catch_up(&mut rec, &spec, at(1_041));
        assert_eq!(p(&rec).buffered.len(), 1);
        assert_eq!(p(&rec).overlap_skipped, 2);
        let running = p(&rec).running[0].clone();
        closed(&mut rec, &running, WorkflowExecutionStatus::Completed);
        assert_eq!(start_all(&mut rec, 1_042), ["wf-1970-01-01T00:17:00Z"]);
        assert_eq!(
            p(&rec).recent_actions[0].start_workflow_status,
            WorkflowExecutionStatus::Completed as i32
        );
    }

    #[test]
    fn cancel_other_asks_once_then_waits_for_the_close() {
        let (mut rec, spec) = record(ScheduleOverlapPolicy::CancelOther, 1_000);
        catch_up(&mut rec, &spec, at(1_011));
        start_all(&mut rec, 1_011);
        catch_up(&mut rec, &spec, at(1_021));
        let Step::Cancel(targets) = next_step(&mut rec, "key") else {
            panic!("expected a cancel")
        };
        assert_eq!(targets.len(), 1);
        assert_eq!(next_step(&mut rec, "key"), Step::Wait, "asked once");
        closed(&mut rec, &targets[0], WorkflowExecutionStatus::Canceled);
        assert_eq!(start_all(&mut rec, 1_022), ["wf-1970-01-01T00:17:00Z"]);
    }

    #[test]
    fn catch_up_window_paused_and_limited_actions() {
        let (mut rec, spec) = record(ScheduleOverlapPolicy::AllowAll, 1_000);
        if let Some(pol) = rec.schedule.as_mut().and_then(|s| s.policies.as_mut()) {
            pol.catchup_window = Some(prost_wkt_types::Duration { seconds: 15, nanos: 0 });
        }
        // Down for a minute: only times within the last 15 s are made up.
        catch_up(&mut rec, &spec, at(1_060));
        assert_eq!(p(&rec).missed_catchup_window, 4);
        assert_eq!(start_all(&mut rec, 1_060).len(), 2);

        let (mut rec, spec) = record(ScheduleOverlapPolicy::AllowAll, 1_000);
        rec.schedule.as_mut().expect("schedule").state = Some(pb::ScheduleState {
            paused: true,
            ..Default::default()
        });
        catch_up(&mut rec, &spec, at(1_060));
        assert!(p(&rec).buffered.is_empty(), "a paused schedule lets times pass");
        assert_eq!(next_wake(&rec, &spec, at(1_060)), Timestamp::MAX);

        let (mut rec, spec) = record(ScheduleOverlapPolicy::AllowAll, 1_000);
        rec.schedule.as_mut().expect("schedule").state = Some(pb::ScheduleState {
            limited_actions: true,
            remaining_actions: 2,
            ..Default::default()
        });
        catch_up(&mut rec, &spec, at(1_060));
        assert_eq!(start_all(&mut rec, 1_060).len(), 2);
        assert!(out_of_actions(&rec));
        assert!(future_action_times(&rec, &spec, at(1_060), 10).is_empty());
    }

    #[test]
    fn pause_on_failure_pauses_with_a_note() {
        let (mut rec, spec) = record(ScheduleOverlapPolicy::AllowAll, 1_000);
        if let Some(pol) = rec.schedule.as_mut().and_then(|s| s.policies.as_mut()) {
            pol.pause_on_failure = true;
        }
        catch_up(&mut rec, &spec, at(1_011));
        start_all(&mut rec, 1_011);
        let running = p(&rec).running[0].clone();
        closed(&mut rec, &running, WorkflowExecutionStatus::Failed);
        assert!(is_paused(&rec));
        assert!(p(&rec).running.is_empty());
    }

    #[test]
    fn runs_tracked_are_bounded_to_the_newest() {
        let (mut rec, spec) = record(ScheduleOverlapPolicy::AllowAll, 0);
        catch_up(&mut rec, &spec, at(10 * (MAX_RUNNING as i64 + 20)));
        let ids = start_all(&mut rec, 0);
        let running = p(&rec).running;
        assert_eq!(running.len(), MAX_RUNNING);
        assert_eq!(running.last().map(|e| e.workflow_id.clone()), ids.last().cloned());
    }

    #[test]
    fn buffer_is_bounded_and_recent_actions_keep_the_last_ten() {
        let (mut rec, spec) = record(ScheduleOverlapPolicy::AllowAll, 0);
        catch_up(&mut rec, &spec, at(20_000));
        assert_eq!(p(&rec).buffered.len(), MAX_BUFFER);
        assert!(p(&rec).buffer_dropped > 0);
        start_all(&mut rec, 20_000);
        assert_eq!(p(&rec).recent_actions.len(), RECENT_ACTIONS);
    }
}
