//! Visibility: search attributes (system and custom), their typed values, and Temporal's list
//! filter language compiled into a typed, column-resolved [`query::VisibilityQuery`] that the
//! SQL store renders with bound parameters.
//!
//! Custom search attributes are aliases onto the pre-allocated typed columns of
//! `executions_visibility` (`keyword01`…`keyword10`, `int01`…`int03`, …); the namespace's
//! `NamespaceDetail.search_attribute_columns` maps each alias to its column.

pub mod json;
pub mod query;

use std::collections::HashMap;
use sundial_api::sundial::persistence::v1::NamespaceDetail;
use sundial_api::temporal::common::v1::{Payload, SearchAttributes};
use sundial_api::temporal::enums::v1::IndexedValueType;
use sundial_common::ServiceError;

pub use json::Json;

/// The type of a search attribute (Temporal's `IndexedValueType`, without Unspecified).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    Text,
    Keyword,
    Int,
    Double,
    Bool,
    Datetime,
    KeywordList,
}

impl ValueType {
    pub const ALL: [ValueType; 7] = [
        ValueType::Text,
        ValueType::Keyword,
        ValueType::Int,
        ValueType::Double,
        ValueType::Bool,
        ValueType::Datetime,
        ValueType::KeywordList,
    ];

    pub fn from_indexed(v: i32) -> Option<ValueType> {
        Some(match IndexedValueType::try_from(v).ok()? {
            IndexedValueType::Text => ValueType::Text,
            IndexedValueType::Keyword => ValueType::Keyword,
            IndexedValueType::Int => ValueType::Int,
            IndexedValueType::Double => ValueType::Double,
            IndexedValueType::Bool => ValueType::Bool,
            IndexedValueType::Datetime => ValueType::Datetime,
            IndexedValueType::KeywordList => ValueType::KeywordList,
            IndexedValueType::Unspecified => return None,
        })
    }

    pub fn indexed(self) -> IndexedValueType {
        match self {
            ValueType::Text => IndexedValueType::Text,
            ValueType::Keyword => IndexedValueType::Keyword,
            ValueType::Int => IndexedValueType::Int,
            ValueType::Double => IndexedValueType::Double,
            ValueType::Bool => IndexedValueType::Bool,
            ValueType::Datetime => IndexedValueType::Datetime,
            ValueType::KeywordList => IndexedValueType::KeywordList,
        }
    }

    /// Temporal's name, as in payload `type` metadata and the CLI (`Keyword`, `KeywordList`…).
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Text => "Text",
            ValueType::Keyword => "Keyword",
            ValueType::Int => "Int",
            ValueType::Double => "Double",
            ValueType::Bool => "Bool",
            ValueType::Datetime => "Datetime",
            ValueType::KeywordList => "KeywordList",
        }
    }

    pub fn from_name(name: &str) -> Option<ValueType> {
        Self::ALL.into_iter().find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The pre-allocated columns of this type, in allocation order.
    pub fn pool(self) -> &'static [&'static str] {
        match self {
            ValueType::Bool => &["bool01", "bool02", "bool03"],
            ValueType::Datetime => &["datetime01", "datetime02", "datetime03"],
            ValueType::Double => &["double01", "double02", "double03"],
            ValueType::Int => &["int01", "int02", "int03"],
            ValueType::Keyword => &[
                "keyword01",
                "keyword02",
                "keyword03",
                "keyword04",
                "keyword05",
                "keyword06",
                "keyword07",
                "keyword08",
                "keyword09",
                "keyword10",
            ],
            ValueType::Text => &["text01", "text02", "text03"],
            ValueType::KeywordList => &["keywordlist01", "keywordlist02", "keywordlist03"],
        }
    }
}

/// Every pre-allocated custom column, with its type.
pub fn custom_columns() -> impl Iterator<Item = (&'static str, ValueType)> {
    ValueType::ALL
        .into_iter()
        .flat_map(|t| t.pool().iter().map(move |c| (*c, t)))
}

/// The pool column called `name` (any case, e.g. `Keyword01`), as a `'static` identifier that
/// is safe to put in SQL.
pub fn pool_column(name: &str) -> Option<(&'static str, ValueType)> {
    custom_columns().find(|(c, _)| c.eq_ignore_ascii_case(name))
}

