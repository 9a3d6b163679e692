//! Property tests of what the frontend checks before a request goes anywhere: task tokens,
//! executions, start and signal requests with hostile lengths, durations, retry policies,
//! cron schedules, task queue (partition) names, search attribute payloads and the gRPC
//! deadline. The answer is `Ok` or `INVALID_ARGUMENT` with a message, never a panic.
//! Fixed budgets and seed.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use prost_wkt_types::Duration as PbDuration;
use sundial_api::sundial::persistence::v1::NamespaceDetail;
use sundial_api::temporal::common::v1::{Payload, RetryPolicy, SearchAttributes};
use sundial_api::temporal::taskqueue::v1::TaskQueue;

pub(crate) fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5d1a_1f22),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Strings of hostile lengths (around the 1000-byte limits) and contents.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        ".{0,12}",
        (990..1010usize).prop_map(|n| "x".repeat(n)),
        (330..340usize).prop_map(|n| "é€".repeat(n / 2)),
        (0..5000usize).prop_map(|n| "y".repeat(n)),
        Just("/_sys/".to_owned()),
        "/_sys/[a-z/]{0,6}/[0-9+-]{0,4}",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ]
}

fn duration() -> impl Strategy<Value = Option<PbDuration>> {
    prop::option::of(
        (
            prop_oneof![any::<i64>(), Just(i64::MAX), Just(i64::MIN), Just(0), 0..100i64],
            prop_oneof![
                any::<i32>(),
                Just(i32::MAX),
                Just(i32::MIN),
                Just(1_000_000_000),
                0..1_000_000_000i32
            ],
        )
            .prop_map(|(seconds, nanos)| PbDuration { seconds, nanos }),
    )
}

fn retry_policy() -> impl Strategy<Value = Option<RetryPolicy>> {
    prop::option::of(
        (
            duration(),
            prop_oneof![
                any::<f64>(),
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(-0.0),
                Just(0.5),
                Just(2.0)
            ],
            duration(),
            any::<i32>(),
            prop::collection::vec(text(), 0..3),
        )
            .prop_map(
                |(initial_interval, backoff_coefficient, maximum_interval, maximum_attempts, types)| RetryPolicy {
                    initial_interval,
                    backoff_coefficient,
                    maximum_interval,
                    maximum_attempts,
                    non_retryable_error_types: types,
                },
            ),
    )
}

/// Cron schedules: valid ones, hostile ones, and garbage.
fn cron() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("*".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| format!("{a}-{b}")),
        (0..100u32).prop_map(|n| format!("*/{n}")),
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(a, b, c)| format!("{a}-{b}/{c}")),
        Just("?".to_owned()),
        Just("L".to_owned()),
        Just("MON-FRI".to_owned()),
        Just("JAN,DEC".to_owned()),
        "[0-9,*/-]{0,6}",
    ];
    prop_oneof![
        Just(String::new()),
        prop::collection::vec(field, 0..8).prop_map(|fs| fs.join(" ")),
        prop::sample::select(vec![
            "@every 0s",
            "@every -1s",
            "@every 99999999999999h",
            "@every 1",
            "@hourly",
            "@daily",
            "@yearly",
            "@reboot",
            "@",
            "CRON_TZ=Nowhere/Nothing * * * * *",
            "TZ= * * * * *",
            "0 0 31 2 *",
        ])
        .prop_map(str::to_owned),
        (any::<u64>(), prop::sample::select(vec!["s", "m", "h", "ms", "", "x"]))
            .prop_map(|(n, u)| format!("@every {n}{u}")),
        ".{0,24}",
    ]
}

fn task_queue() -> impl Strategy<Value = Option<TaskQueue>> {
    prop::option::of((text(), any::<i32>()).prop_map(|(name, kind)| TaskQueue {
        name,
        kind,
        normal_name: String::new(),
    }))
}

prop_compose! {
    fn start_request()(
        workflow_id in text(),
        workflow_type in prop::option::of(text()),
        task_queue in task_queue(),
        timeouts in (duration(), duration(), duration(), duration()),
        retry_policy in retry_policy(),
        cron_schedule in cron(),
        request_id in text(),
        policies in (any::<i32>(), any::<i32>()),
    ) -> StartWorkflowExecutionRequest {
        StartWorkflowExecutionRequest {
            namespace: "ns".into(),
            workflow_id,
            workflow_type: workflow_type.map(|name| WorkflowType { name }),
            task_queue,
            workflow_execution_timeout: timeouts.0,
            workflow_run_timeout: timeouts.1,
            workflow_task_timeout: timeouts.2,
            workflow_start_delay: timeouts.3,
            retry_policy,
            cron_schedule,
            request_id,
            workflow_id_reuse_policy: policies.0,
            workflow_id_conflict_policy: policies.1,
            ..Default::default()
        }
    }
}

/// The checks `ExecutionHandler::start` makes before it calls history (the namespace and
/// search attribute lookups aside), on a copy.
fn check_start(req: &StartWorkflowExecutionRequest) -> Result<(), ServiceError> {
    super::check_start(&mut req.clone())
}

/// Cron schedules that used to panic in `sundial_common::cron`, found by
/// `start_requests_validate_cleanly`: now refused or accepted cleanly.
#[test]
fn former_cron_panics_are_clean() {
    for spec in ["@every 99999999999999999999h", "1/4294967295 * * * *"] {
        let _ = v::cron_schedule(spec);
    }
    assert!(v::cron_schedule("@every 99999999999999999999h").is_err());
}

