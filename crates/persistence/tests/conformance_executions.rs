//! Conformance suite for workflow executions: creating, updating, continuing and deleting runs,
//! their event batches and outbox tasks, and shard fencing, on every backend (see `common`).

mod common;

use std::sync::Arc;
use sundial_api::sundial::persistence::v1::{
    ExecutionInfo, TimerTask, TransferTask, VisibilityTask, WorkflowMutableState,
};
use sundial_api::temporal::history::v1::{History, HistoryEvent};
use sundial_persistence::visibility::query::VisibilityQuery;
use sundial_persistence::*;

conformance!(
    create_writes_rows_history_and_tasks,
    brand_new_refuses_an_existing_workflow_id,
    replace_requires_the_named_previous_run,
    update_is_compare_and_set,
    update_sets_the_current_status,
    read_history_pages_and_prefers_newer_writes,
    stale_range_id_writes_nothing,
    continue_moves_the_current_run,
    continue_from_a_non_current_run_writes_nothing,
    delete_tasks_removes_exactly_those,
    delete_tasks_is_fenced,
    outbox_pages_resume_after_a_cursor,
    delete_execution_removes_the_run,
    group_commit_gives_each_transition_its_own_outcome,
    group_commit_is_fenced_as_a_whole,
);

const NS: &str = "ns-exec";
const SHARD: i32 = 1;
const OTHER_SHARD: i32 = 2;
/// The lease every test takes on its shards first.
const RANGE: i64 = 1;
const RUNNING: i32 = 1;
const COMPLETED: i32 = 2;

fn key(workflow_id: &str, run_id: &str) -> ExecutionKey {
    ExecutionKey {
        shard_id: SHARD,
        namespace_id: NS.into(),
        workflow_id: workflow_id.into(),
        run_id: run_id.into(),
    }
}

/// A mutable state told apart from others by `marker`.
fn state(marker: i64) -> WorkflowMutableState {
    let info = ExecutionInfo {
        state_transition_count: marker,
        ..Default::default()
    };
    WorkflowMutableState {
        info: Some(info),
        ..Default::default()
    }
}

fn current(run_id: &str, status: i32) -> CurrentExecution {
    CurrentExecution {
        run_id: run_id.into(),
        create_request_id: format!("req-{run_id}"),
        status,
        start_time: 42,
    }
}

/// Events `first..first + len`, each carrying `txn` so rewrites of a node can be told apart.
fn batch(first: i64, len: i64, txn: i64) -> HistoryBatch {
    let event = |event_id| HistoryEvent {
        event_id,
        task_id: txn,
        ..Default::default()
    };
    let events = (first..first + len).map(event).collect();
    HistoryBatch {
        first_event_id: first,
        txn_id: txn,
        history: History { events },
    }
}

fn transfer(task_id: i64) -> NewTask {
    let task = TransferTask {
        scheduled_event_id: task_id,
        ..Default::default()
    };
    NewTask::Transfer { task_id, task }
}

fn timer(fire_at: i64, task_id: i64) -> NewTask {
    let task = TimerTask {
        event_id: task_id,
        ..Default::default()
    };
    NewTask::Timer { fire_at, task_id, task }
}

fn visibility(task_id: i64) -> NewTask {
    let task = VisibilityTask {
        run_id: format!("vis-{task_id}"),
        ..Default::default()
    };
    NewTask::Visibility { task_id, task }
}

fn replace(previous_run_id: &str) -> CurrentCondition {
    let previous_run_id = previous_run_id.into();
    CurrentCondition::Replace { previous_run_id }
}

fn write<'a>(
    key: &'a ExecutionKey,
    state: &'a WorkflowMutableState,
    db_record_version: i64,
    history: Option<HistoryBatch>,
    tasks: Vec<NewTask>,
) -> ExecutionWrite<'a> {
    let next_event_id = history.as_ref().map_or(0, |b| b.first_event_id + 1);
    ExecutionWrite {
        key,
        state,
        next_event_id,
        db_record_version,
        history,
        tasks,
    }
}

