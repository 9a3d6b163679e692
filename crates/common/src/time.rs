//! Conversions between protobuf times, `std` times and the i64 nanoseconds stored in key columns.

use prost_wkt_types::{Duration as PbDuration, Timestamp};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, the unit of every time column.
pub fn now_nanos() -> i64 {
    system_time_to_nanos(SystemTime::now())
}

pub fn system_time_to_nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

pub fn nanos_to_timestamp(nanos: i64) -> Timestamp {
    Timestamp {
        seconds: nanos.div_euclid(1_000_000_000),
        nanos: nanos.rem_euclid(1_000_000_000) as i32,
    }
}

pub fn now_timestamp() -> Timestamp {
    nanos_to_timestamp(now_nanos())
}

pub fn timestamp_to_nanos(ts: &Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(ts.nanos))
}

/// A protobuf duration as a `std` duration; `None` when it is negative.
pub fn duration_from_pb(d: &PbDuration) -> Option<Duration> {
    if d.seconds < 0 || d.nanos < 0 {
        return None;
    }
    Some(Duration::new(d.seconds as u64, d.nanos as u32))
}

pub fn duration_to_pb(d: Duration) -> PbDuration {
    PbDuration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_nanos() as i32,
    }
}

/// Temporal's upper bound for any duration it is given (`timestamp.ValidateAndCapProtoDuration`):
/// 100 years of 365 days. Longer durations are cut to it, not rejected.
pub const MAX_DURATION_SECS: i64 = 100 * 365 * 24 * 3600;

/// Why a protobuf duration from a request is not acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationError {
    MismatchedSigns,
    Negative,
}

impl std::fmt::Display for DurationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DurationError::MismatchedSigns => "duration has seconds and nanos with different signs",
            DurationError::Negative => "negative duration",
        })
    }
}

/// Validates a duration from the wire and caps it at [`MAX_DURATION_SECS`], as Temporal does
/// wherever a duration enters: negative durations and mixed signs are errors, huge ones are
/// shortened so that no deadline computed from them can overflow.
pub fn validate_and_cap(d: &mut PbDuration) -> Result<(), DurationError> {
    if (d.seconds > 0 && d.nanos < 0) || (d.seconds < 0 && d.nanos > 0) {
        return Err(DurationError::MismatchedSigns);
    }
    let total = i128::from(d.seconds) * 1_000_000_000 + i128::from(d.nanos);
    if total < 0 {
        return Err(DurationError::Negative);
    }
    if total > i128::from(MAX_DURATION_SECS) * 1_000_000_000 {
        *d = PbDuration {
            seconds: MAX_DURATION_SECS,
            nanos: 0,
        };
    }
    Ok(())
}

/// [`validate_and_cap`] for an optional field (absent is valid: it means zero).
pub fn validate_and_cap_opt(d: &mut Option<PbDuration>) -> Result<(), DurationError> {
    d.as_mut().map_or(Ok(()), validate_and_cap)
}

/// A protobuf duration in nanoseconds, saturating at the ends of `i64`.
pub fn pb_duration_nanos(d: &PbDuration) -> i64 {
    d.seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(d.nanos))
}

/// `at` plus a protobuf duration: the deadline saturates at `i64::MAX` (never wraps into the past).
pub fn deadline_after(at: i64, d: &PbDuration) -> i64 {
    at.saturating_add(pb_duration_nanos(d))
}

/// `at` plus a `std` duration, saturating like [`deadline_after`].
pub fn deadline_after_std(at: i64, d: Duration) -> i64 {
    at.saturating_add(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The `std` duration from `now` until `at` (zero when `at` is not in the future).
pub fn until(at: i64, now: i64) -> Duration {
    Duration::from_nanos(u64::try_from(at.saturating_sub(now)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_round_trip_keeps_sign_and_nanos() {
        for n in [
            0i64,
            1,
            999_999_999,
            1_000_000_000,
            -1,
            -1_500_000_000,
            1_764_000_000_123_456_789,
        ] {
            let ts = nanos_to_timestamp(n);
            assert!((0..1_000_000_000).contains(&ts.nanos), "nanos out of range for {n}");
            assert_eq!(timestamp_to_nanos(&ts), n);
        }
    }

    #[test]
    fn durations_are_capped_at_one_hundred_years() {
        let mut huge = PbDuration {
            seconds: 9_000_000_000,
            nanos: 0,
        };
        assert_eq!(validate_and_cap(&mut huge), Ok(()));
        assert_eq!(huge.seconds, MAX_DURATION_SECS);
        let mut max = PbDuration {
            seconds: i64::MAX,
            nanos: 999_999_999,
        };
        assert_eq!(validate_and_cap(&mut max), Ok(()));
        assert_eq!(
            max,
            PbDuration {
                seconds: MAX_DURATION_SECS,
                nanos: 0
            }
        );
        let mut ok = PbDuration { seconds: 2, nanos: 5 };
        assert_eq!(validate_and_cap(&mut ok), Ok(()));
        assert_eq!(ok, PbDuration { seconds: 2, nanos: 5 });
        assert_eq!(
            validate_and_cap(&mut PbDuration { seconds: 1, nanos: -1 }),
            Err(DurationError::MismatchedSigns)
        );
        assert_eq!(
            validate_and_cap(&mut PbDuration { seconds: -5, nanos: 0 }),
            Err(DurationError::Negative)
        );
        assert_eq!(
            validate_and_cap(&mut PbDuration {
                seconds: i64::MIN,
                nanos: 0
            }),
            Err(DurationError::Negative)
        );
        assert_eq!(validate_and_cap_opt(&mut None), Ok(()));
    }

    #[test]
    fn deadlines_saturate_instead_of_wrapping() {
        let now = 1_764_000_000_000_000_000i64;
        let huge = PbDuration {
            seconds: 9_000_000_000,
            nanos: 0,
        };
        assert_eq!(deadline_after(now, &huge), i64::MAX);
        let max = PbDuration {
            seconds: i64::MAX,
            nanos: i32::MAX,
        };
        assert_eq!(pb_duration_nanos(&max), i64::MAX);
        assert_eq!(deadline_after(now, &max), i64::MAX);
        assert_eq!(
            deadline_after(now, &PbDuration { seconds: 2, nanos: 0 }),
            now + 2_000_000_000
        );
        assert_eq!(deadline_after_std(now, Duration::MAX), i64::MAX);
        assert_eq!(until(i64::MAX, now), Duration::from_nanos((i64::MAX - now) as u64));
        assert_eq!(until(i64::MIN, now), Duration::ZERO);
        assert_eq!(until(now, i64::MIN), Duration::from_nanos(i64::MAX as u64));
    }

    #[test]
    fn negative_durations_are_rejected() {
        assert_eq!(duration_from_pb(&PbDuration { seconds: -1, nanos: 0 }), None);
        assert_eq!(
            duration_from_pb(&PbDuration { seconds: 3, nanos: 5 }),
            Some(Duration::new(3, 5))
        );
    }
}
