//! What the load benches share (`bench ingest`, `bench query`, `bench sync`,
//! `bench peak`): their runtimes, percentiles, rounding and the open-loop
//! load generator.

use anyhow::Context;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A multi-threaded runtime of `threads` workers named `name` (the load
/// generator and an in-process server each get their own).
pub(crate) fn rt(threads: usize, name: &str) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .context("cannot start a runtime")
}

/// The `p` quantile (0–1) of ascending `sorted` samples, nearest rank; 0 for none.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `x` rounded to `places` decimals.
pub(crate) fn round(x: f64, places: i32) -> f64 {
    let m = 10f64.powi(places);
    (x * m).round() / m
}

/// Open loop: request `i` (0 ≤ i < `total`) is due at `i / rate` seconds
/// after the start and runs as its own task, whatever the earlier answers
/// do; at most `conns` run at once (a due request that finds none free
/// waits). Each result comes with its latency in ms counted from when it was
/// due (no coordinated omission), in request order.
pub(crate) async fn open_loop<F, Fut, T>(
    rate: f64,
    total: usize,
    conns: usize,
    send: F,
) -> anyhow::Result<Vec<(f64, T)>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let interval = Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let started = tokio::time::Instant::now();
    let slots = Arc::new(tokio::sync::Semaphore::new(conns.max(1)));
    let mut handles = Vec::with_capacity(total);
    for i in 0..total {
        tokio::time::sleep_until(started + interval.mul_f64(i as f64)).await;
        let due = Instant::now();
        let (slots, request) = (slots.clone(), send(i));
        handles.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            let out = request.await;
            (due.elapsed().as_secs_f64() * 1000.0, out)
        }));
    }
    let mut out = Vec::with_capacity(total);
    for h in handles {
        out.push(h.await.context("a load task failed")?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        assert_eq!(round(1.23456, 2), 1.23);
    }

    #[test]
    fn the_open_loop_sends_every_request_at_its_rate() {
        let rt = rt(1, "t").expect("rt");
        let t = Instant::now();
        let out = rt
            .block_on(open_loop(100.0, 20, 4, |i| async move { i * 2 }))
            .expect("run");
        assert_eq!(out.len(), 20);
        assert!(out.iter().enumerate().all(|(i, (_, v))| *v == i * 2));
        // 20 requests at 100/s take about 0.19 s.
        assert!(
            t.elapsed() >= Duration::from_millis(180),
            "{:?}",
            t.elapsed()
        );
    }
}
