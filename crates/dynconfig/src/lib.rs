//! Dynamic config for Sundial: Temporal's `dynamicconfig/*.yaml` format
//! (`key: [{value, constraints}]`), a typed registry of settings ([`keys`]), hot reload of the
//! file when its mtime changes, and lock-free snapshot reads for request paths.
//!
//! ```
//! use sundial_dynconfig::{DynamicConfig, Scope, TaskType, keys};
//! let dc = DynamicConfig::from_yaml_str(
//!     "workflow.workflowTaskTimeout:\n  - value: 10s\n    constraints: {namespace: order-service}\n",
//! ).unwrap();
//! let t = dc.get(&keys::WORKFLOW_TASK_TIMEOUT, &Scope::namespace("order-service"));
//! assert_eq!(t, std::time::Duration::from_secs(10));
//! let pollers = dc.get(&keys::MAX_TASK_QUEUE_POLLERS, &Scope::task_queue("ns", "tq", TaskType::Workflow));
//! assert_eq!(pollers, 0);
//! ```
//!
//! Precedence (as Temporal): an entry applies only if its constraint set *equals* one of the
//! candidates for the key's scope, tried in order — namespace keys: {namespace},
//! {namespaceID}, {}; task-queue keys: {namespace, taskQueueName, taskType},
//! {namespace, taskQueueName}, {taskQueueName}, {namespace}, {}; global keys: {}. No match:
//! the compiled-in default. `--dynamic-config-value` overrides replace every file entry of
//! their key.

pub mod keys;
pub mod limits;
mod parse;
mod value;

pub use keys::{ScopeKind, Setting, SettingDef};
pub use parse::{Constraints, Diagnostic, Entry, Level, edit_distance, suggest};
pub use value::{Kind, RetryPolicy, SettingValue, Value, format_duration, parse_duration};

use arc_swap::ArcSwap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, SystemTime};

/// Temporal's minimum poll interval for the dynamic config file.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Poll interval when the static config does not give one.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// Task queue type, for the `taskType` constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskType {
    Workflow,
    Activity,
}

impl TaskType {
    pub fn name(self) -> &'static str {
        match self {
            TaskType::Workflow => "Workflow",
            TaskType::Activity => "Activity",
        }
    }

    /// From `temporal.api.enums.v1.TaskQueueType` (1 workflow, 2 activity).
    pub fn from_proto(v: i32) -> Option<TaskType> {
        match v {
            1 => Some(TaskType::Workflow),
            2 => Some(TaskType::Activity),
            _ => None,
        }
    }

    /// `Workflow`/`Activity` (any case, also `TASK_QUEUE_TYPE_WORKFLOW`) or the enum number.
    pub fn from_json(v: &serde_json::Value) -> Option<TaskType> {
        match v {
            serde_json::Value::Number(n) => n
                .as_i64()
                .and_then(|i| i32::try_from(i).ok())
                .and_then(Self::from_proto),
            serde_json::Value::String(s) => {
                let s = s.trim().to_ascii_lowercase();
                match s.strip_prefix("task_queue_type_").unwrap_or(&s) {
                    "workflow" => Some(TaskType::Workflow),
                    "activity" => Some(TaskType::Activity),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// Where an effective value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Override,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "file",
            Source::Override => "override",
        }
    }
}

/// What a read is about: the namespace (and ID) and task queue of the request. Fields a key's
/// scope does not use are ignored. Borrowed, so building one never allocates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scope<'a> {
    pub namespace: Option<&'a str>,
    pub namespace_id: Option<&'a str>,
    pub task_queue: Option<&'a str>,
    pub task_type: Option<TaskType>,
}

impl<'a> Scope<'a> {
    /// No namespace: only unconstrained entries apply.
    pub const fn global() -> Scope<'a> {
        Scope {
            namespace: None,
            namespace_id: None,
            task_queue: None,
            task_type: None,
        }
    }

    pub const fn namespace(namespace: &'a str) -> Scope<'a> {
        Scope {
            namespace: Some(namespace),
            ..Scope::global()
        }
    }

    pub const fn task_queue(namespace: &'a str, task_queue: &'a str, task_type: TaskType) -> Scope<'a> {
        Scope {
            namespace: Some(namespace),
            namespace_id: None,
            task_queue: Some(task_queue),
            task_type: Some(task_type),
        }
    }

    /// Also match entries constrained by `namespaceID`.
    pub const fn with_namespace_id(mut self, namespace_id: &'a str) -> Scope<'a> {
        self.namespace_id = Some(namespace_id);
        self
    }
}

