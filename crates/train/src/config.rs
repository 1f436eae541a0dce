//! A training run's whole configuration: one TOML file (see `configs/`), every field with a
//! default, CLI flags override. The resolved config is written beside the run's outputs and
//! into every checkpoint.

use crate::auxiliary::AuxConfig;
use crate::model_init::ModelInit;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use spectral::optim::{OptimizerConfig, Schedule};
use spectral_models::{GptConfig, MemoryConfig, SpacingMdnConfig};
use std::path::{Path, PathBuf};

/// Which model to train (`[model] kind = "spacing_mdn"` or `"gpt"`, then its fields; a
/// `[model.memory]` table turns the SpacingMDN's memory bank on).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelConfig {
    SpacingMdn(SpacingMdnConfig),
    Gpt(GptConfig),
}

/// `given` laid over the serialized `defaults`: burn's `Config` derive makes every field
/// required in serde, so a partial TOML table is completed from `T`'s defaults here. A key
/// the defaults do not have is an error (a typo must not be ignored).
fn merge_defaults<T: Serialize + DeserializeOwned>(
    defaults: &T,
    given: toml::Table,
    section: &str,
) -> Result<T, String> {
    let mut table = toml::Table::try_from(defaults).map_err(|e| e.to_string())?;
    for (key, value) in given {
        if !table.contains_key(&key) {
            return Err(format!("unknown field `{key}` in [{section}]"));
        }
        table.insert(key, value);
    }
    T::deserialize(table).map_err(|e| format!("[{section}]: {e}"))
}

impl<'de> Deserialize<'de> for ModelConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut table = toml::Table::deserialize(deserializer)?;
        let kind = match table.remove("kind") {
            Some(toml::Value::String(kind)) => kind,
            _ => {
                return Err(D::Error::custom(
                    "[model] needs kind = \"spacing_mdn\" or \"gpt\"",
                ));
            }
        };
        match kind.as_str() {
            "spacing_mdn" => {
                let memory = match table.remove("memory") {
                    Some(toml::Value::Table(memory)) => Some(
                        merge_defaults(&MemoryConfig::new(), memory, "model.memory")
                            .map_err(D::Error::custom)?,
                    ),
                    Some(_) => return Err(D::Error::custom("[model.memory] must be a table")),
                    None => None,
                };
                let mut config: SpacingMdnConfig =
                    merge_defaults(&SpacingMdnConfig::new(), table, "model")
                        .map_err(D::Error::custom)?;
                config.memory = memory;
                Ok(ModelConfig::SpacingMdn(config))
            }
            "gpt" => Ok(ModelConfig::Gpt(
                merge_defaults(&GptConfig::new(), table, "model").map_err(D::Error::custom)?,
            )),
            other => Err(D::Error::custom(format!(
                "unknown model kind {other:?}; expected \"spacing_mdn\" or \"gpt\""
            ))),
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::SpacingMdn(SpacingMdnConfig::new())
    }
}

/// Where the data come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Spacing file written by `spectral unfold` (SpacingMDN runs; required for them).
    pub spacings: Option<PathBuf>,
    /// Text file for GPT runs; none = the embedded Shakespeare slice (`data/shakespeare`).
    pub text: Option<PathBuf>,
    /// Fraction of the series (the end of it) held out for validation.
    pub val_fraction: f64,
    /// sha256 of the data file (hex), written with its absolute path into the run's config
    /// when training starts ([`identity::pin`](crate::data::identity::pin)); evaluations
    /// refuse a changed file. A config may state it to pin the file it trains on.
    pub sha256: Option<String>,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            spacings: None,
            text: None,
            val_fraction: 0.1,
            sha256: None,
        }
    }
}

/// What trains a run on a CUDA device: the CUDA engine (`spectral-cuda`: bf16 with f32
/// master weights, the whole step as one CUDA graph) or burn's generic CUDA backend. CPU runs
/// are always burn's. The run's `config.toml` records the one that ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineChoice {
    /// The engine where it supports the config (model, optimizer, objective, one GPU), burn's
    /// CUDA backend otherwise, with a line saying why.
    #[default]
    Auto,
    /// The engine, or an error saying in one line what it does not support.
    Engine,
    /// burn's backend.
    Burn,
}