/// Creates the shard if needed and moves its lease to `range_id`.
async fn own(store: &SqlStore, shard_id: i32, range_id: i64) {
    let shard = store.get_or_create_shard(shard_id).await.expect("get shard");
    let previous = shard.range_id;
    let record = ShardRecord { range_id, ..shard };
    store.update_shard(&record, previous).await.expect("take shard");
}

/// Creates a run at version 1 with `state(1)`, events 1-2 (txn 1) and `tasks`.
async fn try_start(store: &SqlStore, key: &ExecutionKey, cond: CurrentCondition, tasks: Vec<NewTask>) -> Result<()> {
    let s = state(1);
    let w = write(key, &s, 1, Some(batch(1, 2, 1)), tasks);
    let current = current(&key.run_id, RUNNING);
    store.create_execution(RANGE, w, cond, &current).await
}

async fn start(store: &SqlStore, key: &ExecutionKey, tasks: Vec<NewTask>) {
    let result = try_start(store, key, CurrentCondition::BrandNew, tasks).await;
    result.expect("create execution");
}

/// Owns `SHARD` and starts run-1 of `wf`, then run-2 replacing it as the current run.
async fn two_runs(store: &SqlStore) -> (ExecutionKey, ExecutionKey) {
    own(store, SHARD, RANGE).await;
    let (k1, k2) = (key("wf", "run-1"), key("wf", "run-2"));
    start(store, &k1, vec![]).await;
    try_start(store, &k2, replace("run-1"), vec![]).await.expect("replace");
    (k1, k2)
}

/// Updates a run to `version`, storing `state(version)`.
async fn update(
    store: &SqlStore,
    key: &ExecutionKey,
    version: i64,
    history: Option<HistoryBatch>,
    tasks: Vec<NewTask>,
    status: Option<i32>,
) -> Result<()> {
    let s = state(version);
    let w = write(key, &s, version, history, tasks);
    store.update_execution(RANGE, w, status).await
}

/// Continues `old` (to `version`, with `state(version)`, event 3 and task 100) into `new`
/// (version 1, `state(50)`, events 1-2 with txn 5, and `tasks`), which becomes current.
async fn continue_run(
    store: &SqlStore,
    range_id: i64,
    (old, version): (&ExecutionKey, i64),
    new: &ExecutionKey,
    tasks: Vec<NewTask>,
) -> Result<()> {
    let (old_state, new_state) = (state(version), state(50));
    let old_batch = Some(batch(3, 1, version));
    let old = write(old, &old_state, version, old_batch, vec![transfer(100)]);
    let new_write = write(new, &new_state, 1, Some(batch(1, 2, 5)), tasks);
    let current = current(&new.run_id, RUNNING);
    store.continue_execution(range_id, old, new_write, &current).await
}

/// Every outbox task of a shard (timers of any fire time): transfer, timer, visibility.
async fn outbox(store: &SqlStore, shard_id: i32) -> Vec<NewTask> {
    let all = (i64::MIN, i64::MAX);
    let transfer = store.load_transfer_tasks(shard_id, all, 100).await.expect("transfer");
    let visibility = store
        .load_visibility_tasks(shard_id, all, 100)
        .await
        .expect("visibility");
    let transfer_task = |(task_id, task)| NewTask::Transfer { task_id, task };
    let visibility_task = |(task_id, task)| NewTask::Visibility { task_id, task };
    let mut all: Vec<NewTask> = transfer.into_iter().map(transfer_task).collect();
    all.extend(timers(store, shard_id, i64::MAX, 100).await);
    all.extend(visibility.into_iter().map(visibility_task));
    all
}

/// Timer tasks of a shard due by `until`, as `load_timer_tasks` returns them.
async fn timers(store: &SqlStore, shard_id: i32, until: i64, limit: usize) -> Vec<NewTask> {
    let due = store
        .load_timer_tasks(shard_id, (i64::MIN, i64::MIN), until, limit)
        .await
        .expect("timers");
    let timer = |(fire_at, task_id, task)| NewTask::Timer { fire_at, task_id, task };
    due.into_iter().map(timer).collect()
}

