//! Hot reload: `SIGHUP` and a file watcher load the policy again, off the request
//! path, and swap it in atomically when (and only when) it is valid.
//!
//! - **Loading** is the binary's: a [`PolicyLoader`] reads, loads and fully validates
//!   the policy exactly as at start (the `policygate` binary passes its one loader),
//!   and on failure returns the diagnostics `policygate validate` prints. It runs on a
//!   thread of its own at a lower scheduling priority (`load_candidate`), never on a
//!   request's, and a replaced policy is freed the same way once its last request is
//!   done (`retire`): on a busy machine a reload takes the CPU the requests leave.
//! - **Swapping** stores a new `Arc` in the state's [`arc_swap::ArcSwap`]: a request
//!   takes the active policy once and decides, audits and answers with it, so requests
//!   in flight finish on the policy they started with and every answer and audit event
//!   names the policy that decided.
//! - **Last-known-good**: an invalid candidate is never swapped in; the error is
//!   logged with the full diagnostics, reported on `/health` and `/ready`
//!   (`last_reload`), counted in `policygate_policy_reloads_total{outcome="rejected"}`,
//!   and written to the audit stream as a `policygate.policy.reload_rejected` event. A
//!   swap is written as `policygate.policy.swapped` before the new policy decides.
//! - **Watching**: the watcher (`notify`) watches the *directory* of the policy path
//!   and the directory of the file the path resolves to through symlinks, not the file:
//!   editors and `kubectl` replace files by rename, and Kubernetes swaps a ConfigMap
//!   by renaming the `..data` symlink, which a watch on the old file never sees. Before
//!   each reload the path is resolved again and the watches follow it (before the file
//!   is read, so that no change falls between the read and the new watch). Events are
//!   debounced ([`DEBOUNCE`]): a file written in several chunks is loaded once,
//!   complete (writing a temporary file and renaming it is still the safe way).
//!   A watcher-triggered reload whose candidate has the bytes of the last attempt's
//!   is skipped silently (a Kubernetes swap fires several events); `SIGHUP` always
//!   reloads and reports `unchanged` when the bytes are the active policy's.
//! - `SIGHUP` also reads the tokens file again (`--auth-tokens-file`), the TLS
//!   certificate, key and client CA (`--tls-*`, see [`crate::tls::Tls::reload`]:
//!   all good or the old ones stay), and reloads the shadow policy, if any; the
//!   shadow's file is watched like the live one's.

use crate::state::AppState;
use policygate_api::{
    CandidatePolicy, POLICY_CHANGE_EVENT_VERSION, POLICY_RELOAD_REJECTED_EVENT_TYPE,
    POLICY_SWAPPED_EVENT_TYPE, PolicyChangeEvent, ReloadAttempt, ReloadOutcome, ReloadTrigger,
};
use policygate_core::Policy;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

/// Changes closer together than this are loaded once.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Why a candidate policy was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// One line for `/health`, e.g. "2 errors in policy.yaml (first: …)".
    pub summary: String,
    /// The full diagnostics, as `policygate validate` prints them (no colour).
    pub diagnostics: String,
    /// Stable codes of the errors, in report order (empty when the file was unreadable).
    pub error_codes: Vec<String>,
    /// SHA-256 (hex) of the candidate's bytes, when they could be read.
    pub candidate_sha256: Option<String>,
}

type LoadFn = dyn Fn() -> Result<Policy, Rejected> + Send + Sync;

/// Loads the policy again: reads, loads and validates it as at start.
#[derive(Clone)]
pub struct PolicyLoader(Arc<LoadFn>);

impl PolicyLoader {
    /// A loader from a function.
    pub fn new(load: impl Fn() -> Result<Policy, Rejected> + Send + Sync + 'static) -> Self {
        PolicyLoader(Arc::new(load))
    }

    pub(crate) fn load(&self) -> Result<Policy, Rejected> {
        (self.0)()
    }
}

impl std::fmt::Debug for PolicyLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PolicyLoader(..)")
    }
}

