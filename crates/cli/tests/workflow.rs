//! The joints between commands: `--steps` and the schedule, the data file a checkpoint names,
//! progress when stderr is not a terminal, `--out -` and `--json FILE`, per-command help.

mod common;

use common::{MDN, TRAINING, error_line, ok, spectral};
use serde_json::Value;
use std::path::Path;

/// The JSON objects of `run/metrics.jsonl`.
fn metrics(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn steps_fit_the_schedule_and_the_start_line_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::spacings(d, 3000);
    // The file's schedule is written for 5 steps; `--steps 3` makes the run and its cosine 3.
    std::fs::write(d.join("m.toml"), format!("out = \"m\"\n{TRAINING}{MDN}")).unwrap();
    let output = spectral(&["train", "--config", "m.toml", "--steps", "3"], d);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    ok(output);
    assert!(
        stderr.contains("3 steps: warmup 0, cosine to 0.1× the peak lr at step 3"),
        "{stderr}"
    );
    let records = metrics(&d.join("m"));
    let last = records.last().unwrap();
    assert_eq!(last["step"], 3);
    // Step 3 (0-based 2) of a 3-step cosine from 1 to 0.1: 0.1 + 0.9·(1 + cos(2π/3))/2.
    let factor = 0.1 + 0.9 * (1.0 + (2.0 * std::f64::consts::PI / 3.0).cos()) / 2.0;
    let lr = last["lr"].as_f64().unwrap();
    assert!((lr - 0.003 * factor).abs() < 1e-12, "lr {lr}");
    let saved = std::fs::read_to_string(d.join("m/config.toml")).unwrap();
    assert!(saved.contains("total_steps = 3"), "{saved}");

    // Resuming with another length would change the schedule under the run: refused, saying so.
    let line = error_line(spectral(
        &["train", "--config", "m.toml", "--steps", "6", "--resume"],
        d,
    ));
    assert!(
        line.contains("decays over 3 steps") && line.contains("--steps"),
        "{line}"
    );
}

#[test]
fn a_checkpoint_finds_its_data_from_anywhere_and_notices_a_changed_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::spacings(d, 3000);
    common::train(d, "m", MDN);
    let saved = std::fs::read_to_string(d.join("m/config.toml")).unwrap();
    let absolute = d.canonicalize().unwrap().join("s.f64");
    assert!(
        saved.contains(&format!("spacings = \"{}\"", absolute.display())),
        "{saved}"
    );
    assert!(saved.contains("sha256 = \""), "{saved}");

    // From another directory, by absolute path: the recorded file is found.
    let elsewhere = tempfile::tempdir().unwrap();
    let ckpt = d.join("m/last.safetensors");
    let ckpt = ckpt.to_str().unwrap();
    let eval = ["eval", "--ckpt", ckpt, "--rollouts", "1", "--windows", "2"];
    ok(spectral(&eval, elsewhere.path()));

    // Moved: the error names the file and the flag.
    std::fs::rename(d.join("s.f64"), d.join("moved.f64")).unwrap();
    let line = error_line(spectral(&eval, elsewhere.path()));
    assert!(
        line.contains(&absolute.display().to_string()) && line.contains("--spacings FILE"),
        "{line}"
    );
    let moved = d.join("moved.f64");
    let mut with_file = eval.to_vec();
    with_file.extend(["--spacings", moved.to_str().unwrap()]);
    ok(spectral(&with_file, elsewhere.path()));

    // Changed under the same name: refused, unless named explicitly.
    let mut bytes = std::fs::read(&moved).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&absolute, bytes).unwrap();
    let line = error_line(spectral(&eval, elsewhere.path()));
    assert!(line.contains("has changed since the run read it"), "{line}");

    // A --json into a directory that is not there is refused before the model is loaded
    // (the data check above would fail otherwise, so the error is the directory's).
    let mut json = eval.to_vec();
    json.extend(["--json", "missing/eval.json"]);
    let line = error_line(spectral(&json, elsewhere.path()));
    assert!(
        line.contains("missing/eval.json: the directory missing does not exist"),
        "{line}"
    );
}

#[test]
fn long_work_reports_progress_in_plain_lines_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::spacings(d, 3000);
    std::fs::write(d.join("m.toml"), format!("out = \"m\"\n{TRAINING}{MDN}")).unwrap();
    // Every 10 ms instead of every 10 s, so that a run of a second reports.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_spectral"))
        .args(["train", "--config", "m.toml"])
        .env("SPECTRAL_PROGRESS_SECONDS", "0.01")
        .current_dir(d)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    ok(output);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("train: "))
        .collect();
    assert!(!lines.is_empty(), "{stderr}");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("train: 5/5 steps (100%) in "),
        "{stderr}"
    );
    // Plain lines: no carriage returns or terminal escapes in a log.
    assert!(
        !stderr.contains('\r') && !stderr.contains('\u{1b}'),
        "{stderr:?}"
    );

    // A malformed interval is named once and the default used.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_spectral"))
        .args([
            "zeros", "--start", "1", "--count", "100", "--out", "z100.f64",
        ])
        .env("SPECTRAL_PROGRESS_SECONDS", "ten")
        .current_dir(d)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    ok(output);
    assert_eq!(
        stderr
            .matches("SPECTRAL_PROGRESS_SECONDS=\"ten\" is not a positive number of seconds")
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn dash_is_stdout_for_data_and_json_and_the_words_move_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let zeros = |format: &str, out: &str| {
        spectral(
            &[
                "zeros", "--start", "1", "--count", "500", "--format", format, "--out", out,
            ],
            d,
        )
    };
    let text = zeros("txt", "-");
    let stderr = String::from_utf8_lossy(&text.stderr).into_owned();
    let stdout = ok(text);
    assert_eq!(stdout.lines().count(), 500, "{stdout}");
    assert!(stdout.starts_with("1 14.1347251417346"), "{stdout}");
    assert!(stderr.contains("verified: "), "{stderr}");
    assert!(!d.join("-").exists());
    // Binary into a pipe: the same bytes as the file.
    let piped = zeros("f64", "-");
    assert!(piped.status.success());
    ok(zeros("f64", "z.f64"));
    assert_eq!(piped.stdout, std::fs::read(d.join("z.f64")).unwrap());

    // `--json -`: JSON alone on stdout; `--json FILE` beside the table.
    let json = ok(spectral(
        &["unfold", "--in", "z.f64", "--out", "s.f64", "--json", "-"],
        d,
    ));
    let summary: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(summary["count"], 499);
    let table = ok(spectral(
        &[
            "unfold", "--in", "z.f64", "--out", "s.f64", "--json", "u.json",
        ],
        d,
    ));
    assert!(
        table.contains("499 spacings") && table.contains("wrote u.json"),
        "{table}"
    );
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("u.json")).unwrap()).unwrap();
    assert_eq!(file, summary);
}

#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_spectral"))
        .args([
            "zeros", "--start", "1", "--count", "200000", "--format", "txt", "--out", "-",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The reader is gone (as after `| head`): SIGPIPE, not a panic's exit status 101.
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGPIPE),
        "{:?}",
        output.status
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
}
