//! The dispatcher: sends what the delivery queue holds.
//!
//! One engine per process. For each enabled integration with due work it runs one dispatcher
//! task, and only while it holds that integration's lease row, so several processes on one
//! PostgreSQL never send through an integration at once and never exceed its rate. A
//! dispatcher claims a short batch (about a second of sending) by reading it, checks consent
//! again, then sends each message when the pacer allows, with at most `in_flight` requests
//! open, all driven by the dispatcher's own task. No transaction is held during HTTP.
//! Outcomes go in batches to one recorder task, which writes them.
//!
//! A claimed message stays `pending` in the database until its outcome is recorded; the
//! process keeps what it has claimed and not yet recorded in memory ([`Held`]) and leaves it
//! out of its next claims. Another process can only take over the integration once this one
//! has released its lease (after everything it sent was recorded) or, if it died or stalled,
//! once the lease has run out and the requests it may still have had open have timed out.
//!
//! The engine wakes at once when work is queued in this process (`wake`), and otherwise looks
//! once a second (work queued by another process, retries coming due).

use super::deliveries::{self as queue, Claimed, DueKey, Held, Outcome};
use super::integrations::IntegrationService;
use super::secret_box::SecretBox;
use crate::ids::now_millis;
use crate::providers::{Failure, OutgoingSms, SmsProvider};
use futures::{future::BoxFuture, stream::FuturesUnordered, StreamExt};
use rand::Rng;
use sea_orm::DatabaseConnection;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    sync::{mpsc, watch, Notify},
    task::JoinHandle,
    time::Instant,
};

/// Attempts' outcomes as handed to the recorder: (delivery id, outcome).
type Outcomes = Vec<(i64, Outcome)>;

/// What the recorder is asked to do.
enum Record {
    Outcomes(Outcomes),
    /// Answer once everything handed over before has been written: `true` if all of it was.
    Flush(tokio::sync::oneshot::Sender<bool>),
}

/// How long an integration lease lasts without renewal, and how often it is renewed.
const INTEGRATION_LEASE: Duration = Duration::from_secs(10);
const RENEW_EVERY: Duration = Duration::from_secs(2);
/// A dispatcher stops sending when its last renewal is older than this (before the lease
/// can pass to another process).
const LEASE_SAFE: Duration = Duration::from_secs(7);
/// After taking an integration over from a process whose lease ran out, how long to wait
/// before sending: its requests still open end within the HTTP timeout (15 s), and their
/// outcomes are recorded within a margin.
const TAKEOVER_WAIT: Duration = Duration::from_secs(20);
/// Attempts for retryable failures (429s excluded) before a delivery fails.
pub const MAX_ATTEMPTS: u32 = 6;
const BACKOFF_BASE: Duration = Duration::from_secs(2);
const BACKOFF_CAP: Duration = Duration::from_secs(300);
/// Ambiguous sends without a status callback after this long are settled as failed.
pub const UNKNOWN_TIMEOUT: Duration = Duration::from_secs(3600);
const POLL: Duration = Duration::from_secs(1);
/// How often a busy dispatcher searches the queue from the start (urgent work queued
/// meanwhile, retries come due).
const SEARCH_FROM_START_EVERY: Duration = Duration::from_secs(1);
/// How long shutdown waits for dispatchers (the HTTP timeout and a margin).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

pub struct Engine {
    db: DatabaseConnection,
    integrations: Arc<IntegrationService>,
    /// This process's name on leases.
    owner: String,
    wake: Arc<Notify>,
    public_url: String,
    /// Signs the delivery id in each status callback address.
    secrets: SecretBox,
    running: Mutex<HashMap<String, JoinHandle<()>>>,
    recorder: Mutex<Option<mpsc::Sender<Record>>>,
    /// Claimed and not yet recorded, across this process's dispatchers.
    held: Arc<Held>,
    stop: watch::Sender<bool>,
}

impl Engine {
    pub fn new(
        db: DatabaseConnection,
        integrations: Arc<IntegrationService>,
        public_url: String,
        secrets: SecretBox,
        wake: Arc<Notify>,
    ) -> Arc<Self> {
        Arc::new(Self {
            db,
            integrations,
            owner: crate::ids::new_id("proc"),
            wake,
            public_url,
            secrets,
            running: Mutex::new(HashMap::new()),
            recorder: Mutex::new(None),
            held: Arc::new(Held::default()),
            stop: watch::channel(false).0,
        })
    }

