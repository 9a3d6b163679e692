//! The command line, in tctl v1's words: nouns, verbs, snake_case flags and their short aliases.
//!
//! Every alias a tctl user types is a `visible_alias` here, so `--help` shows it and
//! [`crate::argv`] can turn Go-style single-dash flags (`-tq`) into the `--tq` form clap expects.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tctl",
    version,
    about = "A command-line tool for Sundial (and Temporal) users, with tctl v1's commands and flags",
    after_help = "Multi-letter flags take two dashes (--tq, --rd); tctl's single-dash forms (-tq, -rd) are accepted too."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub noun: Noun,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// host:port of the frontend service
    #[arg(
        long = "address",
        visible_alias = "ad",
        env = "TEMPORAL_CLI_ADDRESS",
        default_value = "127.0.0.1:7233",
        global = true
    )]
    pub address: String,
    /// Namespace to operate on
    #[arg(
        long = "namespace",
        visible_alias = "ns",
        env = "TEMPORAL_CLI_NAMESPACE",
        default_value = "default",
        global = true
    )]
    pub namespace: String,
    /// Timeout of each RPC, in seconds
    #[arg(
        long = "context_timeout",
        visible_alias = "ct",
        env = "TEMPORAL_CONTEXT_TIMEOUT",
        default_value_t = 5,
        global = true
    )]
    pub context_timeout: u64,
    /// Automatically confirm all prompts
    #[arg(long = "auto_confirm", global = true)]
    pub auto_confirm: bool,
    /// Output format: table (human-readable) or json
    #[arg(long = "output", short = 'o', value_enum, default_value_t = OutputFormat::Table, global = true)]
    pub output: OutputFormat,
    /// Print JSON (same as --output json)
    #[arg(long = "print_json", visible_alias = "pjson", global = true)]
    pub print_json: bool,
    /// Authorization header to set for gRPC requests (e.g. "Bearer <jwt>")
    #[arg(long = "auth", env = "TEMPORAL_CLI_AUTH", global = true)]
    pub auth: Option<String>,
    /// Path to the client's x509 certificate (mTLS); turns TLS on
    #[arg(long = "tls_cert_path", env = "TEMPORAL_CLI_TLS_CERT", global = true)]
    pub tls_cert_path: Option<String>,
    /// Path to the client certificate's private key
    #[arg(long = "tls_key_path", env = "TEMPORAL_CLI_TLS_KEY", global = true)]
    pub tls_key_path: Option<String>,
    /// Path to the CA certificate that signed the server's; turns TLS on
    #[arg(long = "tls_ca_path", env = "TEMPORAL_CLI_TLS_CA", global = true)]
    pub tls_ca_path: Option<String>,
    /// Server name to send (SNI) and verify; turns TLS on
    #[arg(long = "tls_server_name", env = "TEMPORAL_CLI_TLS_SERVER_NAME", global = true)]
    pub tls_server_name: Option<String>,
    /// Disable TLS host name verification (not supported: use --tls_server_name)
    #[arg(
        long = "tls_disable_host_verification",
        env = "TEMPORAL_CLI_TLS_DISABLE_HOST_VERIFICATION",
        global = true
    )]
    pub tls_disable_host_verification: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    #[value(alias = "text", alias = "card")]
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Noun {
    /// Operate Temporal namespace
    #[command(visible_alias = "n", subcommand)]
    Namespace(NamespaceCmd),
    /// Operate Temporal workflow
    #[command(visible_alias = "wf", subcommand)]
    Workflow(WorkflowCmd),
    /// Operate Temporal task queue
    #[command(visible_alias = "tq", subcommand)]
    Taskqueue(TaskQueueCmd),
    /// Operate Temporal cluster
    #[command(visible_alias = "cl", subcommand)]
    Cluster(ClusterCmd),
    /// Operate schedules
    #[command(subcommand)]
    Schedule(ScheduleCmd),
    /// Run admin operation
    #[command(visible_alias = "adm", subcommand)]
    Admin(AdminCmd),
}

// ---------------------------------------------------------------------------------------------
// namespace

