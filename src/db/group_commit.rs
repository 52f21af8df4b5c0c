//! Group commit: writes made at the same moment share one transaction, so that one write to
//! disk (the slow part of a durable commit) acknowledges them all. Two kinds of write go
//! this way, the busiest: new actions, and the delivery worker's "sent" marks. On SQLite
//! the worker's claims go this way too, each in a transaction of its own between the
//! shared ones (`outbox::claim`).
//!
//! One committer per process takes everything waiting in its queue, writes it together and
//! only then answers each caller. There is no waiting for company: a lone write goes at
//! once, and while one transaction commits, the writes arriving meanwhile gather for the
//! next. (On SQLite, while the log's sync is under way or a committed transaction still
//! waits for one, the committer gives the next one a fraction of a millisecond to fill:
//! `gather`.) Should a shared transaction fail, each of its writes is tried again alone, so
//! that one bad row cannot fail its neighbours.
//!
//! On PostgreSQL the committer is a few tasks taking turns (`run_postgres`, writing with
//! `write_batch_postgres`): one writes new rows while the others finish their transactions
//! and wait for their commits. On SQLite
//! it is a thread of its own with a connection of its own (`SqliteBatchWriter`), so that a batch runs from
//! the queue to the commit without waking another thread (through sqlx, each statement was
//! a round trip to its connection's thread; measured). While it writes it holds the pool's
//! one writing connection (`Db::writer`), so that the pool's other writers wait their turn
//! in the process, as they would for any writer, instead of on SQLite's lock.
//!
//! On SQLite the wait for the disk is also taken out of the writing: a transaction commits
//! to the write-ahead log without syncing it, and a second thread syncs the log and only
//! then answers the callers, while the first writes the next transaction. A caller is still
//! answered only once its write is on disk (a sync of the log covers every commit before
//! it); the log's sync took a third of each transaction's time, during which nothing could
//! be written (measured). Should a sync fail, no later write can be trusted to be on disk
//! either (the kernel may have dropped the pages that failed), so every later one is
//! refused until the server restarts. Nothing leaves the server for a write still unsynced
//! either: the delivery worker's claim is answered after the sync of the log that follows
//! it, which covers every frame written before it. (On PostgreSQL the claim is a
//! transaction of its own, which commits with a sync.)

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::db::actions::{NewAction, SqliteBatchWriter, Written, export_sqlite_path, write_batch_postgres};
use crate::db::outbox::{ClaimRequest, OutgoingMail};
use crate::db::{Backend, COUNTER_SHARDS, Db, DbError, Writer};

/// Most writes in one transaction.
const MAX_BATCH: usize = 256;
/// How long SQLite's committer keeps the pool's one writing connection while writes keep
/// coming, rather than give it back and take it again for each transaction. The pool's
/// other writers wait this long at most.
const HOLD: Duration = Duration::from_millis(20);
/// Most committing tasks per process on PostgreSQL, each on a connection of its own; at
/// most a quarter of the pool's connections, so that reads always find one.
const POSTGRES_COMMITTERS: u32 = 4;
/// How long a PostgreSQL committer keeps a transaction it began before its turn while no
/// write comes (`run_postgres`): far below any `idle_in_transaction_session_timeout` an
/// operator would set.
const BEGUN_IDLE: Duration = Duration::from_secs(1);
/// Writes waiting beyond this make callers wait for room (back-pressure).
const QUEUE: usize = 4096;
/// Committed transactions waiting for the log's sync beyond this make the writing wait.
const UNSYNCED: usize = 64;
/// On SQLite, writes that commit at once even while an earlier transaction still waits for
/// the log's sync (`gather`).
const GATHER: usize = 48;
/// How long, at most, SQLite's committer gathers writes meanwhile: this many pauses.
const GATHER_PAUSES: u32 = 8;
/// One such pause.
const PAUSE: Duration = Duration::from_micros(50);

/// A delivered message to mark sent, if `owner` still holds its lease.
#[derive(Debug, Clone)]
pub(crate) struct SentMark {
    pub id: i64,
    pub owner: String,
}

