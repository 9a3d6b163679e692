//! Cron schedules as Temporal accepts them (robfig/cron's standard parser): five fields
//! `minute hour day-of-month month day-of-week` with `*`, lists, ranges, steps and names, or
//! `@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`, `@every <duration>`. Times are UTC.

use chrono::{DateTime, Datelike, Timelike, Utc};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct CronSchedule {
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    days_of_week: u8,
    dom_any: bool,
    dow_any: bool,
    every: Option<Duration>,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn field(spec: &str, min: u32, max: u32, names: &[&str], offset: u32) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let any = spec == "*" || spec == "?";
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            // Any non-negative 64-bit integer step is valid (robfig/cron parses it with Atoi); a
            // step past the field's range just selects the range's start.
            Some((r, s)) => (
                r,
                s.parse::<i64>()
                    .ok()
                    .and_then(|s| u64::try_from(s).ok())
                    .ok_or_else(|| format!("bad step in {part:?}"))?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err(format!("step of zero in {part:?}"));
        }
        let value = |v: &str| -> Result<u32, String> {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
                return Ok(i as u32 + offset);
            }
            v.parse::<u32>().map_err(|_| format!("bad value {v:?}"))
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if part.contains('/') { max } else { v })
        };
        // Sunday may be written as 7.
        let (lo, hi) = if max == 6 && hi == 7 { (lo.min(6), 6) } else { (lo, hi) };
        if lo < min || hi > max || lo > hi {
            return Err(format!("{part:?} is outside {min}-{max}"));
        }
        let mut v = u64::from(lo);
        while v <= u64::from(hi) {
            bits |= 1 << v;
            let Some(next) = v.checked_add(step) else { break };
            v = next;
        }
    }
    Ok((bits, any))
}

fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut seen = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push('s');
            chars.next();
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += n * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "d" => 86400.0,
            _ => return None,
        };
        seen = true;
    }
    if !seen || !num.is_empty() || !total.is_finite() || total <= 0.0 {
        return None;
    }
    // Go's time.ParseDuration (what robfig/cron uses) fails past i64 nanoseconds (~292 years).
    let d = Duration::try_from_secs_f64(total).ok()?;
    i64::try_from(d.as_nanos()).ok()?;
    // robfig/cron's `@every` runs on whole seconds, at least one apart.
    Some(Duration::from_secs(d.as_secs().max(1)))
}