/// Where a system search attribute lives, and whether it can be queried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemAttribute {
    pub name: &'static str,
    pub value_type: ValueType,
    /// The column; `None` for attributes Sundial does not index (queries on them are refused).
    pub column: Option<&'static str>,
    /// Whether workflows may set it through their search attributes.
    pub settable: bool,
}

const fn sys(
    name: &'static str,
    value_type: ValueType,
    column: Option<&'static str>,
    settable: bool,
) -> SystemAttribute {
    SystemAttribute {
        name,
        value_type,
        column,
        settable,
    }
}

/// Temporal's system search attributes with their types and Sundial's columns.
pub const SYSTEM_ATTRIBUTES: &[SystemAttribute] = {
    use ValueType::*;
    &[
        sys("WorkflowId", Keyword, Some("workflow_id"), false),
        sys("RunId", Keyword, Some("run_id"), false),
        sys("WorkflowType", Keyword, Some("workflow_type_name"), false),
        sys("ExecutionStatus", Keyword, Some("status"), false),
        sys("StartTime", Datetime, Some("start_time"), false),
        sys("CloseTime", Datetime, Some("close_time"), false),
        sys("ExecutionTime", Datetime, Some("execution_time"), false),
        sys("ExecutionDuration", Int, Some("execution_duration"), false),
        sys("HistoryLength", Int, Some("history_length"), false),
        sys("HistorySizeBytes", Int, Some("history_size_bytes"), false),
        sys("StateTransitionCount", Int, Some("state_transition_count"), false),
        sys("TaskQueue", Keyword, Some("task_queue"), false),
        sys("ParentWorkflowId", Keyword, Some("parent_workflow_id"), false),
        sys("ParentRunId", Keyword, Some("parent_run_id"), false),
        sys("RootWorkflowId", Keyword, Some("root_workflow_id"), false),
        sys("RootRunId", Keyword, Some("root_run_id"), false),
        sys(
            "TemporalChangeVersion",
            KeywordList,
            Some("temporal_change_version"),
            true,
        ),
        sys("BinaryChecksums", KeywordList, None, true),
        sys("BuildIds", KeywordList, None, true),
        sys("BatcherNamespace", Keyword, None, false),
        sys("BatcherUser", Keyword, None, false),
        sys("TemporalExternalPayloadCount", Int, None, false),
        sys("TemporalExternalPayloadSizeBytes", Int, None, false),
        sys("TemporalNamespaceDivision", Keyword, None, false),
        sys("TemporalPauseInfo", KeywordList, None, false),
        sys("TemporalReportedProblems", KeywordList, None, false),
        sys("TemporalSchedulePaused", Bool, None, false),
        sys("TemporalScheduledById", Keyword, None, true),
        sys("TemporalScheduledStartTime", Datetime, None, true),
        sys("TemporalUsedWorkerDeploymentVersions", KeywordList, None, false),
        sys("TemporalWorkerDeployment", Keyword, None, false),
        sys("TemporalWorkerDeploymentVersion", Keyword, None, false),
        sys("TemporalWorkflowVersioningBehavior", Keyword, None, false),
    ]
};

pub fn system_attribute(name: &str) -> Option<&'static SystemAttribute> {
    SYSTEM_ATTRIBUTES.iter().find(|a| a.name == name)
}

/// The system attributes as `ListSearchAttributes` reports them (name → IndexedValueType).
pub fn system_attribute_types() -> HashMap<String, i32> {
    SYSTEM_ATTRIBUTES
        .iter()
        .map(|a| (a.name.to_owned(), a.value_type.indexed() as i32))
        .collect()
}

/// One namespace's custom search attributes: alias → (type, column).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    custom: HashMap<String, (ValueType, &'static str)>,
    /// Queries over standalone activities (ActivityId, ActivityType) instead of workflows.
    activities: bool,
    /// Queries over standalone Nexus operations (OperationId, Endpoint, Service).
    nexus_operations: bool,
}

/// The visibility division of standalone activities.
pub const ACTIVITY_DIVISION: &str = "activity";
/// The visibility division of standalone Nexus operations.
pub const NEXUS_DIVISION: &str = "nexus";

