//! The benchmark harness (docs/performance.md). It starts the server binary on a fresh
//! database and measures, with Debian's wrk, page views, counter requests and submissions
//! (each with a unique email and a valid CSRF token), the p99 latency of submissions at half
//! their top rate, the export of many actions, and memory at idle and under load. In the same
//! run it measures the limits to compare against: nginx serving the same page bytes as a
//! static file, and the raw rate of durable inserts of the same rows. One table per backend.
//!
//!     cargo build --release && cargo run --release --example bench
//!     cargo run --release --example bench -- --backend postgres --duration 20
//!
//! `--smoke` runs every step with tiny counts (CI does, against the debug binary).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;

#[derive(Parser, Debug)]
struct Opts {
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    backend: String,
    /// The server binary [default: target/release/undersigned].
    #[arg(long)]
    server: Option<PathBuf>,
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    #[arg(long, default_value_t = 64)]
    connections: u32,
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Actions to export.
    #[arg(long, default_value_t = 1_000_000)]
    export_rows: i64,
    /// PostgreSQL server to create the benchmark database on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Tiny counts and one-second runs: checks that every step works.
    #[arg(long)]
    smoke: bool,
}

const SLUG: &str = "dont-abandon-refugees";

fn main() -> Result<()> {
    let mut opts = Opts::parse();
    if opts.smoke {
        opts.duration = 1;
        opts.connections = 4;
        opts.export_rows = 2_000;
    }
    let server = opts.server.clone().unwrap_or_else(|| PathBuf::from("target/release/undersigned"));
    if !server.exists() {
        bail!("{} is missing: run `cargo build --release` first", server.display());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let backends: Vec<&str> = match opts.backend.as_str() {
        "both" => vec!["sqlite", "postgres"],
        one => vec![one],
    };
    println!("{}", machine());
    // Each run's files (hundreds of thousands of emails in the outbox directory) are deleted
    // only once every run is over: right after a mass deletion, creating a file costs this
    // volume up to 0.7 ms of kernel time (docs/performance.md), which the next run's delivery
    // worker would pay.
    let mut finished = Vec::new();
    for backend in backends {
        let (table, files) = runtime.block_on(run(&opts, &server, backend))?;
        println!("{table}");
        finished.push(files);
    }
    drop(finished);
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<u64>().unwrap_or(0)))
        .unwrap_or(0);
    format!("Machine: {cores} cores ({cpu}), {} GiB RAM; load generator on the same machine", memory / 1024 / 1024)
}

/// The server under test, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(binary: &Path, data_dir: &Path, database_url: Option<&str>) -> Result<Server> {
    let mut command = Command::new(binary);
    command
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .env("UNDERSIGNED_RATE_LIMIT__ACTIONS_BURST", "1000000000")
        .env("UNDERSIGNED_RATE_LIMIT__ACTIONS_REFILL_MS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        command.env("UNDERSIGNED_DATABASE_URL", url);
    }
    let mut child = command.spawn().context("starting the server")?;
    let stderr = child.stderr.take().context("server stderr")?;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.trim().strip_prefix("Demo campaign: ") {
                let url = rest.split_whitespace().next().unwrap_or_default();
                let _ = sender.send(url.split("/page/").next().unwrap_or_default().to_string());
            }
        }
    });
    let base = receiver.recv_timeout(Duration::from_secs(60)).context("the server did not start")?;
    Ok(Server { child, base })
}

/// Resident memory of a process, in MiB: now (`VmRSS`) or at its peak (`VmHWM`).
fn memory_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// Samples a process's resident memory until told to stop; returns the highest seen.
fn sample_peak(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let mut peak: f64 = 0.0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(memory_mib(pid, "VmRSS:"));
            std::thread::sleep(Duration::from_millis(50));
        }
        peak
    })
}

#[derive(Debug, Default, Clone)]
struct WrkResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    bad_responses: u64,
    socket_errors: u64,
    /// Share of the machine's CPU time the host took for itself during the run, in %.
    stolen: f64,
}

/// The machine's CPU time so far, in ticks from `/proc/stat`: (stolen, total). On a
/// virtual machine, "steal" is time its virtual CPUs were ready to run but the host ran
/// something else; while it is taken, the server and the load generator both stand still,
/// and every request under way waits that long.
fn cpu_clock() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    (fields.get(7).copied().unwrap_or(0), fields.iter().sum())
}

