use thiserror::Error;

/// Why a [`crate::ScheduleSpec`] was rejected. Every message names the part
/// of the spec at fault (e.g. `calendar[1]`) so the user can find and fix it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpecError {
    /// A calendar (string or structured, to match or to exclude) has a value
    /// out of range, a bad name, a bad step, or a comment that is too long.
    #[error("{location}: invalid calendar spec: {problems}")]
    InvalidCalendar {
        /// e.g. `calendar[0]` or `exclude_structured_calendar[2]`.
        location: String,
        /// Every problem found in that calendar, comma separated.
        problems: String,
    },
    /// A cron string could not be understood.
    #[error("cron_string[{index}] {cron:?}: {reason}")]
    InvalidCronString { index: usize, cron: String, reason: String },
    /// An interval is shorter than a second, or its phase is negative or not
    /// shorter than the interval.
    #[error("interval[{index}]: {reason}")]
    InvalidInterval { index: usize, reason: String },
    /// `timezone_name` (or a cron string's `TZ=`) names no known zone.
    #[error("unknown time zone {name:?}: use an IANA name such as \"America/New_York\", or leave it empty for UTC")]
    UnknownTimeZone { name: String },
    /// `timezone_data` is not a TZif file.
    #[error("timezone_data for {name:?} is not a valid TZif file: {reason}")]
    InvalidTimeZoneData { name: String, reason: String },
    /// Cron strings disagree with each other or with `timezone_name` about
    /// the time zone.
    #[error("conflicting time zones: {detail}")]
    ConflictingTimeZones { detail: String },
}
