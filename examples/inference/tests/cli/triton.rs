//! The stock `tritonclient[http]` against the server: `tests/triton_client.py` runs its
//! JSON and binary modes (defaults included) on the risk model, and on MiniLM when
//! fetched. Skipped, with the reason printed, when `python3 -c "import tritonclient.http"`
//! fails (CI installs it in a virtual environment first).

use crate::support::{Registry, Server, manifest_dir, minilm_fetched};
use std::process::Command;

#[test]
fn tritonclient_json_and_binary() {
    let probe = Command::new("python3")
        .args(["-c", "import tritonclient.http, numpy"])
        .output();
    match probe {
        Ok(output) if output.status.success() => {}
        _ => {
            eprintln!(
                "tritonclient_json_and_binary: skipped, python3 cannot import tritonclient.http (pip install 'tritonclient[http]')"
            );
            return;
        }
    }
    let mut registry = Registry::new("triton").with_risk(|c| c);
    let text = minilm_fetched("tritonclient_json_and_binary (text part)");
    if text {
        registry = registry.with_text_model("minilm");
    }
    let server = Server::start(&registry);
    let output = Command::new("python3")
        .arg(manifest_dir().join("tests/triton_client.py"))
        .arg(&server.addr)
        .arg(manifest_dir().join("tests/fixtures"))
        .arg(if text { "with-text" } else { "tabular-only" })
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("all tritonclient checks passed"),
        "{stdout}"
    );
}
