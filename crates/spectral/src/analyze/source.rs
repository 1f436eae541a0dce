//! The matrices of a safetensors file, in burn's `[d_in, d_out]` layout: our checkpoints
//! (arrays `model/<path>`, burn layout, compressed weights as factor pairs) and PyTorch
//! `state_dict`s saved with `safetensors.torch.save_file` (no prefix, `nn.Linear` weights
//! `[out, in]`, transposed here).
//!
//! Which layout: a file whose arrays start with `model/` (or that holds our `config` metadata)
//! is ours; any other is PyTorch's. In a PyTorch file, a 2-D array named `*.weight` is a
//! Linear weight and is transposed, except embeddings (`[num, dim]` in both libraries), told
//! by the module name (`emb`, `wte`, `wpe` in the path). Singular values do not depend on the
//! transpose; `d_in`, `d_out` and the modular norm's scale do. Only f32 arrays are read.

use super::AnalyzeError;
use crate::compress::format::{LOWRANK, densify};
use crate::optim::state::StateDict;
use faer::Mat;
use serde::Serialize;
use std::path::Path;

/// Where a file came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Our checkpoint: burn's `[d_in, d_out]`.
    Burn,
    /// A PyTorch `state_dict`: Linear weights `[out, in]`.
    Torch,
}

/// What a 2-D array is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `y = x W`, `W: [d_in, d_out]`.
    Linear,
    /// A lookup table `[num, dim]` (rows are read, not multiplied).
    Embedding,
}

/// One matrix of a file.
#[derive(Clone, Debug)]
pub struct NamedMatrix {
    /// The name without our `model/` prefix.
    pub name: String,
    pub role: Role,
    /// `[d_in, d_out]` for a Linear, `[num, dim]` for an embedding.
    pub w: Mat<f64>,
}

fn is_embedding(name: &str) -> bool {
    let module = name.rsplit_once('.').map_or(name, |(m, _)| m);
    module
        .split('.')
        .any(|part| part.contains("emb") || part == "wte" || part == "wpe")
}

/// Reads every 2-D array of `path` (ours or PyTorch's) as a matrix in burn's layout.
pub fn read_matrices(path: &Path) -> Result<(Layout, Vec<NamedMatrix>), AnalyzeError> {
    let file = |message: String| AnalyzeError::File {
        path: path.display().to_string(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| file(e.to_string()))?;
    let dict = StateDict::from_safetensors(&bytes).map_err(|e| file(e.to_string()))?;
    matrices_of(&dict).map_err(file)
}

/// [`read_matrices`] on a parsed file.
pub fn matrices_of(dict: &StateDict) -> Result<(Layout, Vec<NamedMatrix>), String> {
    let ours = dict.metadata.contains_key("config")
        || dict
            .tensors
            .keys()
            .any(|k| k.starts_with("model/") || k.starts_with(LOWRANK));
    let layout = if ours { Layout::Burn } else { Layout::Torch };
    let (dict, _) = densify(dict).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (name, (shape, values)) in &dict.tensors {
        if shape.len() != 2 {
            continue;
        }
        let name = match layout {
            Layout::Burn => match name.strip_prefix("model/") {
                Some(rest) => rest.to_string(),
                None => continue, // optimizer state
            },
            Layout::Torch => name.clone(),
        };
        let (rows, cols) = (shape[0], shape[1]);
        let at = |i: usize, j: usize| values[i * cols + j] as f64;
        let role = if is_embedding(&name) {
            Role::Embedding
        } else {
            Role::Linear
        };
        let w = match (layout, role) {
            (Layout::Torch, Role::Linear) => Mat::from_fn(cols, rows, |i, j| at(j, i)),
            _ => Mat::from_fn(rows, cols, at),
        };
        if w.nrows() == 0 || w.ncols() == 0 {
            continue;
        }
        out.push(NamedMatrix { name, role, w });
    }
    Ok((layout, out))
}
