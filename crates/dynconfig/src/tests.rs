use super::*;
use serde_json::json;
use std::time::Instant;

const SEED: &str = r#"
workflow.workflowTaskTimeout:
  - value: "10s"
    constraints:
      namespace: "order-service"
workflow.defaultActivityRetryPolicy:
  - value:
      initialIntervalInSeconds: 1
      maximumIntervalInSeconds: 100
      maximumAttempts: 3
      backoffCoefficient: 2.0
    constraints:
      namespace: "order-service"
limit.maxTaskQueuePollers:
  - value: 10
    constraints:
      namespace: "order-service"
      taskQueueName: "order-service-task-queue"
"#;

#[test]
fn seed_example() {
    let dc = DynamicConfig::from_yaml_str(SEED).expect("seed parses");
    let ns = Scope::namespace("order-service");
    assert_eq!(dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &ns), Duration::from_secs(10));
    let p = dc.get(&keys::DEFAULT_ACTIVITY_RETRY_POLICY, &ns);
    assert_eq!(p.maximum_attempts, 3);
    assert_eq!(p.maximum_interval, Some(Duration::from_secs(100)));
    let other = Scope::namespace("billing");
    assert_eq!(
        dc.get(&keys::DEFAULT_ACTIVITY_RETRY_POLICY, &other),
        RetryPolicy::DEFAULT
    );
    let tq = Scope::task_queue("order-service", "order-service-task-queue", TaskType::Activity);
    assert_eq!(dc.get(&keys::MAX_TASK_QUEUE_POLLERS, &tq), 10);
    let other_tq = Scope::task_queue("order-service", "x", TaskType::Activity);
    assert_eq!(dc.get(&keys::MAX_TASK_QUEUE_POLLERS, &other_tq), 0);
    // A namespace-only scope does not match a {namespace, taskQueueName} entry.
    assert_eq!(dc.get(&keys::MAX_TASK_QUEUE_POLLERS, &ns), 0);
}

#[test]
fn shipped_files_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for name in ["dynamicconfig/docker.yaml", "dynamicconfig/development-sql.yaml"] {
        let diags = validate_file(&root.join(name)).expect("readable");
        let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    let text = std::fs::read_to_string(root.join("dynamicconfig/docker.yaml")).expect("docker.yaml");
    let dc = DynamicConfig::from_yaml_str(&text).expect("docker.yaml loads");
    let ns = Scope::namespace("order-service");
    assert_eq!(dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &ns), Duration::from_secs(10));
    assert!(!dc.get(&keys::ENABLE_STICKY_QUERY, &ns));
    assert!(dc.get(&keys::VISIBILITY_DISABLE_ORDER_BY_CLAUSE, &ns));
    assert_eq!(dc.get(&keys::MUTABLE_STATE_SIZE_LIMIT_ERROR, &ns), 10 * 1024 * 1024);
    let from_defaults = dc
        .effective(&ns)
        .into_iter()
        .filter(|e| e.source == Source::File)
        .count();
    assert_eq!(from_defaults, 7, "the seven namespace keys apply to order-service");
    let tq = Scope::task_queue("order-service", "order-service-task-queue", TaskType::Workflow);
    let from_file = dc
        .effective(&tq)
        .into_iter()
        .filter(|e| e.source == Source::File)
        .count();
    assert_eq!(from_file, 8, "all eight apply to its task queue");
}

#[test]
fn most_specific_constraint_set_wins() {
    let dc = DynamicConfig::from_yaml_str(
        r#"
matching.longPollExpirationInterval:
  - value: 1s
  - value: 2s
    constraints: {namespace: ns}
  - value: 3s
    constraints: {taskQueueName: tq}
  - value: 4s
    constraints: {namespace: ns, taskQueueName: tq}
  - value: 5s
    constraints: {namespace: ns, taskQueueName: tq, taskType: Activity}
"#,
    )
    .expect("parse");
    let get = |ns, tq, tt| {
        dc.get(
            &keys::MATCHING_LONG_POLL_EXPIRATION_INTERVAL,
            &Scope::task_queue(ns, tq, tt),
        )
        .as_secs()
    };
    assert_eq!(get("ns", "tq", TaskType::Activity), 5);
    assert_eq!(get("ns", "tq", TaskType::Workflow), 4);
    assert_eq!(get("other", "tq", TaskType::Workflow), 3);
    assert_eq!(get("ns", "q2", TaskType::Workflow), 2);
    assert_eq!(get("other", "q2", TaskType::Workflow), 1);
    assert_eq!(
        dc.get(&keys::MATCHING_LONG_POLL_EXPIRATION_INTERVAL, &Scope::global()),
        Duration::from_secs(1)
    );

    let by_id = DynamicConfig::from_yaml_str(
        "limit.blobSize.error:\n  - value: 1\n    constraints: {namespaceID: id-1}\n  - value: 2\n",
    )
    .expect("parse");
    let scope = Scope::namespace("n").with_namespace_id("id-1");
    assert_eq!(by_id.get(&keys::BLOB_SIZE_LIMIT_ERROR, &scope), 1);
    assert_eq!(by_id.get(&keys::BLOB_SIZE_LIMIT_ERROR, &Scope::namespace("n")), 2);
}

