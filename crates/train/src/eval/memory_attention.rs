//! How data positions spread their attention over the memory slots (`mem_entropy`).
//!
//! For one attention map `a` `[B, H, M+T, M+T]` (slots at key positions `0..M`, data queries
//! at `M..M+T`, rows summing to 1) and one head h:
//!
//! ```text
//! mass_m = Σ_b Σ_{q ≥ M} a[b, h, q, m]            attention data positions put on slot m
//! p_m    = mass_m / Σ_m' mass_m'                  share of the memory attention on slot m
//! H_h    = −Σ_m p_m ln p_m                        in nats, 0 (one slot) ..= ln M (uniform)
//! share  = Σ_m mass_m / (B·T)                     fraction of all data attention on memory
//! ```
//!
//! `mem_entropy` is `H_h` averaged over heads and layers (design notes: max ln 8 ≈ 2.08 for
//! M = 8; a uniform spread does not mean the slots are useless, their contents can differ);
//! `memory_share` is `share` averaged the same way.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// `mem_entropy` and the memory's share of attention.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MemoryAttention {
    /// Entropy of the attention mass over the slots, mean over layers and heads (nats).
    pub mem_entropy: f64,
    /// Its maximum, ln M.
    pub mem_entropy_max: f64,
    /// Fraction of the data positions' attention that lands on slots, mean over layers and heads.
    pub memory_share: f64,
}

/// Per-head `(H_h, share_h)` of one map given as host values `att` in row-major
/// `[b, h, s, s]` order, with `m` slots.
pub fn head_entropies(att: &[f32], [b, h, s, s2]: [usize; 4], m: usize) -> Vec<(f64, f64)> {
    assert_eq!(s, s2, "attention maps are square");
    assert_eq!(att.len(), b * h * s * s, "attention values vs shape");
    assert!(m <= s, "{m} slots in a sequence of {s}");
    let queries = (b * (s - m)) as f64;
    (0..h)
        .map(|head| {
            let mut mass = vec![0.0f64; m];
            for batch in 0..b {
                for q in m..s {
                    let row = ((batch * h + head) * s + q) * s;
                    for (slot, acc) in mass.iter_mut().enumerate() {
                        *acc += att[row + slot] as f64;
                    }
                }
            }
            let total: f64 = mass.iter().sum();
            let entropy = if total > 0.0 {
                -mass
                    .iter()
                    .map(|&x| x / total)
                    .filter(|&p| p > 0.0)
                    .map(|p| p * p.ln())
                    .sum::<f64>()
            } else {
                0.0
            };
            (entropy, total / queries.max(1.0))
        })
        .collect()
}

/// [`MemoryAttention`] of a model's attention maps (one `[B, H, M+T, M+T]` per layer) with
/// `m ≥ 1` slots.
pub fn memory_attention<B: Backend>(maps: &[Tensor<B, 4>], m: usize) -> MemoryAttention {
    let mut heads = Vec::new();
    for map in maps {
        let dims = map.dims();
        let values: Vec<f32> = map
            .clone()
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32");
        heads.extend(head_entropies(&values, dims, m));
    }
    let n = heads.len().max(1) as f64;
    MemoryAttention {
        mem_entropy: heads.iter().map(|h| h.0).sum::<f64>() / n,
        mem_entropy_max: (m as f64).ln(),
        memory_share: heads.iter().map(|h| h.1).sum::<f64>() / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;
    use spectral::CpuBackend;

    /// One batch, two heads, M = 2 slots, T = 2 data positions (s = 4). Head 0: both data
    /// rows put 0.25 on each slot (uniform over slots: ln 2, share ½). Head 1: all memory
    /// attention on slot 1 (entropy 0, share 0.3 then 0.1 → 0.2). Slot rows (q < M) and
    /// causality do not matter to the measure; they are filled with junk to prove it.
    fn hand_built() -> Vec<f32> {
        let junk = [0.7, 0.3, 0.0, 0.0];
        let mut v = Vec::new();
        for row in [junk, junk, [0.25, 0.25, 0.5, 0.0], [0.25, 0.25, 0.2, 0.3]] {
            v.extend(row);
        }
        for row in [junk, junk, [0.0, 0.3, 0.7, 0.0], [0.0, 0.1, 0.4, 0.5]] {
            v.extend(row);
        }
        v
    }

    #[test]
    fn entropy_of_a_hand_built_map() {
        let heads = head_entropies(&hand_built(), [1, 2, 4, 4], 2);
        assert!((heads[0].0 - 2f64.ln()).abs() < 1e-12);
        assert!((heads[0].1 - 0.5).abs() < 1e-7);
        assert_eq!(heads[1].0, 0.0);
        assert!((heads[1].1 - 0.2).abs() < 1e-7);
        // Through tensors, with two identical layers: means over heads.
        let map = Tensor::<CpuBackend, 4>::from_data(
            TensorData::new(hand_built(), [1, 2, 4, 4]),
            &Default::default(),
        );
        let m = memory_attention(&[map.clone(), map], 2);
        assert!((m.mem_entropy - 2f64.ln() / 2.0).abs() < 1e-12);
        assert!((m.mem_entropy_max - 2f64.ln()).abs() < 1e-15);
        assert!((m.memory_share - 0.35).abs() < 1e-7);
    }

    #[test]
    fn uneven_but_spread_mass_lies_between_the_bounds() {
        // Slot masses 0.1, 0.2, 0.3 over M = 3: H = −Σ p ln p with p = 1/6, 2/6, 3/6.
        let row = [0.1f32, 0.2, 0.3, 0.4];
        let mut v = vec![0.0f32; 16];
        v[12..16].copy_from_slice(&row);
        let heads = head_entropies(&v, [1, 1, 4, 4], 3);
        let want: f64 = -[1.0f64 / 6.0, 2.0 / 6.0, 3.0 / 6.0]
            .iter()
            .map(|p| p * p.ln())
            .sum::<f64>();
        assert!((heads[0].0 - want).abs() < 1e-7, "{} vs {want}", heads[0].0);
        assert!(heads[0].0 < 3f64.ln());
    }
}
