//! The memory-bank section: SpacingMDN runs that differ by memory/aux config, each with the
//! JSON of `spectral eval --json RUN/eval.json` and (models with memory) `spectral slots
//! --json RUN/slots.json` beside its checkpoints.

use super::evaluate::slots_command;
use super::{EVAL_JSON, Result, SLOTS_JSON, Section, read_json, relative};
use crate::curves::{seed_groups, stem};
use crate::mean_std::mean_std;
use spectral_train::ModelConfig;
use spectral_train::eval::slots::SlotReport;
use spectral_train::eval::suite::EvalReport;
use spectral_train::runs::TrainRun;
use std::path::Path;

/// The largest eff% and rollout Δ% (first horizon) over the slots under one ablation.
/// Zero-ablation puts the model off its training distribution (a slot is never zero), so
/// it overstates what a slot carries; mean-ablation (the slot's mean over windows) is the
/// reading the notes' 5 % line is meant for. Both are shown.
fn max_over_slots(slots: &SlotReport, ablation: &str) -> Option<(f64, f64)> {
    let rows = slots.rows.iter().filter(|r| r.ablation == ablation);
    rows.fold(None, |acc, r| {
        let delta = r.rollout_delta_pct.first().copied().unwrap_or(f64::NAN);
        Some(match acc {
            None => (r.eff_pct, delta),
            Some((e, d)) => (f64::max(e, r.eff_pct), f64::max(d, delta)),
        })
    })
}

/// The notes' line for a slot that holds the rollout's focus.
const FOCUS_PCT: f64 = 5.0;

/// What differs between variants: memory slots and aux losses.
fn variant(run: &TrainRun) -> String {
    let ModelConfig::SpacingMdn(model) = &run.config.model else {
        return "GPT".into();
    };
    let mut parts = vec![match &model.memory {
        None => "no memory".to_string(),
        Some(m) => format!(
            "{} slots{}",
            m.n_slots,
            if m.slot_id { " + slot-ID" } else { "" }
        ),
    }];
    let aux = &run.config.aux;
    if aux.window_stats_weight > 0.0 {
        parts.push(format!("window-stats aux {}", aux.window_stats_weight));
    }
    if aux.drift.weight > 0.0 {
        parts.push(format!(
            "drift {}/{}/{}/{}",
            aux.drift.weight, aux.drift.every, aux.drift.horizon, aux.drift.batch
        ));
    }
    if aux.regularizers.is_some() {
        parts.push("regularizers".into());
    }
    parts.join(", ")
}

/// Whether `run`'s model has a memory bank (slots to ablate).
fn has_memory(run: &TrainRun) -> bool {
    matches!(&run.config.model, ModelConfig::SpacingMdn(m) if m.memory.is_some())
}

/// One run's numbers.
struct Row {
    nll: f64,
    crps: f64,
    err10: Option<f64>,
    err100: Option<f64>,
    slots: Option<SlotReport>,
    entropy: Option<(f64, f64)>,
}

fn read_row(run: &TrainRun) -> Result<Row> {
    let eval: EvalReport = read_json(&run.dir.join(EVAL_JSON))?;
    let slots_path = run.dir.join(SLOTS_JSON);
    let err = |h: usize| eval.horizons.iter().find(|x| x.h == h).map(|x| x.err);
    Ok(Row {
        nll: eval.nll,
        crps: eval.crps,
        err10: err(10),
        err100: err(100),
        slots: if slots_path.is_file() {
            Some(read_json(&slots_path)?)
        } else {
            None
        },
        entropy: eval
            .memory
            .as_ref()
            .map(|m| (m.mem_entropy, m.mem_entropy_max)),
    })
}

/// `value` for one run, `mean ± std` over several (`–` when some run lacks it).
fn cell(values: &[Option<f64>], digits: usize) -> String {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    if present.len() < values.len() || present.is_empty() {
        return "–".into();
    }
    match mean_std(&present) {
        Some(v) if v.n == 1 => format!("{:.digits$}", v.mean),
        Some(v) => v.pm(digits),
        None => "–".into(),
    }
}

