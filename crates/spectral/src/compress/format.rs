//! How a compressed model is stored: the checkpoint's state dict with each compressed weight
//! `model/<path>` replaced by its two factors `lowrank/<path>/a` `[d_in, k]` and
//! `lowrank/<path>/b` `[k, d_out]` (f32, burn's layout). Every other array is unchanged, so a
//! file shrinks by `d_in d_out − k (d_in + d_out)` floats per layer and stays readable from
//! Python (`W = a @ b`).
//!
//! Loading rebuilds the dense weight `A B` ([`densify`]): the model types keep their plain
//! `Linear`s, so a compressed file loads into the same model as the original (smaller on disk,
//! the same compute in memory; [`SvdLinear`](super::SvdLinear) is the factored module for code
//! that wants the factored forward). The product is formed on the host, each entry summed in
//! f64 over `k` terms and rounded once to f32, so the in-memory compressed model and a reloaded
//! one are bit-identical.

use super::{CompressError, LowRank};
use crate::optim::state::StateDict;

/// Prefix of the factor arrays.
pub const LOWRANK: &str = "lowrank/";

/// Replaces `dense_name` (e.g. `model/blocks.0.mlp.fc.weight`) in `dict` by the f32-rounded
/// factors under `lowrank/<dense_name>/{a,b}`.
pub fn insert_factors(dict: &mut StateDict, dense_name: &str, factors: &LowRank) {
    dict.tensors.remove(dense_name);
    let flat = |m: &faer::Mat<f64>| -> (Vec<usize>, Vec<f32>) {
        let (r, c) = (m.nrows(), m.ncols());
        (
            vec![r, c],
            (0..r * c).map(|p| m[(p / c, p % c)] as f32).collect(),
        )
    };
    dict.tensors
        .insert(format!("{LOWRANK}{dense_name}/a"), flat(&factors.a));
    dict.tensors
        .insert(format!("{LOWRANK}{dense_name}/b"), flat(&factors.b));
}

/// `A B` of f32 row-major `a` `[m, k]` and `b` `[k, n]`, each entry summed in f64 and rounded
/// once.
fn product(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0f64; m * n];
    for i in 0..m {
        for p in 0..k {
            let x = a[i * k + p] as f64;
            let row = &b[p * n..(p + 1) * n];
            for (o, &y) in out[i * n..(i + 1) * n].iter_mut().zip(row) {
                *o += x * y as f64;
            }
        }
    }
    out.into_iter().map(|x| x as f32).collect()
}

/// `dict` with every factor pair replaced by its dense product under the original name; the
/// factor names as a list `(dense_name, rank)`. Fails on an unpaired factor or mismatched
/// inner dimensions.
pub fn densify(dict: &StateDict) -> Result<(StateDict, Vec<(String, usize)>), CompressError> {
    let mut out = StateDict {
        metadata: dict.metadata.clone(),
        ..Default::default()
    };
    let mut factored = Vec::new();
    for (name, tensor) in &dict.tensors {
        let Some(rest) = name.strip_prefix(LOWRANK) else {
            out.tensors.insert(name.clone(), tensor.clone());
            continue;
        };
        if let Some(dense) = rest.strip_suffix("/a") {
            let b_name = format!("{LOWRANK}{dense}/b");
            let (b_shape, b) = dict
                .tensors
                .get(&b_name)
                .ok_or_else(|| CompressError::Shape(format!("`{name}` without `{b_name}`")))?;
            let (a_shape, a) = tensor;
            if a_shape.len() != 2 || b_shape.len() != 2 || a_shape[1] != b_shape[0] {
                return Err(CompressError::Shape(format!(
                    "factors of `{dense}`: a {a_shape:?}, b {b_shape:?}"
                )));
            }
            let (m, k, n) = (a_shape[0], a_shape[1], b_shape[1]);
            out.tensors
                .insert(dense.to_string(), (vec![m, n], product(a, b, m, k, n)));
            factored.push((dense.to_string(), k));
        } else if let Some(dense) = rest.strip_suffix("/b") {
            if !dict.tensors.contains_key(&format!("{LOWRANK}{dense}/a")) {
                return Err(CompressError::Shape(format!("`{name}` without its `a`")));
            }
        } else {
            return Err(CompressError::Shape(format!(
                "unexpected factor array `{name}`"
            )));
        }
    }
    Ok((out, factored))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn factors_round_trip_to_their_product() {
        let a = Mat::from_fn(3, 2, |i, j| (i + 2 * j) as f64 * 0.5 - 1.0);
        let b = Mat::from_fn(2, 4, |i, j| (3 * i + j) as f64 * 0.25);
        let mut dict = StateDict::default();
        dict.tensors
            .insert("model/w".into(), (vec![3, 4], vec![0.0; 12]));
        dict.tensors
            .insert("model/bias".into(), (vec![4], vec![1.0; 4]));
        insert_factors(
            &mut dict,
            "model/w",
            &LowRank {
                a: a.clone(),
                b: b.clone(),
            },
        );
        assert!(!dict.tensors.contains_key("model/w"));
        assert_eq!(dict.tensors["lowrank/model/w/a"].0, vec![3, 2]);
        let bytes = dict.to_safetensors().unwrap();
        let (dense, factored) = densify(&StateDict::from_safetensors(&bytes).unwrap()).unwrap();
        assert_eq!(factored, vec![("model/w".to_string(), 2)]);
        let ab = &a * &b; // exact in binary: quarter-integers
        let (shape, values) = &dense.tensors["model/w"];
        assert_eq!(shape, &vec![3, 4]);
        for i in 0..3 {
            for j in 0..4 {
                assert_eq!(values[i * 4 + j] as f64, ab[(i, j)]);
            }
        }
        assert_eq!(dense.tensors["model/bias"].1, vec![1.0; 4]);
        let mut broken = dict.clone();
        broken.tensors.remove("lowrank/model/w/b");
        assert!(densify(&broken).is_err());
    }
}
