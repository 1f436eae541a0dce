//! Which configs the CUDA engine runs, and which of engine and burn trains a run.
//!
//! The engine runs the char-GPT (biases, learned positions, tied head, no dropout) and the
//! SpacingMDN (RoPE, biases, a memory bank of slots and slot IDs without readouts, no
//! dropout) on one GPU, with NLL or cross-entropy as the whole objective, under AdamW, Muon or
//! TEON (quintic Newton–Schulz, Keller Jordan's scaling) with the default parameter groups.
//! Everything else (the memory readouts, auxiliary losses and regularizers, Spectra,
//! Spectra-TEON and Manifold Muon, several devices) trains on burn.

use crate::config::{EngineChoice, ModelConfig, TrainConfig};
use crate::error::TrainError;
use burn::module::ParamId;
use spectral::DeviceKind;
use spectral::linalg::MsignMethod;
use spectral::optim::muon::MuonScaling;
use spectral::optim::teon::{TeonConfig, teon_groups};
use spectral::optim::{Method, OptimizerConfig, ParamSlot, Role, transformer_rules};
use spectral_cuda::DType;
use spectral_cuda::gemm::F32Products;
use spectral_cuda::models::engine::{EngineModel, EngineOptimizer};
use spectral_cuda::models::gpt::GptShape;
use spectral_cuda::models::spacing_mdn::MdnShape;
use spectral_cuda::ops::adamw::Hyper;
use spectral_cuda::optim::muon::MuonSettings;
use spectral_cuda::params::{Group, ParamTable};

/// A config as the engine runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct EnginePlan {
    /// The model and its static batch shape (`batch_size` × `seq_len`).
    pub model: EngineModel,
    pub optimizer: EngineOptimizer,
    /// `grad_clip` (0: no clipping).
    pub max_grad_norm: f32,
    /// Peak learning rate of the hidden matrices (Muon's, or AdamW's `optimizer.lr`).
    pub matrix_lr: f64,
    /// Peak learning rate of every other tensor (`optimizer.adamw.lr`).
    pub other_lr: f64,
    /// The activations' type (`engine_precision`).
    pub act: DType,
    /// How the gemms multiply f32 operands (`engine_precision`).
    pub f32_products: F32Products,
}

impl EnginePlan {
    /// The engine's run of `config`, or one line saying what the engine does not support.
    pub fn of(config: &TrainConfig) -> Result<Self, String> {
        let (batch, seq) = (config.batch_size, config.seq_len);
        let model = match &config.model {
            ModelConfig::Gpt(m) => {
                let unsupported = [
                    (!m.bias, "a GPT without biases"),
                    (m.dropout != 0.0, "dropout"),
                    (m.rope, "a GPT with RoPE"),
                    (!m.tie_weights, "a GPT with an untied lm_head"),
                ];
                refuse(&unsupported)?;
                EngineModel::Gpt(GptShape {
                    vocab: m.vocab_size,
                    layers: m.n_layer,
                    heads: m.n_head,
                    width: m.n_embd,
                    block_size: m.block_size,
                    batch,
                    seq,
                })
            }
            ModelConfig::SpacingMdn(m) => {
                let memory = m.memory.as_ref();
                let readouts = memory.is_some_and(|b| b.film || b.gate || b.summary_to_head);
                let unsupported = [
                    (!m.bias, "a SpacingMDN without biases"),
                    (m.dropout != 0.0, "dropout"),
                    (
                        !m.rope,
                        "a SpacingMDN with a learned pos_emb (the engine runs RoPE)",
                    ),
                    (
                        readouts,
                        "the memory bank's readouts (film, gate, summary_to_head)",
                    ),
                    (
                        memory.is_some_and(|b| b.aux_head),
                        "the memory bank's aux_head",
                    ),
                ];
                refuse(&unsupported)?;
                EngineModel::SpacingMdn(MdnShape {
                    layers: m.n_layer,
                    heads: m.n_head,
                    width: m.n_embd,
                    slots: memory.map_or(0, |b| b.n_slots),
                    slot_id: memory.is_some_and(|b| b.slot_id),
                    components: m.n_components,
                    sigma_floor: m.sigma_floor as f32,
                    batch,
                    seq,
                })
            }
        };
        let aux = &config.aux;
        refuse(&[
            (aux.window_stats_weight > 0.0, "the window-statistics loss"),
            (aux.drift.weight > 0.0, "the drift loss"),
            (aux.regularizers.is_some(), "the memory regularizers"),
        ])?;
        model.validate().map_err(|e| e.to_string())?;
        Ok(Self {
            model,
            optimizer: optimizer(&config.optimizer, &model.params())?,
            max_grad_norm: config.grad_clip as f32,
            matrix_lr: config.optimizer.lr,
            other_lr: config.optimizer.adamw.lr,
            act: config.engine_precision.dtype(),
            f32_products: config.engine_precision.f32_products(),
        })
    }
}

