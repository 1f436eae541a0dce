//! Faults and bad input, end to end: a kill at chosen points (`SPECTRAL_FAULT_KILL`, see
//! `spectral_io::fault`), SIGTERM, a file-size limit standing in for a full disk, two runs at
//! once, corrupt checkpoints and out-of-range numbers. Each asserts that nothing already
//! written was lost, that no partial file stayed, and what the user was told.

mod common;

use common::{MDN, error_line, ok, spectral, train};
use spectral_train::checkpoint;
use spectral_train::metrics::MetricsLog;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A char-GPT small enough to train 40 steps in a second or two.
fn gpt_config(out: &str, steps: u64, extra: &str) -> String {
    format!(
        r#"out = "{out}"
batch_size = 4
seq_len = 16
steps = {steps}
eval_interval = 10
eval_windows = 4
log_interval = 1
checkpoint_interval = 10
seed = 3
{extra}
[model]
kind = "gpt"
n_layer = 1
n_head = 2
n_embd = 8
block_size = 16

[optimizer]
method = "adamw"
lr = 0.003

[schedule]
warmup_steps = 2
total_steps = {steps}
"#
    )
}

fn spectral_with_fault(args: &[&str], dir: &Path, point: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spectral"))
        .args(args)
        .current_dir(dir)
        .env(spectral_io::fault::KILL_AT, point)
        .output()
        .expect("spawn spectral")
}

fn killed(output: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    output.status.signal() == Some(libc::SIGKILL)
}

fn steps_logged(path: &Path) -> Vec<u64> {
    MetricsLog::read(path)
        .unwrap()
        .iter()
        .map(|r| r.step)
        .collect()
}

/// The last stderr line of a failed run (training prints its banner before it).
fn last_error(output: &Output) -> String {
    assert!(!output.status.success(), "expected a failure");
    let text = String::from_utf8_lossy(&output.stderr);
    text.lines().last().unwrap_or_default().to_string()
}

fn last_error_first_line(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr);
    text.lines().next().unwrap_or_default().to_string()
}

fn partials(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-"))
        .collect()
}

/// A kill after step 25, then a kill while the resume repairs the log (the moment that used to
/// truncate it), lose nothing: the resumed run ends with every step logged once, in order, and
/// equal bit for bit to the run trained straight through (on another thread count).
#[test]
fn kills_during_training_and_resume_lose_no_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("run.toml"), gpt_config("run", 40, "")).unwrap();
    let args = ["train", "--config", "run.toml"];
    assert!(killed(&spectral_with_fault(&args, d, "step:25")));
    let metrics = d.join("run/metrics.jsonl");
    assert_eq!(steps_logged(&metrics), (1..=25).collect::<Vec<_>>());
    let resume = ["train", "--config", "run.toml", "--resume"];
    assert!(killed(&spectral_with_fault(
        &resume,
        d,
        "commit:metrics.jsonl"
    )));
    assert_eq!(steps_logged(&metrics), (1..=25).collect::<Vec<_>>());
    // The stale lock and the repair's temporary of the killed processes do not stop it.
    ok(spectral(&resume, d));
    assert_eq!(steps_logged(&metrics), (1..=40).collect::<Vec<_>>());
    assert!(partials(&d.join("run")).is_empty());
    assert!(!d.join("run/.lock").exists());

    // The same config trained straight through, in another process on one thread: the same
    // losses and weights as the killed and resumed run, bit for bit.
    std::fs::write(d.join("straight.toml"), gpt_config("straight", 40, "")).unwrap();
    let straight = Command::new(env!("CARGO_BIN_EXE_spectral"))
        .args(["train", "--config", "straight.toml"])
        .current_dir(d)
        .env("RAYON_NUM_THREADS", "1")
        .env("MATMUL_NUM_THREADS", "1")
        .output()
        .unwrap();
    ok(straight);
    let losses = |run: &str| -> Vec<u64> {
        MetricsLog::read(&d.join(run).join("metrics.jsonl"))
            .unwrap()
            .iter()
            .map(|r| r.train_loss.to_bits())
            .collect()
    };
    assert_eq!(losses("run"), losses("straight"));
    let weights = |run: &str| -> Vec<(String, Vec<u32>)> {
        let (model, _) = checkpoint::load(&d.join(run).join("last.safetensors")).unwrap();
        let bits = |(name, (_, values)): (String, (Vec<usize>, Vec<f32>))| {
            (name, values.iter().map(|v| v.to_bits()).collect())
        };
        model.tensors.into_iter().map(bits).collect()
    };
    assert_eq!(weights("run"), weights("straight"));
}

