//! Cron strings, as Temporal schedules accept them.
//!
//! ```text
//! [TZ=<zone> | CRON_TZ=<zone>] <fields or shorthand> [# comment]
//! 5 fields:         minute hour day-of-month month day-of-week
//! 6 fields:         minute hour day-of-month month day-of-week year
//! 7 fields: second  minute hour day-of-month month day-of-week year
//! @yearly @annually @monthly @weekly @daily @midnight @hourly
//! @every <duration>[/<phase>]          (an interval, not a calendar)
//! ```
//!
//! Each field has `CalendarSpec` syntax; a missing second is 0 and a missing
//! year is any. Day-of-month and day-of-week must *both* match, unlike the
//! "either" rule of classic cron.

use jiff::SignedDuration;

use crate::fields::parse_calendar;
use crate::types::{CalendarSpec, IntervalSpec, StructuredCalendarSpec};

#[derive(Debug, PartialEq)]
pub(crate) enum CronItem {
    Calendar {
        calendar: StructuredCalendarSpec,
        /// The `TZ=`/`CRON_TZ=` zone, empty when there is none.
        timezone: String,
    },
    /// `@every`; intervals do not depend on a time zone, so any `TZ=` prefix
    /// is irrelevant to them.
    Interval(IntervalSpec),
}

pub(crate) fn parse_cron(text: &str) -> Result<CronItem, String> {
    let mut rest = text.trim();

    let mut timezone = "";
    if let Some(assignment) = ["CRON_TZ=", "TZ="].iter().find_map(|prefix| rest.strip_prefix(prefix)) {
        let Some((zone, fields)) = assignment.split_once(char::is_whitespace) else {
            return Err("has a time zone but no schedule after it".to_owned());
        };
        timezone = zone;
        rest = fields;
    }

    let (body, comment) = match rest.split_once('#') {
        Some((body, comment)) => (body.trim(), comment.trim()),
        None => (rest.trim(), ""),
    };

    if let Some(after) = body.strip_prefix("@every") {
        return parse_every(after).map(CronItem::Interval);
    }

    let body = match body {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other if other.starts_with('@') => {
            return Err(format!(
                "unknown shorthand {other:?}; use @yearly, @annually, @monthly, @weekly, \
                 @daily, @midnight, @hourly or @every <duration>"
            ));
        }
        other => other,
    };

    let fields: Vec<&str> = body.split_whitespace().collect();
    let owned = |s: &str| s.to_owned();
    let mut cal = CalendarSpec {
        comment: comment.to_owned(),
        ..Default::default()
    };
    match fields[..] {
        [min, hour, dom, month, dow] => {
            (cal.minute, cal.hour, cal.day_of_month) = (owned(min), owned(hour), owned(dom));
            (cal.month, cal.day_of_week) = (owned(month), owned(dow));
        }
        [min, hour, dom, month, dow, year] => {
            (cal.minute, cal.hour, cal.day_of_month) = (owned(min), owned(hour), owned(dom));
            (cal.month, cal.day_of_week, cal.year) = (owned(month), owned(dow), owned(year));
        }
        [sec, min, hour, dom, month, dow, year] => {
            (cal.second, cal.minute, cal.hour) = (owned(sec), owned(min), owned(hour));
            (cal.day_of_month, cal.month) = (owned(dom), owned(month));
            (cal.day_of_week, cal.year) = (owned(dow), owned(year));
        }
        _ => {
            return Err(format!(
                "has {} fields; expected 5 (minute hour day-of-month month day-of-week), \
                 6 (the same then year) or 7 (second first, then the same as 6)",
                fields.len()
            ));
        }
    }
    let calendar = parse_calendar(&cal)?;
    Ok(CronItem::Calendar {
        calendar,
        timezone: timezone.to_owned(),
    })
}

/// The part after `@every`: `<duration>[/<phase>]`.
fn parse_every(after: &str) -> Result<IntervalSpec, String> {
    if !after.starts_with(char::is_whitespace) {
        return Err("@every needs a duration after it, e.g. \"@every 90m\"".to_owned());
    }
    let (interval, phase) = match after.trim().split_once('/') {
        Some((interval, phase)) => (interval, Some(phase)),
        None => (after.trim(), None),
    };
    Ok(IntervalSpec {
        interval: parse_duration(interval)?,
        phase: phase.map(parse_duration).transpose()?.unwrap_or_default(),
    })
}