enum Job {
    Action(Box<NewAction>, Reply<Option<i64>>),
    Sent(SentMark, Reply<bool>),
    /// Only on SQLite (see `outbox::claim`).
    Claim(ClaimRequest, Reply<Vec<OutgoingMail>>),
}

/// The queue of a database handle's committer; shared by its clones.
#[derive(Default, Clone)]
pub(crate) struct Committer {
    sender: Arc<Mutex<Option<mpsc::Sender<Job>>>>,
}

impl Committer {
    /// The queue, starting the committer if there is none running (none yet, or the one
    /// that ran has stopped: a PostgreSQL committer ends with its runtime, as between
    /// tests).
    fn queue(&self, db: &Db) -> Result<mpsc::Sender<Job>, DbError> {
        let mut slot = self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = slot.as_ref().filter(|sender| !sender.is_closed()) {
            return Ok(sender.clone());
        }
        let (sender, receiver) = mpsc::channel(QUEUE);
        // The committer's own handle has no queue of its own: when every other handle is
        // gone, the queue closes and the committer ends.
        let writer = Db { committer: Committer::default(), ..db.clone() };
        match &db.backend {
            Backend::Postgres(pool) => {
                let connections = pool.options().get_max_connections();
                let committers = (connections / 4).clamp(1, POSTGRES_COMMITTERS);
                // A pool of one connection is shared with every other query: give it back.
                let keep = connections > committers;
                let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
                for index in 0..committers {
                    let shards = Shards { index: index as i32, committers: committers as i32 };
                    tokio::spawn(run_postgres(writer.clone(), receiver.clone(), keep, shards));
                }
            }
            Backend::Sqlite { .. } => {
                let path = export_sqlite_path(db)
                    .ok_or_else(|| DbError::Unavailable("a SQLite database must be a file".into()))?;
                start_sqlite(writer, path, receiver)?;
            }
        }
        *slot = Some(sender.clone());
        Ok(sender)
    }
}

/// Stores the action with whatever else is being written; returns once it is committed.
pub(crate) async fn submit(db: &Db, action: NewAction) -> Result<Option<i64>, DbError> {
    let (reply, answer) = oneshot::channel();
    send(db, Job::Action(Box::new(action), reply)).await?;
    answer.await.unwrap_or_else(|_| Err(stopped()))
}

/// Marks a delivered message sent, with whatever else is being written; returns once it is
/// committed, and whether `owner` still held the message.
pub(crate) async fn mark_sent(db: &Db, mark: SentMark) -> Result<bool, DbError> {
    let (reply, answer) = oneshot::channel();
    send(db, Job::Sent(mark, reply)).await?;
    answer.await.unwrap_or_else(|_| Err(stopped()))
}

/// Claims due messages for the delivery worker between the committer's transactions (on
/// SQLite: see `outbox::claim`); returns them once the claim is on disk.
pub(crate) async fn claim(db: &Db, request: ClaimRequest) -> Result<Vec<OutgoingMail>, DbError> {
    let (reply, answer) = oneshot::channel();
    send(db, Job::Claim(request, reply)).await?;
    answer.await.unwrap_or_else(|_| Err(stopped()))
}

async fn send(db: &Db, job: Job) -> Result<(), DbError> {
    match db.committer.queue(db)?.send(job).await {
        Ok(()) => Ok(()),
        // The queue closed between taking it and sending (its runtime ended): the next
        // one is new.
        Err(mpsc::error::SendError(job)) => db.committer.queue(db)?.send(job).await.map_err(|_| stopped()),
    }
}

/// The committer ended before answering: nothing was acknowledged.
fn stopped() -> DbError {
    DbError::Unavailable("the committing task stopped".into())
}

/// Where a caller waits for its write's outcome.
type Reply<T> = oneshot::Sender<Result<T, DbError>>;

/// The writes taken from the queue together, and their callers.
#[derive(Default)]
struct Batch {
    actions: Vec<NewAction>,
    action_replies: Vec<Reply<Option<i64>>>,
    marks: Vec<SentMark>,
    mark_replies: Vec<Reply<bool>>,
    /// Made after the batch's transaction, each in one of its own.
    claims: Vec<(ClaimRequest, Reply<Vec<OutgoingMail>>)>,
}