/// How the served policy is reloaded.
#[derive(Debug, Clone)]
pub struct ReloadConfig {
    /// The policy path as given (watched through symlinks).
    pub path: PathBuf,
    /// Watch the file for changes (else only `SIGHUP` reloads).
    pub watch: bool,
    /// Loads the policy again.
    pub loader: PolicyLoader,
}

/// Loads a candidate with `loader` on a blocking thread, and swaps it in if valid.
/// Reloads are serialised; the outcome is reported on `/health`, in the metrics, the
/// log and the audit stream. Returns `None` when a watcher-triggered reload was
/// skipped because the candidate's bytes were those of the last attempt.
pub async fn reload(
    state: &AppState,
    loader: &PolicyLoader,
    trigger: ReloadTrigger,
) -> Option<ReloadOutcome> {
    let inner = &state.inner;
    let _one_at_a_time = inner.reloading.lock().await;
    let loaded = load_candidate(loader, "policy").await;
    let previous_id = state.policy().identity().clone();
    let candidate_sha = match &loaded {
        Ok(p) => Some(p.identity().policy_sha256.clone()),
        Err(r) => r.candidate_sha256.clone(),
    };
    {
        let mut last = inner
            .last_candidate
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if trigger == ReloadTrigger::Watch && candidate_sha.is_some() && *last == candidate_sha {
            tracing::debug!("policy file event without a change of content; not reloaded");
            return None;
        }
        last.clone_from(&candidate_sha);
    }
    let deadline = tokio::time::Instant::now() + inner.config.request_timeout;
    let environment = inner.config.environment.clone();
    let (outcome, attempt) = match loaded {
        Ok(policy) if policy.identity().policy_sha256 == previous_id.policy_sha256 => {
            tracing::info!(
                trigger = trigger.as_str(),
                policy_sha256 = %previous_id.policy_sha256,
                "policy reload: the file holds the active policy; nothing changed"
            );
            retire(Arc::new(policy));
            (ReloadOutcome::Unchanged, None)
        }
        Ok(policy) => {
            let identity = policy.identity().clone();
            let event = PolicyChangeEvent {
                event_type: POLICY_SWAPPED_EVENT_TYPE.to_owned(),
                event_version: POLICY_CHANGE_EVENT_VERSION.to_owned(),
                occurred_at: crate::audit::clock::occurred_at(inner.audit.clock()),
                service_name: "policygate".to_owned(),
                environment,
                trigger,
                previous_policy: previous_id.clone(),
                policy: Some(CandidatePolicy::from(&identity)),
                error_count: 0,
                error_codes: Vec::new(),
                seq: None,
                prev_hash: None,
            };
            // The swap is on the audit trail before the new policy decides anything.
            write_event(state, &event, deadline).await;
            let replaced = state.install(Arc::new(policy));
            retire(Arc::clone(&replaced.policy));
            drop(replaced);
            tracing::info!(
                trigger = trigger.as_str(),
                policy_id = %identity.policy_id,
                policy_version = %identity.policy_version,
                policy_sha256 = %identity.policy_sha256,
                previous_policy_sha256 = %previous_id.policy_sha256,
                "policy reloaded: the new policy is active"
            );
            (ReloadOutcome::Applied, None)
        }
        Err(rejected) => {
            tracing::error!(
                trigger = trigger.as_str(),
                errors = rejected.error_codes.len(),
                active_policy_sha256 = %previous_id.policy_sha256,
                "policy reload refused; the last valid policy stays active:\n{}",
                rejected.diagnostics
            );
            let event = PolicyChangeEvent {
                event_type: POLICY_RELOAD_REJECTED_EVENT_TYPE.to_owned(),
                event_version: POLICY_CHANGE_EVENT_VERSION.to_owned(),
                occurred_at: crate::audit::clock::occurred_at(inner.audit.clock()),
                service_name: "policygate".to_owned(),
                environment,
                trigger,
                previous_policy: previous_id.clone(),
                policy: rejected
                    .candidate_sha256
                    .clone()
                    .map(|sha| CandidatePolicy {
                        policy_id: None,
                        policy_version: None,
                        policy_sha256: Some(sha),
                    }),
                error_count: count(rejected.error_codes.len()),
                error_codes: rejected.error_codes.clone(),
                seq: None,
                prev_hash: None,
            };
            write_event(state, &event, deadline).await;
            (ReloadOutcome::Rejected, Some(rejected))
        }
    };
    let (error_count, error) = match &attempt {
        Some(r) => (count(r.error_codes.len().max(1)), Some(r.summary.clone())),
        None => (0, None),
    };
    state.attempted(ReloadAttempt {
        at: crate::audit::clock::occurred_at(inner.audit.clock()),
        trigger,
        outcome,
        error_count,
        error,
    });
    Some(outcome)
}

