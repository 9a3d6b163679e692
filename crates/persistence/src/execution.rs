//! Workflow executions: the traits and types history uses to persist one state transition
//! (mutable state + event batch + outbox tasks) atomically, and to read them back.

use crate::Result;
use async_trait::async_trait;
use sundial_api::sundial::persistence::v1::{TimerTask, TransferTask, VisibilityTask, WorkflowMutableState};
use sundial_api::temporal::history::v1::History;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExecutionKey {
    pub shard_id: i32,
    pub namespace_id: String,
    pub workflow_id: String,
    pub run_id: String,
}

/// The `current_executions` row: which run of a workflow id is the latest.
#[derive(Clone, Debug, PartialEq)]
pub struct CurrentExecution {
    pub run_id: String,
    pub create_request_id: String,
    /// `WorkflowExecutionStatus`; RUNNING (1) while open.
    pub status: i32,
    pub start_time: i64,
}

/// A stored mutable state and the version that guards its next update.
#[derive(Clone, Debug)]
pub struct StoredExecution {
    pub db_record_version: i64,
    pub state: WorkflowMutableState,
}

/// One batch of events, written by one transition.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryBatch {
    /// Event id of the first event in the batch (the `node_id`).
    pub first_event_id: i64,
    /// Increases with every write of the run; newer wins if a node is written twice.
    pub txn_id: i64,
    pub history: History,
}

/// An outbox task written in the same transaction as the state that produced it.
#[derive(Clone, Debug, PartialEq)]
pub enum NewTask {
    Transfer {
        task_id: i64,
        task: TransferTask,
    },
    Timer {
        fire_at: i64,
        task_id: i64,
        task: TimerTask,
    },
    Visibility {
        task_id: i64,
        task: VisibilityTask,
    },
}

/// What a transition writes for one run.
#[derive(Clone, Debug)]
pub struct ExecutionWrite<'a> {
    pub key: &'a ExecutionKey,
    pub state: &'a WorkflowMutableState,
    pub next_event_id: i64,
    /// The version this write stores (previous + 1; 1 for a new run).
    pub db_record_version: i64,
    pub history: Option<HistoryBatch>,
    pub tasks: Vec<NewTask>,
}

impl ExecutionWrite<'_> {
    /// The owned form, with the mutable state encoded once.
    pub fn encode(self) -> EncodedWrite {
        EncodedWrite {
            key: self.key.clone(),
            state: sundial_api::prost::Message::encode_to_vec(self.state),
            next_event_id: self.next_event_id,
            db_record_version: self.db_record_version,
            history: self.history,
            tasks: self.tasks,
        }
    }
}

/// A run's write with its mutable state already encoded: owned, so it can wait in a
/// group-commit queue.
#[derive(Clone, Debug)]
pub struct EncodedWrite {
    pub key: ExecutionKey,
    /// The encoded `WorkflowMutableState`.
    pub state: Vec<u8>,
    pub next_event_id: i64,
    pub db_record_version: i64,
    pub history: Option<HistoryBatch>,
    pub tasks: Vec<NewTask>,
}

/// One state transition of a shard, as `commit_transitions` takes them.
#[derive(Clone, Debug)]
pub enum Transition {
    /// As `create_execution`.
    Create {
        write: EncodedWrite,
        condition: CurrentCondition,
        current: CurrentExecution,
    },
    /// As `update_execution`.
    Update {
        write: EncodedWrite,
        current_status: Option<i32>,
    },
    /// As `continue_execution`.
    Continue {
        old: EncodedWrite,
        new: EncodedWrite,
        current: CurrentExecution,
    },
}

impl Transition {
    pub fn shard_id(&self) -> i32 {
        match self {
            Transition::Create { write, .. } | Transition::Update { write, .. } => write.key.shard_id,
            Transition::Continue { old, .. } => old.key.shard_id,
        }
    }
}

/// How creating a run treats the workflow id's current run.
#[derive(Clone, Debug, PartialEq)]
pub enum CurrentCondition {
    /// No current row may exist.
    BrandNew,
    /// The current row must point at this (closed) run; it is replaced.
    Replace { previous_run_id: String },
}

