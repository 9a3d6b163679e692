//! Cheap randomness where no stream of numbers needs to be shared or reproduced (spreading
//! partitions, jitter). Each `RandomState` is freshly keyed, so hashing nothing with one is a
//! random number without a generator to keep.

use std::hash::BuildHasher;

/// A random number below `n` (0 when `n <= 1`).
pub fn below(n: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    std::collections::hash_map::RandomState::new().hash_one(()) % n
}

/// A random duration in `[0, max)`, to nanosecond precision up to `u64::MAX` nanoseconds.
pub fn jitter(max: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_nanos(below(u64::try_from(max.as_nanos()).unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_below_its_bound_and_covers_it() {
        assert_eq!(below(0), 0);
        assert_eq!(below(1), 0);
        let mut seen = [false; 4];
        for _ in 0..400 {
            let n = below(4);
            assert!(n < 4);
            seen[n as usize] = true;
        }
        assert_eq!(seen, [true; 4]);
        assert!(jitter(std::time::Duration::from_millis(5)) < std::time::Duration::from_millis(5));
        assert_eq!(jitter(std::time::Duration::ZERO), std::time::Duration::ZERO);
    }
}
