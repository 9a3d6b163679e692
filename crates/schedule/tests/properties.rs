//! Property tests: hostile input never panics or hangs, and the search agrees
//! with a second-by-second reading of the calendar through jiff.

use proptest::prelude::*;
use sundial_schedule::jiff::{SignedDuration, Timestamp, tz::TimeZone};
use sundial_schedule::{CalendarSpec, CompiledSpec, IntervalSpec, Range, ScheduleSpec, StructuredCalendarSpec};

/// Zones with awkward histories: 30- and 45-minute offsets, half-hour DST,
/// transitions at midnight (Beirut, Havana, Asuncion), and a whole skipped
/// day (Apia, 2011-12-30).
const ZONES: [&str; 10] = [
    "",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Beirut",
    "America/Havana",
    "America/Asuncion",
    "Pacific/Apia",
    "Asia/Kathmandu",
    "America/St_Johns",
];

/// 2000-01-01 to 2040-01-01.
fn any_time() -> impl Strategy<Value = Timestamp> {
    (946_684_800_i64..2_208_988_800).prop_map(|s| Timestamp::from_second(s).expect("in range"))
}

fn field_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,3}",
        "[0-9*a-zA-Z/,-]{0,12}",
        "(\\*|[0-9]{1,4})(-[0-9]{1,4})?(/[0-9]{1,10})?(,[0-9]{1,2})?",
        "[a-zA-Z]{2,9}(-[a-zA-Z]{2,9})?",
    ]
}

fn cron_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "((CRON_)?TZ=[A-Za-z/_]{0,16} )?([0-9*/,a-z-]{1,6} ){4,7}(# .{0,10})?",
        "@[a-z]{0,10}( [0-9]{1,3}[smhd]?(/[0-9]{1,3}[smhdx]?)?)?",
        ".{0,40}",
    ]
}

fn any_range() -> impl Strategy<Value = Range> {
    (any::<i32>(), any::<i32>(), any::<i32>()).prop_map(|(start, end, step)| Range { start, end, step })
}

fn any_structured() -> impl Strategy<Value = StructuredCalendarSpec> {
    let ranges = || proptest::collection::vec(any_range(), 0..3);
    (ranges(), ranges(), ranges(), ranges(), ranges(), ranges(), ranges()).prop_map(
        |(second, minute, hour, day_of_month, month, year, day_of_week)| StructuredCalendarSpec {
            second,
            minute,
            hour,
            day_of_month,
            month,
            year,
            day_of_week,
            comment: String::new(),
        },
    )
}

/// Ranges that are valid for a field spanning `lo..=hi`.
fn valid_ranges(lo: i32, hi: i32) -> impl Strategy<Value = Vec<Range>> {
    let range = (lo..=hi, 0..=hi, 0..=(hi - lo + 1)).prop_map(move |(start, end, step)| Range {
        start,
        // End 0 (just start) or somewhere from start to hi.
        end: if end == 0 || end < start { 0 } else { end },
        step,
    });
    proptest::collection::vec(range, 1..4)
}

fn valid_structured() -> impl Strategy<Value = StructuredCalendarSpec> {
    (
        valid_ranges(0, 59),
        valid_ranges(0, 59),
        valid_ranges(0, 23),
        valid_ranges(1, 31),
        valid_ranges(1, 12),
        prop_oneof![3 => Just(Vec::new()), 1 => valid_ranges(2000, 2100)],
        valid_ranges(0, 6),
    )
        .prop_map(
            |(second, minute, hour, day_of_month, month, year, day_of_week)| StructuredCalendarSpec {
                second,
                minute,
                hour,
                day_of_month,
                month,
                year,
                day_of_week,
                comment: String::new(),
            },
        )
}

/// Calendars that usually match within hours, so that the second-by-second
/// check covers the whole gap: most fields are "every value".
fn dense_structured() -> impl Strategy<Value = StructuredCalendarSpec> {
    let field = |lo: i32, hi: i32| {
        prop_oneof![
            4 => Just(vec![Range::span(lo, hi)]),
            1 => valid_ranges(lo, hi),
        ]
    };
    (
        prop_oneof![Just(vec![Range::single(0)]), valid_ranges(0, 59)],
        field(0, 59),
        field(0, 23),
        field(1, 31),
        field(1, 12),
        field(0, 6),
    )
        .prop_map(
            |(second, minute, hour, day_of_month, month, day_of_week)| StructuredCalendarSpec {
                second,
                minute,
                hour,
                day_of_month,
                month,
                year: Vec::new(),
                day_of_week,
                comment: String::new(),
            },
        )
}