#[test]
fn keys_and_constraint_names_are_case_insensitive() {
    let dc = DynamicConfig::from_yaml_str(
        "WORKFLOW.WORKFLOWTASKTIMEOUT:\n  - Value: 30m\n    Constraints: {NameSpace: a}\nSystem.EnableStickyQuery:\n  - value: \"false\"\n",
    )
    .expect("parse");
    assert_eq!(
        dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &Scope::namespace("a")),
        Duration::from_secs(1800)
    );
    // Namespace names themselves are case-sensitive.
    assert_eq!(
        dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &Scope::namespace("A")),
        Duration::from_secs(10)
    );
    assert!(!dc.get(&keys::ENABLE_STICKY_QUERY, &Scope::namespace("x")));
}

#[test]
fn aliases_seed_name_wins_ties_and_units_scale() {
    let dc = DynamicConfig::from_yaml_str(
        r#"
history.defaultWorkflowTaskTimeout:
  - value: 20s
  - value: 25s
    constraints: {namespace: b}
workflow.workflowTaskTimeout:
  - value: 15s
limit.mutableStateSize.error:
  - value: 1000
history.maximumMutableStateSize:
  - value: 2
    constraints: {namespace: big}
  - value: 3
"#,
    )
    .expect("parse");
    // Equal constraint sets: the seed's name wins.
    assert_eq!(
        dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &Scope::namespace("a")),
        Duration::from_secs(15)
    );
    // A more specific entry wins whatever name it is under.
    assert_eq!(
        dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &Scope::namespace("b")),
        Duration::from_secs(25)
    );
    assert_eq!(
        dc.get(&keys::MUTABLE_STATE_SIZE_LIMIT_ERROR, &Scope::namespace("big")),
        2 * 1024 * 1024
    );
    assert_eq!(
        dc.get(&keys::MUTABLE_STATE_SIZE_LIMIT_ERROR, &Scope::namespace("x")),
        3 * 1024 * 1024
    );
    let view = dc.effective(&Scope::namespace("x"));
    let ms = view
        .iter()
        .find(|e| e.key == "limit.mutableStateSize.error")
        .expect("listed");
    assert_eq!(ms.value, json!(3 * 1024 * 1024));
    assert_eq!(ms.written_as, Some("history.maximumMutableStateSize"));
}

#[test]
fn overrides_replace_file_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dc.yaml");
    std::fs::write(&path, SEED).expect("write");
    let values = vec![
        parse_cli_value("workflow.workflowTaskTimeout=\"45s\"").expect("kv"),
        parse_cli_value("limit.maxIDLength=255").expect("kv"),
        parse_cli_value("worker.enableStickyQuery=false").expect("kv"),
        parse_cli_value("workflow.workflowRunTimeout=1h").expect("kv (not JSON: a string)"),
    ];
    let (dc, handle) = DynamicConfig::from_file_with_values(&path, Duration::from_secs(3600), values).expect("load");
    let ns = Scope::namespace("order-service");
    assert_eq!(dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &ns), Duration::from_secs(45));
    assert_eq!(dc.get(&keys::MAX_ID_LENGTH, &Scope::global()), 255);
    assert_eq!(dc.get(&keys::WORKFLOW_RUN_TIMEOUT, &ns), Duration::from_secs(3600));
    assert_eq!(dc.get(&keys::DEFAULT_ACTIVITY_RETRY_POLICY, &ns).maximum_attempts, 3);
    let view = dc.effective(&ns);
    let source = |k: &str| view.iter().find(|e| e.key == k).map(|e| e.source).expect("key");
    assert_eq!(source("workflow.workflowTaskTimeout"), Source::Override);
    assert_eq!(source("workflow.defaultActivityRetryPolicy"), Source::File);
    assert_eq!(source("frontend.namespaceRPS"), Source::Default);
    let table = render_effective_table(&view);
    assert!(
        table.contains("workflow.workflowTaskTimeout") && table.contains("\"45s\""),
        "{table}"
    );
    handle.stop();

    let err = DynamicConfig::from_values(vec![("limit.maxIdLenght".into(), json!(5))]).expect_err("typo");
    assert!(err.to_string().contains("did you mean \"limit.maxIDLength\""), "{err}");
    assert!(DynamicConfig::from_values(vec![("limit.maxIDLength".into(), json!("x"))]).is_err());
    assert!(parse_cli_value("novalue").is_err());
    let constrained = DynamicConfig::from_values(vec![(
        "workflow.workflowTaskTimeout".into(),
        json!([{"value": "5s", "constraints": {"namespace": "a"}}]),
    )])
    .expect("list form");
    assert_eq!(
        constrained.get(&keys::WORKFLOW_TASK_TIMEOUT, &Scope::namespace("a")),
        Duration::from_secs(5)
    );
    assert_eq!(
        DynamicConfig::default().get(&keys::FRONTEND_NAMESPACE_RPS, &Scope::global()),
        2400
    );
}