/// Partition counts above this are treated as this (a typo of 10000 must not lease 10000 rows).
pub const MAX_PARTITIONS: u32 = 1000;

/// A queue's (read, write) partition counts (`matching.numTaskqueueReadPartitions`,
/// `matching.numTaskqueueWritePartitions`), each between 1 and `MAX_PARTITIONS`. Callers
/// pick a partition with them (frontend polls, history adds); without a config, the defaults.
pub fn partition_counts(
    dc: Option<&DynamicConfig>,
    namespace: &str,
    namespace_id: &str,
    queue: &str,
    task_type: TaskType,
) -> (u32, u32) {
    let scope = Scope::task_queue(namespace, queue, task_type).with_namespace_id(namespace_id);
    let get = |key: &Setting<i64>| dc.map_or(key.default, |dc| dc.get(key, &scope));
    let clamp = |n: i64| n.clamp(1, i64::from(MAX_PARTITIONS)) as u32;
    (
        clamp(get(&keys::MATCHING_NUM_TASKQUEUE_READ_PARTITIONS)),
        clamp(get(&keys::MATCHING_NUM_TASKQUEUE_WRITE_PARTITIONS)),
    )
}

/// Why a config could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading dynamic config {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}", describe_invalid(origin, diagnostics))]
    Invalid {
        origin: String,
        diagnostics: Vec<Diagnostic>,
    },
}

fn describe_invalid(origin: &str, diagnostics: &[Diagnostic]) -> String {
    let mut s = format!("invalid dynamic config in {origin}");
    for d in diagnostics.iter().filter(|d| d.is_error()) {
        let _ = write!(s, "\n  {d}");
    }
    s
}

/// An immutable parsed config. Reads through a snapshot see one consistent version.
#[derive(Debug)]
pub struct Snapshot {
    entries: Vec<Vec<Entry>>,
    generation: u64,
}

impl Snapshot {
    /// The value of `setting` for `scope`.
    #[inline]
    pub fn get<T: SettingValue>(&self, setting: &Setting<T>, scope: &Scope<'_>) -> T {
        match self.lookup(&setting.def, scope) {
            Some(e) => T::from_value(&e.value).unwrap_or(setting.default),
            None => setting.default,
        }
    }

    /// Increases with every reload that changed something.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The winning entry, if any (no allocation: entries are compared as `&str`).
    pub fn lookup(&self, def: &SettingDef, scope: &Scope<'_>) -> Option<&Entry> {
        let list = self.entries.get(def.index)?;
        let mut best: Option<(u8, &Entry)> = None;
        for e in list {
            if let Some(r) = rank(&e.constraints, def.scope, scope)
                && best.is_none_or(|(b, _)| r < b)
            {
                if r == 0 {
                    return Some(e);
                }
                best = Some((r, e));
            }
        }
        best.map(|(_, e)| e)
    }

    /// Every entry given for `def` (file or override), in tie-break order.
    pub fn entries(&self, def: &SettingDef) -> &[Entry] {
        self.entries.get(def.index).map_or(&[], Vec::as_slice)
    }
}

/// Position of `c` in the precedence list of `kind` for `s`; None when it does not apply.
#[inline]
fn rank(c: &Constraints, kind: ScopeKind, s: &Scope<'_>) -> Option<u8> {
    if let Some(n) = c.namespace.as_deref()
        && s.namespace != Some(n)
    {
        return None;
    }
    if let Some(id) = c.namespace_id.as_deref()
        && s.namespace_id != Some(id)
    {
        return None;
    }
    if let Some(tq) = c.task_queue.as_deref()
        && s.task_queue != Some(tq)
    {
        return None;
    }
    if let Some(tt) = c.task_type
        && s.task_type != Some(tt)
    {
        return None;
    }
    let present = (
        c.namespace.is_some(),
        c.namespace_id.is_some(),
        c.task_queue.is_some(),
        c.task_type.is_some(),
    );
    match kind {
        ScopeKind::Global => (present == (false, false, false, false)).then_some(0),
        ScopeKind::Namespace => match present {
            (true, false, false, false) => Some(0),
            (false, true, false, false) => Some(1),
            (false, false, false, false) => Some(2),
            _ => None,
        },
        ScopeKind::TaskQueue => match present {
            (true, false, true, true) => Some(0),
            (true, false, true, false) => Some(1),
            (false, false, true, false) => Some(2),
            (true, false, false, false) => Some(3),
            (false, false, false, false) => Some(4),
            _ => None,
        },
    }
}

