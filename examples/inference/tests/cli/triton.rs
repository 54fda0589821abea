//! The stock `tritonclient[http]` against the server: `tests/triton_client.py` runs its
//! JSON and binary modes (defaults included) on the risk model, and on MiniLM when
//! fetched. The Python is `$KILN_PYTHON`, else the venv `bash .ci/setup` makes
//! (`~/.cache/kiln-venv`), else `python3`; skipped, with the reason printed, when it cannot
//! import `tritonclient.http`.

use crate::support::{Registry, Server, manifest_dir, minilm_fetched, skip_or_fail};
use std::process::Command;

/// The Python with `tritonclient[http]` (see the module doc).
fn python() -> String {
    if let Ok(python) = std::env::var("KILN_PYTHON") {
        return python;
    }
    let venv = std::env::var("KILN_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/kiln-venv")
        });
    let candidate = venv.join("bin/python3");
    if candidate.exists() {
        return candidate.display().to_string();
    }
    "python3".to_owned()
}

#[test]
fn tritonclient_json_and_binary() {
    let python = python();
    let probe = Command::new(&python)
        .args(["-c", "import tritonclient.http, numpy"])
        .output();
    match probe {
        Ok(output) if output.status.success() => {}
        _ => {
            skip_or_fail(&format!(
                "tritonclient_json_and_binary: {python} cannot import tritonclient.http (run `bash .ci/setup`)"
            ));
            return;
        }
    }
    let mut registry = Registry::new("triton").with_risk(|c| c);
    let text = minilm_fetched("tritonclient_json_and_binary (text part)");
    if text {
        registry = registry.with_text_model("minilm");
    }
    let server = Server::start(&registry);
    let output = Command::new(&python)
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
