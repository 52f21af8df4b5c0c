//! Structured logs with `tracing`. Level from `RUST_LOG` (default `info`); format from
//! the configuration. Personal data is never logged: spans carry the path, not the query,
//! and handlers log ids, not names or emails.
//!
//! Lines are formatted where they happen but written to standard error by a thread of their
//! own, buffered: whatever piles up while it writes goes out together, in one write, instead
//! of a system call per line in the request (submissions 1-7% faster under load in five
//! alternating pairs; the formatting, which stays in the request, costs more: docs/operations.md
//! says how to leave out the line each action and each email sent logs). Nothing is dropped: a
//! full queue (`QUEUED` lines) makes the logging wait, as a slow standard error did before.

use std::io::{IsTerminal, Write};

use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Lines waiting for the writing thread beyond this make the logging wait. The queue's
/// places are taken up front: 65,536 of them added 2.6 MB to the idle server (measured).
const QUEUED: usize = 8_192;

/// The running log: keep it for as long as the process logs, as dropping it writes out the
/// lines still waiting.
pub struct Logging {
    writer: NonBlocking,
    _guard: WorkerGuard,
}

impl Logging {
    /// Writes `text` to standard error after the log lines before it, not ahead of them.
    pub fn say(&self, text: &str) {
        let _ = self.writer.make_writer().write_all(text.as_bytes());
    }
}

/// Starts logging.
pub fn init(format: LogFormat) -> Logging {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let (writer, guard) = off_thread(std::io::BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer.clone())
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Logging { writer, _guard: guard }
}

/// `writer`, written to by a thread of its own, which flushes it whenever no line waits.
fn off_thread<W: Write + Send + Sync + 'static>(writer: W) -> (NonBlocking, WorkerGuard) {
    NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED)
        .thread_name("undersigned-log")
        .finish(writer)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, mpsc};
    use std::time::Duration;

    use super::*;

    /// A slow standard error: keeps what reaches it and counts its writes, and holds its
    /// first write until told to go on (or half a second has passed).
    struct Kept {
        kept: Arc<Mutex<(Vec<u8>, usize)>>,
        go_on: Mutex<Option<mpsc::Receiver<()>>>,
    }

    impl Write for Kept {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Some(go_on) = self.go_on.lock().unwrap().take() {
                let _ = go_on.recv_timeout(Duration::from_millis(500));
            }
            let mut kept = self.kept.lock().unwrap();
            kept.0.extend_from_slice(bytes);
            kept.1 += 1;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_reaches_standard_error_in_order_and_lines_written_together_share_a_write() {
        let kept = Arc::new(Mutex::new((Vec::new(), 0)));
        let (go_on, held) = mpsc::channel();
        let slow = Kept { kept: kept.clone(), go_on: Mutex::new(Some(held)) };
        let (writer, guard) = off_thread(std::io::BufWriter::new(slow));
        // More lines than the queue holds, while the writing is held up: none may be dropped.
        let lines = QUEUED * 2;
        for n in 0..lines {
            writer.make_writer().write_all(format!("line {n}\n").as_bytes()).unwrap();
        }
        let _ = go_on.send(());
        drop(guard);
        let (bytes, writes) = std::mem::take(&mut *kept.lock().unwrap());
        let text = String::from_utf8(bytes).unwrap();
        let expected: String = (0..lines).map(|n| format!("line {n}\n")).collect();
        assert!(text == expected, "{} of {} bytes arrived, or out of order", text.len(), expected.len());
        assert!(writes < lines / 10, "{writes} writes for {lines} lines: not buffered");
    }
}