impl Batch {
    fn of(jobs: &mut Vec<Job>) -> Self {
        let mut batch = Self::default();
        for job in jobs.drain(..) {
            match job {
                Job::Action(action, reply) => {
                    batch.actions.push(*action);
                    batch.action_replies.push(reply);
                }
                Job::Sent(mark, reply) => {
                    batch.marks.push(mark);
                    batch.mark_replies.push(reply);
                }
                Job::Claim(request, reply) => batch.claims.push((request, reply)),
            }
        }
        batch
    }

    /// The actions and marks, which share the transaction.
    fn len(&self) -> usize {
        self.actions.len() + self.marks.len()
    }

    /// The answers to give once the batch is on disk.
    fn answers(self, (ids, marked): Written) -> Answers {
        Answers {
            actions: self.action_replies.into_iter().zip(ids).collect(),
            marks: self.mark_replies.into_iter().zip(marked).collect(),
            claims: Vec::new(),
        }
    }

    /// Answers every caller with `error`: nothing of the batch was written.
    fn refuse(self, error: &DbError) {
        Answers {
            actions: self.action_replies.into_iter().map(|reply| (reply, None)).collect(),
            marks: self.mark_replies.into_iter().map(|reply| (reply, false)).collect(),
            claims: self.claims.into_iter().map(|(_, reply)| (reply, Vec::new())).collect(),
        }
        .send(Err(&error.to_string()));
    }

    /// The batch as batches of one write each, to try again alone after the whole failed.
    fn singles(self) -> impl Iterator<Item = Batch> {
        let actions = self.actions.into_iter().zip(self.action_replies).map(|(action, reply)| Batch {
            actions: vec![action],
            action_replies: vec![reply],
            ..Batch::default()
        });
        let marks = self.marks.into_iter().zip(self.mark_replies).map(|(mark, reply)| Batch {
            marks: vec![mark],
            mark_replies: vec![reply],
            ..Batch::default()
        });
        actions.chain(marks)
    }

    /// Answers the one caller of a batch of one write that failed.
    fn fail(self, error: DbError) {
        if let Some(reply) = self.action_replies.into_iter().next() {
            let _ = reply.send(Err(error));
        } else if let Some(reply) = self.mark_replies.into_iter().next() {
            let _ = reply.send(Err(error));
        }
    }
}

/// The answers to the callers of a committed transaction.
#[derive(Default)]
struct Answers {
    actions: Vec<(Reply<Option<i64>>, Option<i64>)>,
    marks: Vec<(Reply<bool>, bool)>,
    claims: Vec<(Reply<Vec<OutgoingMail>>, Vec<OutgoingMail>)>,
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
        for (reply, claimed) in self.claims {
            let _ = reply.send(outcome.map(|()| claimed).map_err(|e| DbError::Unavailable(e.to_string())));
        }
    }
}

/// The counter shards a PostgreSQL committer adds to: `index`, `index + committers`, and so
/// on, so that two committers of one node never add to the same row (the second would wait
/// for the first's commit, holding the queue meanwhile).
#[derive(Clone, Copy)]
struct Shards {
    index: i32,
    committers: i32,
}

impl Shards {
    fn pick(self) -> i32 {
        let committers = self.committers.clamp(1, COUNTER_SHARDS);
        self.index % committers + committers * rand::random_range(0..COUNTER_SHARDS / committers)
    }
}

