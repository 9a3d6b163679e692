//! The seven calendar fields: their bounds, the string syntax of
//! `CalendarSpec` (also used for each field of a cron string), and the
//! validation Temporal applies to `StructuredCalendarSpec`.
//!
//! String syntax, per comma-separated part:
//! `*`, `x`, `x-z`, `x/y` (x to the field's maximum in steps of y),
//! `x-z/y`, `*/y`. Values are decimal, or for months a prefix of at least
//! three letters of the English name, for weekdays at least two letters
//! (`sept`, `Thurs`, `MONDAY`; case-insensitive). Weekday 7 means Sunday.

use crate::types::{CalendarSpec, Range, StructuredCalendarSpec};

/// Earliest year a calendar may name. Temporal's bound.
pub(crate) const MIN_YEAR: i32 = 2000;
/// Latest year a calendar may name, and the horizon past which no fire time
/// is ever searched for (Temporal's `maxCalendarYear`).
pub(crate) const MAX_YEAR: i32 = 2100;
/// Longest comment, in bytes, Temporal accepts on a calendar.
pub(crate) const MAX_COMMENT_LEN: usize = 200;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Names {
    Numbers,
    Months,
    Weekdays,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    /// The proto field name, used in error messages.
    pub(crate) name: &'static str,
    pub(crate) min: i32,
    /// Largest value a structured range may hold.
    pub(crate) max: i32,
    default: &'static str,
    names: Names,
    /// Temporal spells "any year" as an empty list, so `*` parses to that.
    star_is_empty: bool,
}

pub(crate) const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    default: "0",
    names: Names::Numbers,
    star_is_empty: false,
};
pub(crate) const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    default: "0",
    names: Names::Numbers,
    star_is_empty: false,
};
pub(crate) const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    default: "0",
    names: Names::Numbers,
    star_is_empty: false,
};
pub(crate) const DAY_OF_MONTH: Field = Field {
    name: "day_of_month",
    min: 1,
    max: 31,
    default: "*",
    names: Names::Numbers,
    star_is_empty: false,
};
pub(crate) const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    default: "*",
    names: Names::Months,
    star_is_empty: false,
};
pub(crate) const YEAR: Field = Field {
    name: "year",
    min: MIN_YEAR,
    max: MAX_YEAR,
    default: "*",
    names: Names::Numbers,
    star_is_empty: true,
};
pub(crate) const DAY_OF_WEEK: Field = Field {
    name: "day_of_week",
    min: 0,
    max: 6,
    default: "*",
    names: Names::Weekdays,
    star_is_empty: false,
};

const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAY_NAMES: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

impl Field {
    /// The largest value the string form accepts: weekdays take 7 for Sunday
    /// there, which the structured form spells 0.
    fn text_max(&self) -> i32 {
        if self.names == Names::Weekdays { 7 } else { self.max }
    }

    /// Parses one field of a `CalendarSpec` into Temporal's canonical ranges
    /// (`end` 0 for a single value, `step` 0 for a step of 1), so that a
    /// described schedule shows what Temporal would show.
    pub(crate) fn parse(&self, text: &str) -> Result<Vec<Range>, String> {
        let text = match text.trim() {
            "" => self.default,
            t => t,
        };
        if self.star_is_empty && text == "*" {
            return Ok(Vec::new());
        }
        let mut ranges = Vec::new();
        for part in text.split(',') {
            self.parse_part(part, &mut ranges)?;
        }
        Ok(ranges)
    }

