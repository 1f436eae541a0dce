//! Fault injection for the fault tests: `SPECTRAL_FAULT_KILL=POINT` makes the process kill
//! itself with SIGKILL (no handler, no unwinding: a power cut as far as the files can tell)
//! when it reaches the named point. Unset, a point costs one comparison.
//!
//! Points:
//! - `commit:NAME`: in [`AtomicFile::commit`](crate::AtomicFile::commit) of a file named
//!   `NAME`, after its data is written and synced, before the rename;
//! - `step:N`: after training step `N` is logged (its metrics line written).

use std::sync::OnceLock;

/// The environment variable naming the point to die at.
pub const KILL_AT: &str = "SPECTRAL_FAULT_KILL";

/// Kills the process with SIGKILL when `point` is the one [`KILL_AT`] names.
pub fn point(point: impl FnOnce() -> String) {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    let Some(armed) = ARMED.get_or_init(|| std::env::var(KILL_AT).ok()) else {
        return;
    };
    if *armed == point() {
        // SAFETY: kill on this process's own pid; SIGKILL does not return.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
