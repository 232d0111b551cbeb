//! The ext_authz listener's connections, presented to HTTP/2 as streams without
//! vectored writes, so that the answers to many Checks leave in one `write(2)`.
//!
//! h2 (under tonic) keeps a DATA frame whose payload is at least its "chain threshold"
//! in a buffer of its own and must write it out before it can queue the next frame;
//! smaller payloads are copied into its write buffer, where any number of frames
//! coalesce. The threshold is 256 bytes on a connection that supports vectored writes
//! (a `TcpStream` does) and 1,024 bytes on one that does not. An allowed Check's
//! answer (the `x-policygate-*` headers and the whole decision in `dynamic_metadata`)
//! is a few hundred bytes, above the first and below the second: on a plain
//! `TcpStream` every answer cost a `write(2)` of its own (1.65 per Check at 64
//! streams, against 0.7 for an empty answer), on this wrapper answers under 1 KiB are
//! copied and written together. Copying a few hundred bytes costs far less than a
//! system call. (A larger answer, e.g. a denial with a long body, now leaves in two
//! writes, its frame's head and its payload, where it took one `writev`.)
//! Reads, flushes and shutdown pass straight through.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// An accepted ext_authz connection (see the module's documentation).
#[derive(Debug)]
pub(super) struct Coalescing(pub(super) TcpStream);

impl AsyncRead for Coalescing {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Coalescing {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    // `is_write_vectored` keeps its default, `false`: that is the point of the type.
}

impl Connected for Coalescing {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.0.connect_info()
    }
}
