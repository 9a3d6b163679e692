//! Parsing Temporal's dynamic config file format into per-setting entry lists, with
//! diagnostics that carry line numbers and "did you mean" suggestions.

use crate::keys::{self, ScopeKind};
use crate::value::{self, Value, describe_json};
use crate::{Source, TaskType};
use std::fmt;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// A key the Temporal server knows and Sundial does not implement: accepted, with a
    /// warning, without effect.
    Ignored,
    /// A key no setting has: ignored when loading, an error for `validate-dynamic-config`.
    UnknownKey,
    /// An entry whose constraints its key's scope cannot use: the entry never applies.
    /// Ignored when loading, an error for `validate-dynamic-config`.
    UnusableConstraints,
    /// Broken YAML, a wrong shape, or a value of the wrong type: the whole file is rejected
    /// (at start the server refuses to start; on reload the previous config is kept).
    Invalid,
}

/// One finding about a file or a `--dynamic-config-value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: Level,
    /// 1-based line of the key (or of the YAML error), when known.
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl Diagnostic {
    /// Whether `validate-dynamic-config` fails on it.
    pub fn is_error(&self) -> bool {
        self.level >= Level::UnknownKey
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// The constraints of one entry. Strings are compared exactly (namespace and task queue
/// names are case-sensitive, as in Temporal).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Constraints {
    pub namespace: Option<Box<str>>,
    pub namespace_id: Option<Box<str>>,
    pub task_queue: Option<Box<str>>,
    pub task_type: Option<TaskType>,
}

impl Constraints {
    pub fn is_empty(&self) -> bool {
        self.namespace.is_none() && self.namespace_id.is_none() && self.task_queue.is_none() && self.task_type.is_none()
    }

    /// Whether a setting of `scope` can ever use this constraint set.
    pub(crate) fn usable_for(&self, scope: ScopeKind) -> bool {
        let (ns, id, tq, tt) = (
            self.namespace.is_some(),
            self.namespace_id.is_some(),
            self.task_queue.is_some(),
            self.task_type.is_some(),
        );
        match scope {
            ScopeKind::Global => self.is_empty(),
            ScopeKind::Namespace => !(tq || tt || (ns && id)),
            ScopeKind::TaskQueue => {
                !id && matches!(
                    (ns, tq, tt),
                    (true, true, true)
                        | (true, true, false)
                        | (false, true, false)
                        | (true, false, false)
                        | (false, false, false)
                )
            }
        }
    }
}

impl fmt::Display for Constraints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(ns) = &self.namespace {
            parts.push(format!("namespace={ns}"));
        }
        if let Some(id) = &self.namespace_id {
            parts.push(format!("namespaceID={id}"));
        }
        if let Some(tq) = &self.task_queue {
            parts.push(format!("taskQueueName={tq}"));
        }
        if let Some(tt) = self.task_type {
            parts.push(format!("taskType={}", tt.name()));
        }
        if parts.is_empty() {
            f.write_str("{}")
        } else {
            write!(f, "{{{}}}", parts.join(", "))
        }
    }
}

/// One `{value, constraints}` of a setting, converted.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub constraints: Constraints,
    pub value: Value,
    pub source: Source,
    /// The key name it was written under (main name or alias).
    pub key: &'static str,
    pub(crate) tiebreak: u8,
}

/// A parsed file or value list: entries per setting (indexed like `keys::ALL`) plus findings.
#[derive(Debug)]
pub struct Parsed {
    pub entries: Vec<Vec<Entry>>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    fn new() -> Parsed {
        Parsed {
            entries: (0..keys::ALL.len()).map(|_| Vec::new()).collect(),
            diagnostics: Vec::new(),
        }
    }

    pub fn is_invalid(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Invalid)
    }

    /// Orders each setting's entries so that, among equal constraint sets, the winning name
    /// comes first (stable, so file order decides otherwise).
    fn finish(mut self) -> Parsed {
        for list in &mut self.entries {
            list.sort_by_key(|e| e.tiebreak);
        }
        self
    }
}

