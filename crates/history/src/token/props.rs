//! Property tests of task tokens: any bytes a worker sends as a token decode to a token or to
//! `INVALID_ARGUMENT`; a decoded token with hostile fields (negative or huge event ids and
//! attempts, empty or odd strings) finds its task only when it names it exactly, and is
//! otherwise `NOT_FOUND`. Fixed budgets and seed.

use super::*;
use crate::mutation::Mutation;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use sundial_api::sundial::persistence::v1::{ActivityInfo, ExecutionInfo, WorkflowMutableState, WorkflowTaskInfo};
use sundial_api::temporal::enums::v1::WorkflowExecutionStatus;

pub(crate) fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5d1a_1f22),
        failure_persistence: None,
        ..Config::default()
    }
}

fn hostile_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(0),
        Just(-1),
        Just(i64::MIN),
        Just(i64::MAX),
        1..20i64
    ]
}

fn hostile_i32() -> impl Strategy<Value = i32> {
    prop_oneof![any::<i32>(), Just(0), Just(-1), Just(i32::MIN), Just(i32::MAX), 1..4i32]
}

fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        ".{0,16}",
        "[a-z0-9-]{1,8}",
        (0..20_000usize).prop_map(|n| "x".repeat(n)),
        Just("\u{0}\u{202e}é|".to_owned()),
    ]
}

prop_compose! {
    fn hostile_token()(
        namespace_id in hostile_string(),
        workflow_id in hostile_string(),
        run_id in hostile_string(),
        scheduled_event_id in hostile_i64(),
        started_event_id in hostile_i64(),
        attempt in hostile_i32(),
        activity_id in hostile_string(),
        activity_type in hostile_string(),
        query_task_id in hostile_string(),
        task_queue in hostile_string(),
        workflow_task_stamp in hostile_i64(),
        nexus_task_id in hostile_string(),
    ) -> TaskToken {
        TaskToken {
            namespace_id,
            workflow_id,
            run_id,
            scheduled_event_id,
            started_event_id,
            attempt,
            activity_id,
            activity_type,
            query_task_id,
            task_queue,
            workflow_task_stamp,
            nexus_task_id,
        }
    }
}

/// Encoded tokens, damaged: truncated, bytes flipped, garbage appended.
fn damaged_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        hostile_token(),
        any::<prop::sample::Index>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..8),
        0..3u8,
    )
        .prop_map(|(t, at, b, tail, how)| {
            let mut bytes = encode(&t);
            match how {
                0 if !bytes.is_empty() => bytes.truncate(at.index(bytes.len())),
                1 if !bytes.is_empty() => {
                    let i = at.index(bytes.len());
                    bytes[i] ^= b | 1;
                }
                _ => bytes.extend(tail),
            }
            bytes
        })
}

fn is_clean_decode_error(e: &ServiceError) -> bool {
    matches!(e, ServiceError::InvalidArgument(m)
        if m == "Error deserializing task token." || m == "Task token not set on request.")
}

