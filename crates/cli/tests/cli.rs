//! The `spectral` binary end to end: outputs, and one clear error line (and no partial file)
//! for each kind of bad input.

mod common;

use common::{error_line, ok, spectral};
use std::path::Path;

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

/// Every subcommand has `--help`, and the GPU kernel flags of burn's CUDA path appear on
/// the commands that run a model or an optimizer there, and nowhere else.
#[test]
fn every_subcommand_has_help_with_only_its_own_flags() {
    let dir = tempfile::tempdir().unwrap();
    let with_kernels = [
        "train",
        "eval",
        "slots",
        "diagnose",
        "bench optim",
        "bench train",
        "bench init",
    ];
    let without = [
        "run",
        "zeros",
        "zeta-z",
        "unfold",
        "stats",
        "compress",
        "spectrum",
        "report",
        "plot",
        "sample",
        "bench frames",
    ];
    for sub in with_kernels.iter().chain(&without) {
        let mut args: Vec<&str> = sub.split(' ').collect();
        args.push("--help");
        let help = ok(spectral(&args, dir.path()));
        assert!(help.contains("Usage"), "{sub}");
        let kernels = [
            "--msign-gemm",
            "--matmul-gemm",
            "--attention",
            "--gelu",
            "--layer-norm",
        ];
        let shown = kernels.iter().filter(|flag| help.contains(*flag)).count();
        let expected = if with_kernels.contains(sub) { 5 } else { 0 };
        assert_eq!(shown, expected, "{sub} --help:\n{help}");
    }
    let top = ok(spectral(&["--help"], dir.path()));
    assert!(!top.contains("--attention"), "{top}");
}

#[test]
fn zeros_in_three_formats_agree() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["txt", "npy", "f64"] {
        let out = format!("z.{format}");
        let output = spectral(
            &[
                "zeros", "--start", "99998", "--count", "5", "--format", format, "--out", &out,
            ],
            dir.path(),
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).starts_with("verified: "));
    }
    let f64_values = spectral_zeta::series_file::SeriesReader::open(dir.path().join("z.f64"))
        .unwrap()
        .read_all()
        .unwrap();
    let npy = std::fs::read(dir.path().join("z.npy")).unwrap();
    let npy_values: Vec<f64> = npy[npy.len() - 40..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let txt = std::fs::read_to_string(dir.path().join("z.txt")).unwrap();
    let txt_values: Vec<f64> = txt
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(f64_values, npy_values);
    assert_eq!(f64_values, txt_values);
    // γ_100000 from Arb (shared/data/zeta_zeros_reference.txt), third of the five.
    assert!((f64_values[2] - 74_920.827_498_994_19).abs() < 1e-9);
    assert!(txt.starts_with("99998 "));
}

#[test]
fn unfold_writes_spacings_and_json() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        spectral(
            &["zeros", "--start", "1", "--count", "1000", "--out", "z.f64"],
            dir.path()
        )
        .status
        .success()
    );
    let output = spectral(
        &["unfold", "--in", "z.f64", "--out", "s.f64", "--json", "-"],
        dir.path(),
    );
    assert!(output.status.success());
    let json = String::from_utf8_lossy(&output.stdout);
    assert!(json.contains("\"count\": 999"), "{json}");
    let spacings =
        spectral_zeta::series_file::SeriesReader::open(dir.path().join("s.f64")).unwrap();
    assert_eq!(
        spacings.header.kind,
        spectral_zeta::series_file::SeriesKind::Spacings
    );
    let values = spacings.read_all().unwrap();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    assert!(
        values.iter().all(|&d| d > 0.0) && (mean - 1.0).abs() < 0.05,
        "mean {mean}"
    );
}