/// One of PostgreSQL's committing tasks: each batch committed, and synced, in its
/// transaction on a connection of the pool that it keeps if `keep`. (PostgreSQL has room
/// for other writers beside it; given back whenever the queue emptied, as on SQLite, the
/// connection was taken again from the pool, and checked with a round trip, for most
/// batches.) After an error it takes another.
///
/// The committers take turns: one holds the queue from taking its batch until its
/// actions, emails and counts are written, and lets the next take the queue as its sent
/// marks and its commit begin. So while one waits for the disk, the next writes everything
/// that arrived meanwhile, and at most one writes new rows at a time. (Taking the queue only
/// to empty it, four committers wrote four small transactions at once: PostgreSQL spent
/// 60-70% more CPU per action on them, on its statements' starts, the round trips and the
/// locks on rows they shared; measured.) Under load a committer begins its transaction
/// before its turn (`early_turn`), so that the turn is two round trips, not three.
async fn run_postgres(db: Db, receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>, keep: bool, shards: Shards) {
    use sqlx::Connection;
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    let mut held: Option<sqlx::pool::PoolConnection<sqlx::Postgres>> = None;
    // Whether writes were waiting when this committer last took the queue: under load, it
    // begins its next transaction before its turn (`early_turn`).
    let mut busy = false;
    loop {
        let (batch, written) = match held.as_mut() {
            Some(conn) if busy => match early_turn(&db, conn, &receiver, &mut jobs, shards.pick()).await {
                Turn::Closed => break,
                Turn::Empty { waiting, broken } => {
                    busy = waiting;
                    if broken {
                        held = None;
                    }
                    continue;
                }
                Turn::Written { batch, written, waiting } => {
                    busy = waiting;
                    (batch, written)
                }
            },
            _ => {
                let Some((queue, waiting)) = take(&receiver, &mut jobs).await else { break };
                busy = waiting;
                let mut batch = Batch::of(&mut jobs);
                let Some(queue) = claims_first(&db, &receiver, queue, &mut batch).await else { continue };
                let conn = match &mut held {
                    Some(conn) => conn,
                    None => match postgres_writer(&db).await {
                        Ok(conn) => held.insert(conn),
                        Err(error) => {
                            batch.refuse(&error);
                            continue;
                        }
                    },
                };
                let written = match conn.begin().await {
                    Ok(tx) => {
                        let (actions, marks) = (&batch.actions, &batch.marks);
                        write_batch_postgres(&db, tx, actions, marks, shards.pick(), move || drop(queue)).await
                    }
                    Err(error) => Err(error.into()),
                };
                (batch, written)
            }
        };
        if !keep {
            held = None;
        }
        match written {
            Ok(written) => batch.answers(written).send(Ok(())),
            Err(error) => {
                // Not knowing what state the connection is in, give it back, and write each
                // write again alone on a new one: so that one bad row cannot fail its
                // neighbours, and a connection cut meanwhile (a restart of PostgreSQL, or its
                // `idle_in_transaction_session_timeout` on a transaction begun before the turn)
                // fails none. (Safe to repeat: an action already stored is not stored twice,
                // and a message already marked sent is not marked again.)
                held = None;
                tracing::warn!(%error, writes = batch.len(), "a transaction failed; writing each write alone");
                for single in batch.singles() {
                    let outcome = match postgres_writer(&db).await {
                        Ok(mut conn) => match conn.begin().await {
                            Ok(tx) => {
                                let (actions, marks) = (&single.actions, &single.marks);
                                write_batch_postgres(&db, tx, actions, marks, db.counter_shard(), || ()).await
                            }
                            Err(error) => Err(error.into()),
                        },
                        Err(error) => Err(error),
                    };
                    match outcome {
                        Ok(written) => single.answers(written).send(Ok(())),
                        Err(error) => single.fail(error),
                    }
                }
            }
        }
    }
}

/// What a committer's turn with a transaction begun before it came to.
enum Turn {
    /// The queue is closed.
    Closed,
    /// Nothing to write came (within `BEGUN_IDLE`, or only claims); `broken` if the
    /// transaction could not be begun or ended, so that the connection is given back.
    Empty {
        waiting: bool,
        broken: bool,
    },
    Written {
        batch: Batch,
        written: Result<Written, DbError>,
        waiting: bool,
    },
}