/// lr 1e12 makes the gradients non-finite within a few steps: the run stops naming the step,
/// and the checkpoint on disk (written every step) is the last finite state and loads.
#[test]
fn a_diverging_run_stops_with_a_finite_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = gpt_config("run", 40, "")
        .replace("checkpoint_interval = 10", "checkpoint_interval = 1")
        .replace("lr = 0.003", "lr = 1e12\n[optimizer.adamw]\nlr = 1e12");
    std::fs::write(d.join("run.toml"), config).unwrap();
    let output = spectral(&["train", "--config", "run.toml"], d);
    let line = last_error(&output);
    assert!(line.starts_with("error:"), "{line}");
    let (_, saved) = checkpoint::load(&d.join("run/last.safetensors")).unwrap();
    if line.contains("not written") {
        // Finite gradients took the weights to ±∞: that checkpoint was refused.
        assert!(line.contains("last finite state"), "{line}");
    } else {
        let step = saved.step + 1;
        assert!(
            line.contains(&format!("at step {step};"))
                && (line.contains("NaN") || line.contains("inf")),
            "checkpoint at {}: {line}",
            saved.step
        );
    }
}

/// A second run into a directory in use is refused naming the first's pid; the first ends
/// untouched. A fresh run into a finished run's directory is refused too, unless --overwrite.
#[test]
fn one_run_per_directory_and_no_silent_replacement() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("long.toml"), gpt_config("run", 400, "")).unwrap();
    let mut first = Command::new(env!("CARGO_BIN_EXE_spectral"))
        .args(["train", "--config", "long.toml"])
        .current_dir(d)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !d.join("run/.lock").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "no lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    let line = last_error(&spectral(&["train", "--config", "long.toml"], d));
    assert!(
        line.contains(&format!("in use by process {}", first.id())),
        "{line}"
    );
    assert!(first.wait().unwrap().success());
    assert_eq!(
        steps_logged(&d.join("run/metrics.jsonl")),
        (1..=400).collect::<Vec<_>>()
    );
    std::fs::write(d.join("short.toml"), gpt_config("run", 5, "")).unwrap();
    let line = last_error(&spectral(&["train", "--config", "short.toml"], d));
    assert!(
        line.contains("already holds a run") && line.contains("--overwrite"),
        "{line}"
    );
    assert_eq!(steps_logged(&d.join("run/metrics.jsonl")).len(), 400);
    ok(spectral(
        &["train", "--config", "short.toml", "--overwrite"],
        d,
    ));
    assert_eq!(
        steps_logged(&d.join("run/metrics.jsonl")),
        (1..=5).collect::<Vec<_>>()
    );
}

/// SIGTERM while zeros are written removes the partial file (exit 143); after a SIGKILL the
/// partial stays, and the next write to the same destination removes it.
#[test]
fn interrupted_outputs_leave_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGKILL] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_spectral"))
            .args([
                "zeros", "--start", "1", "--count", "20000000", "--out", "z.f64",
            ])
            .current_dir(d)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while partials(d).is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no partial file"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let status = child.wait().unwrap();
        if signal == libc::SIGKILL {
            assert_eq!(partials(d).len(), 1);
        } else {
            assert_eq!(status.code(), Some(128 + signal), "{status:?}");
            assert!(partials(d).is_empty(), "{:?}", partials(d));
        }
        assert!(!d.join("z.f64").exists());
    }
    ok(spectral(
        &["zeros", "--start", "1", "--count", "10", "--out", "z.f64"],
        d,
    ));
    assert!(partials(d).is_empty(), "{:?}", partials(d));
}

/// A full disk, as a file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored so that writes
/// fail with EFBIG): one error line, and neither the output nor its temporary stays.
#[test]
fn a_full_disk_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let binary = env!("CARGO_BIN_EXE_spectral");
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 64; exec '{binary}' zeros --start 1 --count 200000 --out z.f64"
        ))
        .current_dir(d)
        .output()
        .unwrap();
    let line = error_line(output);
    assert!(line.contains("z.f64"), "{line}");
    assert_eq!(std::fs::read_dir(d).unwrap().count(), 0);

    // stats' figures on a disk that fills: one sentence naming the figure (it printed a debug
    // dump of the image error), and no truncated image left.
    ok(spectral(
        &["zeros", "--start", "1", "--count", "3000", "--out", "z.f64"],
        d,
    ));
    ok(spectral(&["unfold", "--in", "z.f64", "--out", "s.f64"], d));
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 100; exec '{binary}' stats --spacings s.f64 --out st"
        ))
        .current_dir(d)
        .output()
        .unwrap();
    let line = error_line(output);
    assert!(
        line.contains("st/") && line.matches("File too large").count() == 1,
        "{line}"
    );
    assert!(!line.contains("Error("), "{line}");
    for entry in std::fs::read_dir(d.join("st")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.contains(".partial-"), "{name} left");
        if name.ends_with(".png") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(bytes.ends_with(b"IEND\xaeB`\x82"), "{name} is truncated");
        }
    }
}

