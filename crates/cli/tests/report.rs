//! `spectral report` end to end: a directory of fabricated runs with known numbers (the
//! shoot-out's lr choice, mean ± std, steps/seconds to target, verdict; memory-bank rows;
//! a compression sweep; eval and slot files in the form `spectral eval` and `spectral slots`
//! write), the committed init records, a `spectral stats` report and two tiny
//! real `spectral train` runs; and the errors for an empty or malformed directory.

mod common;

use common::{ok, spectral};
use std::path::Path;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A finished 30-step GPT run evaluated at steps 10, 20, 30 with losses `vals`, taking
/// `s_per_step` wall seconds and `optim_per_step` optimizer seconds per step.
fn fake_run(
    dir: &Path,
    method: &str,
    lr: f64,
    seed: u64,
    vals: [f64; 3],
    s_per_step: f64,
    optim_per_step: f64,
) {
    write(
        &dir.join("config.toml"),
        &format!(
            "steps = 30\nseed = {seed}\n[model]\nkind = \"gpt\"\n[optimizer]\nmethod = \"{method}\"\nlr = {lr}\n"
        ),
    );
    let lines: Vec<String> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let step = 10 * (i as u64 + 1);
            format!(
                r#"{{"step":{step},"train_loss":9.0,"val_loss":{v},"lr":{lr},"grad_norm":1.0,"tokens_per_s":1.0,"wall_s":{},"optim_s":{}}}"#,
                s_per_step * step as f64,
                optim_per_step * step as f64
            )
        })
        .collect();
    write(&dir.join("metrics.jsonl"), &(lines.join("\n") + "\n"));
}

/// `eval.json` as `spectral eval --json` writes it (`spectral_train::eval::suite::EvalReport`), with
/// the numbers the memory-bank table reads and placeholders for the rest.
fn eval_json(nll: f64, crps: f64, err10: f64, err100: f64, entropy: Option<(f64, f64)>) -> String {
    let memory = entropy.map_or("null".to_string(), |(e, max)| {
        format!(r#"{{"mem_entropy": {e}, "mem_entropy_max": {max}, "memory_share": 0.05}}"#)
    });
    let horizon = |h: u32, err: f64| {
        format!(
            r#"{{"h": {h}, "err": {err}, "drift": 0.0, "err_sampled": {err}, "drift_sampled": 0.0}}"#
        )
    };
    format!(
        r#"{{"settings": {{"windows": 8, "batch": 8, "context": 16, "rollouts": 4, "horizons": [10, 100], "pit_bins": 10, "attention_windows": 4, "gradient_batches": 2, "seed": 0}},
            "targets": 128, "nll": {nll}, "mae": 0.25, "crps": {crps},
            "pit": {{"fractions": [0.5, 0.5], "chi2": 0.0, "max_rel_dev": 0.0, "count": 128}},
            "rollouts": 4, "horizons": [{}, {}],
            "distribution": {{"samples": 400, "mean": 1.0, "variance": 0.18, "ks_vs_truth": 0.05, "ks_vs_gue": 0.05, "truth_ks_vs_gue": 0.05}},
            "memory": {memory}}}"#,
        horizon(10, err10),
        horizon(100, err100)
    )
}

