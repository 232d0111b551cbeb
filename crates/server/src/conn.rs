//! The connection layer: the service's own accept loop over hyper's HTTP/1
//! connections, for TCP and Unix listeners alike, so that a client cannot starve the
//! service of connections and every answer the HTTP library makes carries the stable
//! error body.
//!
//! - **Accept** ([`Listener`]): one accepted stream at a time, `TCP_NODELAY` set on
//!   TCP. Errors that concern one connection (reset, aborted) are skipped; any other
//!   (`EMFILE`, `ENFILE`, `ENOBUFS`) is counted, logged at most once a second with the
//!   number suppressed, and the loop backs off (10 ms doubling to 1 s) instead of
//!   spinning. The loop never ends the server; only the shutdown signal does.
//! - **Limit**: at most [`ConnConfig::max_connections`] connections are served at once
//!   (a semaphore permit per connection). Past it, a new connection is accepted and
//!   closed at once (counted, logged rate-limited), so the kernel's backlog does not
//!   fill with clients that wait for nothing, while open connections keep being served.
//! - **Handshake** ([`Handshake`]): each connection task first turns the accepted
//!   stream into the stream HTTP is spoken on, and learns the client's [`Peer`]
//!   identity. Plain connections do nothing ([`Plain`]); TLS plugs in here. It is
//!   bounded by the header read timeout.
//! - **Timeouts** ([`Watch`]): a connection must deliver a complete request head
//!   within `header_read_timeout`, counted from the accept for the first request and
//!   from the first byte of each later one; a kept-alive connection with no request in
//!   flight is closed after `idle_timeout`. hyper's own `header_read_timeout` is off:
//!   its timer starts when hyper begins to wait for a head, which on a kept-alive
//!   connection is the end of the previous response, so it would close idle
//!   connections after the header timeout and could not have an idle timeout longer
//!   than the header timeout (behind a load balancer it must be longer than the
//!   balancer's). A request being handled has no timeout here (the handlers bound it
//!   with the request timeout). The idle time starts when the answer is handed to
//!   hyper, so a client that stops reading its answers is closed after it too.
//! - **Error bodies**: our limits ([`MAX_URI_BYTES`], [`MAX_HEADER_BYTES`], a `Host`
//!   header on HTTP/1.1) are checked on each parsed head before routing; what hyper
//!   refuses itself (a garbage request line, a bad header or `Content-Length`, a head
//!   over [`HEAD_BUFFER_BYTES`] or [`MAX_HEADERS`] fields) it answers with a bodyless
//!   400/414/431, which [`Guarded`] replaces on the wire with the same status and the
//!   stable error body.
//! - **Shutdown**: hyper-util's graceful shutdown: stop accepting, let each
//!   connection finish its request in flight and close, wait at most the grace period,
//!   then drop what is left.

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use policygate_api::ErrorCode;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Default `--header-read-timeout-ms`.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--idle-timeout-ms`: above the 60 s idle timeout of AWS load balancers
/// (and nginx's `keepalive_timeout` default), so that the balancer, not PolicyGate,
/// closes an idle pooled connection.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// Default `--max-connections`, lowered to the file-descriptor limit minus
/// [`RESERVED_FDS`] when that is lower.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// File descriptors kept free for everything but client connections (audit file,
/// policy reads, watcher, runtime) when the default connection limit is derived.
pub const RESERVED_FDS: u64 = 64;
/// Longest request target (path and query) accepted; longer gets 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest header section accepted (names, values and 4 bytes a field); larger gets
/// 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most header fields in a request (hyper's limit; more gets 431).
pub const MAX_HEADERS: usize = 100;
/// hyper's read buffer: a request head that does not fit gets 431 from hyper.
pub const HEAD_BUFFER_BYTES: usize = 64 * 1024;

/// How connections are accepted and timed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnConfig {
    /// Time to receive a complete request head: from the accept for a connection's
    /// first request, from its first byte for later ones (and the bound of a
    /// handshake). Past it the connection is closed.
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// Connections served at once; past it new ones are closed at once. `None`:
    /// [`DEFAULT_MAX_CONNECTIONS`], or fewer when the file-descriptor limit is lower.
    pub max_connections: Option<usize>,
}

impl Default for ConnConfig {
    fn default() -> ConnConfig {
        ConnConfig {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: None,
        }
    }
}

impl ConnConfig {
    /// The connection limit in force: the configured one, else the default bounded
    /// by the soft `RLIMIT_NOFILE` minus [`RESERVED_FDS`] (at least 1).
    pub fn resolved_max_connections(&self) -> usize {
        if let Some(n) = self.max_connections {
            return n.max(1);
        }
        let soft = nofile_soft_limit().unwrap_or(u64::MAX);
        let available = usize::try_from(soft.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
        DEFAULT_MAX_CONNECTIONS.min(available).max(1)
    }
}

/// The soft file-descriptor limit, when there is one.
fn nofile_soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// What the handshake learnt about the client; handed to every request of the
/// connection as a request extension when it carries an identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Peer {
    /// The client's authenticated identity (e.g. from a TLS client certificate).
    pub(crate) identity: Option<Arc<str>>,
}

/// A bound socket the loop accepts connections from.
pub(crate) trait Listener: Send + 'static {
    /// An accepted connection.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection (cancel-safe).
    fn accept(&mut self) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

impl Listener for tokio::net::TcpListener {
    type Io = tokio::net::TcpStream;

    async fn accept(&mut self) -> io::Result<tokio::net::TcpStream> {
        let (tcp, _) = tokio::net::TcpListener::accept(self).await?;
        // Small request/response exchanges: do not let Nagle's algorithm delay them.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        Ok(tcp)
    }
}

#[cfg(unix)]
impl Listener for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;

    async fn accept(&mut self) -> io::Result<tokio::net::UnixStream> {
        let (stream, _) = tokio::net::UnixListener::accept(self).await?;
        Ok(stream)
    }
}

/// Turns an accepted stream into the stream HTTP is served on, in the connection's
/// own task and within the header read timeout; the place a TLS handshake goes.
pub(crate) trait Handshake<S>: Clone + Send + Sync + 'static {
    /// The stream HTTP is spoken on.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The stream and what it says about the client; an error closes the connection.
    fn handshake(&self, stream: S) -> impl Future<Output = io::Result<(Self::Io, Peer)>> + Send;
}

/// No handshake: HTTP on the accepted stream, no client identity.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Plain;

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Handshake<S> for Plain {
    type Io = S;

    async fn handshake(&self, stream: S) -> io::Result<(S, Peer)> {
        Ok((stream, Peer::default()))
    }
}

/// What every connection task of one listener shares.
#[derive(Debug)]
struct Shared {
    state: AppState,
    router: Router,
    http: hyper::server::conn::http1::Builder,
    config: ConnConfig,
}

/// Serves `state` on `listener` until `shutdown` completes, then stops accepting and
/// waits for requests in flight, at most `grace`; connections still open after that
/// are dropped. Never fails: accept errors are logged and retried.
pub(crate) async fn serve<L, H>(
    mut listener: L,
    handshake: H,
    state: AppState,
    config: ConnConfig,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) -> io::Result<()>
where
    L: Listener,
    H: Handshake<L::Io>,
{
    let max = config.resolved_max_connections();
    let permits = Arc::new(Semaphore::new(max));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        // Ours (see the module comment): hyper's would also bound keep-alive waits.
        .header_read_timeout(None)
        .max_buf_size(HEAD_BUFFER_BYTES)
        .max_headers(MAX_HEADERS);
    let shared = Arc::new(Shared {
        router: crate::app(state.clone()),
        state,
        http,
        config,
    });
    let graceful = GracefulShutdown::new();
    let mut tasks = JoinSet::new();
    let mut accept_errors = Throttle::default();
    let mut refusals = Throttle::default();
    let mut backoff = MIN_BACKOFF;
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        // Reap finished connection tasks so that the set stays as large as the
        // connections open.
        while tasks.try_join_next().is_some() {}
        let stream = match accepted {
            Ok(stream) => {
                backoff = MIN_BACKOFF;
                stream
            }
            Err(e) if per_connection(&e) => continue,
            Err(e) => {
                shared.state.inner.metrics.accept_error();
                if let Some(suppressed) = accept_errors.allow(Instant::now()) {
                    tracing::error!(
                        error = %e,
                        suppressed,
                        "cannot accept connections: {e}; {}",
                        accept_hint(&e)
                    );
                }
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            shared.state.inner.metrics.connection_refused();
            if let Some(suppressed) = refusals.allow(Instant::now()) {
                tracing::warn!(
                    max_connections = max,
                    suppressed,
                    "refusing new connections: {max} are open (--max-connections); open connections are still served"
                );
            }
            drop(stream);
            continue;
        };
        tasks.spawn(connection(
            stream,
            handshake.clone(),
            Arc::clone(&shared),
            graceful.watcher(),
            permit,
        ));
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_ms = grace.as_millis(),
            "in-flight requests did not finish within the shutdown grace period; closing their connections"
        );
    }
    // Dropping the set aborts the connection tasks still running.
    drop(tasks);
    Ok(())
}

const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Accept errors that concern one connection only: skip it, accept the next.
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// How to fix an accept error.
fn accept_hint(e: &io::Error) -> &'static str {
    #[cfg(unix)]
    match e.raw_os_error() {
        Some(libc::EMFILE) => {
            return "the process is out of file descriptors: raise its limit (`ulimit -n`, systemd `LimitNOFILE=`) or lower --max-connections; retrying";
        }
        Some(libc::ENFILE) => {
            return "the system is out of file descriptors (fs.file-max); retrying";
        }
        _ => {}
    }
    let _ = e;
    "retrying"
}

/// Lets a repeated log line through at most once a second.
#[derive(Debug, Default)]
struct Throttle {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    /// `Some(lines suppressed since the last one)` when a line may be logged now.
    fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < Duration::from_secs(1) => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// One connection, from the handshake to the close.
async fn connection<S, H>(
    stream: S,
    handshake: H,
    shared: Arc<Shared>,
    watcher: Watcher,
    permit: OwnedSemaphorePermit,
) where
    H: Handshake<S>,
{
    let metrics = &shared.state.inner.metrics;
    let _open = metrics.connection_open();
    let config = &shared.config;
    let start = Instant::now();
    let (io, peer) =
        match tokio::time::timeout(config.header_read_timeout, handshake.handshake(stream)).await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "connection handshake failed");
                return;
            }
            Err(_) => {
                metrics.connection_timed_out(Wait::Head);
                tracing::debug!("connection handshake timed out");
                return;
            }
        };
    let watch = Arc::new(Watch::new(start));
    let service = ConnService {
        router: TowerToHyperService::new(shared.router.clone()),
        watch: Arc::clone(&watch),
        peer: peer.identity.is_some().then_some(peer),
        shared: Arc::clone(&shared),
    };
    let io = Guarded {
        io,
        watch: Arc::clone(&watch),
        shared: Arc::clone(&shared),
        replacement: None,
    };
    let conn = shared.http.serve_connection(TokioIo::new(io), service);
    let mut conn = pin!(watcher.watch(conn));
    let mut sleep = pin!(tokio::time::sleep_until(start + config.header_read_timeout));
    // Every change of the watch happens while the connection is polled (reads, and
    // the service future, which hyper polls inside it), so the deadline is recomputed
    // right after each poll. The timer is armed no later than the deadline, and moved
    // only when the deadline comes earlier than it (an idle connection receiving a
    // request head) or when it fires before the deadline (the wait was extended
    // meanwhile): on a busy keep-alive connection each request moves the deadline,
    // which would otherwise re-register the timer (a lock on the timer wheel) for
    // every request.
    let outcome = poll_fn(|cx| {
        if let Poll::Ready(result) = conn.as_mut().poll(cx) {
            return Poll::Ready(Ok(result));
        }
        loop {
            let Some((deadline, wait)) = watch.deadline(config) else {
                return Poll::Pending;
            };
            if deadline < sleep.deadline() {
                sleep.as_mut().reset(deadline);
            }
            match sleep.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if Instant::now() >= deadline => return Poll::Ready(Err(wait)),
                Poll::Ready(()) => sleep.as_mut().reset(deadline),
            }
        }
    })
    .await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "connection ended with an error"),
        Err(wait) => {
            metrics.connection_timed_out(wait);
            tracing::debug!(reason = wait.as_str(), "connection closed by a timeout");
        }
    }
    drop(permit);
}

/// What a connection waits for when a timeout closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// A complete request head (`header_read_timeout`).
    Head,
    /// The next request on a kept-alive connection (`idle_timeout`).
    Idle,
}

impl Wait {
    /// Label of `policygate_connections_timed_out_total`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Wait::Head => "header_read",
            Wait::Idle => "idle",
        }
    }
}

const HEAD: u8 = 0;
const BUSY: u8 = 1;
const IDLE: u8 = 2;

/// The phase of one connection and when it began: waiting for a request head,
/// handling a request, or idle between requests. Atomics only because the service
/// must be `Send`; every access is from the connection's own task.
#[derive(Debug)]
struct Watch {
    epoch: Instant,
    phase: AtomicU8,
    /// Start of the phase, in nanoseconds since `epoch`.
    since: AtomicU64,
}

impl Watch {
    fn new(epoch: Instant) -> Watch {
        Watch {
            epoch,
            phase: AtomicU8::new(HEAD),
            since: AtomicU64::new(0),
        }
    }

    fn stamp(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Bytes arrived: an idle connection starts receiving a request head.
    fn read(&self) {
        if self.phase.load(Ordering::Relaxed) == IDLE {
            self.since.store(self.stamp(), Ordering::Relaxed);
            self.phase.store(HEAD, Ordering::Relaxed);
        }
    }

    /// A request head was parsed and is being handled.
    fn busy(&self) {
        self.phase.store(BUSY, Ordering::Relaxed);
    }

    /// The request was answered; the connection waits for the next one.
    fn idle(&self) {
        self.since.store(self.stamp(), Ordering::Relaxed);
        self.phase.store(IDLE, Ordering::Relaxed);
    }

    /// When the current wait times out, if the connection is waiting.
    fn deadline(&self, config: &ConnConfig) -> Option<(Instant, Wait)> {
        let (bound, wait) = match self.phase.load(Ordering::Relaxed) {
            HEAD => (config.header_read_timeout, Wait::Head),
            IDLE => (config.idle_timeout, Wait::Idle),
            _ => return None,
        };
        let since = Duration::from_nanos(self.since.load(Ordering::Relaxed));
        Some((self.epoch + since + bound, wait))
    }
}

/// The service hyper calls for each request head: our own limits, then the router.
#[derive(Debug)]
struct ConnService {
    router: TowerToHyperService<Router>,
    watch: Arc<Watch>,
    /// Set only when the handshake learnt an identity.
    peer: Option<Peer>,
    shared: Arc<Shared>,
}

type ServiceFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl hyper::service::Service<hyper::Request<Incoming>> for ConnService {
    type Response = Response;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, mut request: hyper::Request<Incoming>) -> ServiceFuture {
        self.watch.busy();
        let watch = Arc::clone(&self.watch);
        if let Some(error) = refuse_head(&request) {
            self.shared.state.inner.metrics.rejected(error.code);
            return Box::pin(async move {
                watch.idle();
                Ok(error.into_response())
            });
        }
        if let Some(peer) = &self.peer {
            request.extensions_mut().insert(peer.clone());
        }
        let answer = self.router.call(request);
        Box::pin(async move {
            let response = answer.await;
            watch.idle();
            response
        })
    }
}

/// Our limits on a parsed request head, below hyper's hard ones.
fn refuse_head<B>(request: &hyper::Request<B>) -> Option<ApiError> {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(ApiError::uri_too_long());
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Some(ApiError::headers_too_large());
    }
    if request.version() == hyper::Version::HTTP_11
        && !request.headers().contains_key(hyper::header::HOST)
    {
        return Some(ApiError::missing_host());
    }
    None
}

/// Complete responses (head and stable body) that replace hyper's bodyless ones.
static REPLACEMENTS: LazyLock<[(ErrorCode, Vec<u8>); 3]> = LazyLock::new(|| {
    [
        ApiError::malformed(),
        ApiError::uri_too_long(),
        ApiError::headers_too_large(),
    ]
    .map(|error| (error.code, error.raw_response()))
});

/// The code of hyper's automatic answer to a request it could not parse: exactly
/// one bodyless 400/414/431 response head in one write. The service never answers
/// these statuses without a body, so nothing else has this shape.
fn bare_error(buf: &[u8]) -> Option<ErrorCode> {
    if buf.len() > 512 || !buf.starts_with(b"HTTP/1.1 4") || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let code = match buf.get(9..12)? {
        b"400" => ErrorCode::BadRequest,
        b"414" => ErrorCode::UriTooLong,
        b"431" => ErrorCode::HeadersTooLarge,
        _ => return None,
    };
    const EMPTY: &[u8] = b"\r\ncontent-length: 0\r\n";
    buf.windows(EMPTY.len())
        .any(|w| w.eq_ignore_ascii_case(EMPTY))
        .then_some(code)
}

/// The connection's stream as hyper sees it: reads move the [`Watch`]; hyper's
/// bodyless error answers are replaced by ours.
#[derive(Debug)]
struct Guarded<I> {
    io: I,
    watch: Arc<Watch>,
    shared: Arc<Shared>,
    /// A replacement being written, and how much of it is.
    replacement: Option<(&'static [u8], usize)>,
}

impl<I: AsyncWrite + Unpin> Guarded<I> {
    /// Writes what is left of a replacement.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, done)) = &mut self.replacement {
            let rest = bytes.get(*done..).unwrap_or_default();
            if rest.is_empty() {
                self.replacement = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `buf` (hyper's bodyless error answer) and writes ours instead.
    fn replace(
        &mut self,
        cx: &mut Context<'_>,
        code: ErrorCode,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        if let Some((_, bytes)) = REPLACEMENTS.iter().find(|(c, _)| *c == code) {
            self.shared.state.inner.metrics.rejected(code);
            self.replacement = Some((bytes.as_slice(), 0));
            // Written here as far as the socket takes it; the rest at the flush hyper
            // makes next.
            if let Poll::Ready(Err(e)) = self.poll_replacement(cx) {
                return Poll::Ready(Err(e));
            }
        }
        Poll::Ready(Ok(len))
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Guarded<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.watch.read();
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Guarded<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        if let Some(code) = bare_error(buf) {
            return this.replace(cx, code, buf.len());
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next())
            && let Some(code) = bare_error(only)
        {
            return this.replace(cx, code, only.len());
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