/// The first feature of `features` that is on, as "the engine does not run …".
fn refuse(features: &[(bool, &str)]) -> Result<(), String> {
    match features.iter().find(|(on, _)| *on) {
        Some((_, what)) => Err(format!("the CUDA engine does not run {what}")),
        None => Ok(()),
    }
}

/// The engine's optimizer for `config` on the parameters `table`: AdamW, or Muon or TEON with
/// AdamW on the rest, with the default parameter groups (`spectral::optim::transformer_rules`,
/// no per-role overrides).
fn optimizer(config: &OptimizerConfig, table: &ParamTable) -> Result<EngineOptimizer, String> {
    refuse(&[
        (
            config.rules != transformer_rules(),
            "custom optimizer.rules",
        ),
        (!config.roles.is_empty(), "per-role optimizer overrides"),
    ])?;
    let a = &config.adamw;
    let adamw = Hyper {
        beta1: a.beta1 as f32,
        beta2: a.beta2 as f32,
        eps: a.eps as f32,
        weight_decay: a.weight_decay as f32,
    };
    match config.method {
        Method::AdamW => Ok(EngineOptimizer::AdamW(adamw)),
        Method::Muon => Ok(EngineOptimizer::Muon {
            muon: muon_settings(config)?,
            adamw,
        }),
        Method::Teon => Ok(EngineOptimizer::Teon {
            muon: muon_settings(config)?,
            stacks: teon_stacks(table, &config.teon),
            adamw,
        }),
        other => Err(format!(
            "the CUDA engine does not run the {} optimizer (it runs adamw, muon and teon)",
            other.name()
        )),
    }
}

/// `config.muon` as the engine runs it (Muon's, and TEON's on its stacks).
fn muon_settings(config: &OptimizerConfig) -> Result<MuonSettings, String> {
    let m = &config.muon;
    let method = config.method.name();
    refuse(&[
        (
            matches!(m.msign, MsignMethod::PolarExpress { .. }),
            &format!("{method} with Polar Express (it runs the quintic Newton–Schulz)"),
        ),
        (
            m.scaling != MuonScaling::KellerJordan,
            &format!("{method} with Muon's Moonlight scaling"),
        ),
    ])?;
    let coefficients = m
        .msign
        .coefficients()
        .into_iter()
        .map(|(a, b, c)| (a as f32, b as f32, c as f32))
        .collect();
    Ok(MuonSettings {
        momentum: m.momentum as f32,
        nesterov: m.nesterov,
        weight_decay: m.weight_decay as f32,
        coefficients,
    })
}