impl EngineChoice {
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Engine => "engine",
            Self::Burn => "burn",
        }
    }
}

impl std::str::FromStr for EngineChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "engine" => Ok(Self::Engine),
            "burn" => Ok(Self::Burn),
            other => Err(format!(
                "unknown engine {other:?}; expected auto, engine or burn"
            )),
        }
    }
}

/// The CUDA engine's activation type and how it multiplies f32 operands. Master weights,
/// gradients and optimizer state are f32 in every mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnginePrecision {
    /// bf16 activations, products on tensor cores with f32 accumulation (autocast's semantics).
    #[default]
    Bf16,
    /// Every tensor f32, products on TF32 tensor cores (operands rounded to 10-bit
    /// significands, f32 accumulation), as burn's cuBLAS TF32 gemm and PyTorch's "high"
    /// matmul precision: for precision-bound models such as the SpacingMDN.
    Tf32,
    /// Every tensor f32, products in true f32 (TF32 off): the slowest, for the parity tests.
    F32,
}

impl EnginePrecision {
    /// As the config and the flag spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bf16 => "bf16",
            Self::Tf32 => "tf32",
            Self::F32 => "f32",
        }
    }

    /// The engine's activation type.
    pub fn dtype(self) -> spectral_cuda::DType {
        match self {
            Self::Bf16 => spectral_cuda::DType::BF16,
            Self::Tf32 | Self::F32 => spectral_cuda::DType::F32,
        }
    }

    /// How the engine's gemms multiply f32 operands (the f32 master weights' products in the
    /// optimizer too).
    pub fn f32_products(self) -> spectral_cuda::gemm::F32Products {
        match self {
            Self::Tf32 => spectral_cuda::gemm::F32Products::Tf32,
            Self::Bf16 | Self::F32 => spectral_cuda::gemm::F32Products::Exact,
        }
    }
}

impl std::str::FromStr for EnginePrecision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bf16" => Ok(Self::Bf16),
            "tf32" => Ok(Self::Tf32),
            "f32" => Ok(Self::F32),
            other => Err(format!(
                "unknown engine precision {other:?}; expected bf16, tf32 or f32"
            )),
        }
    }
}

/// One training run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub model: ModelConfig,
    pub data: DataConfig,
    pub optimizer: OptimizerConfig,
    pub schedule: Schedule,
    /// Sequences per step.
    pub batch_size: usize,
    /// Sequence length T of a training window (≤ the model's block_size).
    pub seq_len: usize,
    /// Optimizer steps of the run.
    pub steps: u64,
    /// Evaluate on the validation windows every this many steps (and at the end).
    pub eval_interval: u64,
    /// Validation windows per evaluation (fixed, consecutive, from the start of the val split).
    pub eval_windows: usize,
    /// Write a metrics line every this many steps.
    pub log_interval: u64,
    /// Write `last.safetensors` every this many steps (and at the end).
    pub checkpoint_interval: u64,
    /// Clip the global gradient norm to this (0 = no clipping).
    pub grad_clip: f64,
    /// Seeds the model init and the training windows.
    pub seed: u64,
    /// `cpu`, `cuda` or `cuda:N` (`backend = "cuda"` is read as the same key).
    #[serde(alias = "backend")]
    pub device: String,
    /// Data-parallel devices (`["cpu:0", "cpu:1"]`, `["cuda:0", "cuda:1"]`), one peer each;
    /// when not empty they replace `device` and the batch is split evenly among them.
    pub devices: Vec<String>,
    /// What trains the run on a CUDA device ([`EngineChoice`]); not part of the trajectory: a
    /// checkpoint of either resumes on the other.
    pub engine: EngineChoice,
    /// The activation type of a run on the CUDA engine ([`EnginePrecision`]); burn ignores it.
    pub engine_precision: EnginePrecision,
    /// Output directory: config.toml, metrics.jsonl, last.safetensors, best.safetensors.
    pub out: PathBuf,
    /// Auxiliary losses and regularizers of the SpacingMDN (all off by default).
    pub aux: AuxConfig,
    /// `"default"` (the model's own init) or a `spectral::init` name (`"m23_seed"`, `"he"`,
    /// …): redraws every Linear/Conv2d weight from `seed` before step 1.
    pub init: ModelInit,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: ModelConfig::default(),
            data: DataConfig::default(),
            optimizer: OptimizerConfig::default(),
            schedule: Schedule::default(),
            batch_size: 32,
            seq_len: 256,
            steps: 5000,
            eval_interval: 250,
            eval_windows: 256,
            log_interval: 10,
            checkpoint_interval: 500,
            grad_clip: 1.0,
            seed: 1337,
            device: "cpu".into(),
            devices: Vec::new(),
            engine: EngineChoice::Auto,
            engine_precision: EnginePrecision::Bf16,
            out: PathBuf::from("runs/train"),
            aux: AuxConfig::default(),
            init: ModelInit::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("config: {0}")]
    Invalid(String),
}