#[derive(Debug, Subcommand)]
pub enum NamespaceCmd {
    /// Register workflow namespace (the namespace is the global --ns)
    #[command(visible_alias = "re")]
    Register(NamespaceRegisterArgs),
    /// Describe existing workflow namespace
    #[command(visible_alias = "desc")]
    Describe(NamespaceDescribeArgs),
    /// List all namespaces
    #[command(visible_alias = "l")]
    List,
    /// Update existing workflow namespace
    #[command(visible_aliases = ["up", "u"])]
    Update(NamespaceUpdateArgs),
}

#[derive(Debug, Args)]
pub struct NamespaceCommonArgs {
    /// Namespace description
    #[arg(long = "description", visible_alias = "desc")]
    pub description: Option<String>,
    /// Owner email
    #[arg(long = "owner_email", visible_alias = "oe")]
    pub owner_email: Option<String>,
    /// Workflow execution retention: days (e.g. 1) or a duration (e.g. 24h, 72h0m0s)
    #[arg(long = "retention", visible_alias = "rd")]
    pub retention: Option<String>,
    /// Active cluster name
    #[arg(long = "active_cluster", visible_alias = "ac")]
    pub active_cluster: Option<String>,
    /// Clusters
    #[arg(long = "clusters", visible_alias = "cl")]
    pub clusters: Option<String>,
    /// Namespace data, as key=value pairs: k1:v1,k2:v2
    #[arg(long = "namespace_data", visible_alias = "dmd")]
    pub namespace_data: Option<String>,
    /// History archival state: enabled or disabled
    #[arg(long = "history_archival_state", visible_alias = "has")]
    pub history_archival_state: Option<String>,
    /// History archival URI
    #[arg(long = "history_uri", visible_alias = "huri")]
    pub history_uri: Option<String>,
    /// Visibility archival state: enabled or disabled
    #[arg(long = "visibility_archival_state", visible_alias = "vas")]
    pub visibility_archival_state: Option<String>,
    /// Visibility archival URI
    #[arg(long = "visibility_uri", visible_alias = "vuri")]
    pub visibility_uri: Option<String>,
}

#[derive(Debug, Args)]
pub struct NamespaceRegisterArgs {
    #[command(flatten)]
    pub common: NamespaceCommonArgs,
    /// Whether the namespace is global (true/false)
    #[arg(long = "global_namespace", visible_alias = "gd")]
    pub global_namespace: Option<String>,
}