    /// Work was queued: look now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Starts the engine; it runs until `shutdown`.
    pub fn start(self: &Arc<Self>) -> JoinHandle<()> {
        let (tx, rx) = mpsc::channel(256);
        *self.recorder.lock().expect("recorder lock") = Some(tx);
        let recorder = tokio::spawn(record_loop(self.db.clone(), rx, self.held.clone()));
        let this = self.clone();
        tokio::spawn(async move {
            let mut stop = this.stop.subscribe();
            let mut last_settle = Instant::now() - Duration::from_secs(3600);
            loop {
                if *stop.borrow() {
                    break;
                }
                if let Err(e) = this.tick().await {
                    tracing::warn!(error = %e, "delivery engine: looking for work failed");
                }
                if last_settle.elapsed() > Duration::from_secs(60) {
                    last_settle = Instant::now();
                    match queue::settle_unknown(&this.db, UNKNOWN_TIMEOUT.as_millis() as i64).await
                    {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(
                            count = n,
                            "unconfirmed ambiguous sends settled as failed"
                        ),
                        Err(e) => tracing::warn!(error = %e, "settling ambiguous sends failed"),
                    }
                }
                tokio::select! {
                    () = this.wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                    _ = stop.changed() => {}
                }
            }
            // Let every dispatcher finish or release what it holds.
            let handles: Vec<JoinHandle<()>> = this
                .running
                .lock()
                .expect("running lock")
                .drain()
                .map(|(_, h)| h)
                .collect();
            // Bounded: requests in flight end within the HTTP timeout; anything still stuck
            // after that is left to lease expiry, which hands it to the next process.
            let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
            for mut h in handles {
                if tokio::time::timeout_at(deadline, &mut h).await.is_err() {
                    tracing::warn!(
                        "a dispatcher did not stop in time; its integration lease will run out"
                    );
                    h.abort();
                }
            }
            this.recorder.lock().expect("recorder lock").take();
            if tokio::time::timeout_at(deadline + Duration::from_secs(5), recorder)
                .await
                .is_err()
            {
                tracing::warn!("delivery outcomes were still being recorded at shutdown");
            }
        })
    }

    /// Stops claiming, lets in-flight sends finish (or releases them) and records everything.
    pub async fn shutdown(&self, engine: JoinHandle<()>) {
        let _ = self.stop.send(true);
        let _ = engine.await;
    }

    async fn tick(self: &Arc<Self>) -> Result<(), sea_orm::DbErr> {
        let integrations = self.integrations.enabled_ids().await?;
        for id in integrations {
            {
                let mut running = self.running.lock().expect("running lock");
                running.retain(|_, h| !h.is_finished());
                if running.contains_key(&id) {
                    continue;
                }
            }
            if !queue::has_work(&self.db, &id).await? {
                continue;
            }
            let this = self.clone();
            let key = id.clone();
            let handle = tokio::spawn(async move {
                if let Err(e) = this.dispatch(&key).await {
                    tracing::warn!(integration = %key, error = %e, "dispatcher stopped");
                }
            });
            self.running
                .lock()
                .expect("running lock")
                .insert(id, handle);
        }
        Ok(())
    }

    fn recorder(&self) -> Option<mpsc::Sender<Record>> {
        self.recorder.lock().expect("recorder lock").clone()
    }