/// A TOML error in one line: where (line and column of its span in `text`) and what.
fn toml_message(error: &toml::de::Error, text: &str) -> String {
    let what = error.message().trim().replace('\n', "; ");
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {what}")
        }
        None => what,
    }
}

impl TrainConfig {
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: toml_message(&e, text),
        })
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a config always serializes")
    }

    /// Checks what the types cannot, naming the offending field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = |name: &str, value: u64| {
            if value == 0 {
                Err(ConfigError::Invalid(format!("{name} must be positive")))
            } else {
                Ok(())
            }
        };
        positive("batch_size", self.batch_size as u64)?;
        positive("seq_len", self.seq_len as u64)?;
        positive("steps", self.steps)?;
        positive("eval_interval", self.eval_interval)?;
        positive("eval_windows", self.eval_windows as u64)?;
        positive("log_interval", self.log_interval)?;
        positive("checkpoint_interval", self.checkpoint_interval)?;
        if !(self.grad_clip >= 0.0 && self.grad_clip.is_finite()) {
            return Err(ConfigError::Invalid(format!(
                "grad_clip = {} must be ≥ 0",
                self.grad_clip
            )));
        }
        let within = |name: &str, value: f64, ok: bool, rule: &str| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(ConfigError::Invalid(format!(
                    "{name} = {value} must be {rule}"
                )))
            }
        };
        let o = &self.optimizer;
        within("optimizer.lr", o.lr, o.lr > 0.0, "> 0")?;
        within("optimizer.adamw.lr", o.adamw.lr, o.adamw.lr > 0.0, "> 0")?;
        for (name, beta) in [
            ("optimizer.adamw.beta1", o.adamw.beta1),
            ("optimizer.adamw.beta2", o.adamw.beta2),
            ("optimizer.muon.momentum", o.muon.momentum),
        ] {
            within(name, beta, (0.0..1.0).contains(&beta), "in [0, 1)")?;
        }
        within("optimizer.adamw.eps", o.adamw.eps, o.adamw.eps > 0.0, "> 0")?;
        for (name, decay) in [
            ("optimizer.adamw.weight_decay", o.adamw.weight_decay),
            ("optimizer.muon.weight_decay", o.muon.weight_decay),
        ] {
            within(name, decay, decay >= 0.0, "≥ 0")?;
        }
        let floor = self.schedule.min_factor;
        within(
            "schedule.min_factor",
            floor,
            (0.0..=1.0).contains(&floor),
            "in [0, 1] (a fraction of the peak lr)",
        )?;
        let block_size = match &self.model {
            ModelConfig::SpacingMdn(m) => m.block_size,
            ModelConfig::Gpt(m) => m.block_size,
        };
        if self.seq_len > block_size {
            return Err(ConfigError::Invalid(format!(
                "seq_len = {} exceeds the model's block_size = {block_size}",
                self.seq_len
            )));
        }
        let active_aux = self.aux.window_stats_weight > 0.0
            || self.aux.drift.weight > 0.0
            || self.aux.regularizers.is_some();
        match &self.model {
            ModelConfig::Gpt(_) if active_aux => {
                return Err(ConfigError::Invalid(
                    "[aux] applies to spacing_mdn models only".into(),
                ));
            }
            ModelConfig::SpacingMdn(model) if self.aux.window_stats_weight > 0.0 => {
                let ok = model.memory.as_ref().is_some_and(|m| {
                    m.aux_head && m.n_slots >= crate::auxiliary::window_stats::N_STATS
                });
                if !ok {
                    return Err(ConfigError::Invalid(
                        "aux.window_stats_weight needs [model.memory] with aux_head = true and n_slots ≥ 8".into(),
                    ));
                }
            }
            _ => {}
        }
        if self.aux.drift.weight > 0.0 && (self.aux.drift.horizon == 0 || self.aux.drift.batch == 0)
        {
            return Err(ConfigError::Invalid(
                "aux.drift needs horizon and batch > 0".into(),
            ));
        }
        check_device_names(&self.devices)?;
        if !self.devices.is_empty() && !self.batch_size.is_multiple_of(self.devices.len()) {
            return Err(ConfigError::Invalid(format!(
                "batch_size = {} does not divide among the {} devices {:?}",
                self.batch_size,
                self.devices.len(),
                self.devices
            )));
        }
        if matches!(self.model, ModelConfig::SpacingMdn(_)) && self.data.spacings.is_none() {
            return Err(ConfigError::Invalid(
                "a spacing_mdn run needs data.spacings (a file from `spectral unfold`)".into(),
            ));
        }
        Ok(())
    }

    /// Makes the run `steps` long, the one meaning of `--steps` (`train`, `run`): the cosine
    /// decay ends at the last step, and the warmup (at most a tenth of the run), evaluation
    /// and checkpoint intervals are capped to fit.
    pub fn set_steps(&mut self, steps: u64) {
        self.steps = steps;
        self.schedule.total_steps = steps;
        self.schedule.warmup_steps = self.schedule.warmup_steps.min(steps / 10);
        self.eval_interval = self.eval_interval.min(steps);
        self.checkpoint_interval = self.checkpoint_interval.min(steps);
    }

    /// The start line's account of the run's length and learning rate:
    /// `1500 steps: warmup 100, cosine to 0.1× the peak lr at step 1500`, with what is off
    /// when the schedule was written for another length.
    pub fn describe_schedule(&self) -> String {
        let s = &self.schedule;
        let mut line = format!(
            "{} steps: warmup {}, cosine to {}× the peak lr at step {}",
            self.steps, s.warmup_steps, s.min_factor, s.total_steps
        );
        if s.total_steps > self.steps {
            let factor = s.factor(self.steps.saturating_sub(1));
            line.push_str(&format!(
                " (the run stops before: its last step at {factor:.3}× the peak)"
            ));
        } else if s.total_steps < self.steps {
            line.push_str(&format!(
                " (then {}× for the last {} steps)",
                s.min_factor,
                self.steps - s.total_steps
            ));
        }
        line
    }

    /// The fields (dotted TOML paths) where `self` and `other` differ, each as
    /// `field: this vs that`, leaving out `out`, the directory a run is written to.
    pub fn differences(&self, other: &TrainConfig) -> Vec<String> {
        let fields =
            |config: &TrainConfig| flat_fields(&serde_json::to_value(config).expect("serializes"));
        let (mine, theirs) = (fields(self), fields(other));
        let keys: std::collections::BTreeSet<&String> = mine.keys().chain(theirs.keys()).collect();
        keys.into_iter()
            .filter(|key| key.as_str() != "out")
            .filter_map(|key| {
                let absent = "(none)".to_string();
                let (a, b) = (
                    mine.get(key).unwrap_or(&absent),
                    theirs.get(key).unwrap_or(&absent),
                );
                (a != b).then(|| format!("{key}: {a} vs {b}"))
            })
            .collect()
    }

    /// The fields a resumed run must share with its checkpoint (everything that changes the
    /// trajectory except the length of the run), as JSON for comparison.
    pub fn trajectory_key(&self) -> serde_json::Value {
        serde_json::json!({
            "model": self.model,
            "data": match &self.data.sha256 {
                // The file's bytes, wherever it lies now.
                Some(sha256) => serde_json::json!({
                    "sha256": sha256,
                    "val_fraction": self.data.val_fraction,
                    "text": self.data.text.is_some(),
                }),
                None => serde_json::json!(self.data),
            },
            "optimizer": self.optimizer,
            "schedule": self.schedule,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "grad_clip": self.grad_clip,
            "seed": self.seed,
            "aux": self.aux,
            "init": self.init,
        })
    }
}

