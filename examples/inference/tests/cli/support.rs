//! What the tests share: a registry directory built for one test (`Registry`), the
//! `inference serve` process on it (`Server`, killed on drop), a plain HTTP/1.1 client over
//! `std::net::TcpStream` (one request per connection, bounded by socket timeouts), and the
//! committed fixtures.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a server may take to load its models and log its address (MiniLM's first plan
/// takes seconds in a debug build).
const START_WAIT: Duration = Duration::from_secs(120);
/// Socket read/write timeout of the test client.
const IO_WAIT: Duration = Duration::from_secs(60);

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn committed_models() -> PathBuf {
    manifest_dir().join("models")
}

/// A registry directory in the temporary directory, removed on drop.
pub struct Registry(pub PathBuf);

impl Registry {
    pub fn new(name: &str) -> Registry {
        let dir = std::env::temp_dir().join(format!("inference-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp registry");
        Registry(dir)
    }

    /// Adds the committed risk model, its config edited by `edit` (JSON text in, out).
    pub fn with_risk(self, edit: impl Fn(String) -> String) -> Registry {
        self.with_risk_named("risk", edit)
    }

    pub fn with_risk_named(self, name: &str, edit: impl Fn(String) -> String) -> Registry {
        let source = committed_models().join("risk");
        let config = std::fs::read_to_string(source.join("config.json")).expect("risk config");
        let config = edit(config.replace("\"name\": \"risk\"", &format!("\"name\": \"{name}\"")));
        std::fs::create_dir_all(self.0.join(name).join("1")).expect("risk dir");
        std::fs::write(self.0.join(name).join("config.json"), config).expect("config");
        std::os::unix::fs::symlink(
            source.join("1/model.onnx"),
            self.0.join(name).join("1/model.onnx"),
        )
        .expect("model link");
        self
    }

    /// Adds a text model from the committed registry (config, and its fetched files linked
    /// when present).
    pub fn with_text_model(self, name: &str) -> Registry {
        let source = committed_models().join(name);
        let dest = self.0.join(name);
        std::fs::create_dir_all(dest.join("1")).expect("text model dir");
        std::fs::copy(source.join("config.json"), dest.join("config.json")).expect("config");
        for file in ["1/model.onnx", "tokenizer.json"] {
            if source.join(file).exists() {
                std::os::unix::fs::symlink(source.join(file), dest.join(file)).expect("link");
            }
        }
        self
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether the fetched MiniLM files are there; prints why a test skips when not. Under CI
/// (`CI` set: `.ci/run`, after `.ci/setup` fetched them) a missing file fails the test
/// instead, so nothing is skipped there unnoticed.
pub fn minilm_fetched(test: &str) -> bool {
    let dir = committed_models().join("minilm");
    let present = dir.join("1/model.onnx").exists() && dir.join("tokenizer.json").exists();
    if !present {
        skip_or_fail(&format!(
            "{test}: MiniLM is not fetched (run `bash .ci/setup`, or `cargo run -p inference -- fetch-models`)"
        ));
    }
    present
}

/// Prints why a test skips; under CI (`CI` set) fails it instead.
pub fn skip_or_fail(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{why} (CI runs .ci/setup first, so this must not happen there)"
    );
    eprintln!("skipped: {why}");
}

/// A running `inference serve`, killed (by its pid) on drop.
pub struct Server {
    child: Child,
    pub addr: String,
    /// Log lines up to the address line.
    pub log: Vec<String>,
}

impl Server {
    pub fn start(registry: &Registry) -> Server {
        Server::start_with(registry, &[])
    }

    /// `start` with more `serve` arguments. The store is `store.sqlite` in the registry
    /// directory (it survives a restart on the same registry).
    pub fn start_with(registry: &Registry, extra: &[&str]) -> Server {
        Server::start_without_env(registry, extra, &[])
    }

    /// `start_with`, the server's environment lacking the variables `removed`.
    pub fn start_without_env(registry: &Registry, extra: &[&str], removed: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_inference"));
        for name in removed {
            command.env_remove(name);
        }
        let mut child = command
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--workers",
                "2",
                "--models",
            ])
            .arg(registry.path())
            .arg("--db")
            .arg(registry.path().join("store.sqlite"))
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the inference binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut log = Vec::new();
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(rest) = line.split("serving on http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = sender.send((addr, std::mem::take(&mut log)));
                    sent = true;
                } else if !sent {
                    log.push(line);
                }
            }
        });
        let (addr, log) = receiver
            .recv_timeout(START_WAIT)
            .expect("the server logs its address");
        Server { child, addr, log }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    pub fn post_json(&self, path: &str, body: &str) -> Reply {
        self.request(
            "POST",
            path,
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut stream = TcpStream::connect(&self.addr).expect("connects");
        stream.set_read_timeout(Some(IO_WAIT)).expect("timeout");
        stream.set_write_timeout(Some(IO_WAIT)).expect("timeout");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("sends the head");
        // A server may answer (413) before reading a large body; a failed write is fine then.
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        Reply::parse(&raw)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    fn parse(raw: &[u8]) -> Reply {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..end]);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let mut body = raw[end + 4..].to_vec();
        if headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
        {
            body = dechunk(&body);
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> sonic_rs::Value {
        sonic_rs::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `{"error": "..."}` message, checking the shape.
    pub fn error(&self) -> String {
        use sonic_rs::JsonValueTrait;
        let json = self.json();
        json.get("error")
            .and_then(|e| e.as_str())
            .unwrap_or_else(|| panic!("not an error object: {}", self.text()))
            .to_owned()
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..body.len() + 1 {
        let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let size = usize::from_str_radix(
            std::str::from_utf8(&body[..line_end]).unwrap_or("0").trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
    out
}

/// The risk fixture: features (rows x 8) and onnxruntime's probabilities (rows x 2).
pub struct RiskFixture {
    pub rows: usize,
    pub features: Vec<f64>,
    pub probabilities: Vec<f64>,
}

pub fn risk_fixture() -> RiskFixture {
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};
    let text = std::fs::read(manifest_dir().join("tests/fixtures/risk_reference.json")).unwrap();
    let value: sonic_rs::Value = sonic_rs::from_slice(&text).unwrap();
    let floats = |key: &str| -> Vec<f64> {
        value[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    RiskFixture {
        rows: value["rows"].as_u64().unwrap() as usize,
        features: floats("features"),
        probabilities: floats("probabilities"),
    }
}

/// The numbers of a JSON array.
pub fn numbers(value: &sonic_rs::Value) -> Vec<f64> {
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

/// A JSON list of numbers.
pub fn list(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{v}")).collect();
    format!("[{}]", parts.join(","))
}
