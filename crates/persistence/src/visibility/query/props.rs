//! Property tests: whatever a client writes as a list query, `parse` and `compile` answer with
//! a query or a clean error, never a panic or a stack overflow. The generators are shared with
//! the SQL rendering tests (`sql/visibility`), which render every query that compiles.
//!
//! Budgets are fixed (cases per property, in `config`) and the seed is fixed, so CI runs the
//! same inputs every time.

use super::*;
use crate::visibility::{Catalog, ValueType, format_rfc3339, parse_duration, parse_rfc3339};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// A fixed budget and seed; failures are not persisted (a failing case becomes a unit test).
pub(crate) fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5d1a_1f22),
        failure_persistence: None,
        ..Config::default()
    }
}

pub(crate) fn catalog() -> Catalog {
    Catalog::with(&[
        ("CustomKeywordField", ValueType::Keyword, "Keyword01"),
        ("CustomIntField", ValueType::Int, "Int01"),
        ("CustomDoubleField", ValueType::Double, "Double01"),
        ("CustomBoolField", ValueType::Bool, "Bool01"),
        ("CustomDatetimeField", ValueType::Datetime, "Datetime01"),
        ("CustomTextField", ValueType::Text, "Text01"),
        ("CustomKeywordListField", ValueType::KeywordList, "KeywordList01"),
        ("My Attr", ValueType::Keyword, "Keyword02"),
    ])
}

const ATTRIBUTES: &[&str] = &[
    "WorkflowId",
    "RunId",
    "WorkflowType",
    "ExecutionStatus",
    "StartTime",
    "CloseTime",
    "ExecutionTime",
    "ExecutionDuration",
    "HistoryLength",
    "HistorySizeBytes",
    "StateTransitionCount",
    "TaskQueue",
    "ParentWorkflowId",
    "RootRunId",
    "TemporalChangeVersion",
    "BuildIds",
    "TemporalSchedulePaused",
    "CustomKeywordField",
    "CustomIntField",
    "CustomDoubleField",
    "CustomBoolField",
    "CustomDatetimeField",
    "CustomTextField",
    "CustomKeywordListField",
    "`My Attr`",
    "workflowid",
    "Unknown",
    "AND",
    "`ORDER`",
    "ñame",
];

/// Numbers as a client may write them: extremes, overflowing, exponents, fractions.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        Just("9223372036854775807".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("9223372036854775808".to_owned()),
        Just("-99999999999999999999999999".to_owned()),
        Just("1e308".to_owned()),
        Just("1e999".to_owned()),
        Just("-1e999".to_owned()),
        Just("0.0000000000000000000001".to_owned()),
        Just(".5".to_owned()),
        Just("-0".to_owned()),
        Just("1".to_owned()),
        Just("7".to_owned()),
    ]
}

/// Durations, hostile ones included (huge, negative, out-of-range fields).
fn duration_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<i64>(), 0..60i64, 0..60i64).prop_map(|(h, m, s)| format!("{h}:{m:02}:{s:02}")),
        (0..i64::MAX, any::<u8>(), any::<f64>()).prop_map(|(h, m, s)| format!("{h:02}:{m}:{s}")),
        (
            any::<u64>(),
            prop::sample::select(vec!["ns", "us", "µs", "ms", "s", "m", "h", "d", ""])
        )
            .prop_map(|(n, u)| format!("{n}{u}")),
        (any::<f64>(), prop::sample::select(vec!["ns", "ms", "s", "h"])).prop_map(|(n, u)| format!("{n}{u}")),
        Just("99999999999999999999h".to_owned()),
        Just("2562048:00:00".to_owned()),
        Just("9223372036:00:00".to_owned()),
        Just("-1:00:00".to_owned()),
        Just("00:00:NaN".to_owned()),
        Just("00:00:inf".to_owned()),
        Just("1h-5m".to_owned()),
        Just("-5s".to_owned()),
        Just("..s".to_owned()),
        Just("".to_owned()),
    ]
}

/// Timestamps, hostile ones included (years out of range, huge offsets, odd fractions).
fn time_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(format_rfc3339),
        (
            0..100_000u32,
            0..100u32,
            0..100u32,
            0..100u32,
            0..100u32,
            0..100u32,
            "[.][0-9]{0,40}|",
            "Z|z|[+-][0-9]{2}:[0-9]{2}|[+-]99:99|",
        )
            .prop_map(|(y, mo, d, h, mi, s, frac, tz)| {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{tz}")
            }),
        Just("99999-01-01T00:00:00Z".to_owned()),
        Just("0000-01-01T00:00:00Z".to_owned()),
        Just("9999-12-31T23:59:60.999999999-23:59".to_owned()),
        Just("0001-01-01T00:00:00+99:99".to_owned()),
        Just("2024-01-01T00:00:00.".to_owned()),
        Just("２０２４-01-01T00:00:00Z".to_owned()),
        Just("2024-01-01T00:00:00Zé".to_owned()),
        "[0-9T:.Z+-]{0,30}",
    ]
}

