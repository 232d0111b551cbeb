//! The enforcer: gets a decision and runs exactly one customer handler for it.
//!
//! Customers supply what happens on each decision (their business behaviour); this
//! module owns what must not vary between customers: every failure reaches the BLOCK
//! handler, a DEGRADE reaches the DEGRADE handler only if that handler declared it can
//! honour every obligation of the decision, and a DEGRADE handler that finds it cannot
//! honour one hands its context back so the BLOCK handler runs instead. Handlers are a
//! trait ([`Handlers`], async; [`SyncHandlers`], sync) or closures ([`handlers`]).

use crate::builder::IntoEvaluateRequest;
use crate::client::{CallOptions, PdpClient};
use crate::decision::Decision;
use crate::error::PepError;
use crate::obligation::ObligationKind;
use policygate_api::DecisionKind;
use std::fmt;
use std::future::{Future, ready};
use std::marker::PhantomData;

/// A DEGRADE handler's refusal: it cannot honour an obligation, so the request must be
/// blocked. It hands the context back for the BLOCK handler.
pub struct Unenforceable<C> {
    /// The context, returned for the BLOCK handler.
    pub ctx: C,
    /// The obligation type that cannot be honoured.
    pub obligation: ObligationKind,
    /// Why, for operators.
    pub reason: String,
}

impl<C> Unenforceable<C> {
    /// A refusal to honour `obligation`.
    pub fn new(ctx: C, obligation: ObligationKind, reason: impl Into<String>) -> Self {
        Unenforceable {
            ctx,
            obligation,
            reason: reason.into(),
        }
    }
}

impl<C> fmt::Debug for Unenforceable<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unenforceable")
            .field("obligation", &self.obligation)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

/// What a DEGRADE handler returns: its output, or a refusal (which becomes BLOCK).
pub type DegradeResult<O, C> = Result<O, Unenforceable<C>>;

/// Asynchronous handlers, one per decision. `C` is the per-request context the handler
/// needs (the business request, say); exactly one handler receives it.
///
/// Implement the methods with `async fn`. [`Handlers::can_enforce`] defaults to `false`
/// for every obligation, so a DEGRADE becomes BLOCK until you say which obligations your
/// DEGRADE handler honours.
pub trait Handlers<C>: Send + Sync {
    /// What every handler produces (a business response, say).
    type Output: Send;

    /// Whether [`Handlers::degrade`] honours obligations of this kind.
    fn can_enforce(&self, kind: ObligationKind) -> bool {
        let _ = kind;
        false
    }

    /// The PDP allowed the operation.
    fn allow(&self, ctx: C, decision: Decision) -> impl Future<Output = Self::Output> + Send;

    /// The PDP allowed the operation under obligations (see [`Decision::output_cap`]).
    /// Return [`Unenforceable`] when one cannot be honoured after all.
    fn degrade(
        &self,
        ctx: C,
        decision: Decision,
    ) -> impl Future<Output = DegradeResult<Self::Output, C>> + Send;

    /// The PDP wants a person to review the operation before it runs.
    fn require_review(
        &self,
        ctx: C,
        decision: Decision,
    ) -> impl Future<Output = Self::Output> + Send;

    /// The operation must not run: the PDP said so, or no trustworthy decision could be
    /// had ([`Decision::origin`] tells which, [`Decision::error`] why).
    fn block(&self, ctx: C, decision: Decision) -> impl Future<Output = Self::Output> + Send;
}

/// Synchronous handlers, one per decision; wrap them in [`SyncAdapter`] to use them
/// where [`Handlers`] are expected, or call [`dispatch_sync`].
pub trait SyncHandlers<C>: Send + Sync {
    /// What every handler produces.
    type Output: Send;

    /// Whether [`SyncHandlers::degrade`] honours obligations of this kind (default:
    /// none, so DEGRADE becomes BLOCK).
    fn can_enforce(&self, kind: ObligationKind) -> bool {
        let _ = kind;
        false
    }

    /// The PDP allowed the operation.
    fn allow(&self, ctx: C, decision: Decision) -> Self::Output;

    /// The PDP allowed the operation under obligations.
    fn degrade(&self, ctx: C, decision: Decision) -> DegradeResult<Self::Output, C>;

    /// The PDP wants a person to review the operation.
    fn require_review(&self, ctx: C, decision: Decision) -> Self::Output;

    /// The operation must not run.
    fn block(&self, ctx: C, decision: Decision) -> Self::Output;
}