/// How much lower than the service's the scheduling priority of a loading or retiring
/// thread is (a nice value, Linux only): on a machine whose cores are busy serving,
/// loading a large policy gets the CPU the requests leave, instead of taking a core
/// from them for the whole load.
const BACKGROUND_NICENESS: i32 = 10;

/// Longest wait for the requests still deciding with a replaced policy before it is
/// freed anyway (by whoever holds it last).
const RETIRE_WAIT: Duration = Duration::from_secs(60);
/// How often [`retire`] looks whether the replaced policy is still in use.
const RETIRE_POLL: Duration = Duration::from_millis(5);

/// Loads a candidate with `loader` (a live or shadow policy, `what`) on a thread of
/// its own at a lower scheduling priority ([`BACKGROUND_NICENESS`]), never on a
/// runtime worker. A loader that panics is a rejected candidate.
pub(crate) async fn load_candidate(loader: &PolicyLoader, what: &str) -> Result<Policy, Rejected> {
    let job = loader.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("policygate-load".to_owned())
        .spawn(move || {
            lower_priority();
            let _ = tx.send(job.load());
        });
    let failure = match spawned {
        Ok(_) => match rx.await {
            Ok(loaded) => return loaded,
            Err(_) => "the loading thread panicked".to_owned(),
        },
        Err(e) => format!("cannot start a loading thread: {e}"),
    };
    let message = format!("loading the {what} failed: {failure}");
    Err(Rejected {
        summary: message.clone(),
        diagnostics: message,
        error_codes: Vec::new(),
        candidate_sha256: None,
    })
}

/// Frees a replaced policy off the request path: on a low-priority thread of its
/// own, once no request decides with it any more (or after [`RETIRE_WAIT`]). Freeing a
/// 10,000-rule policy's allocations takes milliseconds, which would otherwise fall on
/// the runtime worker of whichever task let go of it last.
pub(crate) fn retire<T: Send + Sync + 'static>(replaced: Arc<T>) {
    let spawned = std::thread::Builder::new()
        .name("policygate-retire".to_owned())
        .spawn(move || {
            lower_priority();
            let give_up = std::time::Instant::now() + RETIRE_WAIT;
            // Only requests that took the policy before the swap still hold it, and
            // no one can take it again: the count only goes down.
            while Arc::strong_count(&replaced) > 1 && std::time::Instant::now() < give_up {
                std::thread::sleep(RETIRE_POLL);
            }
            drop(replaced);
        });
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "cannot start a thread to free the replaced policy; it is freed by its last user");
    }
}

/// Lowers the calling thread's scheduling priority by [`BACKGROUND_NICENESS`]. On
/// Linux a nice value belongs to a thread, so the rest of the process is unaffected;
/// elsewhere it would be the process's, so nothing is done.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let me = rustix::thread::gettid();
        let lowered = rustix::process::getpriority_process(Some(me)).and_then(|now| {
            rustix::process::setpriority_process(Some(me), (now + BACKGROUND_NICENESS).min(19))
        });
        if let Err(e) = lowered {
            tracing::debug!(error = %e, "cannot lower the priority of a background thread");
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

async fn write_event(state: &AppState, event: &PolicyChangeEvent, deadline: tokio::time::Instant) {
    let line = match serde_json::to_vec(event) {
        Ok(line) => line,
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a policy change event");
            return;
        }
    };
    if let Err(e) = state.inner.audit.record(line, deadline).await {
        tracing::warn!(
            event_type = %event.event_type,
            reason = e.message(),
            "policy change could not be audited"
        );
    }
}

