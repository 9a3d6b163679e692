// The deprecated `exclude_calendar` field is still accepted from clients, as Temporal does.
#![allow(deprecated)]

//! Mapping between Temporal's `temporal.api.schedule.v1` messages and this crate's plain
//! types, and between protobuf and `jiff` times. Kept apart so the time logic itself never
//! depends on the generated API.

use crate::{CalendarSpec, IntervalSpec, Range, ScheduleSpec, StructuredCalendarSpec};
use jiff::{SignedDuration, Timestamp};
use prost_wkt_types::{Duration as PbDuration, Timestamp as PbTimestamp};
use sundial_api::temporal::schedule::v1 as pb;

/// A protobuf timestamp as a `jiff` one; out-of-range values clamp to jiff's range.
pub fn timestamp_from_pb(t: &PbTimestamp) -> Timestamp {
    let nanos = i128::from(t.seconds)
        .saturating_mul(1_000_000_000)
        .saturating_add(i128::from(t.nanos));
    let min = Timestamp::MIN.as_nanosecond();
    let max = Timestamp::MAX.as_nanosecond();
    Timestamp::from_nanosecond(nanos.clamp(min, max)).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub fn timestamp_to_pb(t: Timestamp) -> PbTimestamp {
    PbTimestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    }
}

/// Unix nanoseconds (saturating) of a `jiff` timestamp.
pub fn timestamp_nanos(t: Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(if t.as_second() < 0 { i64::MIN } else { i64::MAX })
}

pub fn timestamp_from_nanos(nanos: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(nanos)).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub fn duration_from_pb(d: &PbDuration) -> SignedDuration {
    SignedDuration::new(d.seconds, d.nanos)
}

pub fn duration_to_pb(d: SignedDuration) -> PbDuration {
    PbDuration {
        seconds: d.as_secs(),
        nanos: d.subsec_nanos(),
    }
}

fn ranges_from(r: &[pb::Range]) -> Vec<Range> {
    r.iter()
        .map(|r| Range {
            start: r.start,
            end: r.end,
            step: r.step,
        })
        .collect()
}

fn ranges_to(r: &[Range]) -> Vec<pb::Range> {
    r.iter()
        .map(|r| pb::Range {
            start: r.start,
            end: r.end,
            step: r.step,
        })
        .collect()
}

fn structured_from(c: &pb::StructuredCalendarSpec) -> StructuredCalendarSpec {
    StructuredCalendarSpec {
        second: ranges_from(&c.second),
        minute: ranges_from(&c.minute),
        hour: ranges_from(&c.hour),
        day_of_month: ranges_from(&c.day_of_month),
        month: ranges_from(&c.month),
        year: ranges_from(&c.year),
        day_of_week: ranges_from(&c.day_of_week),
        comment: c.comment.clone(),
    }
}

fn structured_to(c: &StructuredCalendarSpec) -> pb::StructuredCalendarSpec {
    pb::StructuredCalendarSpec {
        second: ranges_to(&c.second),
        minute: ranges_to(&c.minute),
        hour: ranges_to(&c.hour),
        day_of_month: ranges_to(&c.day_of_month),
        month: ranges_to(&c.month),
        year: ranges_to(&c.year),
        day_of_week: ranges_to(&c.day_of_week),
        comment: c.comment.clone(),
    }
}

fn calendar_from(c: &pb::CalendarSpec) -> CalendarSpec {
    CalendarSpec {
        second: c.second.clone(),
        minute: c.minute.clone(),
        hour: c.hour.clone(),
        day_of_month: c.day_of_month.clone(),
        month: c.month.clone(),
        year: c.year.clone(),
        day_of_week: c.day_of_week.clone(),
        comment: c.comment.clone(),
    }
}