/// Makes [`SyncHandlers`] usable as [`Handlers`].
#[derive(Debug, Clone)]
pub struct SyncAdapter<H>(pub H);

impl<C: Send, H: SyncHandlers<C>> Handlers<C> for SyncAdapter<H> {
    type Output = H::Output;

    fn can_enforce(&self, kind: ObligationKind) -> bool {
        self.0.can_enforce(kind)
    }

    fn allow(&self, ctx: C, decision: Decision) -> impl Future<Output = Self::Output> + Send {
        ready(self.0.allow(ctx, decision))
    }

    fn degrade(
        &self,
        ctx: C,
        decision: Decision,
    ) -> impl Future<Output = DegradeResult<Self::Output, C>> + Send {
        ready(self.0.degrade(ctx, decision))
    }

    fn require_review(
        &self,
        ctx: C,
        decision: Decision,
    ) -> impl Future<Output = Self::Output> + Send {
        ready(self.0.require_review(ctx, decision))
    }

    fn block(&self, ctx: C, decision: Decision) -> impl Future<Output = Self::Output> + Send {
        ready(self.0.block(ctx, decision))
    }
}

/// Why a DEGRADE decision may not reach the DEGRADE handler, if it may not.
fn check_obligations(
    decision: &Decision,
    can_enforce: impl Fn(ObligationKind) -> bool,
) -> Option<PepError> {
    decision.obligations().iter().find_map(|o| {
        let kind = ObligationKind::of(o);
        (!can_enforce(kind)).then(|| PepError::Unenforceable {
            obligation: kind.as_str().to_owned(),
            reason: "the DEGRADE handler does not declare that it honours this obligation".into(),
        })
    })
}

fn refused(decision: &Decision, obligation: ObligationKind, reason: String) -> Decision {
    decision.overruled(PepError::Unenforceable {
        obligation: obligation.as_str().to_owned(),
        reason,
    })
}

/// Runs the handler for `decision` (from [`PdpClient::decide`], say) and returns its
/// output. Exactly one of `allow`, `require_review`, `block` runs, or `degrade`, or
/// `degrade` followed by `block` when it refuses.
pub async fn dispatch<C, H: Handlers<C>>(decision: Decision, ctx: C, handlers: &H) -> H::Output {
    match decision.kind() {
        DecisionKind::Allow => handlers.allow(ctx, decision).await,
        DecisionKind::Block => handlers.block(ctx, decision).await,
        DecisionKind::RequireReview => handlers.require_review(ctx, decision).await,
        DecisionKind::Degrade => {
            if let Some(e) = check_obligations(&decision, |k| handlers.can_enforce(k)) {
                return handlers.block(ctx, decision.overruled(e)).await;
            }
            let keep = decision.clone();
            match handlers.degrade(ctx, decision).await {
                Ok(output) => output,
                Err(refusal) => {
                    let blocked = refused(&keep, refusal.obligation, refusal.reason);
                    handlers.block(refusal.ctx, blocked).await
                }
            }
        }
    }
}

/// [`dispatch`] for synchronous handlers, without an async runtime.
pub fn dispatch_sync<C, H: SyncHandlers<C>>(decision: Decision, ctx: C, handlers: &H) -> H::Output {
    match decision.kind() {
        DecisionKind::Allow => handlers.allow(ctx, decision),
        DecisionKind::Block => handlers.block(ctx, decision),
        DecisionKind::RequireReview => handlers.require_review(ctx, decision),
        DecisionKind::Degrade => {
            if let Some(e) = check_obligations(&decision, |k| handlers.can_enforce(k)) {
                return handlers.block(ctx, decision.overruled(e));
            }
            let keep = decision.clone();
            match handlers.degrade(ctx, decision) {
                Ok(output) => output,
                Err(refusal) => {
                    let blocked = refused(&keep, refusal.obligation, refusal.reason);
                    handlers.block(refusal.ctx, blocked)
                }
            }
        }
    }
}

