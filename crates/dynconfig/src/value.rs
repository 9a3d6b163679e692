//! Value types of settings and their conversion from the JSON/YAML a user writes.

use std::fmt::Write as _;
use std::time::Duration;

/// The type of a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int,
    Float,
    Duration,
    RetryPolicy,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::Float => "float",
            Kind::Duration => "duration",
            Kind::RetryPolicy => "retry policy",
        }
    }
}

/// A converted value (always of its setting's kind). `Copy`, so reading one never allocates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Duration(Duration),
    RetryPolicy(RetryPolicy),
}

impl Value {
    /// The value as JSON for the admin view: durations as `"10s"`, retry policies with the
    /// camelCase field names of the seed file.
    pub fn to_json(&self) -> serde_json::Value {
        match *self {
            Value::Bool(b) => b.into(),
            Value::Int(i) => i.into(),
            Value::Float(f) => serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into),
            Value::Duration(d) => format_duration(d).into(),
            Value::RetryPolicy(p) => p.to_json(),
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Duration(d) => f.write_str(&format_duration(*d)),
            other => write!(f, "{}", other.to_json()),
        }
    }
}

/// Rust types a setting can have.
pub trait SettingValue: Copy + Send + Sync + 'static {
    const KIND: Kind;
    fn from_value(v: &Value) -> Option<Self>;
}

