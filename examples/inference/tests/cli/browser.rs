//! The dashboard in a real browser: Debian's Chromium driven by `playwright-core` from npm
//! (`tests/browser.mjs`; nothing downloads a browser), against `inference serve` on 127.0.0.1
//! with the committed risk model. `bash .ci/setup` installs both. The screenshots (390 px and
//! 1,440 px) go to a temporary directory, removed after; the script fails on horizontal
//! overflow.

use crate::support::{Registry, Server, manifest_dir};
use std::path::Path;
use std::process::Command;

#[test]
fn the_dashboard_updates_live_and_its_controls_retune_in_chromium() {
    let root = manifest_dir().join("../..");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists() && root.join("node_modules/playwright-core").is_dir(),
        "the browser test needs Debian's chromium and playwright-core: run `bash .ci/setup`"
    );
    let registry = Registry::new("browser").with_risk(|config| config);
    let server = Server::start(&registry);
    let base = format!("http://{}", server.addr);
    let shots = std::env::temp_dir().join(format!("inference-browser-{}", std::process::id()));
    std::fs::create_dir_all(&shots).expect("screenshot directory");
    let output = Command::new("node")
        .arg(manifest_dir().join("tests/browser.mjs"))
        .arg(&base)
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    drop(server);
    let taken = std::fs::read_dir(&shots).map(|d| d.count()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&shots);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser steps failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("browser: all steps passed"), "{stdout}");
    assert_eq!(taken, 6, "three pages at two widths");
}