#[async_trait]
pub trait ExecutionStore: Send + Sync {
    /// Creates a run: shard fence, current-row condition, execution row, first event batch and
    /// tasks, in one transaction. `CurrentExecutionExists` when the condition fails.
    async fn create_execution(
        &self,
        range_id: i64,
        write: ExecutionWrite<'_>,
        condition: CurrentCondition,
        current: &CurrentExecution,
    ) -> Result<()>;

    /// Updates a run: shard fence, compare-and-set on `db_record_version` (expects
    /// `write.db_record_version - 1`), event batch, tasks; and the current row's status if
    /// `current_status` is given. `ConditionFailed` when another writer got there first.
    async fn update_execution(
        &self,
        range_id: i64,
        write: ExecutionWrite<'_>,
        current_status: Option<i32>,
    ) -> Result<()>;

    /// Closes a run and starts its successor (continue-as-new, retry, cron) in one
    /// transaction: the old run's update (as `update_execution`), the current row moved from
    /// the old run to the new one, and the new run's rows.
    async fn continue_execution(
        &self,
        range_id: i64,
        old: ExecutionWrite<'_>,
        new: ExecutionWrite<'_>,
        current: &CurrentExecution,
    ) -> Result<()>;

    /// Group commit: applies `batch` (transitions of one shard, in order) in as few
    /// transactions as possible, fenced once by `range_id`. Each transition gets its own
    /// outcome, exactly as if it had been applied alone after the ones before it: one that
    /// cannot apply (`ConditionFailed`, `CurrentExecutionExists`) writes nothing and does not
    /// stop the others. A fence lost or a database failure fails every transition not yet
    /// committed (`ShardOwnershipLost`, `Unavailable`).
    async fn commit_transitions(&self, range_id: i64, batch: &[Transition]) -> Vec<Result<()>>;

    /// Removes a run: its row, its history, its visibility record, and the current-run pointer
    /// if it points at it. Tasks left for it find nothing and are dropped.
    async fn delete_execution(&self, key: &ExecutionKey) -> Result<()>;

    async fn get_execution(&self, key: &ExecutionKey) -> Result<Option<StoredExecution>>;

    async fn get_current_execution(
        &self,
        shard_id: i32,
        namespace_id: &str,
        workflow_id: &str,
    ) -> Result<Option<CurrentExecution>>;

    /// Event batches of a run from the batch starting at `from_event_id`, in order.
    async fn read_history(
        &self,
        shard_id: i32,
        run_id: &str,
        from_event_id: i64,
        max_batches: usize,
    ) -> Result<Vec<HistoryBatch>>;

    /// A page of transfer tasks with `range.0 < task_id < range.1`, in id order.
    async fn load_transfer_tasks(
        &self,
        shard_id: i32,
        range: (i64, i64),
        limit: usize,
    ) -> Result<Vec<(i64, TransferTask)>>;
    /// A page of timer tasks after `after` (fire time in nanoseconds, task id) and due at or
    /// before `until`, earliest first.
    async fn load_timer_tasks(
        &self,
        shard_id: i32,
        after: (i64, i64),
        until: i64,
        limit: usize,
    ) -> Result<Vec<(i64, i64, TimerTask)>>;
    /// A page of visibility tasks with `range.0 < task_id < range.1`, in id order.
    async fn load_visibility_tasks(
        &self,
        shard_id: i32,
        range: (i64, i64),
        limit: usize,
    ) -> Result<Vec<(i64, VisibilityTask)>>;
    /// Deletes carried-out outbox tasks of a shard, all in one transaction (one commit for
    /// many tasks). Ids that are already gone are ignored. Fenced like a transition: an owner
    /// whose lease is gone (`ShardOwnershipLost`) deletes nothing, since what it judged done
    /// it judged on state that may be stale, and the tasks are the new owner's now.
    async fn delete_tasks(&self, shard_id: i32, range_id: i64, done: &CompletedTasks) -> Result<()>;
}