/// Asks the PDP and runs the matching handler: the one entry point most services need.
///
/// ```no_run
/// # async fn demo() -> Result<(), policygate_pep::PepError> {
/// use policygate_pep::{Enforcer, PdpClient, RequestBuilder, handlers, ObligationKind};
/// use policygate_api::{Action, Sensitivity};
///
/// let enforcer = Enforcer::new(PdpClient::builder("http://127.0.0.1:8000").build()?);
/// let on = handlers::<String>()
///     .on_allow(|doc, _d| async move { format!("full summary of {doc}") })
///     .on_degrade(|doc, d| async move {
///         let cap = d.output_cap().and_then(|c| c.max_tokens).unwrap_or(0);
///         Ok(format!("summary of {doc} in at most {cap} tokens"))
///     })
///     .on_review_sync(|doc, _d| format!("{doc} queued for review"))
///     .on_block_sync(|_doc, d| format!("refused: {:?}", d.rationale_codes()))
///     .enforcing(ObligationKind::OutputCap);
/// let request = RequestBuilder::new(Action::InferRun)
///     .env("prod")
///     .resource("document", Sensitivity::Internal);
/// let answer = enforcer.enforce(request, "doc-1".to_owned(), &on).await;
/// # let _ = answer; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Enforcer {
    client: PdpClient,
}

impl Enforcer {
    /// An enforcer that asks `client`'s PDP.
    pub fn new(client: PdpClient) -> Enforcer {
        Enforcer { client }
    }

    /// The PDP client.
    pub fn client(&self) -> &PdpClient {
        &self.client
    }

    /// Asks the PDP for a decision without dispatching it; failures become BLOCK.
    pub async fn decide(&self, request: impl IntoEvaluateRequest) -> Decision {
        self.client.decide(request).await
    }

    /// Asks the PDP and runs the handler for the decision.
    pub async fn enforce<C, H: Handlers<C>>(
        &self,
        request: impl IntoEvaluateRequest,
        ctx: C,
        handlers: &H,
    ) -> H::Output {
        self.enforce_with(request, &CallOptions::default(), ctx, handlers)
            .await
    }

    /// [`Enforcer::enforce`] with per-call options (a `traceparent` to forward).
    pub async fn enforce_with<C, H: Handlers<C>>(
        &self,
        request: impl IntoEvaluateRequest,
        options: &CallOptions,
        ctx: C,
        handlers: &H,
    ) -> H::Output {
        let decision = self.client.decide_with(request, options).await;
        dispatch(decision, ctx, handlers).await
    }
}

/// An enforcer for synchronous code: it owns a small single-threaded runtime for the PDP
/// call and runs [`SyncHandlers`].
///
/// Do not use it from inside an async runtime: there it refuses (BLOCK with
/// `PEP_CONFIG_INVALID`) rather than block a runtime thread; use [`Enforcer`] instead.
#[derive(Debug)]
pub struct BlockingEnforcer {
    // INVARIANT: `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    enforcer: Enforcer,
}

impl Drop for BlockingEnforcer {
    fn drop(&mut self) {
        // Dropping a runtime inside another one panics; shutting it down in the
        // background does not.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl BlockingEnforcer {
    /// A blocking enforcer that asks `client`'s PDP.
    pub fn new(client: PdpClient) -> Result<BlockingEnforcer, PepError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PepError::config(format!("cannot start the PEP's runtime: {e}")))?;
        Ok(BlockingEnforcer {
            runtime: Some(runtime),
            enforcer: Enforcer::new(client),
        })
    }

    /// Asks the PDP for a decision, blocking the thread; failures become BLOCK.
    pub fn decide(&self, request: impl IntoEvaluateRequest) -> Decision {
        self.decide_with(request, &CallOptions::default())
    }

    /// [`BlockingEnforcer::decide`] with per-call options.
    pub fn decide_with(
        &self,
        request: impl IntoEvaluateRequest,
        options: &CallOptions,
    ) -> Decision {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Decision::from_error(
                PepError::config(
                    "the blocking enforcer was called inside an async runtime; use `Enforcer` there",
                ),
                None,
            );
        }
        match &self.runtime {
            Some(runtime) => runtime.block_on(self.enforcer.client.decide_with(request, options)),
            None => Decision::from_error(
                PepError::config("the blocking enforcer was shut down"),
                None,
            ),
        }
    }

    /// Asks the PDP and runs the synchronous handler for the decision.
    pub fn enforce<C, H: SyncHandlers<C>>(
        &self,
        request: impl IntoEvaluateRequest,
        ctx: C,
        handlers: &H,
    ) -> H::Output {
        dispatch_sync(self.decide(request), ctx, handlers)
    }
}

/// One handler closure. Implemented for the wrappers [`handlers`] builds; you rarely name
/// it.
#[diagnostic::on_unimplemented(
    message = "no handler was given for one of the decisions",
    note = "give all four: `on_allow`, `on_degrade`, `on_review`, `on_block` (or their `_sync` forms)"
)]
pub trait DecisionFn<C>: Send + Sync {
    /// What the closure returns.
    type Output: Send;
    /// Calls the closure.
    fn call(&self, ctx: C, decision: Decision) -> impl Future<Output = Self::Output> + Send;
}

