//! Traffic split between versions of one model: fixed weights, or the Exp3 bandit
//! (Auer, Cesa-Bianchi, Freund and Schapire, 2002) that learns from feedback, as in
//! Clipper's model-selection layer. A request without an explicit version is routed by
//! `Split::choose`; a thumbs up or down on a version's answer is `Split::reward` 1 or 0.
//!
//! Pure and deterministic: the random numbers come from `SplitRng` (SplitMix64) seeded from
//! the model's config, so a test replays the same choices. Not here: where feedback is
//! stored, or which versions are loaded (`service/feedback.rs`). Delayed feedback uses the
//! probability at reward time, not at choice time (the choice is not remembered); with
//! slowly moving weights the two are close. Tests at the bottom, with a seeded simulation.

use crate::limits::SPLIT_VERSIONS_MAX;
use serde::{Deserialize, Serialize};

/// SplitMix64 (Steele, Lea and Flood, 2014): small, fast, and good enough to route traffic.
#[derive(Clone, Debug)]
pub struct SplitRng {
    state: u64,
}

impl SplitRng {
    pub fn new(seed: u64) -> SplitRng {
        SplitRng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` (53 random bits).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How a split picks a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitPolicy {
    /// Each version gets its configured share of the traffic.
    Fixed,
    /// Exp3 moves traffic toward the version with the better feedback.
    Exp3,
}

/// A model's `split` in its `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    pub policy: SplitPolicy,
    /// The versions traffic is split between (2..=`SPLIT_VERSIONS_MAX`, distinct).
    pub versions: Vec<u64>,
    /// `fixed`: one non-negative weight per version (they need not sum to 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<f64>,
    /// `exp3`: the exploration rate, in (0, 1]: this share of the traffic is spread evenly.
    #[serde(default = "default_gamma")]
    pub gamma: f64,
    /// Seed of the routing's random numbers.
    #[serde(default)]
    pub seed: u64,
}

fn default_gamma() -> f64 {
    0.1
}

impl SplitConfig {
    /// Checks the rules above; the message says which one failed.
    pub fn check(&self) -> Result<(), String> {
        let count = self.versions.len();
        if !(2..=SPLIT_VERSIONS_MAX).contains(&count) {
            return Err(format!(
                "split: name 2 to {SPLIT_VERSIONS_MAX} versions, not {count}"
            ));
        }
        let mut sorted = self.versions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != count || sorted[0] == 0 {
            return Err("split: versions must be distinct positive integers".to_owned());
        }
        match self.policy {
            SplitPolicy::Fixed => {
                let valid = self.weights.len() == count
                    && self.weights.iter().all(|w| w.is_finite() && *w >= 0.0)
                    && self.weights.iter().sum::<f64>() > 0.0;
                if !valid {
                    return Err(
                        "split: fixed needs one finite, non-negative weight per version, not all zero"
                            .to_owned(),
                    );
                }
            }
            SplitPolicy::Exp3 => {
                if !(self.gamma > 0.0 && self.gamma <= 1.0) {
                    return Err("split: exp3's gamma must be in (0, 1]".to_owned());
                }
            }
        }
        Ok(())
    }
}

/// Exp3 over `k` arms, with log-weights so long runs of rewards cannot overflow.
#[derive(Clone, Debug)]
pub struct Exp3 {
    gamma: f64,
    log_weights: Vec<f64>,
}

impl Exp3 {
    /// `arms` >= 1, `gamma` in (0, 1] (checked by `SplitConfig::check`).
    pub fn new(arms: usize, gamma: f64) -> Exp3 {
        debug_assert!(arms >= 1 && gamma > 0.0 && gamma <= 1.0);
        Exp3 {
            gamma,
            log_weights: vec![0.0; arms],
        }
    }

    /// The probability of each arm: `(1 - gamma) * w_i / sum(w) + gamma / k`.
    pub fn probabilities(&self) -> Vec<f64> {
        let k = self.log_weights.len() as f64;
        let top = self
            .log_weights
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let scaled: Vec<f64> = self.log_weights.iter().map(|w| (w - top).exp()).collect();
        let total: f64 = scaled.iter().sum();
        scaled
            .iter()
            .map(|w| (1.0 - self.gamma) * w / total + self.gamma / k)
            .collect()
    }