/// A turn on `conn` with its transaction begun before the queue is taken: under load the
/// queue is another committer's meanwhile, so `BEGIN`'s round trip is no longer part of the
/// turn. If no write comes within `BEGUN_IDLE`, the transaction is rolled back, so that an
/// idle committer never sits in one.
async fn early_turn(
    db: &Db,
    conn: &mut sqlx::pool::PoolConnection<sqlx::Postgres>,
    receiver: &tokio::sync::Mutex<mpsc::Receiver<Job>>,
    jobs: &mut Vec<Job>,
    shard: i32,
) -> Turn {
    use sqlx::Connection;
    let Ok(tx) = conn.begin().await else { return Turn::Empty { waiting: false, broken: true } };
    let (queue, waiting) = match tokio::time::timeout(BEGUN_IDLE, take(receiver, jobs)).await {
        Ok(Some(taken)) => taken,
        Ok(None) => return Turn::Closed,
        Err(_) => return Turn::Empty { waiting: false, broken: tx.rollback().await.is_err() },
    };
    let mut batch = Batch::of(jobs);
    let Some(queue) = claims_first(db, receiver, queue, &mut batch).await else {
        return Turn::Empty { waiting, broken: tx.rollback().await.is_err() };
    };
    let written = write_batch_postgres(db, tx, &batch.actions, &batch.marks, shard, move || drop(queue)).await;
    Turn::Written { batch, written, waiting }
}

/// Makes the batch's claims, if any, letting go of the queue meanwhile. Claims on
/// PostgreSQL go to it directly (`outbox::claim`); should one come here, it is made the same
/// way. Returns the queue, taken again, if the batch has writes left.
async fn claims_first<'q>(
    db: &Db,
    receiver: &'q tokio::sync::Mutex<mpsc::Receiver<Job>>,
    queue: tokio::sync::MutexGuard<'q, mpsc::Receiver<Job>>,
    batch: &mut Batch,
) -> Option<tokio::sync::MutexGuard<'q, mpsc::Receiver<Job>>> {
    let claims = std::mem::take(&mut batch.claims);
    if claims.is_empty() {
        return Some(queue);
    }
    drop(queue);
    for (request, reply) in claims {
        let claimed =
            crate::db::outbox::claim(db, &request.owner, request.now, request.lease_until, request.limit).await;
        let _ = reply.send(claimed);
    }
    if batch.len() == 0 { None } else { Some(receiver.lock().await) }
}

/// Waits for the queue and for writes in it, and moves them into `jobs`; with the queue's
/// guard, and whether writes were already waiting. `None` once the queue is closed.
async fn take<'q>(
    receiver: &'q tokio::sync::Mutex<mpsc::Receiver<Job>>,
    jobs: &mut Vec<Job>,
) -> Option<(tokio::sync::MutexGuard<'q, mpsc::Receiver<Job>>, bool)> {
    let mut queue = receiver.lock().await;
    let waiting = !queue.is_empty();
    (queue.recv_many(jobs, MAX_BATCH).await > 0).then_some((queue, waiting))
}

async fn postgres_writer(db: &Db) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, DbError> {
    match db.writer().await? {
        Writer::Postgres(conn) => Ok(conn),
        Writer::Sqlite(_) => Err(DbError::Unavailable("not a PostgreSQL database".into())),
    }
}

/// Starts SQLite's committer and the thread that syncs its log.
fn start_sqlite(db: Db, path: PathBuf, receiver: mpsc::Receiver<Job>) -> Result<(), DbError> {
    let unable = |error: std::io::Error| DbError::Unavailable(format!("cannot start the committing thread: {error}"));
    let (syncer, unsynced) = mpsc::channel(UNSYNCED);
    let syncing = Arc::new(AtomicBool::new(false));
    let sync_flag = syncing.clone();
    let mut log = path.clone().into_os_string();
    log.push("-wal");
    let log = PathBuf::from(log);
    std::thread::Builder::new()
        .name("undersigned-sync".into())
        .spawn(move || sync_log(log, unsynced, &sync_flag))
        .map_err(unable)?;
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("undersigned-commit".into())
        .spawn(move || run_sqlite(db, path, receiver, syncer, syncing, runtime))
        .map_err(unable)?;
    Ok(())
}

