//! `spectral bench init --qr-cost`: the time of an M23-Spectrum init of large square layers.

use serde::{Deserialize, Serialize};
use spectral::init::{M23Scale, mgi_init_stable};
use std::time::Instant;

/// Which sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Square sizes n of the layers timed.
    pub sizes: Vec<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sizes: vec![1024, 4096, 16384],
        }
    }
}

/// One size's time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QrTiming {
    pub n: usize,
    /// Wall time of one `mgi_init_stable(n, n)`, seconds.
    pub seconds: f64,
    /// Threads available to faer.
    pub threads: usize,
}

/// Times `mgi_init_stable(n, n)` (two Haar QRs + two products, f64 on the host, faer's
/// default parallelism) for each size, calling `done` after each (a large size takes
/// minutes).
pub fn run(config: &Config, mut done: impl FnMut(&QrTiming)) -> Vec<QrTiming> {
    let mut timings = Vec::with_capacity(config.sizes.len());
    for &n in &config.sizes {
        let started = Instant::now();
        let w = mgi_init_stable(n, n, M23Scale::Seed, 0);
        let seconds = started.elapsed().as_secs_f64();
        std::hint::black_box(&w);
        let timing = QrTiming {
            n,
            seconds,
            threads: std::thread::available_parallelism().map_or(0, |p| p.get()),
        };
        done(&timing);
        timings.push(timing);
    }
    timings
}
