//! The memory-bank section: SpacingMDN runs that differ by memory/aux config, each with the
//! JSON of `spectral eval --json RUN/eval.json` and (models with memory) `spectral slots
//! --json RUN/slots.json` beside its checkpoints.

use super::{EVAL_JSON, SLOTS_JSON, Section, read_json, relative};
use anyhow::{Result, bail};
use serde::Deserialize;
use std::path::Path;
use train::ModelConfig;
use train::runs::TrainRun;

/// The fields of `eval.json` (`train::eval::suite::EvalReport`) the table uses.
#[derive(Deserialize)]
pub struct EvalJson {
    pub nll: f64,
    pub crps: f64,
    pub horizons: Vec<HorizonJson>,
    pub memory: Option<MemoryJson>,
}

#[derive(Deserialize)]
pub struct HorizonJson {
    pub h: usize,
    pub err: f64,
}

#[derive(Deserialize)]
pub struct MemoryJson {
    pub mem_entropy: f64,
    pub mem_entropy_max: f64,
}

/// The fields of `slots.json` (`train::eval::slots::SlotReport`) the table uses.
#[derive(Deserialize)]
pub struct SlotsJson {
    pub horizons: Vec<usize>,
    pub max_eff_pct: f64,
    pub label: String,
    pub max_rollout_delta_pct: f64,
    pub reading: String,
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

fn err_at(eval: &EvalJson, h: usize) -> String {
    eval.horizons
        .iter()
        .find(|x| x.h == h)
        .map_or("–".into(), |x| format!("{:.4}", x.err))
}

pub fn section(runs: &[TrainRun], root: &Path) -> Result<Section> {
    let mut md = String::from(
        "## Memory bank\n\nOne row per run directory with `eval.json` (`spectral eval --ckpt RUN/best.safetensors --json RUN/eval.json`) and, with memory, `slots.json` (`spectral slots --ckpt RUN/best.safetensors --json RUN/slots.json`). eff% and rollout Δ are the largest over slots and over zero- and mean-ablation; Δ at the first rollout horizon.\n\n| run | variant | steps | val NLL | CRPS | Err@10 | Err@100 | max eff% | max rollout Δ | mem_entropy |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut focus = Vec::new();
    let mut with_slots = 0;
    for run in runs {
        if run.model_kind() != "spacing_mdn" {
            bail!(
                "{}: eval.json beside a GPT run; the memory-bank section is for SpacingMDN runs",
                run.dir.display()
            );
        }
        let eval: EvalJson = read_json(&run.dir.join(EVAL_JSON))?;
        let slots_path = run.dir.join(SLOTS_JSON);
        let slots: Option<SlotsJson> = if slots_path.is_file() {
            Some(read_json(&slots_path)?)
        } else {
            None
        };
        let name = relative(&run.dir, root);
        let (eff, delta) = match &slots {
            Some(s) => {
                with_slots += 1;
                if s.max_rollout_delta_pct > FOCUS_PCT {
                    focus.push(format!("{name} ({:.2} %)", s.max_rollout_delta_pct));
                }
                (
                    format!("{:.1} ({})", s.max_eff_pct, s.label),
                    format!(
                        "{:.2} % @{} ({})",
                        s.max_rollout_delta_pct,
                        s.horizons.first().copied().unwrap_or(0),
                        s.reading
                    ),
                )
            }
            None => ("–".into(), "–".into()),
        };
        md += &format!(
            "| {name} | {} | {} | {:.4} | {:.4} | {} | {} | {eff} | {delta} | {} |\n",
            variant(run),
            run.config.steps,
            eval.nll,
            eval.crps,
            err_at(&eval, 10),
            err_at(&eval, 100),
            eval.memory.as_ref().map_or("–".into(), |m| format!(
                "{:.3} / {:.3}",
                m.mem_entropy, m.mem_entropy_max
            )),
        );
    }
    md += &format!(
        "\nDoes any memory variant reach rollout Δ > {FOCUS_PCT} %? {}\n",
        if with_slots == 0 {
            "no slots.json found: not measured.".to_string()
        } else if focus.is_empty() {
            format!("No (none of the {with_slots} runs with slots.json).")
        } else {
            format!("Yes: {}.", focus.join(", "))
        }
    );
    Ok(Section {
        title: "Memory bank",
        markdown: md,
    })
}