#[derive(Debug, Args)]
pub struct NamespaceDescribeArgs {
    /// Namespace id (instead of --ns)
    #[arg(long = "namespace_id")]
    pub namespace_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct NamespaceUpdateArgs {
    #[command(flatten)]
    pub common: NamespaceCommonArgs,
    /// Binary checksum to add to the bad binaries
    #[arg(long = "add_bad_binary")]
    pub add_bad_binary: Option<String>,
    /// Binary checksum to remove from the bad binaries
    #[arg(long = "remove_bad_binary")]
    pub remove_bad_binary: Option<String>,
    /// Reason for the bad binary
    #[arg(long = "reason")]
    pub reason: Option<String>,
    /// Promote a local namespace to global
    #[arg(long = "promote_namespace", visible_alias = "pn")]
    pub promote_namespace: bool,
}

// ---------------------------------------------------------------------------------------------
// workflow

#[derive(Debug, Subcommand)]
pub enum WorkflowCmd {
    /// Start a new workflow execution
    Start(StartArgs),
    /// Start a new workflow execution, follow it until it closes and print its result
    Run(RunArgs),
    /// List open or closed workflow executions (closed by default)
    #[command(visible_alias = "l")]
    List(ListArgs),
    /// List all open or closed workflow executions
    #[command(visible_alias = "la")]
    Listall(ListFilterArgs),
    /// Count workflow executions
    #[command(visible_alias = "cnt")]
    Count(CountArgs),
    /// Show workflow history
    Show(ShowArgs),
    /// Show workflow history of WORKFLOW_ID [RUN_ID]
    Showid(ShowIdArgs),
    /// Show information of a workflow execution
    #[command(visible_alias = "desc")]
    Describe(DescribeArgs),
    /// Show information of the workflow execution WORKFLOW_ID [RUN_ID]
    #[command(name = "describeid", visible_alias = "descid")]
    Describeid(DescribeIdArgs),
    /// Signal a workflow execution
    #[command(visible_alias = "s")]
    Signal(SignalArgs),
    /// Query a workflow execution
    Query(QueryArgs),
    /// Query a workflow execution with __stack_trace as the query type
    Stack(StackArgs),
    /// Cancel a workflow execution
    #[command(visible_alias = "c")]
    Cancel(CancelArgs),
    /// Terminate a workflow execution
    #[command(visible_alias = "term")]
    Terminate(TerminateArgs),
    /// Reset a workflow execution, by event id or reset type
    #[command(visible_alias = "rs")]
    Reset(ResetArgs),
    /// Delete a workflow execution
    #[command(visible_alias = "del")]
    Delete(DeleteArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ExecutionArgs {
    /// Workflow id
    #[arg(long = "workflow_id", short = 'w', visible_alias = "wid")]
    pub workflow_id: Option<String>,
    /// Run id
    #[arg(long = "run_id", short = 'r', visible_alias = "rid")]
    pub run_id: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Input in JSON; repeat for several arguments ("null" for null)
    #[arg(long = "input", short = 'i')]
    pub input: Vec<String>,
    /// Input from a file of JSON values separated by whitespace (--input wins)
    #[arg(long = "input_file", visible_alias = "if")]
    pub input_file: Option<String>,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Task queue
    #[arg(long = "taskqueue", visible_alias = "tq")]
    pub taskqueue: Option<String>,
    /// Workflow id (a UUID if not given)
    #[arg(long = "workflow_id", short = 'w', visible_alias = "wid")]
    pub workflow_id: Option<String>,
    /// Workflow type name
    #[arg(long = "workflow_type", visible_alias = "wt")]
    pub workflow_type: Option<String>,
    /// Workflow execution timeout, including retries and continue-as-new (seconds or a duration)
    #[arg(long = "execution_timeout", visible_alias = "et")]
    pub execution_timeout: Option<String>,
    /// Single workflow run timeout (seconds or a duration)
    #[arg(long = "run-timeout", visible_aliases = ["rt", "run_timeout"])]
    pub run_timeout: Option<String>,
    /// Workflow task start-to-close timeout (seconds or a duration)
    #[arg(long = "workflow_task_timeout", visible_alias = "wtt", default_value = "10")]
    pub workflow_task_timeout: String,
    /// Cron schedule, e.g. "*/5 * * * *"
    #[arg(long = "cron")]
    pub cron: Option<String>,
    /// Workflow id reuse policy: AllowDuplicate, AllowDuplicateFailedOnly, RejectDuplicate, TerminateIfRunning
    #[arg(long = "workflowidreusepolicy", visible_alias = "wrp")]
    pub workflowidreusepolicy: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
    /// Memo key; repeat for several, in the order of --memo
    #[arg(long = "memo_key")]
    pub memo_key: Vec<String>,
    /// Memo value in JSON; repeat for several
    #[arg(long = "memo")]
    pub memo: Vec<String>,
    /// File of memo values in JSON, one per line
    #[arg(long = "memo_file")]
    pub memo_file: Option<String>,
    /// Search attribute keys, separated by |
    #[arg(long = "search_attr_key")]
    pub search_attr_key: Option<String>,
    /// Search attribute values in JSON, separated by |
    #[arg(long = "search_attr_value")]
    pub search_attr_value: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub start: StartArgs,
    /// Show event details
    #[arg(long = "show_detail", visible_alias = "sd")]
    pub show_detail: bool,
    /// Maximum length of each attribute field
    #[arg(long = "max_field_length", visible_alias = "maxl", default_value_t = 500)]
    pub max_field_length: usize,
}

#[derive(Debug, Args)]
pub struct ListFilterArgs {
    /// List open workflow executions (default: closed ones)
    #[arg(long = "open", visible_alias = "op")]
    pub open: bool,
    /// Earliest start time: RFC3339, Unix nanos, or a range back from now like 15m, 2h, 3d
    #[arg(long = "earliest_time", visible_alias = "et")]
    pub earliest_time: Option<String>,
    /// Latest start time (same formats as --earliest_time)
    #[arg(long = "latest_time", visible_alias = "lt")]
    pub latest_time: Option<String>,
    /// Workflow id
    #[arg(long = "workflow_id", short = 'w', visible_alias = "wid")]
    pub workflow_id: Option<String>,
    /// Workflow type name
    #[arg(long = "workflow_type", visible_alias = "wt")]
    pub workflow_type: Option<String>,
    /// Status of closed executions: completed, failed, canceled, terminated, continuedasnew, timedout
    #[arg(long = "status", short = 's')]
    pub status: Option<String>,
    /// List query (passed to the server as is; other filters are ignored)
    #[arg(long = "query", short = 'q')]
    pub query: Option<String>,
    /// Print raw timestamps
    #[arg(long = "print_raw_time", visible_alias = "prt")]
    pub print_raw_time: bool,
    /// Print full date and time
    #[arg(long = "print_datetime", visible_alias = "pdt")]
    pub print_datetime: bool,
    /// Print memo
    #[arg(long = "print_memo", visible_alias = "pme")]
    pub print_memo: bool,
    /// Print search attributes
    #[arg(long = "print_search_attr", visible_alias = "psa")]
    pub print_search_attr: bool,
    /// Print full messages (accepted for compatibility)
    #[arg(long = "print_full", visible_alias = "pf")]
    pub print_full: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: ListFilterArgs,
    /// List all pages
    #[arg(long = "more", short = 'm')]
    pub more: bool,
    /// Result page size
    #[arg(long = "pagesize", visible_alias = "ps", default_value_t = 10)]
    pub pagesize: i32,
}

#[derive(Debug, Args)]
pub struct CountArgs {
    /// List query (passed to the server as is)
    #[arg(long = "query", short = 'q')]
    pub query: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ShowFlags {
    /// Print event timestamps
    #[arg(long = "print_datetime", visible_alias = "pdt")]
    pub print_datetime: bool,
    /// Print raw timestamps
    #[arg(long = "print_raw_time", visible_alias = "prt")]
    pub print_raw_time: bool,
    /// Write the history as JSON to this file
    #[arg(long = "output_filename", visible_alias = "of")]
    pub output_filename: Option<String>,
    /// Print full event details
    #[arg(long = "print_full", visible_alias = "pf")]
    pub print_full: bool,
    /// Print event version
    #[arg(long = "print_event_version", visible_alias = "pev")]
    pub print_event_version: bool,
    /// Print only this event's details
    #[arg(long = "event_id", visible_alias = "eid")]
    pub event_id: Option<i64>,
    /// Maximum length of each attribute field
    #[arg(long = "max_field_length", visible_alias = "maxl", default_value_t = 500)]
    pub max_field_length: usize,
    /// Only show events that are eligible for reset
    #[arg(long = "reset_points_only")]
    pub reset_points_only: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    #[command(flatten)]
    pub flags: ShowFlags,
}

#[derive(Debug, Args)]
pub struct ShowIdArgs {
    pub workflow_id: String,
    pub run_id: Option<String>,
    #[command(flatten)]
    pub flags: ShowFlags,
}

#[derive(Debug, Clone, Args)]
pub struct DescribeFlags {
    /// Print the raw response
    #[arg(long = "print_raw", visible_alias = "praw")]
    pub print_raw: bool,
    /// Only show auto reset points
    #[arg(long = "reset_points_only")]
    pub reset_points_only: bool,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    #[command(flatten)]
    pub flags: DescribeFlags,
}

#[derive(Debug, Args)]
pub struct DescribeIdArgs {
    pub workflow_id: String,
    pub run_id: Option<String>,
    #[command(flatten)]
    pub flags: DescribeFlags,
}

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Operate on the executions matching this list query (batch; not supported by this build)
    #[arg(long = "query")]
    pub query: Option<String>,
    /// Confirm all prompts
    #[arg(long = "yes")]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct SignalArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Signal name
    #[arg(long = "name", short = 'n')]
    pub name: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
    /// Reason (batch mode)
    #[arg(long = "reason")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub batch: BatchArgs,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Query type
    #[arg(long = "query_type", visible_alias = "qt")]
    pub query_type: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
    /// Reject the query when the workflow is: not_open or not_completed_cleanly
    #[arg(long = "query_reject_condition", visible_alias = "qrc")]
    pub query_reject_condition: Option<String>,
}

#[derive(Debug, Args)]
pub struct StackArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    #[command(flatten)]
    pub input: InputArgs,
    /// Reject the query when the workflow is: not_open or not_completed_cleanly
    #[arg(long = "query_reject_condition", visible_alias = "qrc")]
    pub query_reject_condition: Option<String>,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Reason for canceling
    #[arg(long = "reason")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub batch: BatchArgs,
}

#[derive(Debug, Args)]
pub struct TerminateArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Reason for termination
    #[arg(long = "reason", visible_alias = "re")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub batch: BatchArgs,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// The id of an event after WorkflowTaskStarted to reset to (exclusive)
    #[arg(long = "event_id")]
    pub event_id: Option<i64>,
    /// Reason for the reset (required)
    #[arg(long = "reason")]
    pub reason: Option<String>,
    /// Where to reset: FirstWorkflowTask, LastWorkflowTask, LastContinuedAsNew, BadBinary
    #[arg(long = "reset_type")]
    pub reset_type: Option<String>,
    /// Whether to reapply events after the reset point: Signal (default) or None
    #[arg(long = "reset_reapply_type", default_value = "Signal")]
    pub reset_reapply_type: String,
    /// Binary checksum, for --reset_type BadBinary
    #[arg(long = "reset_bad_binary_checksum")]
    pub reset_bad_binary_checksum: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Confirm all prompts
    #[arg(long = "yes")]
    pub yes: bool,
}

// ---------------------------------------------------------------------------------------------
// schedule (tctl v1 gives the noun and its verbs no aliases)

#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
    // Boxed: a definition's many flags would make every command value as large.
    /// Create a new schedule: a schedule specification plus the flags of `workflow start`
    Create(Box<ScheduleDefinitionArgs>),
    /// Update a schedule with a new definition (full replacement, not patch)
    Update(Box<ScheduleDefinitionArgs>),
    /// Pause or unpause a schedule
    Toggle(ScheduleToggleArgs),
    /// Trigger an immediate action
    Trigger(ScheduleTriggerArgs),
    /// Backfill a past time range of actions
    Backfill(ScheduleBackfillArgs),
    /// Show a schedule's configuration and current state
    Describe(ScheduleDescribeArgs),
    /// Delete a schedule
    Delete(ScheduleIdArg),
    /// List schedules
    List,
}

