//! Sampling text from the char-level GPT (nanoGPT's `generate`): repeatedly feed the last
//! `block_size` tokens, take the logits of the last position, sample the next token.

use crate::error::ModelError;
use crate::gpt::Gpt;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

/// SplitMix64 (Steele et al.): the sampler's uniform numbers, a pure function of the seed.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How the next token is drawn from the logits `l` of the last position.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// `T` of `softmax(l / T)`; 0 is greedy decoding (the argmax), 1 the model's own
    /// distribution, lower values sharpen it.
    pub temperature: f64,
    /// Draw only among the `k` largest logits (the rest get probability 0; ties broken toward
    /// the lower token id); `None` draws from the whole vocabulary.
    pub top_k: Option<usize>,
    /// Seed of the uniforms, one per token: the same seed gives the same text.
    pub seed: u64,
}

impl Sampling {
    /// Errors on a temperature that is negative or not finite, or a top-k of 0.
    fn check(&self) -> Result<(), ModelError> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(ModelError::OutOfRange {
                name: "temperature",
                value: self.temperature,
                range: "[0, ∞)",
            });
        }
        if self.top_k == Some(0) {
            return Err(ModelError::ZeroSize { name: "top_k" });
        }
        Ok(())
    }
}

/// Token ids ordered by logit, largest first; equal logits in id order.
fn ranked(logits: &[f64]) -> Vec<usize> {
    let mut ids: Vec<usize> = (0..logits.len()).collect();
    ids.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    ids
}

/// Index drawn from `softmax(logits / temperature)` restricted to the `top_k` largest logits,
/// with uniform `u` in `[0, 1)` (inverse CDF over the kept ids in id order); the argmax (the lowest id among equal maxima) when
/// `temperature` is 0, whatever `top_k`.
fn sample(logits: &[f64], temperature: f64, top_k: Option<usize>, u: f64) -> usize {
    let ids = ranked(logits);
    let argmax = ids[0];
    if temperature == 0.0 {
        return argmax;
    }
    // The kept ids in id order, so that without a top-k a `u` picks what it always did.
    let mut kept = ids[..top_k.unwrap_or(ids.len()).min(ids.len())].to_vec();
    kept.sort_unstable();
    let top = logits[argmax];
    let weights: Vec<f64> = kept
        .iter()
        .map(|&i| ((logits[i] - top) / temperature).exp())
        .collect();
    let mut target = u * weights.iter().sum::<f64>();
    for (&i, w) in kept.iter().zip(&weights) {
        if target < *w {
            return i;
        }
        target -= w;
    }
    argmax
}

/// `prompt` (token ids, at least one) followed by `max_new` sampled tokens. `temperature` 0
/// is greedy decoding; `seed` fixes the samples. [`generate_with`] also takes a top-k.
pub fn generate<B: Backend>(
    model: &Gpt<B>,
    prompt: &[usize],
    max_new: usize,
    temperature: f64,
    seed: u64,
) -> Result<Vec<usize>, ModelError> {
    let sampling = Sampling {
        temperature,
        top_k: None,
        seed,
    };
    generate_with(model, prompt, max_new, &sampling, None)
}