/// The share, in %, of the CPU time since `before` that the host stole.
fn stolen_since(before: (u64, u64)) -> f64 {
    let after = cpu_clock();
    let total = after.1.saturating_sub(before.1);
    if total == 0 { 0.0 } else { 100.0 * after.0.saturating_sub(before.0) as f64 / total as f64 }
}

fn parse_duration_ms(text: &str) -> f64 {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().unwrap_or(f64::NAN) * factor
}

fn parse_wrk(output: &str) -> WrkResult {
    let mut result = WrkResult::default();
    for line in output.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rps, ..] => result.rps = rps.parse().unwrap_or(0.0),
            ["50%", value] => result.p50_ms = parse_duration_ms(value),
            ["99%", value] => result.p99_ms = parse_duration_ms(value),
            [n, "requests", "in", ..] => result.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => result.bad_responses = n.parse().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                result.socket_errors = rest.iter().filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok()).sum()
            }
            _ => {}
        }
    }
    result
}

fn wrk(opts: &Opts, url: &str, script: Option<&Path>, env: &[(&str, String)]) -> Result<WrkResult> {
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{}", opts.threads))
        .arg(format!("-c{}", opts.connections))
        .arg(format!("-d{}s", opts.duration))
        .arg("--latency");
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    command.arg(url).envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let clock = cpu_clock();
    let output = command.output().context("running wrk (apt-get install wrk)")?;
    if !output.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(WrkResult { stolen: stolen_since(clock), ..parse_wrk(&String::from_utf8_lossy(&output.stdout)) })
}

/// nginx serving `bytes` as a static file: the ceiling for serving a page on this machine.
struct Nginx {
    child: Child,
    url: String,
    binary: &'static str,
    dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // Killing only the master would leave its workers behind: ask it to stop them.
        let stopped = Command::new(self.binary)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(self.dir.path().join("nginx.conf"))
            .args(["-s", "stop"])
            .stderr(Stdio::null())
            .status();
        if !stopped.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn start_nginx(bytes: &[u8]) -> Result<Nginx> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    // nginx's workers may run as another user: let them read the page.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    std::fs::create_dir_all(dir.path().join("www"))?;
    std::fs::create_dir_all(dir.path().join("logs"))?;
    std::fs::write(dir.path().join("www/page.html"), bytes)?;
    std::fs::set_permissions(dir.path().join("www"), std::fs::Permissions::from_mode(0o755))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let conf = format!(
        "daemon off;\nworker_processes auto;\npid {dir}/nginx.pid;\nerror_log {dir}/logs/error.log;\n\
         events {{ worker_connections 4096; }}\n\
         http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;\n\
           server {{ listen 127.0.0.1:{port}; root {dir}/www; location / {{ default_type text/html; }} }} }}\n",
        dir = dir.path().display()
    );
    std::fs::write(dir.path().join("nginx.conf"), conf)?;
    let nginx =
        ["/usr/sbin/nginx", "nginx"].into_iter().find(|p| Path::new(p).exists() || *p == "nginx").unwrap_or("nginx");
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting nginx (apt-get install nginx-light)")?;
    let url = format!("http://127.0.0.1:{port}/page.html");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nginx did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Nginx { child, url, binary: nginx, dir })
}

/// The CSRF cookie and token a visitor gets with the page.
async fn token(client: &reqwest::Client, base: &str) -> Result<(String, String)> {
    let response = client.get(format!("{base}/page/{SLUG}")).send().await?;
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("undersigned_csrf="))
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow!("no CSRF cookie"))?
        .to_string();
    let html = response.text().await?;
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).ok_or_else(|| anyhow!("no CSRF token in the page"))? + marker.len();
    let end = html[start..].find('"').ok_or_else(|| anyhow!("unterminated token"))? + start;
    Ok((cookie, html[start..end].to_string()))
}

fn form_body(token: &str, email: &str) -> String {
    format!(
        "first_name=Ana&last_name=Silva&postal_code=K1A+0B1&consent=yes&subject=Please+act\
         &message=People+seeking+safety+deserve+a+hearing.&csrf_token={token}&email={email}"
    )
}