    fn parse_part(&self, part: &str, out: &mut Vec<Range>) -> Result<(), String> {
        let name = self.name;
        let (lo, hi) = (self.min, self.text_max());
        let (body, step) = match part.split_once('/') {
            None => (part, None),
            Some((_, s)) if s.contains('/') => {
                return Err(format!("{name}: {part:?} has more than one '/'"));
            }
            Some((_, "")) => return Err(format!("{name}: {part:?} has no step after '/'")),
            Some((body, s)) => match s.parse::<i32>() {
                Ok(step) if step >= 1 => (body, Some(step)),
                _ => {
                    return Err(format!(
                        "{name}: the step in {part:?} must be a whole number of at least 1"
                    ));
                }
            },
        };
        let (start, end) = if body == "*" {
            (lo, hi)
        } else if let Some((a, b)) = body.split_once('-') {
            if b.contains('-') {
                return Err(format!("{name}: {part:?} has more than one '-'"));
            }
            let start = self
                .value(a, lo, hi)
                .ok_or_else(|| format!("{name}: the start of {part:?} is not in range [{lo}-{hi}]"))?;
            let end = self.value(b, start, hi).ok_or_else(|| {
                format!("{name}: the end of {part:?} is before its start or not in range [{lo}-{hi}]")
            })?;
            (start, end)
        } else {
            let v = self
                .value(body, lo, hi)
                .ok_or_else(|| format!("{name}: {part:?} is not in range [{lo}-{hi}]"))?;
            // `x/y` runs from x to the end of the field; a bare `x` is just x.
            (v, if step.is_some() { hi } else { v })
        };
        let step = step.unwrap_or(1);

        if self.names == Names::Weekdays && end == 7 {
            // 7 is Sunday, which structured ranges only know as 0. Add a
            // separate 0 when the range really reaches 7 and does not already
            // start at 0. (Temporal omits the 0 for `1-7`, which drops
            // Sunday; we keep it, as cron users expect.)
            let reaches_seven = (7 - start) % step == 0;
            if reaches_seven && start != 0 {
                out.push(Range::single(0));
            }
            if start == 7 {
                return Ok(());
            }
            out.push(canonical(start, 6, step));
        } else {
            out.push(canonical(start, end, step));
        }
        Ok(())
    }

    /// A single value: a name (where the field has names) or a decimal
    /// integer, accepted only within `lo..=hi`.
    fn value(&self, s: &str, lo: i32, hi: i32) -> Option<i32> {
        let lower = s.to_ascii_lowercase();
        let named = match self.names {
            Names::Months if s.len() >= 3 => MONTH_NAMES.iter().position(|m| m.starts_with(&lower)).map(|i| i + 1),
            Names::Weekdays if s.len() >= 2 => WEEKDAY_NAMES.iter().position(|d| d.starts_with(&lower)),
            _ => None,
        };
        let v = match named {
            Some(i) => i32::try_from(i).ok()?,
            None => s.parse::<i32>().ok()?,
        };
        (lo..=hi).contains(&v).then_some(v)
    }

    /// Temporal's structured-range checks. Ranges that pass can be expanded
    /// without overflow or huge loops: start and end lie within the field.
    pub(crate) fn check(&self, ranges: &[Range], problems: &mut Vec<String>) {
        let (name, lo, hi) = (self.name, self.min, self.max);
        for r in ranges {
            if !(lo..=hi).contains(&r.start) {
                problems.push(format!("{name} start {} is not in range [{lo}-{hi}]", r.start));
            }
            if r.end != 0 && (r.end < r.start || r.end > hi) {
                problems.push(format!(
                    "{name} end {} is before start {} or above {hi}",
                    r.end, r.start
                ));
            }
            if r.step < 0 {
                problems.push(format!("{name} step {} is negative", r.step));
            }
        }
    }
}

fn canonical(start: i32, end: i32, step: i32) -> Range {
    Range {
        start,
        end: if end == start { 0 } else { end },
        step: if step == 1 { 0 } else { step },
    }
}

/// Parses a `CalendarSpec` into its structured form, reporting every bad
/// field at once.
pub(crate) fn parse_calendar(cal: &CalendarSpec) -> Result<StructuredCalendarSpec, String> {
    let mut problems = Vec::new();
    let mut field = |f: &Field, text: &str| {
        f.parse(text).unwrap_or_else(|e| {
            problems.push(e);
            Vec::new()
        })
    };
    let structured = StructuredCalendarSpec {
        second: field(&SECOND, &cal.second),
        minute: field(&MINUTE, &cal.minute),
        hour: field(&HOUR, &cal.hour),
        day_of_month: field(&DAY_OF_MONTH, &cal.day_of_month),
        month: field(&MONTH, &cal.month),
        year: field(&YEAR, &cal.year),
        day_of_week: field(&DAY_OF_WEEK, &cal.day_of_week),
        comment: cal.comment.clone(),
    };
    if problems.is_empty() {
        Ok(structured)
    } else {
        Err(problems.join(", "))
    }
}