impl Catalog {
    /// Reads the namespace's aliases; entries whose type or column is unknown are skipped.
    pub fn from_namespace(detail: &NamespaceDetail) -> Catalog {
        let mut custom = HashMap::new();
        for (name, ty) in &detail.search_attributes {
            let Some(value_type) = ValueType::from_indexed(*ty) else {
                continue;
            };
            let Some((column, col_type)) = detail.search_attribute_columns.get(name).and_then(|c| pool_column(c))
            else {
                continue;
            };
            if col_type == value_type {
                custom.insert(name.clone(), (value_type, column));
            }
        }
        Catalog {
            custom,
            activities: false,
            nexus_operations: false,
        }
    }

    /// The same catalogue for queries over standalone Nexus operations.
    pub fn for_nexus_operations(mut self) -> Catalog {
        self.nexus_operations = true;
        self
    }

    pub fn nexus_operations(&self) -> bool {
        self.nexus_operations
    }

    /// The same catalogue for queries over standalone activities.
    pub fn for_activities(mut self) -> Catalog {
        self.activities = true;
        self
    }

    pub fn activities(&self) -> bool {
        self.activities
    }

    /// A catalogue from (alias, type, column) triples; for tests and tools.
    pub fn with(entries: &[(&str, ValueType, &str)]) -> Catalog {
        let custom = entries
            .iter()
            .filter_map(|(n, t, c)| pool_column(c).map(|(col, _)| ((*n).to_owned(), (*t, col))))
            .collect();
        Catalog {
            custom,
            activities: false,
            nexus_operations: false,
        }
    }

    pub fn custom(&self, name: &str) -> Option<(ValueType, &'static str)> {
        self.custom.get(name).copied()
    }
}

// ---------------------------------------------------------------------------------------------
// Time values

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses an RFC 3339 timestamp (`2024-05-01T10:00:00Z`, `…T10:00:00.123+02:00`) into
/// nanoseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &b[start..i.min(start + 9)];
        for (k, dgt) in digits.iter().enumerate() {
            frac += i64::from(dgt - b'0') * 10_i64.pow(8 - k as u32);
        }
    }
    let offset_secs = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            let o = oh * 3600 + om * 60;
            if *c == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    // In i128: before 1677-09-21T00:12:44Z the whole seconds alone fall below i64::MIN.
    i64::try_from(i128::from(secs) * 1_000_000_000 + i128::from(frac)).ok()
}