pub fn section(runs: &[TrainRun], root: &Path) -> Result<Section> {
    // Variants: runs whose configs differ only in the seed (and output directory).
    let groups = seed_groups(runs);
    let mut md = String::from(
        "## Memory bank\n\nOne row per variant (runs whose configs differ only in the seed), from each run directory's `eval.json` (`spectral eval --ckpt RUN/best.safetensors --json RUN/eval.json`) and, with memory, `slots.json` (`spectral slots --ckpt RUN/best.safetensors --json RUN/slots.json`); over several seeds, mean ± std (sample std). eff% and rollout Δ are the largest over slots, under mean-ablation (a slot replaced by its mean over windows: the reading the notes' 5 % line is for) and, in brackets, zero-ablation (a slot set to 0, off the training distribution, so it overstates); Δ at the first rollout horizon.\n\n| run | variant | seeds | steps | val NLL | CRPS | Err@10 | Err@100 | max eff%, mean-abl. (zero-abl.) | max rollout Δ, mean-abl. (zero-abl.) | mem_entropy |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut focus = Vec::new();
    let mut with_slots = 0;
    for members in &groups {
        let rows: Vec<Row> = members.iter().map(|r| read_row(r)).collect::<Result<_>>()?;
        let names: Vec<String> = members.iter().map(|r| relative(&r.dir, root)).collect();
        let name = if members.len() == 1 {
            names[0].clone()
        } else {
            stem(&names[0]).to_string()
        };
        let seeds: Vec<String> = members.iter().map(|r| r.config.seed.to_string()).collect();
        let slots: Vec<&SlotReport> = rows.iter().filter_map(|r| r.slots.as_ref()).collect();
        let by = |ablation: &str| -> Vec<Option<(f64, f64)>> {
            slots.iter().map(|s| max_over_slots(s, ablation)).collect()
        };
        let (mean_abl, zero_abl) = (by("mean"), by("zero"));
        let (eff, delta) = if !slots.is_empty() && slots.len() == rows.len() {
            with_slots += 1;
            let deltas: Vec<Option<f64>> = mean_abl.iter().map(|m| m.map(|m| m.1)).collect();
            let above = deltas.iter().flatten().filter(|&&d| d > FOCUS_PCT).count();
            if above > 0 {
                focus.push(format!("{name} ({above} of {} seeds)", rows.len()));
            }
            let h = slots[0].horizons.first().copied().unwrap_or(0);
            let pick = |v: &[Option<(f64, f64)>], second: bool| -> Vec<Option<f64>> {
                v.iter()
                    .map(|m| m.map(|(e, d)| if second { d } else { e }))
                    .collect()
            };
            (
                format!(
                    "{} ({})",
                    cell(&pick(&mean_abl, false), 1),
                    cell(&pick(&zero_abl, false), 1)
                ),
                format!(
                    "{} % ({} %) @{h}; {above}/{} > {FOCUS_PCT} %",
                    cell(&pick(&mean_abl, true), 2),
                    cell(&pick(&zero_abl, true), 2),
                    rows.len()
                ),
            )
        } else {
            ("–".into(), "–".into())
        };
        let column = |f: &dyn Fn(&Row) -> Option<f64>, digits| {
            cell(&rows.iter().map(f).collect::<Vec<_>>(), digits)
        };
        let entropy = match rows[0].entropy {
            Some((_, max)) => format!("{} / {max:.3}", column(&|r| r.entropy.map(|e| e.0), 3)),
            None => "–".into(),
        };
        md += &format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {eff} | {delta} | {entropy} |\n",
            variant(members[0]),
            seeds.join(","),
            members[0].config.steps,
            column(&|r| Some(r.nll), 4),
            column(&|r| Some(r.crps), 4),
            column(&|r| r.err10, 4),
            column(&|r| r.err100, 4),
        );
    }
    let unmeasured: Vec<String> = runs
        .iter()
        .filter(|r| has_memory(r) && !r.dir.join(SLOTS_JSON).is_file())
        .map(|r| format!("- `{}`\n", slots_command(r)))
        .collect();
    if !unmeasured.is_empty() {
        md += &format!(
            "\nNo slots.json (eff% and rollout Δ not measured) for {} run(s) with memory; each is written by:\n\n{}",
            unmeasured.len(),
            unmeasured.concat()
        );
    }
    md += &format!(
        "\nDoes any memory variant reach rollout Δ > {FOCUS_PCT} % under mean-ablation? {}\n",
        if with_slots == 0 {
            "no slots.json found: not measured.".to_string()
        } else if focus.is_empty() {
            format!("No (none of the {with_slots} variants with slots.json).")
        } else {
            format!("Yes: {}.", focus.join(", "))
        }
    );
    Ok(Section {
        title: "Memory bank",
        markdown: md,
    })
}
