//! An in-memory audit sink (any `Write` consumer, e.g. the server's `AuditSink::open`)
//! that can be told to fail, and the parser of audit streams.

use serde_json::Value;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// An audit sink that keeps every byte, and can be told to fail. Clones share the
/// same buffer and switch.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    data: Arc<Mutex<Vec<u8>>>,
    /// When set, every write fails as a full disk would.
    pub fail: Arc<AtomicBool>,
}

impl Write for MemorySink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(io::Error::other("no space left on device"));
        }
        self.data.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl MemorySink {
    /// Every byte written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.data.lock().unwrap().clone()
    }

    /// Every audit line, parsed (and checked to be one JSON object per line).
    pub fn events(&self) -> Vec<Value> {
        parse_lines(&self.data.lock().unwrap())
    }
}

/// The events of an audit stream: one JSON document per line, the last line complete.
pub fn parse_lines(bytes: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "torn last line: {text:?}"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad audit line {l:?}: {e}")))
        .collect()
}

/// The decision events of an audit stream written by a `policygate serve` process:
/// checks that the stream starts with the opening event, then returns the lines after
/// it (see [`parse_lines`]).
pub fn decision_events(bytes: &[u8]) -> Vec<Value> {
    let mut lines = parse_lines(bytes);
    assert!(
        lines
            .first()
            .is_some_and(|l| l["event_type"] == "policygate.audit.opened"),
        "the stream starts with its opening event: {lines:?}"
    );
    lines.remove(0);
    lines
}