    /// Sends an integration's due work until there is none, the lease is lost or the engine
    /// stops.
    async fn dispatch(self: &Arc<Self>, integration_id: &str) -> Result<(), String> {
        let db = &self.db;
        let lease_until = |from: i64| from + INTEGRATION_LEASE.as_millis() as i64;
        let before = queue::integration_holder(db, integration_id)
            .await
            .map_err(|e| e.to_string())?;
        let asked = (Instant::now(), now_millis());
        if !queue::hold_integration(db, integration_id, &self.owner, lease_until(asked.1))
            .await
            .map_err(|e| e.to_string())?
        {
            // Another process sends through this integration.
            return Ok(());
        }
        let mut renewed = asked.0;
        // Taken over from another process whose lease ran out: it may still have had requests
        // open, and their messages stay pending until it records them. (A lease that had not
        // run out when it was asked for was released in between, after its holder recorded
        // everything.)
        let quiet_until = before
            .filter(|(owner, until)| *owner != self.owner && *until < asked.1)
            .map(|(_, expired_at)| expired_at + TAKEOVER_WAIT.as_millis() as i64);
        let result = match quiet_until {
            Some(until) => {
                tracing::info!(integration = %integration_id, "took the integration over from a process whose lease ran out; waiting for its last requests");
                self.wait_out(integration_id, until, &mut renewed).await
            }
            None => Ok(()),
        };
        let result = match result {
            Ok(()) => self.dispatch_held(integration_id, &mut renewed).await,
            Err(e) => Err(e),
        };
        // The lease is released only once everything this dispatcher sent is recorded, so
        // whoever takes the integration next reads none of it as pending.
        let flushed = match self.recorder() {
            Some(record) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                record.send(Record::Flush(tx)).await.is_ok()
                    && self
                        .renewing(integration_id, &mut renewed, rx)
                        .await
                        .is_ok_and(|recorded| recorded)
            }
            None => false,
        };
        match quiet_until.filter(|until| *until > now_millis()) {
            // Stopped before the takeover wait was over: the lease stays until its end, so
            // the next holder waits for the process before as well.
            Some(until) => {
                let _ = queue::hold_integration(db, integration_id, &self.owner, until).await;
            }
            // Outcomes this process could not record: the lease runs out on its own, and the
            // next holder waits after it.
            None if !flushed => {}
            None => {
                let _ = queue::release_integration(db, integration_id, &self.owner).await;
            }
        }
        result
    }

    /// Holds the integration's lease, without sending, until `until` (epoch ms).
    async fn wait_out(
        &self,
        integration_id: &str,
        until: i64,
        renewed: &mut Instant,
    ) -> Result<(), String> {
        let mut stop = self.stop.subscribe();
        loop {
            let left = until - now_millis();
            if left <= 0 || *stop.borrow() {
                return Ok(());
            }
            let nap = Duration::from_millis(left as u64).min(RENEW_EVERY);
            tokio::select! {
                () = tokio::time::sleep(nap) => {}
                _ = stop.changed() => {}
            }
            self.keep_lease(integration_id, renewed).await?;
        }
    }

    async fn dispatch_held(
        self: &Arc<Self>,
        integration_id: &str,
        renewed: &mut Instant,
    ) -> Result<(), String> {
        let Some(record) = self.recorder() else {
            return Ok(());
        };
        let (adapter, rate) = self
            .integrations
            .dispatch_adapter(integration_id)
            .await
            .map_err(|e| e.to_string())?;
        let adapter: Arc<dyn SmsProvider> = Arc::from(adapter);
        let rate = f64::from(rate.max(1));
        let in_flight = (rate as usize).clamp(2, 64);
        // About a second of sending per claim, so consent checked at claim time is fresh.
        let batch = (rate as u32).clamp(1, 500);
        let mut pacer = Pacer::new(rate);
        let throttle = Arc::new(Mutex::new(Throttle::default()));
        let mut stop = self.stop.subscribe();
        let mut flight = InFlight::new(&record);
        // The next batch is claimed while this one is sent, so the provider never waits on
        // the database.
        // Each claim searches on from the last one's last row, and from the start at least
        // once a second, after a short batch and after anything was handed back.
        let claim_next = |after: Option<DueKey>| {
            let (db, id, held) = (
                self.db.clone(),
                integration_id.to_owned(),
                self.held.clone(),
            );
            tokio::spawn(async move { claim_batch(&db, &id, &held, batch, after).await })
        };
        let mut searched_from_start = Instant::now();
        let mut next: Option<tokio::task::JoinHandle<Result<ClaimedBatch, String>>> = None;
        let result = 'outer: loop {
            if *stop.borrow() {
                break Ok(());
            }
            if let Err(e) = self.keep_lease(integration_id, renewed).await {
                break Err(e);
            }
            // A rate limit holds back claiming too, so nothing waits out its lease.
            let paused = throttle.lock().expect("throttle lock").paused_until;
            if next.is_none() {
                if let Some(until) = paused.filter(|u| *u > Instant::now()) {
                    flight
                        .wait_for(async {
                            tokio::select! {
                                () = tokio::time::sleep_until(until.min(Instant::now() + RENEW_EVERY)) => {}
                                _ = stop.changed() => {}
                            }
                        })
                        .await;
                    continue;
                }
            }
            let claim = next.take().unwrap_or_else(|| {
                searched_from_start = Instant::now();
                claim_next(None)
            });
            let claimed = match flight.wait_for(claim).await {
                // Nothing after the last position: the search from the start decides.
                Ok(Ok(b)) if b.claimed == 0 && b.after.is_some() => continue 'outer,
                Ok(Ok(b)) if b.claimed == 0 => break Ok(()),
                Ok(Ok(b)) => b,
                Ok(Err(e)) => break Err(e),
                Err(e) => break Err(e.to_string()),
            };
            let from = match claimed.last {
                Some(last)
                    if claimed.claimed == batch as usize
                        && searched_from_start.elapsed() < SEARCH_FROM_START_EVERY =>
                {
                    Some(last)
                }
                _ => {
                    searched_from_start = Instant::now();
                    None
                }
            };
            next = Some(claim_next(from));
            let claimed = claimed.items;
            let mut rest = claimed.into_iter();
            while let Some(item) = rest.next() {
                let held_back = throttle
                    .lock()
                    .expect("throttle lock")
                    .paused_until
                    .is_some_and(|u| u > Instant::now() + Duration::from_secs(1));
                if *stop.borrow() || held_back {
                    // Not attempted: back to the queue as it was, with the batch claimed ahead.
                    hand_back(&record, item.id, rest, next.take()).await;
                    continue 'outer;
                }
                let paused = throttle.lock().expect("throttle lock").paused_until;
                let go = flight
                    .wait_for(async {
                        tokio::select! {
                            () = pacer.wait(item.segments, paused) => true,
                            _ = stop.changed() => false,
                        }
                    })
                    .await;
                if !go {
                    hand_back(&record, item.id, rest, next.take()).await;
                    continue 'outer;
                }
                while flight.sending.len() >= in_flight {
                    flight.pump().await;
                }
                // Waiting for the pacer and a free slot can take a while: no request starts
                // unless the lease was renewed in the last few seconds, so one that another
                // process took over never sees a request of this one start afterwards.
                let lease = self.keep_lease(integration_id, renewed).await;
                if *stop.borrow() || lease.is_err() {
                    hand_back(&record, item.id, rest, next.take()).await;
                    match lease {
                        Err(e) => break 'outer Err(e),
                        Ok(()) => continue 'outer,
                    }
                }
                let (id, attempts, keeps_answer) = (item.id, item.attempts, item.keeps_answer);
                let sms = OutgoingSms {
                    to: item.recipient,
                    body: item.body,
                    unicode: item.unicode,
                    status_callback: Some(format!(
                        "{}/webhooks/sms/{}/status?d={}.{}",
                        self.public_url,
                        integration_id,
                        id,
                        self.secrets.callback_tag(integration_id, id)
                    )),
                    reference: id.to_string(),
                };
                let adapter = adapter.clone();
                let throttle = throttle.clone();
                flight.sending.push(Box::pin(async move {
                    let result = adapter.send(&sms).await;
                    let mut outcome = outcome_of(attempts, result, &throttle);
                    if let Outcome::Accepted { answer, .. } = &mut outcome {
                        if !keeps_answer {
                            answer.body.clear();
                        }
                    }
                    (id, outcome)
                }));
            }
        };
        release_ahead(&record, next.take()).await;
        // The requests in flight finish, and everything is handed to the recorder.
        self.renewing(integration_id, renewed, flight.finish())
            .await;
        result
    }

    /// Waits for `work` while renewing the integration lease: requests still open and
    /// outcomes not yet recorded keep the integration from passing to another process.
    async fn renewing<T>(
        &self,
        integration_id: &str,
        renewed: &mut Instant,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                () = tokio::time::sleep(RENEW_EVERY) => {
                    if let Err(e) = self.keep_lease(integration_id, renewed).await {
                        tracing::warn!(integration = %integration_id, error = %e, "could not keep the integration lease while finishing");
                    }
                }
            }
        }
    }

    /// Renews the integration lease when due; an error means this process must stop sending
    /// through the integration.
    async fn keep_lease(&self, integration_id: &str, renewed: &mut Instant) -> Result<(), String> {
        if renewed.elapsed() >= RENEW_EVERY {
            // The lease runs from before the renewal, however long the query takes.
            let asked = Instant::now();
            let until = now_millis() + INTEGRATION_LEASE.as_millis() as i64;
            match queue::hold_integration(&self.db, integration_id, &self.owner, until).await {
                Ok(true) => *renewed = asked,
                Ok(false) => return Err("the integration lease passed to another process".into()),
                Err(e) => tracing::warn!(error = %e, "renewing an integration lease failed"),
            }
        }
        if renewed.elapsed() >= LEASE_SAFE {
            return Err("could not renew the integration lease in time".into());
        }
        Ok(())
    }
}

