//! Group commit: writes made at the same moment share one transaction, so that one write to
//! disk (the slow part of a durable commit) acknowledges them all. Two kinds of write go
//! this way, the busiest: new actions, and the delivery worker's "sent" marks.
//!
//! A task per process takes everything waiting in its queue, writes it together
//! (`actions::write_batch`) and only then answers each caller. There is no waiting for
//! company: a lone write goes at once, and while one transaction commits, the writes
//! arriving meanwhile gather for the next. Should a shared transaction fail, each of its
//! writes is tried again alone, so that one bad row cannot fail its neighbours.
//!
//! On a SQLite file the wait for the disk is taken out of the writing: a transaction
//! commits to the write-ahead log without syncing it, and a second task syncs the log and
//! only then answers the callers, while the first writes the next transaction. A caller is
//! still answered only once its write is on disk (a sync of the log covers every commit
//! before it); the log's sync took a third of each transaction's time, during which
//! nothing could be written (measured). Should a sync fail, no later write can be trusted
//! to be on disk either (the kernel may have dropped the pages that failed), so every
//! later one is refused until the server restarts. Nothing leaves the server for a write
//! still unsynced either: the delivery worker claims a message in a transaction of its own
//! that commits with a sync of the log, which covers every frame written before it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::db::actions::{Durability, NewAction, export_sqlite_path, write_batch, write_batch_with};
use crate::db::{Db, DbError, Writer};

/// Most writes in one transaction.
const MAX_BATCH: usize = 256;
/// How long the task keeps its writing connection while writes keep coming, rather than
/// give it back and take it again for each transaction. Other writers (on SQLite there is
/// one connection) wait this long at most.
const HOLD: Duration = Duration::from_millis(20);
/// Writes waiting beyond this make callers wait for room (back-pressure).
const QUEUE: usize = 4096;
/// Committed transactions waiting for the log's sync beyond this make the writing wait.
const UNSYNCED: usize = 64;

/// A delivered message to mark sent, if `owner` still holds its lease.
#[derive(Debug, Clone)]
pub(crate) struct SentMark {
    pub id: i64,
    pub owner: String,
}

