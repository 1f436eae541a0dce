//! The stable parameter-name scheme: dotted paths as burn's `ModuleVisitor` builds them from
//! `enter_module` calls — struct field names, `Vec` indices as numbers, `Option` adding
//! nothing. The optimizers' group rules (Muon on hidden matrices, TEON on `q`/`k`/`v`,
//! AdamW on the rest) match these paths, so they are pinned by the test below.
//!
//! ```text
//! SpacingMdn                                  Gpt
//!   memory.slots              [M, C]            tok_emb.weight          [V, C]
//!   memory.slot_id.weight     [M, C]            pos_emb.weight          [block_size, C]
//!   memory.film.weight|bias   [C, 2C]           blocks.{i}.…            (as on the left)
//!   memory.gate.weight|bias   [2C, C]           ln_f.gamma|beta         [C]
//!   memory.summary_proj.*     [C, C]            lm_head.weight          [C, V] (untied)
//!   input_proj.weight|bias    [1, C]
//!   pos_emb.weight            [block_size + M, C]   (no RoPE)
//!   blocks.{i}.ln1.gamma|beta           [C]
//!   blocks.{i}.attn.{q,k,v,o}.weight    [C, C]  (burn layout [d_in, d_out]) .bias [C]
//!   blocks.{i}.ln2.gamma|beta           [C]
//!   blocks.{i}.mlp.fc.weight|bias       [C, 4C], [4C]
//!   blocks.{i}.mlp.proj.weight|bias     [4C, C], [C]
//!   ln_f.gamma|beta                     [C]
//!   mdn_head.linear.weight|bias         [C, 3K], [3K]
//! ```
//!
//! The MDN head's Linear is a field named `linear`, hence `mdn_head.linear.*` (not
//! `mdn_head.*`). Paths appear in field order, which follows the data flow.

use burn::module::Module;
use burn::tensor::backend::Backend;

/// Every float parameter of `module` as `(dotted path, shape)`, in visiting order (the paths
/// of `spectral::optim::groups::named_params`, which the group rules match).
pub fn param_shapes<B: Backend, M: Module<B>>(module: &M) -> Vec<(String, Vec<usize>)> {
    spectral::optim::groups::named_params(module)
        .into_iter()
        .map(|p| (p.path, p.shape))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpt::GptConfig;
    use crate::memory::MemoryConfig;
    use crate::spacing_mdn::SpacingMdnConfig;
    use spectral::device::CpuBackend as B;

    fn block_params(i: usize, c: usize) -> Vec<(String, Vec<usize>)> {
        let p = |name: &str, shape: &[usize]| (format!("blocks.{i}.{name}"), shape.to_vec());
        vec![
            p("ln1.gamma", &[c]),
            p("ln1.beta", &[c]),
            p("attn.q.weight", &[c, c]),
            p("attn.q.bias", &[c]),
            p("attn.k.weight", &[c, c]),
            p("attn.k.bias", &[c]),
            p("attn.v.weight", &[c, c]),
            p("attn.v.bias", &[c]),
            p("attn.o.weight", &[c, c]),
            p("attn.o.bias", &[c]),
            p("ln2.gamma", &[c]),
            p("ln2.beta", &[c]),
            p("mlp.fc.weight", &[c, 4 * c]),
            p("mlp.fc.bias", &[4 * c]),
            p("mlp.proj.weight", &[4 * c, c]),
            p("mlp.proj.bias", &[c]),
        ]
    }

    fn named(list: &[(&str, &[usize])]) -> Vec<(String, Vec<usize>)> {
        list.iter()
            .map(|(n, s)| (n.to_string(), s.to_vec()))
            .collect()
    }

    #[test]
    fn spacing_mdn_parameter_paths() {
        // C = 4, M = 2, K = 3, block_size 5, two blocks, every memory option, learned positions.
        let memory = MemoryConfig::new()
            .with_n_slots(2)
            .with_film(true)
            .with_gate(true)
            .with_summary_to_head(true);
        let config = SpacingMdnConfig::new()
            .with_n_layer(2)
            .with_n_head(2)
            .with_n_embd(4)
            .with_block_size(5)
            .with_n_components(3)
            .with_rope(false)
            .with_memory(Some(memory));
        let model = config.init::<B>(&Default::default()).unwrap();
        let mut want = named(&[
            ("memory.slots", &[2, 4]),
            ("memory.slot_id.weight", &[2, 4]),
            ("memory.film.weight", &[4, 8]),
            ("memory.film.bias", &[8]),
            ("memory.gate.weight", &[8, 4]),
            ("memory.gate.bias", &[4]),
            ("memory.summary_proj.weight", &[4, 4]),
            ("memory.summary_proj.bias", &[4]),
            ("input_proj.weight", &[1, 4]),
            ("input_proj.bias", &[4]),
            ("pos_emb.weight", &[7, 4]),
        ]);
        want.extend(block_params(0, 4));
        want.extend(block_params(1, 4));
        want.extend(named(&[
            ("ln_f.gamma", &[4]),
            ("ln_f.beta", &[4]),
            ("mdn_head.linear.weight", &[4, 9]),
            ("mdn_head.linear.bias", &[9]),
        ]));
        let got = param_shapes::<B, _>(&model);
        for (path, shape) in &got {
            println!("{path} {shape:?}");
        }
        assert_eq!(got, want);
    }

    #[test]
    fn gpt_parameter_paths() {
        let config = GptConfig::new()
            .with_vocab_size(5)
            .with_n_layer(1)
            .with_n_head(2)
            .with_n_embd(4)
            .with_block_size(6)
            .with_tie_weights(false);
        let model = config.init::<B>(&Default::default()).unwrap();
        let mut want = named(&[("tok_emb.weight", &[5, 4]), ("pos_emb.weight", &[6, 4])]);
        want.extend(block_params(0, 4));
        want.extend(named(&[
            ("ln_f.gamma", &[4]),
            ("ln_f.beta", &[4]),
            ("lm_head.weight", &[4, 5]),
        ]));
        assert_eq!(param_shapes::<B, _>(&model), want);
        // Tied and RoPE: no head and no position table, nothing else changes.
        let tied = config.with_tie_weights(true).with_rope(true);
        let paths: Vec<String> =
            param_shapes::<B, _>(&tied.init::<B>(&Default::default()).unwrap())
                .into_iter()
                .map(|(p, _)| p)
                .collect();
        assert_eq!(paths.first().map(String::as_str), Some("tok_emb.weight"));
        assert!(
            !paths
                .iter()
                .any(|p| p.starts_with("lm_head") || p.starts_with("pos_emb"))
        );
        assert_eq!(paths.len(), 1 + 16 + 2);
    }
}