/// Nanoseconds since the epoch as RFC 3339 in UTC with nanoseconds (Go's RFC3339Nano).
pub fn format_rfc3339(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if frac != 0 {
        let f = format!("{frac:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Parses a duration: Go style (`1h30m`, `250ms`, `1.5s`), `hh:mm:ss`, or integer nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 3 {
            return None;
        }
        let h: i64 = parts[0].parse().ok()?;
        let m: i64 = parts[1].parse().ok()?;
        let sec: f64 = parts[2].parse().ok()?;
        if h < 0 || !(0..60).contains(&m) || !(0.0..60.0).contains(&sec) {
            return None;
        }
        // Checked: the hours are the client's and may not fit in i64 nanoseconds.
        return h
            .checked_mul(3600)?
            .checked_add(m * 60)?
            .checked_mul(1_000_000_000)?
            .checked_add((sec * 1e9).round() as i64);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += value * unit;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    Some(total.round() as i64)
}

// ---------------------------------------------------------------------------------------------
// Search attribute values

/// A decoded search attribute value, typed.
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    Null,
    Text(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    /// Nanoseconds since the epoch.
    Datetime(i64),
    List(Vec<String>),
}

/// The `type` metadata of a search attribute payload, if any.
pub fn payload_type(p: &Payload) -> Option<&str> {
    p.metadata.get("type").and_then(|t| std::str::from_utf8(t).ok())
}

/// Decodes a `json/plain` search attribute payload as `ty`. SDKs without typed search
/// attributes send every value as a JSON array; a one-element array is read as its element.
pub fn decode_value(p: &Payload, ty: ValueType) -> Result<AttributeValue, String> {
    if let Some(enc) = p.metadata.get("encoding")
        && enc.as_slice() != b"json/plain"
    {
        return Err(format!(
            "encoding {:?} is not supported (expected json/plain)",
            String::from_utf8_lossy(enc)
        ));
    }
    if p.data.is_empty() {
        return Ok(AttributeValue::Null);
    }
    let json = json::parse(&p.data).map_err(|e| format!("invalid JSON: {e}"))?;
    decode_json(&json, ty)
}

fn decode_json(v: &Json, ty: ValueType) -> Result<AttributeValue, String> {
    let bad = || format!("{} is not a valid {} value", describe_json(v), ty.name());
    Ok(match (ty, v) {
        (_, Json::Null) => AttributeValue::Null,
        (ValueType::KeywordList, Json::Array(items)) => AttributeValue::List(
            items
                .iter()
                .map(|i| match i {
                    Json::String(s) => Ok(s.clone()),
                    _ => Err(bad()),
                })
                .collect::<Result<_, _>>()?,
        ),
        (ValueType::KeywordList, Json::String(s)) => AttributeValue::List(vec![s.clone()]),
        (_, Json::Array(items)) => match items.as_slice() {
            [] => AttributeValue::Null,
            [one] => decode_json(one, ty)?,
            _ => return Err(format!("{} values must be single values, not a list", ty.name())),
        },
        (ValueType::Keyword | ValueType::Text, Json::String(s)) => AttributeValue::Text(s.clone()),
        (ValueType::Int, Json::Number(n)) => AttributeValue::Int(n.parse().map_err(|_| bad())?),
        (ValueType::Int, Json::String(n)) => AttributeValue::Int(n.trim().parse().map_err(|_| bad())?),
        (ValueType::Double, Json::Number(n)) => AttributeValue::Double(n.parse().map_err(|_| bad())?),
        (ValueType::Double, Json::String(n)) => AttributeValue::Double(n.trim().parse().map_err(|_| bad())?),
        (ValueType::Bool, Json::Bool(b)) => AttributeValue::Bool(*b),
        (ValueType::Datetime, Json::String(s)) => AttributeValue::Datetime(parse_rfc3339(s).ok_or_else(bad)?),
        _ => return Err(bad()),
    })
}

fn describe_json(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.clone(),
        Json::String(s) => format!("{s:?}"),
        Json::Array(_) => "a list".into(),
        Json::Object(_) => "an object".into(),
    }
}

/// The registered type of `name` in a namespace: custom, else system.
fn attribute_type(catalog: &Catalog, name: &str) -> Option<ValueType> {
    catalog
        .custom(name)
        .map(|(t, _)| t)
        .or_else(|| system_attribute(name).map(|a| a.value_type))
}

/// Checks search attributes a client sets (at start, signal-with-start, or upsert) against
/// the namespace's registered attributes: every name must be a custom attribute of the
/// namespace (or a settable system one such as `TemporalChangeVersion`) and every value must
/// decode as its registered type. Errors are `INVALID_ARGUMENT` naming the attribute.
pub fn validate_search_attributes(detail: &NamespaceDetail, attrs: &SearchAttributes) -> Result<(), ServiceError> {
    let catalog = Catalog::from_namespace(detail);
    let namespace = detail.info.as_ref().map_or("", |i| i.name.as_str());
    for (name, payload) in &attrs.indexed_fields {
        if name.is_empty() {
            return Err(ServiceError::invalid("Search attribute name is empty."));
        }
        let ty = match (catalog.custom(name), system_attribute(name)) {
            (Some((t, _)), _) => t,
            (None, Some(s)) if s.settable => s.value_type,
            (None, Some(_)) => {
                return Err(ServiceError::invalid(format!(
                    "Search attribute {name} is reserved by the system and cannot be set."
                )));
            }
            (None, None) => {
                return Err(ServiceError::invalid(format!(
                    "Search attribute {name} is not defined in namespace {namespace}; add it with `temporal operator search-attribute create`."
                )));
            }
        };
        if let Some(declared) = payload_type(payload)
            && !declared.is_empty()
            && ValueType::from_name(declared) != Some(ty)
        {
            return Err(ServiceError::invalid(format!(
                "Search attribute {name} is of type {}, but the value is declared as {declared}.",
                ty.name()
            )));
        }
        decode_value(payload, ty).map_err(|e| {
            ServiceError::invalid(format!(
                "Invalid value for search attribute {name} of type {}: {e}",
                ty.name()
            ))
        })?;
    }
    Ok(())
}