/// A claimed batch: how many rows were claimed, and those still to send (the rest were
/// skipped because their customer opted out meanwhile).
struct ClaimedBatch {
    claimed: usize,
    items: Vec<Claimed>,
    /// Where the search started (`None`: from the start) and the last row it claimed.
    after: Option<DueKey>,
    last: Option<DueKey>,
}

/// Claims about a second of work, skips the opted out and holds the rest.
async fn claim_batch(
    db: &DatabaseConnection,
    integration_id: &str,
    held: &Held,
    batch: u32,
    after: Option<DueKey>,
) -> Result<ClaimedBatch, String> {
    let claimed = queue::claim(db, integration_id, batch, after, held)
        .await
        .map_err(|e| e.to_string())?;
    let last = claimed.iter().map(Claimed::due_key).max();
    // On an error nothing is held: the messages stay pending for the next claim.
    let skipped = queue::skip_opted_out(db, &claimed)
        .await
        .map_err(|e| e.to_string())?;
    let items: Vec<Claimed> = claimed
        .iter()
        .filter(|c| !skipped.contains(&c.id))
        .cloned()
        .collect();
    held.hold(integration_id, &items);
    Ok(ClaimedBatch {
        after,
        last,
        claimed: claimed.len(),
        items,
    })
}

/// Hands back, unattempted, a message, the rest of its batch and the batch claimed ahead.
async fn hand_back(
    record: &mpsc::Sender<Record>,
    first: i64,
    rest: impl Iterator<Item = Claimed>,
    ahead: Option<tokio::task::JoinHandle<Result<ClaimedBatch, String>>>,
) {
    release(record, std::iter::once(first).chain(rest.map(|r| r.id))).await;
    release_ahead(record, ahead).await;
}

