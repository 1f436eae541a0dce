//! The training loop end to end on CPU, at toy sizes: determinism, exact resume, the NaN stop,
//! and every optimizer lowering the loss of a 2-layer transformer.

use burn::backend::Autodiff;
use spectral::CpuBackend;
use spectral::optim::{Method, Schedule};
use spectral_models::{GptConfig, MemoryConfig, SpacingMdnConfig};
use spectral_train::checkpoint;
use spectral_train::metrics::MetricsLog;
use spectral_train::{ModelConfig, TrainConfig, TrainError};
use spectral_zeta::series_file::{Format, Header, SeriesKind, SeriesWriter};
use std::path::{Path, PathBuf};

type Ad = Autodiff<CpuBackend>;

/// GUE spacings (the physics the zeros follow) as a spacing file.
fn spacing_file(dir: &Path) -> PathBuf {
    let values = spectral_zeta::stats::gue_sample::gue_spacings(4000, 7);
    let path = dir.join("spacings.f64");
    let header = Header {
        kind: SeriesKind::Spacings,
        first_index: 1,
        count: values.len() as u64,
    };
    let mut writer = SeriesWriter::create(&path, Format::F64, header).unwrap();
    writer.write(&values).unwrap();
    writer.finish().unwrap();
    path
}

fn tiny_mdn_config(dir: &Path, memory: bool) -> TrainConfig {
    let mut model = SpacingMdnConfig::new()
        .with_n_layer(2)
        .with_n_head(2)
        .with_n_embd(16)
        .with_block_size(32)
        .with_n_components(3);
    if memory {
        model = model.with_memory(Some(MemoryConfig::new().with_n_slots(2)));
    }
    let mut config = TrainConfig {
        model: ModelConfig::SpacingMdn(model),
        batch_size: 4,
        seq_len: 32,
        steps: 8,
        eval_interval: 4,
        eval_windows: 8,
        log_interval: 1,
        checkpoint_interval: 4,
        schedule: Schedule {
            warmup_steps: 2,
            total_steps: 8,
            min_factor: 0.1,
        },
        out: dir.join("run"),
        ..Default::default()
    };
    config.data.spacings = Some(spacing_file(dir));
    config.optimizer.lr = 0.02;
    config
}

fn train_losses(path: &Path) -> Vec<(u64, f64)> {
    MetricsLog::read(path)
        .unwrap()
        .into_iter()
        .map(|r| (r.step, r.train_loss))
        .collect()
}

/// Two trainings of one config and seed on the CPU are the same computation: their losses are
/// equal bit for bit.
fn assert_same_losses(a: &[(u64, f64)], b: &[(u64, f64)]) {
    assert_eq!(a.len(), b.len());
    for ((step_a, la), (step_b, lb)) in a.iter().zip(b) {
        assert_eq!(step_a, step_b);
        assert_eq!(la.to_bits(), lb.to_bits(), "step {step_a}: {la} vs {lb}");
    }
}

/// Every tensor of `a` equals `b`'s bit for bit.
fn assert_same_weights(
    a: &spectral::optim::state::StateDict,
    b: &spectral::optim::state::StateDict,
) {
    assert_eq!(
        a.tensors.keys().collect::<Vec<_>>(),
        b.tensors.keys().collect::<Vec<_>>()
    );
    for (name, (shape, values)) in &a.tensors {
        let (other_shape, other) = &b.tensors[name];
        assert_eq!(shape, other_shape, "{name}");
        let differ = values
            .iter()
            .zip(other)
            .filter(|(x, y)| x.to_bits() != y.to_bits())
            .count();
        assert_eq!(
            differ,
            0,
            "{name}: {differ} of {} values differ",
            values.len()
        );
    }
}

#[test]
fn same_seed_same_losses_and_resume_continues_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let device = Default::default();
    let config = tiny_mdn_config(dir.path(), true);
    let first = spectral_train::train::<Ad>(&config, false, &device).unwrap();
    let straight = train_losses(&config.out.join("metrics.jsonl"));
    assert_eq!(straight.len(), 8);
    let (straight_model, _) = checkpoint::load(&config.out.join("last.safetensors")).unwrap();

    // Same config, same seed: the same losses, bit for bit.
    let again = spectral_train::train::<Ad>(&config, false, &device).unwrap();
    assert_same_losses(&train_losses(&config.out.join("metrics.jsonl")), &straight);
    assert_eq!(
        again.final_val_loss.to_bits(),
        first.final_val_loss.to_bits()
    );
    let (again_model, _) = checkpoint::load(&config.out.join("last.safetensors")).unwrap();
    assert_same_weights(&again_model, &straight_model);

    // Stop at step 4 (a checkpoint), then resume to 8: the same losses and weights, bit for bit.
    let mut short = config.clone();
    short.steps = 4;
    spectral_train::train::<Ad>(&short, false, &device).unwrap();
    assert_same_losses(
        &train_losses(&config.out.join("metrics.jsonl")),
        &straight[..4],
    );
    spectral_train::train::<Ad>(&config, true, &device).unwrap();
    assert_same_losses(&train_losses(&config.out.join("metrics.jsonl")), &straight);
    let (resumed_model, saved) = checkpoint::load(&config.out.join("last.safetensors")).unwrap();
    assert_eq!(saved.step, 8);
    assert_same_weights(&resumed_model, &straight_model);

    // A different trajectory cannot resume from that checkpoint.
    let mut other = config.clone();
    other.seed += 1;
    other.steps = 12;
    let error = spectral_train::train::<Ad>(&other, true, &device).unwrap_err();
    assert!(matches!(error, TrainError::Resume(_)), "{error}");
}