    /// Records `reward` (clamped to `[0, 1]`) for `arm`: its weight grows by
    /// `exp(gamma * reward / (p_arm * k))`, the importance-weighted estimate.
    pub fn reward(&mut self, arm: usize, reward: f64) {
        let Some(probability) = self.probabilities().get(arm).copied() else {
            return;
        };
        let reward = if reward.is_nan() {
            0.0
        } else {
            reward.clamp(0.0, 1.0)
        };
        let k = self.log_weights.len() as f64;
        self.log_weights[arm] += self.gamma * reward / (probability * k);
    }
}

/// Picks an index from `probabilities` (summing to about 1) with a uniform `draw` in [0, 1).
pub fn pick(probabilities: &[f64], draw: f64) -> usize {
    let mut acc = 0.0;
    for (index, p) in probabilities.iter().enumerate() {
        acc += p;
        if draw < acc {
            return index;
        }
    }
    probabilities.len().saturating_sub(1)
}

/// A model's live split: its config, its random numbers and, for `exp3`, the learner.
#[derive(Clone, Debug)]
pub struct Split {
    pub config: SplitConfig,
    rng: SplitRng,
    exp3: Exp3,
}

impl Split {
    /// A split from a checked config.
    pub fn new(config: SplitConfig) -> Split {
        let exp3 = Exp3::new(config.versions.len(), config.gamma);
        Split {
            rng: SplitRng::new(config.seed),
            exp3,
            config,
        }
    }

    /// Each version's share of the traffic now, in config order.
    pub fn shares(&self) -> Vec<(u64, f64)> {
        let probabilities = match self.config.policy {
            SplitPolicy::Fixed => {
                let total: f64 = self.config.weights.iter().sum();
                self.config.weights.iter().map(|w| w / total).collect()
            }
            SplitPolicy::Exp3 => self.exp3.probabilities(),
        };
        self.config
            .versions
            .iter()
            .copied()
            .zip(probabilities)
            .collect()
    }

    /// The version the next request goes to.
    pub fn choose(&mut self) -> u64 {
        let shares: Vec<f64> = self.shares().iter().map(|(_, p)| *p).collect();
        let index = pick(&shares, self.rng.next_f64());
        self.config.versions[index]
    }

