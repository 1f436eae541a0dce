//! The experiments and benchmarks of the toolkit (`DESIGN.md`, crates/experiments): each is a
//! module with a serde `Config`, a `Report` and `run(&Config) -> Result<Report, _>`, so the
//! `spectral` program only parses flags into a config, calls `run` and prints the report.
//!
//! | module | experiment |
//! |---|---|
//! | [`curves`] | loss curves of run directories in one chart (`spectral plot`) |
//! | [`frame_bench`] | frame interpolation with each init: PSNR and SSIM on held-out clips (`spectral bench frames`) |
//! | [`init_bench`] | inits on a deep char-GPT: Jacobian spread, condition numbers, training (`spectral bench init`) |
//! | [`main_job`] | zeros → spacings → GUE statistics → SpacingMDN with memory vs baseline → `report.md` (`spectral run`) |
//! | [`optim_bench`] | the cost of one optimizer step on GPT-2 small's matrices (`spectral bench optim`) |
//! | [`report`] | the results page from run directories and result files (`spectral report`) |
//! | [`shootout`] | the optimizer shoot-out's numbers and verdicts from run directories (a section of `spectral report`) |
//! | [`train_bench`] | training steps per second and peak memory of a SpacingMDN or a char-GPT (`spectral bench train`) |
//! | [`zeta_stats`] | GUE statistics of a spacings file, `stats.json` and figures (`spectral stats`) |
//!
//! Shared by them: [`device`] (devices and precisions in a config by name), [`image_quality`]
//! (PSNR and SSIM), [`mean_std`] (mean ± sample std of a summary), [`zeros_file`] (zeros
//! computed into a file); progress goes through `spectral_io::progress`. Work runs on the backend a device names
//! through spectral-train's one dispatch, `spectral_train::devices::on_devices`. Result files
//! are written atomically by `spectral_io`.

pub mod curves;
pub mod device;
pub mod frame_bench;
pub mod image_quality;
pub mod init_bench;
pub mod main_job;
pub mod mean_std;
pub mod optim_bench;
pub mod report;
pub mod shootout;
pub mod train_bench;
pub mod zeros_file;
pub mod zeta_stats;

/// The README's Rust example, compiled and run by `cargo test --doc` so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExample;