/// The effective value of one key for a scope (the admin view).
#[derive(Clone, Debug, PartialEq)]
pub struct EffectiveValue {
    /// Main name.
    pub key: &'static str,
    pub aliases: Vec<&'static str>,
    pub kind: Kind,
    pub scope: ScopeKind,
    pub value: serde_json::Value,
    pub source: Source,
    /// The name the winning entry was written under (None for the default).
    pub written_as: Option<&'static str>,
    /// The winning entry's constraints, e.g. `{namespace=order-service}`.
    pub constraints: Option<String>,
    pub live: bool,
    pub unit: &'static str,
}

impl EffectiveValue {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "key": self.key,
            "aliases": self.aliases,
            "type": self.kind.name(),
            "scope": self.scope.name(),
            "value": self.value,
            "source": self.source.as_str(),
            "writtenAs": self.written_as,
            "constraints": self.constraints,
            "live": self.live,
            "unit": self.unit,
        })
    }
}

/// Renders an admin view as an aligned text table.
pub fn render_effective_table(values: &[EffectiveValue]) -> String {
    let rows: Vec<[String; 4]> = values
        .iter()
        .map(|v| {
            let mut value = v.value.to_string();
            if !v.unit.is_empty() {
                let _ = write!(value, " {}", v.unit);
            }
            let mut from = v.source.as_str().to_owned();
            if let Some(c) = &v.constraints {
                let _ = write!(from, " {c}");
            }
            if let Some(w) = v.written_as.filter(|w| *w != v.key) {
                let _ = write!(from, " as {w}");
            }
            [
                v.key.to_owned(),
                value,
                from,
                if v.live { "" } else { "restart" }.to_owned(),
            ]
        })
        .collect();
    let header = ["KEY", "VALUE", "SOURCE", "APPLIES"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(header.map(str::to_owned)).chain(rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

struct FileState {
    path: PathBuf,
    stamp: Mutex<Option<FileStamp>>,
}

struct Inner {
    current: ArcSwap<Snapshot>,
    overrides: Vec<Vec<Entry>>,
    file: Option<FileState>,
}

/// The live dynamic config: cheap to clone (one `Arc`), `Send + Sync`. Reads are a lock-free
/// snapshot load plus a scan of the key's few entries; no I/O, no allocation.
#[derive(Clone)]
pub struct DynamicConfig {
    inner: Arc<Inner>,
}

impl Default for DynamicConfig {
    /// Every setting at its default.
    fn default() -> Self {
        Self::build(Vec::new(), None, None)
    }
}

impl std::fmt::Debug for DynamicConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicConfig")
            .field("file", &self.file_path())
            .field("generation", &self.snapshot().generation)
            .finish()
    }
}

/// Stops the file poller of a [`DynamicConfig`]. Dropping it does not stop polling; polling
/// also ends by itself once every clone of the config is dropped.
#[must_use = "keep it to stop the poller with stop(), or drop it to let the poller run"]
#[derive(Debug)]
pub struct ReloadHandle {
    signal: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ReloadHandle {
    /// Stops polling and waits for the poller thread to end.
    pub fn stop(mut self) {
        let (lock, cv) = &*self.signal;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Parses one `--dynamic-config-value KEY=VALUE`: VALUE is JSON (`true`, `10`, `"10s"`,
/// `{"maximumAttempts": 3}`); text that is not JSON is taken as a string, so `KEY=10s` works.
pub fn parse_cli_value(arg: &str) -> Result<(String, serde_json::Value), String> {
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| format!("{arg:?} is not KEY=VALUE (e.g. limit.maxIDLength=255)"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("{arg:?} has no key before '='"));
    }
    let value = serde_json::from_str(raw).unwrap_or_else(|_| serde_json::Value::String(raw.to_owned()));
    Ok((key.to_owned(), value))
}

/// Checks a file the way `sundial validate-dynamic-config` does. Errors are the diagnostics
/// with [`Diagnostic::is_error`].
pub fn validate_file(path: &Path) -> Result<Vec<Diagnostic>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(validate_str(&text))
}

/// Checks YAML text; see [`validate_file`].
pub fn validate_str(text: &str) -> Vec<Diagnostic> {
    parse::parse_yaml(text).diagnostics
}

impl DynamicConfig {
    fn build(file_entries: Vec<Vec<Entry>>, overrides: Option<Vec<Vec<Entry>>>, file: Option<FileState>) -> Self {
        let overrides = overrides.unwrap_or_else(|| (0..keys::ALL.len()).map(|_| Vec::new()).collect());
        let mut snapshot = merge(file_entries, &overrides);
        snapshot.generation = 1;
        DynamicConfig {
            inner: Arc::new(Inner {
                current: ArcSwap::from_pointee(snapshot),
                overrides,
                file,
            }),
        }
    }

    /// A static config from YAML text (tests, tools). Invalid text is an error; unknown keys
    /// are logged and ignored.
    pub fn from_yaml_str(text: &str) -> Result<Self, Error> {
        let parsed = parse::parse_yaml(text);
        check_loaded(&parsed, "<text>")?;
        Ok(Self::build(parsed.entries, None, None))
    }

    /// The `--dynamic-config-value KEY=JSON` values of `start-dev`, with no file. Unknown keys
    /// and unusable constraints are errors here.
    pub fn from_values(values: Vec<(String, serde_json::Value)>) -> Result<Self, Error> {
        let overrides = parse_overrides(&values)?;
        Ok(Self::build(Vec::new(), Some(overrides), None))
    }

    /// Loads `path` and polls it every `poll_interval`, reloading when its mtime (or size)
    /// changes. The caller enforces [`MIN_POLL_INTERVAL`] for user-given intervals.
    pub fn from_file(path: impl Into<PathBuf>, poll_interval: Duration) -> Result<(Self, ReloadHandle), Error> {
        Self::from_file_with_values(path, poll_interval, Vec::new())
    }

    /// [`from_file`](Self::from_file) with `--dynamic-config-value` overrides on top: an
    /// override replaces every file entry of its key, across reloads.
    pub fn from_file_with_values(
        path: impl Into<PathBuf>,
        poll_interval: Duration,
        values: Vec<(String, serde_json::Value)>,
    ) -> Result<(Self, ReloadHandle), Error> {
        let path = path.into();
        let overrides = parse_overrides(&values)?;
        let (parsed, stamp) = read_file(&path)?;
        check_loaded(&parsed, &path.display().to_string())?;
        let dc = Self::build(
            parsed.entries,
            Some(overrides),
            Some(FileState {
                path: path.clone(),
                stamp: Mutex::new(Some(stamp)),
            }),
        );
        tracing::info!(file = %path.display(), poll_interval = ?poll_interval, "dynamic config loaded");
        let handle = dc.spawn_poller(poll_interval);
        Ok((dc, handle))
    }

    fn spawn_poller(&self, poll_interval: Duration) -> ReloadHandle {
        let signal = Arc::new((Mutex::new(false), Condvar::new()));
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let thread_signal = signal.clone();
        let thread = std::thread::Builder::new()
            .name("dynconfig-poll".into())
            .spawn(move || {
                let (lock, cv) = &*thread_signal;
                loop {
                    let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                    let (guard, _) = cv
                        .wait_timeout_while(guard, poll_interval, |stopped| !*stopped)
                        .unwrap_or_else(|e| e.into_inner());
                    if *guard {
                        return;
                    }
                    drop(guard);
                    let Some(inner) = weak.upgrade() else { return };
                    let _ = DynamicConfig { inner }.reload_if_changed();
                }
            })
            .map_err(|e| tracing::error!("cannot start the dynamic config poller: {e}; the file will not be reloaded"))
            .ok();
        ReloadHandle { signal, thread }
    }

    /// Re-reads the file if its mtime or size changed since the last read. Returns whether a
    /// new config was installed. A file that fails to parse keeps the previous config (the
    /// reason is logged and returned); later polls retry it only after it changes again.
    pub fn reload_if_changed(&self) -> Result<bool, Error> {
        let Some(file) = &self.inner.file else { return Ok(false) };
        let stamp = match stamp_of(&file.path) {
            Ok(s) => s,
            Err(source) => {
                let err = Error::Io {
                    path: file.path.clone(),
                    source,
                };
                tracing::warn!("{err}; keeping the previous dynamic config");
                return Err(err);
            }
        };
        {
            let mut last = file.stamp.lock().unwrap_or_else(|e| e.into_inner());
            if *last == Some(stamp) {
                return Ok(false);
            }
            *last = Some(stamp);
        }
        self.reload_from_disk()
    }

    /// Re-reads the file unconditionally; see [`reload_if_changed`](Self::reload_if_changed).
    pub fn reload_from_disk(&self) -> Result<bool, Error> {
        let Some(file) = &self.inner.file else { return Ok(false) };
        let parsed = match read_file(&file.path) {
            Ok((p, _)) => p,
            Err(e) => {
                tracing::warn!("{e}; keeping the previous dynamic config");
                return Err(e);
            }
        };
        if let Err(e) = check_loaded(&parsed, &file.path.display().to_string()) {
            tracing::error!("{e}\nkeeping the previous dynamic config");
            return Err(e);
        }
        Ok(self.install(parsed.entries))
    }

    fn install(&self, file_entries: Vec<Vec<Entry>>) -> bool {
        let old = self.inner.current.load_full();
        let mut new = merge(file_entries, &self.inner.overrides);
        let mut changed = false;
        for def in keys::ALL {
            let (before, after) = (&old.entries[def.index], &new.entries[def.index]);
            if before != after {
                changed = true;
                tracing::info!(
                    key = def.name,
                    "dynamic config changed: {} -> {}{}",
                    describe_entries(before),
                    describe_entries(after),
                    if def.live { "" } else { " (applies after a restart)" }
                );
            }
        }
        if changed {
            new.generation = old.generation + 1;
            self.inner.current.store(Arc::new(new));
        }
        changed
    }

    /// The value of `setting` for `scope`: the most specific matching entry, else the default.
    #[inline]
    pub fn get<T: SettingValue>(&self, setting: &Setting<T>, scope: &Scope<'_>) -> T {
        self.inner.current.load().get(setting, scope)
    }

    /// The current snapshot, to read several settings from one version.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.current.load_full()
    }

    /// Increases whenever a reload changes something.
    pub fn generation(&self) -> u64 {
        self.inner.current.load().generation
    }

    /// The watched file, if any.
    pub fn file_path(&self) -> Option<&Path> {
        self.inner.file.as_ref().map(|f| f.path.as_path())
    }

    /// The admin view: every setting's effective value for `scope`, in registry order.
    pub fn effective(&self, scope: &Scope<'_>) -> Vec<EffectiveValue> {
        let snap = self.inner.current.load();
        keys::ALL
            .iter()
            .map(|def| {
                let hit = snap.lookup(def, scope);
                EffectiveValue {
                    key: def.name,
                    aliases: def.aliases.iter().map(|a| a.name).collect(),
                    kind: def.kind,
                    scope: def.scope,
                    value: hit.map_or(def.default, |e| e.value).to_json(),
                    source: hit.map_or(Source::Default, |e| e.source),
                    written_as: hit.map(|e| e.key),
                    constraints: hit.map(|e| e.constraints.to_string()),
                    live: def.live,
                    unit: def.unit,
                }
            })
            .collect()
    }

    /// [`effective`](Self::effective) as a JSON array.
    pub fn effective_json(&self, scope: &Scope<'_>) -> serde_json::Value {
        serde_json::Value::Array(self.effective(scope).iter().map(EffectiveValue::to_json).collect())
    }
}

fn describe_entries(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "default".into();
    }
    let parts: Vec<String> = entries
        .iter()
        .map(|e| {
            if e.constraints.is_empty() {
                e.value.to_string()
            } else {
                format!("{} for {}", e.value, e.constraints)
            }
        })
        .collect();
    parts.join("; ")
}

fn merge(mut file_entries: Vec<Vec<Entry>>, overrides: &[Vec<Entry>]) -> Snapshot {
    file_entries.resize_with(keys::ALL.len(), Vec::new);
    for (i, o) in overrides.iter().enumerate() {
        if !o.is_empty() {
            file_entries[i] = o.clone();
        }
    }
    Snapshot {
        entries: file_entries,
        generation: 0,
    }
}

fn parse_overrides(values: &[(String, serde_json::Value)]) -> Result<Vec<Vec<Entry>>, Error> {
    let parsed = parse::parse_values(values);
    if parsed.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(Error::Invalid {
            origin: "--dynamic-config-value".into(),
            diagnostics: parsed.diagnostics,
        });
    }
    for d in &parsed.diagnostics {
        tracing::warn!("--dynamic-config-value {d}");
    }
    Ok(parsed.entries)
}

fn check_loaded(parsed: &parse::Parsed, origin: &str) -> Result<(), Error> {
    if parsed.is_invalid() {
        return Err(Error::Invalid {
            origin: origin.to_owned(),
            diagnostics: parsed
                .diagnostics
                .iter()
                .filter(|d| d.level == Level::Invalid)
                .cloned()
                .collect(),
        });
    }
    for d in &parsed.diagnostics {
        tracing::warn!("dynamic config {origin}: {d}");
    }
    Ok(())
}

fn stamp_of(path: &Path) -> std::io::Result<FileStamp> {
    let meta = std::fs::metadata(path)?;
    Ok(FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

fn read_file(path: &Path) -> Result<(parse::Parsed, FileStamp), Error> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let stamp = stamp_of(path).map_err(io)?;
    let text = std::fs::read_to_string(path).map_err(io)?;
    Ok((parse::parse_yaml(&text), stamp))
}

#[cfg(test)]
mod tests;
