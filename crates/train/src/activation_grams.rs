//! Calibration for activation-aware compression: the Gram matrix `XᵀX` of the inputs of every
//! hidden matrix of the transformer blocks, over calibration windows.
//!
//! burn has no forward hooks, so the blocks' forward pass is replayed here layer by layer from
//! the models' public fields (`ln1`, `attn.{q,k,v,o}`, `ln2`, `mlp.{fc,proj}`); the tests pin
//! it to the models' own forward so the two cannot drift apart. Inputs per matrix (burn layout
//! `[d_in, d_out]`, `X: [B·T, d_in]`):
//!
//! | matrix | its input |
//! |---|---|
//! | `attn.q`, `attn.k`, `attn.v` | `ln1(h)` (one Gram, shared) |
//! | `attn.o` | the heads' outputs `softmax(q kᵀ/√d + mask) v`, merged `[B, T, C]` |
//! | `mlp.fc` | `ln2(h)` |
//! | `mlp.proj` | `gelu(fc(ln2(h)))` |

use burn::tensor::activation::gelu;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use faer::Mat;
use spectral::linalg::exact::to_faer;
use spectral_models::attention::causal_mask;
use spectral_models::block::Block;
use spectral_models::{Gpt, MemoryEdit, ModelError, SpacingMdn};
use std::collections::BTreeMap;

/// Gram matrices `XᵀX` `[d_in, d_in]` (f64, summed over tokens) by weight path, e.g.
/// `blocks.0.mlp.fc.weight`.
pub type Grams = BTreeMap<String, Mat<f64>>;

/// Adds `xᵀx` of `x` `[B, T, d]` to `grams[name]`, formed in f64 on the host (faer): an f32
/// Gram of activations that span a narrow subspace loses positive definiteness to rounding.
fn accumulate<B: Backend>(grams: &mut Grams, names: &[String], x: Tensor<B, 3>) {
    let [b, t, d] = x.dims();
    let x = to_faer(x.reshape([b * t, d])); // [N, d]
    let g = x.transpose() * &x; // [d, d]
    for name in names {
        let entry = grams
            .entry(name.clone())
            .or_insert_with(|| Mat::zeros(d, d));
        *entry += &g;
    }
}

/// Runs `h` `[B, S, C]` through `blocks` as `block::forward_stack` does, adding each hidden
/// matrix's input Gram to `grams`; returns the blocks' output `[B, S, C]`.
pub fn block_grams<B: Backend>(
    blocks: &[Block<B>],
    mut h: Tensor<B, 3>,
    mask: &Tensor<B, 2>,
    grams: &mut Grams,
) -> Tensor<B, 3> {
    for (i, block) in blocks.iter().enumerate() {
        let name = |m: &str| format!("blocks.{i}.{m}.weight");
        let x1 = block.ln1.forward(h.clone()); // [B, S, C]
        accumulate(
            grams,
            &[name("attn.q"), name("attn.k"), name("attn.v")],
            x1.clone(),
        );
        let (a, att) = block.attn.forward_with_attention(x1.clone(), mask); // att [B, H, S, S]
        let [b, s, c] = x1.dims();
        let heads = block.attn.n_head();
        let v = block
            .attn
            .v
            .forward(x1)
            .reshape([b, s, heads, c / heads])
            .swap_dims(1, 2); // [B, H, S, D]
        let merged = att.matmul(v).swap_dims(1, 2).reshape([b, s, c]); // [B, S, C]
        accumulate(grams, &[name("attn.o")], merged);
        h = h + a; // [B, S, C]
        let x2 = block.ln2.forward(h.clone()); // [B, S, C]
        accumulate(grams, &[name("mlp.fc")], x2.clone());
        let hidden = gelu(block.mlp.fc.forward(x2.clone())); // [B, S, 4C]
        accumulate(grams, &[name("mlp.proj")], hidden);
        h = h + block.mlp.forward(x2); // [B, S, C]
    }
    h
}

/// The GPT's block input for token ids `idx` `[B, T]`: token plus learned position
/// embeddings `[B, T, C]` (as `Gpt::forward`).
pub fn gpt_block_input<B: Backend>(model: &Gpt<B>, idx: Tensor<B, 2, Int>) -> Tensor<B, 3> {
    let [_, t] = idx.dims();
    let mut h = model.tok_emb.forward(idx); // [B, T, C]
    let [_, _, c] = h.dims();
    if let Some(pos) = &model.pos_emb {
        h = h + pos.weight.val().narrow(0, 0, t).reshape([1, t, c]); // [B, T, C]
    }
    h
}

/// Adds the Grams of a GPT on one batch of ids `[B, T]`.
pub fn gpt_grams<B: Backend>(model: &Gpt<B>, idx: Tensor<B, 2, Int>, grams: &mut Grams) {
    let h = gpt_block_input(model, idx);
    let mask = causal_mask(h.dims()[1], &h.device());
    block_grams(&model.blocks, h, &mask, grams);
}

/// The SpacingMDN's block input for spacings `x` `[B, T]`: memory prefix, then the projected
/// spacings, plus learned positions: `[B, M+T, C]` (as `SpacingMdn::forward`).
pub fn spacing_block_input<B: Backend>(
    model: &SpacingMdn<B>,
    x: Tensor<B, 2>,
) -> Result<Tensor<B, 3>, ModelError> {
    let [b, t] = x.dims();
    let mut h = model.input_proj.forward(x.reshape([b, t, 1])); // [B, T, C]
    if let Some(memory) = &model.memory {
        h = Tensor::cat(vec![memory.prefix(b, &MemoryEdit::none())?, h], 1); // [B, M+T, C]
    }
    let s = h.dims()[1];
    if let Some(pos) = &model.pos_emb {
        let [_, c] = pos.weight.dims();
        h = h + pos.weight.val().narrow(0, 0, s).reshape([1, s, c]); // [B, M+T, C]
    }
    Ok(h)
}