/// SQLite's committer, on a thread of its own: each batch committed unsynced on its own
/// connection, and handed to the syncing thread to answer.
fn run_sqlite(
    db: Db,
    path: PathBuf,
    mut receiver: mpsc::Receiver<Job>,
    syncer: mpsc::Sender<Answers>,
    syncing: Arc<AtomicBool>,
    runtime: tokio::runtime::Handle,
) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    let mut connection: Option<SqliteBatchWriter> = None;
    // The pool's writing connection, held (unused) while this thread writes.
    let mut held: Option<(Writer, Instant)> = None;
    loop {
        if held.as_ref().is_some_and(|(_, since)| receiver.is_empty() || since.elapsed() >= HOLD) {
            // sqlx gives a connection back to its pool on a task of the runtime.
            let _runtime = runtime.enter();
            held = None;
        }
        if receiver.blocking_recv_many(&mut jobs, MAX_BATCH) == 0 {
            break;
        }
        gather(
            &mut jobs,
            || syncing.load(Ordering::Acquire) || syncer.capacity() < syncer.max_capacity(),
            |jobs| {
                while jobs.len() < MAX_BATCH
                    && let Ok(job) = receiver.try_recv()
                {
                    jobs.push(job);
                }
            },
            || std::thread::sleep(PAUSE),
        );
        let mut batch = Batch::of(&mut jobs);
        if held.is_none() {
            match runtime.block_on(db.writer()) {
                Ok(writer) => held = Some((writer, Instant::now())),
                Err(error) => {
                    batch.refuse(&error);
                    continue;
                }
            }
        }
        let claims = std::mem::take(&mut batch.claims);
        if batch.len() > 0 {
            write_sqlite_batch(&db, &path, &mut connection, &syncer, batch);
        }
        if !claims.is_empty() {
            let mut answers = Answers::default();
            for (request, reply) in claims {
                match on_sqlite(&path, &mut connection, |writer| writer.claim(&request)) {
                    Ok(claimed) => answers.claims.push((reply, claimed)),
                    Err(error) => {
                        let _ = reply.send(Err(error));
                    }
                }
            }
            to_sync(&syncer, answers);
        }
    }
    let _runtime = runtime.enter();
    drop(held);
}

/// While the log's sync is under way or an earlier transaction still waits for one
/// (`unsynced`), lets more writes join `jobs` (`more`) between pauses, until `GATHER` are
/// waiting or after `GATHER_PAUSES` pauses. Each SQLite transaction writes its changed pages
/// to the log whole, and the pages every transaction changes (the ends of the tables and
/// indexes, the count) are most of a small one: under load, transactions of about eight
/// actions, three or so per sync, had the committing thread write 9.9 KB per action;
/// gathered while transactions waited, 18 actions and 7.1 KB (submissions better in ten of
/// thirteen alternating pairs, about +7%). Where the disk syncs fast, few transactions wait
/// and nearly every commit had a sync of its own; a commit made while a sync is under way
/// waits for it anyway, so writes gather then too: a third fewer commits, the server's CPU
/// per submission 4% lower, submissions better in eight of eleven pairs (docs/performance.md).
/// A gathered write may miss a sync it would have caught alone, but the CPU saved shortens
/// every request more.
fn gather(
    jobs: &mut Vec<Job>,
    unsynced: impl Fn() -> bool,
    mut more: impl FnMut(&mut Vec<Job>),
    mut pause: impl FnMut(),
) {
    let mut pauses = 0;
    while jobs.len() < GATHER && pauses < GATHER_PAUSES && unsynced() {
        pause();
        pauses += 1;
        more(jobs);
    }
}

/// Writes `batch` in one transaction and hands its answers to the syncing thread; should
/// that fail, each of its writes alone.
fn write_sqlite_batch(
    db: &Db,
    path: &Path,
    connection: &mut Option<SqliteBatchWriter>,
    syncer: &mpsc::Sender<Answers>,
    batch: Batch,
) {
    let write = |connection: &mut Option<SqliteBatchWriter>, batch: &Batch| {
        on_sqlite(path, connection, |writer| writer.write(db, &batch.actions, &batch.marks))
    };
    match write(connection, &batch) {
        Ok(written) => to_sync(syncer, batch.answers(written)),
        Err(error) if batch.len() == 1 => batch.fail(error),
        Err(error) => {
            tracing::warn!(%error, writes = batch.len(), "a shared transaction failed; writing one by one");
            for single in batch.singles() {
                match write(connection, &single) {
                    Ok(written) => to_sync(syncer, single.answers(written)),
                    Err(error) => single.fail(error),
                }
            }
        }
    }
}

