//! Plain mirrors of `temporal.api.schedule.v1` messages.
//!
//! Field names follow the protos so that mapping them is mechanical. Proto
//! `Duration` maps to [`SignedDuration`] (it can be negative on the wire, and
//! negative values must reach validation rather than be lost in conversion)
//! and proto `Timestamp` to [`Timestamp`].

use jiff::{SignedDuration, Timestamp};

/// A set of integers for one calendar field (`Range` in the proto).
///
/// `end == 0` means "just `start`" (proto3 leaves unset fields at zero) and
/// `step == 0` means 1. Temporal rejects any other `end < start` when it
/// validates a spec, and so does [`crate::CompiledSpec::new`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Range {
    pub start: i32,
    pub end: i32,
    pub step: i32,
}

impl Range {
    /// The range holding only `value`.
    pub fn single(value: i32) -> Self {
        Self {
            start: value,
            end: 0,
            step: 0,
        }
    }

    /// `start..=end` in steps of 1.
    pub fn span(start: i32, end: i32) -> Self {
        Self { start, end, step: 0 }
    }
}

/// `StructuredCalendarSpec`: a time matches when every field has at least one
/// range containing the time's value in that field.
///
/// Unlike [`CalendarSpec`], an empty list here has no default: it matches
/// nothing, so a calendar with any empty field except `year` never fires.
/// An empty `year` means every year. This is how Temporal's server reads the
/// message; SDKs fill in defaults before sending it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct StructuredCalendarSpec {
    /// 0–59.
    pub second: Vec<Range>,
    /// 0–59.
    pub minute: Vec<Range>,
    /// 0–23.
    pub hour: Vec<Range>,
    /// 1–31.
    pub day_of_month: Vec<Range>,
    /// 1–12.
    pub month: Vec<Range>,
    /// 2000–2100; empty means any year.
    pub year: Vec<Range>,
    /// 0–6, 0 is Sunday.
    pub day_of_week: Vec<Range>,
    /// Free text, at most 200 bytes.
    pub comment: String,
}

/// `CalendarSpec`: the string form of a calendar, one cron-like expression
/// per field. An empty field takes its default: `second`, `minute` and `hour`
/// default to `"0"`, every other field to `"*"`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CalendarSpec {
    pub second: String,
    pub minute: String,
    pub hour: String,
    pub day_of_month: String,
    pub month: String,
    pub year: String,
    pub day_of_week: String,
    pub comment: String,
}

/// `IntervalSpec`: fires at the Unix epoch + `phase` + k·`interval` for every
/// integer k. Both are truncated to whole seconds before use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IntervalSpec {
    pub interval: SignedDuration,
    pub phase: SignedDuration,
}

/// `ScheduleSpec`: every instant at which a schedule fires.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScheduleSpec {
    pub structured_calendar: Vec<StructuredCalendarSpec>,
    /// Cron strings; see the crate docs for the accepted forms.
    pub cron_string: Vec<String>,
    pub calendar: Vec<CalendarSpec>,
    pub interval: Vec<IntervalSpec>,
    /// Deprecated in the proto in favour of `exclude_structured_calendar`,
    /// still accepted.
    pub exclude_calendar: Vec<CalendarSpec>,
    pub exclude_structured_calendar: Vec<StructuredCalendarSpec>,
    /// No fire time is earlier than this (inclusive).
    pub start_time: Option<Timestamp>,
    /// No fire time is later than this (inclusive).
    pub end_time: Option<Timestamp>,
    /// Each fire time is delayed by a deterministic amount in `[0, jitter)`.
    pub jitter: SignedDuration,
    /// IANA name; empty means UTC.
    pub timezone_name: String,
    /// A TZif file to use instead of looking `timezone_name` up; empty means
    /// none.
    pub timezone_data: Vec<u8>,
}

/// One fire time of a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NextTime {
    /// The time the spec matched, before jitter. Whole seconds.
    pub nominal: Timestamp,
    /// `nominal` plus this time's jitter: when the action should run.
    pub next: Timestamp,
}
