//! The engine's GPT parameter table is `spectral_models::gpt::Gpt`'s, name for name and shape
//! for shape, so checkpoints are interchangeable.

use spectral::device::CpuBackend as B;
use spectral_cuda::models::gpt::GptShape;
use spectral_models::gpt::GptConfig;
use spectral_models::names::param_shapes;

#[test]
fn the_engine_gpt_has_the_burn_models_parameters() {
    let shape = GptShape {
        vocab: 256,
        layers: 2,
        heads: 4,
        width: 64,
        block_size: 32,
        batch: 2,
        seq: 32,
    };
    let model = GptConfig::new()
        .with_vocab_size(shape.vocab)
        .with_n_layer(shape.layers)
        .with_n_head(shape.heads)
        .with_n_embd(shape.width)
        .with_block_size(shape.block_size)
        .init::<B>(&Default::default())
        .unwrap();
    let mut want = param_shapes::<B, _>(&model);
    let mut got: Vec<(String, Vec<usize>)> = shape
        .params()
        .params()
        .iter()
        .map(|p| (p.name.clone(), p.shape.clone()))
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}