#[test]
fn bad_input_gives_one_line_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["zeros", "--start", "0", "--count", "5", "--out", "a.f64"],
            "numbered from 1",
        ),
        (
            &["zeros", "--start", "1", "--count", "0", "--out", "a.f64"],
            "at least 1",
        ),
        (
            &[
                "zeros",
                "--start",
                "1",
                "--count",
                "5",
                "--out",
                "missing-dir/a.f64",
            ],
            "No such file",
        ),
        // 9·10⁹ zeros as text take ~400 GB, more than these machines have.
        (
            &[
                "zeros",
                "--start",
                "1",
                "--count",
                "9000000000",
                "--out",
                "a.txt",
                "--format",
                "txt",
            ],
            "free on its file system",
        ),
        (
            &["unfold", "--in", "nothing.f64", "--out", "s.f64"],
            "No such file",
        ),
    ];
    for (args, message) in cases {
        let output = spectral(args, dir.path());
        assert!(!output.status.success(), "{args:?}");
        let line = error_line(output);
        assert!(
            line.starts_with("error: ") && line.contains(message),
            "{args:?}: {line}"
        );
        assert_eq!(files_in(dir.path()), 0, "{args:?} left a file");
    }
    // A truncated file and a foreign one.
    assert!(
        spectral(
            &["zeros", "--start", "1", "--count", "20", "--out", "z.f64"],
            dir.path()
        )
        .status
        .success()
    );
    let bytes = std::fs::read(dir.path().join("z.f64")).unwrap();
    std::fs::write(dir.path().join("cut.f64"), &bytes[..bytes.len() - 5]).unwrap();
    std::fs::write(dir.path().join("foreign.f64"), vec![7u8; 200]).unwrap();
    for (input, message) in [("cut.f64", "truncated"), ("foreign.f64", "bad magic")] {
        let output = spectral(&["unfold", "--in", input, "--out", "s.f64"], dir.path());
        assert!(error_line(output).contains(message));
        assert!(!dir.path().join("s.f64").exists());
    }
}

#[test]
fn run_writes_its_outputs_and_report_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let output = spectral(
        &["run", "--count", "3000", "--steps", "3", "--out", "r"],
        dir.path(),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for file in [
        "zeros.f64",
        "spacings.f64",
        "summary.json",
        "stats/stats.json",
        "stats/spacing_distribution.png",
        "memory/last.safetensors",
        "memory/metrics.jsonl",
        "baseline/best.safetensors",
        "loss_curves.png",
        "rollouts.png",
        "report.md",
    ] {
        assert!(dir.path().join("r").join(file).exists(), "{file}");
    }

    // `report` takes the job's output as it is: the two arms are two studies of one method
    // each, so memory-bank rows, evaluated first. Without evaluation it names the commands.
    let error = String::from_utf8_lossy(
        &spectral(&["report", "--runs", "r", "--no-evaluate"], dir.path()).stderr,
    )
    .into_owned();
    for arm in ["baseline", "memory"] {
        assert!(
            error.contains(&format!(
                "spectral eval --ckpt r/{arm}/best.safetensors --json r/{arm}/eval.json"
            )),
            "{error}"
        );
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_spectral"))
        .args(["report", "--runs", "r"])
        .env("SPECTRAL_PROGRESS_SECONDS", "0.01")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = ok(output);
    // It says what it evaluates, and the evaluation reports its progress.
    assert!(
        stderr.contains("report: evaluating r/baseline on the CPU (1 of 2;")
            && stderr.contains("eval: 4/4 passes (100%)"),
        "{stderr}"
    );
    assert!(stdout.contains("Memory bank, Zeta statistics"), "{stdout}");
    let page = std::fs::read_to_string(dir.path().join("r/RESULTS.md")).unwrap();
    for (arm, variant) in [("baseline", "no memory"), ("memory", "slots")] {
        let eval: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!("r/{arm}/eval.json"))).unwrap(),
        )
        .unwrap();
        let nll = eval["nll"].as_f64().unwrap();
        let row = page
            .lines()
            .find(|l| l.starts_with(&format!("| {arm} | ")))
            .unwrap_or_else(|| panic!("no {arm} row in {page}"));
        assert!(
            row.contains(variant) && row.contains(&format!("| {nll:.4} |")),
            "{row}"
        );
    }
    assert!(
        page.contains(
            "`spectral slots --ckpt r/memory/best.safetensors --json r/memory/slots.json`"
        ),
        "{page}"
    );
}

