//! The write path: the node's writer task (group commit) and the ledger
//! entries and projections it writes in one transaction per batch.
//!
//! This file holds the entry point ([`writer`]), the batch's transaction
//! ([`commit`]), the requests as prepared before it and the dispatch of a
//! batch between the set-based path and the message-at-a-time path
//! ([`Writer::run_all`]). The rest is one concern a file:
//! - `chain`: the origin's locked chain head and the ledger entry insert
//!   (reused by draw freezes, winners loads and imports);
//! - `batch`: the set-based (`UNNEST`) path for runs of invoices;
//! - `one_by_one`: the message-at-a-time checks and append;
//! - `projection`: the invoice, held, allowance and track projection writes;
//! - `sql`: the named statements and the partition DDL;
//! - `columns`: conversions between domain values and column types.

mod batch;
mod chain;
mod columns;
#[cfg(test)]
mod explain_batch;
mod one_by_one;
mod projection;
pub(crate) mod sql;

pub(crate) use chain::{Head, Writer, append_event_in};
pub(crate) use columns::{hash_of, period_key, to_i64, to_u64};

use crate::error::DbError;
use crate::{Job, MAX_BATCH, Shared};
use batch::{Lookups, Pending, leading_run};
use einvoice_core::{Facts, Validated};
use einvoice_store::{AdmittedMessage, AppendOutcome, NewEntry, Receipt, Rejection, StoreError};
use futures_util::future::try_join;
use sql::LOCK_HEAD;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;

/// What one caller asked to append.
pub(crate) enum Request {
    /// Messages admitted by the caller's scope, or their rejections.
    Messages {
        actor: String,
        messages: Vec<Result<AdmittedMessage, Rejection>>,
    },
    /// One event entry (operator actions, carrier and draw events).
    Event(NewEntry),
}

impl Request {
    fn weight(&self) -> usize {
        match self {
            Self::Messages { messages, .. } => messages.len(),
            Self::Event(_) => 1,
        }
    }
}

/// What one request produced, before the commit.
enum Output {
    Messages(Vec<AppendOutcome>),
    Event(Receipt),
}

impl Job {
    fn input(&self) -> &Request {
        match self {
            Job::Append { input, .. } | Job::Event { input, .. } => input,
        }
    }

    fn deliver(self, result: Result<Output, StoreError>) {
        match (self, result) {
            (Job::Append { reply, .. }, Ok(Output::Messages(v))) => {
                let _ = reply.send(Ok(v));
            }
            (Job::Event { reply, .. }, Ok(Output::Event(r))) => {
                let _ = reply.send(Ok(r));
            }
            (Job::Append { reply, .. }, Err(e)) => {
                let _ = reply.send(Err(e));
            }
            (Job::Event { reply, .. }, Err(e)) => {
                let _ = reply.send(Err(e));
            }
            (Job::Append { reply, .. }, Ok(Output::Event(_))) => {
                let _ = reply.send(Err(StoreError::Backend("writer mixed up replies".into())));
            }
            (Job::Event { reply, .. }, Ok(Output::Messages(_))) => {
                let _ = reply.send(Err(StoreError::Backend("writer mixed up replies".into())));
            }
        }
    }
}

