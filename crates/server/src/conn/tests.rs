use super::*;

#[test]
fn only_a_bodyless_400_414_431_head_is_hypers_bare_answer() {
    let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Tue, 01 Dec 2026 00:00:00 GMT\r\n\r\n";
    assert_eq!(bare_error(bare), Some(ErrorCode::BadRequest));
    let long = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n";
    assert_eq!(bare_error(long), Some(ErrorCode::UriTooLong));
    let large = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
    assert_eq!(bare_error(large), Some(ErrorCode::HeadersTooLarge));
    // Our own answers carry a body; other statuses and partial heads are left alone.
    let ours = ApiError::malformed().raw_response();
    assert_eq!(bare_error(&ours), None);
    assert_eq!(
        bare_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n"),
        None
    );
    assert_eq!(
        bare_error(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"),
        None
    );
    assert_eq!(
        bare_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n"),
        None
    );
}

#[test]
fn the_throttle_lets_one_line_a_second_through_and_counts_the_rest() {
    let mut throttle = Throttle::default();
    let t0 = Instant::now();
    assert_eq!(throttle.allow(t0), Some(0));
    assert_eq!(throttle.allow(t0 + Duration::from_millis(10)), None);
    assert_eq!(throttle.allow(t0 + Duration::from_millis(900)), None);
    assert_eq!(throttle.allow(t0 + Duration::from_millis(1000)), Some(2));
    assert_eq!(throttle.allow(t0 + Duration::from_millis(1001)), None);
}

#[test]
fn the_watch_times_heads_from_their_first_byte_and_idle_from_the_answer() {
    let config = ConnConfig {
        header_read_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(30),
        max_connections: Some(4),
    };
    let epoch = Instant::now();
    let watch = Watch::new(epoch);
    // A new connection: the first head is due a header timeout after the accept.
    assert_eq!(
        watch.deadline(&config),
        Some((epoch + Duration::from_secs(2), Wait::Head))
    );
    // Reads during the first head do not extend it.
    watch.read();
    assert_eq!(
        watch.deadline(&config),
        Some((epoch + Duration::from_secs(2), Wait::Head))
    );
    watch.busy();
    assert_eq!(watch.deadline(&config), None);
    watch.idle();
    let (idle_until, wait) = watch.deadline(&config).unwrap();
    assert_eq!(wait, Wait::Idle);
    assert!(idle_until >= epoch + Duration::from_secs(30));
    // The next request's first byte starts its header timeout.
    watch.read();
    let (head_until, wait) = watch.deadline(&config).unwrap();
    assert_eq!(wait, Wait::Head);
    assert!(head_until < idle_until);
    assert!(head_until >= epoch + Duration::from_secs(2));
}

#[test]
fn heads_over_our_limits_or_without_host_are_refused() {
    let ok = hyper::Request::builder()
        .uri("/evaluate")
        .header("host", "pdp")
        .body(())
        .unwrap();
    assert_eq!(refuse_head(&ok), None);

    let no_host = hyper::Request::builder().uri("/evaluate").body(()).unwrap();
    assert_eq!(
        refuse_head(&no_host).map(|e| e.code),
        Some(ErrorCode::BadRequest)
    );
    let old = hyper::Request::builder()
        .uri("/evaluate")
        .version(hyper::Version::HTTP_10)
        .body(())
        .unwrap();
    assert_eq!(refuse_head(&old), None, "HTTP/1.0 has no Host requirement");

    let long = format!("/{}", "a".repeat(MAX_URI_BYTES));
    let long = hyper::Request::builder()
        .uri(long)
        .header("host", "pdp")
        .body(())
        .unwrap();
    assert_eq!(
        refuse_head(&long).map(|e| e.code),
        Some(ErrorCode::UriTooLong)
    );

    let mut large = hyper::Request::builder().uri("/").header("host", "pdp");
    for i in 0..5 {
        large = large.header(format!("x-{i}"), "v".repeat(MAX_HEADER_BYTES / 4));
    }
    let large = large.body(()).unwrap();
    assert_eq!(
        refuse_head(&large).map(|e| e.code),
        Some(ErrorCode::HeadersTooLarge)
    );
}

#[test]
fn the_default_connection_limit_stays_below_the_descriptor_limit() {
    let config = ConnConfig::default();
    let n = config.resolved_max_connections();
    assert!((1..=DEFAULT_MAX_CONNECTIONS).contains(&n));
    if let Some(soft) = nofile_soft_limit() {
        assert!(u64::try_from(n).unwrap() <= soft.saturating_sub(RESERVED_FDS).max(1));
    }
    let set = ConnConfig {
        max_connections: Some(7),
        ..ConnConfig::default()
    };
    assert_eq!(set.resolved_max_connections(), 7);
}

/// Fails `accept` with `EMFILE` a few times, then waits forever.
struct Exhausted {
    failures: usize,
    drained: Arc<tokio::sync::Notify>,
}

impl Listener for Exhausted {
    type Io = tokio::io::DuplexStream;

    async fn accept(&mut self) -> io::Result<tokio::io::DuplexStream> {
        if self.failures > 0 {
            self.failures -= 1;
            #[cfg(unix)]
            return Err(io::Error::from_raw_os_error(libc::EMFILE));
            #[cfg(not(unix))]
            return Err(io::Error::other("out of descriptors"));
        }
        self.drained.notify_one();
        std::future::pending().await
    }
}

fn state() -> AppState {
    crate::state::fixture_state()
}

#[tokio::test(start_paused = true)]
async fn accept_errors_are_counted_and_retried_and_never_end_the_loop() {
    let state = state();
    let drained = Arc::new(tokio::sync::Notify::new());
    let listener = Exhausted {
        failures: 5,
        drained: Arc::clone(&drained),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        Plain,
        state.clone(),
        ConnConfig::default(),
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));
    drained.notified().await;
    assert!(!server.is_finished(), "an accept error ended the loop");
    let policy = state.policy();
    let text = state.inner.metrics.render(0, true, policy.identity(), None);
    assert!(
        text.lines()
            .any(|l| l == "policygate_accept_errors_total 5"),
        "{text}"
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