#[derive(Debug, Args)]
pub struct ScheduleIdArg {
    /// Schedule id
    #[arg(long = "schedule_id", short = 's', visible_alias = "sid", required = true)]
    pub schedule_id: String,
}

#[derive(Debug, Args)]
pub struct OverlapPolicyArg {
    /// Overlap policy: Skip, BufferOne, BufferAll, CancelOther, TerminateOther, AllowAll
    #[arg(long = "overlap_policy")]
    pub overlap_policy: Option<String>,
}

/// When the schedule fires.
#[derive(Debug, Args)]
pub struct ScheduleSpecArgs {
    /// Calendar specification in JSON, e.g. {"dayOfWeek":"Fri","hour":"17","minute":"5"}; repeatable
    #[arg(long = "calendar")]
    pub calendar: Vec<String>,
    /// Calendar specification as a cron string, e.g. "30 2 * * 5" or "@daily"; repeatable
    #[arg(long = "cron")]
    pub cron: Vec<String>,
    /// Interval duration, e.g. 90m, or 90m/13m to include a phase offset; repeatable
    #[arg(long = "interval")]
    pub interval: Vec<String>,
    /// Overall schedule start time: RFC3339, Unix nanos, or a range back from now like 15m
    #[arg(long = "start_time")]
    pub start_time: Option<String>,
    /// Overall schedule end time (same formats as --start_time)
    #[arg(long = "end_time")]
    pub end_time: Option<String>,
    /// Jitter duration, e.g. 30s
    #[arg(long = "jitter")]
    pub jitter: Option<String>,
    /// Time zone (IANA name, e.g. America/New_York)
    #[arg(long = "time_zone")]
    pub time_zone: Option<String>,
}