/// A literal as written in a query: quoted strings (any text, escaped), numbers, booleans, and
/// strings that hold hostile times and durations.
fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => ".{0,12}".prop_map(|s| quote(&s)),
        2 => number(),
        1 => prop::sample::select(vec!["true", "FALSE", "NULL", "Running", "'Running'", "'timedout'"])
            .prop_map(str::to_owned),
        2 => time_text().prop_map(|s| quote(&s)),
        2 => duration_text().prop_map(|s| quote(&s)),
        1 => time_text().prop_map(|s| format!("\"{s}\"")),
    ]
}

fn op() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["=", "==", "!=", "<>", "<", "<=", ">", ">="])
}

/// One condition, grammatical or nearly so (`IN ()`, a missing value, a stray keyword).
fn predicate() -> impl Strategy<Value = String> {
    let attr = prop::sample::select(ATTRIBUTES.to_vec());
    prop_oneof![
        6 => (attr.clone(), op(), literal()).prop_map(|(a, o, l)| format!("{a} {o} {l}")),
        2 => (attr.clone(), any::<bool>(), prop::collection::vec(literal(), 0..5)).prop_map(|(a, not, vs)| {
            format!("{a} {}IN ({})", if not { "NOT " } else { "" }, vs.join(", "))
        }),
        2 => (attr.clone(), any::<bool>(), literal(), literal()).prop_map(|(a, not, lo, hi)| {
            format!("{a} {}BETWEEN {lo} AND {hi}", if not { "NOT " } else { "" })
        }),
        1 => (attr.clone(), any::<bool>(), literal()).prop_map(|(a, not, l)| {
            format!("{a} {}STARTS_WITH {l}", if not { "NOT " } else { "" })
        }),
        1 => (attr.clone(), any::<bool>()).prop_map(|(a, not)| format!("{a} IS {}NULL", if not { "NOT " } else { "" })),
        1 => (attr.clone(), prop::sample::select(vec!["LIKE 'a%'", "", "=", "IN", "BETWEEN 1", "NOT", "IS"]))
            .prop_map(|(a, rest)| format!("{a} {rest}")),
    ]
}

/// A filter: predicates joined by AND / OR, in parentheses nested up to past the limit.
fn filter() -> impl Strategy<Value = String> {
    predicate().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec![" AND ", " OR ", " and ", " oR "]),
                inner.clone()
            )
                .prop_map(|(a, j, b)| format!("{a}{j}{b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            (inner, 0..80usize).prop_map(|(a, n)| format!("{}{a}{}", "(".repeat(n), ")".repeat(n))),
        ]
    })
}

fn order_by() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(ATTRIBUTES.to_vec()),
            prop::sample::select(vec!["", " ASC", " DESC", " desc", " DESC DESC"]),
        ),
        0..4,
    )
    .prop_map(|keys| {
        if keys.is_empty() {
            String::new()
        } else {
            let keys: Vec<String> = keys.into_iter().map(|(a, d)| format!("{a}{d}")).collect();
            format!(" ORDER BY {}", keys.join(", "))
        }
    })
}

fn group_by() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "",
        " GROUP BY ExecutionStatus",
        " GROUP BY ExecutionStatus, ExecutionStatus",
        " GROUP BY WorkflowType",
        " GROUP BY",
        " GROUP ExecutionStatus",
    ])
    .prop_map(str::to_owned)
}

/// A whole query shaped like the grammar, with hostile literals.
pub(crate) fn query_text() -> impl Strategy<Value = String> {
    (
        prop::option::weighted(0.9, filter()),
        order_by(),
        group_by(),
        any::<bool>(),
    )
        .prop_map(|(f, o, g, swap)| {
            let f = f.unwrap_or_default();
            if swap {
                format!("{f}{g}{o}")
            } else {
                format!("{f}{o}{g}")
            }
        })
}

/// Token soup: the grammar's pieces in any order, for the parser's error paths.
fn token_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "(",
            ")",
            ",",
            "=",
            "!=",
            "<",
            ">",
            "<=",
            ">=",
            "<>",
            "'",
            "\"",
            "`",
            "\\",
            "AND",
            "OR",
            "NOT",
            "IN",
            "IS",
            "NULL",
            "BETWEEN",
            "STARTS_WITH",
            "ORDER",
            "BY",
            "GROUP",
            "ASC",
            "DESC",
            "LIKE",
            "--",
            "/*",
            ";",
            "-",
            ".",
            "e",
            "1e",
            "1e+",
            "-.",
            "WorkflowId",
            "StartTime",
            "ExecutionStatus",
            "ExecutionDuration",
            "'x'",
            "1",
            "é",
            "\u{0}",
            "\u{202e}",
            " ",
        ])
        .prop_map(str::to_owned),
        literal(),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|ps| ps.join(" "))
}