/// Whether `v` is in any range, read straight from the proto's definition.
fn in_ranges(ranges: &[Range], v: i32) -> bool {
    ranges.iter().any(|r| {
        let end = if r.end < r.start { r.start } else { r.end };
        let step = r.step.max(1);
        (r.start..=end).contains(&v) && (v - r.start) % step == 0
    })
}

/// An independent matcher: the wall-clock fields jiff gives for `t`.
fn oracle(cal: &StructuredCalendarSpec, tz: &TimeZone, t: Timestamp) -> bool {
    let z = t.to_zoned(tz.clone());
    (cal.year.is_empty() || in_ranges(&cal.year, i32::from(z.year())))
        && in_ranges(&cal.month, i32::from(z.month()))
        && in_ranges(&cal.day_of_month, i32::from(z.day()))
        && in_ranges(&cal.day_of_week, i32::from(z.weekday().to_sunday_zero_offset()))
        && in_ranges(&cal.hour, i32::from(z.hour()))
        && in_ranges(&cal.minute, i32::from(z.minute()))
        && in_ranges(&cal.second, i32::from(z.second()))
}

fn exercise(spec: &CompiledSpec, after: Timestamp) {
    if let Some(t) = spec.next_time(after) {
        assert!(t.nominal > after && t.next >= t.nominal);
    }
    let times = spec.matching_times(after, after + SignedDuration::from_hours(24));
    assert!(times.windows(2).all(|w| w[0] < w[1]));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn hostile_calendar_strings_never_panic(
        fields in proptest::collection::vec(field_text(), 7),
        zone in 0..ZONES.len(),
        after in any_time(),
    ) {
        let cal = CalendarSpec {
            second: fields[0].clone(),
            minute: fields[1].clone(),
            hour: fields[2].clone(),
            day_of_month: fields[3].clone(),
            month: fields[4].clone(),
            year: fields[5].clone(),
            day_of_week: fields[6].clone(),
            comment: String::new(),
        };
        let spec = ScheduleSpec {
            calendar: vec![cal.clone()],
            exclude_calendar: vec![cal],
            timezone_name: ZONES[zone].into(),
            ..Default::default()
        };
        if let Ok(spec) = CompiledSpec::new(&spec) {
            exercise(&spec, after);
        }
    }

    #[test]
    fn hostile_cron_strings_never_panic(
        crons in proptest::collection::vec(cron_text(), 1..3),
        after in any_time(),
    ) {
        let spec = ScheduleSpec { cron_string: crons, ..Default::default() };
        if let Ok(spec) = CompiledSpec::new(&spec) {
            exercise(&spec, after);
        }
    }

    #[test]
    fn hostile_structured_ranges_and_durations_never_panic(
        cal in any_structured(),
        exclude in any_structured(),
        interval in any::<i64>(),
        phase in any::<i64>(),
        jitter in any::<i64>(),
        start in proptest::option::of(any::<i64>()),
        after in any::<i64>(),
    ) {
        let spec = ScheduleSpec {
            structured_calendar: vec![cal],
            exclude_structured_calendar: vec![exclude],
            interval: vec![IntervalSpec {
                interval: SignedDuration::from_nanos(interval),
                phase: SignedDuration::from_nanos(phase),
            }],
            jitter: SignedDuration::from_secs(jitter),
            start_time: start.and_then(|s| Timestamp::from_second(s % 253_402_207_200).ok()),
            ..Default::default()
        };
        if let Ok(spec) = CompiledSpec::new(&spec) {
            let after = Timestamp::from_second(after % 253_402_207_200).expect("in range");
            exercise(&spec, after);
        }
    }

    #[test]
    fn valid_structured_calendars_compile(cal in valid_structured()) {
        let spec = ScheduleSpec { structured_calendar: vec![cal], ..Default::default() };
        prop_assert!(CompiledSpec::new(&spec).is_ok());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The next time matches, nothing between matches, and searching from
    /// anywhere in between finds the same time.
    #[test]
    fn next_time_agrees_with_a_second_by_second_reading(
        cal in prop_oneof![valid_structured(), dense_structured()],
        zone in 0..ZONES.len(),
        after in any_time(),
        before_transition in proptest::option::of(0..3 * 3600_i64),
        probes in proptest::collection::vec(0.0..1.0_f64, 64),
    ) {
        let spec = CompiledSpec::new(&ScheduleSpec {
            structured_calendar: vec![cal.clone()],
            timezone_name: ZONES[zone].into(),
            ..Default::default()
        })
        .expect("valid");
        let tz = spec.time_zone().clone();
        // Half the time, start shortly before one of the zone's transitions.
        let transition = tz.following(after).next().map(|t| t.timestamp());
        let after = match (before_transition, transition) {
            (Some(lead), Some(at)) => at - SignedDuration::from_secs(lead),
            _ => after,
        };
        let Some(found) = spec.next_time(after) else {
            // Nothing ahead: then nothing in the next day matches either.
            for s in 1..=86_400 {
                prop_assert!(!oracle(&cal, &tz, after + SignedDuration::from_secs(s)));
            }
            return Ok(());
        };
        let nominal = found.nominal;
        prop_assert!(nominal > after);
        prop_assert_eq!(nominal.subsec_nanosecond(), 0);
        prop_assert!(oracle(&cal, &tz, nominal), "{} does not match", nominal);

        let gap = nominal.as_second() - after.as_second();
        if gap <= 24 * 3600 {
            for s in 1..gap {
                let t = Timestamp::from_second(after.as_second() + s).expect("in range");
                prop_assert!(!oracle(&cal, &tz, t), "{} matches but {} was returned", t, nominal);
            }
        } else {
            for p in &probes {
                let t = Timestamp::from_second(after.as_second() + 1 + (p * (gap - 1) as f64) as i64)
                    .expect("in range");
                prop_assert!(t >= nominal || !oracle(&cal, &tz, t), "{} matches", t);
            }
        }
        for p in probes.iter().take(16) {
            let t = after + SignedDuration::from_secs((p * gap as f64) as i64);
            if t < nominal {
                prop_assert_eq!(spec.next_time(t).map(|n| n.nominal), Some(nominal));
            }
        }
    }
}

/// Around each of the first transitions after mid-2011 in every zone
/// (Apia's skipped 30 December among them), the fire times of a
/// quarter-hourly calendar are exactly the seconds whose wall clock reads
/// a quarter hour.
#[test]
fn quarter_hours_around_real_transitions_match_a_full_scan() {
    let cal = StructuredCalendarSpec {
        second: vec![Range::single(0)],
        minute: vec![Range {
            start: 0,
            end: 59,
            step: 15,
        }],
        hour: vec![Range::span(0, 23)],
        day_of_month: vec![Range::span(1, 31)],
        month: vec![Range::span(1, 12)],
        year: Vec::new(),
        day_of_week: vec![Range::span(0, 6)],
        comment: String::new(),
    };
    for zone in ZONES {
        let spec = CompiledSpec::new(&ScheduleSpec {
            structured_calendar: vec![cal.clone()],
            timezone_name: zone.into(),
            ..Default::default()
        })
        .expect("valid");
        let tz = spec.time_zone().clone();
        let mid_2011 = Timestamp::from_second(1_306_886_400).expect("in range");
        for transition in tz.following(mid_2011).take(4) {
            let from = transition.timestamp() - SignedDuration::from_hours(6);
            let to = transition.timestamp() + SignedDuration::from_hours(6);
            let expected: Vec<Timestamp> = (1..=to.as_second() - from.as_second())
                .map(|s| from + SignedDuration::from_secs(s))
                .filter(|&t| oracle(&cal, &tz, t))
                .collect();
            assert_eq!(
                spec.matching_times(from, to),
                expected,
                "{zone} near {}",
                transition.timestamp()
            );
        }
    }
}
