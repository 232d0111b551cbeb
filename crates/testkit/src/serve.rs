//! The real `policygate serve` as a child process on an ephemeral port.
//!
//! [`Serve::start`] runs the binary with `--listen 127.0.0.1:0 --log-format json`,
//! reads its stderr until the "listening" log line names the bound address, and
//! checks that `GET /health` answers 200 there. No port is picked in advance (so no
//! other process can take it in between) and nothing sleeps: the address exists only
//! once the socket is bound, and a connection made after that is served as soon as
//! the accept loop runs. The child's environment has no `POLICYGATE_*` variable but
//! those the test sets, so a developer's shell cannot change what a test runs.
//!
//! The binary's path is an argument because only the package that builds it knows
//! it: the CLI's tests pass `env!("CARGO_BIN_EXE_policygate")`.

use crate::http;
use serde_json::Value;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long start-up and shutdown may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A `policygate serve` to start.
#[derive(Debug)]
pub struct Serve {
    command: Command,
    policy: Option<OsString>,
    tls: Option<Arc<rustls::ClientConfig>>,
    stdout_unread: bool,
}

impl Serve {
    /// `policygate serve` from the binary at `bin`, with the fixture `policy.yaml`
    /// unless [`Serve::policy`] names another; the audit stream goes to stdout unless
    /// `--audit-file` is among the [`Serve::args`].
    pub fn new(bin: impl AsRef<OsStr>) -> Serve {
        Serve::with_command(Command::new(bin))
    }

    /// The same, run through a wrapper that execs its last argument with the rest
    /// (e.g. `["prlimit", "--fsize=4096", "--"]`), so that the process started is
    /// still the server.
    pub fn under(wrapper: &[&str], bin: impl AsRef<OsStr>) -> Serve {
        let mut command = Command::new(wrapper[0]);
        command.args(&wrapper[1..]).arg(bin);
        Serve::with_command(command)
    }

    fn with_command(mut command: Command) -> Serve {
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("POLICYGATE_") {
                command.env_remove(key);
            }
        }
        Serve {
            command,
            policy: None,
            tls: None,
            stdout_unread: false,
        }
    }

    /// The policy file to serve.
    pub fn policy(mut self, path: impl AsRef<Path>) -> Serve {
        self.policy = Some(path.as_ref().as_os_str().to_owned());
        self
    }

    /// More flags.
    pub fn args<I, S>(mut self, args: I) -> Serve
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// The server speaks TLS (the test passes `--tls-*` in [`Serve::args`]): the
    /// readiness check's `GET /health` goes over TLS with `client` (which must trust
    /// the server's CA and, with mTLS, present a certificate).
    pub fn tls(mut self, client: Arc<rustls::ClientConfig>) -> Serve {
        self.tls = Some(client);
        self
    }

    /// Keeps the child's stdout a pipe that is never read (held open until the
    /// process is waited for): once the pipe's buffer is full, an audit stream on
    /// stdout blocks in `write(2)`, the blocked sink of the fault tests.
    pub fn stdout_unread(mut self) -> Serve {
        self.stdout_unread = true;
        self
    }

    /// An environment variable of the child.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Serve {
        self.command.env(key, value);
        self
    }

    /// Starts the server and returns once it is ready (see the module documentation);
    /// panics with its stderr if it exits first or does not get ready in [`DEADLINE`].
    pub fn start(mut self) -> Running {
        let policy = self
            .policy
            .take()
            .unwrap_or_else(|| crate::fixture("policy.yaml").into_os_string());
        let mut child = self.command.arg("--policy").arg(policy).spawn().unwrap();

        let (tx, stderr) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut pipe = child.stdout.take().unwrap();
        let (stdout, held_stdout) = if self.stdout_unread {
            (None, Some(pipe))
        } else {
            let reader = std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                bytes
            });
            (Some(reader), None)
        };

        let mut running = Running {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
            stderr_seen: Vec::new(),
            stdout,
            held_stdout,
            https: false,
        };
        running.addr = running.await_listening();
        let health = match &self.tls {
            None => http::call(running.addr, "GET", "/health", &[], ""),
            Some(client) => crate::tls::call(running.addr, client, "GET", "/health", &[], ""),
        }
        .unwrap_or_else(|e| panic!("no answer from /health: {e}"));
        running.https = self.tls.is_some();
        assert_eq!(health.status, 200, "/health: {}", health.text());
        running
    }
}

/// A running `policygate serve`; killed on drop.
#[derive(Debug)]
pub struct Running {
    child: Child,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
    stdout: Option<JoinHandle<Vec<u8>>>,
    https: bool,
    /// With [`Serve::stdout_unread`]: the pipe, open and never read.
    held_stdout: Option<ChildStdout>,
}

/// What a stopped server left.
#[derive(Debug)]
pub struct Exited {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it wrote to stdout (the audit stream, unless it went to a file;
    /// empty with [`Serve::stdout_unread`]).
    pub stdout: String,
    /// Every line it wrote to stderr (operational logs).
    pub stderr: Vec<String>,
}

impl Running {
    /// Reads stderr up to the "listening" line and returns the address it names.
    fn await_listening(&mut self) -> SocketAddr {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(remaining) {
                Ok(line) => {
                    let addr = serde_json::from_str::<Value>(&line)
                        .ok()
                        .and_then(|v| v.get("addr").and_then(Value::as_str).map(str::to_owned));
                    self.stderr_seen.push(line);
                    if let Some(addr) = addr {
                        return addr.parse().unwrap();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().unwrap();
                    panic!(
                        "policygate serve exited ({status}) before listening; stderr: {:#?}",
                        self.stderr_seen
                    );
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "policygate serve did not listen within {DEADLINE:?}; stderr so far: {:#?}",
                    self.stderr_seen
                ),
            }
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://ADDR`, or `https://ADDR` when started with [`Serve::tls`] (the test
    /// server certificate names `127.0.0.1`).
    pub fn url(&self) -> String {
        if self.https {
            format!("https://{}", self.addr)
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// Sends signal `name` (`TERM`, `INT`, …) with `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Kills the process (no shutdown) and reaps it: the PDP is simply gone.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for the process to exit (after a signal), within [`DEADLINE`]: its
    /// stderr closes when it exits, then its status is collected.
    pub fn wait(mut self) -> Exited {
        let deadline = Instant::now() + DEADLINE;
        let mut stderr = std::mem::take(&mut self.stderr_seen);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(remaining) {
                Ok(line) => stderr.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("policygate serve did not stop within {DEADLINE:?}; stderr: {stderr:#?}")
                }
            }
        }
        let status = self.child.wait().unwrap();
        drop(self.held_stdout.take());
        let stdout = self
            .stdout
            .take()
            .map(|reader| reader.join().unwrap())
            .unwrap_or_default();
        Exited {
            status,
            stdout: String::from_utf8(stdout).unwrap(),
            stderr,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