/// Compiles `q`; `Ok` or an error that says what is wrong, never a panic.
fn compiles_or_fails_cleanly(q: &str) -> Result<Option<VisibilityQuery>, TestCaseError> {
    match compile(q, &catalog()) {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            prop_assert!(e.to_string().starts_with("invalid query: "), "{e}");
            prop_assert!(e.0.len() > 3, "empty error for {q:?}");
            Ok(None)
        }
    }
}

proptest! {
    #![proptest_config(config(2000))]

    /// Any string at all.
    #[test]
    fn arbitrary_strings_never_panic(q in any::<String>()) {
        compiles_or_fails_cleanly(&q)?;
    }

    /// The grammar's tokens in any order.
    #[test]
    fn token_soup_never_panics(q in token_soup()) {
        compiles_or_fails_cleanly(&q)?;
    }

    /// Queries shaped like the grammar, with hostile literals, parentheses nested past the
    /// limit, `IN ()`, `BETWEEN`, `ORDER BY` and `GROUP BY` forms.
    #[test]
    fn grammar_shaped_queries_never_panic(q in query_text()) {
        compiles_or_fails_cleanly(&q)?;
    }
}

proptest! {
    #![proptest_config(config(200))]

    /// Nesting far past the limit (balanced, unbalanced, around a condition or nothing) is a
    /// clean error, not a stack overflow.
    #[test]
    fn deep_nesting_is_bounded(
        open in 0..20_000usize,
        close in 0..20_000usize,
        inner in prop::sample::select(vec!["WorkflowId = 'a'", "", "a", "(", "NOT"]),
    ) {
        let q = format!("{}{inner}{}", "(".repeat(open), ")".repeat(close));
        if let Some(v) = compiles_or_fails_cleanly(&q)? {
            prop_assert!(open == close && open <= MAX_DEPTH, "{open}/{close} compiled to {v:?}");
        }
    }
}

proptest! {
    #![proptest_config(config(5000))]

    /// Every nanosecond instant formats to a time that parses back to the same instant.
    #[test]
    fn times_round_trip(n in prop_oneof![
        any::<i64>(),
        i64::MIN..i64::MIN + 2_000_000_000_000,
        i64::MAX - 2_000_000_000_000..=i64::MAX,
    ]) {
        prop_assert_eq!(parse_rfc3339(&format_rfc3339(n)), Some(n));
    }

    /// Hostile time and duration text: a value or `None`, never a panic.
    #[test]
    fn time_and_duration_text_never_panics(t in time_text(), d in duration_text(), s in any::<String>()) {
        let _ = parse_rfc3339(&t);
        let _ = parse_rfc3339(&s);
        if let Some(n) = parse_duration(&d) {
            // Only a plain integer may be negative; everything else is a length of time.
            prop_assert!(n >= 0 || d.trim().parse::<i64>().is_ok(), "{d:?} -> {n}");
        }
        let _ = parse_duration(&s);
    }
}

/// Regression: `hh:mm:ss` durations whose hours overflow i64 nanoseconds panicked
/// (`attempt to multiply with overflow`) instead of being refused.
#[test]
fn huge_clock_durations_are_refused() {
    for d in [
        "2562048:00:00",
        "9223372036:00:00",
        "9223372036854775807:59:59",
        "2562047:47:16.854775808",
    ] {
        assert_eq!(parse_duration(d), None, "{d}");
    }
    assert_eq!(parse_duration("2562047:47:16"), Some(9_223_372_036_000_000_000));
    let e = compile("ExecutionDuration > '9223372036:00:00'", &catalog()).expect_err("refused");
    assert!(
        e.to_string().contains("is not a valid value for ExecutionDuration"),
        "{e}"
    );
}

/// Regression: the earliest instants (before 1677-09-21T00:12:44Z, whose whole seconds times
/// 10^9 fall below i64::MIN) formatted to a time that no longer parsed.
#[test]
fn earliest_instants_round_trip() {
    for n in [i64::MIN, i64::MIN + 1, i64::MIN + 999_999_999, i64::MAX] {
        assert_eq!(parse_rfc3339(&format_rfc3339(n)), Some(n), "{n}");
    }
    assert_eq!(parse_rfc3339("1677-09-21T00:12:43Z"), None);
    assert_eq!(parse_rfc3339("2262-04-11T23:47:17Z"), None);
}