/// `slots.json` as `spectral slots --json` writes it (`spectral_train::eval::slots::SlotReport`), one
/// row per `(ablation, eff%, rollout Δ% per horizon)` and placeholders for the rest.
fn slots_json(rows: &[(&str, f64, [f64; 2])]) -> String {
    let rows: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(slot, (ablation, eff, [d10, d100]))| {
            format!(
                r#"{{"slot": {}, "ablation": "{ablation}", "effect": 0.1, "eff_pct": {eff}, "label": "STRONG", "err": [0.3, 0.35], "rollout_effect": [0.01, 0.0], "rollout_delta_pct": [{d10}, {d100}], "reading": "MARGINAL"}}"#,
                slot / 2
            )
        })
        .collect();
    format!(
        r#"{{"horizons": [10, 100], "baseline_mae": 0.25, "baseline_err": [0.3, 0.35], "rows": [{}], "max_eff_pct": 0.0, "label": "STRONG", "max_rollout_delta_pct": 0.0, "reading": "MARGINAL"}}"#,
        rows.join(", ")
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn report_assembles_every_section_with_the_hand_computed_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let gpt = runs.join("shootout/gpt");
    // AdamW grid on seed 0 (lr 3e-3 ends lower), seeds 1 and 2 at 3e-3: finals 1.8, 1.9, 2.0.
    fake_run(
        &gpt.join("adamw_lr1e-3_s0"),
        "adamw",
        1e-3,
        0,
        [3.0, 2.5, 2.2],
        0.1,
        0.02,
    );
    fake_run(
        &gpt.join("adamw_lr3e-3_s0"),
        "adamw",
        3e-3,
        0,
        [2.6, 2.2, 1.8],
        0.1,
        0.02,
    );
    fake_run(
        &gpt.join("adamw_lr3e-3_s1"),
        "adamw",
        3e-3,
        1,
        [2.7, 2.3, 1.9],
        0.1,
        0.02,
    );
    fake_run(
        &gpt.join("adamw_lr3e-3_s2"),
        "adamw",
        3e-3,
        2,
        [2.8, 2.4, 2.0],
        0.1,
        0.02,
    );
    // Muon, twice as slow per step: finals 1.5, 1.6, 1.7.
    fake_run(
        &gpt.join("muon_lr0.02_s0"),
        "muon",
        0.02,
        0,
        [2.0, 1.7, 1.5],
        0.2,
        0.05,
    );
    fake_run(
        &gpt.join("muon_lr0.02_s1"),
        "muon",
        0.02,
        1,
        [2.1, 1.8, 1.6],
        0.2,
        0.05,
    );
    fake_run(
        &gpt.join("muon_lr0.02_s2"),
        "muon",
        0.02,
        2,
        [2.2, 1.9, 1.7],
        0.2,
        0.05,
    );

    // Memory bank: a baseline and a memory variant with eval.json / slots.json.
    let mdn_config =
        "steps = 1500\n[model]\nkind = \"spacing_mdn\"\n[data]\nspacings = \"s.f64\"\n";
    write(&runs.join("mem/baseline/config.toml"), mdn_config);
    write(&runs.join("mem/baseline/metrics.jsonl"), "");
    write(
        &runs.join("mem/baseline/eval.json"),
        &eval_json(-0.0879, 0.1318, 0.3181, 0.3514, None),
    );
    write(
        &runs.join("mem/v1/config.toml"),
        &format!(
            "{mdn_config}[model.memory]\nn_slots = 8\nslot_id = true\naux_head = true\n[aux]\nwindow_stats_weight = 0.1\n"
        ),
    );
    write(&runs.join("mem/v1/metrics.jsonl"), "");
    write(
        &runs.join("mem/v1/eval.json"),
        &eval_json(-0.25, 0.12, 0.3, 0.35, Some((1.9, 2.0794))),
    );
    write(
        &runs.join("mem/v1/slots.json"),
        &slots_json(&[
            ("zero", 150.0, [30.0, 5.0]),
            ("mean", 12.5, [6.25, 1.0]),
            ("zero", 90.0, [-3.0, 2.0]),
            ("mean", 3.0, [-2.0, 0.0]),
        ]),
    );

    // A variant over two seeds: mean ± sample std per column.
    let e1_config = format!(
        "{mdn_config}[model.memory]\nn_slots = 8\nslot_id = true\naux_head = true\n[aux]\nwindow_stats_weight = 0.1\n[aux.drift]\nweight = 0.01\nevery = 10\nhorizon = 20\nbatch = 16\n"
    );
    for (seed, nll, crps, e10, e100, eff, delta, zero_eff, zero_delta, entropy) in [
        (0, -0.3, 0.11, 0.28, 0.34, 10.0, 4.0, 100.0, 20.0, 2.0),
        (1, -0.2, 0.13, 0.30, 0.36, 20.0, 6.0, 120.0, 30.0, 1.8),
    ] {
        let dir = runs.join(format!("mem/e1_s{seed}"));
        write(
            &dir.join("config.toml"),
            &format!("seed = {seed}\n{e1_config}"),
        );
        write(&dir.join("metrics.jsonl"), "");
        write(
            &dir.join("eval.json"),
            &eval_json(nll, crps, e10, e100, Some((entropy, 2.0794))),
        );
        write(
            &dir.join("slots.json"),
            &slots_json(&[
                ("mean", eff, [delta, 0.0]),
                ("zero", zero_eff, [zero_delta, 0.0]),
            ]),
        );
    }

    // Compression sweep.
    write(
        &runs.join("compress/sweep.json"),
        r#"[{"model": "toy", "fraction": 0.5, "whiten": false, "matrix_ratio": 2.0, "model_ratio": 1.5, "val_before": 1.0, "val_after": 1.2},
            {"model": "toy", "fraction": 0.5, "whiten": true, "matrix_ratio": 2.0, "model_ratio": 1.5, "val_before": 1.0, "val_after": 1.05}]"#,
    );

    // Init: the committed records of the init benchmark and its summary (target 3.0).
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/results/bench_init");
    copy_dir(&committed, &runs.join("init"));
    let summary_md = std::fs::read_to_string(committed.join("summary.md")).unwrap();

    // Zeta statistics from the real writer.
    let d = tmp.path();
    ok(spectral(
        &["zeros", "--start", "1", "--count", "3000", "--out", "z.f64"],
        d,
    ));
    ok(spectral(&["unfold", "--in", "z.f64", "--out", "s.f64"], d));
    ok(spectral(
        &[
            "stats",
            "--spacings",
            "s.f64",
            "--out",
            "runs/stats",
            "--height-blocks",
            "3",
        ],
        d,
    ));
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runs.join("stats/stats.json")).unwrap())
            .unwrap();

    let stdout = ok(spectral(&["report", "--runs", "runs", "--out", "page"], d));
    assert!(
        stdout.contains("Optimizer shoot-out, Init, Memory bank, Compression, Zeta statistics"),
        "{stdout}"
    );
    let page = std::fs::read_to_string(d.join("page/RESULTS.md")).unwrap();

    // Shoot-out. Target = worst mean final = AdamW's 1.9. Muon's mean curve 2.1, 1.8, 1.6
    // reaches it at step 20 (wall 0.2 × 20 = 4 s); AdamW's 2.7, 2.3, 1.9 at step 30 (3 s).
    // Equal wall clock = AdamW's 3 s: Muon's last evaluation within it is step 10 (2.1).
    assert!(
        page.contains("Target validation loss 1.9000 (default"),
        "{page}"
    );
    assert!(
        page.contains("| adamw | 0.003 | 0,1,2 | 1.9000 ± 0.1000 | 30 | 3.0 | 1.9000 | 100.0 ± 0.0 | 20.0 ± 0.0 |"),
        "{page}"
    );
    assert!(
        page.contains("| muon | 0.02 | 0,1,2 | 1.6000 ± 0.1000 | 20 | 4.0 | 2.1000 | 200.0 ± 0.0 | 50.0 ± 0.0 |"),
        "{page}"
    );
    assert!(
        page.contains("- adamw: 0.001: 2.2000, **0.003: 1.8000**"),
        "{page}"
    );
    // d = −0.3, σ_d = √(0.01/3 + 0.01/3) = 0.0816 → 3.7 σ.
    assert!(
        page.contains("muon 1.6000 ± 0.1000 vs adamw 1.9000 ± 0.1000 (n = 3 / 3 seeds, 30 steps): muon lower by 0.3000 = 3.7 σ: a difference"),
        "{page}"
    );
    for name in [
        "shootout_gpt_val_vs_step",
        "shootout_gpt_val_vs_wall",
        "compress_toy",
    ] {
        assert!(d.join(format!("page/{name}.png")).is_file(), "{name}");
        assert!(d.join(format!("page/{name}.svg")).is_file(), "{name}");
    }

    // Init: the same rows `bench init --summarize` wrote.
    let m23_row = summary_md
        .lines()
        .find(|l| l.starts_with("| m23_seed"))
        .unwrap();
    assert!(page.contains(m23_row), "{page}");
    assert!(page.contains("(target 3)"), "{page}");

    // Memory bank.
    assert!(
        page.contains("| mem/v1 | 8 slots + slot-ID, window-stats aux 0.1 | 1337 | 1500 | -0.2500 | 0.1200 | 0.3000 | 0.3500 | 12.5 (150.0) | 6.25 % (30.00 %) @10; 1/1 > 5 % | 1.900 / 2.079 |"),
        "{page}"
    );
    assert!(
        page.contains("| mem/baseline | no memory | 1337 | 1500 | -0.0879 |"),
        "{page}"
    );
    // Seeds 0 and 1 of e1: NLL −0.3, −0.2 → −0.25 ± 0.0707; eff% 10, 20 → 15.0 ± 7.1;
    // Δ 4, 6 → 5.00 ± 1.41, one of two above 5 %; entropy 2.0, 1.8 → 1.900 ± 0.141.
    assert!(
        page.contains("| mem/e1 | 8 slots + slot-ID, window-stats aux 0.1, drift 0.01/10/20/16 | 0,1 | 1500 | -0.2500 ± 0.0707 | 0.1200 ± 0.0141 | 0.2900 ± 0.0141 | 0.3500 ± 0.0141 | 15.0 ± 7.1 (110.0 ± 14.1) | 5.00 ± 1.41 % (25.00 ± 7.07 %) @10; 1/2 > 5 % | 1.900 ± 0.141 / 2.079 |"),
        "{page}"
    );
    assert!(
        page.contains("under mean-ablation? Yes: mem/e1 (1 of 2 seeds), mem/v1 (1 of 1 seeds)."),
        "{page}"
    );

    // Compression.
    assert!(
        page.contains(
            "| toy | 50% | 2.00x / 1.50x | 1.0000 | 1.2000 (+0.2000) | 1.0500 (+0.0500) |"
        ),
        "{page}"
    );
    // What an energy cut means once whitened.
    assert!(
        page.contains(
            "measures the energy of the layer's outputs on that data, not of the weights"
        ),
        "{page}"
    );

    // Zeta statistics: the numbers of stats.json, and the figures of `spectral stats`.
    let variance = stats["zeros"]["variance"].as_f64().unwrap();
    let control = stats["gue_control"]["variance"].as_f64().unwrap();
    assert!(
        page.contains(&format!(
            "| variance of δ | {variance:.5} | {control:.5} | 0.17999 |"
        )),
        "{page}"
    );
    assert_eq!(stats["height_drift"].as_array().unwrap().len(), 3);
    let first_block = &stats["height_drift"][0];
    assert!(
        page.contains(&format!(
            "| {} | {} | {:.0} | {:.5} |",
            first_block["first_index"],
            first_block["count"],
            first_block["height"].as_f64().unwrap(),
            first_block["variance"].as_f64().unwrap()
        )),
        "{page}"
    );
    assert!(d.join("page/zeta/spacing_distribution.png").is_file());
}