#[test]
fn unusable_constraints_are_ignored_on_load() {
    let dc = DynamicConfig::from_yaml_str(
        "limit.maxIDLength:\n  - value: 5\n    constraints: {namespace: a}\nworker.enableStickyQuery:\n  - value: false\n    constraints: {taskQueueName: q}\n",
    )
    .expect("warnings only");
    assert_eq!(dc.get(&keys::MAX_ID_LENGTH, &Scope::namespace("a")), 1000);
    assert!(dc.get(
        &keys::ENABLE_STICKY_QUERY,
        &Scope::task_queue("a", "q", TaskType::Workflow)
    ));
    let diags = validate_str("limit.maxIDLength:\n  - value: 5\n    constraints: {namespace: a}\n");
    assert!(
        diags.iter().any(|d| d.is_error() && d.message.contains("global")),
        "{diags:?}"
    );
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

/// Replaces the file in one step, so the 50 ms poller never reads it half-written (an empty
/// file, caught between truncate and write, is a valid config of all defaults).
fn write_whole(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[test]
fn hot_reload_and_bad_file_keeps_previous() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dc.yaml");
    write_whole(&path, "workflow.workflowTaskTimeout:\n  - value: 10s\n").expect("write");
    let (dc, handle) = DynamicConfig::from_file(&path, Duration::from_millis(50)).expect("load");
    let ns = Scope::namespace("n");
    assert_eq!(dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &ns), Duration::from_secs(10));
    let gen1 = dc.generation();

    write_whole(
        &path,
        "workflow.workflowTaskTimeout:\n  - value: 20s\n    constraints: {namespace: n}\n",
    )
    .expect("rewrite");
    wait_until("reload", || {
        dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &ns) == Duration::from_secs(20)
    });
    assert!(dc.generation() > gen1);

    // Broken: YAML error, then a bad value. Both keep the 20 s config.
    write_whole(&path, "workflow.workflowTaskTimeout: [\n").expect("broken");
    let err = dc.reload_from_disk().expect_err("broken YAML");
    assert!(err.to_string().contains("line"), "{err}");
    write_whole(&path, "workflow.workflowTaskTimeout:\n  - value: 20 parsecs\n").expect("bad value");
    let err = dc.reload_from_disk().expect_err("bad value");
    assert!(
        err.to_string().contains("line 1") && err.to_string().contains("invalid duration"),
        "{err}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &ns), Duration::from_secs(20));

    // Fixed file: picked up by the poller.
    write_whole(&path, "workflow.workflowTaskTimeout:\n  - value: 1m\n").expect("fixed");
    wait_until("reload after fix", || {
        dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &ns) == Duration::from_secs(60)
    });
    // Deleted file: previous config stays.
    std::fs::remove_file(&path).expect("rm");
    assert!(dc.reload_if_changed().is_err());
    assert_eq!(dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &ns), Duration::from_secs(60));
    handle.stop();
}

#[test]
fn poller_ends_when_config_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dc.yaml");
    std::fs::write(&path, "").expect("write");
    let (dc, handle) = DynamicConfig::from_file(&path, Duration::from_millis(10)).expect("load");
    drop(dc);
    // stop() joins; it must not hang whether the thread already ended or not.
    handle.stop();
}

#[test]
fn start_fails_on_invalid_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dc.yaml");
    std::fs::write(&path, "limit.maxTaskQueuePollers:\n  - value: lots\n").expect("write");
    let err = DynamicConfig::from_file(&path, DEFAULT_POLL_INTERVAL).expect_err("invalid");
    assert!(err.to_string().contains("limit.maxTaskQueuePollers"), "{err}");
    assert!(DynamicConfig::from_file(dir.path().join("missing.yaml"), DEFAULT_POLL_INTERVAL).is_err());
}

#[test]
fn get_does_not_allocate_strings_per_call() {
    // Not a real allocation counter (unsafe is forbidden): checks the read path works with
    // borrowed scopes only, many times, and stays fast enough for a debug build.
    let dc = DynamicConfig::from_yaml_str(SEED).expect("seed");
    let ns = String::from("order-service");
    let start = Instant::now();
    let mut total = Duration::ZERO;
    for _ in 0..10_000 {
        total += dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &Scope::namespace(&ns));
    }
    assert_eq!(total, Duration::from_secs(100_000));
    assert!(start.elapsed() < Duration::from_secs(2));
}
