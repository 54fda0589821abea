//! The batch functions the benchmark drives: a no-op (the batcher's own cost), a fake model
//! whose cost is fixed + per item (a spin, so it is CPU time like a real model), and a small
//! real CPU-bound model (a two-layer int8-quantised MLP whose weights are dequantised once per
//! call: the fixed setup that batching amortises). None of them allocate per item beyond their
//! result vector and, for the MLP, its activations.

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub type Output = Vec<Result<u64, Infallible>>;
pub type BatchFn = fn(Vec<u32>) -> Output;

/// Fake model: fixed cost per call.
pub const FAKE_FIXED_US: u64 = 1000;
/// Fake model: cost per item.
pub const FAKE_PER_ITEM_US: u64 = 20;
/// MLP width (inputs = hidden = outputs).
const MLP_WIDTH: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Noop,
    Fake,
    Mlp,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Noop => "no-op",
            Workload::Fake => "fake 1 ms + 20 µs/item",
            Workload::Mlp => "MLP 256x256x2 int8",
        }
    }

    /// The command-line name.
    pub fn key(self) -> &'static str {
        match self {
            Workload::Noop => "noop",
            Workload::Fake => "fake",
            Workload::Mlp => "mlp",
        }
    }

    pub fn batch_fn(self) -> BatchFn {
        match self {
            Workload::Noop => noop,
            Workload::Fake => fake,
            Workload::Mlp => mlp,
        }
    }
}

fn noop(items: Vec<u32>) -> Output {
    items.into_iter().map(|item| Ok(u64::from(item))).collect()
}

fn spin(duration: Duration) {
    let started = Instant::now();
    while started.elapsed() < duration {
        std::hint::spin_loop();
    }
}

fn fake(items: Vec<u32>) -> Output {
    spin(Duration::from_micros(
        FAKE_FIXED_US + FAKE_PER_ITEM_US * items.len() as u64,
    ));
    noop(items)
}

struct Weights {
    layer1: Vec<i8>,
    layer2: Vec<i8>,
}

fn weights() -> &'static Weights {
    static WEIGHTS: OnceLock<Weights> = OnceLock::new();
    WEIGHTS.get_or_init(|| {
        let mut state = 0x2545_f491_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as i8
        };
        let mut layer = || (0..MLP_WIDTH * MLP_WIDTH).map(|_| next()).collect();
        Weights {
            layer1: layer(),
            layer2: layer(),
        }
    })
}

fn dequantize(weights: &[i8]) -> Vec<f32> {
    weights
        .iter()
        .map(|&w| f32::from(w) * (1.0 / 128.0))
        .collect()
}

/// Dot product with eight independent accumulators, so the compiler vectorises it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for lane in 0..8 {
            lanes[lane] += a[lane] * b[lane];
        }
    }
    lanes.iter().sum()
}

/// `output[i] = weights · input[i]` for every item `i`; each weight row is reused across the
/// whole batch while it is in L1.
fn layer(weights: &[f32], input: &[f32], output: &mut [f32], relu: bool) {
    let items = input.len() / MLP_WIDTH;
    for (row_index, row) in weights.chunks_exact(MLP_WIDTH).enumerate() {
        for item in 0..items {
            let x = &input[item * MLP_WIDTH..(item + 1) * MLP_WIDTH];
            let value = dot(row, x);
            output[item * MLP_WIDTH + row_index] = if relu { value.max(0.0) } else { value };
        }
    }
}

fn mlp(items: Vec<u32>) -> Output {
    let weights = weights();
    // The fixed setup of every call: dequantise both layers.
    let layer1 = dequantize(&weights.layer1);
    let layer2 = dequantize(&weights.layer2);
    let mut input = Vec::with_capacity(items.len() * MLP_WIDTH);
    for &item in &items {
        input.extend((0..MLP_WIDTH).map(|i| ((item as usize + i) % 17) as f32 * 0.1));
    }
    let mut hidden = vec![0.0f32; input.len()];
    let mut output = vec![0.0f32; input.len()];
    layer(&layer1, &input, &mut hidden, true);
    layer(&layer2, &hidden, &mut output, false);
    output
        .chunks_exact(MLP_WIDTH)
        .map(|row| Ok(u64::from(black_box(row.iter().sum::<f32>()).to_bits())))
        .collect()
}

/// Median time of one call of `batch_fn` with `size` items, in microseconds.
pub fn calibrate(batch_fn: BatchFn, size: usize) -> f64 {
    let mut times: Vec<f64> = (0..21)
        .map(|round| {
            let items = (0..size as u32).map(|i| i + round).collect();
            let started = Instant::now();
            black_box(batch_fn(items));
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