/// What a run's search attributes put into its visibility row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowAttributes {
    /// (pool column, value) for each custom attribute that has a value.
    pub columns: Vec<(&'static str, AttributeValue)>,
    /// `TemporalChangeVersion` as a JSON array, if set.
    pub temporal_change_version: Option<String>,
    /// The attributes as returned by list calls: only registered names, each payload tagged
    /// with its registered `type`.
    pub returned: SearchAttributes,
}

/// Maps a run's search attributes onto visibility columns with the namespace's aliases.
/// Attributes that are not registered or do not decode as their type are left out.
pub fn row_attributes(detail: Option<&NamespaceDetail>, attrs: &SearchAttributes) -> RowAttributes {
    let catalog = detail.map(Catalog::from_namespace).unwrap_or_default();
    let mut out = RowAttributes::default();
    for (name, payload) in &attrs.indexed_fields {
        let Some(ty) = attribute_type(&catalog, name) else {
            continue;
        };
        let Ok(value) = decode_value(payload, ty) else { continue };
        if value == AttributeValue::Null {
            continue;
        }
        if let Some((_, column)) = catalog.custom(name) {
            out.columns.push((column, value));
        } else if name == "TemporalChangeVersion"
            && let AttributeValue::List(items) = &value
        {
            out.temporal_change_version = Some(json::string_array(items));
        }
        let mut p = payload.clone();
        p.metadata.insert("type".into(), ty.name().as_bytes().to_vec());
        p.metadata
            .entry("encoding".into())
            .or_insert_with(|| b"json/plain".to_vec());
        out.returned.indexed_fields.insert(name.clone(), p);
    }
    out.columns.sort_by_key(|(c, _)| *c);
    out
}