/// Everything a write could have touched for a run: its row, its workflow id's current row,
/// its history and its shard's outbox.
#[derive(Debug, PartialEq)]
struct Snapshot {
    execution: Option<(i64, WorkflowMutableState)>,
    current: Option<CurrentExecution>,
    history: Vec<HistoryBatch>,
    outbox: Vec<NewTask>,
}

async fn snapshots(store: &SqlStore, keys: &[&ExecutionKey]) -> Vec<Snapshot> {
    let mut all = Vec::new();
    for key in keys {
        all.push(Snapshot {
            execution: stored(store, key).await,
            current: current_of(store, &key.workflow_id).await,
            history: history(store, &key.run_id).await,
            outbox: outbox(store, key.shard_id).await,
        });
    }
    all
}

async fn current_of(store: &SqlStore, workflow_id: &str) -> Option<CurrentExecution> {
    let current = store.get_current_execution(SHARD, NS, workflow_id).await;
    current.expect("get current")
}

async fn history(store: &SqlStore, run_id: &str) -> Vec<HistoryBatch> {
    store.read_history(SHARD, run_id, 1, 100).await.expect("read history")
}

/// The stored version and state of a run.
async fn stored(store: &SqlStore, key: &ExecutionKey) -> Option<(i64, WorkflowMutableState)> {
    let execution = store.get_execution(key).await.expect("get execution");
    execution.map(|e| (e.db_record_version, e.state))
}

/// Run ids with a visibility row, sorted.
async fn visible_runs(store: &SqlStore) -> Vec<String> {
    let page = store.list_visibility(NS, &VisibilityQuery::all(), 100, &[]).await;
    let mut runs: Vec<String> = page.expect("list").records.into_iter().map(|r| r.run_id).collect();
    runs.sort();
    runs
}

fn assert_condition_failed(result: Result<()>) {
    let failed = matches!(result, Err(PersistenceError::ConditionFailed(_)));
    assert!(failed, "expected ConditionFailed, got {result:?}");
}

fn assert_exists(result: Result<()>, existing: &CurrentExecution) {
    let expected: Result<()> = Err(PersistenceError::CurrentExecutionExists {
        run_id: existing.run_id.clone(),
        create_request_id: existing.create_request_id.clone(),
        status: existing.status,
        start_time: existing.start_time,
    });
    assert_eq!(format!("{result:?}"), format!("{expected:?}"));
}

async fn create_writes_rows_history_and_tasks(store: Arc<SqlStore>) {
    own(&store, SHARD, RANGE).await;
    let k = key("wf", "run-1");
    let [t300, t100, t200, late] = [timer(300, 2), timer(100, 3), timer(200, 4), timer(10_000, 5)];
    let timers_in = vec![t300.clone(), t100.clone(), t200.clone(), late.clone()];
    start(&store, &k, [vec![transfer(1), visibility(6)], timers_in].concat()).await;

    assert_eq!(stored(&store, &k).await, Some((1, state(1))));
    assert_eq!(current_of(&store, "wf").await, Some(current("run-1", RUNNING)));
    assert_eq!(history(&store, "run-1").await, vec![batch(1, 2, 1)]);
    let due = vec![t100.clone(), t200, t300];
    let all = [vec![transfer(1)], due.clone(), vec![late, visibility(6)]].concat();
    assert_eq!(outbox(&store, SHARD).await, all);
    assert_eq!(timers(&store, SHARD, 300, 10).await, due, "due, earliest first");
    assert_eq!(timers(&store, SHARD, 300, 1).await, [t100]);
    assert_eq!(timers(&store, SHARD, 99, 10).await, []);
    assert_eq!(outbox(&store, OTHER_SHARD).await, [], "tasks stay in their shard");
}

