//! The web app in a real browser: Debian's Chromium driven by `playwright-core` from npm
//! (`browser.mjs`; nothing downloads a browser), against the app served on 127.0.0.1 on a fresh
//! database. `bash .ci/setup` installs both. The screenshots (390 px and 1,440 px) are written
//! to a temporary directory and removed; the script fails on horizontal overflow.

use super::TempDb;
use ledger::service::{Ledger, WriterConfig};
use ledger::web::Cookies;
use std::path::Path;
use std::process::Command;

const SECRET: &[u8] = b"a browser test secret of at least 32 bytes";

#[test]
fn a_bookkeeper_uses_the_app_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists() && root.join("node_modules/playwright-core").is_dir(),
        "the browser test needs Debian's chromium and playwright-core: run `bash .ci/setup`"
    );
    let db = TempDb::new("browser");
    let ledger = Ledger::open(&db.0, &WriterConfig::default()).expect("ledger");
    let app = ledger::web::app(ledger.clone(), SECRET, Cookies::Secure).expect("app");
    let server = kiln::Server::bind("127.0.0.1:0")
        .workers(1)
        .start(app)
        .expect("server");
    let base = format!("http://{}", server.local_addr());
    let shots = std::env::temp_dir().join(format!("ledger-browser-{}", std::process::id()));
    std::fs::create_dir_all(&shots).expect("screenshot directory");
    let output = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser.mjs"))
        .arg(&base)
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    server.stop();
    ledger.writer().shutdown();
    let taken = std::fs::read_dir(&shots).map(|d| d.count()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&shots);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser steps failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("browser: all steps passed"), "{stdout}");
    assert_eq!(taken, 10, "five pages at two widths");
}
