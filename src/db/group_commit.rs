//! Group commit: actions submitted at the same moment are written in one transaction, so
//! that one write to disk (the slow part of a durable commit) acknowledges them all.
//!
//! A task per process takes every action waiting in its queue, writes them together
//! (`actions::insert_many`) and only then answers each submitter. There is no waiting for
//! company: a lone action is written at once, and while one transaction commits, the
//! actions arriving meanwhile gather for the next. Should a shared transaction fail, each
//! of its actions is tried again alone, so that one bad action cannot fail its neighbours.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::db::actions::{NewAction, insert_many};
use crate::db::{Db, DbError};

/// Most actions in one transaction.
const MAX_BATCH: usize = 256;
/// Actions waiting beyond this make submitters wait for room (back-pressure).
const QUEUE: usize = 4096;

struct Job {
    action: NewAction,
    reply: oneshot::Sender<Result<Option<i64>, DbError>>,
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

/// Stores the action with whatever else is being submitted; returns once it is committed.
pub(crate) async fn submit(db: &Db, action: NewAction) -> Result<Option<i64>, DbError> {
    let (reply, answer) = oneshot::channel();
    let job = Job { action, reply };
    match db.committer.queue(db).send(job).await {
        Ok(()) => match answer.await {
            Ok(result) => result,
            // The task ended with the runtime before answering: nothing was acknowledged.
            Err(_) => Err(DbError::Unavailable("the committing task stopped".into())),
        },
        // The queue closed between taking it and sending: write alone.
        Err(mpsc::error::SendError(job)) => Ok(insert_many(db, std::slice::from_ref(&job.action)).await?[0]),
    }
}

async fn run(db: Db, mut receiver: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (actions, replies): (Vec<NewAction>, Vec<_>) = jobs.drain(..).map(|job| (job.action, job.reply)).unzip();
        match insert_many(&db, &actions).await {
            Ok(ids) => {
                for (reply, id) in replies.into_iter().zip(ids) {
                    let _ = reply.send(Ok(id));
                }
            }
            Err(error) if actions.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(error));
                }
            }
            Err(error) => {
                tracing::warn!(%error, actions = actions.len(), "a shared transaction failed; writing its actions one by one");
                for (action, reply) in actions.iter().zip(replies) {
                    let result = insert_many(&db, std::slice::from_ref(action)).await.map(|ids| ids[0]);
                    let _ = reply.send(result);
                }
            }
        }
    }
}
