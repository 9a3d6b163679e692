//! The registry of settings: key, aliases, type, scope, default, and whether a change applies
//! without a restart.
//!
//! Key names are matched case-insensitively. Where the seed file's name and Temporal's name
//! mean the same thing they are one setting with aliases; when a file gives both names for
//! the same constraint set, the seed's name (`workflow.*`, `worker.*`,
//! `history.maximumMutableStateSize`, …) wins. A more specific constraint set still beats a
//! less specific one whichever name it was written under.

use crate::value::{Kind, RetryPolicy, SettingValue, Value};
use std::marker::PhantomData;
use std::time::Duration;

/// Which constraints a setting can be narrowed by, and so which `Scope` fields it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    /// No constraints: one value for the whole cluster.
    Global,
    /// `namespace` or `namespaceID`.
    Namespace,
    /// `namespace`, `taskQueueName`, `taskType`, in the combinations {ns, tq, type}, {ns, tq},
    /// {tq}, {ns}, {}.
    TaskQueue,
}

impl ScopeKind {
    pub fn name(self) -> &'static str {
        match self {
            ScopeKind::Global => "global",
            ScopeKind::Namespace => "namespace",
            ScopeKind::TaskQueue => "task-queue",
        }
    }
}

/// Another name of a setting.
#[derive(Clone, Copy, Debug)]
pub struct Alias {
    pub name: &'static str,
    /// Integers written under this name are multiplied by `scale` (MB → bytes).
    pub scale: i64,
    /// Wins over the setting's main name when both give the same constraint set.
    pub preferred: bool,
}

const fn alias(name: &'static str) -> Alias {
    Alias {
        name,
        scale: 1,
        preferred: false,
    }
}

const MIB: i64 = 1024 * 1024;

/// Everything about a setting except its Rust type.
#[derive(Debug)]
pub struct SettingDef {
    /// Position in [`ALL`].
    pub index: usize,
    /// The main name, shown by the admin view; its unit is the setting's unit.
    pub name: &'static str,
    pub aliases: &'static [Alias],
    pub kind: Kind,
    pub scope: ScopeKind,
    pub default: Value,
    /// A change applies to running workflows/queues without a restart.
    pub live: bool,
    /// Unit of integer values (`bytes`, `requests/s`, …), empty when obvious.
    pub unit: &'static str,
    pub description: &'static str,
}

impl SettingDef {
    /// The main name and every alias.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.name).chain(self.aliases.iter().map(|a| a.name))
    }
}

/// A typed setting; read it with [`crate::DynamicConfig::get`].
#[derive(Debug)]
pub struct Setting<T> {
    pub def: SettingDef,
    pub default: T,
    _t: PhantomData<fn() -> T>,
}

impl<T: SettingValue> Setting<T> {
    pub fn name(&self) -> &'static str {
        self.def.name
    }
}

