//! `spectral spectrum` and `spectral compress` end to end: a PyTorch state_dict fixture, and
//! one clear error line (and no output file) for bad input, and what --energy means with --whiten.

mod common;

use common::{ok, spectral};

fn fixture() -> String {
    format!(
        "{}/../spectral/tests/fixtures/torch_state_dict.safetensors",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn spectrum_reads_a_pytorch_state_dict_and_writes_json_and_charts() {
    let dir = tempfile::tempdir().unwrap();
    let out = spectral(
        &["spectrum", "--ckpt", &fixture(), "--out", "spec"],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // mlp.fc is nn.Linear(6, 12): [12, 6] in the file, 6x12 in burn's layout.
    assert!(
        text.contains("mlp.fc.weight") && text.contains("6x12"),
        "{text}"
    );
    assert!(text.contains("modular norm 22.627"), "{text}");
    for name in ["spectrum.json", "singular_values.png", "energy.svg"] {
        assert!(dir.path().join("spec").join(name).exists(), "{name}");
    }
}

#[test]
fn compress_errors_are_one_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 3] = [
        &[
            "compress",
            "--ckpt",
            "missing.safetensors",
            "--rank",
            "4",
            "--out",
            "o.safetensors",
        ],
        &[
            "compress",
            "--ckpt",
            &fixture(),
            "--energy",
            "1.5",
            "--out",
            "o.safetensors",
        ],
        // A PyTorch file has no run config: not a spectral checkpoint.
        &[
            "compress",
            "--ckpt",
            &fixture(),
            "--rank",
            "2",
            "--out",
            "o.safetensors",
        ],
    ];
    for args in cases {
        let out = spectral(args, dir.path());
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error:"), "{err}");
        assert!(!dir.path().join("o.safetensors").exists());
    }
    let out = spectral(
        &["compress", "--ckpt", &fixture(), "--out", "o.safetensors"],
        dir.path(),
    );
    assert!(!out.status.success(), "a rank rule is required");
}

/// With --whiten, --energy is a fraction of the layers' output energy, and the summary says so.
#[test]
fn whitened_energy_is_named_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = r#"out = "run"
batch_size = 4
seq_len = 16
steps = 4
eval_interval = 4
eval_windows = 4
checkpoint_interval = 4

[model]
kind = "gpt"
n_layer = 1
n_head = 2
n_embd = 16
block_size = 16
"#;
    std::fs::write(d.join("run.toml"), config).unwrap();
    ok(spectral(&["train", "--config", "run.toml"], d));
    let compress = |extra: &[&str]| {
        let mut args = vec![
            "compress",
            "--ckpt",
            "run/last.safetensors",
            "--energy",
            "0.9",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", "c.safetensors"]);
        ok(spectral(&args, d))
    };
    let named = "whitened (energy of the layers' outputs on the calibration data)";
    let summary = compress(&["--whiten", "--calib", "4"]);
    assert!(summary.contains(named), "{summary}");
    let summary = compress(&[]);
    assert!(!summary.contains("whitened"), "{summary}");
}
