//! One raw HTTP/1.1 client: the request is bytes the test chose (so malformed and
//! partial requests are possible), [`request`] builds `Connection: close` exchanges,
//! and the answer is read to the end and split into status, head and body.
//!
//! [`request`] builds the bytes, [`parse_reply`] reads an answer; [`send`] / [`call`]
//! carry them over a blocking std socket (for tests without a runtime, e.g. against a
//! `policygate serve` process) and [`send_async`] / [`call_async`] / [`read_reply`]
//! over tokio (for tests whose server runs on the test's own runtime).
//! [`read_one_reply`] reads one answer on a kept-alive connection and
//! [`closed_within`] waits for the server to close one (connection timeouts).

use serde_json::Value;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one exchange may take before it is an error.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// `content-type: application/json`.
pub const JSON: (&str, &str) = ("content-type", "application/json");

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The status line and headers, as received.
    pub head: String,
    /// The body, as received.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics (with the body) if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    /// The body as a value whatever it is: `null` when empty, the JSON document when
    /// it is one, else a string.
    pub fn value(&self) -> Value {
        if self.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(self.text()))
        }
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// The bytes of `method path` with `headers`, `host`, `connection: close` and a
/// `content-length` of `body`.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// A complete answer (everything the server sent before closing).
pub fn parse_reply(raw: &[u8]) -> io::Result<Reply> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no end of head"))?;
    let head = std::str::from_utf8(raw.get(..split).unwrap_or_default())
        .map_err(|_| invalid("head is not UTF-8"))?
        .to_owned();
    let body = raw.get(split + 4..).unwrap_or_default().to_vec();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| head.starts_with("HTTP/1."))
        .ok_or_else(|| invalid("no HTTP/1.x status line"))?;
    Ok(Reply { status, head, body })
}

/// Sends `raw` on a new connection and reads the answer to its end (blocking).
pub fn send(addr: SocketAddr, raw: &[u8]) -> io::Result<Reply> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.write_all(raw)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    parse_reply(&answer)
}

/// One exchange (blocking): [`request`] then [`send`].
pub fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> io::Result<Reply> {
    send(addr, &request(method, path, headers, body.as_bytes()))
}

/// Reads the answer on `stream` to its end (within [`TIMEOUT`]).
pub async fn read_reply(stream: &mut tokio::net::TcpStream) -> io::Result<Reply> {
    let mut answer = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut answer))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer"))??;
    parse_reply(&answer)
}

/// Sends `raw` on a new connection and reads the answer (async).
pub async fn send_async(addr: SocketAddr, raw: &[u8]) -> io::Result<Reply> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(raw).await?;
    read_reply(&mut stream).await
}

/// One exchange (async): [`request`] then [`send_async`].
pub async fn call_async(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> io::Result<Reply> {
    send_async(addr, &request(method, path, headers, body.as_bytes())).await
}

/// The length of the first complete answer in `buf` (its head and `content-length`
/// bytes of body), once all of it is there.
fn first_reply_len(buf: &[u8]) -> Option<usize> {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(buf.get(..split)?).ok()?;
    let body: usize = head
        .lines()
        .skip(1)
        .find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let total = split + 4 + body;
    (buf.len() >= total).then_some(total)
}

/// Reads one answer on a kept-alive `stream` (within [`TIMEOUT`]) and leaves the
/// connection open for the next request.
pub async fn read_one_reply(stream: &mut tokio::net::TcpStream) -> io::Result<Reply> {
    let mut answer = Vec::new();
    let read = async {
        loop {
            if let Some(len) = first_reply_len(&answer) {
                answer.truncate(len);
                return Ok(());
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(invalid("connection closed before a complete answer"));
            }
            answer.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    };
    tokio::time::timeout(TIMEOUT, read)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer"))??;
    parse_reply(&answer)
}

/// [`read_one_reply`] on a blocking std socket.
pub fn read_one_reply_blocking(stream: &mut TcpStream) -> io::Result<Reply> {
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut answer = Vec::new();
    while first_reply_len(&answer).is_none() {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(invalid("connection closed before a complete answer"));
        }
        answer.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    answer.truncate(first_reply_len(&answer).unwrap_or(answer.len()));
    parse_reply(&answer)
}

/// Waits until the server closes `stream` (a read returns 0 or the connection is
/// reset), at most `bound`; returns what it sent before closing. An error of kind
/// `TimedOut` means it was still open after `bound`.
pub async fn closed_within(
    stream: &mut tokio::net::TcpStream,
    bound: Duration,
) -> io::Result<Vec<u8>> {
    let mut seen = Vec::new();
    let read = async {
        loop {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) => return Ok(()),
                Ok(n) => seen.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    };
    tokio::time::timeout(bound, read)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "still open"))??;
    Ok(seen)
}

/// [`closed_within`] on a blocking std socket.
pub fn closed_within_blocking(stream: &mut TcpStream, bound: Duration) -> io::Result<Vec<u8>> {
    stream.set_read_timeout(Some(bound))?;
    let mut seen = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(seen),
            Ok(n) => seen.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(seen),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "still open"));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies() {
        let raw = request("POST", "/e", &[JSON], b"{}");
        assert_eq!(
            raw,
            b"POST /e HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}"
        );
        let reply =
            parse_reply(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope").unwrap();
        assert_eq!(reply.status, 404);
        assert_eq!(reply.header("content-type"), Some("text/plain"));
        assert_eq!(reply.value(), Value::String("nope".into()));
        assert!(parse_reply(b"SSH-2.0\r\n\r\n").is_err());
        assert!(parse_reply(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
