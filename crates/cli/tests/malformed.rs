//! A corpus of malformed inputs, generated here from valid files by seeded mutations (cut
//! short, bytes flipped in the header and in the data, counts rewritten, text in place of
//! binary, out-of-range and mistyped config fields), each given to every command that reads
//! that kind of file. Whatever the input, a command ends within its time limit, exits 0 or 1
//! (no panic, no abort, no signal), prints at most one `error:` line and that one last, never
//! changes its input, and leaves no partial file behind.

mod common;

use common::{MDN, TRAINING, ok, spectral, train};
use spectral_train::data::sampling::splitmix64;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A command gets this long on any input (the valid ones take well under a second).
const LIMIT: Duration = Duration::from_secs(60);

/// SplitMix64 from a seed: the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.0)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Mutations of a binary file whose first `header` bytes are its header: named byte strings.
fn binary_corpus(valid: &[u8], header: usize, seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng(seed);
    let n = valid.len();
    let mut corpus = vec![
        ("empty".to_string(), Vec::new()),
        ("text".to_string(), b"index value\n1 14.13\n".to_vec()),
        (
            "garbage appended".to_string(),
            [valid, &b"\x01\x02\x03"[..]].concat(),
        ),
    ];
    for cut in [1, 7, header / 2, header - 1, header + 3, n / 2, n - 1] {
        corpus.push((format!("cut at {cut}"), valid[..cut.min(n)].to_vec()));
    }
    for round in 0..12 {
        let mut bytes = valid.to_vec();
        let at = rng.below(header);
        bytes[at] ^= 1 << rng.below(8);
        corpus.push((format!("header bit flip {round} at {at}"), bytes));
    }
    for round in 0..6 {
        let mut bytes = valid.to_vec();
        let at = header + rng.below(n - header);
        bytes[at] = rng.next() as u8;
        corpus.push((format!("data byte {round} at {at}"), bytes));
    }
    corpus
}

/// A spectral f64 series file with its count field (bytes 24..32) replaced.
fn with_count(valid: &[u8], count: u64) -> Vec<u8> {
    let mut bytes = valid.to_vec();
    bytes[24..32].copy_from_slice(&count.to_le_bytes());
    bytes
}

/// What a command printed and how it ended.
struct Ending {
    code: Option<i32>,
    stderr: String,
}

