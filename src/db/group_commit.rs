//! Group commit: writes made at the same moment share one transaction, so that one write to
//! disk (the slow part of a durable commit) acknowledges them all. Two kinds of write go
//! this way, the busiest: new actions, and the delivery worker's "sent" marks.
//!
//! A task per process takes everything waiting in its queue, writes it together
//! (`actions::write_batch`) and only then answers each caller. There is no waiting for
//! company: a lone write goes at once, and while one transaction commits, the writes
//! arriving meanwhile gather for the next. Should a shared transaction fail, each of its
//! writes is tried again alone, so that one bad row cannot fail its neighbours.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::db::actions::{NewAction, write_batch, write_batch_with};
use crate::db::{Db, DbError, Writer};

/// Most writes in one transaction.
const MAX_BATCH: usize = 256;
/// How long the task keeps its writing connection while writes keep coming, rather than
/// give it back and take it again for each transaction. Other writers (on SQLite there is
/// one connection) wait this long at most.
const HOLD: Duration = Duration::from_millis(20);
/// Writes waiting beyond this make callers wait for room (back-pressure).
const QUEUE: usize = 4096;

/// A delivered message to mark sent, if `owner` still holds its lease.
#[derive(Debug, Clone)]
pub(crate) struct SentMark {
    pub id: i64,
    pub owner: String,
}

enum Job {
    Action(Box<NewAction>, oneshot::Sender<Result<Option<i64>, DbError>>),
    Sent(SentMark, oneshot::Sender<Result<bool, DbError>>),
}

/// The queue of a database handle's committer; shared by its clones.
#[derive(Default, Clone)]
pub(crate) struct Committer {
    sender: Arc<Mutex<Option<mpsc::Sender<Job>>>>,
}

impl Committer {
    /// The queue, starting the committing task on this runtime if there is none running
    /// (none yet, or the runtime that ran it has ended, as between tests).
    fn queue(&self, db: &Db) -> mpsc::Sender<Job> {
        let mut slot = self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = slot.as_ref().filter(|sender| !sender.is_closed()) {
            return sender.clone();
        }
        let (sender, receiver) = mpsc::channel(QUEUE);
        // The task's own handle has no queue of its own: when every other handle is gone,
        // the queue closes and the task ends.
        let writer = Db { committer: Committer::default(), ..db.clone() };
        tokio::spawn(run(writer, receiver));
        *slot = Some(sender.clone());
        sender
    }
}

/// Stores the action with whatever else is being written; returns once it is committed.
pub(crate) async fn submit(db: &Db, action: NewAction) -> Result<Option<i64>, DbError> {
    let (reply, answer) = oneshot::channel();
    match db.committer.queue(db).send(Job::Action(Box::new(action), reply)).await {
        Ok(()) => answer.await.unwrap_or_else(|_| Err(stopped())),
        // The queue closed between taking it and sending: write alone.
        Err(mpsc::error::SendError(Job::Action(action, _))) => Ok(write_batch(db, &[*action], &[]).await?.0[0]),
        Err(_) => Err(stopped()),
    }
}

/// Marks a delivered message sent, with whatever else is being written; returns once it is
/// committed, and whether `owner` still held the message.
pub(crate) async fn mark_sent(db: &Db, mark: SentMark) -> Result<bool, DbError> {
    let (reply, answer) = oneshot::channel();
    match db.committer.queue(db).send(Job::Sent(mark, reply)).await {
        Ok(()) => answer.await.unwrap_or_else(|_| Err(stopped())),
        Err(mpsc::error::SendError(Job::Sent(mark, _))) => Ok(write_batch(db, &[], &[mark]).await?.1[0]),
        Err(_) => Err(stopped()),
    }
}

/// The task ended with its runtime before answering: nothing was acknowledged.
fn stopped() -> DbError {
    DbError::Unavailable("the committing task stopped".into())
}

async fn run(db: Db, mut receiver: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    let mut held: Option<(Writer, Instant)> = None;
    loop {
        // Keep the connection only while writes are already waiting, and not for too long.
        if held.as_ref().is_some_and(|(_, since)| receiver.is_empty() || since.elapsed() >= HOLD) {
            held = None;
        }
        if receiver.recv_many(&mut jobs, MAX_BATCH).await == 0 {
            break;
        }
        let (mut actions, mut action_replies, mut marks, mut mark_replies) = (vec![], vec![], vec![], vec![]);
        for job in jobs.drain(..) {
            match job {
                Job::Action(action, reply) => {
                    actions.push(*action);
                    action_replies.push(reply);
                }
                Job::Sent(mark, reply) => {
                    marks.push(mark);
                    mark_replies.push(reply);
                }
            }
        }
        let written = match &mut held {
            Some((writer, _)) => write_batch_with(&db, writer, &actions, &marks).await,
            None => match db.writer().await {
                Ok(writer) => {
                    write_batch_with(&db, &mut held.insert((writer, Instant::now())).0, &actions, &marks).await
                }
                Err(error) => Err(error),
            },
        };
        if written.is_err() {
            // Not knowing what state the connection is in, give it back.
            held = None;
        }
        match written {
            Ok((ids, marked)) => {
                for (reply, id) in action_replies.into_iter().zip(ids) {
                    let _ = reply.send(Ok(id));
                }
                for (reply, done) in mark_replies.into_iter().zip(marked) {
                    let _ = reply.send(Ok(done));
                }
            }
            Err(error) if actions.len() + marks.len() == 1 => {
                if let Some(reply) = action_replies.into_iter().next() {
                    let _ = reply.send(Err(error));
                } else if let Some(reply) = mark_replies.into_iter().next() {
                    let _ = reply.send(Err(error));
                }
            }
            Err(error) => {
                tracing::warn!(%error, writes = actions.len() + marks.len(), "a shared transaction failed; writing one by one");
                for (action, reply) in actions.into_iter().zip(action_replies) {
                    let _ = reply.send(write_batch(&db, &[action], &[]).await.map(|(ids, _)| ids[0]));
                }
                for (mark, reply) in marks.into_iter().zip(mark_replies) {
                    let _ = reply.send(write_batch(&db, &[], &[mark]).await.map(|(_, marked)| marked[0]));
                }
            }
        }
    }
}