prop_compose! {
    /// A run's state: running or not, with or without a started workflow task, and a few
    /// activities, started or not.
    fn state()(
        running in any::<bool>(),
        wt in prop::option::of((1..50i64, 0..50i64, hostile_i64(), 1..5i32)),
        activities in prop::collection::vec((1..50i64, "[a-c]{1,2}", 1..4i32, any::<bool>()), 0..5),
    ) -> WorkflowMutableState {
        WorkflowMutableState {
            info: Some(ExecutionInfo {
                status: if running {
                    WorkflowExecutionStatus::Running
                } else {
                    WorkflowExecutionStatus::Completed
                } as i32,
                ..Default::default()
            }),
            workflow_task: wt.map(|(scheduled_event_id, started_event_id, stamp, attempt)| WorkflowTaskInfo {
                scheduled_event_id,
                started_event_id,
                stamp,
                attempt,
                ..Default::default()
            }),
            activities: activities
                .into_iter()
                .map(|(scheduled_event_id, activity_id, attempt, started)| {
                    (scheduled_event_id, ActivityInfo {
                        scheduled_event_id,
                        activity_id,
                        attempt,
                        started_time: started.then(Default::default),
                        ..Default::default()
                    })
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// A token aimed at `ms`: one of its tasks, with some fields replaced by hostile values.
fn aimed_token(ms: &WorkflowMutableState) -> impl Strategy<Value = TaskToken> + use<> {
    let wt = ms.workflow_task.clone().unwrap_or_default();
    let acts: Vec<ActivityInfo> = ms.activities.values().cloned().collect();
    let act = prop::sample::select(if acts.is_empty() {
        vec![ActivityInfo::default()]
    } else {
        acts
    });
    (
        act,
        any::<bool>(),
        hostile_token(),
        prop::collection::vec(any::<bool>(), 5),
    )
        .prop_map(move |(act, by_activity, hostile, keep)| {
            let mut t = TaskToken {
                namespace_id: "ns".into(),
                workflow_id: "wf".into(),
                run_id: "run".into(),
                ..Default::default()
            };
            if by_activity {
                t.scheduled_event_id = act.scheduled_event_id;
                t.attempt = act.attempt;
                t.activity_id = act.activity_id.clone();
            } else {
                t.scheduled_event_id = wt.scheduled_event_id;
                t.started_event_id = wt.started_event_id;
                t.workflow_task_stamp = wt.stamp;
            }
            if !keep[0] {
                t.scheduled_event_id = hostile.scheduled_event_id;
            }
            if !keep[1] {
                t.started_event_id = hostile.started_event_id;
            }
            if !keep[2] {
                t.attempt = hostile.attempt;
            }
            if !keep[3] {
                t.activity_id = hostile.activity_id;
            }
            if !keep[4] {
                t.workflow_task_stamp = hostile.workflow_task_stamp;
            }
            t
        })
}

proptest! {
    #![proptest_config(config(3000))]

    /// Any bytes: a token naming a run, or `INVALID_ARGUMENT`.
    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..128),
        damaged_bytes(),
    ]) {
        match decode(&bytes) {
            Ok(t) => prop_assert!(!t.workflow_id.is_empty() && !t.run_id.is_empty()),
            Err(e) => prop_assert!(is_clean_decode_error(&e), "{e:?}"),
        }
    }

    /// Tokens with hostile fields survive encoding unchanged, or are refused when they name no
    /// run.
    #[test]
    fn hostile_tokens_round_trip(t in hostile_token()) {
        match decode(&encode(&t)) {
            Ok(back) => prop_assert_eq!(back, t),
            Err(e) => {
                prop_assert!(is_clean_decode_error(&e), "{e:?}");
                prop_assert!(t.workflow_id.is_empty() || t.run_id.is_empty());
            }
        }
    }

    /// What history does with a decoded token: the workflow task or activity it names exactly,
    /// or `NOT_FOUND`; never a panic, never another task.
    #[test]
    fn decoded_tokens_find_only_their_task(
        (ms, tok) in state().prop_flat_map(|ms| { let t = aimed_token(&ms); (Just(ms), t) }),
    ) {
        let tok = decode(&encode(&tok)).expect("names a run");
        let mut ms = ms;
        let running = ms.info.as_ref().is_some_and(|i| i.status == WorkflowExecutionStatus::Running as i32);
        let m = Mutation::new(&mut ms, 0, sundial_dynconfig::DynamicConfig::default());
        match crate::workflow_task::check_token(&m, &tok) {
            Ok(wt) => {
                prop_assert!(running);
                prop_assert_eq!(wt.scheduled_event_id, tok.scheduled_event_id);
                prop_assert_eq!(wt.started_event_id, tok.started_event_id);
                prop_assert!(wt.started_event_id != 0);
                prop_assert!(tok.workflow_task_stamp == 0 || tok.workflow_task_stamp == wt.stamp);
            }
            Err(e) => prop_assert!(matches!(e, ServiceError::NotFound(_)), "{e:?}"),
        }
        match crate::activity::find(&m, &tok) {
            Ok(act) => {
                prop_assert!(running);
                prop_assert!(act.started_time.is_some());
                if tok.scheduled_event_id == 0 {
                    prop_assert_eq!(&act.activity_id, &tok.activity_id);
                } else {
                    prop_assert_eq!(act.scheduled_event_id, tok.scheduled_event_id);
                    prop_assert_eq!(act.attempt, tok.attempt);
                }
            }
            Err(e) => prop_assert!(matches!(e, ServiceError::NotFound(_)), "{e:?}"),
        }
    }
}