/// Go's duration syntax (`1h30m`, `1.5h`, `90s`, `-5m`, `0`), which Temporal
/// extends with `d` for exactly 24 hours. Like Go, rejects anything beyond
/// ±292 years.
pub(crate) fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    let bad = || {
        format!(
            "invalid duration {text:?}: expected a number and unit, e.g. \"90m\", \"1h30m\" \
             or \"2d\" (units ns, us, ms, s, m, h, d)"
        )
    };
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(SignedDuration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let mut nanos: i128 = 0;
    while !rest.is_empty() {
        let (whole, after) = rest.split_at(digits(rest));
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => after.split_at(digits(after)),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(bad());
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            _ => return Err(bad()),
        };
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        // Digits past the 18th cannot change the result by a nanosecond.
        let fraction = &fraction[..fraction.len().min(18)];
        let scale = 10_i128.pow(fraction.len() as u32);
        let fraction: i128 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().map_err(|_| bad())?
        };
        nanos = whole
            .checked_mul(unit_nanos)
            .and_then(|n| n.checked_add(fraction * unit_nanos / scale))
            .and_then(|n| n.checked_add(nanos))
            .filter(|n| *n <= i128::from(i64::MAX))
            .ok_or_else(|| format!("duration {text:?} is too long"))?;
        rest = after;
    }
    let nanos = if negative { -nanos } else { nanos };
    i64::try_from(nanos)
        .map(SignedDuration::from_nanos)
        .map_err(|_| format!("duration {text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Range;

    fn r(start: i32, end: i32, step: i32) -> Range {
        Range { start, end, step }
    }

    fn calendar(text: &str) -> (StructuredCalendarSpec, String) {
        match parse_cron(text) {
            Ok(CronItem::Calendar { calendar, timezone }) => (calendar, timezone),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn five_fields_default_second_to_zero_and_year_to_any() {
        let (cal, tz) = calendar("5,9 */2 * * *");
        assert_eq!(
            cal,
            StructuredCalendarSpec {
                second: vec![r(0, 0, 0)],
                minute: vec![r(5, 0, 0), r(9, 0, 0)],
                hour: vec![r(0, 23, 2)],
                day_of_month: vec![r(1, 31, 0)],
                month: vec![r(1, 12, 0)],
                year: vec![],
                day_of_week: vec![r(0, 6, 0)],
                comment: String::new(),
            }
        );
        assert_eq!(tz, "");
    }

    #[test]
    fn seven_fields_with_zone_prefix_and_comment() {
        let (cal, tz) = calendar("CRON_TZ=US/Pacific 55 55,57 5 2/2 * wed-thurs *  # explanation");
        assert_eq!(
            cal,
            StructuredCalendarSpec {
                second: vec![r(55, 0, 0)],
                minute: vec![r(55, 0, 0), r(57, 0, 0)],
                hour: vec![r(5, 0, 0)],
                day_of_month: vec![r(2, 31, 2)],
                month: vec![r(1, 12, 0)],
                year: vec![],
                day_of_week: vec![r(3, 4, 0)],
                comment: "explanation".into(),
            }
        );
        assert_eq!(tz, "US/Pacific");
        assert_eq!(calendar("TZ=Europe/London 0 12 * * *").1, "Europe/London");
    }

    #[test]
    fn six_fields_end_with_a_year() {
        let (cal, _) = calendar("0 12 * * * 2030-2032");
        assert_eq!(cal.year, vec![r(2030, 2032, 0)]);
        assert_eq!(cal.second, vec![r(0, 0, 0)]);
        let err = parse_cron("0 1 2 3 4 1999").expect_err("year before 2000");
        assert!(err.contains("year"), "{err}");
    }

    #[test]
    fn shorthands() {
        let (monthly, _) = calendar("@monthly");
        assert_eq!(monthly.day_of_month, vec![r(1, 0, 0)]);
        assert_eq!(monthly.hour, vec![r(0, 0, 0)]);
        assert_eq!(monthly.month, vec![r(1, 12, 0)]);
        assert_eq!(calendar("@yearly").0, calendar("@annually").0);
        assert_eq!(calendar("@yearly").0.month, vec![r(1, 0, 0)]);
        assert_eq!(calendar("@weekly").0.day_of_week, vec![r(0, 0, 0)]);
        assert_eq!(calendar("@daily").0, calendar("@midnight").0);
        assert_eq!(calendar("@hourly").0.hour, vec![r(0, 23, 0)]);
        assert_eq!(calendar("@daily # note").0.comment, "note");
        assert!(parse_cron("@fortnightly").is_err());
    }

    #[test]
    fn every_becomes_an_interval() {
        assert_eq!(
            parse_cron("@every 5d"),
            Ok(CronItem::Interval(IntervalSpec {
                interval: SignedDuration::from_hours(120),
                phase: SignedDuration::ZERO,
            }))
        );
        assert_eq!(
            parse_cron("@every 5h/45m"),
            Ok(CronItem::Interval(IntervalSpec {
                interval: SignedDuration::from_hours(5),
                phase: SignedDuration::from_mins(45),
            }))
        );
        assert!(parse_cron("@every").is_err());
        assert!(parse_cron("@everyday").is_err());
        assert!(parse_cron("@every 5x").is_err());
    }

    #[test]
    fn wrong_field_counts_and_bare_zones_are_rejected() {
        for text in ["", "* * * *", "* * * * * * * *", "TZ=UTC", "CRON_TZ=UTC   "] {
            assert!(parse_cron(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn durations_follow_go_syntax_plus_days() {
        let ok = [
            ("0", SignedDuration::ZERO),
            ("90m", SignedDuration::from_mins(90)),
            ("1h30m", SignedDuration::from_mins(90)),
            ("1.5h", SignedDuration::from_mins(90)),
            (".5s", SignedDuration::from_millis(500)),
            ("1.5d", SignedDuration::from_hours(36)),
            ("2d12h", SignedDuration::from_hours(60)),
            ("-5m", SignedDuration::from_mins(-5)),
            ("+5s", SignedDuration::from_secs(5)),
            ("300ms", SignedDuration::from_millis(300)),
            ("7us", SignedDuration::from_micros(7)),
            ("7µs", SignedDuration::from_micros(7)),
            ("9ns", SignedDuration::from_nanos(9)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        for text in [
            "",
            "5",
            "h",
            "1.h2",
            ".h",
            "5 m",
            "5mm",
            "1y",
            "-",
            "107000d",
            "99999999999999999999999999999999999999999h",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?}");
        }
    }
}
