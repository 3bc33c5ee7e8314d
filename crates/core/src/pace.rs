//! Pacing under a per-second quota: a second's worth of calls at once, so up to that many
//! cost one round trip, then each further second's worth a second later, so a run never
//! throttles itself (nor, with a share of a quota, the others who use it).

use std::time::Duration;

/// When the `i`th call (in order) may start, counted from the first.
pub fn wave(i: usize, per_second: usize) -> Duration {
    Duration::from_secs((i / per_second.max(1)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_go_out_a_seconds_quota_at_once_then_one_quota_a_second() {
        assert_eq!(wave(0, 50), Duration::ZERO);
        assert_eq!(wave(49, 50), Duration::ZERO);
        assert_eq!(wave(50, 50), Duration::from_secs(1));
        assert_eq!(wave(100, 50), Duration::from_secs(2));
        assert_eq!(wave(7, 3), Duration::from_secs(2));
        assert_eq!(wave(3, 0), Duration::from_secs(3), "never divides by zero");
        // No one-second window holds more than the quota.
        let starts: Vec<_> = (0..500).map(|i| wave(i, 50)).collect();
        for window in starts.windows(51) {
            assert!(window[50] - window[0] >= Duration::from_secs(1));
        }
    }
}
