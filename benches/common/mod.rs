//! What the benchmarks share: timing, medians, the report line, and pinning
//! client and backends to one CPU (or to two, `CPUS=split`).

use std::time::{Duration, Instant};

/// The median of the samples.
pub(crate) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Prints one comparison, `measured` against `baseline` (each a label and
/// its rounds' times): the medians of both sides and their ratio, then the
/// median of the rounds' own ratios (each run against the baseline's run
/// beside it), which moves less on a machine whose speed drifts between
/// rounds.
pub(crate) fn report(name: &str, measured: (&str, Vec<Duration>), baseline: (&str, Vec<Duration>)) {
    let ((label, measured), (base_label, baseline)) = (measured, baseline);
    let mut paired: Vec<f64> = measured.iter().zip(&baseline).map(|(m, b)| m.as_secs_f64() / b.as_secs_f64()).collect();
    paired.sort_by(f64::total_cmp);
    let paired = paired.get(paired.len() / 2).copied().unwrap_or(f64::NAN);
    let (measured, baseline) = (median(measured), median(baseline));
    let ratio = measured.as_secs_f64() / baseline.as_secs_f64();
    println!(
        "{name:<44} {label} {:>10.3} ms   {base_label} {:>10.3} ms   ratio {ratio:.2}x   paired {paired:.2}x",
        ms(measured),
        ms(baseline)
    );
}

/// The number of rounds: the `ROUNDS` environment variable, or `default`.
pub(crate) fn rounds(default: usize) -> usize {
    std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(default)
}

/// Milliseconds, for printing.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// How long `f` takes.
pub(crate) async fn timed<F: std::future::Future<Output = ()>>(f: F) -> Duration {
    let started = Instant::now();
    f.await;
    started.elapsed()
}

/// Pins a process to `cpu` with `taskset`: with two CPUs, whether a backend
/// happens to share the client's CPU changes a round trip by 3x, which
/// would swamp the comparison.
pub(crate) fn pin_to_cpu(pid: u32, cpu: u32, what: &str) {
    let pinned = std::process::Command::new("taskset")
        .args(["-cp", &cpu.to_string(), &pid.to_string()])
        .output()
        .is_ok_and(|o| o.status.success());
    if !pinned {
        eprintln!("warning: could not pin {what} (pid {pid}) to CPU {cpu}; ratios will be noisier");
    }
}

/// The CPU the backends run on: CPU 0, the benchmark's own, as
/// PERFORMANCE.md's figures were taken; CPU 1 with `CPUS=split`, to see
/// what the client's work costs when the server's does not run between
/// its statements on the same CPU (docs/performance.md).
fn backend_cpu() -> u32 {
    u32::from(std::env::var("CPUS").as_deref() == Ok("split"))
}

pub(crate) async fn backend_pid(conn: &mut orm::PgConnection) -> u32 {
    use orm::Connection;
    match conn.query("SELECT pg_backend_pid()", &[]).await.unwrap().values[..] {
        [orm::Value::I32(pid)] => pid as u32,
        ref other => panic!("unexpected {other:?}"),
    }
}

/// Pins this process to CPU 0, and the backends of `engine` (one
/// connection) and of `client` to [`backend_cpu`].
pub(crate) async fn pin_all(engine: &orm::Engine, client: &orm::postgres::tokio_postgres::Client) {
    pin_to_cpu(std::process::id(), 0, "the benchmark");
    let cpu = backend_cpu();
    pin_to_cpu(backend_pid(&mut engine.connect().await.unwrap()).await, cpu, "the ORM's backend");
    let raw_pid = client.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get::<_, i32>(0);
    pin_to_cpu(raw_pid as u32, cpu, "the raw backend");
}

/// `url` without TLS, as raw tokio-postgres (`NoTls`) connects: both sides
/// of a comparison then do the same work on the wire.
pub(crate) fn plain(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}
