//! `inference bench` on a registry holding only the risk model: one table row per batch
//! size, with numbers in them.

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
    let batches: Vec<&str> = rows.iter().map(|row| row[2]).collect();
    assert_eq!(batches, vec!["1", "8", "32"], "{stdout}");
    for row in rows {
        assert!(
            row[3].parse::<u64>().is_ok() && row[4].parse::<f64>().is_ok(),
            "{stdout}"
        );
    }
}
