//! `spectral bench optim` end to end at a tiny size: the table on stdout and the JSON file.

mod common;

use common::{error_line, spectral};

#[test]
fn bench_optim_prints_a_table_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("optim.json");
    let output = spectral(
        &[
            "bench",
            "optim",
            "--layers",
            "1",
            "--width",
            "16",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--json",
            "optim.json",
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("method") && lines[0].contains("median ms"));
    let methods = [
        "adamw",
        "muon",
        "teon",
        "spectra",
        "spectra_teon",
        "manifold_muon",
    ];
    assert_eq!(lines.len(), 1 + methods.len(), "{stdout}");
    // 1 layer of width 16: 4·16² + 2·16·64 = 3072 values.
    for (line, method) in lines[1..].iter().zip(methods) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[0], method, "{line}");
        let median: f64 = cells[1].parse().unwrap();
        assert!(median > 0.0, "{line}");
        assert_eq!(cells[3], "3072", "{line}");
        assert_eq!(cells[4], "cpu", "{line}");
    }
    // Progress: one line per method before and after.
    assert!(stderr.contains("manifold_muon on cpu"), "{stderr}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["device"], "cpu");
    assert_eq!(report["msign_gemm"], "burn");
    assert_eq!(report["options"]["width"], 16);
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), methods.len());
    for (result, method) in results.iter().zip(methods) {
        assert_eq!(result["method"], method);
        assert_eq!(result["times_ms"].as_array().unwrap().len(), 1);
        assert!(result["min_ms"].as_f64().unwrap() > 0.0);
        assert!(result["weight_change"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn bench_optim_names_an_unknown_method() {
    let dir = tempfile::tempdir().unwrap();
    let line = error_line(spectral(
        &["bench", "optim", "--methods", "muon,sgd", "--steps", "1"],
        dir.path(),
    ));
    assert!(line.contains("\"sgd\""), "{line}");
}