#[test]
fn a_non_finite_loss_stops_the_run_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let device = Default::default();
    let mut config = tiny_mdn_config(dir.path(), false);
    config.steps = 40;
    config.checkpoint_interval = 1;
    config.grad_clip = 0.0;
    config.schedule.warmup_steps = 0;
    config.optimizer.method = Method::AdamW;
    config.optimizer.adamw.lr = 1e30;
    config.optimizer.lr = 1e30;
    let error = spectral_train::train::<Ad>(&config, false, &device).unwrap_err();
    let message = error.to_string();
    let TrainError::NonFinite { step, .. } = error else {
        panic!("expected a non-finite loss, got {message}");
    };
    assert!(message.contains(&format!("at step {step}")), "{message}");
    // The checkpoint of the last good step is there, complete, and loads.
    let (_, saved) = checkpoint::load(&config.out.join("last.safetensors")).unwrap();
    assert!(
        step >= 2 && saved.step == step - 1,
        "checkpoint at {} for a failure at {step}",
        saved.step
    );
}

#[test]
fn every_optimizer_lowers_the_loss_of_a_two_layer_transformer() {
    let dir = tempfile::tempdir().unwrap();
    let device = Default::default();
    for method in Method::ALL {
        let mut config = TrainConfig {
            model: ModelConfig::Gpt(
                GptConfig::new()
                    .with_n_layer(2)
                    .with_n_head(2)
                    .with_n_embd(32)
                    .with_block_size(32),
            ),
            batch_size: 8,
            seq_len: 32,
            steps: 40,
            eval_interval: 40,
            eval_windows: 16,
            log_interval: 1,
            checkpoint_interval: 40,
            schedule: Schedule {
                warmup_steps: 5,
                total_steps: 40,
                min_factor: 0.1,
            },
            out: dir.path().join(method.name()),
            ..Default::default()
        };
        config.optimizer.method = method;
        config.optimizer.adamw.lr = 3e-3;
        config.optimizer.lr = match method {
            Method::AdamW | Method::Spectra | Method::SpectraTeon => 3e-3,
            Method::Muon | Method::Teon | Method::ManifoldMuon => 0.05,
        };
        spectral_train::train::<Ad>(&config, false, &device).unwrap();
        let losses = train_losses(&config.out.join("metrics.jsonl"));
        let first: f64 = losses[..3].iter().map(|l| l.1).sum::<f64>() / 3.0;
        let last: f64 = losses[losses.len() - 3..].iter().map(|l| l.1).sum::<f64>() / 3.0;
        println!("{:>13}: {first:.3} -> {last:.3}", method.name());
        assert!(last < first - 0.5, "{}: {first} -> {last}", method.name());
    }
}

#[test]
fn auxiliary_losses_and_regularizers_train_and_cap_the_slots() {
    let dir = tempfile::tempdir().unwrap();
    let device = Default::default();
    let mut config = tiny_mdn_config(dir.path(), true);
    let ModelConfig::SpacingMdn(model) = &mut config.model else {
        unreachable!()
    };
    model.memory = Some(MemoryConfig::new().with_n_slots(8).with_aux_head(true));
    config.steps = 6;
    config.aux.window_stats_weight = 0.1;
    config.aux.drift = spectral_train::auxiliary::Drift {
        weight: 0.1,
        every: 2,
        horizon: 4,
        batch: 2,
    };
    config.aux.regularizers = Some(spectral_train::auxiliary::Regularizers {
        slot_norm_cap: 0.05,
        ..Default::default()
    });
    config.validate().unwrap();
    let summary = spectral_train::train::<Ad>(&config, false, &device).unwrap();
    assert!(summary.final_train_loss.is_finite());
    let (dict, _) = checkpoint::load(&config.out.join("last.safetensors")).unwrap();
    let (shape, slots) = &dict.tensors["model/memory.slots"];
    for row in slots.chunks(shape[1]) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!(norm <= 0.05 + 1e-6, "slot norm {norm}");
    }
    // Without the aux head the window-statistics loss is refused up front.
    let ModelConfig::SpacingMdn(model) = &mut config.model else {
        unreachable!()
    };
    model.memory = Some(MemoryConfig::new().with_n_slots(8));
    assert!(
        config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("aux_head")
    );
}
