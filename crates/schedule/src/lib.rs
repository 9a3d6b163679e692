//! The time logic of Temporal schedules: given a `ScheduleSpec`, the instants
//! at which the schedule fires.
//!
//! Pure computation: no I/O, no async. [`ScheduleSpec`] and its parts mirror
//! `temporal.api.schedule.v1` field for field; [`proto`] maps the protos onto
//! them, and [`scheduler`] is the state machine the system worker runs over a
//! stored schedule. [`CompiledSpec::new`] validates a spec the way
//! Temporal's server does (`service/worker/scheduler/spec.go` and
//! `calendar.go`), and [`CompiledSpec::next_time`] /
//! [`CompiledSpec::matching_times`] answer the scheduler and
//! `ListScheduleMatchingTimes`.
//!
//! Times are [`jiff`] values: UTC instants as [`jiff::Timestamp`], durations
//! as [`jiff::SignedDuration`]. Jiff is used with its bundled copy of the
//! IANA time zone database, so zones resolve identically on every host and
//! in containers without `/usr/share/zoneinfo`.
//!
//! # Semantics, as in Temporal
//!
//! * A spec fires at the union of its calendars, cron strings and intervals,
//!   minus any time matched by an exclusion, within `start_time..=end_time`,
//!   and never after the year 2100.
//! * All times are whole seconds; `next_time(t)` is the first strictly after
//!   `t` truncated to the second.
//! * A calendar matches when every field matches, day of month *and* day of
//!   week (not classic cron's "either").
//! * Calendars are read in the spec's zone literally: a wall-clock time
//!   skipped by a DST gap does not fire that day; one repeated by a fold
//!   fires twice (as the API documents for `timezone_name`; Temporal's
//!   server only manages that in zones behind UTC, see below).
//! * Each fire time is delayed by a deterministic jitter derived from the
//!   nominal time and a seed, and capped so that it never reaches the next
//!   nominal time.
//!
//! # Cron strings
//!
//! 5 fields (`minute hour day-of-month month day-of-week`), 6 (`… year`) or
//! 7 (`second minute … year`); `@yearly`, `@annually`, `@monthly`,
//! `@weekly`, `@daily`, `@midnight`, `@hourly`; `@every <dur>[/<phase>]`
//! (an interval; units `ns us ms s m h d`); an optional `TZ=<zone>` or
//! `CRON_TZ=<zone>` prefix and `# comment` suffix.
//!
//! # Where we knowingly differ from Temporal
//!
//! * Weekday ranges ending in 7 always include Sunday; Temporal's parser
//!   drops Sunday from `1-7` (but not from `0-7` or `5-7`).
//! * Out-of-range values in exclusion calendars are rejected; Temporal does
//!   not validate exclusions.
//! * `@every` cron strings do not take part in the rule that all cron
//!   strings must agree on a `TZ=` prefix (intervals have no time zone).
//! * A fractional `start_time` is rounded up to the next whole second, so
//!   no fire time precedes it.
//! * A DST gap that is not a whole hour (e.g. Australia/Lord_Howe's 30
//!   minutes) skips exactly the wall times that do not exist; Temporal's
//!   search is only exact for whole-hour gaps.
//! * A wall-clock time repeated by a DST fold fires at both instants in
//!   every zone. Temporal's server does so only in zones behind UTC (New
//!   York): its search relies on Go resolving an ambiguous wall time to the
//!   earlier instant, which Go does only there; where clocks are ahead of
//!   UTC when the fold starts (London in summer time, Lord Howe) it picks
//!   the later one. There Temporal fires such a time once (in London a
//!   daily 01:30 only at 01:30 GMT, an hourly calendar 01:00 only in BST),
//!   and in Lord Howe's half-hour fold an hourly calendar also fires at
//!   01:30.
//! * An interval fires at every Unix epoch + n·interval + phase. Temporal's
//!   server divides rounding toward zero, so when a search starts less than
//!   `phase` after the epoch (or before it) it skips the next time: from
//!   1970-01-01T00:00Z, `@every 1h/30m` first fires at 01:30 there, at 00:30
//!   here.
//! * The jitter hash is our own, so jittered times differ from Temporal's
//!   for the same spec and seed (nominal times are identical).
//! * Only the bundled zone database is consulted; Temporal reads the host's
//!   (`Local` is thus unknown here).

mod calendar;
mod civil;
mod cron;
mod error;
mod fields;
pub mod proto;
pub mod scheduler;
mod spec;
mod types;

pub use error::SpecError;
pub use spec::{CompiledSpec, MAX_EXCLUDED_CANDIDATES, MAX_MATCHING_TIMES};
pub use types::{CalendarSpec, IntervalSpec, NextTime, Range, ScheduleSpec, StructuredCalendarSpec};

/// Re-exported so callers name the same `Timestamp`, `SignedDuration` and
/// `TimeZone` types this crate uses.
pub use jiff;