async fn brand_new_refuses_an_existing_workflow_id(store: Arc<SqlStore>) {
    own(&store, SHARD, RANGE).await;
    start(&store, &key("wf", "run-1"), vec![transfer(1)]).await;

    let second = key("wf", "run-2");
    let before = snapshots(&store, &[&second]).await;
    let tasks = vec![transfer(2), timer(5, 3), visibility(4)];
    let result = try_start(&store, &second, CurrentCondition::BrandNew, tasks).await;
    assert_exists(result, &current("run-1", RUNNING));
    assert_eq!(snapshots(&store, &[&second]).await, before, "run-2 left no trace");

    // The workflow id is per namespace: the same id elsewhere is brand new.
    let namespace_id = "ns-other".into();
    start(&store, &ExecutionKey { namespace_id, ..second }, vec![]).await;
    assert_eq!(current_of(&store, "wf").await, Some(current("run-1", RUNNING)));
}

async fn replace_requires_the_named_previous_run(store: Arc<SqlStore>) {
    let (k1, k2) = two_runs(&store).await;
    assert_eq!(current_of(&store, "wf").await, Some(current("run-2", RUNNING)));
    assert_eq!(stored(&store, &k2).await, Some((1, state(1))));
    assert_eq!(history(&store, "run-2").await, vec![batch(1, 2, 1)]);
    assert_eq!(stored(&store, &k1).await, Some((1, state(1))), "the old run stays");

    let k3 = key("wf", "run-3");
    let before = snapshots(&store, &[&k3]).await;
    let result = try_start(&store, &k3, replace("run-1"), vec![transfer(1)]).await;
    assert_exists(result, &current("run-2", RUNNING));
    assert_eq!(snapshots(&store, &[&k3]).await, before, "nothing of run-3 was written");

    // Without any current row there is nothing to replace.
    let result = try_start(&store, &key("wf-none", "run-1"), replace("run-0"), vec![]).await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(current_of(&store, "wf-none").await, None);
}

async fn update_is_compare_and_set(store: Arc<SqlStore>) {
    own(&store, SHARD, RANGE).await;
    let k = key("wf", "run-1");
    start(&store, &k, vec![]).await;
    let second = Some(batch(3, 1, 2));
    update(&store, &k, 2, second, vec![transfer(10)], None)
        .await
        .expect("v2");
    assert_eq!(stored(&store, &k).await, Some((2, state(2))));
    assert_eq!(history(&store, "run-1").await, vec![batch(1, 2, 1), batch(3, 1, 2)]);
    assert_eq!(outbox(&store, SHARD).await, vec![transfer(10)]);

    let before = snapshots(&store, &[&k]).await;
    for version in [2, 4] {
        let tasks = vec![transfer(11), timer(7, 12), visibility(13)];
        let result = update(&store, &k, version, Some(batch(4, 1, version)), tasks, Some(COMPLETED)).await;
        assert_condition_failed(result);
        assert_eq!(snapshots(&store, &[&k]).await, before, "version {version}");
    }

    let missing = key("wf", "run-missing");
    let result = update(&store, &missing, 2, Some(batch(1, 1, 2)), vec![transfer(11)], None).await;
    assert_condition_failed(result);
    assert_eq!(history(&store, "run-missing").await, []);
    assert_eq!(outbox(&store, SHARD).await, vec![transfer(10)]);
}

async fn update_sets_the_current_status(store: Arc<SqlStore>) {
    own(&store, SHARD, RANGE).await;
    let k = key("wf", "run-1");
    start(&store, &k, vec![]).await;

    update(&store, &k, 2, None, vec![], None).await.expect("update");
    assert_eq!(current_of(&store, "wf").await, Some(current("run-1", RUNNING)));
    assert_eq!(history(&store, "run-1").await, vec![batch(1, 2, 1)], "no batch");

    let closed = Some(COMPLETED);
    update(&store, &k, 3, None, vec![], closed).await.expect("close");
    assert_eq!(current_of(&store, "wf").await, Some(current("run-1", COMPLETED)));
}