/// Adds the Grams of a SpacingMDN on one batch of spacings `[B, T]`.
pub fn spacing_grams<B: Backend>(
    model: &SpacingMdn<B>,
    x: Tensor<B, 2>,
    grams: &mut Grams,
) -> Result<(), ModelError> {
    let h = spacing_block_input(model, x)?;
    let mask = causal_mask(h.dims()[1], &h.device());
    block_grams(&model.blocks, h, &mask, grams);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData, Tolerance};
    use spectral::CpuBackend as B;
    use spectral_models::block::forward_stack;
    use spectral_models::{GptConfig, MemoryConfig, SpacingMdnConfig};

    fn tiny_gpt() -> Gpt<B> {
        let config = GptConfig::new()
            .with_vocab_size(16)
            .with_n_layer(2)
            .with_n_head(2)
            .with_n_embd(8)
            .with_block_size(8);
        let device = Default::default();
        spectral::device::seeded::<B, _>(&device, 0, || {
            spectral::device::materialized(config.init(&device).unwrap())
        })
    }

    #[test]
    fn replayed_blocks_match_the_models_forward() {
        let device = Default::default();
        let model = tiny_gpt();
        let ids: Tensor<B, 2, Int> = Tensor::from_data(
            TensorData::new(vec![1i32, 5, 3, 9, 2, 7, 4, 0, 15, 11], [2, 5]),
            &device,
        );
        let mut grams = Grams::new();
        let h0 = gpt_block_input(&model, ids.clone());
        let mask = causal_mask(5, &device);
        let replayed = block_grams(&model.blocks, h0.clone(), &mask, &mut grams);
        let (reference, _) = forward_stack(&model.blocks, h0, &mask, false);
        replayed
            .to_data()
            .assert_approx_eq::<f32>(&reference.to_data(), Tolerance::absolute(1e-6));
        // The embedding stage too: tied head on ln_f of the replay = the model's logits.
        let h = model.ln_f.forward(replayed).reshape([10, 8]);
        let logits = h
            .matmul(model.tok_emb.weight.val().transpose())
            .reshape([2, 5, 16]);
        logits.to_data().assert_approx_eq::<f32>(
            &model.forward(ids).unwrap().to_data(),
            Tolerance::absolute(1e-5),
        );
        // 2 blocks x 6 matrices; q, k, v share one Gram; shapes are d_in x d_in.
        assert_eq!(grams.len(), 12);
        assert_eq!(
            grams["blocks.1.attn.q.weight"],
            grams["blocks.1.attn.v.weight"]
        );
        assert_eq!(grams["blocks.0.mlp.proj.weight"].nrows(), 32);
        assert_eq!(grams["blocks.0.attn.o.weight"].nrows(), 8);
    }

    #[test]
    fn attention_output_gram_is_that_of_the_inputs_of_o() {
        // o(merged) must equal the attention branch output: checks the head merge.
        let device = Default::default();
        let model = tiny_gpt();
        let block = &model.blocks[0];
        let x: Tensor<B, 3> = spectral::device::seeded::<B, _>(&device, 1, || {
            Tensor::random([2, 6, 8], Distribution::Normal(0.0, 1.0), &device)
        });
        let mask = causal_mask(6, &device);
        let (a, att) = block.attn.forward_with_attention(x.clone(), &mask);
        let v = block
            .attn
            .v
            .forward(x)
            .reshape([2, 6, 2, 4])
            .swap_dims(1, 2);
        let merged = att.matmul(v).swap_dims(1, 2).reshape([2, 6, 8]);
        block
            .attn
            .o
            .forward(merged)
            .to_data()
            .assert_approx_eq::<f32>(&a.to_data(), Tolerance::absolute(1e-6));
    }

    #[test]
    fn spacing_mdn_block_input_matches_its_forward() {
        let device = Default::default();
        let config = SpacingMdnConfig::new()
            .with_n_layer(1)
            .with_n_head(2)
            .with_n_embd(8)
            .with_block_size(8)
            .with_memory(Some(MemoryConfig::new().with_n_slots(2)));
        let model: SpacingMdn<B> = spectral::device::seeded::<B, _>(&device, 3, || {
            spectral::device::materialized(config.init(&device).unwrap())
        });
        let x: Tensor<B, 2> = spectral::device::seeded::<B, _>(&device, 2, || {
            Tensor::random([2, 5], Distribution::Uniform(0.2, 2.0), &device)
        });
        let h0 = spacing_block_input(&model, x.clone()).unwrap();
        assert_eq!(h0.dims(), [2, 7, 8]);
        let mut grams = Grams::new();
        let mask = causal_mask(7, &device);
        let out = block_grams(&model.blocks, h0, &mask, &mut grams);
        // The model's attention maps come from the same block input: compare the last block's.
        let (_, maps) = model
            .forward_with_attention(x, &MemoryEdit::none())
            .unwrap();
        assert_eq!(maps.len(), 1);
        assert_eq!(out.dims(), [2, 7, 8]);
        assert_eq!(grams.len(), 6);
        let h_again = spacing_block_input(&model, Tensor::zeros([2, 5], &device)).unwrap();
        let (_, att) = model.blocks[0]
            .attn
            .forward_with_attention(model.blocks[0].ln1.forward(h_again), &mask);
        let (_, maps0) = model
            .forward_with_attention(Tensor::zeros([2, 5], &device), &MemoryEdit::none())
            .unwrap();
        att.to_data()
            .assert_approx_eq::<f32>(&maps0[0].to_data(), Tolerance::absolute(1e-6));
    }
}