/// Hands back a batch claimed ahead and not started.
async fn release_ahead(
    record: &mpsc::Sender<Record>,
    next: Option<tokio::task::JoinHandle<Result<ClaimedBatch, String>>>,
) {
    if let Some(handle) = next {
        if let Ok(Ok(batch)) = handle.await {
            release(record, batch.items.into_iter().map(|c| c.id)).await;
        }
    }
}

async fn release(record: &mpsc::Sender<Record>, ids: impl Iterator<Item = i64>) {
    let released: Vec<_> = ids.map(|id| (id, Outcome::Released)).collect();
    if !released.is_empty() {
        let _ = record.send(Record::Outcomes(released)).await;
    }
}

/// Outcomes are handed to the recorder this many at a time, or this long after the first
/// of them finished, whichever comes first.
const HAND_OVER_AT: usize = 200;
const HAND_OVER_AFTER: Duration = Duration::from_millis(20);

/// A dispatcher's requests in flight. They are polled by the dispatcher's own task, the way
/// a plain HTTP client loop drives its requests: a task and a channel message per message
/// cost more than the sending itself at high rates. Finished requests' outcomes go to the
/// recorder in batches.
struct InFlight<'a> {
    sending: FuturesUnordered<BoxFuture<'static, (i64, Outcome)>>,
    done: Outcomes,
    /// When the oldest outcome in `done` finished.
    oldest: Option<Instant>,
    record: &'a mpsc::Sender<Record>,
}

impl<'a> InFlight<'a> {
    fn new(record: &'a mpsc::Sender<Record>) -> Self {
        Self {
            sending: FuturesUnordered::new(),
            done: Vec::new(),
            oldest: None,
            record,
        }
    }

    /// Hands the finished outcomes to the recorder. Cancel-safe: nothing is taken until the
    /// channel has room.
    async fn hand_over(&mut self) {
        if self.done.is_empty() {
            return;
        }
        if let Ok(permit) = self.record.reserve().await {
            permit.send(Record::Outcomes(std::mem::take(&mut self.done)));
        }
        self.oldest = None;
    }