/// Reloads on `SIGHUP`, and on changes of the policy file when `config.watch`, until
/// the task is dropped. The `SIGHUP` handler is installed before this returns, so a
/// signal sent once the service is listening never kills the process.
pub(crate) fn start(
    state: AppState,
    config: ReloadConfig,
    shadow: Option<ReloadConfig>,
    tokens_file: Option<PathBuf>,
    tls: Option<Arc<crate::tls::Tls>>,
) -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP; reload on signal is off");
            None
        }
    };
    let (mut live_watch, mut live_changes) = watch_if(&config);
    let (mut shadow_watch, mut shadow_changes) = match &shadow {
        Some(shadow) => watch_if(shadow),
        None => (None, mpsc::unbounded_channel().1),
    };
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                Some(()) = async {
                    #[cfg(unix)]
                    match hangup.as_mut() {
                        Some(s) => s.recv().await,
                        None => std::future::pending().await,
                    }
                    #[cfg(not(unix))]
                    std::future::pending::<Option<()>>().await
                } => Event::Signal,
                Some(()) = async {
                    match live_watch {
                        Some(_) => live_changes.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    debounce(&mut live_changes).await;
                    Event::Live
                }
                Some(()) = async {
                    match shadow_watch {
                        Some(_) => shadow_changes.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    debounce(&mut shadow_changes).await;
                    Event::Shadow
                }
                else => break,
            };
            if let (Event::Signal, Some(path)) = (event, &tokens_file) {
                reload_tokens(&state, path).await;
            }
            if let (Event::Signal, Some(tls)) = (event, &tls) {
                reload_tls(tls).await;
            }
            // Watch where the path leads now *before* reading it: a change made after
            // this raises an event, one made before is read by this load.
            if matches!(event, Event::Signal | Event::Live) {
                if let Some(w) = live_watch.as_mut() {
                    w.follow();
                }
                let trigger = if matches!(event, Event::Signal) {
                    ReloadTrigger::Signal
                } else {
                    ReloadTrigger::Watch
                };
                tracing::info!(trigger = trigger.as_str(), "reloading the policy");
                reload(&state, &config.loader, trigger).await;
            }
            if let (Event::Signal | Event::Shadow, Some(shadow)) = (event, &shadow) {
                if let Some(w) = shadow_watch.as_mut() {
                    w.follow();
                }
                crate::shadow::reload(&state, &shadow.loader, event == Event::Shadow).await;
            }
        }
    })
}

/// Reads the tokens file again (`SIGHUP`); a file that became unreadable or invalid
/// is refused and the tokens in use are kept.
async fn reload_tokens(state: &AppState, path: &Path) {
    let job = path.to_owned();
    match tokio::task::spawn_blocking(move || crate::auth::Tokens::load(&job)).await {
        Ok(Ok(tokens)) => {
            let callers = tokens.names().count();
            if state.set_tokens(tokens) {
                tracing::info!(path = %path.display(), callers, "tokens file reloaded");
            }
        }
        Ok(Err(e)) => tracing::error!(
            path = %path.display(),
            "tokens file refused on reload; the tokens in use are kept:\n{e}"
        ),
        Err(e) => tracing::error!(error = %e, "reading the tokens file failed"),
    }
}