/// The schedule's initial state.
#[derive(Debug, Args)]
pub struct ScheduleStateArgs {
    /// Initial value of the notes field
    #[arg(long = "notes")]
    pub notes: Option<String>,
    /// Create the schedule paused
    #[arg(long = "pause")]
    pub pause: bool,
    /// Total number of actions allowed
    #[arg(long = "remaining_actions", allow_negative_numbers = true, value_parser = non_negative)]
    pub remaining_actions: Option<i64>,
}

/// A count that cannot be negative; `-1` reaches here (not clap's "unexpected argument") so
/// the message can say what is wrong with it.
fn non_negative(text: &str) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        Ok(_) => Err("must not be negative".into()),
        Err(_) => Err("must be a whole number".into()),
    }
}

#[derive(Debug, Args)]
pub struct SchedulePolicyArgs {
    #[command(flatten)]
    pub overlap: OverlapPolicyArg,
    /// Maximum allowed catch-up time if the server is down, e.g. 10m
    #[arg(long = "catchup_window")]
    pub catchup_window: Option<String>,
    /// Pause the schedule after any workflow failure
    #[arg(long = "pause_on_failure")]
    pub pause_on_failure: bool,
}

/// The schedule's own memo and search attributes (not the started workflows').
#[derive(Debug, Args)]
pub struct ScheduleVisibilityArgs {
    /// Memo key; repeat for several, in the order of --memo
    #[arg(long = "memo_key")]
    pub memo_key: Vec<String>,
    /// Memo value in JSON to be set on the schedule; repeat for several
    #[arg(long = "memo")]
    pub memo: Vec<String>,
    /// File of memo values in JSON, one per line
    #[arg(long = "memo_file")]
    pub memo_file: Option<String>,
    /// Search attribute key to be set on the schedule; repeat, or separate several by |
    #[arg(long = "search_attr_key")]
    pub search_attr_key: Vec<String>,
    /// Search attribute value in JSON; repeat, or separate several by |
    #[arg(long = "search_attr_value")]
    pub search_attr_value: Vec<String>,
}