#[test]
fn report_reads_what_spectral_train_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        &d.join("tiny.toml"),
        "batch_size = 2\nseq_len = 16\nsteps = 4\neval_interval = 2\neval_windows = 2\nlog_interval = 1\ncheckpoint_interval = 100\n[model]\nkind = \"gpt\"\nvocab_size = 256\nn_layer = 1\nn_head = 2\nn_embd = 16\nblock_size = 16\n[schedule]\nwarmup_steps = 1\ntotal_steps = 4\n",
    );
    for (method, lr) in [("adamw", "0.003"), ("muon", "0.02")] {
        let out = format!("runs/{method}_lr{lr}_s0");
        ok(spectral(
            &[
                "train",
                "--config",
                "tiny.toml",
                "--optimizer",
                method,
                "--lr",
                lr,
                "--seed",
                "0",
                "--out",
                &out,
            ],
            d,
        ));
    }
    ok(spectral(&["report", "--runs", "runs"], d));
    let page = std::fs::read_to_string(d.join("runs/RESULTS.md")).unwrap();
    for (method, lr) in [("adamw", "0.003"), ("muon", "0.02")] {
        let metrics =
            std::fs::read_to_string(d.join(format!("runs/{method}_lr{lr}_s0/metrics.jsonl")))
                .unwrap();
        let last: serde_json::Value =
            serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
        assert_eq!(last["step"], 4);
        let final_val = last["val_loss"].as_f64().unwrap();
        let optim_ms = 1e3 * last["optim_s"].as_f64().unwrap() / 4.0;
        assert!(optim_ms > 0.0, "the trainer records optimizer time");
        // One seed: its values, without a spread.
        let row = format!("| {method} | {lr} | 0 | {final_val:.4} |");
        let line = page
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("{row} in {page}"));
        assert!(
            line.ends_with(&format!("| {optim_ms:.1} |")) && !line.contains('±'),
            "{line}"
        );
    }
    assert!(
        page.contains("4 steps, equal for every optimizer"),
        "{page}"
    );
    // One seed each: the verdict says it cannot judge the spread.
    assert!(page.contains("no spread to judge it (one seed)"), "{page}");
}