fn calendar_to(c: &CalendarSpec) -> pb::CalendarSpec {
    pb::CalendarSpec {
        second: c.second.clone(),
        minute: c.minute.clone(),
        hour: c.hour.clone(),
        day_of_month: c.day_of_month.clone(),
        month: c.month.clone(),
        year: c.year.clone(),
        day_of_week: c.day_of_week.clone(),
        comment: c.comment.clone(),
    }
}

pub fn spec_from_pb(s: &pb::ScheduleSpec) -> ScheduleSpec {
    ScheduleSpec {
        structured_calendar: s.structured_calendar.iter().map(structured_from).collect(),
        cron_string: s.cron_string.clone(),
        calendar: s.calendar.iter().map(calendar_from).collect(),
        interval: s
            .interval
            .iter()
            .map(|i| IntervalSpec {
                interval: i.interval.as_ref().map(duration_from_pb).unwrap_or_default(),
                phase: i.phase.as_ref().map(duration_from_pb).unwrap_or_default(),
            })
            .collect(),
        exclude_calendar: s.exclude_calendar.iter().map(calendar_from).collect(),
        exclude_structured_calendar: s.exclude_structured_calendar.iter().map(structured_from).collect(),
        start_time: s.start_time.as_ref().map(timestamp_from_pb),
        end_time: s.end_time.as_ref().map(timestamp_from_pb),
        jitter: s.jitter.as_ref().map(duration_from_pb).unwrap_or_default(),
        timezone_name: s.timezone_name.clone(),
        timezone_data: s.timezone_data.clone(),
    }
}

pub fn spec_to_pb(s: &ScheduleSpec) -> pb::ScheduleSpec {
    let nonzero = |d: SignedDuration| (!d.is_zero()).then(|| duration_to_pb(d));
    pb::ScheduleSpec {
        structured_calendar: s.structured_calendar.iter().map(structured_to).collect(),
        cron_string: s.cron_string.clone(),
        calendar: s.calendar.iter().map(calendar_to).collect(),
        interval: s
            .interval
            .iter()
            .map(|i| pb::IntervalSpec {
                interval: Some(duration_to_pb(i.interval)),
                phase: nonzero(i.phase),
            })
            .collect(),
        exclude_calendar: s.exclude_calendar.iter().map(calendar_to).collect(),
        exclude_structured_calendar: s.exclude_structured_calendar.iter().map(structured_to).collect(),
        start_time: s.start_time.map(timestamp_to_pb),
        end_time: s.end_time.map(timestamp_to_pb),
        jitter: nonzero(s.jitter),
        timezone_name: s.timezone_name.clone(),
        timezone_data: s.timezone_data.clone(),
    }
}

/// The spec as `DescribeSchedule` and `ListSchedules` show it: every range spelled out,
/// `end` no less than `start` and `step` at least 1, where the canonical form that is
/// stored (and compiled) leaves them at the proto defaults (`end` 0 for a single value,
/// `step` 0 for 1). Temporal's server cleans ranges the same way before it answers; the
/// set of values each range stands for is unchanged.
pub fn described_spec(spec: &pb::ScheduleSpec) -> pb::ScheduleSpec {
    let mut spec = spec.clone();
    let spell_out = |ranges: &mut Vec<pb::Range>| {
        for r in ranges {
            r.end = r.end.max(r.start);
            if r.step == 0 {
                r.step = 1;
            }
        }
    };
    for cal in spec
        .structured_calendar
        .iter_mut()
        .chain(spec.exclude_structured_calendar.iter_mut())
    {
        for field in [
            &mut cal.second,
            &mut cal.minute,
            &mut cal.hour,
            &mut cal.day_of_month,
            &mut cal.month,
            &mut cal.year,
            &mut cal.day_of_week,
        ] {
            spell_out(field);
        }
    }
    spec
}