fn clean(r: Result<(), ServiceError>) -> Result<(), TestCaseError> {
    match r {
        Ok(()) => Ok(()),
        Err(ServiceError::InvalidArgument(m)) => {
            prop_assert!(!m.is_empty());
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!("not INVALID_ARGUMENT: {other:?}"))),
    }
}

fn token_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = (
        text(),
        text(),
        text(),
        any::<i64>(),
        any::<i64>(),
        any::<i32>(),
        text(),
        any::<i64>(),
    )
        .prop_map(
            |(namespace_id, workflow_id, run_id, scheduled, started, attempt, activity_id, stamp)| {
                TaskToken {
                    namespace_id,
                    workflow_id,
                    run_id,
                    scheduled_event_id: scheduled,
                    started_event_id: started,
                    attempt,
                    activity_id,
                    workflow_task_stamp: stamp,
                    ..Default::default()
                }
                .encode_to_vec()
            },
        )
        .boxed();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..96),
        token.clone(),
        (token, any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut b, i, x)| {
            if !b.is_empty() {
                let i = i.index(b.len());
                b[i] ^= x | 1;
                b.truncate(i + 1 + usize::from(x % 4));
            }
            b
        }),
    ]
}

fn payload() -> impl Strategy<Value = Payload> {
    let data = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..32),
        prop::sample::select(vec![
            "\"a\"",
            "[\"a\",\"b\"]",
            "7",
            "1e999",
            "-0",
            "99999999999999999999",
            "2.5",
            "true",
            "null",
            "[]",
            "[[1]]",
            "{\"a\":1}",
            "\"2024-01-01T00:00:00Z\"",
            "\"99999-01-01T00:00:00Z\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\u00e9\"",
            "[",
            "\"",
            "\"\\",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        (1..200usize).prop_map(|n| format!("{}1{}", "[".repeat(n), "]".repeat(n)).into_bytes()),
        ".{0,16}".prop_map(String::into_bytes),
    ];
    (
        data,
        prop::option::of(prop::sample::select(vec!["json/plain", "binary/null", ""])),
        prop::option::of(prop::sample::select(vec![
            "Keyword",
            "Int",
            "Double",
            "Bool",
            "Datetime",
            "Text",
            "KeywordList",
            "",
            "Bogus",
        ])),
    )
        .prop_map(|(data, encoding, ty)| {
            let mut p = Payload {
                data,
                ..Default::default()
            };
            if let Some(e) = encoding {
                p.metadata.insert("encoding".into(), e.as_bytes().to_vec());
            }
            if let Some(t) = ty {
                p.metadata.insert("type".into(), t.as_bytes().to_vec());
            }
            p
        })
}

fn namespace_detail() -> NamespaceDetail {
    use sundial_api::temporal::enums::v1::IndexedValueType as T;
    let attrs = [
        ("Kw", T::Keyword, "Keyword01"),
        ("Int", T::Int, "Int01"),
        ("Dbl", T::Double, "Double01"),
        ("Flag", T::Bool, "Bool01"),
        ("When", T::Datetime, "Datetime01"),
        ("Txt", T::Text, "Text01"),
        ("List", T::KeywordList, "KeywordList01"),
    ];
    NamespaceDetail {
        search_attributes: attrs.iter().map(|(n, t, _)| ((*n).to_owned(), *t as i32)).collect(),
        search_attribute_columns: attrs
            .iter()
            .map(|(n, _, c)| ((*n).to_owned(), (*c).to_owned()))
            .collect(),
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(config(3000))]

    /// Task tokens as workers send them: garbage, tokens with hostile fields, damaged ones.
    #[test]
    fn task_tokens_decode_or_fail_cleanly(bytes in token_bytes()) {
        match decode_token(&bytes) {
            Ok(t) => prop_assert!(!t.workflow_id.is_empty()),
            Err(ServiceError::InvalidArgument(m)) => prop_assert!(
                m == "Error deserializing task token." || m == "Task token not set on request.",
                "{m}"
            ),
            Err(other) => prop_assert!(false, "{other:?}"),
        }
    }

    /// StartWorkflowExecution (and its cron, retry, timeout and id checks).
    #[test]
    fn start_requests_validate_cleanly(req in start_request()) {
        clean(check_start(&req))?;
    }

    /// Executions, partition names, signal names and search attribute values.
    #[test]
    fn other_request_fields_validate_cleanly(
        workflow_id in text(),
        run_id in text(),
        tq in task_queue(),
        name in text(),
        fields in prop::collection::hash_map(
            prop::sample::select(vec!["Kw", "Int", "Dbl", "Flag", "When", "Txt", "List",
                "TemporalChangeVersion", "BuildIds", "WorkflowId", "", "Nope"]).prop_map(str::to_owned),
            payload(),
            0..4,
        ),
    ) {
        let exec = WorkflowExecution { workflow_id, run_id };
        clean(execution(Some(&exec)).map(|_| ()))?;
        clean(v::task_queue_partition(tq.as_ref()))?;
        clean(v::named(&name, "SignalName"))?;
        let attrs = SearchAttributes { indexed_fields: fields };
        clean(crate::search_attributes::validate_search_attributes(&namespace_detail(), Some(&attrs)))?;
    }
}

proptest! {
    #![proptest_config(config(2000))]

    /// The gRPC deadline header, as any visible-ASCII text: a wait, never a panic.
    #[test]
    fn grpc_timeouts_never_panic(value in prop_oneof![
        "[ -~]{0,24}",
        (any::<u64>(), "[HMSmun]").prop_map(|(n, u)| format!("{n}{u}")),
    ]) {
        let mut md = tonic::metadata::MetadataMap::new();
        if let Ok(v) = value.parse() {
            md.insert("grpc-timeout", v);
        }
        let _ = caller_wait(&md);
    }
}
