//! The behaviours Temporal's scheduler tests pin down (spec_test.go,
//! calendar_test.go), restated as our own cases, plus time zones and limits.

use sundial_schedule::jiff::{SignedDuration, Timestamp, civil, tz::TimeZone};
use sundial_schedule::{
    CalendarSpec, CompiledSpec, IntervalSpec, MAX_MATCHING_TIMES, NextTime, Range, ScheduleSpec, SpecError,
    StructuredCalendarSpec,
};

fn utc(y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8) -> Timestamp {
    civil::date(y, mo, d)
        .at(h, mi, s, 0)
        .to_zoned(TimeZone::UTC)
        .expect("valid date")
        .timestamp()
}

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

fn every(interval: SignedDuration, phase: SignedDuration) -> IntervalSpec {
    IntervalSpec { interval, phase }
}

fn compile(spec: ScheduleSpec) -> CompiledSpec {
    CompiledSpec::new(&spec).expect("valid spec")
}

/// The next `n` nominal times, each searched from the previous one.
fn nominals(spec: &CompiledSpec, mut after: Timestamp, n: usize) -> Vec<Timestamp> {
    let mut out = Vec::new();
    for _ in 0..n {
        let Some(NextTime { nominal, .. }) = spec.next_time(after) else {
            break;
        };
        out.push(nominal);
        after = nominal;
    }
    out
}

fn hours_and_minute(hour: &str, minute: &str) -> CalendarSpec {
    CalendarSpec {
        hour: hour.into(),
        minute: minute.into(),
        ..Default::default()
    }
}

#[test]
fn every_ninety_minutes_counts_from_the_epoch() {
    let spec = compile(ScheduleSpec {
        interval: vec![every(mins(90), SignedDuration::ZERO)],
        ..Default::default()
    });
    let after = utc(2022, 3, 23, 12, 53, 2)
        .checked_add(SignedDuration::from_nanos(9))
        .expect("in range");
    assert_eq!(
        nominals(&spec, after, 4),
        [
            utc(2022, 3, 23, 13, 30, 0),
            utc(2022, 3, 23, 15, 0, 0),
            utc(2022, 3, 23, 16, 30, 0),
            utc(2022, 3, 23, 18, 0, 0),
        ]
    );
}

#[test]
fn a_phase_shifts_every_interval_time() {
    let spec = compile(ScheduleSpec {
        interval: vec![every(mins(90), mins(5) + SignedDuration::from_secs(44))],
        ..Default::default()
    });
    assert_eq!(
        nominals(&spec, utc(2022, 3, 23, 12, 53, 2), 4),
        [
            utc(2022, 3, 23, 13, 35, 44),
            utc(2022, 3, 23, 15, 5, 44),
            utc(2022, 3, 23, 16, 35, 44),
            utc(2022, 3, 23, 18, 5, 44),
        ]
    );
}

#[test]
fn every_ninety_minutes_with_a_fifteen_minute_phase_via_cron() {
    let spec = compile(ScheduleSpec {
        cron_string: vec!["@every 90m/15m".into()],
        ..Default::default()
    });
    assert_eq!(
        nominals(&spec, utc(2022, 3, 23, 0, 0, 0), 3),
        [
            utc(2022, 3, 23, 0, 15, 0),
            utc(2022, 3, 23, 1, 45, 0),
            utc(2022, 3, 23, 3, 15, 0),
        ]
    );
}

#[test]
fn several_intervals_interleave() {
    let spec = compile(ScheduleSpec {
        interval: vec![
            every(mins(90), mins(5) + SignedDuration::from_secs(44)),
            every(mins(157), mins(22) + SignedDuration::from_secs(11)),
        ],
        ..Default::default()
    });
    assert_eq!(
        nominals(&spec, utc(2022, 3, 23, 12, 53, 2), 7),
        [
            utc(2022, 3, 23, 13, 35, 44),
            utc(2022, 3, 23, 15, 5, 44),
            utc(2022, 3, 23, 15, 26, 11),
            utc(2022, 3, 23, 16, 35, 44),
            utc(2022, 3, 23, 18, 3, 11),
            utc(2022, 3, 23, 18, 5, 44),
            utc(2022, 3, 23, 19, 35, 44),
        ]
    );
}

