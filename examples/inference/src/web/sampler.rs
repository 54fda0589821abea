//! The dashboard's sampler: a thread that reads every loaded model's counters once a second
//! and keeps the per-second samples in a ring per model (`limits::SERIES_SECONDS_MAX`), which
//! the pages and event streams read.
//!
//! Memory is bounded: one ring per loaded model (at most `limits::MODELS_MAX`), a model that
//! is no longer loaded is dropped at the next tick. The thread holds only a weak reference and
//! ends at the first tick after the last `Dashboard` handle goes. Not here: the sample
//! arithmetic (`domain/series.rs`), rendering (`web/mod.rs`). Tests: `tests/cli/dashboard.rs`.

use crate::domain::series::{Counters, Ring, Sample};
use crate::limits::SERIES_SECONDS_MAX;
use crate::service::Inference;
use crate::service::observe::counters;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often the sampler reads the counters.
pub const SAMPLE_INTERVAL_MS: u64 = 1_000;

struct ModelSeries {
    last: Counters,
    last_at: Instant,
    samples: Ring<Sample>,
}

struct Inner {
    service: Inference,
    series: Mutex<BTreeMap<String, ModelSeries>>,
    /// Ticks taken so far (streams wait for the next one).
    ticks: std::sync::atomic::AtomicU64,
}

/// The per-model series and the thread that fills them; cheap to clone.
#[derive(Clone)]
pub struct Dashboard {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard").finish_non_exhaustive()
    }
}

impl Dashboard {
    /// Starts sampling `service`'s models. Fails when the thread cannot be started.
    pub fn start(service: Inference) -> std::io::Result<Dashboard> {
        let inner = Arc::new(Inner {
            service,
            series: Mutex::new(BTreeMap::new()),
            ticks: std::sync::atomic::AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("dashboard-sampler".to_owned())
            .spawn(move || run(weak))?;
        Ok(Dashboard { inner })
    }

    /// The samples of model `name`, oldest first (empty before its first second).
    pub fn samples(&self, name: &str) -> Vec<Sample> {
        let series = self.inner.series.lock().unwrap_or_else(|e| e.into_inner());
        series
            .get(name)
            .map(|s| s.samples.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Ticks taken since start.
    pub fn ticks(&self) -> u64 {
        self.inner.ticks.load(std::sync::atomic::Ordering::Acquire)
    }
}

fn run(weak: Weak<Inner>) {
    let interval = Duration::from_millis(SAMPLE_INTERVAL_MS);
    let mut next = Instant::now() + interval;
    loop {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        next += interval;
        let Some(inner) = weak.upgrade() else {
            return;
        };
        tick(&inner);
    }
}

fn tick(inner: &Inner) {
    let now = Instant::now();
    let at_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let models = inner.service.loaded_models();
    let readings: Vec<(String, Counters)> = models
        .iter()
        .map(|model| (model.config.name.clone(), counters(model)))
        .collect();
    let mut series = inner.series.lock().unwrap_or_else(|e| e.into_inner());
    series.retain(|name, _| readings.iter().any(|(n, _)| n == name));
    for (name, reading) in readings {
        match series.get_mut(&name) {
            Some(entry) => {
                let elapsed_ms = now.duration_since(entry.last_at).as_millis() as u64;
                let sample = Sample::between(&entry.last, &reading, elapsed_ms, at_unix_s);
                entry.samples.push(sample);
                entry.last = reading;
                entry.last_at = now;
            }
            None => {
                // A model seen for the first time (just loaded, or at start-up) counts from
                // zero: its counters began when it loaded, less than a tick ago (the sampler
                // starts before the server serves).
                let mut samples = Ring::new(SERIES_SECONDS_MAX);
                let interval_ms = SAMPLE_INTERVAL_MS;
                samples.push(Sample::between(
                    &Counters::default(),
                    &reading,
                    interval_ms,
                    at_unix_s,
                ));
                series.insert(
                    name,
                    ModelSeries {
                        last: reading,
                        last_at: now,
                        samples,
                    },
                );
            }
        }
    }
    drop(series);
    inner
        .ticks
        .fetch_add(1, std::sync::atomic::Ordering::Release);
}