/// `prompt` (token ids, at least one, each below the vocabulary size V) followed by `max_new`
/// tokens drawn as `sampling` says, among the ids `allowed` marks (length V, at least one
/// `true`; `None` allows all): the others' logits are −∞, so a byte-level model is kept to the
/// bytes of its training text as nanoGPT's character vocabulary keeps it.
pub fn generate_with<B: Backend>(
    model: &Gpt<B>,
    prompt: &[usize],
    max_new: usize,
    sampling: &Sampling,
    allowed: Option<&[bool]>,
) -> Result<Vec<usize>, ModelError> {
    sampling.check()?;
    if let Some(allowed) = allowed
        && (allowed.len() != model.vocab_size() || !allowed.contains(&true))
    {
        return Err(ModelError::Shape {
            what: "allowed tokens (with at least one true)",
            expected: vec![model.vocab_size()],
            got: vec![allowed.len()],
        });
    }
    if prompt.is_empty() {
        return Err(ModelError::Shape {
            what: "prompt",
            expected: vec![1],
            got: vec![0],
        });
    }
    let device = model.tok_emb.weight.device();
    let mut tokens = prompt.to_vec();
    let mut state = sampling.seed;
    for _ in 0..max_new {
        let start = tokens.len().saturating_sub(model.block_size());
        let context: Vec<i32> = tokens[start..].iter().map(|&t| t as i32).collect();
        let t = context.len();
        let idx: Tensor<B, 2, Int> = Tensor::from_data(TensorData::new(context, [1, t]), &device);
        let logits = model.forward(idx)?; // [1, T, V]
        let v = logits.dims()[2];
        let mut last: Vec<f64> = logits
            .narrow(1, t - 1, 1)
            .reshape([v])
            .into_data()
            .iter::<f64>()
            .collect(); // [V]
        if let Some(allowed) = allowed {
            for (logit, _) in last.iter_mut().zip(allowed).filter(|(_, ok)| !**ok) {
                *logit = f64::NEG_INFINITY;
            }
        }
        let u = (splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
        tokens.push(sample(&last, sampling.temperature, sampling.top_k, u));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpt::GptConfig;
    use spectral::device::CpuBackend as B;

    /// A random 1-layer GPT over 16 tokens with a context of 4.
    fn tiny() -> Gpt<B> {
        GptConfig::new()
            .with_vocab_size(16)
            .with_n_layer(1)
            .with_n_head(2)
            .with_n_embd(8)
            .with_block_size(4)
            .init::<B>(&Default::default())
            .unwrap()
    }

    #[test]
    fn sampling_follows_the_softmax() {
        let logits = [0.0, 2.0f64.ln(), 0.0]; // probabilities 1/4, 1/2, 1/4
        assert_eq!(sample(&logits, 0.0, None, 0.99), 1);
        assert_eq!(sample(&logits, 1.0, None, 0.2), 0);
        assert_eq!(sample(&logits, 1.0, None, 0.3), 1);
        assert_eq!(sample(&logits, 1.0, None, 0.74), 1);
        assert_eq!(sample(&logits, 1.0, None, 0.76), 2);
    }

    #[test]
    fn top_k_renormalises_the_softmax_of_the_k_largest_logits() {
        // Probabilities 1/10, 2/10, 3/10, 4/10; the top 2 (ids 2, 3) keep 3/7 and 4/7.
        let logits = [1.0f64.ln(), 2.0f64.ln(), 3.0f64.ln(), 4.0f64.ln()];
        assert_eq!(sample(&logits, 1.0, Some(2), 0.0), 2);
        assert_eq!(sample(&logits, 1.0, Some(2), 0.428), 2);
        assert_eq!(sample(&logits, 1.0, Some(2), 0.429), 3);
        assert_eq!(sample(&logits, 1.0, Some(2), 0.999), 3);
        // A k at or past the vocabulary keeps everything: 0.05 falls in id 0's tenth.
        assert_eq!(sample(&logits, 1.0, Some(4), 0.05), 0);
        assert_eq!(sample(&logits, 1.0, Some(99), 0.05), 0);
        // Equal maxima: the lower id is the argmax and the one top-1 keeps.
        assert_eq!(sample(&[0.5, 2.0, 2.0], 0.0, None, 0.9), 1);
        assert_eq!(sample(&[0.5, 2.0, 2.0], 1.0, Some(1), 0.9), 1);
    }

    #[test]
    fn top_k_draws_stay_among_the_k_largest_and_top_1_is_greedy() {
        let mut state = 11u64;
        let mut uniform = || (splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
        for _ in 0..200 {
            let logits: Vec<f64> = (0..12).map(|_| 8.0 * uniform() - 4.0).collect();
            let ids = ranked(&logits);
            let greedy = sample(&logits, 0.0, None, 0.5);
            assert_eq!(greedy, ids[0]);
            for k in 1..=12 {
                for temperature in [0.3, 1.0, 5.0] {
                    let drawn = sample(&logits, temperature, Some(k), uniform());
                    assert!(ids[..k].contains(&drawn), "k = {k}: drew {drawn}");
                    if k == 1 {
                        assert_eq!(drawn, greedy);
                    }
                }
            }
        }
    }

    #[test]
    fn generation_with_top_k_is_seeded_and_top_1_is_greedy() {
        let model = tiny();
        let with = |temperature, top_k, seed| {
            let sampling = Sampling {
                temperature,
                top_k,
                seed,
            };
            generate_with(&model, &[3, 1], 24, &sampling, None).unwrap()
        };
        assert_eq!(with(1.0, Some(1), 5), with(0.0, None, 0));
        assert_eq!(with(1.0, Some(3), 5), with(1.0, Some(3), 5));
        assert_ne!(with(1.0, None, 5), with(1.0, None, 6));
        assert_ne!(with(1.0, Some(3), 5), with(1.0, Some(3), 6));
        // Each new token is among the 3 largest logits given the tokens before it.
        let out = with(1.0, Some(3), 5);
        for t in 2..out.len() {
            let start = t.saturating_sub(4);
            let context: Vec<i32> = out[start..t].iter().map(|&x| x as i32).collect();
            let n = context.len();
            let idx = Tensor::<B, 2, Int>::from_data(
                TensorData::new(context, [1, n]),
                &Default::default(),
            );
            let logits: Vec<f64> = model
                .forward(idx)
                .unwrap()
                .narrow(1, n - 1, 1)
                .into_data()
                .iter::<f64>()
                .collect();
            assert!(ranked(&logits)[..3].contains(&out[t]), "token {t}");
        }
        let bad = |temperature, top_k| {
            let sampling = Sampling {
                temperature,
                top_k,
                seed: 0,
            };
            generate_with(&model, &[3], 1, &sampling, None).is_err()
        };
        assert!(bad(-1.0, None) && bad(f64::NAN, None) && bad(1.0, Some(0)));
        // Only the allowed ids are drawn, greedy or not; a mask of the wrong length or with
        // nothing allowed is refused.
        let mut allowed = vec![false; 16];
        allowed[2] = true;
        allowed[5] = true;
        for (temperature, top_k) in [(1.0, None), (5.0, Some(8)), (0.0, None)] {
            let sampling = Sampling {
                temperature,
                top_k,
                seed: 9,
            };
            let out = generate_with(&model, &[3], 30, &sampling, Some(&allowed)).unwrap();
            assert!(out[1..].iter().all(|t| [2, 5].contains(t)), "{out:?}");
        }
        let sampling = Sampling {
            temperature: 1.0,
            top_k: None,
            seed: 0,
        };
        assert!(generate_with(&model, &[3], 1, &sampling, Some(&allowed[..15])).is_err());
        assert!(generate_with(&model, &[3], 1, &sampling, Some(&[false; 16])).is_err());
    }

    #[test]
    fn greedy_generation_is_the_argmax_of_the_models_logits() {
        let model = tiny();
        let out = generate(&model, &[3, 1], 6, 0.0, 0).unwrap();
        assert_eq!(out.len(), 8);
        assert_eq!(&out[..2], &[3, 1]);
        // Token 3 is the argmax of the logits of the last position given the first 3 tokens.
        let idx = Tensor::<B, 2, Int>::from_data(
            TensorData::new(vec![3i32, 1, out[2] as i32], [1, 3]),
            &Default::default(),
        );
        let logits: Vec<f32> = model
            .forward(idx)
            .unwrap()
            .narrow(1, 2, 1)
            .into_data()
            .to_vec()
            .unwrap();
        let best = (0..16)
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
            .unwrap();
        assert_eq!(out[3], best);
        // Sampling is a function of the seed; the context window slides past block_size.
        let a = generate(&model, &[3], 10, 1.0, 7).unwrap();
        assert_eq!(a, generate(&model, &[3], 10, 1.0, 7).unwrap());
        assert!(a.iter().all(|&t| t < 16));
        assert!(generate(&model, &[], 1, 1.0, 7).is_err());
    }
}