/// The node's writer task: take what is queued (up to [`MAX_BATCH`]
/// messages), commit it as one transaction, then answer every caller. Ends
/// when every [`crate::PgStore`] handle of the node is dropped.
pub(crate) async fn writer(shared: Arc<Shared>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut weight = first.input().weight();
        let mut jobs = vec![first];
        while weight < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => {
                    weight += j.input().weight();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let inputs: Vec<&Request> = jobs.iter().map(Job::input).collect();
        match commit(&shared, &inputs).await {
            Ok(outputs) => {
                for (job, out) in jobs.into_iter().zip(outputs) {
                    job.deliver(Ok(out));
                }
            }
            // One request's failure must not fail the others: run each alone.
            Err(e) if jobs.len() > 1 && !matches!(e, StoreError::Unavailable(_)) => {
                for job in jobs {
                    let result = commit(&shared, &[job.input()])
                        .await
                        .and_then(|mut v| v.pop().ok_or_else(|| backend("no output")));
                    job.deliver(result);
                }
            }
            Err(e) => {
                for job in jobs {
                    job.deliver(Err(e.clone()));
                }
            }
        }
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Run `inputs` in one transaction (retried as a whole on serialization
/// failures, deadlocks and writer races) and commit.
async fn commit(shared: &Shared, inputs: &[&Request]) -> Result<Vec<Output>, StoreError> {
    let site = shared.site.as_str();
    let known = &shared.partitions;
    // Scope checks, natural keys and canonical bodies need no database:
    // computed once, before the transaction (and its retries).
    let prepared: Vec<Prepared<'_>> = inputs.iter().map(|r| prepare(r)).collect();
    let prepared = &prepared;
    let (outputs, created) = shared
        .run(true, |mut c| async move {
            let result = async {
                let t = c.transaction().await?;
                // Every statement prepared first, so that below the lock and
                // the lookups go out in this order, in one round trip.
                let (lock, _) = try_join(
                    async { Ok::<_, DbError>(t.prepare_cached(LOCK_HEAD).await?) },
                    Lookups::prepare(&t),
                )
                .await?;
                let lead = leading_run(prepared);
                // The server runs pipelined statements in order: the lookups
                // start (each with a fresh snapshot) only once the head row
                // is locked, so they see every commit before ours.
                let ((mut w, locked), pre) = try_join(
                    Writer::begin(&t, site, known, &lock),
                    Lookups::fetch(&t, &lead),
                )
                .await?;
                // Without a head row to lock, the lookups ran unlocked: redo them.
                let pre = if locked { Some(pre) } else { None };
                w.use_bodies(&shared.bodies).await?;
                let outputs = w.run_all(prepared, pre).await?;
                w.finish().await?;
                let trained = w.settle_bodies().await?;
                let created = std::mem::take(&mut w.created);
                t.commit().await?;
                if trained {
                    shared.bodies.forget_none();
                }
                Ok::<_, DbError>((outputs, created))
            }
            .await;
            if let Err(e) = &result
                && e.code() == Some(&SqlState::CHECK_VIOLATION)
                && let Ok(mut k) = known.lock()
            {
                // "no partition of relation found for row": a partition this
                // node remembered was detached. Forget them all; the retry
                // creates what is missing.
                k.clear();
            }
            result
        })
        .await?;
    if let Ok(mut k) = known.lock() {
        k.extend(created);
    }
    Ok(outputs)
}

impl<'a, 't> Writer<'a, 't> {
    /// Run every prepared request in order. Consecutive invoices (F0401 /
    /// A0101), across requests too, are handled set-based by
    /// [`Writer::flush`]; anything else flushes them first and then runs one
    /// message at a time, so every message sees exactly what the ones before
    /// it wrote, as if appended one by one.
    ///
    /// `pre` holds the lookups of the leading run (see [`leading_run`]),
    /// fetched under the lock together with it, when available.
    async fn run_all(
        &mut self,
        inputs: &[Prepared<'_>],
        mut pre: Option<Lookups>,
    ) -> Result<Vec<Output>, DbError> {
        let mut slots: Vec<Vec<Option<AppendOutcome>>> = inputs
            .iter()
            .map(|p| match p {
                Prepared::Messages { messages, .. } => messages.iter().map(|_| None).collect(),
                Prepared::Event(_) => Vec::new(),
            })
            .collect();
        let mut events: Vec<Option<Receipt>> = inputs.iter().map(|_| None).collect();
        let mut run: Vec<Pending<'_>> = Vec::new();
        for (r, input) in inputs.iter().enumerate() {
            match input {
                Prepared::Messages { actor, messages } => {
                    for (m, prepped) in messages.iter().enumerate() {
                        match prepped {
                            Err(rejection) => slots[r][m] = Some(Err(rejection.clone())),
                            Ok(p) => match &p.v.facts {
                                Facts::Invoice(f) => run.push(Pending { r, m, actor, p, f }),
                                _ => {
                                    self.flush(&mut run, &mut slots, pre.take(), false).await?;
                                    slots[r][m] = Some(self.append_one(actor, p).await?);
                                }
                            },
                        }
                    }
                }
                Prepared::Event(e) => {
                    self.flush(&mut run, &mut slots, pre.take(), false).await?;
                    events[r] = Some(self.push(&e.kind, &e.key, &e.actor, &e.body, false).await?);
                }
            }
        }
        self.flush(&mut run, &mut slots, pre.take(), true).await?;
        inputs
            .iter()
            .zip(slots)
            .zip(events)
            .map(|((input, slot), event)| match input {
                Prepared::Messages { .. } => slot
                    .into_iter()
                    .map(|o| o.ok_or_else(|| DbError::Store(backend("a message got no outcome"))))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Output::Messages),
                Prepared::Event(_) => event
                    .map(Output::Event)
                    .ok_or_else(|| DbError::Store(backend("an event got no receipt"))),
            })
            .collect()
    }
}

/// A message checked and encoded before the transaction.
struct Prepped<'a> {
    v: &'a Validated,
    kind: &'static str,
    key: String,
    body: Vec<u8>,
}

/// One request, prepared: messages outside the caller's scope are answered
/// already (`TENANT_SCOPE` needs no database).
enum Prepared<'a> {
    Messages {
        actor: &'a str,
        messages: Vec<Result<Prepped<'a>, Rejection>>,
    },
    Event(&'a NewEntry),
}

// `Rejection` is the trait's own type; its size is not ours to change.
#[allow(clippy::result_large_err)]
fn prepare(input: &Request) -> Prepared<'_> {
    match input {
        Request::Messages { actor, messages } => Prepared::Messages {
            actor,
            messages: messages
                .iter()
                .map(|m| {
                    let v = m.as_ref().map_err(Clone::clone)?.message();
                    Ok(Prepped {
                        v,
                        kind: v.kind().as_str(),
                        key: v.key().to_key_string(),
                        body: einvoice_mig::canonical(&v.message),
                    })
                })
                .collect(),
        },
        Request::Event(e) => Prepared::Event(e),
    }
}