/// An asynchronous handler closure (`Fn(C, Decision) -> impl Future`).
#[derive(Debug, Clone)]
pub struct AsyncFn<F>(F);

/// A synchronous handler closure (`Fn(C, Decision) -> O`).
#[derive(Debug, Clone)]
pub struct SyncFn<F>(F);

/// The place of a handler not given yet.
#[derive(Debug, Clone, Copy)]
pub struct Missing;

impl<C, F, Fut> DecisionFn<C> for AsyncFn<F>
where
    F: Fn(C, Decision) -> Fut + Send + Sync,
    Fut: Future + Send,
    Fut::Output: Send,
{
    type Output = Fut::Output;
    fn call(&self, ctx: C, decision: Decision) -> impl Future<Output = Self::Output> + Send {
        (self.0)(ctx, decision)
    }
}

impl<C, F, O> DecisionFn<C> for SyncFn<F>
where
    F: Fn(C, Decision) -> O + Send + Sync,
    O: Send,
{
    type Output = O;
    fn call(&self, ctx: C, decision: Decision) -> impl Future<Output = O> + Send {
        ready((self.0)(ctx, decision))
    }
}

/// Handlers made of closures; see [`handlers`].
pub struct FnHandlers<C, A, D, R, B> {
    allow: A,
    degrade: D,
    review: R,
    block: B,
    enforces: Vec<ObligationKind>,
    ctx: PhantomData<fn(C)>,
}

impl<C, A, D, R, B> fmt::Debug for FnHandlers<C, A, D, R, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnHandlers")
            .field("enforces", &self.enforces)
            .finish_non_exhaustive()
    }
}

/// Starts building handlers from closures, for a context of type `C`.
///
/// Give one closure per decision (`on_allow`, `on_degrade`, `on_review`, `on_block`,
/// each async or `_sync`) and name the obligations the DEGRADE closure honours with
/// [`FnHandlers::enforcing`]; a missing handler is a compile error.
pub fn handlers<C>() -> FnHandlers<C, Missing, Missing, Missing, Missing> {
    FnHandlers {
        allow: Missing,
        degrade: Missing,
        review: Missing,
        block: Missing,
        enforces: Vec::new(),
        ctx: PhantomData,
    }
}

impl<C, A, D, R, B> FnHandlers<C, A, D, R, B> {
    /// The ALLOW handler (async).
    pub fn on_allow<F, Fut>(self, f: F) -> FnHandlers<C, AsyncFn<F>, D, R, B>
    where
        F: Fn(C, Decision) -> Fut,
        Fut: Future,
    {
        FnHandlers {
            allow: AsyncFn(f),
            degrade: self.degrade,
            review: self.review,
            block: self.block,
            enforces: self.enforces,
            ctx: PhantomData,
        }
    }

    /// The ALLOW handler (sync).
    pub fn on_allow_sync<F, O>(self, f: F) -> FnHandlers<C, SyncFn<F>, D, R, B>
    where
        F: Fn(C, Decision) -> O,
    {
        FnHandlers {
            allow: SyncFn(f),
            degrade: self.degrade,
            review: self.review,
            block: self.block,
            enforces: self.enforces,
            ctx: PhantomData,
        }
    }

    /// The DEGRADE handler (async); it returns `Ok(output)` or [`Unenforceable`].
    pub fn on_degrade<F, Fut, O>(self, f: F) -> FnHandlers<C, A, AsyncFn<F>, R, B>
    where
        F: Fn(C, Decision) -> Fut,
        Fut: Future<Output = DegradeResult<O, C>>,
    {
        FnHandlers {
            allow: self.allow,
            degrade: AsyncFn(f),
            review: self.review,
            block: self.block,
            enforces: self.enforces,
            ctx: PhantomData,
        }
    }

    /// The DEGRADE handler (sync).
    pub fn on_degrade_sync<F, O>(self, f: F) -> FnHandlers<C, A, SyncFn<F>, R, B>
    where
        F: Fn(C, Decision) -> DegradeResult<O, C>,
    {
        FnHandlers {
            allow: self.allow,
            degrade: SyncFn(f),
            review: self.review,
            block: self.block,
            enforces: self.enforces,
            ctx: PhantomData,
        }
    }