macro_rules! define_settings {
    ($($(#[doc = $doc:literal])* $id:ident: $ty:ty = $variant:ident($default:expr) {
        $name:literal, [$($alias:expr),*], $scope:ident, live: $live:literal, unit: $unit:literal $(,)?
    })*) => {
        define_settings!(@each 0usize; $($(#[doc = $doc])* $id: $ty = $variant($default) { $name, [$($alias),*], $scope, $live, $unit })*);
        /// Every setting; `ALL[s.index]` is `s`.
        pub static ALL: &[&SettingDef] = &[$(&$id.def),*];
    };
    (@each $idx:expr; ) => {};
    (@each $idx:expr; $(#[doc = $doc:literal])* $id:ident: $ty:ty = $variant:ident($default:expr) {
        $name:literal, [$($alias:expr),*], $scope:ident, $live:literal, $unit:literal
    } $($rest:tt)*) => {
        $(#[doc = $doc])*
        pub static $id: Setting<$ty> = Setting {
            def: SettingDef {
                index: $idx,
                name: $name,
                aliases: &[$($alias),*],
                kind: <$ty as SettingValue>::KIND,
                scope: ScopeKind::$scope,
                default: Value::$variant($default),
                live: $live,
                unit: $unit,
                description: concat!($($doc),*),
            },
            default: $default,
            _t: PhantomData,
        };
        define_settings!(@each $idx + 1usize; $($rest)*);
    };
}

define_settings! {
    /// Workflow task timeout given to starts that leave it unset (seen on WorkflowExecutionStarted).
    WORKFLOW_TASK_TIMEOUT: Duration = Duration(Duration::from_secs(10)) {
        "workflow.workflowTaskTimeout", [alias("history.defaultWorkflowTaskTimeout")], Namespace, live: true, unit: "",
    }
    /// Default and upper bound of the execution timeout of new workflows (0 = unlimited).
    WORKFLOW_EXECUTION_TIMEOUT: Duration = Duration(Duration::ZERO) {
        "workflow.workflowExecutionTimeout", [], Namespace, live: true, unit: "",
    }
    /// Default and upper bound of the run timeout of new runs (0 = unlimited).
    WORKFLOW_RUN_TIMEOUT: Duration = Duration(Duration::ZERO) {
        "workflow.workflowRunTimeout", [], Namespace, live: true, unit: "",
    }
    /// Retry policy for activities scheduled without one, and defaults for unset fields of one.
    DEFAULT_ACTIVITY_RETRY_POLICY: RetryPolicy = RetryPolicy(RetryPolicy::DEFAULT) {
        "workflow.defaultActivityRetryPolicy", [alias("history.defaultActivityRetryPolicy")], Namespace, live: true, unit: "",
    }
    /// Defaults for unset fields of a workflow's retry policy.
    DEFAULT_WORKFLOW_RETRY_POLICY: RetryPolicy = RetryPolicy(RetryPolicy::DEFAULT) {
        "history.defaultWorkflowRetryPolicy", [alias("workflow.defaultWorkflowRetryPolicy")], Namespace, live: true, unit: "",
    }
    /// Concurrent long polls allowed on a task queue (per task type); more get RESOURCE_EXHAUSTED. 0 = unlimited.
    MAX_TASK_QUEUE_POLLERS: i64 = Int(0) {
        "limit.maxTaskQueuePollers", [], TaskQueue, live: true, unit: "pollers",
    }
    /// Largest mutable state of a workflow; a transition beyond it terminates the workflow.
    /// `history.maximumMutableStateSize` gives it in MB.
    MUTABLE_STATE_SIZE_LIMIT_ERROR: i64 = Int(8 * MIB) {
        "limit.mutableStateSize.error",
        [Alias { name: "history.maximumMutableStateSize", scale: MIB, preferred: true }],
        Namespace, live: true, unit: "bytes",
    }
    /// Mutable state size above which a warning is logged.
    MUTABLE_STATE_SIZE_LIMIT_WARN: i64 = Int(MIB) {
        "limit.mutableStateSize.warn", [], Namespace, live: true, unit: "bytes",
    }
    /// When false, queries go to the normal task queue instead of the sticky one.
    ENABLE_STICKY_QUERY: bool = Bool(true) {
        "worker.enableStickyQuery", [alias("system.enableStickyQuery")], Namespace, live: true, unit: "",
    }
    /// Eager workflow start: a start that asks for it gets the first workflow task in its
    /// response instead of through matching.
    ENABLE_EAGER_WORKFLOW_START: bool = Bool(true) {
        "system.enableEagerWorkflowStart", [], Namespace, live: true, unit: "",
    }
    /// ShutdownWorker ends the shutting-down worker's outstanding polls of its task queue at
    /// once (empty answers), so no task is handed to a worker that is going away; advertised
    /// to SDKs as the namespace capability `worker_poll_complete_on_shutdown`.
    FRONTEND_ENABLE_CANCEL_WORKER_POLLS_ON_SHUTDOWN: bool = Bool(false) {
        "frontend.enableCancelWorkerPollsOnShutdown", [], Namespace, live: true, unit: "",
    }
    /// Standalone activities (StartActivityExecution and its family); when off they answer
    /// UNIMPLEMENTED "Standalone activity is disabled", as Temporal does.
    ACTIVITY_ENABLE_STANDALONE: bool = Bool(true) {
        "activity.enableStandalone", [], Namespace, live: true, unit: "",
    }
    /// Pause, unpause, reset and update-options on standalone activities. On by default as in
    /// Temporal's dev server (its server default is off: UNIMPLEMENTED "Standalone activity
    /// operator commands are disabled").
    HISTORY_ENABLE_STANDALONE_ACTIVITY_OPERATOR_COMMANDS: bool = Bool(true) {
        "history.enableStandaloneActivityOperatorCommands", [], Namespace, live: true, unit: "",
    }
    /// When true, ORDER BY in list queries is rejected with INVALID_ARGUMENT.
    /// (Temporal's default is true but it only applies to Elasticsearch; ours is false.)
    VISIBILITY_DISABLE_ORDER_BY_CLAUSE: bool = Bool(false) {
        "system.visibilityDisableOrderByClause", [], Namespace, live: true, unit: "",
    }
    /// Requests per second per namespace per frontend (0 rejects every request).
    FRONTEND_NAMESPACE_RPS: i64 = Int(2400) {
        "frontend.namespaceRPS", [], Namespace, live: true, unit: "requests/s",
    }
    /// Burst of the namespace rate limiter as a ratio of frontend.namespaceRPS (at least 1).
    FRONTEND_NAMESPACE_BURST_RATIO: f64 = Float(2.0) {
        "frontend.namespaceBurstRatio", [], Namespace, live: true, unit: "",
    }
    /// Concurrent long polls per namespace per poll API per frontend; more get RESOURCE_EXHAUSTED.
    FRONTEND_NAMESPACE_COUNT: i64 = Int(1200) {
        "frontend.namespaceCount", [], Namespace, live: true, unit: "requests",
    }
    /// Longest namespace, workflow ID, task queue, type, signal name, request ID, identity, ….
    MAX_ID_LENGTH: i64 = Int(1000) {
        "limit.maxIDLength", [], Global, live: true, unit: "characters",
    }
    /// Largest payload blob of one request/event; larger ones are rejected.
    BLOB_SIZE_LIMIT_ERROR: i64 = Int(2 * MIB) {
        "limit.blobSize.error", [], Namespace, live: true, unit: "bytes",
    }
    /// Payload blob size above which a warning is logged.
    BLOB_SIZE_LIMIT_WARN: i64 = Int(512 * 1024) {
        "limit.blobSize.warn", [], Namespace, live: true, unit: "bytes",
    }
    /// Event count of a workflow's history at which it is terminated.
    HISTORY_COUNT_LIMIT_ERROR: i64 = Int(50 * 1024) {
        "limit.historyCount.error", [], Namespace, live: true, unit: "events",
    }
    /// Event count above which a warning is logged.
    HISTORY_COUNT_LIMIT_WARN: i64 = Int(10 * 1024) {
        "limit.historyCount.warn", [], Namespace, live: true, unit: "events",
    }
    /// History size of a workflow at which it is terminated.
    HISTORY_SIZE_LIMIT_ERROR: i64 = Int(50 * MIB) {
        "limit.historySize.error", [], Namespace, live: true, unit: "bytes",
    }
    /// History size above which a warning is logged.
    HISTORY_SIZE_LIMIT_WARN: i64 = Int(10 * MIB) {
        "limit.historySize.warn", [], Namespace, live: true, unit: "bytes",
    }
    /// History length at which workflow tasks tell the worker to continue as new.
    HISTORY_COUNT_SUGGEST_CONTINUE_AS_NEW: i64 = Int(4 * 1024) {
        "limit.historyCount.suggestContinueAsNew", [], Namespace, live: true, unit: "events",
    }
    /// History size at which workflow tasks tell the worker to continue as new.
    HISTORY_SIZE_SUGGEST_CONTINUE_AS_NEW: i64 = Int(4 * MIB) {
        "limit.historySize.suggestContinueAsNew", [], Namespace, live: true, unit: "bytes",
    }
    /// Partitions polls are spread over (read on every poll).
    MATCHING_NUM_TASKQUEUE_READ_PARTITIONS: i64 = Int(4) {
        "matching.numTaskqueueReadPartitions", [], TaskQueue, live: true, unit: "partitions",
    }
    /// Partitions new tasks are spread over (read on every add); keep it at or below the read count.
    MATCHING_NUM_TASKQUEUE_WRITE_PARTITIONS: i64 = Int(4) {
        "matching.numTaskqueueWritePartitions", [], TaskQueue, live: true, unit: "partitions",
    }
    /// How long matching holds a poll without a task before answering empty.
    MATCHING_LONG_POLL_EXPIRATION_INTERVAL: Duration = Duration(Duration::from_secs(60)) {
        "matching.longPollExpirationInterval", [], TaskQueue, live: true, unit: "",
    }
    /// A closed run is deleted after its namespace's retention plus a random delay up to this,
    /// so runs closed together are not all deleted at the same instant.
    HISTORY_RETENTION_TIMER_JITTER: Duration = Duration(Duration::from_secs(30 * 60)) {
        "history.retentionTimerJitterDuration", [], Global, live: true, unit: "",
    }
    /// How often the worker role's scavengers run (Sundial's own key: idle task queues, tasks
    /// of deleted workflows, history of deleted runs, expired membership rows).
    WORKER_SCAVENGER_INTERVAL: Duration = Duration(Duration::from_secs(3600)) {
        "worker.scavengerInterval", [], Global, live: true, unit: "",
    }
    /// A task queue unused (no lease holder, no backlog, no metadata write) for this long is
    /// deleted by the scavenger; sticky queues go after a tenth of it (Sundial's own key).
    WORKER_TASK_QUEUE_IDLE_RETENTION: Duration = Duration(Duration::from_secs(3 * 24 * 3600)) {
        "worker.taskQueueIdleRetention", [], Global, live: true, unit: "",
    }
    /// Shortest retention a namespace may be registered or updated with.
    NAMESPACE_MIN_RETENTION: Duration = Duration(Duration::from_secs(3600)) {
        "system.namespaceMinRetentionLocal", [], Global, live: true, unit: "",
    }
    /// How long history holds a long poll (e.g. GetWorkflowExecutionHistory wait-new-event).
    HISTORY_LONG_POLL_EXPIRATION_INTERVAL: Duration = Duration(Duration::from_secs(20)) {
        "history.longPollExpirationInterval", [], Namespace, live: true, unit: "",
    }
}

/// Whether the Temporal server knows the key (any case): Sundial accepts it without effect
/// when it does not implement it (see `temporal_keys.txt`).
pub fn is_temporal_key(name: &str) -> bool {
    static KNOWN: std::sync::LazyLock<std::collections::HashSet<String>> = std::sync::LazyLock::new(|| {
        include_str!("temporal_keys.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_ascii_lowercase)
            .collect()
    });
    KNOWN.contains(&name.to_ascii_lowercase())
}

pub(crate) struct NameInfo {
    pub setting: usize,
    pub scale: i64,
    /// 0 for a preferred alias, 1 for the main name, 2 for other aliases: lower wins ties.
    pub tiebreak: u8,
    pub name: &'static str,
}

static BY_NAME: std::sync::LazyLock<std::collections::HashMap<String, NameInfo>> = std::sync::LazyLock::new(|| {
    let mut map = std::collections::HashMap::new();
    for def in ALL {
        map.insert(
            def.name.to_ascii_lowercase(),
            NameInfo {
                setting: def.index,
                scale: 1,
                tiebreak: 1,
                name: def.name,
            },
        );
        for a in def.aliases {
            map.insert(
                a.name.to_ascii_lowercase(),
                NameInfo {
                    setting: def.index,
                    scale: a.scale,
                    tiebreak: if a.preferred { 0 } else { 2 },
                    name: a.name,
                },
            );
        }
    }
    map
});

/// Looks a key up case-insensitively.
pub(crate) fn lookup(name: &str) -> Option<&'static NameInfo> {
    BY_NAME.get(&name.to_ascii_lowercase())
}

/// The setting a key names (main name or alias, any case).
pub fn find(name: &str) -> Option<&'static SettingDef> {
    lookup(name).map(|n| ALL[n.setting])
}

/// Every known key name (main names and aliases).
pub fn all_names() -> impl Iterator<Item = &'static str> {
    ALL.iter().flat_map(|d| d.names())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for (i, def) in ALL.iter().enumerate() {
            assert_eq!(def.index, i, "{}", def.name);
            for n in def.names() {
                assert!(seen.insert(n.to_ascii_lowercase()), "duplicate key {n}");
            }
            let matches_kind = matches!(
                (def.kind, def.default),
                (Kind::Bool, Value::Bool(_))
                    | (Kind::Int, Value::Int(_))
                    | (Kind::Float, Value::Float(_))
                    | (Kind::Duration, Value::Duration(_))
                    | (Kind::RetryPolicy, Value::RetryPolicy(_))
            );
            assert!(matches_kind, "{}", def.name);
            assert!(!def.description.is_empty(), "{}", def.name);
        }
        assert_eq!(
            find("HISTORY.DEFAULTWORKFLOWTASKTIMEOUT").map(|d| d.name),
            Some("workflow.workflowTaskTimeout")
        );
        assert!(find("nope.nothing").is_none());
    }
}
