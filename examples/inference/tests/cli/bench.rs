//! `inference bench` on a registry holding only the risk model: one table row per batch
//! size, on the configured engine, with numbers in them; an engine this build lacks is a
//! clear error (both engines: `onnxruntime.rs`, with the `ort` feature).

use crate::support::Registry;
use std::process::Command;

#[test]
fn bench_prints_a_row_per_batch_size() {
    let registry = Registry::new("bench").with_risk(|c| c);
    let output = Command::new(env!("CARGO_BIN_EXE_inference"))
        .args(["bench", "--iterations", "3", "--models"])
        .arg(registry.path())
        .output()
        .expect("the inference binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|line| line.starts_with("| risk |"))
        .map(|line| line.split('|').map(str::trim).collect())
        .collect();
    let batches: Vec<(&str, &str)> = rows.iter().map(|row| (row[2], row[3])).collect();
    assert_eq!(
        batches,
        vec![("tract", "1"), ("tract", "8"), ("tract", "32")],
        "{stdout}"
    );
    for row in rows {
        assert!(
            row[4].parse::<u64>().is_ok() && row[5].parse::<f64>().is_ok(),
            "{stdout}"
        );
    }
}

#[cfg(not(feature = "ort"))]
#[test]
fn bench_on_onnxruntime_without_the_feature_says_how_to_get_it() {
    let registry = Registry::new("bench-no-ort").with_risk(|c| c);
    let output = Command::new(env!("CARGO_BIN_EXE_inference"))
        .args([
            "bench",
            "--iterations",
            "1",
            "--engine",
            "onnxruntime",
            "--models",
        ])
        .arg(registry.path())
        .output()
        .expect("the inference binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rebuild with --features ort"), "{stderr}");
}