async fn read_history_pages_and_prefers_newer_writes(store: Arc<SqlStore>) {
    own(&store, SHARD, RANGE).await;
    let k = key("wf", "run-1");
    start(&store, &k, vec![]).await;
    // Node 3 is written twice; the second write (higher txn_id) wins.
    for (v, b) in [(2, batch(3, 1, 2)), (3, batch(4, 2, 3)), (4, batch(3, 1, 4))] {
        update(&store, &k, v, Some(b), vec![], None).await.expect("update");
    }

    let (b1, b3, b4) = (batch(1, 2, 1), batch(3, 1, 4), batch(4, 2, 3));
    let cases = [
        ((1, 10), vec![b1.clone(), b3.clone(), b4.clone()]),
        ((3, 10), vec![b3.clone(), b4.clone()]),
        ((4, 10), vec![b4.clone()]),
        ((1, 2), vec![b1, b3.clone()]),
        ((3, 1), vec![b3]),
        ((4, 1), vec![b4]),
        ((6, 10), vec![]),
    ];
    for ((from, max), expected) in cases {
        let read = store.read_history(SHARD, "run-1", from, max).await.expect("read");
        assert_eq!(read, expected, "from event {from}, at most {max} batches");
    }
    assert_eq!(history(&store, "run-other").await, []);

    // However often a node was rewritten, a page still holds `max_batches` batches.
    for v in 5..=8 {
        update(&store, &k, v, Some(batch(3, 1, v)), vec![], None)
            .await
            .expect("rewrite");
    }
    let read = store.read_history(SHARD, "run-1", 3, 2).await.expect("read");
    assert_eq!(read, vec![batch(3, 1, 8), batch(4, 2, 3)]);
}

async fn stale_range_id_writes_nothing(store: Arc<SqlStore>) {
    own(&store, SHARD, RANGE).await;
    let (k1, k2, k3) = (key("wf", "run-1"), key("wf-2", "run-2"), key("wf", "run-3"));
    start(&store, &k1, vec![transfer(1)]).await;
    own(&store, SHARD, RANGE + 1).await; // another owner takes the shard

    let before = snapshots(&store, &[&k1, &k2, &k3]).await;
    let s = state(2);
    let tasks = || vec![transfer(2), timer(5, 3), visibility(4)];
    for range_id in [RANGE, RANGE + 2] {
        let fenced = |result: Result<()>| match result {
            Err(PersistenceError::ShardOwnershipLost {
                shard_id: SHARD,
                expected,
                actual: 2,
            }) => assert_eq!(expected, range_id),
            other => panic!("range_id {range_id} must be fenced, got {other:?}"),
        };
        let w = write(&k2, &s, 1, Some(batch(1, 1, 1)), tasks());
        let (brand_new, run2) = (CurrentCondition::BrandNew, current("run-2", RUNNING));
        fenced(store.create_execution(range_id, w, brand_new, &run2).await);
        let w = write(&k1, &s, 2, Some(batch(3, 1, 2)), tasks());
        fenced(store.update_execution(range_id, w, Some(COMPLETED)).await);
        fenced(continue_run(&store, range_id, (&k1, 2), &k3, tasks()).await);
    }
    let after = snapshots(&store, &[&k1, &k2, &k3]).await;
    assert_eq!(after, before, "fenced writes left no trace");

    // The new owner's lease works, so the failures above were the fence.
    let w = write(&k1, &s, 2, None, vec![]);
    store.update_execution(RANGE + 1, w, None).await.expect("new owner");
    let unowned = ExecutionKey { shard_id: 9, ..k2 };
    let result = try_start(&store, &unowned, CurrentCondition::BrandNew, vec![]).await;
    let fenced = matches!(result, Err(PersistenceError::ShardOwnershipLost { shard_id: 9, .. }));
    assert!(fenced, "a shard without a row fences every writer: {result:?}");
}