/// Temporal's validation of a structured calendar; returns the problems
/// joined, if any.
pub(crate) fn check_structured(cal: &StructuredCalendarSpec) -> Result<(), String> {
    let mut problems = Vec::new();
    SECOND.check(&cal.second, &mut problems);
    MINUTE.check(&cal.minute, &mut problems);
    HOUR.check(&cal.hour, &mut problems);
    DAY_OF_MONTH.check(&cal.day_of_month, &mut problems);
    MONTH.check(&cal.month, &mut problems);
    YEAR.check(&cal.year, &mut problems);
    DAY_OF_WEEK.check(&cal.day_of_week, &mut problems);
    if cal.comment.len() > MAX_COMMENT_LEN {
        problems.push(format!(
            "comment is {} bytes long, the limit is {MAX_COMMENT_LEN}",
            cal.comment.len()
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: i32, end: i32, step: i32) -> Range {
        Range { start, end, step }
    }

    #[test]
    fn lists_ranges_and_steps_take_temporal_canonical_shapes() {
        assert_eq!(MINUTE.parse("13"), Ok(vec![r(13, 0, 0)]));
        assert_eq!(
            MINUTE.parse("13,18,44"),
            Ok(vec![r(13, 0, 0), r(18, 0, 0), r(44, 0, 0)])
        );
        assert_eq!(MINUTE.parse("13-18"), Ok(vec![r(13, 18, 0)]));
        assert_eq!(
            MINUTE.parse("2-5,7-9,11"),
            Ok(vec![r(2, 5, 0), r(7, 9, 0), r(11, 0, 0)])
        );
        assert_eq!(HOUR.parse("*"), Ok(vec![r(0, 23, 0)]));
        assert_eq!(HOUR.parse("*/3"), Ok(vec![r(0, 23, 3)]));
        assert_eq!(MINUTE.parse("2/3"), Ok(vec![r(2, 59, 3)]));
        assert_eq!(MINUTE.parse("10-40/10"), Ok(vec![r(10, 40, 10)]));
        assert_eq!(MINUTE.parse("2-6/4,7-8"), Ok(vec![r(2, 6, 4), r(7, 8, 0)]));
    }

    #[test]
    fn empty_fields_take_their_defaults() {
        assert_eq!(SECOND.parse(""), Ok(vec![r(0, 0, 0)]));
        assert_eq!(MINUTE.parse("  "), Ok(vec![r(0, 0, 0)]));
        assert_eq!(HOUR.parse(""), Ok(vec![r(0, 0, 0)]));
        assert_eq!(DAY_OF_MONTH.parse(""), Ok(vec![r(1, 31, 0)]));
        assert_eq!(MONTH.parse(""), Ok(vec![r(1, 12, 0)]));
        assert_eq!(DAY_OF_WEEK.parse(""), Ok(vec![r(0, 6, 0)]));
        assert_eq!(YEAR.parse(""), Ok(vec![]));
        assert_eq!(YEAR.parse("*"), Ok(vec![]));
        assert_eq!(YEAR.parse("*/2"), Ok(vec![r(2000, 2100, 2)]));
    }

    #[test]
    fn month_and_weekday_names_are_case_insensitive_prefixes() {
        assert_eq!(MONTH.parse("Sept"), Ok(vec![r(9, 0, 0)]));
        assert_eq!(MONTH.parse("jan-MAR"), Ok(vec![r(1, 3, 0)]));
        assert_eq!(MONTH.parse("December"), Ok(vec![r(12, 0, 0)]));
        assert_eq!(MONTH.parse("February/5"), Ok(vec![r(2, 12, 5)]));
        assert_eq!(DAY_OF_WEEK.parse("mon-Friday"), Ok(vec![r(1, 5, 0)]));
        assert_eq!(DAY_OF_WEEK.parse("wed-thurs"), Ok(vec![r(3, 4, 0)]));
        assert_eq!(DAY_OF_WEEK.parse("SU"), Ok(vec![r(0, 0, 0)]));
        // Too short to be a name, and not a number.
        assert!(MONTH.parse("ma").is_err());
        assert!(DAY_OF_WEEK.parse("s").is_err());
        assert!(MONTH.parse("janx").is_err());
        // Names only exist where the field has them.
        assert!(HOUR.parse("mon").is_err());
    }

    #[test]
    fn weekday_seven_is_sunday() {
        assert_eq!(DAY_OF_WEEK.parse("7"), Ok(vec![r(0, 0, 0)]));
        assert_eq!(DAY_OF_WEEK.parse("6,7"), Ok(vec![r(6, 0, 0), r(0, 0, 0)]));
        assert_eq!(DAY_OF_WEEK.parse("0-7"), Ok(vec![r(0, 6, 0)]));
        assert_eq!(DAY_OF_WEEK.parse("1-7"), Ok(vec![r(0, 0, 0), r(1, 6, 0)]));
        assert_eq!(DAY_OF_WEEK.parse("5-7"), Ok(vec![r(0, 0, 0), r(5, 6, 0)]));
        // 3, 6: never reaches 7, so no Sunday.
        assert_eq!(DAY_OF_WEEK.parse("3-7/3"), Ok(vec![r(3, 6, 3)]));
        assert_eq!(DAY_OF_WEEK.parse("1-7/2"), Ok(vec![r(0, 0, 0), r(1, 6, 2)]));
        assert_eq!(DAY_OF_WEEK.parse("*/2"), Ok(vec![r(0, 6, 2)]));
    }

    #[test]
    fn malformed_parts_are_rejected_with_the_field_name() {
        for (field, text, needle) in [
            (&MINUTE, "133", "not in range [0-59]"),
            (&MINUTE, "13,18,44,", "not in range"),
            (&MINUTE, "18-13", "before its start"),
            (&MINUTE, "1,3,18-13", "before its start"),
            (&MINUTE, "2/3/5", "more than one '/'"),
            (&MINUTE, "5/", "no step"),
            (&MINUTE, "*/0", "at least 1"),
            (&MINUTE, "*/-1", "at least 1"),
            (&MINUTE, "*/x", "at least 1"),
            (&DAY_OF_WEEK, "1-5-7", "more than one '-'"),
            (&DAY_OF_WEEK, "Fri-Tues", "before its start"),
            (&DAY_OF_WEEK, "monday-", "before its start"),
            (&DAY_OF_WEEK, "8", "not in range [0-7]"),
            (&YEAR, "1999", "not in range [2000-2100]"),
            (&YEAR, "2101", "not in range"),
            (&DAY_OF_MONTH, "0", "not in range [1-31]"),
            (&MONTH, "13", "not in range"),
            (&HOUR, "-1", "start of"),
            (&HOUR, "99999999999", "not in range"),
        ] {
            let err = field.parse(text).expect_err(text);
            assert!(err.contains(needle), "{text}: {err}");
            assert!(err.starts_with(field.name), "{text}: {err}");
        }
    }

    #[test]
    fn parse_calendar_reports_every_bad_field() {
        let cal = CalendarSpec {
            minute: "61".into(),
            month: "smarch".into(),
            ..Default::default()
        };
        let err = parse_calendar(&cal).expect_err("two bad fields");
        assert!(err.contains("minute") && err.contains("month"), "{err}");
    }

    #[test]
    fn structured_checks_follow_temporal() {
        let bad = [
            StructuredCalendarSpec {
                second: vec![r(100, 0, 0)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                second: vec![r(-3, 0, 0)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                second: vec![r(30, 60, 0)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                second: vec![r(30, 40, -3)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                hour: vec![r(0, 24, 0)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                hour: vec![r(16, 12, 0)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                day_of_month: vec![r(0, 0, 0)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                day_of_month: vec![r(0, 33, 0)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                month: vec![r(0, 13, 0)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                day_of_week: vec![r(7, 0, 0)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                day_of_week: vec![r(6, 7, 0)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                year: vec![r(1999, 0, 0)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                year: vec![r(2112, 0, 0)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                comment: "x".repeat(201),
                ..Default::default()
            },
        ];
        for cal in bad {
            assert!(check_structured(&cal).is_err(), "{cal:?}");
        }
        let good = StructuredCalendarSpec {
            second: vec![r(0, 59, 7)],
            hour: vec![r(5, 0, 0), r(7, 0, 0)],
            year: vec![r(2000, 2100, 0)],
            comment: "x".repeat(200),
            ..Default::default()
        };
        assert_eq!(check_structured(&good), Ok(()));
    }
}