/// The workflow each action starts: `workflow start`'s flags without cron, reuse policy,
/// memo and search attributes (tctl v1 drops those for schedules).
#[derive(Debug, Args)]
pub struct ScheduleActionArgs {
    /// Task queue
    #[arg(long = "taskqueue", visible_alias = "tq")]
    pub taskqueue: Option<String>,
    /// Workflow id prefix of the started runs (a UUID if not given)
    #[arg(long = "workflow_id", short = 'w', visible_alias = "wid")]
    pub workflow_id: Option<String>,
    /// Workflow type name
    #[arg(long = "workflow_type", visible_alias = "wt")]
    pub workflow_type: Option<String>,
    /// Workflow execution timeout, including retries and continue-as-new (seconds or a duration)
    #[arg(long = "execution_timeout", visible_alias = "et")]
    pub execution_timeout: Option<String>,
    /// Single workflow run timeout (seconds or a duration)
    #[arg(long = "run-timeout", visible_aliases = ["rt", "run_timeout"])]
    pub run_timeout: Option<String>,
    /// Workflow task start-to-close timeout (seconds or a duration)
    #[arg(long = "workflow_task_timeout", visible_alias = "wtt", default_value = "10")]
    pub workflow_task_timeout: String,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Debug, Args)]
pub struct ScheduleDefinitionArgs {
    #[command(flatten)]
    pub id: ScheduleIdArg,
    #[command(flatten)]
    pub spec: ScheduleSpecArgs,
    #[command(flatten)]
    pub state: ScheduleStateArgs,
    #[command(flatten)]
    pub policy: SchedulePolicyArgs,
    #[command(flatten)]
    pub visibility: ScheduleVisibilityArgs,
    #[command(flatten)]
    pub action: ScheduleActionArgs,
}

#[derive(Debug, Args)]
pub struct ScheduleToggleArgs {
    #[command(flatten)]
    pub id: ScheduleIdArg,
    /// Pause the schedule
    #[arg(long = "pause")]
    pub pause: bool,
    /// Unpause the schedule
    #[arg(long = "unpause")]
    pub unpause: bool,
    /// Free-form text to describe the reason for pause/unpause (kept as the schedule's notes)
    #[arg(long = "reason", default_value = "(no reason provided)")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct ScheduleTriggerArgs {
    #[command(flatten)]
    pub id: ScheduleIdArg,
    #[command(flatten)]
    pub overlap: OverlapPolicyArg,
}

#[derive(Debug, Args)]
pub struct ScheduleBackfillArgs {
    #[command(flatten)]
    pub id: ScheduleIdArg,
    #[command(flatten)]
    pub overlap: OverlapPolicyArg,
    /// Backfill start time: RFC3339, Unix nanos, or a range back from now like 2h
    #[arg(long = "start_time", required = true)]
    pub start_time: String,
    /// Backfill end time (same formats as --start_time)
    #[arg(long = "end_time", required = true)]
    pub end_time: String,
}