/// Parses a dynamic config YAML document.
pub fn parse_yaml(text: &str) -> Parsed {
    let mut out = Parsed::new();
    let doc: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            out.diagnostics.push(Diagnostic {
                level: Level::Invalid,
                line: e.location().map(|l| l.line()),
                key: None,
                message: format!("not valid YAML: {e}"),
            });
            return out;
        }
    };
    let map = match doc {
        serde_yaml::Value::Null => return out,
        serde_yaml::Value::Mapping(m) => m,
        other => {
            out.diagnostics.push(Diagnostic {
                level: Level::Invalid,
                line: Some(1),
                key: None,
                message: format!(
                    "the file must be a map of keys to lists of {{value, constraints}}, not {}",
                    yaml_kind(&other)
                ),
            });
            return out;
        }
    };
    let lines = key_lines(text);
    let mut seen: Vec<String> = Vec::new();
    for (k, v) in map {
        let Some(key) = k.as_str() else {
            out.diagnostics.push(Diagnostic {
                level: Level::Invalid,
                line: None,
                key: None,
                message: format!("keys must be strings, not {}", yaml_kind(&k)),
            });
            continue;
        };
        let line = lines.iter().find(|(name, _)| name == key).map(|(_, l)| *l);
        let lower = key.to_ascii_lowercase();
        if seen.contains(&lower) {
            out.diagnostics.push(Diagnostic {
                level: Level::Invalid,
                line,
                key: Some(key.to_owned()),
                message: "given twice (keys are case-insensitive); merge the lists".into(),
            });
            continue;
        }
        seen.push(lower);
        let json = match serde_json::to_value(&v) {
            Ok(j) => j,
            Err(e) => {
                out.diagnostics.push(Diagnostic {
                    level: Level::Invalid,
                    line,
                    key: Some(key.to_owned()),
                    message: format!("cannot be read: {e}"),
                });
                continue;
            }
        };
        add_key(&mut out, key, &json, line, Source::File);
    }
    out.finish()
}

/// Parses `--dynamic-config-value KEY=JSON` pairs. A value that is a list of
/// `{value, constraints}` maps is taken as the file format; anything else is one value with
/// no constraints.
pub fn parse_values(values: &[(String, serde_json::Value)]) -> Parsed {
    let mut out = Parsed::new();
    for (key, v) in values {
        let is_list = v
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|i| i.get("value").is_some()));
        if is_list {
            add_key(&mut out, key, v, None, Source::Override);
        } else {
            let wrapped = serde_json::json!([{ "value": v }]);
            add_key(&mut out, key, &wrapped, None, Source::Override);
        }
    }
    out.finish()
}