impl SettingValue for bool {
    const KIND: Kind = Kind::Bool;
    fn from_value(v: &Value) -> Option<Self> {
        match *v {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

impl SettingValue for i64 {
    const KIND: Kind = Kind::Int;
    fn from_value(v: &Value) -> Option<Self> {
        match *v {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }
}

impl SettingValue for f64 {
    const KIND: Kind = Kind::Float;
    fn from_value(v: &Value) -> Option<Self> {
        match *v {
            Value::Float(f) => Some(f),
            _ => None,
        }
    }
}

impl SettingValue for Duration {
    const KIND: Kind = Kind::Duration;
    fn from_value(v: &Value) -> Option<Self> {
        match *v {
            Value::Duration(d) => Some(d),
            _ => None,
        }
    }
}

impl SettingValue for RetryPolicy {
    const KIND: Kind = Kind::RetryPolicy;
    fn from_value(v: &Value) -> Option<Self> {
        match *v {
            Value::RetryPolicy(p) => Some(p),
            _ => None,
        }
    }
}

/// A default retry policy (`workflow.defaultActivityRetryPolicy` and friends).
///
/// Fields a request's own retry policy leaves unset are taken from here, as Temporal does:
/// `initial_interval`, `maximum_attempts` (0 = unlimited), `backoff_coefficient`, and the
/// maximum interval: `maximum_interval` when the file gave one in seconds
/// (`maximumIntervalInSeconds`), else `initial_interval × maximum_interval_coefficient`
/// (Temporal's `MaximumIntervalCoefficient`); see [`RetryPolicy::maximum_interval_for`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    pub initial_interval: Duration,
    /// Absolute maximum interval, when given (`maximumIntervalInSeconds`).
    pub maximum_interval: Option<Duration>,
    pub maximum_interval_coefficient: f64,
    pub backoff_coefficient: f64,
    /// 0 = unlimited.
    pub maximum_attempts: i32,
}

impl RetryPolicy {
    /// Temporal's defaults: 1 s, ×100, 2.0, unlimited attempts.
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        initial_interval: Duration::from_secs(1),
        maximum_interval: None,
        maximum_interval_coefficient: 100.0,
        backoff_coefficient: 2.0,
        maximum_attempts: 0,
    };

    /// The maximum interval for a policy whose initial interval is `initial` (the request's
    /// own, or this policy's).
    pub fn maximum_interval_for(&self, initial: Duration) -> Duration {
        self.maximum_interval
            .unwrap_or_else(|| initial.mul_f64(self.maximum_interval_coefficient.max(1.0)))
    }

    /// The maximum interval of this policy itself.
    pub fn effective_maximum_interval(&self) -> Duration {
        self.maximum_interval_for(self.initial_interval)
    }

    fn to_json(self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("initialIntervalInSeconds".into(), secs_json(self.initial_interval));
        match self.maximum_interval {
            Some(max) => m.insert("maximumIntervalInSeconds".into(), secs_json(max)),
            None => m.insert(
                "maximumIntervalCoefficient".into(),
                serde_json::Number::from_f64(self.maximum_interval_coefficient)
                    .map_or(serde_json::Value::Null, Into::into),
            ),
        };
        m.insert(
            "backoffCoefficient".into(),
            serde_json::Number::from_f64(self.backoff_coefficient).map_or(serde_json::Value::Null, Into::into),
        );
        m.insert("maximumAttempts".into(), self.maximum_attempts.into());
        serde_json::Value::Object(m)
    }

    /// Parses a retry policy map. Field names are case-insensitive, so both the seed's
    /// `initialIntervalInSeconds`/`maximumIntervalInSeconds`/`maximumAttempts`/`backoffCoefficient`
    /// and Temporal's `InitialIntervalInSeconds`/`MaximumIntervalCoefficient`/`BackoffCoefficient`/
    /// `MaximumAttempts` work; `initialInterval`/`maximumInterval` take durations (`"1s"`).
    /// Missing fields keep Temporal's defaults.
    pub fn from_json(v: &serde_json::Value) -> Result<RetryPolicy, String> {
        let map = v
            .as_object()
            .ok_or_else(|| format!("a retry policy must be a map of fields, not {}", describe_json(v)))?;
        let mut p = RetryPolicy::DEFAULT;
        for (field, fv) in map {
            let lower = field.to_ascii_lowercase();
            let bad = |what: &str| format!("retry policy field {field}: {what}, not {}", describe_json(fv));
            match lower.as_str() {
                "initialintervalinseconds" => {
                    p.initial_interval = duration_from_json(fv).map_err(|_| bad("expected seconds"))?
                }
                "initialinterval" => p.initial_interval = duration_from_json(fv).map_err(|e| bad(&e))?,
                "maximumintervalinseconds" => {
                    p.maximum_interval = Some(duration_from_json(fv).map_err(|_| bad("expected seconds"))?)
                }
                "maximuminterval" => p.maximum_interval = Some(duration_from_json(fv).map_err(|e| bad(&e))?),
                "maximumintervalcoefficient" => {
                    p.maximum_interval_coefficient = float_from_json(fv).ok_or_else(|| bad("expected a number"))?
                }
                "backoffcoefficient" => {
                    p.backoff_coefficient = float_from_json(fv).ok_or_else(|| bad("expected a number"))?
                }
                "maximumattempts" => {
                    p.maximum_attempts = int_from_json(fv)
                        .and_then(|i| i32::try_from(i).ok())
                        .ok_or_else(|| bad("expected a whole number"))?
                }
                _ => {
                    const FIELDS: &[&str] = &[
                        "initialIntervalInSeconds",
                        "maximumIntervalInSeconds",
                        "maximumIntervalCoefficient",
                        "backoffCoefficient",
                        "maximumAttempts",
                        "initialInterval",
                        "maximumInterval",
                    ];
                    let mut msg = format!("unknown retry policy field {field:?}");
                    if let Some(s) = crate::parse::suggest(field, FIELDS.iter().copied()) {
                        let _ = write!(msg, " (did you mean {s:?}?)");
                    }
                    return Err(msg);
                }
            }
        }
        if p.initial_interval.is_zero() {
            return Err("retry policy: initial interval must be greater than 0".into());
        }
        if p.backoff_coefficient < 1.0 {
            return Err(format!(
                "retry policy: backoff coefficient must be at least 1, not {}",
                p.backoff_coefficient
            ));
        }
        if p.maximum_interval_coefficient < 1.0 {
            return Err(format!(
                "retry policy: maximum interval coefficient must be at least 1, not {}",
                p.maximum_interval_coefficient
            ));
        }
        if p.maximum_attempts < 0 {
            return Err("retry policy: maximum attempts must not be negative (0 = unlimited)".into());
        }
        if let Some(max) = p.maximum_interval
            && max < p.initial_interval
        {
            return Err(format!(
                "retry policy: maximum interval {} is shorter than the initial interval {}",
                format_duration(max),
                format_duration(p.initial_interval)
            ));
        }
        Ok(p)
    }
}

fn secs_json(d: Duration) -> serde_json::Value {
    if d.subsec_nanos() == 0 {
        d.as_secs().into()
    } else {
        serde_json::Number::from_f64(d.as_secs_f64()).map_or(serde_json::Value::Null, Into::into)
    }
}

/// A short description of a JSON value for error messages.
pub(crate) fn describe_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "null (empty)".into(),
        serde_json::Value::Object(_) => "a map".into(),
        serde_json::Value::Array(_) => "a list".into(),
        other => {
            let s = other.to_string();
            if s.len() > 60 { format!("{}…", &s[..60]) } else { s }
        }
    }
}