/// Reads the TLS files again (`SIGHUP`): new handshakes use them; when any is
/// unreadable or invalid the certificate, key and client CA in use are kept.
async fn reload_tls(tls: &Arc<crate::tls::Tls>) {
    let job = Arc::clone(tls);
    match tokio::task::spawn_blocking(move || job.reload()).await {
        Ok(Ok(())) => tracing::info!(
            cert = %tls.files().cert.display(),
            mtls = tls.requires_client_cert(),
            "TLS certificate, key and client CA reloaded; new connections use them"
        ),
        Ok(Err(e)) => tracing::error!(
            "TLS files refused on reload; the certificate, key and client CA in use are kept: {e}"
        ),
        Err(e) => tracing::error!(error = %e, "reading the TLS files failed"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Signal,
    Live,
    Shadow,
}

/// Waits until no change came for [`DEBOUNCE`].
async fn debounce(changes: &mut mpsc::UnboundedReceiver<()>) {
    while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, changes.recv()).await {}
}

/// The watcher of `config.path` when `config.watch`, and its change events.
fn watch_if(config: &ReloadConfig) -> (Option<Watch>, mpsc::UnboundedReceiver<()>) {
    let (tx, changes) = mpsc::unbounded_channel::<()>();
    if !config.watch {
        return (None, changes);
    }
    match Watch::new(&config.path, tx) {
        Ok(w) => (Some(w), changes),
        Err(e) => {
            tracing::error!(
                error = %e,
                path = %config.path.display(),
                "cannot watch the policy file; reload on SIGHUP only"
            );
            (None, changes)
        }
    }
}

/// The file watcher: the directories holding the policy path and its symlink target.
struct Watch {
    watcher: notify::RecommendedWatcher,
    /// The policy path, absolute.
    path: PathBuf,
    /// Directories watched now.
    dirs: BTreeSet<PathBuf>,
    /// File names whose events matter (shared with the watcher's callback).
    names: Arc<Mutex<BTreeSet<OsString>>>,
}

impl Watch {
    fn new(path: &Path, tx: mpsc::UnboundedSender<()>) -> notify::Result<Watch> {
        let path = std::path::absolute(path)?;
        let names: Arc<Mutex<BTreeSet<OsString>>> = Arc::default();
        let relevant = Arc::clone(&names);
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if event.kind.is_access() {
                return;
            }
            let names = relevant.lock().unwrap_or_else(PoisonError::into_inner);
            let matters = event.paths.iter().any(|p| {
                p.file_name().is_some_and(|n| {
                    // `..data` and `..2026_…`: the Kubernetes ConfigMap swap.
                    names.contains(n) || n.as_encoded_bytes().starts_with(b"..")
                })
            });
            if matters {
                let _ = tx.send(());
            }
        })?;
        let mut watch = Watch {
            watcher,
            path,
            dirs: BTreeSet::new(),
            names,
        };
        watch.follow();
        if watch.dirs.is_empty() {
            return Err(notify::Error::generic(
                "the directory of the policy file cannot be watched",
            ));
        }
        Ok(watch)
    }

    /// Resolves the path again and moves the watches to where it leads now.
    fn follow(&mut self) {
        use notify::Watcher as _;
        let mut dirs = BTreeSet::new();
        let mut names = BTreeSet::new();
        for p in [
            Some(self.path.clone()),
            std::fs::canonicalize(&self.path).ok(),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(name) = p.file_name() {
                names.insert(name.to_owned());
                // Its detached signature (`serve --verify-key`), written next to it.
                let mut signature = name.to_owned();
                signature.push(".sig");
                names.insert(signature);
            }
            if let Some(dir) = p.parent() {
                dirs.insert(dir.to_owned());
            }
        }
        *self.names.lock().unwrap_or_else(PoisonError::into_inner) = names;
        for gone in self.dirs.difference(&dirs) {
            // The directory may be gone already (an old Kubernetes `..2026_…`).
            let _ = self.watcher.unwatch(gone);
        }
        let mut watched = BTreeSet::new();
        for dir in dirs {
            if self.dirs.contains(&dir) {
                watched.insert(dir);
                continue;
            }
            match self
                .watcher
                .watch(&dir, notify::RecursiveMode::NonRecursive)
            {
                Ok(()) => {
                    watched.insert(dir);
                }
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot watch a directory of the policy file")
                }
            }
        }
        self.dirs = watched;
    }
}