    /// The REQUIRE_REVIEW handler (async).
    pub fn on_review<F, Fut>(self, f: F) -> FnHandlers<C, A, D, AsyncFn<F>, B>
    where
        F: Fn(C, Decision) -> Fut,
        Fut: Future,
    {
        FnHandlers {
            allow: self.allow,
            degrade: self.degrade,
            review: AsyncFn(f),
            block: self.block,
            enforces: self.enforces,
            ctx: PhantomData,
        }
    }

    /// The REQUIRE_REVIEW handler (sync).
    pub fn on_review_sync<F, O>(self, f: F) -> FnHandlers<C, A, D, SyncFn<F>, B>
    where
        F: Fn(C, Decision) -> O,
    {
        FnHandlers {
            allow: self.allow,
            degrade: self.degrade,
            review: SyncFn(f),
            block: self.block,
            enforces: self.enforces,
            ctx: PhantomData,
        }
    }

    /// The BLOCK handler (async).
    pub fn on_block<F, Fut>(self, f: F) -> FnHandlers<C, A, D, R, AsyncFn<F>>
    where
        F: Fn(C, Decision) -> Fut,
        Fut: Future,
    {
        FnHandlers {
            allow: self.allow,
            degrade: self.degrade,
            review: self.review,
            block: AsyncFn(f),
            enforces: self.enforces,
            ctx: PhantomData,
        }
    }

    /// The BLOCK handler (sync).
    pub fn on_block_sync<F, O>(self, f: F) -> FnHandlers<C, A, D, R, SyncFn<F>>
    where
        F: Fn(C, Decision) -> O,
    {
        FnHandlers {
            allow: self.allow,
            degrade: self.degrade,
            review: self.review,
            block: SyncFn(f),
            enforces: self.enforces,
            ctx: PhantomData,
        }
    }

    /// Declares that the DEGRADE handler honours obligations of `kind`. A DEGRADE with
    /// an obligation not declared here becomes BLOCK (`PEP_OBLIGATION_UNENFORCEABLE`).
    #[must_use]
    pub fn enforcing(mut self, kind: ObligationKind) -> Self {
        if !self.enforces.contains(&kind) {
            self.enforces.push(kind);
        }
        self
    }
}

impl<C, O, A, D, R, B> Handlers<C> for FnHandlers<C, A, D, R, B>
where
    O: Send,
    A: DecisionFn<C, Output = O>,
    D: DecisionFn<C, Output = DegradeResult<O, C>>,
    R: DecisionFn<C, Output = O>,
    B: DecisionFn<C, Output = O>,
{
    type Output = O;

    fn can_enforce(&self, kind: ObligationKind) -> bool {
        self.enforces.contains(&kind)
    }

    fn allow(&self, ctx: C, decision: Decision) -> impl Future<Output = O> + Send {
        self.allow.call(ctx, decision)
    }

    fn degrade(
        &self,
        ctx: C,
        decision: Decision,
    ) -> impl Future<Output = DegradeResult<O, C>> + Send {
        self.degrade.call(ctx, decision)
    }

    fn require_review(&self, ctx: C, decision: Decision) -> impl Future<Output = O> + Send {
        self.review.call(ctx, decision)
    }

    fn block(&self, ctx: C, decision: Decision) -> impl Future<Output = O> + Send {
        self.block.call(ctx, decision)
    }
}

impl<C, O, A, D, R, B> SyncHandlers<C> for FnHandlers<C, SyncFn<A>, SyncFn<D>, SyncFn<R>, SyncFn<B>>
where
    O: Send,
    A: Fn(C, Decision) -> O + Send + Sync,
    D: Fn(C, Decision) -> DegradeResult<O, C> + Send + Sync,
    R: Fn(C, Decision) -> O + Send + Sync,
    B: Fn(C, Decision) -> O + Send + Sync,
{
    type Output = O;

    fn can_enforce(&self, kind: ObligationKind) -> bool {
        self.enforces.contains(&kind)
    }

    fn allow(&self, ctx: C, decision: Decision) -> O {
        (self.allow.0)(ctx, decision)
    }

    fn degrade(&self, ctx: C, decision: Decision) -> DegradeResult<O, C> {
        (self.degrade.0)(ctx, decision)
    }

    fn require_review(&self, ctx: C, decision: Decision) -> O {
        (self.review.0)(ctx, decision)
    }

    fn block(&self, ctx: C, decision: Decision) -> O {
        (self.block.0)(ctx, decision)
    }
}