#[test]
fn calendars_crons_and_intervals_merge_in_time_order() {
    let twice_a_day = [
        utc(2022, 3, 23, 5, 23, 0),
        utc(2022, 3, 23, 7, 23, 0),
        utc(2022, 3, 23, 11, 55, 0),
        utc(2022, 3, 23, 13, 55, 0),
        utc(2022, 3, 24, 5, 23, 0),
        utc(2022, 3, 24, 7, 23, 0),
    ];
    let start = utc(2022, 3, 23, 3, 0, 0);
    let two_calendars = compile(ScheduleSpec {
        calendar: vec![hours_and_minute("5,7", "23"), hours_and_minute("11,13", "55")],
        ..Default::default()
    });
    assert_eq!(nominals(&two_calendars, start, 6), twice_a_day);
    let calendar_and_cron = compile(ScheduleSpec {
        calendar: vec![hours_and_minute("5,7", "23")],
        cron_string: vec!["55 11,13 * * *".into()],
        ..Default::default()
    });
    assert_eq!(nominals(&calendar_and_cron, start, 6), twice_a_day);

    let calendar_and_interval = compile(ScheduleSpec {
        calendar: vec![hours_and_minute("11,13", "55")],
        interval: vec![every(mins(90), mins(7))],
        ..Default::default()
    });
    assert_eq!(
        nominals(&calendar_and_interval, utc(2022, 3, 23, 10, 0, 0), 6),
        [
            utc(2022, 3, 23, 10, 37, 0),
            utc(2022, 3, 23, 11, 55, 0),
            utc(2022, 3, 23, 12, 7, 0),
            utc(2022, 3, 23, 13, 37, 0),
            utc(2022, 3, 23, 13, 55, 0),
            utc(2022, 3, 23, 15, 7, 0),
        ]
    );
}

#[test]
fn calendar_and_interval_at_the_same_instant_fire_once() {
    let spec = compile(ScheduleSpec {
        calendar: vec![hours_and_minute("*", "0")],
        interval: vec![every(mins(60), SignedDuration::ZERO)],
        ..Default::default()
    });
    assert_eq!(
        nominals(&spec, utc(2022, 3, 23, 0, 0, 0), 2),
        [utc(2022, 3, 23, 1, 0, 0), utc(2022, 3, 23, 2, 0, 0)]
    );
}

#[test]
fn exclusions_skip_matching_times_and_jitter_stays_within_bounds() {
    let spec = compile(ScheduleSpec {
        interval: vec![every(mins(90), SignedDuration::ZERO)],
        exclude_calendar: vec![CalendarSpec {
            hour: "12-14".into(),
            minute: "*".into(),
            second: "*".into(),
            ..Default::default()
        }],
        jitter: SignedDuration::from_secs(1),
        ..Default::default()
    });
    let mut after = utc(2022, 3, 23, 8, 0, 0);
    let expected = [
        utc(2022, 3, 23, 9, 0, 0),
        utc(2022, 3, 23, 10, 30, 0),
        utc(2022, 3, 23, 15, 0, 0),
        utc(2022, 3, 23, 16, 30, 0),
    ];
    for want in expected {
        let got = spec.next_time(after).expect("a next time");
        assert_eq!(got.nominal, want);
        assert!(got.next >= want && got.next < want + SignedDuration::from_secs(1));
        after = got.next;
    }
}

#[test]
fn excluding_everything_yields_no_time_promptly() {
    let all = CalendarSpec {
        second: "*".into(),
        minute: "*".into(),
        hour: "*".into(),
        ..Default::default()
    };
    let weekly = compile(ScheduleSpec {
        interval: vec![every(SignedDuration::from_hours(7 * 24), SignedDuration::ZERO)],
        exclude_calendar: vec![all.clone()],
        ..Default::default()
    });
    assert_eq!(weekly.next_time(utc(2022, 3, 23, 12, 53, 2)), None);
    // Every second matches and every second is excluded: whole years are
    // skipped at a time, so this ends at the 2100 horizon at once.
    let mirrored = compile(ScheduleSpec {
        calendar: vec![all.clone()],
        exclude_calendar: vec![all],
        ..Default::default()
    });
    assert_eq!(mirrored.next_time(utc(2022, 3, 23, 12, 0, 0)), None);
}