enum Job {
    Action(Box<NewAction>, Reply<Option<i64>>),
    Sent(SentMark, Reply<bool>),
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

/// Where a caller waits for its write's outcome.
type Reply<T> = oneshot::Sender<Result<T, DbError>>;

/// The answers to the callers of a committed transaction.
struct Answers {
    actions: Vec<(Reply<Option<i64>>, Option<i64>)>,
    marks: Vec<(Reply<bool>, bool)>,
}

impl Answers {
    /// Answers each caller: with what was written, or with the error that kept it from
    /// the disk.
    fn send(self, outcome: Result<(), &str>) {
        for (reply, id) in self.actions {
            let _ = reply.send(outcome.map(|()| id).map_err(|e| DbError::Unavailable(e.to_string())));
        }
        for (reply, done) in self.marks {
            let _ = reply.send(outcome.map(|()| done).map_err(|e| DbError::Unavailable(e.to_string())));
        }
    }
}

async fn run(db: Db, mut receiver: mpsc::Receiver<Job>) {
    // On a SQLite file, the log is synced by a task of its own (see the top of this file).
    let syncer = export_sqlite_path(&db).map(|path| {
        let (sender, answers) = mpsc::channel(UNSYNCED);
        let mut log = path.into_os_string();
        log.push("-wal");
        tokio::spawn(sync_log(PathBuf::from(log), answers));
        sender
    });
    let durability = if syncer.is_some() { Durability::ByCaller } else { Durability::InCommit };
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
            Some((writer, _)) => write_batch_with(&db, writer, &actions, &marks, durability).await,
            None => match db.writer().await {
                Ok(writer) => {
                    let writer = &mut held.insert((writer, Instant::now())).0;
                    write_batch_with(&db, writer, &actions, &marks, durability).await
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
                let answers = Answers {
                    actions: action_replies.into_iter().zip(ids).collect(),
                    marks: mark_replies.into_iter().zip(marked).collect(),
                };
                match &syncer {
                    Some(syncer) => {
                        if let Err(mpsc::error::SendError(answers)) = syncer.send(answers).await {
                            answers.send(Err("the task syncing the log stopped"));
                        }
                    }
                    None => answers.send(Ok(())),
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
                // Alone, each is written and synced in its commit.
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

/// Syncs the write-ahead log at `log` after the transactions that wait for it, as many as
/// are waiting at once, and then answers their callers.
async fn sync_log(log: PathBuf, mut receiver: mpsc::Receiver<Answers>) {
    let mut waiting = Vec::with_capacity(UNSYNCED);
    let mut synced = LogSynced::default();
    let mut failed: Option<String> = None;
    while receiver.recv_many(&mut waiting, UNSYNCED).await > 0 {
        if failed.is_none() {
            let path = log.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                let outcome = synced.sync(&path);
                (outcome, synced)
            })
            .await;
            match outcome {
                Ok((Ok(()), now)) => synced = now,
                Ok((Err(error), _)) => failed = Some(format!("the database's log could not be synced: {error}")),
                Err(error) => failed = Some(format!("the database's log could not be synced: {error}")),
            }
            if let Some(error) = &failed {
                tracing::error!(%error, "writes are refused from now on: check the disk, then restart the server");
            }
        }
        let outcome = failed.as_deref().map_or(Ok(()), Err);
        for answers in waiting.drain(..) {
            answers.send(outcome);
        }
    }
}

/// Which log file the directory entry was synced for, by inode: SQLite creates the log
/// anew after the last connection to the database closes, and a new file's name is only
/// durable once its directory is synced.
#[derive(Debug, Default, Clone, Copy)]
struct LogSynced {
    inode: Option<u64>,
}

impl LogSynced {
    fn sync(&mut self, log: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let file = match std::fs::File::open(log) {
            Ok(file) => file,
            // Removed as the last connection closed, after SQLite copied it into the
            // database and synced that: nothing is left to sync.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        file.sync_data()?;
        let inode = file.metadata()?.ino();
        if self.inode != Some(inode) {
            let directory = log.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
            std::fs::File::open(directory)?.sync_all()?;
            self.inode = Some(inode);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers for one action, and the receiver its caller waits on.
    fn one_action(id: i64) -> (Answers, oneshot::Receiver<Result<Option<i64>, DbError>>) {
        let (reply, answer) = oneshot::channel();
        (Answers { actions: vec![(reply, Some(id))], marks: Vec::new() }, answer)
    }

    #[test]
    fn a_missing_log_has_nothing_to_sync() {
        let dir = tempfile::tempdir().unwrap();
        let mut synced = LogSynced::default();
        synced.sync(&dir.path().join("db.sqlite-wal")).unwrap();
        assert_eq!(synced.inode, None, "no directory entry to make durable");
    }

    #[test]
    fn a_new_log_file_has_its_directory_synced_once() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("db.sqlite-wal");
        std::fs::write(&log, b"frames").unwrap();
        let mut synced = LogSynced::default();
        synced.sync(&log).unwrap();
        let first = std::fs::metadata(&log).unwrap().ino();
        assert_eq!(synced.inode, Some(first));
        // SQLite removes the log and later creates it anew: a new inode, synced again.
        std::fs::remove_file(&log).unwrap();
        let keep = dir.path().join("keep");
        std::fs::write(&keep, b"holds the old inode number busy").unwrap();
        std::fs::write(&log, b"new frames").unwrap();
        synced.sync(&log).unwrap();
        assert_eq!(synced.inode, Some(std::fs::metadata(&log).unwrap().ino()));
    }

    #[tokio::test]
    async fn callers_are_answered_after_the_log_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("db.sqlite-wal");
        std::fs::write(&log, b"frames").unwrap();
        let (sender, receiver) = mpsc::channel(UNSYNCED);
        let syncing = tokio::spawn(sync_log(log, receiver));
        let (answers, answer) = one_action(7);
        sender.send(answers).await.unwrap();
        assert_eq!(answer.await.unwrap().unwrap(), Some(7));
        drop(sender);
        syncing.await.unwrap();
    }

    #[tokio::test]
    async fn after_a_failed_sync_every_later_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        // A log "inside" a regular file cannot be opened, and not because it is missing.
        let not_a_directory = dir.path().join("file");
        std::fs::write(&not_a_directory, b"").unwrap();
        let (sender, receiver) = mpsc::channel(UNSYNCED);
        let syncing = tokio::spawn(sync_log(not_a_directory.join("db.sqlite-wal"), receiver));
        let (answers, answer) = one_action(1);
        sender.send(answers).await.unwrap();
        let refused = answer.await.unwrap().unwrap_err();
        assert!(refused.to_string().contains("could not be synced"), "{refused}");
        // Even once the log could be synced again, what failed may be gone from the disk.
        std::fs::remove_file(&not_a_directory).unwrap();
        std::fs::create_dir(&not_a_directory).unwrap();
        std::fs::write(not_a_directory.join("db.sqlite-wal"), b"frames").unwrap();
        let (answers, answer) = one_action(2);
        sender.send(answers).await.unwrap();
        assert!(answer.await.unwrap().is_err(), "refused until the server restarts");
        drop(sender);
        syncing.await.unwrap();
    }
}
