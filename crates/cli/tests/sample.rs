//! `spectral sample rollouts` on a SpacingMDN and `spectral sample text` on a char-GPT, each
//! trained here for a few steps; the files read back, the draws repeat per seed, bad input
//! ends as one error line and leaves no file.

mod common;

use common::{MDN, error_line, ok, spectral, train};
use spectral_zeta::series_file::{SeriesKind, SeriesReader};
use std::path::Path;

/// A char-GPT of 1 × 8 on the embedded Shakespeare (its vocabulary: the slice's ASCII bytes).
const GPT: &str = "[model]\nkind = \"gpt\"\nn_layer = 1\nn_head = 2\nn_embd = 8\nblock_size = 16\n";

/// The values of an `f64` series file, checked to be spacings.
fn read(path: &Path) -> Vec<f64> {
    let reader = SeriesReader::open(path).unwrap();
    assert_eq!(reader.header.kind, SeriesKind::Spacings);
    reader.read_all().unwrap()
}

#[test]
fn rollouts_of_a_trained_spacing_mdn_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::spacings(d, 2000);
    train(d, "mdn", MDN);
    let ckpt = "mdn/last.safetensors";
    let three = ["--count", "3", "--horizon", "20", "--seed", "7"];
    let rollouts = |out: &str, extra: &[&str]| {
        let mut args = vec!["sample", "rollouts", "--ckpt", ckpt, "--out", out];
        args.extend_from_slice(extra);
        ok(spectral(&args, d))
    };

    // Three sampled rollouts of 20 from the validation split's first window (1999 spacings,
    // the last 200 held out: δ_1800..δ_1815).
    let line = rollouts("a.f64", &three);
    assert!(
        line.starts_with("wrote 3 rollouts × 20 spacings (sampled feedback, seed 7; seed window δ_1800..δ_1815) to a.f64"),
        "{line}"
    );
    assert!(
        line.contains("the 20 spacings after the seed window"),
        "{line}"
    );
    let a = read(&d.join("a.f64"));
    assert_eq!(a.len(), 3 * 20);
    // Spacings are clamped at 0 (a draw below it is fed back as 0), so ≥ 0, and not all 0.
    assert!(a.iter().all(|v| v.is_finite() && *v >= 0.0), "{a:?}");
    assert!(a.iter().sum::<f64>() > 0.0);
    // Same seed, same file; rollout r does not depend on --count; another seed differs.
    rollouts("b.f64", &three);
    assert_eq!(read(&d.join("b.f64")), a);
    rollouts("one.f64", &["--horizon", "20", "--seed", "7"]);
    assert_eq!(read(&d.join("one.f64")), a[..20]);
    assert_ne!(a[..20], a[20..40], "rollouts of one file draw differently");
    rollouts("c.f64", &["--count", "3", "--horizon", "20", "--seed", "8"]);
    assert_ne!(read(&d.join("c.f64")), a);
    // Mean feedback is deterministic and differs from the sampled rollouts.
    let line = rollouts("m.f64", &["--feedback", "mean", "--horizon", "20"]);
    assert!(line.contains("(mean feedback;"), "{line}");
    let mean = read(&d.join("m.f64"));
    assert_eq!(mean.len(), 20);
    assert!(mean.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert_ne!(mean[..], a[..20]);
    // txt and npy hold the same values: `index value` lines, and a float64 array.
    rollouts("a.txt", &[&three[..], &["--format", "txt"]].concat());
    let text = std::fs::read_to_string(d.join("a.txt")).unwrap();
    let lines: Vec<(usize, f64)> = text
        .lines()
        .map(|l| {
            let (i, v) = l.split_once(' ').unwrap();
            (i.parse().unwrap(), v.parse().unwrap())
        })
        .collect();
    assert_eq!(lines.len(), 60);
    for (k, (i, v)) in lines.iter().enumerate() {
        assert_eq!((*i, *v), (k, a[k]));
    }
    rollouts("a.npy", &[&three[..], &["--format", "npy"]].concat());
    let npy = std::fs::read(d.join("a.npy")).unwrap();
    assert!(String::from_utf8_lossy(&npy[..128]).contains("'shape': (60,)"));
    let values: Vec<f64> = npy[npy.len() - 60 * 8..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(values, a);
    // --start picks the seed window by the index of its first spacing.
    let line = rollouts("start.f64", &["--start", "100", "--horizon", "5"]);
    assert!(line.contains("seed window δ_100..δ_115"), "{line}");

    // Bad input: one error line each, and no file left behind.
    let before = std::fs::read_dir(d).unwrap().count();
    let refuse = |extra: &[&str], needle: &str| {
        let mut args = vec!["sample", "rollouts", "--ckpt", ckpt, "--out", "bad.f64"];
        args.extend_from_slice(extra);
        let line = error_line(spectral(&args, d));
        assert!(
            line.starts_with("error:") && line.contains(needle),
            "{line}"
        );
    };
    refuse(&["--start", "1990"], "δ_1990");
    refuse(
        &["--feedback", "mean", "--count", "2"],
        "mean feedback is deterministic",
    );
    refuse(&["--spacings", "z.f64"], "z.f64");
    let line = error_line(spectral(
        &["sample", "text", "--ckpt", ckpt, "--length", "4"],
        d,
    ));
    assert!(
        line.contains("SpacingMDN") && line.contains("sample rollouts"),
        "{line}"
    );
    assert_eq!(std::fs::read_dir(d).unwrap().count(), before);
}

#[test]
fn text_of_a_trained_char_gpt() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train(d, "gpt", GPT);
    let ckpt = "gpt/last.safetensors";
    let text = |extra: &[&str]| {
        let mut args = vec!["sample", "text", "--ckpt", ckpt, "--prompt", "ROMEO:"];
        args.extend_from_slice(extra);
        let output = spectral(&args, d);
        let summary = String::from_utf8_lossy(&output.stderr).into_owned();
        (ok(output), summary)
    };

    let (a, summary) = text(&["--length", "40", "--temperature", "1", "--seed", "1"]);
    assert!(a.starts_with("ROMEO:"), "{a}");
    assert_eq!(a.trim_end_matches('\n').len(), 6 + 40, "{a:?}");
    assert!(
        summary.contains("sampled 40 bytes") && summary.contains("seed 1"),
        "{summary}"
    );
    assert_eq!(
        text(&["--length", "40", "--temperature", "1", "--seed", "1"]).0,
        a
    );
    assert_ne!(
        text(&["--length", "40", "--temperature", "1", "--seed", "2"]).0,
        a
    );
    // Top-1 at temperature 1 is greedy decoding.
    assert_eq!(
        text(&[
            "--length",
            "40",
            "--temperature",
            "1",
            "--top-k",
            "1",
            "--seed",
            "3"
        ])
        .0,
        text(&["--length", "40", "--temperature", "0"]).0
    );
    // --out: the text in the file, the summary on stdout.
    let (line, _) = text(&[
        "--length",
        "40",
        "--temperature",
        "1",
        "--seed",
        "1",
        "--out",
        "t.txt",
    ]);
    assert!(line.contains("wrote t.txt"), "{line}");
    assert_eq!(
        std::fs::read_to_string(d.join("t.txt")).unwrap(),
        a.trim_end_matches('\n')
    );

    // A character the training text never holds is named; a SpacingMDN is refused by kind.
    let line = error_line(spectral(
        &[
            "sample", "text", "--ckpt", ckpt, "--prompt", "café", "--out", "bad.txt",
        ],
        d,
    ));
    assert!(
        line.starts_with("error:")
            && line.contains("'é' (U+00E9)")
            && line.contains("embedded Shakespeare"),
        "{line}"
    );
    assert!(!d.join("bad.txt").exists());
    let line = error_line(spectral(
        &["sample", "rollouts", "--ckpt", ckpt, "--out", "bad.f64"],
        d,
    ));
    assert!(
        line.contains("GPT") && line.contains("sample text"),
        "{line}"
    );
    assert!(!d.join("bad.f64").exists());
}
