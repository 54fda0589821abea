//! Deterministic tests of the two pure parts of the batcher: the dispatch rule (`queue::plan`,
//! fed synthetic group lengths and instants) and the AIMD controller (fed synthetic batch
//! latencies from a cost model). No threads, no clocks read.

use crate::batch::queue::{GroupView, Plan, Rules, Trigger, plan};
use crate::batch::{AdaptiveConfig, AimdController, BatchSample};
use std::time::{Duration, Instant};

fn rules(limit: usize, delay_us: u64, preferred: &[usize]) -> Rules<'_> {
    Rules {
        limit,
        delay: Duration::from_micros(delay_us),
        preferred,
        draining: false,
        all_in: false,
        free_since: None,
    }
}

fn group(len: usize, oldest: Instant) -> GroupView {
    GroupView { len, oldest }
}

fn us(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

#[test]
fn plan_dispatches_a_full_batch_at_once() {
    let t0 = Instant::now();
    let rules = rules(8, 1_000_000, &[]);
    let full = plan([group(8, t0)].into_iter(), t0, &rules);
    assert_eq!(
        full,
        Plan::Dispatch {
            group: 0,
            size: 8,
            trigger: Trigger::Size
        }
    );
    let more = plan([group(20, t0)].into_iter(), t0, &rules);
    assert_eq!(
        more,
        Plan::Dispatch {
            group: 0,
            size: 8,
            trigger: Trigger::Size
        }
    );
}

#[test]
fn plan_waits_until_the_oldest_item_has_waited_the_queue_delay() {
    let t0 = Instant::now();
    let rules = rules(8, 1000, &[]);
    let early = plan([group(3, t0)].into_iter(), t0 + us(100), &rules);
    assert_eq!(early, Plan::WaitUntil(t0 + us(1000)));
    let due = plan([group(3, t0)].into_iter(), t0 + us(1000), &rules);
    assert_eq!(
        due,
        Plan::Dispatch {
            group: 0,
            size: 3,
            trigger: Trigger::Delay
        }
    );
}

#[test]
fn plan_with_no_delay_sends_whatever_is_waiting() {
    let t0 = Instant::now();
    let sent = plan([group(2, t0)].into_iter(), t0, &rules(8, 0, &[]));
    assert_eq!(
        sent,
        Plan::Dispatch {
            group: 0,
            size: 2,
            trigger: Trigger::Delay
        }
    );
}

#[test]
fn plan_sends_the_largest_available_preferred_size_at_once() {
    let t0 = Instant::now();
    let now = t0 + us(10);
    let preferred = [4, 8];
    let rules = rules(16, 1000, &preferred);
    let at = |len| plan([group(len, t0)].into_iter(), now, &rules);
    assert_eq!(at(3), Plan::WaitUntil(t0 + us(1000)));
    assert_eq!(
        at(5),
        Plan::Dispatch {
            group: 0,
            size: 4,
            trigger: Trigger::Size
        }
    );
    assert_eq!(
        at(9),
        Plan::Dispatch {
            group: 0,
            size: 8,
            trigger: Trigger::Size
        }
    );
    // Triton: the largest preferred size wins even when the limit would allow more.
    assert_eq!(
        at(20),
        Plan::Dispatch {
            group: 0,
            size: 8,
            trigger: Trigger::Size
        }
    );
    // When the delay expires the group goes as it is, preferred size or not.
    let late = plan([group(3, t0)].into_iter(), t0 + us(1000), &rules);
    assert_eq!(
        late,
        Plan::Dispatch {
            group: 0,
            size: 3,
            trigger: Trigger::Delay
        }
    );
}

#[test]
fn plan_uses_the_adaptive_limit_below_every_preferred_size() {
    let t0 = Instant::now();
    let preferred = [8];
    let sent = plan([group(4, t0)].into_iter(), t0, &rules(4, 1000, &preferred));
    assert_eq!(
        sent,
        Plan::Dispatch {
            group: 0,
            size: 4,
            trigger: Trigger::Size
        }
    );
}

#[test]
fn plan_serves_the_group_with_the_oldest_ready_item_first() {
    let t0 = Instant::now();
    let groups = [group(2, t0 + us(10)), group(2, t0), group(1, t0 + us(5))];
    let due = plan(groups.into_iter(), t0 + us(2000), &rules(8, 1000, &[]));
    assert_eq!(
        due,
        Plan::Dispatch {
            group: 1,
            size: 2,
            trigger: Trigger::Delay
        }
    );
    // A group ready by size goes before an older group that is not ready yet.
    let groups = [group(1, t0), group(8, t0 + us(10))];
    let sized = plan(groups.into_iter(), t0 + us(20), &rules(8, 1000, &[]));
    assert_eq!(
        sized,
        Plan::Dispatch {
            group: 1,
            size: 8,
            trigger: Trigger::Size
        }
    );
    // Nothing ready: wait for the earliest delay among the groups.
    let groups = [group(1, t0 + us(10)), group(1, t0 + us(3))];
    let wait = plan(groups.into_iter(), t0 + us(20), &rules(8, 1000, &[]));
    assert_eq!(wait, Plan::WaitUntil(t0 + us(1003)));
}

#[test]
fn plan_drains_without_waiting_when_shutting_down() {
    let t0 = Instant::now();
    let mut draining = rules(8, 1_000_000, &[]);
    draining.draining = true;
    let sent = plan([group(0, t0), group(11, t0)].into_iter(), t0, &draining);
    assert_eq!(
        sent,
        Plan::Dispatch {
            group: 1,
            size: 8,
            trigger: Trigger::Drain
        }
    );
}

#[test]
fn plan_sends_every_group_at_once_when_all_items_in_flight_are_held() {
    let t0 = Instant::now();
    let all_in = Rules {
        all_in: true,
        ..rules(2, 1_000_000, &[])
    };
    // Not full, not due: with all in, the oldest group goes now, capped at the limit.
    let groups = [group(1, t0 + us(5)), group(3, t0)];
    assert_eq!(
        plan(groups.into_iter(), t0 + us(10), &all_in),
        Plan::Dispatch {
            group: 1,
            size: 2,
            trigger: Trigger::Size
        }
    );
    let groups = [group(1, t0 + us(5)), group(1, t0)];
    assert_eq!(
        plan(groups.into_iter(), t0 + us(10), &all_in),
        Plan::Dispatch {
            group: 1,
            size: 1,
            trigger: Trigger::AllIn
        }
    );
    // Without it, the same queue waits for the oldest item's delay.
    let waiting = rules(2, 1_000_000, &[]);
    assert_eq!(
        plan(groups.into_iter(), t0 + us(10), &waiting),
        Plan::WaitUntil(t0 + us(1_000_000))
    );
}

#[test]
fn with_early_dispatch_the_delay_counts_from_when_the_instance_came_free() {
    let t0 = Instant::now();
    let groups = [group(3, t0)];
    // Triton's rule: the items waited 1.2 ms while the instance was busy: due at once.
    let triton = rules(8, 500, &[]);
    assert_eq!(
        plan(groups.into_iter(), t0 + us(1200), &triton),
        Plan::Dispatch {
            group: 0,
            size: 3,
            trigger: Trigger::Delay
        }
    );
    // The instance came free at 1 ms: the items wait up to 500 µs from then for the rest.
    let free = Rules {
        free_since: Some(t0 + us(1000)),
        ..rules(8, 500, &[])
    };
    assert_eq!(
        plan(groups.into_iter(), t0 + us(1200), &free),
        Plan::WaitUntil(t0 + us(1500))
    );
    assert_eq!(
        plan(groups.into_iter(), t0 + us(1500), &free),
        Plan::Dispatch {
            group: 0,
            size: 3,
            trigger: Trigger::Delay
        }
    );
    // Items that came after the instance was free keep their own clock.
    let later = [group(3, t0 + us(1100))];
    assert_eq!(
        plan(later.into_iter(), t0 + us(1200), &free),
        Plan::WaitUntil(t0 + us(1600))
    );
}

#[test]
fn plan_is_idle_when_every_group_is_empty() {
    let t0 = Instant::now();
    assert_eq!(
        plan([group(0, t0)].into_iter(), t0, &rules(8, 0, &[])),
        Plan::Idle
    );
    assert_eq!(plan(std::iter::empty(), t0, &rules(8, 0, &[])), Plan::Idle);
}

/// Batch function cost: fixed + per item, in microseconds.
fn cost(fixed_us: u64, per_item_us: u64) -> impl Fn(usize) -> Duration {
    move |size| us(fixed_us + per_item_us * size as u64)
}

/// Runs `rounds` full batches (size = the limit) and returns the limit after each.
fn drive(
    controller: &mut AimdController,
    cost: impl Fn(usize) -> Duration,
    rounds: usize,
) -> Vec<usize> {
    (0..rounds)
        .map(|_| {
            let size = controller.limit();
            controller.observe(BatchSample {
                size,
                latency: cost(size),
                limit_was_reached: true,
            })
        })
        .collect()
}

fn adaptive(objective_us: u64, decrease: f64, min: usize) -> AdaptiveConfig {
    AdaptiveConfig {
        latency_objective_us: objective_us,
        additive_step: 1,
        multiplicative_decrease: decrease,
        batch_size_min: min,
    }
}

#[test]
fn aimd_converges_to_the_largest_batch_that_meets_the_objective() {
    // 1000 + 100 * n <= 3000 µs: the largest batch within the objective is 20.
    let mut controller = AimdController::new(&adaptive(3000, 0.9, 1), 64);
    let limits = drive(&mut controller, cost(1000, 100), 400);
    let first_20 = limits
        .iter()
        .position(|&limit| limit == 20)
        .expect("reaches 20");
    assert!(
        first_20 < 25,
        "additive increase from 1 reaches 20 in 19 steps"
    );
    let settled = &limits[first_20..];
    // Sawtooth: 20 met → 21 tried and missed → cut 10% to 18 → 19, 20, 21 ...
    assert!(
        settled.iter().all(|&limit| (18..=21).contains(&limit)),
        "{settled:?}"
    );
    assert!(settled.iter().filter(|&&limit| limit == 20).count() > 50);
    // Every size ever tried above 20 missed; nothing above 21 was ever tried.
    assert_eq!(limits.iter().max(), Some(&21));
}

#[test]
fn aimd_backs_off_when_the_cost_rises_and_regrows_when_it_falls() {
    let mut controller = AimdController::new(&adaptive(3000, 0.9, 1), 64);
    drive(&mut controller, cost(1000, 100), 100);
    assert!(controller.limit() >= 18);
    // The model got twice as slow per item: now 1000 + 200 * n <= 3000 gives 10.
    let limits = drive(&mut controller, cost(1000, 200), 200);
    let settled = limits
        .iter()
        .position(|&limit| limit <= 11)
        .expect("backs off");
    assert!(settled < 10, "multiplicative decrease is fast: {limits:?}");
    assert!(
        limits[settled..]
            .iter()
            .all(|&limit| (9..=11).contains(&limit))
    );
    // Cheaper again: the limit climbs back to the old optimum.
    let limits = drive(&mut controller, cost(1000, 100), 200);
    assert!(limits.contains(&20) && limits.iter().all(|&limit| limit <= 21));
}

#[test]
fn aimd_stays_within_batch_size_min_and_batch_size_max() {
    let mut controller = AimdController::new(&adaptive(1000, 0.5, 4), 16);
    assert_eq!(controller.limit(), 4, "starts at batch_size_min");
    let always_slow = drive(&mut controller, |_| us(5000), 20);
    assert!(
        always_slow.iter().all(|&limit| limit == 4),
        "{always_slow:?}"
    );
    let always_fast = drive(&mut controller, |_| us(10), 40);
    assert_eq!(always_fast.iter().max(), Some(&16));
    assert_eq!(controller.limit(), 16, "batch_size_max caps the limit");
    // A cut rounds down: floor(3 * 0.9) = 2.
    let mut small = AimdController::new(&adaptive(1000, 0.9, 1), 16);
    drive(&mut small, |_| us(10), 2);
    assert_eq!(small.limit(), 3);
    drive(&mut small, |_| us(5000), 1);
    assert_eq!(small.limit(), 2);
}

#[test]
fn aimd_grows_only_on_batches_that_reached_the_limit() {
    let mut controller = AimdController::new(&adaptive(1000, 0.5, 5), 16);
    let light_load = BatchSample {
        size: 2,
        latency: us(10),
        limit_was_reached: false,
    };
    assert_eq!(controller.observe(light_load), 5);
}

#[test]
fn aimd_ignores_a_miss_from_a_batch_formed_before_the_last_cut() {
    let mut controller = AimdController::new(&adaptive(1000, 0.5, 1), 64);
    drive(&mut controller, |_| us(10), 19);
    assert_eq!(controller.limit(), 20);
    let miss = |size| BatchSample {
        size,
        latency: us(5000),
        limit_was_reached: true,
    };
    assert_eq!(controller.observe(miss(20)), 10);
    // A second instance finishes its batch of 20 (formed before the cut): no second cut.
    assert_eq!(controller.observe(miss(20)), 10);
    assert_eq!(controller.observe(miss(10)), 5);
}

#[test]
fn adaptive_configs_out_of_range_are_refused() {
    let valid = AdaptiveConfig::default();
    assert!(valid.validate(32).is_ok());
    let bad = [
        AdaptiveConfig {
            latency_objective_us: 0,
            ..valid.clone()
        },
        AdaptiveConfig {
            additive_step: 0,
            ..valid.clone()
        },
        AdaptiveConfig {
            multiplicative_decrease: 1.0,
            ..valid.clone()
        },
        AdaptiveConfig {
            multiplicative_decrease: 0.0,
            ..valid.clone()
        },
        AdaptiveConfig {
            multiplicative_decrease: f64::NAN,
            ..valid.clone()
        },
        AdaptiveConfig {
            batch_size_min: 0,
            ..valid.clone()
        },
        AdaptiveConfig {
            batch_size_min: 33,
            ..valid.clone()
        },
    ];
    for config in bad {
        assert!(config.validate(32).is_err(), "{config:?}");
    }
}