/// Runs `work` on the committer's connection, opening it if need be; after an error the
/// connection is closed (which rolls back whatever it had begun), to be opened afresh.
fn on_sqlite<T>(
    path: &Path,
    connection: &mut Option<SqliteBatchWriter>,
    work: impl FnOnce(&mut SqliteBatchWriter) -> Result<T, DbError>,
) -> Result<T, DbError> {
    let writer = match connection {
        Some(writer) => writer,
        None => connection.insert(SqliteBatchWriter::open(path)?),
    };
    let outcome = work(writer);
    if outcome.is_err() {
        *connection = None;
    }
    outcome
}

/// Hands committed answers to the syncing thread.
fn to_sync(syncer: &mpsc::Sender<Answers>, answers: Answers) {
    if let Err(mpsc::error::SendError(answers)) = syncer.blocking_send(answers) {
        answers.send(Err("the thread syncing the log stopped"));
    }
}

/// Syncs the write-ahead log at `log` after the transactions that wait for it, as many as
/// are waiting at once, and then answers their callers. Runs on a thread of its own.
fn sync_log(log: PathBuf, mut receiver: mpsc::Receiver<Answers>, syncing: &AtomicBool) {
    let mut waiting = Vec::with_capacity(UNSYNCED);
    let mut synced = LogSynced::default();
    let mut failed: Option<String> = None;
    while receiver.blocking_recv_many(&mut waiting, UNSYNCED) > 0 {
        if failed.is_none()
            && let Err(error) = under_way(syncing, || synced.sync(&log))
        {
            let error = format!("the database's log could not be synced: {error}");
            tracing::error!(%error, "writes are refused from now on: check the disk, then restart the server");
            failed = Some(error);
        }
        let outcome = failed.as_deref().map_or(Ok(()), Err);
        for answers in waiting.drain(..) {
            answers.send(outcome);
        }
    }
}

