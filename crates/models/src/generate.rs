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

/// Index drawn from `softmax(logits / temperature)` with uniform `u` in `[0, 1)`; the argmax
/// when `temperature` is 0.
fn sample(logits: &[f64], temperature: f64, u: f64) -> usize {
    let argmax = logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i);
    if temperature == 0.0 {
        return argmax;
    }
    let top = logits[argmax];
    let weights: Vec<f64> = logits
        .iter()
        .map(|&l| ((l - top) / temperature).exp())
        .collect();
    let mut target = u * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    argmax
}

/// `prompt` (token ids, at least one) followed by `max_new` sampled tokens. `temperature` 0
/// is greedy decoding; `seed` fixes the samples.
pub fn generate<B: Backend>(
    model: &Gpt<B>,
    prompt: &[usize],
    max_new: usize,
    temperature: f64,
    seed: u64,
) -> Result<Vec<usize>, ModelError> {
    if prompt.is_empty() {
        return Err(ModelError::Shape {
            what: "prompt",
            expected: vec![1],
            got: vec![0],
        });
    }
    let device = model.tok_emb.weight.device();
    let mut tokens = prompt.to_vec();
    let mut state = seed;
    for _ in 0..max_new {
        let start = tokens.len().saturating_sub(model.block_size());
        let context: Vec<i32> = tokens[start..].iter().map(|&t| t as i32).collect();
        let t = context.len();
        let idx: Tensor<B, 2, Int> = Tensor::from_data(TensorData::new(context, [1, t]), &device);
        let logits = model.forward(idx)?; // [1, T, V]
        let v = logits.dims()[2];
        let last: Vec<f64> = logits
            .narrow(1, t - 1, 1)
            .reshape([v])
            .into_data()
            .iter::<f64>()
            .collect(); // [V]
        let u = (splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
        tokens.push(sample(&last, temperature, u));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpt::GptConfig;
    use spectral::device::CpuBackend as B;

    #[test]
    fn sampling_follows_the_softmax() {
        let logits = [0.0, 2.0f64.ln(), 0.0]; // probabilities 1/4, 1/2, 1/4
        assert_eq!(sample(&logits, 0.0, 0.99), 1);
        assert_eq!(sample(&logits, 1.0, 0.2), 0);
        assert_eq!(sample(&logits, 1.0, 0.3), 1);
        assert_eq!(sample(&logits, 1.0, 0.74), 1);
        assert_eq!(sample(&logits, 1.0, 0.76), 2);
    }

    #[test]
    fn greedy_generation_is_the_argmax_of_the_models_logits() {
        let model = GptConfig::new()
            .with_vocab_size(16)
            .with_n_layer(1)
            .with_n_head(2)
            .with_n_embd(8)
            .with_block_size(4)
            .init::<B>(&Default::default())
            .unwrap();
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