/// What `fixed_rate` measured.
struct FixedRate {
    p50_ms: f64,
    p99_ms: f64,
    sent: u64,
    /// Answers other than 303, and connections that failed.
    bad: u64,
    /// The longest a sender woke after its slot's time, in ms: when the whole machine stands
    /// still (the host taking the CPU), the load generator stops too.
    late_ms: f64,
    /// `WrkResult::stolen`, for this run.
    stolen: f64,
    /// The load generator's own CPU per request, in µs.
    own_cpu_us: f64,
}

/// Submissions at a fixed rate, for latency at a given load. Open loop, as wrk2 does it: a
/// slow answer does not slow the arrivals. Each of `connections` keep-alive connections
/// takes the next slot of one schedule, waits for its time, sends and reads the answer; a
/// submission's latency runs from its slot's time, so that one that had to wait for a free
/// connection counts that wait too.
///
/// It speaks HTTP/1.1 over TCP itself: through reqwest, with a task per request, the load
/// generator took about 100 µs of CPU per request on a 2-core machine (measured), as much as
/// the server, and at half load the two together ran out of CPU whenever the host took some.
async fn fixed_rate(base: &str, rate: f64, seconds: u64, connections: u32, prefix: &str) -> Result<FixedRate> {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let (cookie, token) = token(&client, base).await?;
    let address = base.strip_prefix("http://").ok_or_else(|| anyhow!("{base} is not plain http"))?;
    let schedule = Arc::new(Schedule {
        address: address.to_string(),
        head: format!(
            "POST /page/{SLUG} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Cookie: {cookie}\r\n"
        ),
        token,
        prefix: prefix.to_string(),
        total: (rate * seconds as f64).max(1.0) as u64,
        interval: Duration::from_secs_f64(1.0 / rate.max(1.0)),
        next: AtomicU64::new(0),
        start: tokio::time::Instant::now() + Duration::from_millis(50),
    });
    let (clock, own) = (cpu_clock(), process_ticks(std::process::id()).unwrap_or(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        tasks.spawn(send_on_schedule(schedule.clone()));
    }
    let (mut latencies, mut bad, mut late) = (Vec::with_capacity(schedule.total as usize), 0, Duration::ZERO);
    while let Some(sent) = tasks.join_next().await {
        let sent = sent?;
        latencies.extend(sent.latencies);
        bad += sent.bad;
        late = late.max(sent.late);
    }
    let stolen = stolen_since(clock);
    let own_ticks = process_ticks(std::process::id()).unwrap_or(0).saturating_sub(own);
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Ok(FixedRate {
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        sent: schedule.total,
        bad,
        late_ms: late.as_secs_f64() * 1000.0,
        stolen,
        own_cpu_us: own_ticks as f64 * 10_000.0 / schedule.total as f64,
    })
}

/// The slots `fixed_rate`'s senders share: slot `n` is due at `start + n * interval`.
struct Schedule {
    address: String,
    /// The request line and the headers but the length.
    head: String,
    token: String,
    prefix: String,
    total: u64,
    interval: Duration,
    next: AtomicU64,
    start: tokio::time::Instant,
}

/// What one sender of `fixed_rate` saw.
struct Sent {
    latencies: Vec<f64>,
    bad: u64,
    late: Duration,
}

async fn send_on_schedule(schedule: Arc<Schedule>) -> Sent {
    let mut sent = Sent { latencies: Vec::new(), bad: 0, late: Duration::ZERO };
    let mut connection = None;
    let mut buffer = Vec::with_capacity(4096);
    loop {
        let n = schedule.next.fetch_add(1, Ordering::Relaxed);
        if n >= schedule.total {
            return sent;
        }
        let due = schedule.start + schedule.interval.mul_f64(n as f64);
        if due > tokio::time::Instant::now() {
            tokio::time::sleep_until(due).await;
            sent.late = sent.late.max(due.elapsed());
        }
        let body = form_body(&schedule.token, &format!("{}-{n}%40example.org", schedule.prefix));
        let request = format!("{}Content-Length: {}\r\n\r\n{body}", schedule.head, body.len());
        match exchange(&mut connection, &schedule.address, request.as_bytes(), &mut buffer).await {
            Ok(303) => {}
            Ok(_) => sent.bad += 1,
            Err(_) => {
                connection = None;
                sent.bad += 1;
            }
        }
        sent.latencies.push(due.elapsed().as_secs_f64() * 1000.0);
    }
}

/// Sends `request` on `connection` (opened first if need be) and reads the answer: its status.
/// The answers here are short and carry their length; any other kind is an error.
async fn exchange(
    connection: &mut Option<tokio::net::TcpStream>,
    address: &str,
    request: &[u8],
    buffer: &mut Vec<u8>,
) -> Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = match connection {
        Some(stream) => stream,
        None => {
            let stream = tokio::net::TcpStream::connect(address).await?;
            stream.set_nodelay(true)?;
            connection.insert(stream)
        }
    };
    stream.write_all(request).await?;
    buffer.clear();
    let mut chunk = [0_u8; 4096];
    let (status, body_start, length, close) = loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            bail!("the server closed the connection");
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end])?;
            let mut lines = head.split("\r\n");
            let status = lines
                .next()
                .and_then(|line| line.split(' ').nth(1))
                .and_then(|code| code.parse::<u16>().ok())
                .ok_or_else(|| anyhow!("not an HTTP answer"))?;
            let (mut length, mut close) = (None, false);
            for line in lines {
                let (name, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.parse::<usize>()?);
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.eq_ignore_ascii_case("close");
                }
            }
            break (status, end + 4, length.ok_or_else(|| anyhow!("an answer without its length"))?, close);
        }
    };
    while buffer.len() < body_start + length {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            bail!("the server closed the connection");
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    if close {
        *connection = None;
    }
    Ok(status)
}