    /// Feedback on an answer of `version`: 1 for approval, 0 for disapproval. Ignored for a
    /// version outside the split and by `fixed`.
    pub fn reward(&mut self, version: u64, reward: f64) {
        if self.config.policy != SplitPolicy::Exp3 {
            return;
        }
        if let Some(arm) = self.config.versions.iter().position(|&v| v == version) {
            self.exp3.reward(arm, reward);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp3_config(gamma: f64, seed: u64) -> SplitConfig {
        SplitConfig {
            policy: SplitPolicy::Exp3,
            versions: vec![1, 2],
            weights: vec![],
            gamma,
            seed,
        }
    }

    #[test]
    fn rng_is_seeded_and_uniform_enough() {
        let mut a = SplitRng::new(42);
        let mut b = SplitRng::new(42);
        let draws: Vec<f64> = (0..10_000).map(|_| a.next_f64()).collect();
        assert!(draws.iter().all(|&d| (0.0..1.0).contains(&d)));
        assert_eq!(b.next_f64(), draws[0]);
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }

    #[test]
    fn exp3_starts_even_and_keeps_the_exploration_floor() {
        let mut exp3 = Exp3::new(2, 0.2);
        assert_eq!(exp3.probabilities(), vec![0.5, 0.5]);
        for _ in 0..10_000 {
            exp3.reward(0, 1.0);
        }
        let p = exp3.probabilities();
        assert!(p[1] >= 0.1 - 1e-12, "gamma / k is the floor: {p:?}");
        assert!((p[0] + p[1] - 1.0).abs() < 1e-9);
        assert!(p.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn exp3_rewards_move_weight_and_clamp() {
        let mut exp3 = Exp3::new(3, 0.1);
        exp3.reward(2, 5.0); // clamped to 1
        let mut other = Exp3::new(3, 0.1);
        other.reward(2, 1.0);
        assert_eq!(exp3.probabilities(), other.probabilities());
        exp3.reward(7, 1.0); // no such arm: ignored
        let p = exp3.probabilities();
        assert!(p[2] > p[0] && p[0] == p[1], "{p:?}");
        exp3.reward(0, 0.0);
        assert_eq!(exp3.probabilities(), p, "a zero reward changes nothing");
    }

    #[test]
    fn pick_follows_the_cumulative_shares() {
        let shares = [0.25, 0.5, 0.25];
        assert_eq!(pick(&shares, 0.0), 0);
        assert_eq!(pick(&shares, 0.3), 1);
        assert_eq!(pick(&shares, 0.76), 2);
        assert_eq!(pick(&shares, 0.999_999_999), 2);
    }

    #[test]
    fn fixed_split_honours_its_weights() {
        let mut split = Split::new(SplitConfig {
            policy: SplitPolicy::Fixed,
            versions: vec![1, 2],
            weights: vec![3.0, 1.0],
            gamma: 0.1,
            seed: 9,
        });
        assert_eq!(split.shares(), vec![(1, 0.75), (2, 0.25)]);
        let to_two = (0..4_000).filter(|_| split.choose() == 2).count();
        assert!((800..1_200).contains(&to_two), "{to_two}");
        split.reward(2, 1.0);
        assert_eq!(
            split.shares(),
            vec![(1, 0.75), (2, 0.25)],
            "fixed never learns"
        );
    }

    /// Version 2 is approved 80% of the time, version 1 30%: a seeded run of Exp3 sends
    /// most traffic to version 2 by the end, and the same seed gives the same run.
    #[test]
    fn simulation_shifts_traffic_to_the_better_version() {
        fn run(seed: u64) -> (Vec<(u64, f64)>, usize) {
            let mut split = Split::new(exp3_config(0.1, seed));
            let mut users = SplitRng::new(seed ^ 0xFEED);
            let mut late_to_two = 0;
            for round in 0..3_000 {
                let version = split.choose();
                let approval = if version == 2 { 0.8 } else { 0.3 };
                let reward = if users.next_f64() < approval {
                    1.0
                } else {
                    0.0
                };
                split.reward(version, reward);
                if round >= 2_000 && version == 2 {
                    late_to_two += 1;
                }
            }
            (split.shares(), late_to_two)
        }
        let (shares, late_to_two) = run(7);
        assert!(shares[1].1 > 0.9, "{shares:?}");
        assert!(late_to_two > 850, "{late_to_two} of the last 1000");
        assert_eq!(run(7).0, shares, "seeded: the same run twice");
        let (other, _) = run(8);
        assert!(other[1].1 > 0.9, "another seed learns too: {other:?}");
    }

    #[test]
    fn config_check_names_the_rule() {
        assert!(exp3_config(0.1, 0).check().is_ok());
        let mut one = exp3_config(0.1, 0);
        one.versions = vec![1];
        assert!(one.check().unwrap_err().contains("2 to"));
        let mut many = exp3_config(0.1, 0);
        many.versions = (1..=SPLIT_VERSIONS_MAX as u64 + 1).collect();
        assert!(many.check().unwrap_err().contains("2 to"));
        let mut twice = exp3_config(0.1, 0);
        twice.versions = vec![2, 2];
        assert!(twice.check().unwrap_err().contains("distinct"));
        assert!(exp3_config(0.0, 0).check().unwrap_err().contains("gamma"));
        let fixed = SplitConfig {
            policy: SplitPolicy::Fixed,
            versions: vec![1, 2],
            weights: vec![0.0, 0.0],
            gamma: 0.1,
            seed: 0,
        };
        assert!(fixed.check().unwrap_err().contains("weight"));
    }
}