/// The leaves of a JSON object by dotted path (`optimizer.muon.momentum`), each as its JSON
/// text: the form in which two configs are compared field by field.
pub fn flat_fields(value: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    fn flatten(
        prefix: &str,
        value: &serde_json::Value,
        into: &mut std::collections::BTreeMap<String, String>,
    ) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    flatten(&path, value, into);
                }
            }
            leaf => {
                into.insert(prefix.to_string(), leaf.to_string());
            }
        }
    }
    let mut fields = std::collections::BTreeMap::new();
    flatten("", value, &mut fields);
    fields
}

/// An error naming the first empty entry of a `devices` list (`cpu:0,,cpu:1` on the command
/// line), so that it is blamed before anything that counts the entries.
pub fn check_device_names(names: &[String]) -> Result<(), ConfigError> {
    match names.iter().position(|n| n.trim().is_empty()) {
        Some(position) => Err(ConfigError::Invalid(format!(
            "devices {names:?}: entry {} is empty (two commas in a row?)",
            position + 1
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectral::optim::Method;

    #[test]
    fn differences_name_every_field_but_the_output_directory() {
        let a = TrainConfig::default();
        let mut b = a.clone();
        assert!(a.differences(&b).is_empty());
        b.out = "elsewhere".into();
        b.steps = 400;
        b.optimizer.muon.momentum = 0.9;
        let d = a.differences(&b);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.contains(&format!("steps: {} vs 400", a.steps)), "{d:?}");
        assert!(
            d.iter().any(|f| f.starts_with("optimizer.muon.momentum: ")),
            "{d:?}"
        );
    }

    #[test]
    fn set_steps_fits_the_schedule_to_the_run() {
        let mut config = TrainConfig::default();
        config.schedule.warmup_steps = 100;
        config.schedule.total_steps = 1000;
        config.eval_interval = 500;
        config.set_steps(400);
        assert_eq!(config.steps, 400);
        assert_eq!(config.schedule.total_steps, 400);
        assert_eq!(config.schedule.warmup_steps, 40);
        assert_eq!(config.eval_interval, 400);
        // The last step ends at the floor, as the cosine was meant to.
        let last = config.schedule.factor(399);
        assert!((last - config.schedule.min_factor).abs() < 1e-4, "{last}");
        assert!(
            config
                .describe_schedule()
                .starts_with("400 steps: warmup 40, cosine to 0.1× the peak lr at step 400"),
            "{}",
            config.describe_schedule()
        );
        assert!(!config.describe_schedule().contains('('));
    }

    #[test]
    fn a_schedule_written_for_another_length_is_described_as_such() {
        let mut config = TrainConfig::default();
        config.schedule.total_steps = 1000;
        config.steps = 400;
        let cut = config.describe_schedule();
        let factor = config.schedule.factor(399);
        assert!(factor > 0.5, "{factor}");
        assert!(
            cut.ends_with(&format!(
                "(the run stops before: its last step at {factor:.3}× the peak)"
            )),
            "{cut}"
        );
        config.steps = 1200;
        assert!(
            config
                .describe_schedule()
                .ends_with("(then 0.1× for the last 200 steps)")
        );
    }

    #[test]
    fn toml_round_trip_and_partial_files_take_defaults() {
        let text = r#"
            steps = 20
            seq_len = 64
            [model]
            kind = "spacing_mdn"
            n_layer = 2
            block_size = 64
            [data]
            spacings = "s.f64"
            [optimizer]
            method = "teon"
            lr = 0.01
            [optimizer.teon]
            k = 3
            [model.memory]
            film = true
        "#;
        let config = TrainConfig::from_toml(text, "test").unwrap();
        assert_eq!(config.steps, 20);
        assert_eq!(config.optimizer.method, Method::Teon);
        assert_eq!(config.optimizer.teon.k, 3);
        assert_eq!(config.batch_size, TrainConfig::default().batch_size);
        let ModelConfig::SpacingMdn(model) = &config.model else {
            panic!("spacing_mdn")
        };
        assert_eq!((model.n_layer, model.n_embd), (2, 256));
        let memory = model
            .memory
            .as_ref()
            .expect("a [model.memory] table turns memory on");
        assert_eq!(
            (memory.n_slots, memory.film, memory.slot_id),
            (8, true, true)
        );
        config.validate().unwrap();
        let again = TrainConfig::from_toml(&config.to_toml(), "again").unwrap();
        assert_eq!(again.trajectory_key(), config.trajectory_key());
    }

    #[test]
    fn every_method_name_reads_from_toml_as_the_cli_spells_it() {
        for method in Method::ALL {
            let text = format!("[optimizer]\nmethod = \"{}\"\n", method.name());
            let config = TrainConfig::from_toml(&text, "test").unwrap();
            assert_eq!(config.optimizer.method, method);
            assert_eq!(method.name().parse::<Method>(), Ok(method));
        }
    }

    #[test]
    fn backend_is_another_name_for_device() {
        let config = TrainConfig::from_toml("backend = \"cuda:1\"", "test").unwrap();
        assert_eq!(config.device, "cuda:1");
        assert_eq!(
            config.device.parse::<spectral::DeviceKind>(),
            Ok(spectral::DeviceKind::Cuda(1))
        );
    }

    /// The numbers a run once trained on and diverged with (a negative floor, a negative
    /// AdamW lr), and their neighbours, are refused by field and value.
    #[test]
    fn out_of_range_numbers_are_refused_naming_field_and_value() {
        let valid = || {
            let mut config = TrainConfig::default();
            config.data.spacings = Some("s.f64".into());
            config.seq_len = 16;
            config
        };
        valid().validate().unwrap();
        type Spoil = fn(&mut TrainConfig);
        let cases: [(&str, Spoil); 6] = [
            ("schedule.min_factor = -0.5", |c| {
                c.schedule.min_factor = -0.5
            }),
            ("schedule.min_factor = 1.5", |c| c.schedule.min_factor = 1.5),
            ("optimizer.adamw.lr = -0.001", |c| {
                c.optimizer.adamw.lr = -1e-3
            }),
            ("optimizer.adamw.beta2 = 1", |c| {
                c.optimizer.adamw.beta2 = 1.0
            }),
            ("optimizer.muon.momentum = NaN", |c| {
                c.optimizer.muon.momentum = f64::NAN
            }),
            ("optimizer.adamw.weight_decay = -0.1", |c| {
                c.optimizer.adamw.weight_decay = -0.1
            }),
        ];
        for (expected, spoil) in cases {
            let mut config = valid();
            spoil(&mut config);
            let error = config.validate().unwrap_err().to_string();
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn bad_configs_name_the_field() {
        let error = TrainConfig::from_toml("stepz = 3", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("stepz"), "{error}");
        let mut config = TrainConfig::default();
        config.data.spacings = Some("s.f64".into());
        config.seq_len = 1000;
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("block_size")
        );
        config.seq_len = 16;
        config.optimizer.lr = -1.0;
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("optimizer.lr")
        );
        let no_data = TrainConfig::default();
        assert!(
            no_data
                .validate()
                .unwrap_err()
                .to_string()
                .contains("data.spacings")
        );
    }
}