/// A symlink or a device node given as an output is refused, and left as it was.
#[test]
fn outputs_never_replace_links_or_devices() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("target"), "kept").unwrap();
    std::os::unix::fs::symlink(d.join("target"), d.join("link")).unwrap();
    for out in ["link", "/dev/null"] {
        let line = error_line(spectral(
            &["zeros", "--start", "1", "--count", "10", "--out", out],
            d,
        ));
        assert!(
            line.contains("symlink") || line.contains("not a regular file"),
            "{line}"
        );
    }
    assert!(
        std::fs::symlink_metadata(d.join("link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(d.join("target")).unwrap(), "kept");
}

/// A spacings file with one absurd value (a corrupt file) ends: `stats` finishes or refuses,
/// in seconds, instead of looping forever.
#[test]
fn stats_on_an_absurd_spacing_ends() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(spectral(
        &["zeros", "--start", "1", "--count", "3000", "--out", "z.f64"],
        d,
    ));
    ok(spectral(&["unfold", "--in", "z.f64", "--out", "s.f64"], d));
    let mut bytes = std::fs::read(d.join("s.f64")).unwrap();
    let n = bytes.len();
    bytes[n - 8..].copy_from_slice(&1e300f64.to_le_bytes());
    std::fs::write(d.join("s.f64"), bytes).unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spectral"))
        .args(["stats", "--spacings", "s.f64", "--out", "stats"])
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("stats did not end in 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // And it says why.
    let line = error_line(spectral(
        &["stats", "--spacings", "s.f64", "--out", "stats"],
        d,
    ));
    assert!(
        line.contains("spacing 2999 is 1e300") && line.contains("consecutive zeros"),
        "{line}"
    );
}

/// A zeros file of `values` (kind zero ordinates, first index 1).
fn zeros_file(path: &Path, values: &[f64]) {
    use spectral_zeta::series_file::{Format, Header, SeriesKind, SeriesWriter};
    let header = Header {
        kind: SeriesKind::Zeros,
        first_index: 1,
        count: values.len() as u64,
    };
    let mut writer = SeriesWriter::create(path, Format::F64, header).unwrap();
    writer.write(values).unwrap();
    writer.finish().unwrap();
}

/// Each message names the file, the tensor or field, and the real cause.
#[test]
fn errors_name_the_real_cause() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Ordinates below the first zero are not zeros (their "spacings" came out negative).
    zeros_file(
        &d.join("low.f64"),
        &[3.0, 5.0, 14.134725141734694, 21.022039638771555],
    );
    let line = error_line(spectral(
        &["unfold", "--in", "low.f64", "--out", "s.f64"],
        d,
    ));
    assert!(
        line.contains("low.f64") && line.contains("value 3 at index 1 is below the first zero"),
        "{line}"
    );
    assert!(!d.join("s.f64").exists());

    // A SpacingMDN of seq_len 16, then spacing files too short for it.
    ok(spectral(
        &["zeros", "--start", "1", "--count", "3000", "--out", "z.f64"],
        d,
    ));
    ok(spectral(&["unfold", "--in", "z.f64", "--out", "s.f64"], d));
    train(d, "mdn", MDN);
    let spacings = std::fs::read(d.join("s.f64")).unwrap();
    let short = |name: &str, count: u64| {
        let mut bytes = spacings[..40 + 8 * count as usize].to_vec();
        bytes[24..32].copy_from_slice(&count.to_le_bytes());
        std::fs::write(d.join(name), bytes).unwrap();
    };
    short("ten.f64", 10);
    short("hundred.f64", 100);
    let eval = |file: &str| {
        let args = ["eval", "--ckpt", "mdn/last.safetensors", "--spacings", file];
        error_line(spectral(&args, d))
    };
    let line = eval("ten.f64");
    assert!(
        line.contains("10 values at val_fraction 0.1 leave 1 in the validation split"),
        "{line}"
    );
    let line = eval("hundred.f64");
    assert!(
        line.contains("the validation split has 10 values") && line.contains("seq_len 16"),
        "{line}"
    );

    // More windows than the validation split holds: scored on those, and said so.
    let output = spectral(
        &[
            "eval",
            "--ckpt",
            "mdn/last.safetensors",
            "--windows",
            "1000000",
            "--rollouts",
            "2",
        ],
        d,
    );
    let table = ok(output.clone());
    let notes = String::from_utf8_lossy(&output.stderr);
    // 300 validation spacings hold ⌊299 / 16⌋ = 18 windows of 16.
    assert!(
        notes.contains("1000000 windows asked for; the validation split (300 spacings) holds 18"),
        "{notes}"
    );
    assert!(
        table.contains("(288 targets in 18 windows of 16; 2 rollouts)"),
        "{table}"
    );

    // NaN weights: the file and the tensor are named, by spectrum (which reads any
    // safetensors file) and compress.
    let (mut dict, saved) = checkpoint::load(&d.join("mdn/last.safetensors")).unwrap();
    let name = "model/blocks.0.mlp.fc.weight";
    dict.tensors.get_mut(name).unwrap().1[3] = f32::NAN;
    dict.metadata.insert("step".into(), saved.step.to_string());
    dict.metadata
        .insert("config".into(), saved.config_toml.clone());
    std::fs::write(d.join("nan.safetensors"), dict.to_safetensors().unwrap()).unwrap();
    let line = error_line(spectral(&["spectrum", "--ckpt", "nan.safetensors"], d));
    assert!(
        line.contains("nan.safetensors: tensor blocks.0.mlp.fc.weight") && line.contains("NaN"),
        "{line}"
    );
    let args = [
        "compress",
        "--ckpt",
        "nan.safetensors",
        "--energy",
        "0.9",
        "--out",
        "c.st",
    ];
    let line = error_line(spectral(&args, d));
    assert!(
        line.contains("nan.safetensors") && line.contains(name) && line.contains("NaN"),
        "{line}"
    );
    assert!(!d.join("c.st").exists());

    // A config's type error is one line naming the file, the line and the field's value.
    let config = gpt_config("typo", 4, "").replace("lr = 0.003", "lr = \"fast\"");
    std::fs::write(d.join("typo.toml"), config).unwrap();
    let line = error_line(spectral(&["train", "--config", "typo.toml"], d));
    assert!(
        line.contains("typo.toml") && line.contains("line 20") && line.contains("string \"fast\""),
        "{line}"
    );
}

/// Counts of 0 and corrupt or diverged checkpoints are refused with one line each.
#[test]
fn corrupt_checkpoints_and_zero_counts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("run.toml"), gpt_config("run", 10, "")).unwrap();
    ok(spectral(&["train", "--config", "run.toml"], d));
    let ckpt = d.join("run/last.safetensors");
    for flag in ["--windows", "--rollouts"] {
        // clap's own error: its first line names the flag and the value.
        let output = spectral(&["eval", "--ckpt", "run/last.safetensors", flag, "0"], d);
        assert!(!output.status.success());
        let line = last_error_first_line(&output);
        assert!(line.contains(flag) && line.contains("'0'"), "{line}");
    }
    // One flipped byte of the data (the last byte of the file).
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x01;
    std::fs::write(d.join("flipped.safetensors"), &bytes).unwrap();
    let line = error_line(spectral(&["eval", "--ckpt", "flipped.safetensors"], d));
    assert!(line.contains("is corrupt"), "{line}");
    // A NaN written by an older version (no checksums): refused, not scored.
    let (mut dict, saved) = checkpoint::load(&ckpt).unwrap();
    dict.tensors.values_mut().next().unwrap().1[0] = f32::NAN;
    dict.metadata.insert("step".into(), saved.step.to_string());
    dict.metadata
        .insert("config".into(), saved.config_toml.clone());
    std::fs::write(d.join("nan.safetensors"), dict.to_safetensors().unwrap()).unwrap();
    let line = error_line(spectral(&["eval", "--ckpt", "nan.safetensors"], d));
    assert!(line.contains("holds NaN"), "{line}");
    // A text file is not a checkpoint, and the message does not blame an optimizer state.
    std::fs::write(d.join("text.safetensors"), "hello").unwrap();
    let line = error_line(spectral(&["eval", "--ckpt", "text.safetensors"], d));
    assert!(line.contains("not a readable safetensors file"), "{line}");
}