/// Outbox tasks a shard has carried out and may delete.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompletedTasks {
    pub transfer: Vec<i64>,
    /// (fire time in nanoseconds, task id).
    pub timer: Vec<(i64, i64)>,
    pub visibility: Vec<i64>,
}

impl CompletedTasks {
    pub fn len(&self) -> usize {
        self.transfer.len() + self.timer.len() + self.visibility.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One row of `executions_visibility`.
#[derive(Clone, Debug, PartialEq)]
pub struct VisibilityRecord {
    pub namespace_id: String,
    pub run_id: String,
    pub workflow_id: String,
    pub workflow_type: String,
    pub status: i32,
    pub start_time: i64,
    pub execution_time: i64,
    pub close_time: Option<i64>,
    pub history_length: i64,
    pub history_size_bytes: i64,
    pub state_transition_count: i64,
    pub task_queue: String,
    pub parent_workflow_id: Option<String>,
    pub parent_run_id: Option<String>,
    /// The root of the run's chain of parents (the run itself when it has no parent).
    pub root_workflow_id: String,
    pub root_run_id: String,
    /// Encoded `temporal.api.common.v1.Memo`, if any.
    pub memo: Option<Vec<u8>>,
    /// Encoded `temporal.api.common.v1.SearchAttributes` as list calls return them.
    pub search_attributes: Option<Vec<u8>>,
    /// `TemporalChangeVersion` as a JSON array of strings.
    pub temporal_change_version: Option<String>,
    /// Custom search attribute values by pre-allocated column (see
    /// `visibility::row_attributes`); columns not listed are stored as NULL.
    pub custom: Vec<(&'static str, crate::visibility::AttributeValue)>,
    /// Monotonic per run; an upsert with an older version is ignored.
    pub version: i64,
    /// Temporal's namespace division: "" for a workflow, "activity" for a standalone activity.
    pub division: String,
}

impl VisibilityRecord {
    /// A record with only the required fields set (the rest empty).
    pub fn new(namespace_id: &str, workflow_id: &str, run_id: &str, workflow_type: &str) -> Self {
        Self {
            namespace_id: namespace_id.to_owned(),
            run_id: run_id.to_owned(),
            workflow_id: workflow_id.to_owned(),
            workflow_type: workflow_type.to_owned(),
            status: 1,
            start_time: 0,
            execution_time: 0,
            close_time: None,
            history_length: 0,
            history_size_bytes: 0,
            state_transition_count: 0,
            task_queue: String::new(),
            parent_workflow_id: None,
            parent_run_id: None,
            root_workflow_id: workflow_id.to_owned(),
            root_run_id: run_id.to_owned(),
            memo: None,
            search_attributes: None,
            temporal_change_version: None,
            custom: Vec::new(),
            version: 0,
            division: String::new(),
        }
    }
}

/// A page of visibility records and the token for the next page (empty when done).
#[derive(Debug)]
pub struct VisibilityPage {
    pub records: Vec<VisibilityRecord>,
    /// Opaque; pass back unchanged with the same query.
    pub next_page_token: Vec<u8>,
}

#[async_trait]
pub trait VisibilityStore: Send + Sync {
    /// Inserts or replaces a run's row, unless the stored row has a newer `version`.
    async fn upsert_visibility(&self, record: &VisibilityRecord) -> Result<()>;
    /// Executions of a namespace matching `query`, in its order (by default open runs first,
    /// then newest start first), `page_size` at a time. A malformed token is
    /// `ConditionFailed`.
    async fn list_visibility(
        &self,
        namespace_id: &str,
        query: &crate::visibility::query::VisibilityQuery,
        page_size: usize,
        token: &[u8],
    ) -> Result<VisibilityPage>;
    /// How many executions of a namespace match `query` (its order and grouping are ignored).
    async fn count_visibility(
        &self,
        namespace_id: &str,
        query: &crate::visibility::query::VisibilityQuery,
    ) -> Result<i64>;
    /// Counts by `WorkflowExecutionStatus` of the executions matching `query`, largest first.
    async fn count_visibility_by_status(
        &self,
        namespace_id: &str,
        query: &crate::visibility::query::VisibilityQuery,
    ) -> Result<Vec<(i32, i64)>>;
}