    /// Waits for one request to finish or for finished outcomes to be due at the recorder;
    /// never returns while there is neither. Cancel-safe.
    async fn pump(&mut self) {
        let due = self.oldest.map(|t| t + HAND_OVER_AFTER);
        tokio::select! {
            biased;
            Some(done) = self.sending.next(), if !self.sending.is_empty() => {
                self.oldest.get_or_insert_with(Instant::now);
                self.done.push(done);
                if self.done.len() >= HAND_OVER_AT {
                    self.hand_over().await;
                }
            }
            () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                self.hand_over().await;
            }
            else => std::future::pending::<()>().await,
        }
    }

    /// Waits for `work`, meanwhile keeping the requests in flight moving.
    async fn wait_for<T>(&mut self, work: impl std::future::Future<Output = T>) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                out = &mut work => return out,
                () = self.pump() => {}
            }
        }
    }

    /// Waits for every request in flight and hands everything over.
    async fn finish(&mut self) {
        while !self.sending.is_empty() {
            self.pump().await;
        }
        self.hand_over().await;
    }
}

/// Consecutive 429s without a Retry-After slow the whole integration down, not one message.
#[derive(Default)]
struct Throttle {
    paused_until: Option<Instant>,
    streak: u32,
}

fn outcome_of(
    attempts: u32,
    result: Result<crate::providers::Accepted, Failure>,
    throttle: &Mutex<Throttle>,
) -> Outcome {
    let now = now_millis();
    match result {
        Ok(a) => {
            throttle.lock().expect("throttle lock").streak = 0;
            Outcome::Accepted {
                provider_id: a.provider_id,
                segments: a.segments,
                answer: a.raw,
            }
        }
        Err(Failure::Permanent { code, message, raw }) => Outcome::Failed {
            code,
            message,
            answer: raw,
        },
        Err(Failure::Retryable {
            code,
            message,
            retry_after,
            raw,
            throttled: true,
        }) => {
            // Rate limited: nothing was sent, so no attempt is used; everything pauses.
            let mut t = throttle.lock().expect("throttle lock");
            t.streak = t.streak.saturating_add(1);
            let wait = retry_after
                .unwrap_or_else(|| backoff(t.streak, BACKOFF_BASE / 2, Duration::from_secs(60)));
            let until = Instant::now() + wait;
            t.paused_until = Some(t.paused_until.map_or(until, |p| p.max(until)));
            Outcome::Retry {
                at: now + wait.as_millis() as i64,
                counts: false,
                code,
                message,
                answer: raw,
            }
        }
        Err(Failure::Retryable {
            code,
            message,
            raw,
            throttled: false,
            ..
        }) => {
            let attempt = attempts + 1;
            if attempt >= MAX_ATTEMPTS {
                Outcome::Failed {
                    code,
                    message: format!("{message} (gave up after {attempt} attempts)"),
                    answer: raw,
                }
            } else {
                Outcome::Retry {
                    at: now + backoff(attempt, BACKOFF_BASE, BACKOFF_CAP).as_millis() as i64,
                    counts: true,
                    code,
                    message,
                    answer: raw,
                }
            }
        }
        Err(Failure::Ambiguous { message, raw }) => Outcome::Unknown {
            message,
            answer: raw,
        },
    }
}

/// Exponential backoff with full jitter: a random wait up to base·2^(n-1), capped, at least
/// half of it, so retries of a burst spread out instead of returning together.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let ceiling = exp.min(cap);
    let half = ceiling / 2;
    half + ceiling.mul_f64(rand::thread_rng().gen_range(0.0..0.5))
}

const TIMER_TICK: Duration = Duration::from_millis(1);

/// Paces sends to `rate` segments per second: each message's segments move the next start
/// time on by segments/rate (a leaky bucket without burst), so a minute of sending takes a
/// minute whatever the batch sizes.
pub struct Pacer {
    per_segment: Duration,
    next: Instant,
}

impl Pacer {
    pub fn new(rate: f64) -> Self {
        Self {
            per_segment: Duration::from_secs_f64(1.0 / rate.max(0.001)),
            next: Instant::now(),
        }
    }

    pub async fn wait(&mut self, segments: u32, paused_until: Option<Instant>) {
        let now = Instant::now();
        let mut start = self.next.max(now);
        if let Some(p) = paused_until {
            start = start.max(p);
        }
        // The timer ticks in milliseconds: starts less than one ahead go now, and the schedule
        // (not the clock) moves on, so the average rate stays exact at any speed.
        if start > now + TIMER_TICK {
            tokio::time::sleep_until(start).await;
        }
        self.next = start + self.per_segment * segments.max(1);
    }
}

