//! `spectral eval`, `slots` and `diagnose` end to end on a SpacingMDN trained here for a few
//! steps (1006 parameters, 3 memory slots) on the first 6000 zeros; and their clear errors.

mod common;

use common::{MDN, TRAINING, error_line, ok, spectral, train};
use serde_json::Value;
use std::path::Path;

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn eval_slots_and_diagnose_a_trained_memory_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::spacings(d, 6000);
    train(d, "mem", &format!("{MDN}\n[model.memory]\nn_slots = 3\n"));
    train(d, "plain", MDN);
    let ckpt = "mem/last.safetensors";

    let table = ok(spectral(
        &[
            "eval",
            "--ckpt",
            ckpt,
            "--json",
            "e.json",
            "--rollouts",
            "4",
        ],
        d,
    ));
    assert!(
        table.contains("val CRPS") && table.contains("Err@100"),
        "{table}"
    );
    let e = json(&d.join("e.json"));
    assert_eq!(e["targets"], 8 * 16);
    assert_eq!(e["rollouts"], 4);
    assert_eq!(e["horizons"][0]["h"], 10);
    assert_eq!(e["horizons"][1]["h"], 100);
    for key in ["nll", "mae", "crps"] {
        assert!(e[key].as_f64().unwrap().is_finite(), "{key}");
    }
    assert!(e["crps"].as_f64().unwrap() > 0.0);
    let fractions = e["pit"]["fractions"].as_array().unwrap();
    assert_eq!(fractions.len(), 10);
    let total: f64 = fractions.iter().map(|f| f.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-9);
    let entropy = e["memory"]["mem_entropy"].as_f64().unwrap();
    assert!(entropy > 0.0 && entropy <= 3f64.ln() + 1e-9);
    assert!((e["memory"]["mem_entropy_max"].as_f64().unwrap() - 3f64.ln()).abs() < 1e-12);
    let ks = e["distribution"]["truth_ks_vs_gue"].as_f64().unwrap();
    assert!(ks > 0.0 && ks < 0.3, "{ks}");

    let table = ok(spectral(
        &[
            "slots",
            "--ckpt",
            ckpt,
            "--json",
            "s.json",
            "--rollouts",
            "4",
        ],
        d,
    ));
    assert!(table.contains("eff%"), "{table}");
    let s = json(&d.join("s.json"));
    let rows = s["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    let labels = ["BALLAST", "MARGINAL", "USEFUL", "STRONG", "DOMINANT"];
    for row in rows {
        assert!(labels.contains(&row["label"].as_str().unwrap()), "{row}");
        assert_eq!(row["rollout_delta_pct"].as_array().unwrap().len(), 2);
    }
    assert!(
        ["BALLAST", "MARGINAL", "PARTIAL", "HOLDS_FOCUS"].contains(&s["reading"].as_str().unwrap())
    );
    // The one-step baseline is the eval's MAE (same windows, same model).
    assert!((s["baseline_mae"].as_f64().unwrap() - e["mae"].as_f64().unwrap()).abs() < 1e-6);

    let table = ok(spectral(
        &[
            "diagnose",
            "--ckpt",
            ckpt,
            "--json",
            "d.json",
            "--rollouts",
            "4",
        ],
        d,
    ));
    assert_eq!(
        table.lines().filter(|l| !l.starts_with("wrote")).count(),
        6,
        "{table}"
    );
    let g = json(&d.join("d.json"));
    for key in [
        "shortcut",
        "symmetry",
        "co_adaptation",
        "gradient_correlation",
        "train_vs_rollout",
        "slot_effect_norm",
    ] {
        assert!(g[key]["value"].as_f64().unwrap().is_finite(), "{key}");
        assert!(!g[key]["reading"].as_str().unwrap().is_empty(), "{key}");
    }
    assert!((g["mae"].as_f64().unwrap() - e["mae"].as_f64().unwrap()).abs() < 1e-6);

    // A model without memory: eval works (no mem_entropy), slots and diagnose refuse.
    ok(spectral(
        &[
            "eval",
            "--ckpt",
            "plain/last.safetensors",
            "--json",
            "p.json",
            "--rollouts",
            "2",
        ],
        d,
    ));
    assert!(json(&d.join("p.json"))["memory"].is_null());
    for sub in ["slots", "diagnose"] {
        let line = error_line(spectral(&[sub, "--ckpt", "plain/last.safetensors"], d));
        assert!(line.contains("no memory bank"), "{line}");
    }
    // A missing file and a non-checkpoint.
    let line = error_line(spectral(&["eval", "--ckpt", "none.safetensors"], d));
    assert!(line.contains("none.safetensors"), "{line}");
    let line = error_line(spectral(&["eval", "--ckpt", "s.f64"], d));
    assert!(line.contains("s.f64"), "{line}");
}

#[test]
fn a_gpt_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let gpt = "[model]\nkind = \"gpt\"\nn_layer = 1\nn_head = 2\nn_embd = 8\nblock_size = 16\n";
    let config = format!("out = \"gpt\"\n{TRAINING}{gpt}").replace("steps = 5\n", "steps = 1\n");
    std::fs::write(d.join("gpt.toml"), config).unwrap();
    ok(spectral(&["train", "--config", "gpt.toml"], d));
    for sub in ["eval", "slots", "diagnose"] {
        let line = error_line(spectral(&[sub, "--ckpt", "gpt/last.safetensors"], d));
        assert!(
            line.contains("GPT") && line.contains("SpacingMDN"),
            "{line}"
        );
    }
}

/// `--device cuda` in a build without the `cuda` feature is refused with one line, for each of
/// the three commands, before the checkpoint is read.
#[test]
fn a_cuda_device_needs_a_cuda_build() {
    if cfg!(feature = "cuda") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for sub in ["eval", "slots", "diagnose"] {
        let line = error_line(spectral(
            &[sub, "--ckpt", "none.safetensors", "--device", "cuda"],
            dir.path(),
        ));
        assert!(line.contains("built without CUDA"), "{sub}: {line}");
    }
}
