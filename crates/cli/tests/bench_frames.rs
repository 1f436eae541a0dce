//! `spectral bench frames` end to end at a tiny size (16×16 frames, h = 2, 3 steps): the
//! table on stdout, the JSON, and a clear error for an unknown init.

use std::process::Command;

#[test]
fn bench_frames_prints_the_table_with_the_baseline_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("frames.json");
    let output = Command::new(env!("CARGO_BIN_EXE_spectral"))
        .args([
            "bench",
            "frames",
            "--inits",
            "m23_seed,he",
            "--seeds",
            "0,1",
            "--steps",
            "3",
            "--width",
            "2",
            "--batch",
            "2",
            "--warmup",
            "1",
            "--train-clips",
            "2",
            "--test-clips",
            "1",
            "--frames",
            "4",
            "--size",
            "16",
            "--json",
        ])
        .arg(&json)
        .output()
        .expect("spawn spectral");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("| naive (f0 + f2)/2 |"), "{stdout}");
    assert!(
        stdout.contains("| m23_seed |") && stdout.contains("| he |"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    for run in runs {
        assert_eq!(run["train_mse"].as_array().unwrap().len(), 3);
        let ssim = run["scores"]["ssim"].as_f64().unwrap();
        assert!(ssim > -1.0 && ssim < 1.0, "{run}");
    }
    // The row's mean is the mean of its seeds' runs.
    let he: Vec<f64> = runs
        .iter()
        .filter(|r| r["init"] == "he")
        .map(|r| r["scores"]["psnr"].as_f64().unwrap())
        .collect();
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["init"] == "he")
        .unwrap();
    let mean = row["psnr"][0].as_f64().unwrap();
    assert!(
        (mean - 0.5 * (he[0] + he[1])).abs() < 1e-12,
        "{mean} vs {he:?}"
    );
    let baseline = report["baseline"]["psnr"].as_f64().unwrap();
    assert!(baseline.is_finite() && baseline > 10.0, "{baseline}");
}

#[test]
fn bench_frames_names_an_unknown_init() {
    let output = Command::new(env!("CARGO_BIN_EXE_spectral"))
        .args(["bench", "frames", "--inits", "m24"])
        .output()
        .expect("spawn spectral");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown init \"m24\""), "{stderr}");
}
