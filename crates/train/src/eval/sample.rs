//! What `spectral sample` draws from a checkpoint (a training checkpoint or a `spectral
//! compress` output): text from a char-level GPT, or free-running rollouts from a SpacingMDN.
//!
//! Text is the prompt's bytes followed by `length` sampled bytes
//! ([`spectral_models::generate::generate_with`]). The [`Vocabulary`] is the bytes that occur in
//! the run's training text, as nanoGPT's character vocabulary is the characters of its text: a
//! prompt may hold only characters made of them, and only they are sampled (the embeddings of
//! the other byte values were never trained).
//!
//! Rollouts start from one seed window of `context` true spacings (the run's `seq_len`): the
//! first window of the validation split, or the one whose first spacing is `δ_start`. All
//! `count` rollouts share it; with mixture draws fed back, rollout `r` at step `h` draws from
//! the key `(seed, h, r)` ([`Feed::Sample`]), so rollout `r` is the same whatever `count`. A
//! file of rollouts is one series of `count · horizon` spacings (kind `Spacings`, first index
//! 0): value `i` is step `i mod horizon` of rollout `⌊i / horizon⌋`, rollout after rollout
//! (`numpy.load(f).reshape(count, horizon)`).

use crate::compress::{AnyModel, CompressModelError, load};
use crate::config::TrainConfig;
use crate::data::{DataError, SpacingDataset, TextDataset};
use crate::eval::EvalError;
use crate::eval::rollout::{Feed, rollout};
use burn::tensor::backend::Backend;
use spectral_models::generate::{Sampling, generate_with};
use spectral_models::{Gpt, MemoryEdit, ModelError, SpacingMdn};
use spectral_zeta::ZetaError;
use spectral_zeta::series_file::{Format, Header, SeriesKind, SeriesWriter};
use std::path::Path;

/// Why sampling could not run.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error(transparent)]
    Load(#[from] CompressModelError),
    #[error("{path} holds a {found}; `spectral sample {command}` samples it")]
    WrongKind {
        path: String,
        found: &'static str,
        command: &'static str,
    },
    #[error(
        "the prompt's character {ch:?} (U+{code:04X}) is not in the vocabulary of this run: its \
         training text ({origin}) never holds it",
        code = *ch as u32
    )]
    OutsideVocabulary { ch: char, origin: String },
    #[error("the prompt is empty: give at least one character")]
    EmptyPrompt,
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(
        "start δ_{start}: a seed window of {context} spacings must lie in δ_{first}..δ_{last} \
         (the spacing file)"
    )]
    StartOutside {
        start: u64,
        context: usize,
        first: u64,
        last: u64,
    },
    #[error("{name} must be at least 1")]
    Zero { name: &'static str },
    #[error(
        "mean feedback is deterministic: {count} rollouts from one seed window would all be the same; ask for one, or for sampled feedback"
    )]
    MeanRepeats { count: usize },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Series(#[from] ZetaError),
}

/// The char-level GPT of the checkpoint at `path`, with the run's config.
pub fn load_gpt<B: Backend>(
    path: &Path,
    device: &B::Device,
) -> Result<(Gpt<B>, TrainConfig), SampleError> {
    match load::<B>(path, device)? {
        (AnyModel::Gpt(model), config) => Ok((*model, config)),
        (AnyModel::SpacingMdn(_), _) => Err(SampleError::WrongKind {
            path: path.display().to_string(),
            found: "SpacingMDN",
            command: "rollouts",
        }),
    }
}

/// The SpacingMDN of the checkpoint at `path`, with the run's config.
pub fn load_spacing_mdn<B: Backend>(
    path: &Path,
    device: &B::Device,
) -> Result<(SpacingMdn<B>, TrainConfig), SampleError> {
    match load::<B>(path, device)? {
        (AnyModel::SpacingMdn(model), config) => Ok((*model, config)),
        (AnyModel::Gpt(_), _) => Err(SampleError::WrongKind {
            path: path.display().to_string(),
            found: "char-level GPT",
            command: "text",
        }),
    }
}

/// The bytes a GPT run was trained on: those of its text that are token ids of the model.
#[derive(Clone, Debug)]
pub struct Vocabulary {
    /// `present[b]`: byte `b` occurs in the training text and is below the vocabulary size.
    present: [bool; 256],
    /// The text, for messages (`embedded Shakespeare` or its path).
    origin: String,
}

impl Vocabulary {
    /// The vocabulary of the run `config` describes (its `data.text`, or the embedded
    /// Shakespeare slice), limited to ids below `vocab_size`.
    pub fn of_run(config: &TrainConfig, vocab_size: usize) -> Result<Self, SampleError> {
        let (data, origin) = match &config.data.text {
            Some(path) => (TextDataset::from_file(path)?, path.display().to_string()),
            None => (TextDataset::embedded(), "embedded Shakespeare".to_string()),
        };
        Ok(Self::of_text(data.bytes(), vocab_size, origin))
    }

    /// The bytes of `text` below `vocab_size`; `origin` names the text in messages.
    pub fn of_text(text: &[u8], vocab_size: usize, origin: impl Into<String>) -> Self {
        let mut present = [false; 256];
        for &b in text {
            present[b as usize] = (b as usize) < vocab_size;
        }
        Self {
            present,
            origin: origin.into(),
        }
    }

