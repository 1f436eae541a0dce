//! Running the `spectral` binary from the integration tests (each test file includes this as
//! `mod common;`, so a file may use only some of it).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// `spectral ARGS` with `dir` as the working directory.
pub fn spectral(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spectral"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("spawn spectral")
}

/// The stdout of a run that must have succeeded (its stderr in the panic otherwise).
pub fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The single stderr line of a run that must have failed.
pub fn error_line(output: Output) -> String {
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr).trim().to_string();
    assert_eq!(text.lines().count(), 1, "one error line expected: {text}");
    text
}

/// `dir/z.f64` (the first `count` zeros) and `dir/s.f64`, their spacings: the data of [`MDN`].
pub fn spacings(dir: &Path, count: u64) {
    let count = count.to_string();
    ok(spectral(
        &["zeros", "--start", "1", "--count", &count, "--out", "z.f64"],
        dir,
    ));
    ok(spectral(
        &["unfold", "--in", "z.f64", "--out", "s.f64"],
        dir,
    ));
}

/// A few AdamW steps of a small model: the training part of a run config, without `out`
/// and `[model]` (see [`train`]).
pub const TRAINING: &str = r#"
batch_size = 8
seq_len = 16
steps = 5
eval_interval = 5
eval_windows = 8
checkpoint_interval = 5
seed = 3

[optimizer]
method = "adamw"
lr = 0.003

[schedule]
warmup_steps = 1
total_steps = 5
"#;

/// A small SpacingMDN on `s.f64` (seq_len 16): the `[model]` and `[data]` part of a config.
pub const MDN: &str = r#"
[model]
kind = "spacing_mdn"
n_layer = 1
n_head = 2
n_embd = 8
block_size = 16
n_components = 2

[data]
spacings = "s.f64"
"#;

/// Trains `out = name` with [`TRAINING`] and `model` (written to `dir/name.toml`) in `dir`.
pub fn train(dir: &Path, name: &str, model: &str) {
    let config = format!("out = \"{name}\"\n{TRAINING}{model}");
    std::fs::write(dir.join(format!("{name}.toml")), config).unwrap();
    ok(spectral(
        &["train", "--config", &format!("{name}.toml")],
        dir,
    ));
}