fn add_key(out: &mut Parsed, key: &str, list: &serde_json::Value, line: Option<usize>, source: Source) {
    let diag = |level: Level, message: String| Diagnostic {
        level,
        line,
        key: Some(key.to_owned()),
        message,
    };
    let Some(info) = keys::lookup(key) else {
        if keys::is_temporal_key(key) {
            out.diagnostics.push(diag(
                Level::Ignored,
                "a Temporal server key that Sundial does not implement; it has no effect".into(),
            ));
        } else {
            let mut message = "unknown key".to_owned();
            if let Some(s) = suggest(key, keys::all_names()) {
                message.push_str(&format!(" (did you mean {s:?}?)"));
            }
            out.diagnostics.push(diag(Level::UnknownKey, message));
        }
        return;
    };
    let def = keys::ALL[info.setting];
    let items = match list {
        serde_json::Value::Array(items) => items.as_slice(),
        serde_json::Value::Null => &[],
        other => {
            out.diagnostics.push(diag(
                Level::Invalid,
                format!(
                    "must be a list of {{value, constraints}} entries (\"- value: …\"), not {}",
                    describe_json(other)
                ),
            ));
            return;
        }
    };
    for (i, item) in items.iter().enumerate() {
        let at = if items.len() > 1 {
            format!("entry {}: ", i + 1)
        } else {
            String::new()
        };
        let Some(obj) = item.as_object() else {
            out.diagnostics.push(diag(
                Level::Invalid,
                format!(
                    "{at}each entry must be a map with `value` (and optional `constraints`), not {}",
                    describe_json(item)
                ),
            ));
            continue;
        };
        let mut raw_value = None;
        let mut raw_constraints = None;
        let mut bad_field = false;
        for (field, fv) in obj {
            match field.to_ascii_lowercase().as_str() {
                "value" => raw_value = Some(fv),
                "constraints" => raw_constraints = Some(fv),
                _ => {
                    let mut m = format!("{at}unknown field {field:?} in an entry");
                    if let Some(s) = suggest(field, ["value", "constraints"].into_iter()) {
                        m.push_str(&format!(" (did you mean {s:?}?)"));
                    }
                    out.diagnostics.push(diag(Level::Invalid, m));
                    bad_field = true;
                }
            }
        }
        if bad_field {
            continue;
        }
        let Some(raw_value) = raw_value else {
            out.diagnostics
                .push(diag(Level::Invalid, format!("{at}entry has no `value`")));
            continue;
        };
        let constraints = match raw_constraints.map(parse_constraints).transpose() {
            Ok(c) => c.unwrap_or_default(),
            Err(m) => {
                out.diagnostics.push(diag(Level::Invalid, format!("{at}{m}")));
                continue;
            }
        };
        let value = match value::convert(def.kind, info.scale, raw_value) {
            Ok(v) => v,
            Err(m) => {
                out.diagnostics.push(diag(Level::Invalid, format!("{at}{m}")));
                continue;
            }
        };
        if !constraints.usable_for(def.scope) {
            out.diagnostics.push(diag(Level::UnusableConstraints, format!(
                "{at}constraints {constraints} can never apply: {} is a {}-scoped key{}; this entry is ignored",
                def.name,
                def.scope.name(),
                match def.scope {
                    ScopeKind::Global => ", which takes no constraints",
                    ScopeKind::Namespace => ", which takes `namespace` or `namespaceID` only",
                    ScopeKind::TaskQueue =>
                        ", which takes {namespace, taskQueueName, taskType}, {namespace, taskQueueName}, {taskQueueName} or {namespace}",
                }
            )));
            continue;
        }
        if let Some(dup) = out.entries[def.index]
            .iter()
            .find(|e| e.constraints == constraints && e.tiebreak == info.tiebreak)
        {
            let msg = format!(
                "{at}constraints {constraints} are given twice (also under {}); the first one is used",
                dup.key
            );
            out.diagnostics.push(diag(Level::UnusableConstraints, msg));
            continue;
        }
        out.entries[def.index].push(Entry {
            constraints,
            value,
            source,
            key: info.name,
            tiebreak: info.tiebreak,
        });
    }
}

fn parse_constraints(v: &serde_json::Value) -> Result<Constraints, String> {
    let mut c = Constraints::default();
    let obj = match v {
        serde_json::Value::Null => return Ok(c),
        serde_json::Value::Object(o) => o,
        other => return Err(format!("`constraints` must be a map, not {}", describe_json(other))),
    };
    let string = |name: &str, v: &serde_json::Value| -> Result<Box<str>, String> {
        match v {
            serde_json::Value::String(s) if !s.is_empty() => Ok(s.as_str().into()),
            other => Err(format!(
                "constraint {name} must be a non-empty string, not {}",
                describe_json(other)
            )),
        }
    };
    for (field, fv) in obj {
        match field.to_ascii_lowercase().as_str() {
            "namespace" => c.namespace = Some(string(field, fv)?),
            "namespaceid" => c.namespace_id = Some(string(field, fv)?),
            "taskqueuename" => c.task_queue = Some(string(field, fv)?),
            "tasktype" => {
                c.task_type = Some(TaskType::from_json(fv).ok_or_else(|| {
                    format!(
                        "constraint taskType must be Workflow or Activity, not {}",
                        describe_json(fv)
                    )
                })?)
            }
            "historytasktype" | "shardid" | "destination" | "chasmtasktype" => {
                return Err(format!("constraint {field} is not supported by Sundial"));
            }
            _ => {
                let mut m = format!("unknown constraint {field:?}");
                if let Some(s) = suggest(
                    field,
                    ["namespace", "namespaceID", "taskQueueName", "taskType"].into_iter(),
                ) {
                    m.push_str(&format!(" (did you mean {s:?}?)"));
                }
                return Err(m);
            }
        }
    }
    Ok(c)
}