#[derive(Debug, Args)]
pub struct ScheduleDescribeArgs {
    #[command(flatten)]
    pub id: ScheduleIdArg,
    /// Print the raw response as JSON (prefer this over -o json for scripting)
    #[arg(long = "print_raw")]
    pub print_raw: bool,
}

// ---------------------------------------------------------------------------------------------
// taskqueue, cluster, admin

#[derive(Debug, Subcommand)]
pub enum TaskQueueCmd {
    /// Describe the pollers of a task queue
    #[command(visible_alias = "desc")]
    Describe(TaskQueueDescribeArgs),
    /// List the partitions of a task queue and their owners
    #[command(name = "list-partition", visible_alias = "lp")]
    ListPartition(TaskQueueArg),
}

#[derive(Debug, Args)]
pub struct TaskQueueArg {
    /// Task queue
    #[arg(long = "taskqueue", visible_alias = "tq")]
    pub taskqueue: Option<String>,
}

#[derive(Debug, Args)]
pub struct TaskQueueDescribeArgs {
    #[command(flatten)]
    pub taskqueue: TaskQueueArg,
    /// Task queue type: workflow or activity
    #[arg(long = "taskqueuetype", visible_alias = "tqt", default_value = "workflow")]
    pub taskqueuetype: String,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// Check the health of the frontend service
    #[command(visible_alias = "h")]
    Health,
    /// List the search attributes that can be used in list queries
    #[command(name = "get-search-attributes", visible_alias = "gsa")]
    GetSearchAttributes,
}

#[derive(Debug, Subcommand)]
pub enum AdminCmd {
    /// Run admin operation on the cluster
    #[command(visible_alias = "cl", subcommand)]
    Cluster(AdminClusterCmd),
    /// Inspect dynamic config
    #[command(name = "dynamic-config", visible_alias = "dc", subcommand)]
    DynamicConfig(DynamicConfigCmd),
    /// Run admin operation on a workflow
    #[command(visible_alias = "wf", subcommand)]
    Workflow(AdminWorkflowCmd),
    /// Show the cluster's members
    #[command(visible_alias = "m", subcommand)]
    Membership(AdminMembershipCmd),
    /// Show which history host owns a shard
    #[command(visible_alias = "s", subcommand)]
    Shard(AdminShardCmd),
}

#[derive(Debug, Subcommand)]
pub enum AdminMembershipCmd {
    /// The members of each role's ring
    #[command(name = "list_gossip", visible_alias = "lg")]
    ListGossip,
}

#[derive(Debug, Subcommand)]
pub enum AdminShardCmd {
    /// The history host that owns a shard
    #[command(visible_alias = "d")]
    Describe(AdminShardDescribeArgs),
    /// Every shard and the history host that owns it
    #[command(visible_alias = "l")]
    List,
}

#[derive(Debug, Args)]
pub struct AdminShardDescribeArgs {
    /// The shard id
    #[arg(long = "shard_id", visible_alias = "sid")]
    pub shard_id: i32,
}

#[derive(Debug, Subcommand)]
pub enum AdminClusterCmd {
    /// Describe the cluster: name, version, shard count, persistence
    #[command(visible_alias = "d")]
    Describe(AdminClusterDescribeArgs),
    /// List the search attributes that can be used in list queries
    #[command(name = "get-search-attributes", visible_alias = "gsa")]
    GetSearchAttributes,
}

#[derive(Debug, Args)]
pub struct AdminClusterDescribeArgs {
    /// Remote cluster name (only the local cluster is known to this build)
    #[arg(long = "cluster")]
    pub cluster: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DynamicConfigCmd {
    /// Show the effective dynamic config for a namespace (and task queue)
    #[command(visible_alias = "d")]
    Describe(DynamicConfigDescribeArgs),
}

#[derive(Debug, Args)]
pub struct DynamicConfigDescribeArgs {
    #[command(flatten)]
    pub taskqueue: TaskQueueArg,
    /// Task type for task-queue keys, with --taskqueue: workflow (default) or activity
    #[arg(long = "task_type", visible_alias = "tqt")]
    pub task_type: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AdminWorkflowCmd {
    /// Delete a workflow execution
    #[command(visible_alias = "del")]
    Delete(DeleteArgs),
}