    /// The token ids (bytes) of `prompt`; an error names its first character with a byte
    /// outside the vocabulary.
    pub fn encode(&self, prompt: &str) -> Result<Vec<usize>, SampleError> {
        if prompt.is_empty() {
            return Err(SampleError::EmptyPrompt);
        }
        let mut buffer = [0u8; 4];
        let mut ids = Vec::with_capacity(prompt.len());
        for ch in prompt.chars() {
            let bytes = ch.encode_utf8(&mut buffer).as_bytes();
            if !bytes.iter().all(|&b| self.present[b as usize]) {
                return Err(SampleError::OutsideVocabulary {
                    ch,
                    origin: self.origin.clone(),
                });
            }
            ids.extend(bytes.iter().map(|&b| b as usize));
        }
        Ok(ids)
    }
}

/// `prompt` followed by `length` bytes drawn from `model` as `sampling` says, among the bytes
/// of the `vocabulary`, as text (a multi-byte character cut in two shown as `U+FFFD`).
pub fn sample_text<B: Backend>(
    model: &Gpt<B>,
    vocabulary: &Vocabulary,
    prompt: &str,
    length: usize,
    sampling: &Sampling,
) -> Result<String, SampleError> {
    let ids = vocabulary.encode(prompt)?;
    let allowed: Vec<bool> = (0..model.vocab_size())
        .map(|id| vocabulary.present.get(id) == Some(&true))
        .collect(); // [V]
    let tokens = generate_with(model, &ids, length, sampling, Some(&allowed))?;
    let bytes: Vec<u8> = tokens.into_iter().map(|t| t as u8).collect();
    Ok(TextDataset::decode(&bytes))
}

/// Where rollouts start and how they run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RolloutOptions {
    /// Index `n` of the seed window's first spacing `δ_n`; `None` = the validation split's
    /// first window.
    pub start: Option<u64>,
    /// Spacings in the seed window (≤ the model's block_size; the run's `seq_len`).
    pub context: usize,
    /// Spacings generated per rollout.
    pub horizon: usize,
    /// Rollouts, all from the one seed window.
    pub count: usize,
    /// What each step feeds back; [`Feed::Mean`] needs `count` 1.
    pub feed: Feed,
}

/// Rollouts of one seed window and the data they continue.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollouts {
    /// Index `n` of the seed window's first spacing `δ_n`.
    pub start: u64,
    /// The generated spacings, `[count][horizon]`, in mean-spacing units (≥ 0).
    pub values: Vec<Vec<f64>>,
    /// Mean of the data's spacings after the seed window, up to `horizon` of them (the whole
    /// series' when none follow it).
    pub data_mean: f64,
    /// How many spacings `data_mean` averages.
    pub data_span: usize,
}

impl Rollouts {
    /// Mean of every generated spacing.
    pub fn mean(&self) -> f64 {
        let n: usize = self.values.iter().map(Vec::len).sum();
        self.values.iter().flatten().sum::<f64>() / n.max(1) as f64
    }
}

/// Position in `data` of the seed window `options` asks for, checked to fit.
fn seed_position(data: &SpacingDataset, options: &RolloutOptions) -> Result<usize, SampleError> {
    let Some(start) = options.start else {
        return Ok(data.split().val_starts(options.context, 1)?[0]);
    };
    let first = data.first_index();
    let fits = start
        .checked_sub(first)
        .map(|p| p as usize)
        .filter(|&p| p + options.context <= data.len());
    fits.ok_or(SampleError::StartOutside {
        start,
        context: options.context,
        first,
        last: first + data.len() as u64 - 1,
    })
}

/// `options.count` rollouts of `model` from one seed window of `data`, in one batch.
pub fn sample_rollouts<B: Backend>(
    model: &SpacingMdn<B>,
    data: &SpacingDataset,
    options: &RolloutOptions,
    device: &B::Device,
) -> Result<Rollouts, SampleError> {
    for (name, value) in [("horizon", options.horizon), ("count", options.count)] {
        if value == 0 {
            return Err(SampleError::Zero { name });
        }
    }
    if options.feed == Feed::Mean && options.count > 1 {
        return Err(SampleError::MeanRepeats {
            count: options.count,
        });
    }
    let position = seed_position(data, options)?;
    let values = data.values();
    let window = values[position..position + options.context].to_vec();
    let seeds = vec![window; options.count];
    let generated = rollout(
        model,
        &seeds,
        options.horizon,
        options.feed,
        &MemoryEdit::none(),
        device,
    )?;
    let after = position + options.context;
    let truth = match &values[after..(after + options.horizon).min(values.len())] {
        [] => values,
        following => following,
    };
    Ok(Rollouts {
        start: data.first_index() + position as u64,
        values: generated,
        data_mean: truth.iter().map(|&v| v as f64).sum::<f64>() / truth.len() as f64,
        data_span: truth.len(),
    })
}

/// The (temporary) file of `count` rollouts of `horizon` spacings in the module doc's layout,
/// created before any rollout is run, so that an unwritable path fails first.
pub fn rollout_file(
    path: &Path,
    format: Format,
    count: usize,
    horizon: usize,
) -> Result<SeriesWriter, ZetaError> {
    let header = Header {
        kind: SeriesKind::Spacings,
        first_index: 0,
        count: (count * horizon) as u64,
    };
    SeriesWriter::create(path, format, header)
}

/// Writes `rollouts` (`[count][horizon]`, as `file` announced) and moves the file into place.
pub fn write_rollouts(mut file: SeriesWriter, rollouts: &[Vec<f64>]) -> Result<(), ZetaError> {
    for values in rollouts {
        file.write(values)?;
    }
    file.finish()
}