async fn continue_moves_the_current_run(store: Arc<SqlStore>) {
    own(&store, SHARD, RANGE).await;
    let (k1, k2) = (key("wf", "run-1"), key("wf", "run-2"));
    start(&store, &k1, vec![transfer(1)]).await;
    let tasks = vec![transfer(3), timer(50, 4), visibility(5)];
    continue_run(&store, RANGE, (&k1, 2), &k2, tasks)
        .await
        .expect("continue");

    assert_eq!(stored(&store, &k1).await, Some((2, state(2))));
    assert_eq!(stored(&store, &k2).await, Some((1, state(50))));
    assert_eq!(current_of(&store, "wf").await, Some(current("run-2", RUNNING)));
    assert_eq!(history(&store, "run-1").await, [batch(1, 2, 1), batch(3, 1, 2)]);
    assert_eq!(history(&store, "run-2").await, [batch(1, 2, 5)]);
    let expected = [transfer(1), transfer(3), transfer(100), timer(50, 4), visibility(5)];
    assert_eq!(outbox(&store, SHARD).await, expected);
}

async fn continue_from_a_non_current_run_writes_nothing(store: Arc<SqlStore>) {
    let (k1, k2) = two_runs(&store).await;
    let k3 = key("wf", "run-3");
    let before = snapshots(&store, &[&k1, &k2, &k3]).await;
    let tasks = || vec![transfer(2), timer(9, 3), visibility(4)];
    // run-1 is at version 1, so its own update would pass: only the current row is wrong.
    assert_condition_failed(continue_run(&store, RANGE, (&k1, 2), &k3, tasks()).await);
    assert_eq!(snapshots(&store, &[&k1, &k2, &k3]).await, before);
    // A stale version of the current run fails the same way.
    assert_condition_failed(continue_run(&store, RANGE, (&k2, 5), &k3, tasks()).await);
    assert_eq!(snapshots(&store, &[&k1, &k2, &k3]).await, before);
}

async fn outbox_pages_resume_after_a_cursor(store: Arc<SqlStore>) {
    own(&store, SHARD, RANGE).await;
    let k = key("wf", "run-1");
    let ties = [timer(100, 7), timer(100, 8), timer(100, 9), timer(200, 2)];
    let immediate = [transfer(3), transfer(4), transfer(5), visibility(10), visibility(11)];
    start(&store, &k, [immediate.to_vec(), ties.to_vec()].concat()).await;

    // Transfer and visibility: an open id range, a page at a time.
    fn ids<T>(page: Vec<(i64, T)>) -> Vec<i64> {
        page.into_iter().map(|(id, _)| id).collect()
    }
    assert_eq!(
        ids(store
            .load_transfer_tasks(SHARD, (i64::MIN, i64::MAX), 2)
            .await
            .expect("page")),
        [3, 4]
    );
    assert_eq!(
        ids(store.load_transfer_tasks(SHARD, (4, i64::MAX), 2).await.expect("page")),
        [5]
    );
    assert_eq!(
        ids(store.load_transfer_tasks(SHARD, (3, 5), 10).await.expect("page")),
        [4],
        "both ends open"
    );
    assert_eq!(
        ids(store
            .load_visibility_tasks(SHARD, (10, i64::MAX), 10)
            .await
            .expect("page")),
        [11]
    );

    // Timers: after a (fire time, id) cursor, so a page that ends inside a run of equal fire
    // times resumes within it.
    let keys = |page: Vec<(i64, i64, _)>| page.into_iter().map(|(at, id, _)| (at, id)).collect::<Vec<_>>();
    let first = keys(
        store
            .load_timer_tasks(SHARD, (i64::MIN, i64::MIN), i64::MAX, 2)
            .await
            .expect("page"),
    );
    assert_eq!(first, [(100, 7), (100, 8)]);
    let next = keys(
        store
            .load_timer_tasks(SHARD, (100, 8), i64::MAX, 2)
            .await
            .expect("page"),
    );
    assert_eq!(next, [(100, 9), (200, 2)]);
    assert_eq!(
        keys(store.load_timer_tasks(SHARD, (100, 9), 150, 10).await.expect("page")),
        [],
        "not due by 150"
    );
}