/// The rate of durable inserts of action rows, one transaction each (as each acknowledged
/// action is), with its counter update: the storage ceiling for submissions.
async fn raw_inserts(backend: &str, database_url: &str, rows: i64, writers: usize) -> Result<f64> {
    let create_sqlite =
        "create table bench_actions (id integer primary key, page_id integer not null, email text not null,
        first_name text, last_name text, postal_code text, consent integer not null, subject text, message text,
        created_at text not null, unique (page_id, email));
        create table bench_counts (page_id integer not null, shard integer not null, actions integer not null,
        primary key (page_id, shard))";
    let insert = "insert into bench_actions (page_id, email, first_name, last_name, postal_code, consent, subject, message, created_at)
        values ($1, $2, 'Ana', 'Silva', 'K1A 0B1', $3, 'Please act', 'People seeking safety deserve a hearing.', $4)";
    let count = "insert into bench_counts (page_id, shard, actions) values ($1, $2, 1)
        on conflict (page_id, shard) do update set actions = bench_counts.actions + 1";
    let started;
    if backend == "sqlite" {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
        use std::str::FromStr;
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        sqlx::raw_sql(create_sqlite).execute(&pool).await?;
        started = Instant::now();
        for n in 0..rows {
            let mut tx = pool.begin().await?;
            sqlx::query(insert)
                .bind(1_i64)
                .bind(format!("raw-{n}@example.org"))
                .bind(true)
                .bind(chrono::Utc::now())
                .execute(&mut *tx)
                .await?;
            sqlx::query(count).bind(1_i64).bind(0_i32).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        pool.close().await;
    } else {
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(writers as u32).connect(database_url).await?;
        sqlx::raw_sql(
            &create_sqlite
                .replace("integer primary key", "bigint generated always as identity primary key")
                .replace("consent integer", "consent boolean")
                .replace("created_at text", "created_at timestamptz"),
        )
        .execute(&pool)
        .await?;
        started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for writer in 0..writers {
            let pool = pool.clone();
            let per_writer = rows / writers as i64;
            tasks.spawn(async move {
                for n in 0..per_writer {
                    let mut tx = pool.begin().await?;
                    sqlx::query(insert)
                        .bind(1_i64)
                        .bind(format!("raw-{writer}-{n}@example.org"))
                        .bind(true)
                        .bind(chrono::Utc::now())
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(count).bind(1_i64).bind(rand::random_range(0..16_i32)).execute(&mut *tx).await?;
                    tx.commit().await?;
                }
                Ok::<_, sqlx::Error>(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
        pool.close().await;
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

/// Fills the page with `rows` generated actions, directly in the database.
async fn generate_actions(backend: &str, database_url: &str, rows: i64) -> Result<()> {
    let select = "select p.id, 'gen-' || n || '@example.org', 'Ana', 'Silva', 'K1A 0B1', 'CA', true,
            'Keep me informed', 'Please act', 'People seeking safety deserve a hearing. Sincerely, Ana Silva',
            'newsletter', 'email', 'launch', 'https://example.org/', $2";
    if backend == "sqlite" {
        let pool = sqlx::SqlitePool::connect(database_url).await?;
        sqlx::query(&format!(
            "with recursive g(n) as (select 1 union all select n + 1 from g where n < $1)
             insert into actions (page_id, email, first_name, last_name, postal_code, country, consent, consent_text,
                                  subject, message, utm_source, utm_medium, utm_campaign, referrer, created_at)
             {select} from g, pages p where p.slug = '{SLUG}'"
        ))
        .bind(rows)
        .bind(chrono::Utc::now())
        .execute(&pool)
        .await?;
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(database_url).await?;
        sqlx::query(&format!(
            "insert into actions (page_id, email, first_name, last_name, postal_code, country, consent, consent_text,
                                  subject, message, utm_source, utm_medium, utm_campaign, referrer, created_at)
             {} from generate_series(1, $1::bigint) n, pages p where p.slug = '{SLUG}'",
            select.replace("$2", "$2::timestamptz")
        ))
        .bind(rows)
        .bind(chrono::Utc::now())
        .execute(&pool)
        .await?;
        pool.close().await;
    }
    Ok(())
}

/// Gives the demo page two targets to email (`targets import`, then the demo's own page file
/// with `recipients` added, through `pages import`), as the server's command line would.
fn use_letter_page(binary: &Path, data_dir: &Path, database_url: &str) -> Result<()> {
    let targets = data_dir.join("targets.csv");
    std::fs::write(
        &targets,
        "key,name,title,salutation,email,organisation,district,party,language\n\
         bench-pm,Prime Minister,,Dear Prime Minister,pm@example.org,,,,\n\
         bench-minister,Minister of Immigration,,Dear Minister,minister@example.org,,,,\n",
    )?;
    let demo = include_str!("../demo/dont-abandon-refugees.toml");
    let named = "targets = [\"Government of Canada\"]";
    if !demo.contains(named) {
        bail!("the demo page no longer names its targets as {named}: update the benchmark");
    }
    let page = data_dir.join("letter-page.toml");
    std::fs::write(
        &page,
        demo.replacen(named, &format!("{named}\nrecipients = [\"bench-pm\", \"bench-minister\"]"), 1),
    )?;
    for (what, file) in [("targets", &targets), ("pages", &page)] {
        let status =
            cli(binary, data_dir, database_url).args([what, "import"]).arg(file).stdout(Stdio::null()).status()?;
        if !status.success() {
            bail!("{what} import failed");
        }
    }
    Ok(())
}

/// The server's command line, on the benchmark's data directory and database.
fn cli(binary: &Path, data_dir: &Path, database_url: &str) -> Command {
    let mut command = Command::new(binary);
    command.arg("--data-dir").arg(data_dir).args(["--database-url", database_url]).env("RUST_LOG", "warn");
    command
}

/// Runs `actions export` to a file: (seconds, peak MiB, bytes).
fn export(binary: &Path, data_dir: &Path, database_url: &str) -> Result<(f64, f64, u64)> {
    let file = data_dir.join("export.csv");
    let started = Instant::now();
    let mut child = cli(binary, data_dir, database_url)
        .args(["actions", "export", "--output"])
        .arg(&file)
        .stderr(Stdio::null())
        .spawn()?;
    let mut peak: f64 = 0.0;
    loop {
        peak = peak.max(memory_mib(child.id(), "VmHWM:"));
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("actions export failed");
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok((started.elapsed().as_secs_f64(), peak, std::fs::metadata(&file)?.len()))
}

struct Row {
    metric: String,
    value: String,
    against: String,
    target: String,
    pass: Option<bool>,
}

fn row(metric: &str, value: String, against: String, target: &str, pass: Option<bool>) -> Row {
    Row { metric: metric.into(), value, against, target: target.into(), pass }
}

/// Measures one backend: its table, and its data directory (deleted when dropped).
async fn run(opts: &Opts, binary: &Path, backend: &str) -> Result<(String, tempfile::TempDir)> {
    let data_dir = tempfile::tempdir()?;
    let mut scratch_db = None;
    let database_url = match backend {
        "sqlite" => format!("sqlite://{}", data_dir.path().join("undersigned.db").display()),
        "postgres" => {
            let name = format!("undersigned_bench_{}", rand::random::<u32>());
            let admin = sqlx::PgPool::connect(&opts.postgres).await.context("PostgreSQL for the benchmark")?;
            sqlx::query(&format!("create database {name}")).execute(&admin).await?;
            let mut url = url::Url::parse(&opts.postgres)?;
            url.set_path(&name);
            scratch_db = Some((admin, name));
            url.to_string()
        }
        other => bail!("unknown backend {other}"),
    };
    let result = measure(opts, binary, backend, data_dir.path(), &database_url).await;
    if let Some((admin, name)) = scratch_db {
        let _ = sqlx::query(&format!("drop database if exists {name} with (force)")).execute(&admin).await;
    }
    Ok((result?, data_dir))
}

async fn measure(opts: &Opts, binary: &Path, backend: &str, data_dir: &Path, database_url: &str) -> Result<String> {
    let server = start_server(binary, data_dir, (backend == "postgres").then_some(database_url))?;
    let pid = server.child.id();
    let base = server.base.clone();
    tokio::time::sleep(Duration::from_secs(if opts.smoke { 1 } else { 3 })).await;
    let idle = memory_mib(pid, "VmRSS:");

    let client = reqwest::Client::new();
    let page_bytes = client.get(format!("{base}/page/{SLUG}")).send().await?.bytes().await?;
    let nginx = start_nginx(&page_bytes)?;
    let static_page = wrk(opts, &nginx.url, None, &[])?;
    drop(nginx);

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_peak(pid, stop.clone());
    let views = wrk(opts, &format!("{base}/page/{SLUG}"), None, &[])?;
    let counter = wrk(opts, &format!("{base}/api/v1/pages/{SLUG}/counter"), None, &[])?;
    let before = counter_actions(&client, &base).await?;
    let (cookie, token) = token(&client, &base).await?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/submit.lua");
    let submit_env = [
        ("BENCH_PATH", format!("/page/{SLUG}")),
        ("BENCH_TOKEN", token),
        ("BENCH_COOKIE", cookie),
        ("BENCH_PREFIX", "wrk".into()),
    ];
    let cpu_before = (cpu_ticks(|p| p == pid), cpu_ticks_of_postgres());
    let submissions = wrk(opts, &format!("{base}/page/{SLUG}"), Some(&script), &submit_env)?;
    let cpu_after = (cpu_ticks(|p| p == pid), cpu_ticks_of_postgres());
    stop.store(true, Ordering::Relaxed);
    let under_load = sampler.join().map_err(|_| anyhow!("sampler"))?;
    let stored = counter_actions(&client, &base).await? - before;
    let acknowledged = submissions.requests.saturating_sub(submissions.bad_responses);
    if submissions.bad_responses > 0 || stored < acknowledged as i64 {
        bail!("submissions: {} refused, {stored} stored for {acknowledged} acknowledged", submissions.bad_responses);
    }

    let half = (submissions.rps / 2.0).max(1.0);
    let half_load = fixed_rate(&base, half, opts.duration, opts.connections, "half").await?;
    if half_load.bad > 0 {
        bail!("{} of {} fixed-rate submissions failed", half_load.bad, half_load.sent);
    }

    // The same page once it emails two targets: each action then queues two letters as well
    // as the thank-you, as a real "email to target" page does.
    use_letter_page(binary, data_dir, database_url)?;
    tokio::time::sleep(Duration::from_millis(1200)).await; // the server's page cache
    let before_letters = counter_actions(&client, &base).await?;
    let letter_env = [
        ("BENCH_PATH", format!("/page/{SLUG}")),
        ("BENCH_TOKEN", submit_env[1].1.clone()),
        ("BENCH_COOKIE", submit_env[2].1.clone()),
        ("BENCH_PREFIX", "letter".into()),
    ];
    let letters = wrk(opts, &format!("{base}/page/{SLUG}"), Some(&script), &letter_env)?;
    let letters_stored = counter_actions(&client, &base).await? - before_letters;
    let letters_acknowledged = letters.requests.saturating_sub(letters.bad_responses);
    if letters.bad_responses > 0 || letters_stored < letters_acknowledged as i64 {
        bail!(
            "letter page: {} refused, {letters_stored} stored for {letters_acknowledged} acknowledged",
            letters.bad_responses
        );
    }
    drop(server);

    let raw_url = match backend {
        "sqlite" => format!("sqlite://{}", data_dir.join("raw.db").display()),
        _ => database_url.to_string(),
    };
    let stolen = [static_page.stolen, views.stolen, counter.stolen, submissions.stolen, letters.stolen];
    let raw_rows = if opts.smoke { 200 } else { 20_000 };
    let raw = raw_inserts(backend, &raw_url, raw_rows, opts.connections as usize).await?;

    let existing = counter_rows(backend, database_url).await?;
    generate_actions(backend, database_url, (opts.export_rows - existing).max(0)).await?;
    let (export_secs, export_peak, export_bytes) = export(binary, data_dir, database_url)?;

    let ratio = |value: f64, limit: f64| format!("{:.0}%", 100.0 * value / limit);
    let nginx_rps = static_page.rps;
    let rows = vec![
        row("nginx, same page as a static file", format!("{nginx_rps:.0} req/s"), "(the limit)".into(), "", None),
        row(
            "page views GET /page/{slug}",
            format!("{:.0} req/s", views.rps),
            format!("{} of nginx", ratio(views.rps, nginx_rps)),
            "≥ 60% of nginx",
            Some(views.rps >= 0.6 * nginx_rps),
        ),
        row(
            "counter GET /api/v1/…/counter",
            format!("{:.0} req/s", counter.rps),
            format!("{} of nginx", ratio(counter.rps, nginx_rps)),
            "≥ 60% of nginx",
            Some(counter.rps >= 0.6 * nginx_rps),
        ),
        row(
            "submissions POST (unique emails)",
            format!("{:.0} req/s", submissions.rps),
            format!("{} of nginx", ratio(submissions.rps, nginx_rps)),
            "≥ 25% of nginx",
            Some(submissions.rps >= 0.25 * nginx_rps),
        ),
        row(
            "  latency at full load p50 / p99",
            format!("{:.1} / {:.1} ms", submissions.p50_ms, submissions.p99_ms),
            format!("{} connections", opts.connections),
            "",
            None,
        ),
        row(
            "  CPU per submission",
            cpu_per_submission(&cpu_before, &cpu_after, submissions.requests, backend),
            if backend == "postgres" { "server + PostgreSQL" } else { "server (SQLite in it)" }.into(),
            "",
            None,
        ),
        row(
            "  latency at half load p50 / p99",
            format!("{:.1} / {:.1} ms", half_load.p50_ms, half_load.p99_ms),
            format!("{half:.0} req/s, open loop"),
            "p99 < 50 ms",
            Some(half_load.p99_ms < 50.0),
        ),
        row(
            "  meanwhile: CPU stolen, sender late",
            format!("{:.1}% / {:.0} ms", half_load.stolen, half_load.late_ms),
            "host; load generator".into(),
            "",
            None,
        ),
        row(
            "  load generator CPU per request",
            format!("{:.0} µs", half_load.own_cpu_us),
            "at half load".into(),
            "",
            None,
        ),
        row(
            "submissions, letters to 2 targets",
            format!("{:.0} req/s", letters.rps),
            format!("{} of nginx", ratio(letters.rps, nginx_rps)),
            "",
            None,
        ),
        row(
            "raw durable inserts, same rows",
            format!("{raw:.0} rows/s"),
            format!("submissions at {}", ratio(submissions.rps, raw)),
            "",
            None,
        ),
        row(
            &format!("export of {} actions", opts.export_rows),
            format!("{export_secs:.2} s"),
            format!("{:.0} MiB of CSV", export_bytes as f64 / 1048576.0),
            "< 5 s",
            Some(export_secs < 5.0),
        ),
        row(
            "  export peak memory",
            format!("{export_peak:.1} MiB"),
            String::new(),
            "< 100 MB",
            Some(export_peak < 95.4),
        ),
        row("server memory idle", format!("{idle:.1} MiB"), String::new(), "< 50 MB", Some(idle < 47.7)),
        row("server memory under load (peak)", format!("{under_load:.1} MiB"), String::new(), "", None),
        row(
            "CPU stolen by the host, wrk runs",
            format!(
                "{:.1}–{:.1}%",
                stolen.iter().copied().fold(f64::INFINITY, f64::min),
                stolen.iter().copied().fold(0.0, f64::max)
            ),
            "(steal, from /proc/stat)".into(),
            "",
            None,
        ),
    ];
    let mut out = format!(
        "\n{backend}: wrk -t{} -c{} -d{}s{}; {stored} submissions stored for {acknowledged} acknowledged\n",
        opts.threads,
        opts.connections,
        opts.duration,
        if opts.smoke { " (smoke: counts too small to mean anything)" } else { "" }
    );
    out.push_str(&format!(
        "| {:<36} | {:>18} | {:<24} | {:<15} | {:<4} |\n",
        "measure", "figure", "against", "target", "met"
    ));
    out.push_str(&format!(
        "|{}|{}|{}|{}|{}|\n",
        "-".repeat(38),
        "-".repeat(20),
        "-".repeat(26),
        "-".repeat(17),
        "-".repeat(6)
    ));
    for r in rows {
        let met = match r.pass {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        out.push_str(&format!(
            "| {:<36} | {:>18} | {:<24} | {:<15} | {:<4} |\n",
            r.metric, r.value, r.against, r.target, met
        ));
    }
    Ok(out)
}

/// CPU time so far, in clock ticks (`utime + stime` from `/proc/{pid}/stat`), of each
/// process whose pid passes `keep`.
fn cpu_ticks(keep: impl Fn(u32) -> bool) -> std::collections::HashMap<u32, u64> {
    let mut ticks = std::collections::HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return ticks };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        if !keep(pid) {
            continue;
        }
        if let Some(used) = process_ticks(pid) {
            ticks.insert(pid, used);
        }
    }
    ticks
}

/// A process's `utime + stime`, in clock ticks.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command's name, in parentheses, may hold spaces: the fields follow its last `)`.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The CPU ticks of every PostgreSQL process on this machine (none if PostgreSQL runs
/// elsewhere).
fn cpu_ticks_of_postgres() -> std::collections::HashMap<u32, u64> {
    cpu_ticks(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim_end() == "postgres")
    })
}

/// The server's CPU ticks and PostgreSQL's, at one moment.
type CpuReading = (std::collections::HashMap<u32, u64>, std::collections::HashMap<u32, u64>);

/// CPU per submission in µs, the server's and, for PostgreSQL, its local processes': time
/// used between the two readings (a process started in between counts from its start; one
/// that ended in between is missed). Linux counts in ticks of 10 ms (`USER_HZ` = 100).
fn cpu_per_submission(before: &CpuReading, after: &CpuReading, requests: u64, backend: &str) -> String {
    let used = |before: &std::collections::HashMap<u32, u64>, after: &std::collections::HashMap<u32, u64>| {
        after.iter().map(|(pid, ticks)| ticks.saturating_sub(before.get(pid).copied().unwrap_or(0))).sum::<u64>()
    };
    let per = |ticks: u64| ticks as f64 * 10_000.0 / requests.max(1) as f64;
    let server = per(used(&before.0, &after.0));
    if backend != "postgres" {
        return format!("{server:.0} µs");
    }
    match used(&before.1, &after.1) {
        0 => format!("{server:.0} + ? µs"),
        postgres => format!("{server:.0} + {:.0} µs", per(postgres)),
    }
}

async fn counter_actions(client: &reqwest::Client, base: &str) -> Result<i64> {
    let body: serde_json::Value =
        client.get(format!("{base}/api/v1/pages/{SLUG}/counter")).send().await?.json().await?;
    body["actions"].as_i64().ok_or_else(|| anyhow!("counter without actions"))
}

async fn counter_rows(backend: &str, database_url: &str) -> Result<i64> {
    let sql = "select count(*) from actions";
    Ok(if backend == "sqlite" {
        let pool = sqlx::SqlitePool::connect(database_url).await?;
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await?;
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(database_url).await?;
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await?;
        pool.close().await;
        n
    })
}