/// Writes outcomes in batches: whatever has arrived, up to about 1,000 at a time. What is
/// written is no longer held; a flush is answered once everything before it is written.
async fn record_loop(db: DatabaseConnection, mut rx: mpsc::Receiver<Record>, held: Arc<Held>) {
    let mut pending: Option<Record> = None;
    // Whether everything since the last flush was recorded.
    let mut all_recorded = true;
    loop {
        let first = match pending.take() {
            Some(r) => r,
            None => match rx.recv().await {
                Some(r) => r,
                None => break,
            },
        };
        let mut batch = match first {
            Record::Flush(done) => {
                let _ = done.send(std::mem::replace(&mut all_recorded, true));
                continue;
            }
            Record::Outcomes(o) => o,
        };
        while batch.len() < 1000 {
            match rx.try_recv() {
                Ok(Record::Outcomes(more)) => batch.extend(more),
                // Answered after this batch is written.
                Ok(flush) => {
                    pending = Some(flush);
                    break;
                }
                Err(_) => break,
            }
        }
        let mut tries = 0;
        loop {
            match queue::record(&db, &batch).await {
                Ok(()) => {
                    held.release(batch.iter().map(|(id, _)| *id));
                    break;
                }
                Err(e) if tries < 5 => {
                    tries += 1;
                    tracing::warn!(error = %e, "recording delivery outcomes failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, count = batch.len(), "could not record delivery outcomes");
                    if !record_one_by_one(&db, &batch, &held, &e).await {
                        all_recorded = false;
                    }
                    break;
                }
            }
        }
    }
}

/// After a batch could not be written: each outcome on its own, so one row the database
/// refuses does not keep the others unrecorded, and a row whose outcome cannot be written
/// leaves the queue marked `unrecorded` rather than be sent again. Returns whether every
/// message left the queue or was handed back. With the database unreachable nothing is
/// tried: what may have gone out stays held, so this process never sends it again.
async fn record_one_by_one(
    db: &DatabaseConnection,
    batch: &[(i64, Outcome)],
    held: &Held,
    error: &sea_orm::DbErr,
) -> bool {
    use sea_orm::DbErr;
    if matches!(error, DbErr::Conn(_) | DbErr::ConnectionAcquire(_)) {
        held.release(
            batch
                .iter()
                .filter_map(|(id, o)| matches!(o, Outcome::Released).then_some(*id)),
        );
        return false;
    }
    let mut all = true;
    for item in batch {
        let (id, outcome) = item;
        if queue::record(db, std::slice::from_ref(item)).await.is_ok() {
            held.release([*id]);
            continue;
        }
        let may_have_gone = matches!(outcome, Outcome::Accepted { .. } | Outcome::Unknown { .. });
        match queue::mark_unrecorded(db, *id, may_have_gone, &error.to_string()).await {
            Ok(()) => held.release([*id]),
            Err(e) => {
                tracing::error!(delivery = id, error = %e, "a delivery outcome could not be recorded");
                all = false;
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let base = Duration::from_secs(2);
        let cap = Duration::from_secs(300);
        for attempt in 1..20 {
            let d = backoff(attempt, base, cap);
            let ceiling = (base * 2u32.pow((attempt - 1).min(16))).min(cap);
            assert!(d >= ceiling / 2 && d <= ceiling, "{attempt}: {d:?}");
        }
        let spread: std::collections::HashSet<u128> =
            (0..20).map(|_| backoff(5, base, cap).as_millis()).collect();
        assert!(spread.len() > 1, "jitter spreads retries");
    }

    #[tokio::test]
    async fn the_pacer_spends_segments_over_time_without_bursts() {
        let mut pacer = Pacer::new(1000.0);
        let start = Instant::now();
        for _ in 0..50 {
            pacer.wait(2, None).await;
        }
        // 100 segments at 1,000/s: the last one starts 98 ms after the first (less one timer
        // tick), not before.
        assert!(
            start.elapsed() >= Duration::from_millis(97),
            "{:?}",
            start.elapsed()
        );
        // A pause holds everything back.
        let until = Instant::now() + Duration::from_millis(50);
        pacer.wait(1, Some(until)).await;
        assert!(Instant::now() >= until);
    }
}