pub(crate) fn int_from_json(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn float_from_json(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok().filter(|f: &f64| f.is_finite()),
        _ => None,
    }
}

pub(crate) fn bool_from_json(v: &serde_json::Value) -> Option<bool> {
    match v {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        serde_json::Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A duration: a string in Go's syntax plus `d` for days (`"10s"`, `"1m30s"`, `"1.5h"`,
/// `"1d"`, `"250ms"`), or a bare number of seconds (`10`, `"10"`, `0.5`).
pub fn duration_from_json(v: &serde_json::Value) -> Result<Duration, String> {
    match v {
        serde_json::Value::Number(n) => {
            let secs = n.as_f64().unwrap_or(f64::NAN);
            secs_to_duration(secs).ok_or_else(|| format!("{n} is not a valid number of seconds"))
        }
        serde_json::Value::String(s) => parse_duration(s),
        other => Err(format!(
            "expected a duration such as \"10s\", not {}",
            describe_json(other)
        )),
    }
}

fn secs_to_duration(secs: f64) -> Option<Duration> {
    (0.0..1.0e12).contains(&secs).then(|| Duration::from_secs_f64(secs))
}

/// Parses `"10s"`, `"30m"`, `"1d"`, `"1h30m"`, `"1.5h"`, `"100ms"`, or bare seconds (`"10"`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let err = || {
        format!(
            "invalid duration {text:?}: use a number and a unit (ns, us, ms, s, m, h, d) such as \"10s\", or seconds"
        )
    };
    if s.is_empty() {
        return Err(err());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_duration(secs).ok_or_else(err);
    }
    let mut total_nanos: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let nanos_per: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            _ => return Err(err()),
        };
        total_nanos += number * nanos_per;
    }
    if !total_nanos.is_finite() || total_nanos >= 1.0e21 {
        return Err(err());
    }
    Ok(Duration::from_nanos(total_nanos.round() as u64))
}

/// Formats a duration compactly: `10s`, `1m30s`, `1d`, `250ms`, `1.5s`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let total = d.as_secs();
    let nanos = d.subsec_nanos();
    if total == 0 && nanos == 0 {
        return "0s".into();
    }
    if total == 0 && nanos.is_multiple_of(1_000_000) {
        return format!("{}ms", nanos / 1_000_000);
    }
    let mut out = String::new();
    let (days, rem) = (total / 86400, total % 86400);
    let (hours, rem) = (rem / 3600, rem % 3600);
    let (mins, secs) = (rem / 60, rem % 60);
    for (n, unit) in [(days, "d"), (hours, "h"), (mins, "m")] {
        if n > 0 {
            let _ = write!(out, "{n}{unit}");
        }
    }
    if secs > 0 || nanos > 0 {
        if nanos > 0 {
            let frac = format!("{nanos:09}");
            let _ = write!(out, "{secs}.{}s", frac.trim_end_matches('0'));
        } else {
            let _ = write!(out, "{secs}s");
        }
    }
    out
}