/// Runs that differ in anything but optimizer, lr and seed are separate studies: two GPT grids
/// of different lengths get a subsection and figures each, headed by what sets them apart.
#[test]
fn report_splits_runs_into_studies() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for (steps, final_val) in [(30, 2.0), (60, 1.5)] {
        for (method, lr) in [("adamw", 3e-3), ("muon", 0.02)] {
            let dir = d.join(format!("runs/{steps}/{method}"));
            fake_run(&dir, method, lr, 0, [3.0, 2.5, final_val], 0.1, 0.02);
            let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
            write(
                &dir.join("config.toml"),
                &config.replace("steps = 30", &format!("steps = {steps}")),
            );
            // Evaluated at steps/3, 2·steps/3 and the last step, so every run finished.
            let mut metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
            for step in [30, 20, 10] {
                metrics = metrics.replace(
                    &format!("\"step\":{step},"),
                    &format!("\"step\":{},", step * steps / 30),
                );
            }
            write(&dir.join("metrics.jsonl"), &metrics);
        }
    }
    ok(spectral(&["report", "--runs", "runs"], d));
    let page = std::fs::read_to_string(d.join("runs/RESULTS.md")).unwrap();
    for (n, steps, final_val) in [(1, 30, "2.0000"), (2, 60, "1.5000")] {
        let heading = format!("### char-GPT on Shakespeare, steps = {steps} ({steps} steps");
        let section = page
            .split("### ")
            .find(|s| format!("### {s}").starts_with(&heading))
            .unwrap_or_else(|| panic!("{heading} in {page}"));
        assert!(
            section.contains(&format!("| adamw | 0.003 | 0 | {final_val} |")),
            "{section}"
        );
        for suffix in ["val_vs_step", "val_vs_wall"] {
            let name = format!("shootout_gpt_{n}_{suffix}");
            assert!(section.contains(&format!("({name}.png)")), "{section}");
            assert!(d.join(format!("runs/{name}.svg")).is_file(), "{name}");
        }
    }
}

#[test]
fn report_errors_name_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir_all(d.join("empty/sub")).unwrap();
    let output = spectral(&["report", "--runs", "empty"], d);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nothing to report under empty"), "{stderr}");
    assert!(!d.join("empty/RESULTS.md").exists());

    let output = spectral(&["report", "--runs", "missing"], d);
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing is not a directory"));

    write(&d.join("bad/run/config.toml"), "steps = \"many\"\n");
    write(&d.join("bad/run/metrics.jsonl"), "");
    let output = spectral(&["report", "--runs", "bad"], d);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad/run/config.toml") && stderr.contains("not a training config"),
        "{stderr}"
    );

    write(
        &d.join("bad/run/config.toml"),
        "steps = 3\n[model]\nkind = \"gpt\"\n",
    );
    write(&d.join("bad/run/metrics.jsonl"), "{\"step\": 1}\n");
    let output = spectral(&["report", "--runs", "bad"], d);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad/run/metrics.jsonl") && stderr.contains("not a metrics log"),
        "{stderr}"
    );
}