/// Picks the column for a new custom attribute of type `ty`: the first of the type's pool
/// that no alias in `detail` uses. `None` when the pool is exhausted.
pub fn free_column(detail: &NamespaceDetail, ty: ValueType) -> Option<&'static str> {
    let used: Vec<&'static str> = detail
        .search_attribute_columns
        .values()
        .filter_map(|c| pool_column(c).map(|(c, _)| c))
        .collect();
    ty.pool().iter().copied().find(|c| !used.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(data: &str, ty: Option<&str>) -> Payload {
        let mut p = Payload {
            data: data.as_bytes().to_vec(),
            ..Default::default()
        };
        p.metadata.insert("encoding".into(), b"json/plain".to_vec());
        if let Some(t) = ty {
            p.metadata.insert("type".into(), t.as_bytes().to_vec());
        }
        p
    }

    #[test]
    fn times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-02-29T12:30:15.5Z"), Some(1_709_209_815_500_000_000));
        assert_eq!(
            parse_rfc3339("2024-02-29T14:30:15.500+02:00"),
            Some(1_709_209_815_500_000_000)
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.999999999Z"), Some(-1));
        for bad in [
            "2024-13-01T00:00:00Z",
            "2024-01-01",
            "2024-01-01T00:00:00",
            "yesterday",
            "2024-01-01T00:00:00+0200",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        for n in [
            0,
            1,
            1_709_209_815_500_000_000,
            -1_000_000_001,
            4_102_444_800_123_456_789,
        ] {
            assert_eq!(parse_rfc3339(&format_rfc3339(n)), Some(n));
        }
        assert_eq!(format_rfc3339(1_709_209_815_500_000_000), "2024-02-29T12:30:15.5Z");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("00:01:30"), Some(90_000_000_000));
        assert_eq!(parse_duration("42"), Some(42));
        for bad in ["", "1x", "h", "1:2", "-5s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn values_decode_by_type() {
        use AttributeValue as V;
        assert_eq!(
            decode_value(&payload("\"a\"", None), ValueType::Keyword),
            Ok(V::Text("a".into()))
        );
        assert_eq!(
            decode_value(&payload("[\"a\"]", None), ValueType::Keyword),
            Ok(V::Text("a".into()))
        );
        assert_eq!(decode_value(&payload("7", None), ValueType::Int), Ok(V::Int(7)));
        assert_eq!(
            decode_value(&payload("2.5", None), ValueType::Double),
            Ok(V::Double(2.5))
        );
        assert_eq!(decode_value(&payload("true", None), ValueType::Bool), Ok(V::Bool(true)));
        assert_eq!(
            decode_value(&payload("[\"a\",\"b\"]", None), ValueType::KeywordList),
            Ok(V::List(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            decode_value(&payload("\"1970-01-01T00:00:01Z\"", None), ValueType::Datetime),
            Ok(V::Datetime(1_000_000_000))
        );
        assert!(decode_value(&payload("\"x\"", None), ValueType::Int).is_err());
        assert!(decode_value(&payload("1.5", None), ValueType::Int).is_err());
        assert!(decode_value(&payload("[1,2]", None), ValueType::Int).is_err());
        assert!(decode_value(&payload("\"x\"", None), ValueType::Bool).is_err());
    }

    fn detail() -> NamespaceDetail {
        let mut d = NamespaceDetail::default();
        d.search_attributes
            .insert("CustomKw".into(), IndexedValueType::Keyword as i32);
        d.search_attribute_columns.insert("CustomKw".into(), "Keyword01".into());
        d.search_attributes
            .insert("CustomInt".into(), IndexedValueType::Int as i32);
        d.search_attribute_columns.insert("CustomInt".into(), "Int01".into());
        d
    }

    #[test]
    fn validation_names_the_problem() {
        let d = detail();
        let sa = |name: &str, p: Payload| SearchAttributes {
            indexed_fields: [(name.to_owned(), p)].into(),
        };
        assert!(validate_search_attributes(&d, &sa("CustomKw", payload("\"x\"", Some("Keyword")))).is_ok());
        assert!(validate_search_attributes(&d, &sa("TemporalChangeVersion", payload("[\"a-1\"]", None))).is_ok());
        let err = |r: Result<(), ServiceError>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err(validate_search_attributes(&d, &sa("Nope", payload("\"x\"", None)))).contains("Nope is not defined")
        );
        assert!(err(validate_search_attributes(&d, &sa("CustomInt", payload("\"x\"", None)))).contains("CustomInt"));
        assert!(
            err(validate_search_attributes(
                &d,
                &sa("CustomInt", payload("1", Some("Keyword")))
            ))
            .contains("declared as Keyword")
        );
        assert!(
            err(validate_search_attributes(
                &d,
                &sa("WorkflowId", payload("\"x\"", None))
            ))
            .contains("reserved")
        );
    }

    #[test]
    fn rows_map_aliases_to_columns() {
        let d = detail();
        let mut sa = SearchAttributes::default();
        sa.indexed_fields.insert("CustomKw".into(), payload("\"v\"", None));
        sa.indexed_fields.insert("CustomInt".into(), payload("5", Some("Int")));
        sa.indexed_fields.insert("Unknown".into(), payload("5", None));
        sa.indexed_fields
            .insert("TemporalChangeVersion".into(), payload("[\"p-1\"]", None));
        let row = row_attributes(Some(&d), &sa);
        assert_eq!(
            row.columns,
            vec![
                ("int01", AttributeValue::Int(5)),
                ("keyword01", AttributeValue::Text("v".into()))
            ]
        );
        assert_eq!(row.temporal_change_version.as_deref(), Some(r#"["p-1"]"#));
        assert_eq!(row.returned.indexed_fields.len(), 3);
        assert_eq!(
            row.returned.indexed_fields["CustomKw"]
                .metadata
                .get("type")
                .map(Vec::as_slice),
            Some(&b"Keyword"[..])
        );
        assert_eq!(free_column(&d, ValueType::Keyword), Some("keyword02"));
        assert_eq!(free_column(&d, ValueType::Bool), Some("bool01"));
    }
}

#[cfg(test)]
mod hostile_input_tests {
    use super::*;

    #[test]
    fn durations_and_times_out_of_range_are_not_values() {
        assert_eq!(parse_duration("99999999999999999:00:00"), None);
        assert_eq!(parse_duration("2562047:47:16"), Some(9_223_372_036_000_000_000));
        assert_eq!(parse_duration("9999999999999999999999h"), None);
        assert_eq!(parse_duration("00:05:00"), Some(300_000_000_000));
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59Z"), None);
        assert!(parse_rfc3339("2024-05-01T10:00:00Z").is_some());
        assert!(!format_rfc3339(i64::MAX).is_empty());
        assert!(!format_rfc3339(i64::MIN).is_empty());
    }
}