/// Converts a JSON value to `kind`; `scale` multiplies integers (an alias in MB of a setting
/// kept in bytes).
pub(crate) fn convert(kind: Kind, scale: i64, v: &serde_json::Value) -> Result<Value, String> {
    match kind {
        Kind::Bool => bool_from_json(v)
            .map(Value::Bool)
            .ok_or_else(|| format!("expected true or false, not {}", describe_json(v))),
        Kind::Int if scale == 1 => int_from_json(v)
            .map(Value::Int)
            .ok_or_else(|| format!("expected a whole number, not {}", describe_json(v))),
        Kind::Int => float_from_json(v)
            .map(|f| f * scale as f64)
            .filter(|f| f.abs() < 9.0e18)
            .map(|f| Value::Int(f.round() as i64))
            .ok_or_else(|| format!("expected a number, not {}", describe_json(v))),
        Kind::Float => float_from_json(v)
            .map(Value::Float)
            .ok_or_else(|| format!("expected a number, not {}", describe_json(v))),
        Kind::Duration => duration_from_json(v).map(Value::Duration),
        Kind::RetryPolicy => RetryPolicy::from_json(v).map(Value::RetryPolicy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations() {
        let cases = [
            ("10s", 10_000),
            ("30m", 1_800_000),
            ("1d", 86_400_000),
            ("1h30m", 5_400_000),
            ("1.5h", 5_400_000),
            ("250ms", 250),
            ("10", 10_000),
            (" 2.5 ", 2_500),
            ("0", 0),
        ];
        for (text, ms) in cases {
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(ms)), "{text}");
        }
        for bad in ["", "10x", "s", "-5s", "1h-2m", "ten seconds"] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(duration_from_json(&json!(15)), Ok(Duration::from_secs(15)));
        assert_eq!(duration_from_json(&json!(0.5)), Ok(Duration::from_millis(500)));
        assert!(duration_from_json(&json!(true)).is_err());
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(86_400 + 3600)), "1d1h");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn retry_policy_both_spellings() {
        let seed = RetryPolicy::from_json(&json!({
            "initialIntervalInSeconds": 1,
            "maximumIntervalInSeconds": 100,
            "maximumAttempts": 3,
            "backoffCoefficient": 2.0,
        }))
        .expect("seed spelling");
        assert_eq!(seed.initial_interval, Duration::from_secs(1));
        assert_eq!(seed.maximum_interval, Some(Duration::from_secs(100)));
        assert_eq!(seed.maximum_attempts, 3);
        assert_eq!(seed.backoff_coefficient, 2.0);
        assert_eq!(seed.effective_maximum_interval(), Duration::from_secs(100));

        let temporal = RetryPolicy::from_json(&json!({
            "InitialIntervalInSeconds": 2,
            "MaximumIntervalCoefficient": 50.0,
            "BackoffCoefficient": 1.5,
            "MaximumAttempts": 0,
        }))
        .expect("Temporal spelling");
        assert_eq!(temporal.initial_interval, Duration::from_secs(2));
        assert_eq!(temporal.maximum_interval, None);
        assert_eq!(temporal.maximum_interval_coefficient, 50.0);
        assert_eq!(temporal.effective_maximum_interval(), Duration::from_secs(100));
        assert_eq!(
            temporal.maximum_interval_for(Duration::from_secs(3)),
            Duration::from_secs(150)
        );

        let partial = RetryPolicy::from_json(&json!({"maximumAttempts": 5})).expect("partial");
        assert_eq!(
            partial,
            RetryPolicy {
                maximum_attempts: 5,
                ..RetryPolicy::DEFAULT
            }
        );
        let with_durations =
            RetryPolicy::from_json(&json!({"initialInterval": "500ms", "maximumInterval": "1m"})).expect("durations");
        assert_eq!(with_durations.initial_interval, Duration::from_millis(500));

        let err = RetryPolicy::from_json(&json!({"maximumAttempt": 3})).expect_err("typo");
        assert!(err.contains("maximumAttempts"), "{err}");
        assert!(RetryPolicy::from_json(&json!({"backoffCoefficient": 0.5})).is_err());
        assert!(RetryPolicy::from_json(&json!({"maximumAttempts": -1})).is_err());
        assert!(
            RetryPolicy::from_json(&json!({"initialIntervalInSeconds": 10, "maximumIntervalInSeconds": 5})).is_err()
        );
        assert!(RetryPolicy::from_json(&json!(3)).is_err());
    }

    #[test]
    fn scalar_conversions() {
        assert_eq!(convert(Kind::Bool, 1, &json!("TRUE")), Ok(Value::Bool(true)));
        assert_eq!(convert(Kind::Int, 1, &json!("12")), Ok(Value::Int(12)));
        assert_eq!(convert(Kind::Int, 1, &json!(12.0)), Ok(Value::Int(12)));
        assert!(convert(Kind::Int, 1, &json!(12.5)).is_err());
        assert_eq!(convert(Kind::Int, 1 << 20, &json!(0.5)), Ok(Value::Int(1 << 19)));
        assert_eq!(convert(Kind::Float, 1, &json!(2)), Ok(Value::Float(2.0)));
        assert!(convert(Kind::Bool, 1, &json!("yes")).is_err());
    }
}