/// `spectral args` in `dir`, killed (and the test failed) past [`LIMIT`].
fn run_bounded(args: &[&str], dir: &Path) -> Ending {
    let stderr_path = dir.join("stderr.txt");
    let mut child = Command::new(env!("CARGO_BIN_EXE_spectral"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(File::create(&stderr_path).unwrap())
        .spawn()
        .expect("spawn spectral");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            child.kill().unwrap();
            panic!("`spectral {}` ran past {LIMIT:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    std::fs::remove_file(&stderr_path).unwrap();
    Ending {
        code: status.code(),
        stderr,
    }
}

/// Runs `args` on the malformed `input` (already written) and checks the ending.
fn check(case: &str, args: &[&str], dir: &Path, input: &Path) {
    let before = std::fs::read(input).unwrap();
    let ending = run_bounded(args, dir);
    let what = format!("{case}: `spectral {}`", args.join(" "));
    assert!(
        matches!(ending.code, Some(0 | 1)),
        "{what} ended with {:?}:\n{}",
        ending.code,
        ending.stderr
    );
    assert!(
        !ending.stderr.contains("panicked") && !ending.stderr.contains("RUST_BACKTRACE"),
        "{what} panicked:\n{}",
        ending.stderr
    );
    let lines: Vec<&str> = ending.stderr.lines().collect();
    let errors = lines.iter().filter(|l| l.starts_with("error")).count();
    if ending.code == Some(1) {
        assert_eq!(
            errors, 1,
            "{what}: one error line expected:\n{}",
            ending.stderr
        );
        assert!(
            lines.last().is_some_and(|l| l.starts_with("error: ")),
            "{what}: the error line comes last:\n{}",
            ending.stderr
        );
    } else {
        assert_eq!(
            errors, 0,
            "{what} succeeded with an error line:\n{}",
            ending.stderr
        );
    }
    assert_eq!(
        std::fs::read(input).unwrap(),
        before,
        "{what} changed its input"
    );
    let partial = walk(dir).into_iter().find(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().contains(".partial-"))
    });
    assert!(partial.is_none(), "{what} left {partial:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// The valid inputs every corpus starts from: zeros, their spacings, a trained SpacingMDN.
fn valid_inputs(d: &Path) {
    ok(spectral(
        &["zeros", "--start", "1", "--count", "3000", "--out", "z.f64"],
        d,
    ));
    ok(spectral(&["unfold", "--in", "z.f64", "--out", "s.f64"], d));
    train(d, "mdn", MDN);
}

#[test]
fn malformed_zeros_and_spacing_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    valid_inputs(d);
    for (kind, valid_name, seed) in [("zeros", "z.f64", 1), ("spacings", "s.f64", 2)] {
        let valid = std::fs::read(d.join(valid_name)).unwrap();
        let mut corpus = binary_corpus(&valid, 40, seed);
        for count in [0, 1, 2, 3001, u64::MAX] {
            corpus.push((format!("count {count}"), with_count(&valid, count)));
        }
        for (case, bytes) in corpus {
            let case = format!("{kind} file, {case}");
            let input = d.join("bad.f64");
            std::fs::write(&input, &bytes).unwrap();
            check(
                &case,
                &["unfold", "--in", "bad.f64", "--out", "o.f64"],
                d,
                &input,
            );
            check(
                &case,
                &["stats", "--spacings", "bad.f64", "--out", "st"],
                d,
                &input,
            );
            check(
                &case,
                &[
                    "eval",
                    "--ckpt",
                    "mdn/last.safetensors",
                    "--spacings",
                    "bad.f64",
                ],
                d,
                &input,
            );
        }
    }
}

#[test]
fn malformed_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    valid_inputs(d);
    let valid = std::fs::read(d.join("mdn/last.safetensors")).unwrap();
    let header = 8 + u64::from_le_bytes(valid[..8].try_into().unwrap()) as usize;
    let mut corpus = binary_corpus(&valid, header, 3);
    let mut huge = valid.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    corpus.push(("header length u64::MAX".into(), huge));
    for (case, bytes) in corpus {
        let case = format!("checkpoint, {case}");
        let input = d.join("bad.safetensors");
        std::fs::write(&input, &bytes).unwrap();
        for args in [
            &["eval", "--ckpt", "bad.safetensors", "--rollouts", "2"][..],
            &["spectrum", "--ckpt", "bad.safetensors"],
            &[
                "compress",
                "--ckpt",
                "bad.safetensors",
                "--energy",
                "0.9",
                "--out",
                "c.safetensors",
            ],
        ] {
            check(&case, args, d, &input);
        }
    }
}

#[test]
fn malformed_configs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    valid_inputs(d);
    let valid = format!("out = \"bad\"\n{TRAINING}{MDN}");
    // (field's line, replacement): out of range, mistyped, unknown, contradictory.
    let edits: &[(&str, &str)] = &[
        ("lr = 0.003", "lr = -1"),
        ("lr = 0.003", "lr = nan"),
        ("lr = 0.003", "lr = \"fast\""),
        ("lr = 0.003", "lr = 1e308"),
        ("batch_size = 8", "batch_size = 0"),
        ("batch_size = 8", "batch_size = -3"),
        ("batch_size = 8", "batch_size = 2.5"),
        ("batch_size = 8", "batch_size = 100000000"),
        ("seq_len = 16", "seq_len = 0"),
        ("seq_len = 16", "seq_len = 100000"),
        ("steps = 5", "steps = 0"),
        ("eval_windows = 8", "eval_windows = 0"),
        ("n_head = 2", "n_head = 3"),
        ("n_embd = 8", "n_embd = 0"),
        ("n_layer = 1", "n_layer = 0"),
        ("block_size = 16", "block_size = 0"),
        ("n_components = 2", "n_components = 0"),
        ("kind = \"spacing_mdn\"", "kind = \"rnn\""),
        ("method = \"adamw\"", "method = \"sgd\""),
        ("spacings = \"s.f64\"", "spacings = \"missing.f64\""),
        ("spacings = \"s.f64\"", "spacings = \"z.f64\""),
        ("spacings = \"s.f64\"", "spacings = \"mdn.toml\""),
        ("spacings = \"s.f64\"", "spacings = 7"),
        ("warmup_steps = 1", "warmup_steps = -1"),
        ("total_steps = 5", "total_steps = 0"),
        ("seed = 3", "seed = -1"),
        ("seed = 3", "colour = \"blue\""),
        ("[schedule]", "[schedule]\nmin_factor = 2.0"),
        ("[data]", "[data]\nval_fraction = 1.5"),
        ("[optimizer]", "[optimizer]\nweight_decay = -1.0"),
        ("[model]", "[modle]"),
    ];
    let mut corpus: Vec<(String, String)> = edits
        .iter()
        .map(|(from, to)| {
            assert!(valid.contains(from), "{from}");
            (format!("`{to}`"), valid.replacen(from, to, 1))
        })
        .collect();
    for cut in [0, 10, valid.len() / 2, valid.len() - 5] {
        corpus.push((format!("cut at {cut}"), valid[..cut].to_string()));
    }
    corpus.push((
        "binary".into(),
        String::from_utf8_lossy(&[0xFF, 0x00, 0x7F]).into(),
    ));
    for (case, text) in corpus {
        let case = format!("config, {case}");
        let input = d.join("bad.toml");
        std::fs::write(&input, &text).unwrap();
        check(
            &case,
            &["train", "--config", "bad.toml", "--overwrite"],
            d,
            &input,
        );
        // The valid run's outputs stay as they were.
        assert!(d.join("mdn/last.safetensors").exists(), "{case}");
    }
}
