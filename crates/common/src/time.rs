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
    fn negative_durations_are_rejected() {
        assert_eq!(duration_from_pb(&PbDuration { seconds: -1, nanos: 0 }), None);
        assert_eq!(
            duration_from_pb(&PbDuration { seconds: 3, nanos: 5 }),
            Some(Duration::new(3, 5))
        );
    }
}