#[test]
fn stats_writes_json_and_figures_and_rejects_zeros() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        spectral(
            &["zeros", "--start", "1", "--count", "3000", "--out", "z.f64"],
            dir.path()
        )
        .status
        .success()
    );
    assert!(
        spectral(&["unfold", "--in", "z.f64", "--out", "s.f64"], dir.path())
            .status
            .success()
    );
    let output = spectral(&["stats", "--spacings", "s.f64", "--out", "st"], dir.path());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("st/stats.json")).unwrap())
            .unwrap();
    assert_eq!(json["zeros"]["count"], 2999);
    assert_eq!(json["gue_control"]["count"], 2999);
    assert_eq!(
        json["zeros"]["autocorrelation"].as_array().unwrap().len(),
        10
    );
    for figure in [
        "spacing_distribution",
        "pair_correlation",
        "number_variance",
        "rigidity",
        "height_drift",
    ] {
        for ext in ["svg", "png"] {
            assert!(
                dir.path().join(format!("st/{figure}.{ext}")).exists(),
                "{figure}.{ext}"
            );
        }
    }
    // A zeros file is not a spacings file.
    let output = spectral(
        &["stats", "--spacings", "z.f64", "--out", "bad"],
        dir.path(),
    );
    assert!(error_line(output).contains("not spacings"));
    assert!(!dir.path().join("bad").exists());
}

#[test]
fn bench_train_prints_its_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let output = spectral(
        &[
            "bench",
            "train",
            "--batch-size",
            "2",
            "--seq-len",
            "8",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--json",
            "t.json",
        ],
        dir.path(),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("steps/s"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("t.json")).unwrap()).unwrap();
    assert!(json["result"]["steps_per_s"].as_f64().unwrap() > 0.0);
}

/// `--msign-gemm`, `--matmul-gemm`, `--attention`, `--gelu` and `--layer-norm` (here on
/// `bench optim`): an unknown value and, in a build
/// without the `cuda` feature, any cuBLAS or fused value are refused with one line before any
/// work; the defaults (`burn`, `materialized`) run.
#[test]
fn kernel_flags_are_checked_before_work() {
    let dir = tempfile::tempdir().unwrap();
    let bench = [
        "bench",
        "optim",
        "--layers",
        "1",
        "--width",
        "8",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--methods",
        "adamw",
    ];
    let cases = [
        (
            "--msign-gemm",
            "cutlass",
            "unknown gemm \"cutlass\"",
            "burn",
            "cublas-tf32",
        ),
        (
            "--matmul-gemm",
            "cutlass",
            "unknown gemm \"cutlass\"",
            "burn",
            "cublas-tf32",
        ),
        (
            "--attention",
            "flash",
            "unknown attention kernel \"flash\"",
            "materialized",
            "fused",
        ),
        (
            "--attention",
            "flash",
            "unknown attention kernel \"flash\"",
            "materialized",
            "cublas",
        ),
        (
            "--gelu",
            "tanh",
            "unknown gelu kernel \"tanh\"",
            "burn",
            "fused",
        ),
        (
            "--layer-norm",
            "rms",
            "unknown layer-norm kernel \"rms\"",
            "burn",
            "fused",
        ),
    ];
    for (flag, bad, complaint, default, gpu_only) in cases {
        let with = |value: &str| {
            let mut args = bench.to_vec();
            args.extend([flag, value]);
            spectral(&args, dir.path())
        };
        let unknown = with(bad);
        assert!(!unknown.status.success());
        assert!(
            String::from_utf8_lossy(&unknown.stderr).contains(complaint),
            "{flag}"
        );
        let default_run = with(default);
        assert!(
            default_run.status.success(),
            "{flag}: {}",
            String::from_utf8_lossy(&default_run.stderr)
        );
        if !cfg!(feature = "cuda") {
            let refused = with(gpu_only);
            let stdout = String::from_utf8_lossy(&refused.stdout).into_owned();
            let line = error_line(refused);
            assert!(
                line.contains(&format!(
                    "{flag} {gpu_only} needs a build with `--features cuda`"
                )),
                "{line}"
            );
            assert_eq!(stdout, "");
        }
    }
}

#[test]
fn engine_choices_and_plots_of_nothing_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gpt.toml"),
        "device = \"cpu\"\nout = \"run\"\n[model]\nkind = \"gpt\"\n",
    )
    .unwrap();
    let train = |engine: &str| {
        spectral(
            &["train", "--config", "gpt.toml", "--engine", engine],
            dir.path(),
        )
    };
    let line = error_line(train("engine"));
    assert!(
        line.contains("engine") && line.contains("CUDA device"),
        "{line}"
    );
    assert!(!dir.path().join("run").exists(), "nothing was written");
    let output = train("fast");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("auto, engine or burn"));

    let line = error_line(spectral(&["plot", "no-such-run"], dir.path()));
    assert!(line.contains("no-such-run"), "{line}");
}