/// TEON's stacks of the engine's hidden matrices, each K names in stack order: burn's
/// grouping ([`teon_groups`]) of the table's [`Group::Matrix`] tensors, which are burn's
/// `Role::Matrix` slots under the default rules, with the same paths, `[d_in, d_out]` shapes and
/// visiting order. Groups of one matrix (the odd layer out, every non-target) are left out:
/// the engine runs Muon on every matrix in no stack.
fn teon_stacks(table: &ParamTable, teon: &TeonConfig) -> Vec<Vec<String>> {
    let slots: Vec<ParamSlot> = table
        .params()
        .iter()
        .filter(|p| p.group == Group::Matrix)
        .map(|p| ParamSlot {
            id: ParamId::new(),
            path: p.name.clone(),
            shape: p.shape.clone(),
            role: Role::Matrix,
        })
        .collect();
    teon_groups(&slots, teon)
        .into_iter()
        .filter(|group| group.len() > 1)
        .map(|group| group.iter().map(|&i| slots[i].path.clone()).collect())
        .collect()
}

/// What trains a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Choice {
    /// The engine on CUDA device `ordinal`.
    Engine { plan: EnginePlan, ordinal: usize },
    /// burn, on the config's device or devices; `why` says why not the engine where the
    /// config asked for `auto` on a GPU.
    Burn { why: Option<String> },
}