async fn delete_tasks_removes_exactly_those(store: Arc<SqlStore>) {
    own(&store, SHARD, RANGE).await;
    own(&store, OTHER_SHARD, RANGE).await;
    let (t4, t5) = (timer(100, 4), timer(200, 5));
    let tasks = vec![transfer(1), transfer(2), transfer(3), t4.clone(), t5.clone()];
    let k = key("wf", "run-1");
    start(&store, &k, [tasks, vec![visibility(6), visibility(7)]].concat()).await;
    let other_tasks = vec![transfer(1), t4, visibility(6)];
    let other = ExecutionKey {
        shard_id: OTHER_SHARD,
        ..k
    };
    start(&store, &other, other_tasks.clone()).await;

    let done = CompletedTasks {
        transfer: vec![1, 3, 99],
        // (999, 5) names task 5 with the wrong fire time: it is not that task.
        timer: vec![(100, 4), (999, 5)],
        visibility: vec![7, 98],
    };
    store.delete_tasks(SHARD, RANGE, &done).await.expect("delete");
    let left = vec![transfer(2), t5, visibility(6)];
    assert_eq!(outbox(&store, SHARD).await, left);
    assert_eq!(outbox(&store, OTHER_SHARD).await, other_tasks, "other shard");

    store.delete_tasks(SHARD, RANGE, &done).await.expect("delete again");
    let nothing = CompletedTasks::default();
    store
        .delete_tasks(SHARD, RANGE, &nothing)
        .await
        .expect("delete nothing");
    assert_eq!(outbox(&store, SHARD).await, left);
}

async fn delete_tasks_is_fenced(store: Arc<SqlStore>) {
    own(&store, SHARD, RANGE).await;
    let tasks = vec![transfer(1), timer(100, 2), visibility(3)];
    start(&store, &key("wf", "run-1"), tasks.clone()).await;
    own(&store, SHARD, RANGE + 1).await; // another owner takes the shard
    let done = CompletedTasks {
        transfer: vec![1],
        timer: vec![(100, 2)],
        visibility: vec![3],
    };
    match store.delete_tasks(SHARD, RANGE, &done).await {
        Err(PersistenceError::ShardOwnershipLost {
            shard_id: SHARD,
            expected: RANGE,
            actual,
        }) => assert_eq!(actual, RANGE + 1),
        other => panic!("a stale owner's delete must be fenced, got {other:?}"),
    }
    assert_eq!(outbox(&store, SHARD).await, tasks, "the fenced delete removed nothing");
    store
        .delete_tasks(SHARD, RANGE + 1, &done)
        .await
        .expect("the new owner deletes");
    assert_eq!(outbox(&store, SHARD).await, vec![]);
}

async fn delete_execution_removes_the_run(store: Arc<SqlStore>) {
    let (k1, k2) = two_runs(&store).await;
    let k3 = key("wf-other", "run-3");
    start(&store, &k3, vec![]).await;
    for k in [&k1, &k2, &k3] {
        let record = VisibilityRecord::new(NS, &k.workflow_id, &k.run_id, "type");
        store.upsert_visibility(&record).await.expect("upsert visibility");
    }

    store.delete_execution(&k1).await.expect("delete run-1");
    assert_eq!(stored(&store, &k1).await, None);
    assert_eq!(history(&store, "run-1").await, []);
    let run2 = Some(current("run-2", RUNNING));
    assert_eq!(current_of(&store, "wf").await, run2, "not run-1's pointer");
    assert_eq!(visible_runs(&store).await, ["run-2", "run-3"]);

    store.delete_execution(&k2).await.expect("delete run-2");
    assert_eq!(stored(&store, &k2).await, None);
    assert_eq!(history(&store, "run-2").await, []);
    assert_eq!(current_of(&store, "wf").await, None);
    assert_eq!(visible_runs(&store).await, ["run-3"]);

    assert_eq!(stored(&store, &k3).await, Some((1, state(1))), "other runs stay");
    assert_eq!(history(&store, "run-3").await, [batch(1, 2, 1)]);
    assert_eq!(current_of(&store, "wf-other").await, Some(current("run-3", RUNNING)));
    store.delete_execution(&k1).await.expect("deleting twice is harmless");
}