/// Runs `sync` with `syncing` set meanwhile, so that the committer can see a sync under way
/// (`gather`).
fn under_way<T>(syncing: &AtomicBool, sync: impl FnOnce() -> T) -> T {
    syncing.store(true, Ordering::Release);
    let outcome = sync();
    syncing.store(false, Ordering::Release);
    outcome
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

    /// The syncing thread for `log`, and its queue.
    fn start_syncing(log: PathBuf) -> (mpsc::Sender<Answers>, std::thread::JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(UNSYNCED);
        (sender, std::thread::spawn(move || sync_log(log, receiver, &AtomicBool::new(false))))
    }

    /// Answers for one action, and the receiver its caller waits on.
    fn one_action(id: i64) -> (Answers, oneshot::Receiver<Result<Option<i64>, DbError>>) {
        let (reply, answer) = oneshot::channel();
        (Answers { actions: vec![(reply, Some(id))], ..Answers::default() }, answer)
    }

    #[test]
    fn committers_of_one_node_add_to_counter_shards_of_their_own() {
        for committers in 1..=POSTGRES_COMMITTERS as i32 {
            let mut used: Vec<std::collections::BTreeSet<i32>> = vec![Default::default(); committers as usize];
            for index in 0..committers {
                for _ in 0..400 {
                    let shard = Shards { index, committers }.pick();
                    assert!((0..COUNTER_SHARDS).contains(&shard), "shard {shard} of {committers}");
                    used[index as usize].insert(shard);
                }
            }
            for (a, mine) in used.iter().enumerate() {
                assert!(mine.len() >= (COUNTER_SHARDS / committers) as usize - 1, "{committers}: {mine:?}");
                for theirs in &used[a + 1..] {
                    assert!(mine.is_disjoint(theirs), "{committers} committers: {mine:?} and {theirs:?}");
                }
            }
        }
    }

    /// `n` sent marks, as jobs in the queue.
    fn marks(n: usize) -> Vec<Job> {
        (0..n).map(|id| Job::Sent(SentMark { id: id as i64, owner: "w".into() }, oneshot::channel().0)).collect()
    }

    /// Runs `gather` on `start` jobs, `arriving` more joining at each pause, while `unsynced`
    /// says an earlier transaction waits for the sync; returns the jobs and the pauses made.
    fn gathered(start: usize, arriving: usize, unsynced: impl Fn(u32) -> bool) -> (usize, u32) {
        let mut jobs = marks(start);
        let pauses = std::cell::Cell::new(0);
        gather(
            &mut jobs,
            || unsynced(pauses.get()),
            |jobs| jobs.extend(marks(arriving)),
            || pauses.set(pauses.get() + 1),
        );
        (jobs.len(), pauses.get())
    }

    #[test]
    fn sqlites_committer_gathers_writes_only_while_the_log_is_being_synced_or_waits_for_it() {
        // No sync under way or waited for: the write goes at once.
        assert_eq!(gathered(1, 10, |_| false), (1, 0));
        // One under way: writes gather until `GATHER` of them would commit together.
        assert_eq!(gathered(1, 10, |_| true), (51, 5));
        assert_eq!(gathered(GATHER, 10, |_| true), (GATHER, 0), "enough already");
        // Until the sync is over...
        assert_eq!(gathered(1, 10, |pauses| pauses < 2), (21, 2));
        // ... or for `GATHER_PAUSES` pauses at most, however few writes come.
        assert_eq!(gathered(1, 0, |_| true), (1, GATHER_PAUSES));
        assert_eq!(gathered(1, 1, |_| true), (1 + GATHER_PAUSES as usize, GATHER_PAUSES));
    }

    #[test]
    fn the_committer_sees_a_sync_while_it_is_under_way_and_not_after() {
        let syncing = AtomicBool::new(false);
        assert!(under_way(&syncing, || syncing.load(Ordering::Acquire)), "set during the sync");
        assert!(!syncing.load(Ordering::Acquire), "cleared once it is over");
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
        let (sender, syncing) = start_syncing(log);
        let (answers, answer) = one_action(7);
        sender.send(answers).await.unwrap();
        assert_eq!(answer.await.unwrap().unwrap(), Some(7));
        drop(sender);
        syncing.join().unwrap();
    }

    /// A claim's answer, and the receiver its worker waits on.
    fn one_claim(claimed: Vec<OutgoingMail>) -> (Answers, oneshot::Receiver<Result<Vec<OutgoingMail>, DbError>>) {
        let (reply, answer) = oneshot::channel();
        (Answers { claims: vec![(reply, claimed)], ..Answers::default() }, answer)
    }

    fn message(id: i64) -> OutgoingMail {
        OutgoingMail {
            id,
            action_id: Some(1),
            kind: "thanks".into(),
            to_address: "a@example.org".into(),
            to_name: None,
            from_name: None,
            reply_to_address: None,
            reply_to_name: None,
            subject: "Thank you".into(),
            body: "Thank you".into(),
            attempts: 0,
            created_at: chrono::Utc::now(),
        }
    }

    #[tokio::test]
    async fn a_claim_is_answered_after_the_log_is_synced_and_never_if_the_sync_failed() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("db.sqlite-wal");
        std::fs::write(&log, b"frames").unwrap();
        let (sender, syncing) = start_syncing(log);
        let (answers, answer) = one_claim(vec![message(5)]);
        sender.send(answers).await.unwrap();
        let claimed = answer.await.unwrap().unwrap();
        assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), [5]);
        drop(sender);
        syncing.join().unwrap();

        // A message must not leave for an action that may not be on disk.
        let not_a_directory = dir.path().join("file");
        std::fs::write(&not_a_directory, b"").unwrap();
        let (sender, syncing) = start_syncing(not_a_directory.join("db.sqlite-wal"));
        let (answers, answer) = one_claim(vec![message(6)]);
        sender.send(answers).await.unwrap();
        let refused = answer.await.unwrap().unwrap_err();
        assert!(refused.to_string().contains("could not be synced"), "{refused}");
        drop(sender);
        syncing.join().unwrap();
    }

    #[tokio::test]
    async fn after_a_failed_sync_every_later_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        // A log "inside" a regular file cannot be opened, and not because it is missing.
        let not_a_directory = dir.path().join("file");
        std::fs::write(&not_a_directory, b"").unwrap();
        let (sender, syncing) = start_syncing(not_a_directory.join("db.sqlite-wal"));
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
        syncing.join().unwrap();
    }
}