/// Engine or burn for `config` (its `engine` field, its device, what the engine supports).
/// `engine = "engine"` on a config the engine does not run is an error saying why.
pub fn choose(config: &TrainConfig) -> Result<Choice, TrainError> {
    let forced = |why: String| -> Result<Choice, TrainError> {
        match config.engine {
            EngineChoice::Engine => Err(crate::config::ConfigError::Invalid(format!(
                "engine = \"engine\": {why}"
            ))
            .into()),
            _ => Ok(Choice::Burn { why: Some(why) }),
        }
    };
    if config.engine == EngineChoice::Burn {
        return Ok(Choice::Burn { why: None });
    }
    if !config.devices.is_empty() {
        return forced(format!(
            "the CUDA engine trains on one GPU; devices lists {}",
            config.devices.len()
        ));
    }
    let ordinal = match config.device.parse::<DeviceKind>()? {
        DeviceKind::Cuda(ordinal) => ordinal,
        DeviceKind::Cpu if config.engine == EngineChoice::Engine => {
            return forced("the CUDA engine runs on a CUDA device, and device = \"cpu\"".into());
        }
        DeviceKind::Cpu => return Ok(Choice::Burn { why: None }),
    };
    match EnginePlan::of(config) {
        Ok(plan) => Ok(Choice::Engine { plan, ordinal }),
        Err(why) => forced(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnginePrecision;
    use spectral_models::{GptConfig, MemoryConfig, SpacingMdnConfig};

    fn mdn(memory: Option<MemoryConfig>) -> TrainConfig {
        let mut model = SpacingMdnConfig::new();
        model.memory = memory;
        TrainConfig {
            model: ModelConfig::SpacingMdn(model),
            device: "cuda".into(),
            ..TrainConfig::default()
        }
    }

    fn gpt() -> TrainConfig {
        TrainConfig {
            model: ModelConfig::Gpt(GptConfig::new()),
            device: "cuda:1".into(),
            ..TrainConfig::default()
        }
    }

    #[test]
    fn the_default_models_run_on_the_engine_with_the_config_s_numbers() {
        let config = gpt();
        let Choice::Engine { plan, ordinal } = choose(&config).unwrap() else {
            panic!("the default GPT runs on the engine");
        };
        assert_eq!(ordinal, 1);
        let EngineModel::Gpt(shape) = plan.model else {
            panic!("a GPT")
        };
        assert_eq!(
            (
                shape.layers,
                shape.heads,
                shape.width,
                shape.batch,
                shape.seq
            ),
            (6, 6, 384, 32, 256)
        );
        let EngineOptimizer::Muon { muon, adamw } = &plan.optimizer else {
            panic!("the default optimizer is Muon")
        };
        assert_eq!(muon.coefficients, vec![(3.4445, -4.7750, 2.0315); 5]);
        assert!(muon.nesterov && muon.momentum == 0.95);
        assert_eq!((adamw.beta2, adamw.weight_decay), (0.95, 0.1));
        assert_eq!(
            (plan.matrix_lr, plan.other_lr, plan.max_grad_norm),
            (0.02, 1e-3, 1.0)
        );

        let memory = MemoryConfig::new().with_n_slots(8).with_slot_id(true);
        let Choice::Engine { plan, .. } = choose(&mdn(Some(memory))).unwrap() else {
            panic!("the SpacingMDN with slots runs on the engine");
        };
        let EngineModel::SpacingMdn(shape) = plan.model else {
            panic!("a SpacingMDN")
        };
        assert_eq!(
            (shape.slots, shape.slot_id, shape.positions()),
            (8, true, 264)
        );
    }

    #[test]
    fn what_the_engine_does_not_run_falls_back_to_burn_or_is_named() {
        let mut readout = mdn(Some(MemoryConfig::new().with_film(true)));
        let Choice::Burn { why: Some(why) } = choose(&readout).unwrap() else {
            panic!("auto falls back to burn")
        };
        assert!(why.contains("readouts") && !why.contains('\n'), "{why}");
        readout.engine = EngineChoice::Engine;
        let error = choose(&readout).unwrap_err().to_string();
        assert!(error.contains("readouts"), "{error}");

        for method in [Method::Spectra, Method::SpectraTeon, Method::ManifoldMuon] {
            let mut other = gpt();
            other.optimizer.method = method;
            let Choice::Burn { why: Some(why) } = choose(&other).unwrap() else {
                panic!("auto falls back to burn")
            };
            assert!(
                why.contains(&format!("the {} optimizer", method.name())),
                "{why}"
            );
            other.engine = EngineChoice::Engine;
            let error = choose(&other).unwrap_err().to_string();
            assert!(error.contains(method.name()), "{error}");
        }
        let mut moonlight = gpt();
        moonlight.optimizer.method = Method::Teon;
        moonlight.optimizer.muon.scaling = MuonScaling::Moonlight;
        let Choice::Burn { why: Some(why) } = choose(&moonlight).unwrap() else {
            panic!("auto falls back to burn")
        };
        assert!(why.contains("teon with Muon's Moonlight scaling"), "{why}");

        let mut heads = gpt();
        if let ModelConfig::Gpt(m) = &mut heads.model {
            m.n_head = 24; // head width 16
        }
        let Choice::Burn { why: Some(why) } = choose(&heads).unwrap() else {
            panic!("auto falls back to burn")
        };
        assert!(why.contains("head width 16"), "{why}");

        let mut parallel = gpt();
        parallel.devices = vec!["cuda:0".into(), "cuda:1".into()];
        assert!(matches!(
            choose(&parallel).unwrap(),
            Choice::Burn { why: Some(_) }
        ));

        let mut polar = gpt();
        polar.optimizer.muon.msign = MsignMethod::PolarExpress { steps: 8 };
        assert!(matches!(
            choose(&polar).unwrap(),
            Choice::Burn { why: Some(_) }
        ));
    }

    /// The engine's TEON stacks are burn's: `teon_groups` on the slots of burn's own model
    /// (three layers: layers 0 and 1 paired, layer 2's Q, K, V and every other matrix alone).
    #[test]
    fn teon_stacks_the_matrices_burn_stacks() {
        use burn::backend::Autodiff;
        use spectral::CpuBackend;
        use spectral::optim::SpectralOptimizer;
        type B = Autodiff<CpuBackend>;
        let device = Default::default();
        let gpt_model = GptConfig::new()
            .with_n_layer(3)
            .with_n_embd(64)
            .with_n_head(2);
        let mdn_model = SpacingMdnConfig::new()
            .with_n_layer(3)
            .with_n_embd(64)
            .with_n_head(2)
            .with_memory(Some(MemoryConfig::new().with_n_slots(4)));
        let mut configs = vec![gpt(), mdn(None)];
        configs[0].model = ModelConfig::Gpt(gpt_model.clone());
        configs[1].model = ModelConfig::SpacingMdn(mdn_model.clone());
        for mut config in configs {
            config.optimizer.method = Method::Teon;
            let EngineOptimizer::Teon { muon, stacks, .. } =
                EnginePlan::of(&config).unwrap().optimizer
            else {
                panic!("TEON runs on the engine")
            };
            assert_eq!(muon.coefficients, vec![(3.4445, -4.7750, 2.0315); 5]);
            let want: Vec<Vec<String>> = ["q", "k", "v"]
                .iter()
                .map(|x| {
                    (0..2)
                        .map(|l| format!("blocks.{l}.attn.{x}.weight"))
                        .collect()
                })
                .collect();
            assert_eq!(stacks, want);
            let optimizer = SpectralOptimizer::<CpuBackend>::new(config.optimizer.clone());
            let slots = match &config.model {
                ModelConfig::Gpt(m) => optimizer.plan::<B, _>(&m.init::<B>(&device).unwrap()),
                ModelConfig::SpacingMdn(m) => {
                    optimizer.plan::<B, _>(&m.init::<B>(&device).unwrap())
                }
            }
            .unwrap();
            let matrices: Vec<ParamSlot> = slots
                .into_iter()
                .filter(|s| s.role == Role::Matrix)
                .collect();
            let burn: Vec<Vec<String>> = teon_groups(&matrices, &config.optimizer.teon)
                .into_iter()
                .filter(|g| g.len() > 1)
                .map(|g| g.iter().map(|&i| matrices[i].path.clone()).collect())
                .collect();
            assert_eq!(stacks, burn);
        }
        // K = 3 on three layers: one stack of each.
        let mut config = gpt();
        config.model = ModelConfig::Gpt(gpt_model);
        config.optimizer.method = Method::Teon;
        config.optimizer.teon.k = 3;
        let EngineOptimizer::Teon { stacks, .. } = EnginePlan::of(&config).unwrap().optimizer
        else {
            panic!("TEON runs on the engine")
        };
        assert_eq!(stacks.len(), 3);
        assert!(stacks.iter().all(|s| s.len() == 3), "{stacks:?}");
    }

    #[test]
    fn cpu_runs_and_burn_runs_stay_on_burn() {
        let mut cpu = gpt();
        cpu.device = "cpu".into();
        assert_eq!(choose(&cpu).unwrap(), Choice::Burn { why: None });
        cpu.engine = EngineChoice::Engine;
        assert!(choose(&cpu).unwrap_err().to_string().contains("cpu"));
        let mut burn = gpt();
        burn.engine = EngineChoice::Burn;
        assert_eq!(choose(&burn).unwrap(), Choice::Burn { why: None });
    }

    #[test]
    fn the_engine_choice_reads_and_writes_as_toml() {
        let config = TrainConfig::from_toml("engine = \"burn\"\n", "test").unwrap();
        assert_eq!(config.engine, EngineChoice::Burn);
        assert!(config.to_toml().contains("engine = \"burn\""));
        assert_eq!(
            TrainConfig::from_toml("", "test").unwrap().engine,
            EngineChoice::Auto
        );
        assert!(TrainConfig::from_toml("engine = \"fast\"\n", "test").is_err());
        assert_eq!("engine".parse::<EngineChoice>(), Ok(EngineChoice::Engine));
        assert_eq!("f32".parse::<EnginePrecision>(), Ok(EnginePrecision::F32));
        assert!("fp8".parse::<EnginePrecision>().is_err());
        let f32 = TrainConfig::from_toml("engine_precision = \"f32\"\n", "test").unwrap();
        assert_eq!(f32.engine_precision, EnginePrecision::F32);
        let mut config = gpt();
        config.engine_precision = EnginePrecision::F32;
        let plan = EnginePlan::of(&config).unwrap();
        assert_eq!(
            (plan.act, plan.f32_products),
            (DType::F32, F32Products::Exact)
        );
        config.engine_precision = "tf32".parse().unwrap();
        let plan = EnginePlan::of(&config).unwrap();
        assert_eq!(
            (plan.act, plan.f32_products),
            (DType::F32, F32Products::Tf32)
        );
        assert_eq!(EnginePlan::of(&gpt()).unwrap().act, DType::BF16);
    }
}