impl CronSchedule {
    pub fn parse(spec: &str) -> Result<CronSchedule, String> {
        let spec = spec.trim();
        let expanded = match spec.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *".to_owned(),
            "@monthly" => "0 0 1 * *".to_owned(),
            "@weekly" => "0 0 * * 0".to_owned(),
            "@daily" | "@midnight" => "0 0 * * *".to_owned(),
            "@hourly" => "0 * * * *".to_owned(),
            other if other.starts_with("@every ") => {
                let d = parse_duration(other.trim_start_matches("@every ").trim())
                    .ok_or_else(|| format!("bad duration in {spec:?}"))?;
                return Ok(CronSchedule {
                    minutes: 0,
                    hours: 0,
                    days_of_month: 0,
                    months: 0,
                    days_of_week: 0,
                    dom_any: true,
                    dow_any: true,
                    every: Some(d),
                });
            }
            _ => spec.to_owned(),
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!("expected 5 fields, found {}: {spec:?}", fields.len()));
        }
        let (minutes, _) = field(fields[0], 0, 59, &[], 0)?;
        let (hours, _) = field(fields[1], 0, 23, &[], 0)?;
        let (dom, dom_any) = field(fields[2], 1, 31, &[], 0)?;
        let (months, _) = field(fields[3], 1, 12, &MONTHS, 1)?;
        let (dow, dow_any) = field(fields[4], 0, 6, &DAYS, 0)?;
        Ok(CronSchedule {
            minutes,
            hours: hours as u32,
            days_of_month: dom as u32,
            months: months as u16,
            days_of_week: dow as u8,
            dom_any,
            dow_any,
            every: None,
        })
    }

    fn day_matches(&self, t: &DateTime<Utc>) -> bool {
        let dom = self.days_of_month & (1 << t.day()) != 0;
        let dow = self.days_of_week & (1 << t.weekday().num_days_from_sunday()) != 0;
        // Like cron: when both day fields are restricted, either may match.
        match (self.dom_any, self.dow_any) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }

    /// The first scheduled time strictly after `after` (nanoseconds since the epoch).
    pub fn next_after(&self, after: i64) -> Option<i64> {
        if let Some(every) = self.every {
            let step = i64::try_from(every.as_nanos()).ok()?;
            return after.checked_add(step);
        }
        let secs = after.div_euclid(1_000_000_000);
        let start = DateTime::<Utc>::from_timestamp(secs - secs.rem_euclid(60) + 60, 0)?;
        let mut t = start;
        // Five years of minutes covers every satisfiable schedule (29 February included).
        let limit = start + chrono::Duration::days(366 * 5);
        while t < limit {
            if self.months & (1 << t.month()) == 0 || !self.day_matches(&t) {
                t = (t + chrono::Duration::days(1)).with_hour(0)?.with_minute(0)?;
                continue;
            }
            if self.hours & (1 << t.hour()) == 0 {
                t = (t + chrono::Duration::hours(1)).with_minute(0)?;
                continue;
            }
            if self.minutes & (1 << t.minute()) != 0 {
                return t.timestamp_nanos_opt();
            }
            t += chrono::Duration::minutes(1);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_specs_never_panic() {
        // Steps that overflow the field's counter are valid: only the range's start is selected.
        for spec in [
            "1/4294967295 * * * *",
            "59/9223372036854775807 * * * *",
            "*/4294967296 * * * *",
            "0-59/9223372036854775807 23/999999999999 * * *",
        ] {
            let s = CronSchedule::parse(spec).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
            assert!(s.next_after(0).is_some(), "{spec:?}");
        }
        let s = CronSchedule::parse("1/4294967295 * * * *").expect("parse");
        assert_eq!(s.next_after(0), Some(60_000_000_000));
        // The largest `@every` Go accepts, and deadlines near the end of time.
        let every = CronSchedule::parse("@every 2562047h").expect("parse");
        assert_eq!(every.next_after(i64::MAX - 10), None);
        let daily = CronSchedule::parse("@daily").expect("parse");
        assert_eq!(daily.next_after(i64::MAX), None);
        assert!(daily.next_after(i64::MIN).is_some());
        // Sub-second intervals run once a second, as in robfig/cron.
        let fast = CronSchedule::parse("@every 10ms").expect("parse");
        assert_eq!(fast.next_after(0), Some(1_000_000_000));
    }

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .timestamp_nanos_opt()
            .expect("range")
    }

    #[test]
    fn next_times() {
        let every_minute = CronSchedule::parse("* * * * *").expect("parse");
        assert_eq!(
            every_minute.next_after(at("2026-01-01T10:00:30Z")),
            Some(at("2026-01-01T10:01:00Z"))
        );
        let quarter = CronSchedule::parse("*/15 9-17 * * MON-FRI").expect("parse");
        // 2026-01-03 is a Saturday: the next slot is Monday 09:00.
        assert_eq!(
            quarter.next_after(at("2026-01-02T17:50:00Z")),
            Some(at("2026-01-05T09:00:00Z"))
        );
        let daily = CronSchedule::parse("@daily").expect("parse");
        assert_eq!(
            daily.next_after(at("2026-03-01T00:00:00Z")),
            Some(at("2026-03-02T00:00:00Z"))
        );
        let every = CronSchedule::parse("@every 90s").expect("parse");
        assert_eq!(every.next_after(0), Some(90_000_000_000));
        let leap = CronSchedule::parse("0 0 29 2 *").expect("parse");
        assert_eq!(
            leap.next_after(at("2026-03-01T00:00:00Z")),
            Some(at("2028-02-29T00:00:00Z"))
        );
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in [
            "",
            "* * * *",
            "61 * * * *",
            "* * * * 8",
            "*/0 * * * *",
            "@every nonsense",
            "a b c d e",
            "@every 99999999999999999s",
            "@every 9999999999s",
            "@every 1e400s",
            "@every NaNs",
            "@every infs",
            "@every 0s",
            "*/99999999999999999999 * * * *",
            "*/-1 * * * *",
            "59/18446744073709551615 * * * *",
            "99999999999 * * * *",
        ] {
            assert!(CronSchedule::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