fn yaml_kind(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Null => "empty",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a map",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

/// Top-level keys and their 1-based lines (lines starting in column 0 with `key:`).
fn key_lines(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with([' ', '\t', '#', '-']) || line.is_empty() {
            continue;
        }
        if let Some(colon) = line.find(':') {
            let name = line[..colon].trim().trim_matches(['"', '\'']);
            out.push((name.to_owned(), i + 1));
        }
    }
    out
}

/// Edit distance between two strings, case-insensitive.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate to `word`: by edit distance (at most a third of its length), or one
/// whose part after the last `.` is the same (`history.enableStickyQuery` →
/// `worker.enableStickyQuery`).
pub fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let suffix = |s: &str| s.rsplit('.').next().unwrap_or(s).to_ascii_lowercase();
    let word_suffix = suffix(word);
    let limit = (word.chars().count() / 3).max(2);
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        let mut d = edit_distance(word, c);
        if d > limit && word.contains('.') && suffix(c) == word_suffix {
            d = limit;
        }
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("workflow.workflowTaskTimout", keys::all_names()),
            Some("workflow.workflowTaskTimeout")
        );
        assert_eq!(
            suggest("limit.maxTaskQueuePoller", keys::all_names()),
            Some("limit.maxTaskQueuePollers")
        );
        assert_eq!(
            suggest("frontend.enableStickyQuery", keys::all_names()),
            Some("worker.enableStickyQuery")
        );
        assert_eq!(suggest("completely.different", keys::all_names()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("ABC", "abc"), 0);
    }

    #[test]
    fn diagnostics_carry_lines_and_levels() {
        let text = "\
# comment
workflow.workflowTaskTimout:
  - value: 10s
limit.maxTaskQueuePollers:
  - value: 5
    constraints:
      namespace: a
      taskType: Workflow
system.enableNexus:
  - value: true
workflow.workflowRunTimeout:
  - value: 10x
";
        let p = parse_yaml(text);
        let find = |key: &str| {
            p.diagnostics
                .iter()
                .find(|d| d.key.as_deref() == Some(key))
                .unwrap_or_else(|| panic!("no diagnostic for {key}: {:?}", p.diagnostics))
        };
        let unknown = find("workflow.workflowTaskTimout");
        assert_eq!((unknown.level, unknown.line), (Level::UnknownKey, Some(2)));
        assert!(
            unknown
                .to_string()
                .contains("did you mean \"workflow.workflowTaskTimeout\"")
        );
        assert_eq!(find("limit.maxTaskQueuePollers").level, Level::UnusableConstraints);
        assert_eq!(find("system.enableNexus").level, Level::Ignored);
        let bad = find("workflow.workflowRunTimeout");
        assert_eq!((bad.level, bad.line), (Level::Invalid, Some(11)));
        assert!(p.is_invalid());

        let broken = parse_yaml("a: [\n");
        assert!(broken.is_invalid());
        assert!(broken.diagnostics[0].line.is_some());
        assert!(parse_yaml("- 1\n- 2\n").is_invalid());
        assert!(!parse_yaml("").is_invalid());
        assert!(parse_yaml("limit.maxIDLength:\n  - value: 1\n    constraint: {}\n").is_invalid());
        assert!(parse_yaml("limit.maxIDLength:\n  - value: 1\n    constraints: {namespaceName: x}\n").is_invalid());
        assert!(parse_yaml("limit.maxIDLength: 5\n").is_invalid());
        assert!(parse_yaml("limit.maxIDLength:\n  - value: 1\nLIMIT.MAXIDLENGTH:\n  - value: 2\n").is_invalid());
    }
}
