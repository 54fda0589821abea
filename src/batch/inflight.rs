//! Early dispatch's signal: the most items seen in flight (queued or in a running batch) over
//! the last one to two windows (`BatchConfig::in_flight_window_ms`).
//!
//! In a closed loop (each client waits for its answer before it sends again) no more items can
//! arrive while everything in flight is already in the batcher: waiting out the queue delay
//! then only adds latency. The batcher compares the items it holds with this recent peak and,
//! when it holds them all, dispatches without waiting (`queue::Rules::all_in`). When load
//! drops, the peak follows within two windows. Pure: the caller passes the clock value; no
//! locking here. Tests: below and `batch/tests.rs`.

use std::time::{Duration, Instant};

/// A maximum over two rotating windows: the current one and the one before it.
#[derive(Debug)]
pub(super) struct InFlightPeak {
    window: Duration,
    started: Instant,
    current: usize,
    previous: usize,
}

impl InFlightPeak {
    pub(super) fn new(window: Duration, now: Instant) -> InFlightPeak {
        InFlightPeak {
            window,
            started: now,
            current: 0,
            previous: 0,
        }
    }

    /// Records `in_flight` items at `now`, rotating the windows first if `now` is past them.
    pub(super) fn observe(&mut self, now: Instant, in_flight: usize) {
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed >= self.window {
            // One window passed: the current one becomes the previous. Two or more: both are
            // stale (nothing was observed in the last full window).
            self.previous = if elapsed >= self.window * 2 {
                0
            } else {
                self.current
            };
            self.current = 0;
            self.started = now;
        }
        self.current = self.current.max(in_flight);
    }

    /// The most items in flight observed in the current and the previous window.
    pub(super) fn peak(&self) -> usize {
        self.current.max(self.previous)
    }
}

#[cfg(test)]
mod tests {
    use super::InFlightPeak;
    use std::time::{Duration, Instant};

    const WINDOW: Duration = Duration::from_millis(100);

    #[test]
    fn the_peak_is_the_most_items_seen_in_the_last_one_to_two_windows() {
        let t0 = Instant::now();
        let mut peak = InFlightPeak::new(WINDOW, t0);
        assert_eq!(peak.peak(), 0);
        peak.observe(t0, 1);
        peak.observe(t0 + Duration::from_millis(10), 64);
        peak.observe(t0 + Duration::from_millis(20), 3);
        assert_eq!(peak.peak(), 64);
        // Next window: the 64 is still remembered as the previous window's peak.
        peak.observe(t0 + Duration::from_millis(150), 1);
        assert_eq!(peak.peak(), 64);
        // One more window with only single items: the 64 is forgotten.
        peak.observe(t0 + Duration::from_millis(260), 1);
        assert_eq!(peak.peak(), 1);
    }

    #[test]
    fn a_silence_of_two_windows_forgets_everything_before_it() {
        let t0 = Instant::now();
        let mut peak = InFlightPeak::new(WINDOW, t0);
        peak.observe(t0, 64);
        peak.observe(t0 + WINDOW * 2, 1);
        assert_eq!(peak.peak(), 1);
    }

    #[test]
    fn a_clock_value_before_the_window_start_does_not_rotate() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let mut peak = InFlightPeak::new(WINDOW, t0);
        peak.observe(t0 - Duration::from_millis(5), 7);
        assert_eq!(peak.peak(), 7);
    }
}