/// Compiles a proto spec; the jitter is seeded per schedule as Temporal does.
pub fn compile(
    spec: &pb::ScheduleSpec,
    namespace_id: &str,
    schedule_id: &str,
) -> Result<crate::CompiledSpec, crate::SpecError> {
    Ok(crate::CompiledSpec::new(&spec_from_pb(spec))?.with_jitter_seed(format!("{namespace_id}-{schedule_id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_clamp() {
        let t = PbTimestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        };
        assert_eq!(timestamp_to_pb(timestamp_from_pb(&t)), t);
        let huge = PbTimestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert_eq!(timestamp_from_pb(&huge), Timestamp::MAX);
        assert_eq!(
            timestamp_from_nanos(timestamp_nanos(Timestamp::UNIX_EPOCH)),
            Timestamp::UNIX_EPOCH
        );
    }

    #[test]
    fn described_specs_spell_out_single_values_and_unit_steps() {
        let range = |start, end, step| pb::Range { start, end, step };
        let stored = pb::ScheduleSpec {
            structured_calendar: vec![pb::StructuredCalendarSpec {
                second: vec![range(0, 0, 0)],
                minute: vec![range(5, 0, 0), range(35, 0, 0)],
                hour: vec![range(0, 23, 6)],
                day_of_month: vec![range(1, 31, 0)],
                month: vec![range(12, 0, 0)],
                day_of_week: vec![range(0, 0, 0), range(1, 6, 2)],
                year: vec![],
                comment: "kept".into(),
            }],
            exclude_structured_calendar: vec![pb::StructuredCalendarSpec {
                second: vec![range(0, 59, 0)],
                minute: vec![range(0, 59, 0)],
                hour: vec![range(0, 23, 0)],
                day_of_month: vec![range(24, 26, 0)],
                month: vec![range(12, 0, 0)],
                day_of_week: vec![range(0, 6, 0)],
                ..Default::default()
            }],
            cron_string: vec![],
            timezone_name: "Europe/London".into(),
            ..Default::default()
        };
        let described = described_spec(&stored);
        let cal = &described.structured_calendar[0];
        assert_eq!(cal.second, vec![range(0, 0, 1)]);
        assert_eq!(cal.minute, vec![range(5, 5, 1), range(35, 35, 1)]);
        assert_eq!(cal.hour, vec![range(0, 23, 6)], "explicit steps stay");
        assert_eq!(cal.day_of_week, vec![range(0, 0, 1), range(1, 6, 2)]);
        assert!(cal.year.is_empty(), "any year stays an empty list");
        assert_eq!(cal.comment, "kept");
        let skip = &described.exclude_structured_calendar[0];
        assert_eq!(skip.month, vec![range(12, 12, 1)]);
        assert_eq!(skip.day_of_month, vec![range(24, 26, 1)]);
        assert_eq!(described.timezone_name, "Europe/London");
        // Spelling out changes no fire time.
        let times = |s: &pb::ScheduleSpec| {
            let from = "2026-12-01T00:00:00Z".parse().expect("a timestamp");
            let to = "2027-01-01T00:00:00Z".parse().expect("a timestamp");
            compile(s, "ns", "id").expect("a valid spec").matching_times(from, to)
        };
        let before = times(&stored);
        // Sundays, Mondays, Wednesdays and Fridays of December 2026 at 5 and 35 past
        // 00, 06, 12 and 18 o'clock, but not on the 25th (a Friday).
        assert_eq!(before.len(), (17 - 1) * 8);
        assert_eq!(times(&described), before);
        // And it is idempotent.
        assert_eq!(described_spec(&described), described);
    }

    #[test]
    fn a_spec_round_trips() {
        let spec = pb::ScheduleSpec {
            cron_string: vec!["*/5 * * * *".into()],
            interval: vec![pb::IntervalSpec {
                interval: Some(PbDuration { seconds: 90, nanos: 0 }),
                phase: Some(PbDuration { seconds: 15, nanos: 0 }),
            }],
            timezone_name: "Europe/Paris".into(),
            ..Default::default()
        };
        assert_eq!(spec_to_pb(&spec_from_pb(&spec)), spec);
    }
}