#[test]
fn an_exclusion_that_leaves_one_second_a_minute_finds_it() {
    let spec = compile(ScheduleSpec {
        calendar: vec![CalendarSpec {
            second: "*".into(),
            minute: "*".into(),
            hour: "*".into(),
            ..Default::default()
        }],
        exclude_calendar: vec![CalendarSpec {
            second: "0-58".into(),
            minute: "*".into(),
            hour: "*".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    let got = spec.next_time(utc(2022, 3, 23, 12, 0, 0)).expect("a time");
    assert_eq!(got.nominal, utc(2022, 3, 23, 12, 0, 59));
}

#[test]
fn exclusions_spanning_weekends_are_skipped_in_whole_days() {
    // Every second, except on Saturdays and Sundays.
    let spec = compile(ScheduleSpec {
        calendar: vec![CalendarSpec {
            second: "*".into(),
            minute: "*".into(),
            hour: "*".into(),
            ..Default::default()
        }],
        exclude_structured_calendar: vec![StructuredCalendarSpec {
            second: vec![Range::span(0, 59)],
            minute: vec![Range::span(0, 59)],
            hour: vec![Range::span(0, 23)],
            day_of_month: vec![Range::span(1, 31)],
            month: vec![Range::span(1, 12)],
            day_of_week: vec![Range::single(0), Range::single(6)],
            ..Default::default()
        }],
        ..Default::default()
    });
    // 2022-03-25 is a Friday.
    let got = spec.next_time(utc(2022, 3, 25, 23, 59, 59)).expect("a time");
    assert_eq!(got.nominal, utc(2022, 3, 28, 0, 0, 0));
}

#[test]
fn start_time_is_inclusive() {
    let spec = compile(ScheduleSpec {
        interval: vec![every(mins(90), SignedDuration::ZERO)],
        start_time: Some(utc(2022, 3, 23, 12, 0, 0)),
        ..Default::default()
    });
    assert_eq!(
        nominals(&spec, utc(2022, 3, 23, 8, 0, 0), 3),
        [
            utc(2022, 3, 23, 12, 0, 0),
            utc(2022, 3, 23, 13, 30, 0),
            utc(2022, 3, 23, 15, 0, 0),
        ]
    );
}

#[test]
fn a_fractional_start_time_never_lets_an_earlier_time_through() {
    let start = utc(2022, 3, 23, 12, 0, 0) + SignedDuration::from_millis(456);
    let spec = compile(ScheduleSpec {
        interval: vec![every(mins(60), SignedDuration::ZERO)],
        start_time: Some(start),
        ..Default::default()
    });
    let from_inside = utc(2022, 3, 23, 12, 0, 0) + SignedDuration::from_millis(123);
    assert_eq!(nominals(&spec, from_inside, 1), [utc(2022, 3, 23, 13, 0, 0)]);
    assert_eq!(
        nominals(&spec, utc(2022, 3, 23, 8, 0, 0), 1),
        [utc(2022, 3, 23, 13, 0, 0)]
    );
}

#[test]
fn end_time_is_inclusive_and_ends_the_sequence() {
    let spec = compile(ScheduleSpec {
        interval: vec![every(mins(90), SignedDuration::ZERO)],
        end_time: Some(utc(2022, 3, 23, 13, 30, 0)),
        jitter: SignedDuration::from_secs(1),
        ..Default::default()
    });
    assert_eq!(
        nominals(&spec, utc(2022, 3, 23, 11, 0, 0), 5),
        [utc(2022, 3, 23, 12, 0, 0), utc(2022, 3, 23, 13, 30, 0)]
    );
}

#[test]
fn jitter_never_reaches_the_following_nominal_time() {
    let spec = compile(ScheduleSpec {
        interval: vec![every(mins(90), SignedDuration::ZERO)],
        jitter: SignedDuration::from_hours(24),
        ..Default::default()
    });
    let mut after = utc(2022, 3, 23, 11, 0, 0);
    let mut previous_next = after;
    for want in [
        utc(2022, 3, 23, 12, 0, 0),
        utc(2022, 3, 23, 13, 30, 0),
        utc(2022, 3, 23, 15, 0, 0),
        utc(2022, 3, 23, 16, 30, 0),
    ] {
        let got = spec.next_time(after).expect("a time");
        assert_eq!(got.nominal, want);
        assert!(got.next >= want && got.next < want + mins(90), "{got:?}");
        assert!(got.next > previous_next);
        previous_next = got.next;
        after = got.next;
    }
}

#[test]
fn a_single_run_takes_the_full_jitter_range() {
    let once = CalendarSpec {
        hour: "13".into(),
        minute: "55".into(),
        day_of_month: "7".into(),
        month: "4".into(),
        year: "2022".into(),
        ..Default::default()
    };
    let plain = compile(ScheduleSpec {
        calendar: vec![once.clone()],
        ..Default::default()
    });
    let start = utc(2022, 3, 23, 11, 0, 0);
    let got = plain.next_time(start).expect("a time");
    assert_eq!(got.nominal, utc(2022, 4, 7, 13, 55, 0));
    assert_eq!(got.next, got.nominal);
    assert_eq!(plain.next_time(got.next), None);

    let jittered = compile(ScheduleSpec {
        calendar: vec![once],
        jitter: SignedDuration::from_hours(1),
        ..Default::default()
    });
    let got = jittered.next_time(start).expect("a time");
    assert_eq!(got.nominal, utc(2022, 4, 7, 13, 55, 0));
    assert!(got.next < got.nominal + SignedDuration::from_hours(1));
    // A millisecond-resolution delay over an hour: zero is vanishingly rare.
    assert!(got.next > got.nominal);
}

#[test]
fn jitter_is_deterministic_per_seed_and_differs_between_seeds() {
    let spec = ScheduleSpec {
        interval: vec![every(SignedDuration::from_hours(24), SignedDuration::ZERO)],
        jitter: SignedDuration::from_hours(1),
        ..Default::default()
    };
    let start = utc(2022, 3, 23, 11, 0, 0);
    let next = |seed: &str| {
        let compiled = CompiledSpec::new(&spec).expect("valid").with_jitter_seed(seed);
        compiled.next_time(start).expect("a time").next
    };
    assert_eq!(next(""), next(""));
    assert_eq!(next("ns-1-sched"), next("ns-1-sched"));
    let seeds = ["", "seed-1", "seed-2", "seed-3"].map(next);
    for (i, a) in seeds.iter().enumerate() {
        for b in &seeds[i + 1..] {
            assert_ne!(a, b, "seeds gave the same jitter");
        }
    }
    // Delays are spread over the whole hour, not clustered near zero.
    let compiled = CompiledSpec::new(&spec).expect("valid");
    let delays: Vec<i128> = nominals(&compiled, start, 200)
        .into_iter()
        .map(|nominal| {
            let before = nominal - SignedDuration::from_secs(1);
            let t = compiled.next_time(before).expect("a time");
            t.next.duration_since(t.nominal).as_millis()
        })
        .collect();
    let late = delays.iter().filter(|&&d| d > 30 * 60 * 1000).count();
    assert!((60..=140).contains(&late), "{late} of 200 in the second half");
}

#[test]
fn canonical_form_compiles_strings_and_keeps_the_rest() {
    let empty = compile(ScheduleSpec::default());
    assert_eq!(empty.canonical(), &ScheduleSpec::default());

    let every_43h = compile(ScheduleSpec {
        cron_string: vec!["@every 43h".into()],
        ..Default::default()
    });
    assert_eq!(
        every_43h.canonical(),
        &ScheduleSpec {
            interval: vec![every(SignedDuration::from_hours(43), SignedDuration::ZERO)],
            ..Default::default()
        }
    );

    let structured = vec![StructuredCalendarSpec {
        second: vec![Range::single(0)],
        minute: vec![Range::single(23)],
        hour: vec![Range::single(5), Range::single(7)],
        day_of_month: vec![Range::span(1, 31)],
        month: vec![Range::span(1, 12)],
        year: vec![],
        day_of_week: vec![Range::span(0, 6)],
        comment: String::new(),
    }];
    let from_calendar = compile(ScheduleSpec {
        calendar: vec![hours_and_minute("5,7", "23")],
        ..Default::default()
    });
    assert_eq!(from_calendar.canonical().structured_calendar, structured);
    assert!(from_calendar.canonical().calendar.is_empty());

    // A cron string without a zone leaves the spec's zone alone.
    let spec = ScheduleSpec {
        cron_string: vec!["23 5,7 * * *".into()],
        jitter: mins(5),
        start_time: Some(utc(2022, 3, 23, 0, 0, 0)),
        timezone_name: "Europe/London".into(),
        ..Default::default()
    };
    assert_eq!(
        compile(spec.clone()).canonical(),
        &ScheduleSpec {
            structured_calendar: structured.clone(),
            cron_string: vec![],
            ..spec
        }
    );

    // A cron zone that agrees with timezone_name, or fills it in.
    for timezone_name in ["Europe/London", ""] {
        let spec = compile(ScheduleSpec {
            cron_string: vec!["CRON_TZ=Europe/London 23 5,7 * * *".into()],
            timezone_name: timezone_name.into(),
            ..Default::default()
        });
        assert_eq!(spec.canonical().timezone_name, "Europe/London");
        assert_eq!(spec.canonical().structured_calendar, structured);
    }
}

#[test]
fn conflicting_time_zones_are_rejected() {
    let conflicts = [
        (vec!["CRON_TZ=America/New_York 23 5,7 * * *"], "Europe/London"),
        (
            vec![
                "CRON_TZ=Europe/London 23 5,7 * * *",
                "CRON_TZ=America/New_York 23 5,7 * * *",
            ],
            "",
        ),
        (vec!["CRON_TZ=Europe/London 23 5,7 * * *", "23 5,7 * * *"], ""),
        (vec!["23 5,7 * * *", "CRON_TZ=Europe/London 23 5,7 * * *"], ""),
    ];
    for (crons, timezone_name) in conflicts {
        let err = CompiledSpec::new(&ScheduleSpec {
            cron_string: crons.iter().map(|s| s.to_string()).collect(),
            timezone_name: timezone_name.into(),
            ..Default::default()
        })
        .expect_err("conflict");
        assert!(matches!(err, SpecError::ConflictingTimeZones { .. }), "{err}");
    }
    let err = CompiledSpec::new(&ScheduleSpec {
        cron_string: vec!["TZ=Europe/London 0 0 * * *".into()],
        timezone_data: vec![1, 2, 3],
        ..Default::default()
    })
    .expect_err("conflict with timezone_data");
    assert!(matches!(err, SpecError::ConflictingTimeZones { .. }), "{err}");
    // @every has no zone, so it cannot disagree.
    compile(ScheduleSpec {
        cron_string: vec!["TZ=Europe/London 0 0 * * *".into(), "@every 1h".into()],
        ..Default::default()
    });
}

#[test]
fn bad_specs_are_rejected_with_actionable_messages() {
    let with_interval = |interval, phase| ScheduleSpec {
        interval: vec![every(interval, phase)],
        ..Default::default()
    };
    let cases: Vec<(ScheduleSpec, &str)> = vec![
        (
            with_interval(SignedDuration::from_hours(-43), SignedDuration::ZERO),
            "interval[0]",
        ),
        (
            with_interval(SignedDuration::ZERO, SignedDuration::ZERO),
            "at least one second",
        ),
        (
            with_interval(SignedDuration::from_millis(999), SignedDuration::ZERO),
            "at least one second",
        ),
        (
            with_interval(SignedDuration::from_hours(3), SignedDuration::from_hours(4)),
            "shorter than the interval",
        ),
        (
            with_interval(SignedDuration::from_hours(3), SignedDuration::from_hours(3)),
            "shorter than the interval",
        ),
        (
            with_interval(SignedDuration::from_hours(3), SignedDuration::from_secs(-1)),
            "negative",
        ),
        (
            ScheduleSpec {
                calendar: vec![CalendarSpec::default(), hours_and_minute("25", "0")],
                ..Default::default()
            },
            "calendar[1]",
        ),
        (
            ScheduleSpec {
                structured_calendar: vec![StructuredCalendarSpec {
                    hour: vec![Range::span(16, 12)],
                    ..Default::default()
                }],
                ..Default::default()
            },
            "structured_calendar[0]",
        ),
        (
            ScheduleSpec {
                exclude_calendar: vec![CalendarSpec {
                    month: "Smarch".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            "exclude_calendar[0]",
        ),
        (
            ScheduleSpec {
                cron_string: vec!["0 0 30 feb * 1999".into()],
                ..Default::default()
            },
            "year",
        ),
        (
            ScheduleSpec {
                cron_string: vec!["@every 0s".into()],
                ..Default::default()
            },
            "at least one second",
        ),
        (
            ScheduleSpec {
                calendar: vec![CalendarSpec {
                    comment: "c".repeat(201),
                    ..Default::default()
                }],
                ..Default::default()
            },
            "comment",
        ),
        (
            ScheduleSpec {
                timezone_name: "Mars/Olympus_Mons".into(),
                ..Default::default()
            },
            "unknown time zone",
        ),
        (
            ScheduleSpec {
                timezone_name: "Local".into(),
                ..Default::default()
            },
            "unknown time zone",
        ),
        (
            ScheduleSpec {
                cron_string: vec!["CRON_TZ=Nowhere/Special 0 0 * * *".into()],
                ..Default::default()
            },
            "Nowhere/Special",
        ),
        (
            ScheduleSpec {
                timezone_name: "Custom".into(),
                timezone_data: b"not a tzif file".to_vec(),
                ..Default::default()
            },
            "TZif",
        ),
    ];
    for (spec, needle) in cases {
        let err = CompiledSpec::new(&spec).expect_err(needle).to_string();
        assert!(err.contains(needle), "wanted {needle:?} in {err:?}");
    }
}

#[test]
fn calendars_are_read_in_the_spec_time_zone() {
    // 09:00 in New York is 13:00Z in summer and 14:00Z in winter.
    let spec = compile(ScheduleSpec {
        calendar: vec![hours_and_minute("9", "0")],
        timezone_name: "America/New_York".into(),
        ..Default::default()
    });
    assert_eq!(
        nominals(&spec, utc(2022, 11, 4, 0, 0, 0), 4),
        [
            utc(2022, 11, 4, 13, 0, 0),
            utc(2022, 11, 5, 13, 0, 0),
            utc(2022, 11, 6, 14, 0, 0),
            utc(2022, 11, 7, 14, 0, 0),
        ]
    );
    // A cron zone does the same; intervals ignore zones.
    let cron = compile(ScheduleSpec {
        cron_string: vec!["CRON_TZ=America/New_York 0 9 * * *".into()],
        ..Default::default()
    });
    assert_eq!(
        nominals(&cron, utc(2022, 11, 4, 0, 0, 0), 4),
        nominals(&spec, utc(2022, 11, 4, 0, 0, 0), 4)
    );
}

/// Checks the sequence, and that searching from any second in between lands
/// on the same next time (sampled every `stride` seconds).
fn check_sequence(spec: &CompiledSpec, start: Timestamp, expected: &[Timestamp], stride: i64) {
    let mut from = start;
    for &want in expected {
        let got = spec.next_time(from).expect("a time").nominal;
        assert_eq!(got, want, "from {from}");
        let mut t = from;
        while t < want {
            assert_eq!(spec.next_time(t).expect("a time").nominal, want, "from {t}");
            t += SignedDuration::from_secs(stride);
        }
        from = want;
    }
}

#[test]
fn new_york_spring_forward_skips_the_missing_hour() {
    // 2022-03-13: 02:00 EST jumps to 03:00 EDT; there is no 02:33:33.
    let spec = compile(ScheduleSpec {
        cron_string: vec!["CRON_TZ=America/New_York 33 33 2 * * * *".into()],
        ..Default::default()
    });
    check_sequence(
        &spec,
        utc(2022, 3, 12, 1, 0, 0), // 2022-03-11 20:00 EST
        &[
            utc(2022, 3, 12, 7, 33, 33), // 03-12 02:33:33 EST
            utc(2022, 3, 14, 6, 33, 33), // 03-14 02:33:33 EDT
        ],
        7,
    );
}

#[test]
fn new_york_fall_back_fires_twice_in_the_repeated_hour() {
    // 2021-11-07: 02:00 EDT falls back to 01:00 EST; 01:xx happens twice.
    let spec = compile(ScheduleSpec {
        cron_string: vec!["CRON_TZ=America/New_York 33 33,44 1 * * * *".into()],
        ..Default::default()
    });
    check_sequence(
        &spec,
        utc(2021, 11, 7, 4, 15, 15), // 00:15:15 EDT
        &[
            utc(2021, 11, 7, 5, 33, 33), // 01:33:33 EDT
            utc(2021, 11, 7, 5, 44, 33), // 01:44:33 EDT
            utc(2021, 11, 7, 6, 33, 33), // 01:33:33 EST
            utc(2021, 11, 7, 6, 44, 33), // 01:44:33 EST
            utc(2021, 11, 8, 6, 33, 33), // next day, 01:33:33 EST
        ],
        7,
    );
}

#[test]
fn searching_from_inside_a_repeated_hour() {
    // Europe/London fell back on 2004-10-31 at 02:00 BST to 01:00 GMT.
    // From the first 01:07:03 of that night, the next Sunday 2 January at
    // 00:01 is in 2005.
    let spec = compile(ScheduleSpec {
        calendar: vec![CalendarSpec {
            second: "0".into(),
            minute: "1".into(),
            hour: "0".into(),
            day_of_month: "2".into(),
            month: "Jan".into(),
            day_of_week: "Sun".into(),
            ..Default::default()
        }],
        timezone_name: "Europe/London".into(),
        ..Default::default()
    });
    let jan_2_2005 = utc(2005, 1, 2, 0, 1, 0);
    assert_eq!(nominals(&spec, utc(2004, 1, 1, 0, 0, 5), 1), [jan_2_2005]);
    assert_eq!(nominals(&spec, utc(2004, 10, 31, 0, 7, 3), 1), [jan_2_2005]);
    assert_eq!(nominals(&spec, utc(2004, 10, 31, 1, 7, 3), 1), [jan_2_2005]);
}

#[test]
fn half_hour_dst_shifts_skip_and_repeat_exactly_the_affected_times() {
    // Lord Howe Island: +10:30 standard, +11 summer. On 2022-10-02 02:00
    // jumps to 02:30; on 2023-04-02 02:00 falls back to 01:30.
    let at = |cal: CalendarSpec| {
        compile(ScheduleSpec {
            calendar: vec![cal],
            timezone_name: "Australia/Lord_Howe".into(),
            ..Default::default()
        })
    };
    let daily_0210 = at(hours_and_minute("2", "10"));
    assert_eq!(
        nominals(&daily_0210, utc(2022, 9, 30, 0, 0, 0), 2),
        [
            utc(2022, 9, 30, 15, 40, 0), // 10-01 02:10 +10:30
            utc(2022, 10, 2, 15, 10, 0), // 10-03 02:10 +11 (10-02 has none)
        ]
    );
    let daily_0240 = at(hours_and_minute("2", "40"));
    assert_eq!(
        nominals(&daily_0240, utc(2022, 10, 1, 0, 0, 0), 1),
        [utc(2022, 10, 1, 15, 40, 0)] // 10-02 02:40 +11
    );
    let daily_0145 = at(hours_and_minute("1", "45"));
    assert_eq!(
        nominals(&daily_0145, utc(2023, 4, 1, 0, 0, 0), 2),
        [
            utc(2023, 4, 1, 14, 45, 0), // 04-02 01:45 +11
            utc(2023, 4, 1, 15, 15, 0), // 04-02 01:45 +10:30, again
        ]
    );
}

#[test]
fn last_friday_of_the_month_needs_both_day_fields() {
    // Days 25–31 that are Fridays: day of month and day of week must both
    // match (classic cron would fire on every day 25–31 *and* every Friday).
    // That is the last Friday of each 31-day month; February 2024's last
    // Friday is the 23rd, so February has none.
    let spec = compile(ScheduleSpec {
        cron_string: vec!["0 17 25-31 * fri".into()],
        ..Default::default()
    });
    assert_eq!(
        nominals(&spec, utc(2024, 1, 1, 0, 0, 0), 4),
        [
            utc(2024, 1, 26, 17, 0, 0),
            utc(2024, 3, 29, 17, 0, 0),
            utc(2024, 4, 26, 17, 0, 0),
            utc(2024, 5, 31, 17, 0, 0),
        ]
    );
    // Per month, the window is the last seven days: 23–29 in a leap February.
    let february = compile(ScheduleSpec {
        cron_string: vec!["0 17 23-29 feb fri".into()],
        ..Default::default()
    });
    assert_eq!(
        nominals(&february, utc(2024, 1, 1, 0, 0, 0), 2),
        [utc(2024, 2, 23, 17, 0, 0), utc(2025, 2, 28, 17, 0, 0)]
    );
    // And the last weekday of the month is not expressible this way, but the
    // last day is, month by month: the 31st only fires in 31-day months.
    let thirty_first = compile(ScheduleSpec {
        calendar: vec![CalendarSpec {
            day_of_month: "31".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    assert_eq!(
        nominals(&thirty_first, utc(2024, 1, 31, 0, 0, 0), 3),
        [
            utc(2024, 3, 31, 0, 0, 0),
            utc(2024, 5, 31, 0, 0, 0),
            utc(2024, 7, 31, 0, 0, 0),
        ]
    );
}

#[test]
fn structured_calendars_with_an_empty_field_never_fire() {
    let spec = compile(ScheduleSpec {
        structured_calendar: vec![StructuredCalendarSpec {
            hour: vec![Range::single(12)],
            ..Default::default()
        }],
        ..Default::default()
    });
    assert_eq!(spec.next_time(utc(2022, 1, 1, 0, 0, 0)), None);
}

#[test]
fn nothing_fires_after_2100() {
    let hourly = compile(ScheduleSpec {
        interval: vec![every(mins(60), SignedDuration::ZERO)],
        ..Default::default()
    });
    assert_eq!(
        nominals(&hourly, utc(2100, 12, 31, 22, 30, 0), 5),
        [utc(2100, 12, 31, 23, 0, 0)]
    );
    assert_eq!(hourly.next_time(Timestamp::MAX), None);
    let yearly = compile(ScheduleSpec {
        cron_string: vec!["@yearly".into()],
        ..Default::default()
    });
    assert_eq!(
        nominals(&yearly, utc(2099, 6, 1, 0, 0, 0), 5),
        [utc(2100, 1, 1, 0, 0, 0)]
    );
    let past_years = compile(ScheduleSpec {
        cron_string: vec!["0 0 1 1 * 2000-2010".into()],
        ..Default::default()
    });
    assert_eq!(past_years.next_time(utc(2022, 1, 1, 0, 0, 0)), None);
}

#[test]
fn with_no_start_time_nothing_fires_before_the_epoch() {
    let spec = compile(ScheduleSpec {
        interval: vec![every(mins(60), SignedDuration::ZERO)],
        ..Default::default()
    });
    assert_eq!(
        spec.next_time(Timestamp::MIN).map(|t| t.nominal),
        Some(Timestamp::UNIX_EPOCH)
    );
}

#[test]
fn matching_times_lists_jittered_times_in_a_closed_range_with_a_cap() {
    let spec = compile(ScheduleSpec {
        interval: vec![every(mins(60), SignedDuration::ZERO)],
        ..Default::default()
    });
    assert_eq!(
        spec.matching_times(utc(2022, 3, 23, 0, 0, 0), utc(2022, 3, 23, 3, 0, 0)),
        [
            utc(2022, 3, 23, 1, 0, 0),
            utc(2022, 3, 23, 2, 0, 0),
            utc(2022, 3, 23, 3, 0, 0),
        ]
    );
    assert!(
        spec.matching_times(utc(2022, 3, 23, 3, 0, 0), utc(2022, 3, 23, 0, 0, 0))
            .is_empty()
    );

    let every_second = compile(ScheduleSpec {
        calendar: vec![CalendarSpec {
            second: "*".into(),
            minute: "*".into(),
            hour: "*".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    let times = every_second.matching_times(utc(2022, 1, 1, 0, 0, 0), utc(2023, 1, 1, 0, 0, 0));
    assert_eq!(times.len(), MAX_MATCHING_TIMES);

    let jittered = compile(ScheduleSpec {
        interval: vec![every(mins(60), SignedDuration::ZERO)],
        jitter: mins(10),
        ..Default::default()
    });
    let times = jittered.matching_times(utc(2022, 3, 23, 0, 0, 0), utc(2022, 3, 24, 0, 0, 0));
    assert!((23..=24).contains(&times.len()));
    for (hour, t) in (1..).zip(&times) {
        let nominal = utc(2022, 3, 23, 0, 0, 0) + SignedDuration::from_hours(hour);
        assert!(*t >= nominal && *t < nominal + mins(10), "{t}");
    }
}