fn task_id(task: &NewTask) -> i64 {
    match task {
        NewTask::Transfer { task_id, .. } | NewTask::Timer { task_id, .. } | NewTask::Visibility { task_id, .. } => {
            *task_id
        }
    }
}

fn created(key: &ExecutionKey, tasks: Vec<NewTask>) -> Transition {
    let s = state(1);
    Transition::Create {
        write: write(key, &s, 1, Some(batch(1, 2, 1)), tasks).encode(),
        condition: CurrentCondition::BrandNew,
        current: current(&key.run_id, RUNNING),
    }
}

fn updated(key: &ExecutionKey, version: i64, tasks: Vec<NewTask>) -> Transition {
    let s = state(version);
    Transition::Update {
        write: write(key, &s, version, Some(batch(3, 1, version)), tasks).encode(),
        current_status: None,
    }
}

async fn group_commit_gives_each_transition_its_own_outcome(store: Arc<SqlStore>) {
    own(&store, SHARD, RANGE).await;
    let (a, b, c, a2) = (key("a", "a-1"), key("b", "b-1"), key("c", "c-1"), key("a", "a-2"));
    start(&store, &b, vec![]).await;
    start(&store, &c, vec![]).await;
    let batch = [
        created(&a, vec![transfer(10)]),
        updated(&b, 5, vec![transfer(11)]), // stale: b is at version 1
        created(&a2, vec![transfer(12)]),   // a was created just before, in the same batch
        updated(&c, 2, vec![timer(7, 13)]),
        updated(&b, 2, vec![visibility(14)]),
    ];
    let outcomes = store.commit_transitions(RANGE, &batch).await;
    assert_eq!(outcomes.len(), 5);
    assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
    assert!(
        matches!(outcomes[1], Err(PersistenceError::ConditionFailed(_))),
        "{:?}",
        outcomes[1]
    );
    match &outcomes[2] {
        Err(PersistenceError::CurrentExecutionExists { run_id, .. }) => assert_eq!(run_id, "a-1"),
        other => panic!("expected the run created earlier in the batch, got {other:?}"),
    }
    assert!(outcomes[3].is_ok() && outcomes[4].is_ok(), "{outcomes:?}");

    assert_eq!(current_of(&store, "a").await.map(|c| c.run_id), Some("a-1".into()));
    assert_eq!(stored(&store, &a2).await, None);
    assert_eq!(stored(&store, &b).await.map(|(v, _)| v), Some(2));
    assert_eq!(stored(&store, &c).await.map(|(v, _)| v), Some(2));
    let ids: Vec<i64> = outbox(&store, SHARD).await.iter().map(task_id).collect();
    assert_eq!(ids, vec![10, 13, 14], "only the applied transitions' tasks");
    assert_eq!(store.commit_transitions(RANGE, &[]).await.len(), 0);
}

async fn group_commit_is_fenced_as_a_whole(store: Arc<SqlStore>) {
    own(&store, SHARD, RANGE).await;
    let (a, b) = (key("a", "a-1"), key("b", "b-1"));
    start(&store, &b, vec![]).await;
    own(&store, SHARD, RANGE + 1).await;
    let before = snapshots(&store, &[&a, &b]).await;
    let outcomes = store
        .commit_transitions(RANGE, &[created(&a, vec![transfer(10)]), updated(&b, 2, vec![])])
        .await;
    for outcome in &outcomes {
        assert!(
            matches!(
                outcome,
                Err(PersistenceError::ShardOwnershipLost { expected: RANGE, .. })
            ),
            "{outcome:?}"
        );
    }
    assert_eq!(snapshots(&store, &[&a, &b]).await, before);

    // Transitions of two shards are refused together.
    let other = ExecutionKey {
        shard_id: OTHER_SHARD,
        ..key("o", "o-1")
    };
    let mixed = store
        .commit_transitions(RANGE + 1, &[created(&a, vec![]), created(&other, vec![])])
        .await;
    assert!(mixed.iter().all(Result::is_err), "{mixed:?}");
    assert_eq!(stored(&store, &a).await, None);
}
