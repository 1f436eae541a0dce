//! Progress of long work on stderr: a bar on a terminal, and otherwise (a log file, a CI job,
//! `2> run.log`) one plain line every ten seconds, so that a logged run is never silent.
//!
//! ```
//! let progress = spectral_io::progress::Progress::new("zeros", 1000, "zeros");
//! for _ in 0..10 {
//!     progress.inc(100);
//! }
//! progress.finish();
//! ```

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Seconds between plain progress lines; `SPECTRAL_PROGRESS_SECONDS` overrides it (at least
/// 0.01 s).
const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

/// Progress through `total` items of one task; shared by reference between threads.
pub struct Progress {
    bar: ProgressBar,
    /// When stderr is not a terminal: the thread writing the plain lines, and its stop signal.
    plain: Mutex<Option<(Sender<Stop>, JoinHandle<()>)>>,
}

/// How the plain lines end: with a last line (the work is done) or without (it failed).
enum Stop {
    Finished,
    Abandoned,
}

impl Progress {
    /// `what` names the task in the plain lines (`train`, `zeros`); `unit` the items.
    pub fn new(what: &str, total: u64, unit: &str) -> Self {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{human_pos}}/{{human_len}} {unit} \
                 {{msg}} ({{per_sec}}, eta {{eta}})"
            ))
            .expect("valid template"),
        );
        let plain = (!std::io::stderr().is_terminal())
            .then(|| plain_lines(bar.clone(), what.to_string(), unit.to_string()));
        Self {
            bar,
            plain: Mutex::new(plain),
        }
    }

    /// `done` more items.
    pub fn inc(&self, done: u64) {
        self.bar.inc(done);
    }

    /// `position` items done in all.
    pub fn set_position(&self, position: u64) {
        self.bar.set_position(position);
    }

    /// The text after the count (`loss 0.1234 lr 3.0e-3`), shown from the next update on.
    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Runs `print` (which writes lines of its own to stderr) with the bar out of the way.
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        self.bar.suspend(print)
    }

    /// The work is done: a terminal's bar is cleared; in plain lines, work that took long
    /// enough to report progress reports its end.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
        self.stop(Stop::Finished);
    }

    /// Leaves the bar where it stopped (the work failed); so does dropping it unfinished.
    pub fn abandon(&self) {
        self.bar.abandon();
        self.stop(Stop::Abandoned);
    }

    fn stop(&self, how: Stop) {
        let plain = self
            .plain
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some((stop, thread)) = plain {
            // A send fails only when the thread is gone already.
            let _ = stop.send(how);
            let _ = thread.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop(Stop::Abandoned);
    }
}

/// The thread of the plain lines: one every interval until stopped, and a last one when the
/// work finishes after at least one.
fn plain_lines(bar: ProgressBar, what: String, unit: String) -> (Sender<Stop>, JoinHandle<()>) {
    let (stop, stopped) = mpsc::channel();
    let interval = plain_interval();
    let started = Instant::now();
    let thread = std::thread::spawn(move || {
        let line = || {
            let elapsed = started.elapsed().as_secs_f64();
            let total = bar.length().unwrap_or(0);
            let message = bar.message();
            eprintln!(
                "{}",
                plain_line(&what, bar.position(), total, &unit, elapsed, &message)
            );
        };
        let mut written = false;
        loop {
            match stopped.recv_timeout(interval) {
                Err(RecvTimeoutError::Timeout) => {
                    line();
                    written = true;
                }
                Ok(Stop::Finished) if written => return line(),
                Ok(_) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    });
    (stop, thread)
}

fn plain_interval() -> Duration {
    let Ok(text) = std::env::var("SPECTRAL_PROGRESS_SECONDS") else {
        return PLAIN_INTERVAL;
    };
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => {
            Duration::from_secs_f64(seconds.max(0.01))
        }
        _ => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                eprintln!(
                    "note: SPECTRAL_PROGRESS_SECONDS={text:?} is not a positive number of seconds; \
                     progress lines every {} s",
                    PLAIN_INTERVAL.as_secs()
                )
            });
            PLAIN_INTERVAL
        }
    }
}

/// `zeros: 340000/2000000 zeros (17%) in 12 s, about 59 s left; MESSAGE`.
fn plain_line(
    what: &str,
    position: u64,
    total: u64,
    unit: &str,
    elapsed_s: f64,
    message: &str,
) -> String {
    let fraction = if total == 0 {
        1.0
    } else {
        position as f64 / total as f64
    };
    let mut line = format!(
        "{what}: {position}/{total} {unit} ({:.0}%) in {elapsed_s:.0} s",
        100.0 * fraction
    );
    if position > 0 && position < total {
        let left = elapsed_s * (total - position) as f64 / position as f64;
        line.push_str(&format!(", about {left:.0} s left"));
    }
    if !message.is_empty() {
        line.push_str(&format!("; {message}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_line_says_where_the_work_stands() {
        assert_eq!(
            plain_line("zeros", 250, 1000, "zeros", 10.0, ""),
            "zeros: 250/1000 zeros (25%) in 10 s, about 30 s left"
        );
        assert_eq!(
            plain_line("train", 40, 40, "steps", 61.4, "loss 0.1000"),
            "train: 40/40 steps (100%) in 61 s; loss 0.1000"
        );
        assert_eq!(
            plain_line("x", 0, 0, "items", 0.0, ""),
            "x: 0/0 items (100%) in 0 s"
        );
    }
}
