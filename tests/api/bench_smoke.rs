//! The benchmark harness keeps working: a smoke run (one-second load runs, a few thousand
//! actions to export) of `examples/bench.rs` against the debug server, on both backends.
//! Its figures mean nothing at this size; what it checks is that every step runs, that no
//! acknowledged submission is missing, and that the table it prints is complete.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{postgres_admin_url, postgres_available};

/// `cargo test` builds the examples next to the test binary's `deps/` directory.
fn bench_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    profile_dir.join("examples").join(format!("bench{}", std::env::consts::EXE_SUFFIX))
}

fn installed(program: &str) -> bool {
    Command::new(program).arg("-v").output().is_ok()
        || ["/usr/bin", "/usr/sbin"].iter().any(|dir| Path::new(dir).join(program).exists())
}

const ROWS: [&str; 13] = [
    "nginx, same page as a static file",
    "page views GET /page/{slug}",
    "counter GET /api/v1/…/counter",
    "submissions POST (unique emails)",
    "latency at full load p50 / p99",
    "latency at half load p50 / p99",
    "load generator CPU per request",
    "CPU per submission",
    "submissions, letters to 2 targets",
    "raw durable inserts, same rows",
    "export of 2000 actions",
    "export peak memory",
    "server memory idle",
];

#[tokio::test]
async fn the_benchmark_harness_runs_on_both_backends() {
    if !installed("wrk") || !installed("nginx") {
        assert!(std::env::var_os("CI").is_none(), "CI must install wrk and nginx-light (see .ci/run)");
        eprintln!("SKIPPED benchmark smoke: install Debian's wrk and nginx-light to run it");
        return;
    }
    let backend = if postgres_available().await { "both" } else { "sqlite" };
    let bench = bench_binary();
    assert!(bench.exists(), "{} was not built", bench.display());
    let output = tokio::process::Command::new(&bench)
        .args(["--smoke", "--backend", backend, "--postgres", &postgres_admin_url(), "--server"])
        .arg(env!("CARGO_BIN_EXE_undersigned"))
        .output()
        .await
        .expect("running the benchmark harness");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the harness failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));

    let backends: &[&str] = if backend == "both" { &["sqlite", "postgres"] } else { &["sqlite"] };
    for name in backends {
        let table = stdout
            .split("\n\n")
            .map(str::trim_start)
            .find(|section| section.starts_with(&format!("{name}: wrk")))
            .unwrap_or_else(|| panic!("no {name} table in:\n{stdout}"));
        for row in ROWS {
            let line = table
                .lines()
                .find(|line| line.contains(row))
                .unwrap_or_else(|| panic!("{name}: no row {row:?} in:\n{table}"));
            // Every measured row carries a positive figure.
            let figure = line.split('|').nth(2).unwrap_or_default().trim();
            let leading: f64 = figure.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0.0);
            assert!(leading > 0.0, "{name}: {row} has no figure: {line}");
        }
        // Nothing acknowledged went missing under load.
        let header = table.lines().next().unwrap_or_default();
        let (stored, acknowledged) = header
            .split("; ")
            .nth(1)
            .and_then(|tail| {
                let words: Vec<&str> = tail.split_whitespace().collect();
                Some((words.first()?.parse::<u64>().ok()?, words.get(4)?.parse::<u64>().ok()?))
            })
            .unwrap_or_else(|| panic!("{name}: no stored/acknowledged counts in {header:?}"));
        assert!(acknowledged > 0, "{name}: no submission was acknowledged");
        assert!(stored >= acknowledged, "{name}: {stored} stored for {acknowledged} acknowledged");
    }
}
