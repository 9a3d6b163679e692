//! Parsing of flag values the way tctl reads them: retention in days or as a duration,
//! timeouts in seconds or as a duration, list time filters, and enum names.

use anyhow::{anyhow, bail};
use sundial_api::prost_wkt_types::{Duration, Timestamp};

/// `5d`, `24h`, `1h30m`, `90s`, `1.5h`, `500ms` (Go's units plus `d`).
pub fn duration(text: &str) -> anyhow::Result<Duration> {
    let s = text.trim();
    if s.is_empty() {
        bail!("empty duration");
    }
    let mut total_nanos: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            bail!("invalid duration {text:?}");
        }
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| anyhow!("invalid duration {text:?}"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "d" => 86_400e9,
            "h" => 3_600e9,
            "m" => 60e9,
            "s" => 1e9,
            "ms" => 1e6,
            "us" | "µs" => 1e3,
            "ns" => 1.0,
            "" => bail!("invalid duration {text:?}: missing unit (d, h, m, s)"),
            other => bail!("invalid duration {text:?}: unknown unit {other:?}"),
        };
        total_nanos += value * scale;
    }
    let nanos = total_nanos.round() as i128;
    Ok(Duration {
        seconds: (nanos / 1_000_000_000) as i64,
        nanos: (nanos % 1_000_000_000) as i32,
    })
}

/// A duration where Go's `time.ParseDuration` takes one (schedule intervals, jitter): like
/// [`duration`], and a bare `0` is zero, as Go allows.
pub fn go_duration(text: &str) -> anyhow::Result<Duration> {
    if text.trim() == "0" {
        return Ok(Duration { seconds: 0, nanos: 0 });
    }
    duration(text)
}

/// A plain integer is a number of days (tctl's retention), anything else a duration.
pub fn days_or_duration(text: &str) -> anyhow::Result<Duration> {
    match text.trim().parse::<i64>() {
        Ok(days) if days >= 0 => Ok(Duration {
            seconds: days * 86_400,
            nanos: 0,
        }),
        Ok(_) => bail!("must not be negative"),
        Err(_) => duration(text),
    }
}

/// A plain integer is a number of seconds (tctl's timeouts), anything else a duration.
pub fn seconds_or_duration(text: &str) -> anyhow::Result<Duration> {
    match text.trim().parse::<i64>() {
        Ok(secs) if secs >= 0 => Ok(Duration {
            seconds: secs,
            nanos: 0,
        }),
        Ok(_) => bail!("must not be negative"),
        Err(_) => duration(text),
    }
}

/// tctl's list time filter: RFC 3339, Unix nanoseconds, or `N<unit>` back from now
/// (units second/s, minute/m, hour/h, day/d, week/w, month/M, year/y).
pub fn time_filter(text: &str) -> anyhow::Result<Timestamp> {
    let s = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(Timestamp {
            seconds: t.timestamp(),
            nanos: t.timestamp_subsec_nanos() as i32,
        });
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(Timestamp {
            seconds: n.div_euclid(1_000_000_000),
            nanos: n.rem_euclid(1_000_000_000) as i32,
        });
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let count: i64 = s[..split].parse().map_err(|_| anyhow!("invalid time {text:?}"))?;
    let unit_secs = match &s[split..] {
        "s" | "second" | "seconds" => 1,
        "m" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        "M" | "month" | "months" => 30 * 86_400,
        "y" | "year" | "years" => 365 * 86_400,
        _ => bail!("invalid time {text:?}: use RFC3339, Unix nanoseconds or e.g. 15m, 2h, 3d"),
    };
    Ok(Timestamp {
        seconds: chrono::Utc::now().timestamp() - count * unit_secs,
        nanos: 0,
    })
}

/// Matches `value` against an enum's proto names, with or without `prefix`, ignoring case
/// and underscores (`AllowDuplicate`, `allow_duplicate`, `WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE`).
pub fn enum_value(value: &str, prefix: &str, names: &[(&str, i32)]) -> Option<i32> {
    let norm = |s: &str| s.replace('_', "").to_ascii_lowercase();
    let wanted = norm(value);
    let prefix = norm(prefix);
    names.iter().find_map(|(name, v)| {
        let n = norm(name);
        (n == wanted || n.strip_prefix(&prefix) == Some(wanted.as_str())).then_some(*v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_forms() {
        assert_eq!(days_or_duration("1").expect("days").seconds, 86_400);
        assert_eq!(days_or_duration("24h").expect("h").seconds, 86_400);
        assert_eq!(days_or_duration("72h0m0s").expect("go").seconds, 259_200);
        assert_eq!(days_or_duration("2d").expect("d").seconds, 172_800);
        assert_eq!(duration("1.5h").expect("frac").seconds, 5_400);
        assert_eq!(duration("500ms").expect("ms").nanos, 500_000_000);
        assert!(days_or_duration("abc").is_err());
        assert!(days_or_duration("10").is_ok());
        assert!(duration("10").is_err());
    }

    #[test]
    fn enum_names() {
        let names = [
            ("WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE", 1),
            ("WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE", 3),
        ];
        assert_eq!(
            enum_value("AllowDuplicate", "WORKFLOW_ID_REUSE_POLICY_", &names),
            Some(1)
        );
        assert_eq!(
            enum_value("reject_duplicate", "WORKFLOW_ID_REUSE_POLICY_", &names),
            Some(3)
        );
        assert_eq!(
            enum_value(
                "WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE",
                "WORKFLOW_ID_REUSE_POLICY_",
                &names
            ),
            Some(1)
        );
        assert_eq!(enum_value("nope", "WORKFLOW_ID_REUSE_POLICY_", &names), None);
    }
}
