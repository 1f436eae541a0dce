//! The training step of the engine's models on the GPU: forward, backward, gradient clipping
//! and the optimizer over one arena, eagerly or replayed as one CUDA graph.
//!
//! Buffers: the parameters live in flat buffers laid out by the model's parameter table —
//! f32 master weights, their ACT compute copy (refreshed by the optimizer), f32 gradients and
//! the optimizer's f32 moments. Matrices and embeddings are read from the compute copy; biases,
//! norm parameters and the SpacingMDN's input stage (f32 `[C]` or `[M, C]`) from the master
//! weights. Nothing is allocated after [`Engine::new`].
//!
//! Per-step values (learning rates, the step number, the clip factor) live in device memory,
//! so a captured graph reads each step's values: the host writes them, with the batch, before
//! each replay.

use crate::arena::{DType, Layout, Slot};
use crate::error::EngineError;
use crate::gemm::{Dims, Operand, gemm};
use crate::gpu::{Arena, Gpu, Graph};
use crate::models::gpt::GptShape;
use crate::models::spacing_mdn::MdnShape;
use crate::models::trunk::{Activations, HeadShape, TrunkShape};
use crate::ops::adamw::{AdamW, Flat, Hyper, StepScalars};
use crate::ops::attention::{
    AttentionDims, AttentionInput, BackwardInput, Buffer, CublasAttention, CublasSaved,
    CublasScratch, Qkv, rope_table,
};
use crate::ops::bias_gelu::BiasGelu;
use crate::ops::cast::Cast;
use crate::ops::cross_entropy::CrossEntropy;
use crate::ops::embedding::{self, Embedding};
use crate::ops::flash_attention::{FlashAttention, FlashSaved, FlashScratch};
use crate::ops::layer_norm::{self, LayerNorm};
use crate::ops::mdn_input::{InputParams, InputShape, MdnInput};
use crate::ops::mixture_nll::MixtureNll;
use crate::ops::reduce::Reduce;
use crate::optim::muon::{FlatBuffers, Muon, MuonPlan, MuonSettings};
use crate::params::{Group, ParamTable};

/// A model the engine trains.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EngineModel {
    Gpt(GptShape),
    SpacingMdn(MdnShape),
}

impl EngineModel {
    pub fn validate(&self) -> Result<(), EngineError> {
        match self {
            Self::Gpt(shape) => shape.validate(),
            Self::SpacingMdn(shape) => shape.validate(),
        }
    }

    pub fn params(&self) -> ParamTable {
        match self {
            Self::Gpt(shape) => shape.params(),
            Self::SpacingMdn(shape) => shape.params(),
        }
    }

    pub fn trunk(&self) -> TrunkShape {
        match *self {
            Self::Gpt(s) => TrunkShape {
                layers: s.layers,
                heads: s.heads,
                width: s.width,
                batch: s.batch,
                positions: s.seq,
            },
            Self::SpacingMdn(s) => TrunkShape {
                layers: s.layers,
                heads: s.heads,
                width: s.width,
                batch: s.batch,
                positions: s.positions(),
            },
        }
    }

    fn head(&self) -> HeadShape {
        match *self {
            Self::Gpt(s) => HeadShape::Tokens { vocab: s.vocab },
            Self::SpacingMdn(s) => HeadShape::Mixture {
                seq: s.seq,
                components: s.components,
            },
        }
    }

    /// Rows the loss is a mean over: every token, or every spacing.
    fn data_rows(&self) -> usize {
        match *self {
            Self::Gpt(s) => s.batch * s.seq,
            Self::SpacingMdn(s) => s.batch * s.seq,
        }
    }
}

/// One step's batch: token ids and next-token targets (i32, row-major `[B, T]`), or spacings
/// and next spacings (f32 `[B, T]`).
#[derive(Clone, Copy, Debug)]
pub enum Batch<'a> {
    Tokens { idx: &'a [i32], targets: &'a [i32] },
    Spacings { x: &'a [f32], y: &'a [f32] },
}

/// One parameter's optimizer state, each in the parameter's layout (burn's).
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    pub name: String,
    /// AdamW's first moment m; for Muon's (TEON's) matrices the momentum buffer.
    pub first: Vec<f32>,
    /// AdamW's second moment v; zeros for Muon's (TEON's) matrices.
    pub second: Vec<f32>,
}

/// How the engine updates the parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineOptimizer {
    /// AdamW on every tensor (the matrices at the main learning rate).
    AdamW(Hyper),
    /// Muon on the hidden matrices, AdamW on the rest.
    Muon { muon: MuonSettings, adamw: Hyper },
    /// TEON on the hidden matrices, AdamW on the rest: Muon's steps on `stacks`, each K
    /// same-shape matrices named in stack order and orthogonalized as one `[K·d_in, d_out]`
    /// (`spectral::optim::teon::teon_groups` picks them), every other matrix Muon's.
    Teon {
        muon: MuonSettings,
        stacks: Vec<Vec<String>>,
        adamw: Hyper,
    },
}

impl EngineOptimizer {
    /// AdamW's settings (every tensor's, or those of the tensors that are not hidden matrices).
    pub fn adamw(&self) -> &Hyper {
        match self {
            Self::AdamW(adamw) | Self::Muon { adamw, .. } | Self::Teon { adamw, .. } => adamw,
        }
    }

    /// Whether the hidden matrices keep a momentum buffer (Muon, TEON) rather than AdamW's
    /// moments.
    pub fn orthogonalizes(&self) -> bool {
        !matches!(self, Self::AdamW(_))
    }
}

/// The learning rates and step number of one optimizer step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepValues {
    /// The hidden matrices' learning rate (Muon's or TEON's, or AdamW's main one).
    pub matrix_lr: f32,
    /// Every other tensor's AdamW learning rate.
    pub other_lr: f32,
    /// 1-based step number (AdamW's bias correction).
    pub step: i32,
}

/// Where the flat buffers, per-step scalars and shared scratch are.
#[derive(Clone, Copy, Debug)]
struct FlatSlots {
    params: Slot,
    compute: Slot,
    grads: Slot,
    m: Slot,
    v: Slot,
    /// f32 [2]: matrix lr, other lr.
    lrs: Slot,
    /// i32 [1], f32 [1], f32 [1].
    step: Slot,
    clip: Slot,
    norm: Slot,
    /// Scratch of the sums ([`Reduce::PARTIALS`]).
    partials: Slot,
    /// Scratch of the norms', the bias gradients' and the input stage's column sums.
    column_partials: Slot,
    /// Scratch of the embedding's backward pass (its sort of the rows by token id).
    embedding_workspace: Slot,
    /// RoPE's table f32 [S, D/2, 2] (the SpacingMDN's; empty for the GPT).
    rope: Slot,
}

/// The attention path: flash attention in bf16 where it runs, cuBLAS with stored probabilities
/// otherwise (and in the all-f32 parity mode).
enum Attention {
    Flash {
        op: FlashAttention,
        saved: Vec<FlashSaved>,
        scratch: FlashScratch,
    },
    Cublas {
        op: CublasAttention,
        saved: Vec<CublasSaved>,
        scratch: CublasScratch,
    },
}

/// The kernels of the step.
struct Ops {
    embedding: Embedding,
    input: MdnInput,
    norm: LayerNorm,
    gelu: BiasGelu,
    cross_entropy: CrossEntropy,
    mixture: MixtureNll,
    reduce: Reduce,
    cast: Cast,
    adamw: AdamW,
    muon: Option<Muon>,
}

/// A model, its optimizer state and one batch's activations on one GPU.
pub struct Engine {
    gpu: Gpu,
    model: EngineModel,
    trunk: TrunkShape,
    act: DType,
    table: ParamTable,
    optimizer: EngineOptimizer,
    max_grad_norm: f32,
    arena: Arena,
    flat: FlatSlots,
    acts: Activations,
    attention: Attention,
    ops: Ops,
    graph: Option<Graph>,
}

impl Engine {
    /// Plans and allocates everything for `model` in activation type `act` (bf16, or f32 for
    /// the parity mode), compiles the kernels. Parameters start at zero: load them with
    /// [`Engine::set_params`]. Refuses, naming both sizes, a step that does not fit in the
    /// GPU's free memory.
    pub fn new(
        mut gpu: Gpu,
        model: EngineModel,
        act: DType,
        optimizer: EngineOptimizer,
        max_grad_norm: f32,
    ) -> Result<Self, EngineError> {
        model.validate()?;
        let table = model.params();
        let trunk = model.trunk();
        let p = table.len();
        let (n, c) = (trunk.rows(), trunk.width);
        let dims = AttentionDims {
            batch: trunk.batch,
            seq: trunk.positions,
            heads: trunk.heads,
            head_dim: trunk.width / trunk.heads,
        };
        let (embedding_workspace, input_partials, rope) = match model {
            EngineModel::Gpt(s) => (
                Embedding::workspace_len(embedding::Shape {
                    n,
                    t: s.seq,
                    v: s.vocab,
                    c,
                }),
                0,
                0,
            ),
            EngineModel::SpacingMdn(s) => {
                let input = InputShape {
                    batch: s.batch,
                    seq: s.seq,
                    slots: s.slots,
                    width: c,
                };
                (0, MdnInput::partials_len(input), dims.seq * dims.head_dim)
            }
        };
        let mut layout = Layout::new();
        let flat = FlatSlots {
            params: layout.push("params", p, DType::F32),
            compute: layout.push("params_compute", p, act),
            grads: layout.push("grads", p, DType::F32),
            m: layout.push("adam_m", p, DType::F32),
            v: layout.push("adam_v", p, DType::F32),
            lrs: layout.push("lrs", 2, DType::F32),
            step: layout.push("step", 1, DType::I32),
            clip: layout.push("clip", 1, DType::F32),
            norm: layout.push("norm", 1, DType::F32),
            partials: layout.push("partials", Reduce::PARTIALS, DType::F32),
            column_partials: layout.push(
                "column_partials",
                LayerNorm::partials_len(n, c)
                    .max(BiasGelu::partials_len(n, 4 * c))
                    .max(input_partials),
                DType::F32,
            ),
            embedding_workspace: layout.push(
                "embedding_workspace",
                embedding_workspace,
                DType::I32,
            ),
            rope: layout.push("rope", rope, DType::F32),
        };
        let acts = Activations::plan(&trunk, model.head(), act, &mut layout);
        let place = |layout: &mut Layout, prefix: &str, buffers: &[Buffer]| -> Vec<Slot> {
            buffers
                .iter()
                .map(|b| layout.push(format!("{prefix}.{}", b.name), b.len, b.dtype))
                .collect()
        };
        let muon_plan = match &optimizer {
            EngineOptimizer::Muon { .. } => Some(MuonPlan::new(&table, act, &mut layout)),
            EngineOptimizer::Teon { stacks, .. } => {
                Some(MuonPlan::stacked(&table, stacks, act, &mut layout)?)
            }
            EngineOptimizer::AdamW(_) => None,
        };
        let flash = act == DType::BF16 && FlashAttention::supports(dims).is_ok();
        let layers = trunk.layers;
        let (saved_slots, scratch_slots): (Vec<Vec<Slot>>, Vec<Slot>) = if flash {
            (
                (0..layers)
                    .map(|l| {
                        place(
                            &mut layout,
                            &format!("attn.{l}"),
                            &FlashSaved::buffers(dims),
                        )
                    })
                    .collect(),
                place(&mut layout, "attn", &FlashScratch::buffers(dims)),
            )
        } else {
            (
                (0..layers)
                    .map(|l| {
                        place(
                            &mut layout,
                            &format!("attn.{l}"),
                            &CublasSaved::buffers(dims, act),
                        )
                    })
                    .collect(),
                place(&mut layout, "attn", &CublasScratch::buffers(dims, act)),
            )
        };
        let (free, _) = gpu.memory()?;
        if layout.bytes() > free {
            return Err(EngineError::Unsupported(format!(
                "a training step of batch {} × {} positions needs {:.2} GiB of GPU memory; {:.2} GiB are free",
                trunk.batch,
                trunk.positions,
                layout.bytes() as f64 / (1u64 << 30) as f64,
                free as f64 / (1u64 << 30) as f64
            )));
        }
        let arena = gpu.arena(&layout)?;
        if rope > 0 {
            gpu.upload(arena.ptr(flat.rope), &rope_table(dims.seq, dims.head_dim))?;
        }
        let ptrs = |slots: &[Slot]| -> Vec<u64> { slots.iter().map(|s| arena.ptr(*s)).collect() };
        let attention = if flash {
            Attention::Flash {
                op: FlashAttention::new(&mut gpu, dims)?,
                saved: saved_slots
                    .iter()
                    .map(|s| FlashSaved::at(ptrs(s).try_into().expect("four buffers")))
                    .collect(),
                scratch: FlashScratch::at(ptrs(&scratch_slots).try_into().expect("one buffer")),
            }
        } else {
            Attention::Cublas {
                op: CublasAttention::new(&mut gpu, act, dims)?,
                saved: saved_slots
                    .iter()
                    .map(|s| CublasSaved::at(ptrs(s).try_into().expect("four buffers")))
                    .collect(),
                scratch: CublasScratch::at(ptrs(&scratch_slots).try_into().expect("three buffers")),
            }
        };
        let muon = match (&optimizer, muon_plan) {
            (
                EngineOptimizer::Muon { muon, .. } | EngineOptimizer::Teon { muon, .. },
                Some(plan),
            ) => Some(Muon::new(&mut gpu, plan, muon.clone(), &arena)?),
            _ => None,
        };
        let ops = Ops {
            embedding: Embedding::new(&mut gpu, act)?,
            input: MdnInput::new(&mut gpu)?,
            norm: LayerNorm::new(&mut gpu, act)?,
            gelu: BiasGelu::new(&mut gpu, act)?,
            cross_entropy: CrossEntropy::new(&mut gpu, act)?,
            mixture: MixtureNll::new(&mut gpu, act)?,
            reduce: Reduce::new(&mut gpu)?,
            cast: Cast::new(&mut gpu, act)?,
            adamw: AdamW::new(&mut gpu, act)?,
            muon,
        };
        Ok(Self {
            gpu,
            model,
            trunk,
            act,
            table,
            optimizer,
            max_grad_norm,
            arena,
            flat,
            acts,
            attention,
            ops,
            graph: None,
        })
    }

    pub fn model(&self) -> EngineModel {
        self.model
    }

    pub fn table(&self) -> &ParamTable {
        &self.table
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// Bytes of the arena: everything the step holds on the GPU besides cuBLAS's workspace.
    pub fn arena_bytes(&self) -> usize {
        self.arena.bytes()
    }

    /// Loads every parameter (`(name, values)` in burn's layout, each the full tensor) into
    /// the master weights and refreshes the compute copy; names the first missing or
    /// mis-sized tensor.
    pub fn set_params(&mut self, values: &[(String, Vec<f32>)]) -> Result<(), EngineError> {
        let mut flat = vec![0f32; self.table.len()];
        for param in self.table.params() {
            let (_, v) = values
                .iter()
                .find(|(name, _)| name == &param.name)
                .ok_or_else(|| {
                    EngineError::Unsupported(format!("no values for parameter {}", param.name))
                })?;
            if v.len() != param.len() {
                return Err(EngineError::Unsupported(format!(
                    "parameter {}: {} values for shape {:?}",
                    param.name,
                    v.len(),
                    param.shape
                )));
            }
            flat[param.offset..param.offset + v.len()].copy_from_slice(v);
        }
        self.gpu.upload(self.arena.ptr(self.flat.params), &flat)?;
        self.ops.cast.forward(
            &self.gpu,
            self.arena.ptr(self.flat.params),
            self.arena.ptr(self.flat.compute),
            flat.len(),
        )?;
        self.gpu.synchronize()
    }

    /// Every parameter `(name, values)` from the master weights.
    pub fn params(&self) -> Result<Vec<(String, Vec<f32>)>, EngineError> {
        self.read_flat(self.flat.params)
    }

    /// Every parameter's gradient from the last backward pass (before clipping).
    pub fn grads(&self) -> Result<Vec<(String, Vec<f32>)>, EngineError> {
        self.read_flat(self.flat.grads)
    }

    /// The optimizer's state of every parameter, in the parameter table's order.
    pub fn moments(&self) -> Result<Vec<Moments>, EngineError> {
        let m = self.read_flat(self.flat.m)?;
        let v = self.read_flat(self.flat.v)?;
        Ok(m.into_iter()
            .zip(v)
            .map(|((name, first), (_, second))| Moments {
                name,
                first,
                second,
            })
            .collect())
    }

    /// Loads the optimizer's state as [`Engine::moments`] returns it; a parameter not listed
    /// starts from zero moments (a fresh optimizer's). Names an unknown or mis-sized entry.
    pub fn set_moments(&mut self, moments: &[Moments]) -> Result<(), EngineError> {
        let len = self.table.len();
        let (mut m, mut v) = (vec![0f32; len], vec![0f32; len]);
        for Moments {
            name,
            first,
            second,
        } in moments
        {
            let param = self
                .table
                .params()
                .iter()
                .find(|p| &p.name == name)
                .ok_or_else(|| {
                    EngineError::Unsupported(format!(
                        "optimizer state of an unknown parameter {name}"
                    ))
                })?;
            if first.len() != param.len() || second.len() != param.len() {
                return Err(EngineError::Unsupported(format!(
                    "optimizer state of {name}: {} and {} values for shape {:?}",
                    first.len(),
                    second.len(),
                    param.shape
                )));
            }
            m[param.offset..param.offset + param.len()].copy_from_slice(first);
            v[param.offset..param.offset + param.len()].copy_from_slice(second);
        }
        self.gpu.upload(self.arena.ptr(self.flat.m), &m)?;
        self.gpu.upload(self.arena.ptr(self.flat.v), &v)
    }

    fn read_flat(&self, slot: Slot) -> Result<Vec<(String, Vec<f32>)>, EngineError> {
        let mut flat = vec![0f32; self.table.len()];
        self.gpu.download(self.arena.ptr(slot), &mut flat)?;
        Ok(self
            .table
            .params()
            .iter()
            .map(|p| (p.name.clone(), flat[p.offset..p.offset + p.len()].to_vec()))
            .collect())
    }

    /// Writes the batch and the step's values to the device, after the work enqueued so far.
    pub fn set_step(&self, batch: Batch<'_>, values: StepValues) -> Result<(), EngineError> {
        self.set_batch(batch)?;
        self.gpu.upload(
            self.arena.ptr(self.flat.lrs),
            &[values.matrix_lr, values.other_lr],
        )?;
        self.gpu
            .upload(self.arena.ptr(self.flat.step), &[values.step])
    }

    /// The loss of each target of `batch` under the current weights, from a forward pass
    /// alone (validation): f32 `[B·T]` nats, row-major `[B, T]`. Waits for it.
    pub fn row_losses(&self, batch: Batch<'_>) -> Result<Vec<f32>, EngineError> {
        self.set_batch(batch)?;
        self.forward()?;
        let mut losses = vec![0f32; self.model.data_rows()];
        self.gpu
            .download(self.ptr(self.acts.row_loss), &mut losses)?;
        Ok(losses)
    }

    /// Writes a batch (its kind and size checked against the model) to the device, after the
    /// work enqueued so far.
    fn set_batch(&self, batch: Batch<'_>) -> Result<(), EngineError> {
        let n = self.model.data_rows();
        let (inputs, targets) = (self.ptr(self.acts.inputs), self.ptr(self.acts.targets));
        match (batch, self.model) {
            (Batch::Tokens { idx, targets: t }, EngineModel::Gpt(shape)) => {
                if idx.len() != n || t.len() != n {
                    return Err(EngineError::Unsupported(format!(
                        "a batch of {} ids and {} targets for {n} positions",
                        idx.len(),
                        t.len()
                    )));
                }
                if let Some(&bad) = idx
                    .iter()
                    .chain(t)
                    .find(|&&v| v < 0 || v as usize >= shape.vocab)
                {
                    return Err(EngineError::Unsupported(format!(
                        "token id {bad} outside the vocabulary of {}",
                        shape.vocab
                    )));
                }
                self.gpu.upload(inputs, idx)?;
                self.gpu.upload(targets, t)?;
            }
            (Batch::Spacings { x, y }, EngineModel::SpacingMdn(_)) => {
                if x.len() != n || y.len() != n {
                    return Err(EngineError::Unsupported(format!(
                        "a batch of {} spacings and {} targets for {n} positions",
                        x.len(),
                        y.len()
                    )));
                }
                if let Some(bad) = x.iter().chain(y).find(|v| !v.is_finite()) {
                    return Err(EngineError::Unsupported(format!(
                        "a spacing of {bad} in the batch"
                    )));
                }
                self.gpu.upload(inputs, x)?;
                self.gpu.upload(targets, y)?;
            }
            _ => {
                return Err(EngineError::Unsupported(
                    "a batch of the other model's kind".into(),
                ));
            }
        }
        Ok(())
    }

    /// The mean loss of the last forward pass (waits for it).
    pub fn loss(&self) -> Result<f32, EngineError> {
        let mut loss = [0f32];
        self.gpu
            .download(self.arena.ptr(self.acts.loss), &mut loss)?;
        Ok(loss[0])
    }

    /// The gradient norm of the last step, before clipping (waits for it).
    pub fn grad_norm(&self) -> Result<f32, EngineError> {
        let mut norm = [0f32];
        self.gpu
            .download(self.arena.ptr(self.flat.norm), &mut norm)?;
        Ok(norm[0])
    }

    /// Forward and backward passes, enqueued: the loss and every gradient.
    pub fn forward_backward(&self) -> Result<(), EngineError> {
        self.forward()?;
        self.backward()
    }

    /// One training step as recorded by [`Engine::capture`], or enqueued eagerly when no
    /// graph has been captured: forward, backward, clip, optimizer.
    pub fn step(&self) -> Result<(), EngineError> {
        match &self.graph {
            Some(graph) => graph.launch(),
            None => self.enqueue_step(),
        }
    }

    /// Records the whole training step into one CUDA graph; [`Engine::step`] replays it.
    pub fn capture(&mut self) -> Result<(), EngineError> {
        self.graph = None;
        let graph = self.gpu.capture(|_| self.enqueue_step())?;
        self.graph = Some(graph);
        Ok(())
    }

    fn enqueue_step(&self) -> Result<(), EngineError> {
        self.forward_backward()?;
        self.optimizer_step()
    }

    /// Device address of element `offset` of a flat buffer.
    fn at(&self, slot: Slot, offset: usize) -> u64 {
        self.arena.ptr(slot) + (offset * slot.dtype.size()) as u64
    }

    /// The compute copy (ACT) of parameter `name`.
    fn weight(&self, name: &str) -> Operand {
        Operand::new(
            self.at(self.flat.compute, self.table.get(name).offset),
            self.act,
        )
    }

    /// The master (f32) value of parameter `name`: biases and norm parameters.
    fn master(&self, name: &str) -> u64 {
        self.at(self.flat.params, self.table.get(name).offset)
    }

    /// The gradient (f32) of parameter `name`.
    fn grad(&self, name: &str) -> u64 {
        self.at(self.flat.grads, self.table.get(name).offset)
    }

    fn ptr(&self, slot: Slot) -> u64 {
        self.arena.ptr(slot)
    }

    fn act_op(&self, slot: Slot) -> Operand {
        Operand::new(self.ptr(slot), self.act)
    }

    /// Third `i` of a `[3, N, C]` ACT slot.
    fn third(&self, slot: Slot, i: usize) -> u64 {
        self.ptr(slot) + (i * self.trunk.rows() * self.trunk.width * self.act.size()) as u64
    }

    /// The norm parameters of norm `i` (LN₁ of block i/2, LN₂, …, LN_f).
    fn norm_name(&self, i: usize) -> String {
        if i == 2 * self.trunk.layers {
            "ln_f".into()
        } else {
            format!("blocks.{}.ln{}", i / 2, 1 + i % 2)
        }
    }

    fn rope(&self) -> Option<u64> {
        (self.flat.rope.len > 0).then(|| self.ptr(self.flat.rope))
    }

    fn forward(&self) -> Result<(), EngineError> {
        let TrunkShape {
            layers, width: c, ..
        } = self.trunk;
        let n = self.trunk.rows();
        let gpu = &self.gpu;
        let a = &self.acts;
        let f = 4 * c;
        let mm = |m, nn, k| Dims {
            m,
            n: nn,
            k,
            batch: 1,
        };
        match self.model {
            EngineModel::Gpt(s) => self.ops.embedding.forward(
                gpu,
                self.ptr(a.inputs),
                self.weight("tok_emb.weight").ptr,
                self.weight("pos_emb.weight").ptr,
                self.ptr(a.residual[0]),
                embedding::Shape {
                    n,
                    t: s.seq,
                    v: s.vocab,
                    c,
                },
            )?,
            EngineModel::SpacingMdn(s) => {
                let params = self.input_params(|name| self.master(name));
                let shape = InputShape {
                    batch: s.batch,
                    seq: s.seq,
                    slots: s.slots,
                    width: c,
                };
                self.ops.input.forward(
                    gpu,
                    self.ptr(a.inputs),
                    &params,
                    self.ptr(a.residual[0]),
                    shape,
                )?
            }
        }
        for l in 0..=layers {
            // Norm 2l: LN₁ of block l (LN_f after the last block), adding the previous
            // block's MLP branch.
            let i = 2 * l;
            let branch = if l == 0 {
                None
            } else {
                Some(format!("blocks.{}.mlp.proj.bias", l - 1))
            };
            self.norm_forward(i, branch.as_deref())?;
            if l == layers {
                break;
            }
            let p = |name: &str| format!("blocks.{l}.{name}");
            // q, k, v = h W_{q,k,v}: one gemm over the stacked weights.
            let h = self.act_op(a.normed[i]);
            let w_qkv = self.weight(&p("attn.q.weight")).strided(c * c);
            gemm(
                gpu,
                Dims {
                    m: n,
                    n: c,
                    k: c,
                    batch: 3,
                },
                h,
                w_qkv,
                self.act_op(a.qkv).strided(n * c),
                1.0,
                0.0,
            )?;
            let input = AttentionInput {
                rows: Qkv {
                    q: self.third(a.qkv, 0),
                    k: self.third(a.qkv, 1),
                    v: self.third(a.qkv, 2),
                },
                bias: Some(Qkv {
                    q: self.master(&p("attn.q.bias")),
                    k: self.master(&p("attn.k.bias")),
                    v: self.master(&p("attn.v.bias")),
                }),
                rope: self.rope(),
            };
            let y = self.ptr(a.attn_out[l]);
            match &self.attention {
                Attention::Flash { op, saved, .. } => op.forward(gpu, &input, &saved[l], y)?,
                Attention::Cublas { op, saved, scratch } => {
                    op.forward(gpu, &input, &saved[l], scratch, y)?
                }
            }
            gemm(
                gpu,
                mm(n, c, c),
                self.act_op(a.attn_out[l]),
                self.weight(&p("attn.o.weight")),
                self.act_op(a.branch),
                1.0,
                0.0,
            )?;
            // Norm 2l + 1: LN₂, adding the attention branch.
            self.norm_forward(i + 1, Some(&p("attn.o.bias")))?;
            gemm(
                gpu,
                mm(n, f, c),
                self.act_op(a.normed[i + 1]),
                self.weight(&p("mlp.fc.weight")),
                self.act_op(a.fc_pre[l]),
                1.0,
                0.0,
            )?;
            self.ops.gelu.forward(
                gpu,
                self.ptr(a.fc_pre[l]),
                self.master(&p("mlp.fc.bias")),
                self.ptr(a.fc_pre[l]),
                self.ptr(a.fc_act),
                n,
                f,
            )?;
            gemm(
                gpu,
                mm(n, c, f),
                self.act_op(a.fc_act),
                self.weight(&p("mlp.proj.weight")),
                self.act_op(a.branch),
                1.0,
                0.0,
            )?;
        }
        let hf = self.act_op(a.normed[2 * layers]);
        let rows = self.ptr(a.row_loss);
        let data = self.model.data_rows();
        match self.model {
            EngineModel::Gpt(s) => {
                // logits = h_f tok_embᵀ, then the loss and its gradient (over the logits).
                let v = s.vocab;
                gemm(
                    gpu,
                    mm(n, v, c),
                    hf,
                    self.weight("tok_emb.weight").t(),
                    self.act_op(a.head_out),
                    1.0,
                    0.0,
                )?;
                let logits = self.ptr(a.head_out);
                self.ops.cross_entropy.forward_backward(
                    gpu,
                    logits,
                    self.ptr(a.targets),
                    rows,
                    logits,
                    n,
                    v,
                    1.0 / n as f32,
                )?;
            }
            EngineModel::SpacingMdn(s) => {
                // raw = h_f[:, M:] W_head in f32: one gemm per sequence over its data rows.
                let k3 = 3 * s.components;
                let data_rows = self.data_rows_of(a.normed[2 * layers]);
                let dims = Dims {
                    m: s.seq,
                    n: k3,
                    k: c,
                    batch: s.batch,
                };
                let out = Operand::new(self.ptr(a.head_out), DType::F32).strided(s.seq * k3);
                gemm(
                    gpu,
                    dims,
                    data_rows,
                    self.weight("mdn_head.linear.weight"),
                    out,
                    1.0,
                    0.0,
                )?;
                // The loss adds b_head (f32, the master) and writes ∂raw in ACT.
                let scale = 1.0 / data as f32;
                self.ops.mixture.forward_backward(
                    gpu,
                    self.ptr(a.head_out),
                    self.master("mdn_head.linear.bias"),
                    self.ptr(a.targets),
                    rows,
                    self.ptr(a.head_grad),
                    data,
                    s.components,
                    s.sigma_floor,
                    scale,
                )?;
            }
        }
        self.ops.reduce.sum(
            gpu,
            rows,
            data,
            1.0 / data as f32,
            self.ptr(self.flat.partials),
            self.ptr(a.loss),
        )
    }

    /// The data rows `[B, T, C]` of an ACT `[B, S, C]` slot, one gemm operand per sequence.
    fn data_rows_of(&self, slot: Slot) -> Operand {
        let (s, c) = (self.trunk.positions, self.trunk.width);
        let m = match self.model {
            EngineModel::SpacingMdn(shape) => shape.slots,
            EngineModel::Gpt(_) => 0,
        };
        Operand::new(self.ptr(slot) + (m * c * self.act.size()) as u64, self.act).strided(s * c)
    }

    /// The input stage's parameters (or gradients) by address, `at` mapping a name.
    fn input_params(&self, at: impl Fn(&str) -> u64) -> InputParams {
        let has = |name: &str| self.table.params().iter().any(|p| p.name == name);
        InputParams {
            w: at("input_proj.weight"),
            bias: at("input_proj.bias"),
            slots: if has("memory.slots") {
                at("memory.slots")
            } else {
                0
            },
            slot_id: if has("memory.slot_id.weight") {
                at("memory.slot_id.weight")
            } else {
                0
            },
        }
    }

    /// Norm `i`'s forward pass: `r = residual[i−1] + (branch + bias)` (norm 0 takes the
    /// embedding's output as is), `normed[i] = LN(r)`.
    fn norm_forward(&self, i: usize, branch_bias: Option<&str>) -> Result<(), EngineError> {
        let a = &self.acts;
        let name = self.norm_name(i);
        let forward = match branch_bias {
            None => layer_norm::Forward {
                x: self.ptr(a.residual[i]),
                y: 0,
                y_bias: 0,
                r: 0,
                w: self.master(&format!("{name}.gamma")),
                b: self.master(&format!("{name}.beta")),
                out: self.ptr(a.normed[i]),
                mean: self.ptr(a.mean[i]),
                rstd: self.ptr(a.rstd[i]),
            },
            Some(bias) => layer_norm::Forward {
                x: self.ptr(a.residual[i - 1]),
                y: self.ptr(a.branch),
                y_bias: self.master(bias),
                r: self.ptr(a.residual[i]),
                w: self.master(&format!("{name}.gamma")),
                b: self.master(&format!("{name}.beta")),
                out: self.ptr(a.normed[i]),
                mean: self.ptr(a.mean[i]),
                rstd: self.ptr(a.rstd[i]),
            },
        };
        self.ops
            .norm
            .forward(&self.gpu, &forward, self.trunk.rows(), self.trunk.width)
    }

    /// Norm `i`'s backward pass from `d_normed`: adds into `d_residual`, writes the branch
    /// gradient `d_branch` (when `branch`) and the norm's parameter gradients.
    fn norm_backward(&self, i: usize, branch: bool) -> Result<(), EngineError> {
        let a = &self.acts;
        let name = self.norm_name(i);
        let backward = layer_norm::Backward {
            dout: self.ptr(a.d_normed),
            r: self.ptr(a.residual[i]),
            mean: self.ptr(a.mean[i]),
            rstd: self.ptr(a.rstd[i]),
            w: self.master(&format!("{name}.gamma")),
            dres: self.ptr(a.d_residual),
            dres_act: if branch { self.ptr(a.d_branch) } else { 0 },
            dw: self.grad(&format!("{name}.gamma")),
            db: self.grad(&format!("{name}.beta")),
            partials: self.ptr(self.flat.column_partials),
        };
        self.ops
            .norm
            .backward(&self.gpu, &backward, self.trunk.rows(), self.trunk.width)
    }

    fn backward(&self) -> Result<(), EngineError> {
        let TrunkShape {
            layers, width: c, ..
        } = self.trunk;
        let n = self.trunk.rows();
        let (gpu, a, act, f) = (&self.gpu, &self.acts, self.act, 4 * c);
        let mm = |m, nn, k| Dims {
            m,
            n: nn,
            k,
            batch: 1,
        };
        let grad_op = |name: &str| Operand::new(self.grad(name), DType::F32);
        let columns = self.ptr(self.flat.column_partials);
        match self.model {
            EngineModel::Gpt(s) => {
                // ∂tok_emb = ∂logitsᵀ h_f (written; the embedding's backward adds to it),
                // ∂h_f = ∂logits tok_emb.
                let (v, dlogits) = (s.vocab, self.act_op(a.head_out));
                gemm(
                    gpu,
                    mm(v, c, n),
                    dlogits.t(),
                    self.act_op(a.normed[2 * layers]),
                    grad_op("tok_emb.weight"),
                    1.0,
                    0.0,
                )?;
                gemm(
                    gpu,
                    mm(n, c, v),
                    dlogits,
                    self.weight("tok_emb.weight"),
                    self.act_op(a.d_normed),
                    1.0,
                    0.0,
                )?;
            }
            EngineModel::SpacingMdn(s) => {
                let k3 = 3 * s.components;
                let data = self.model.data_rows();
                let draw = self.act_op(a.head_grad).strided(s.seq * k3);
                self.ops.gelu.column_sum(
                    gpu,
                    draw.ptr,
                    self.grad("mdn_head.linear.bias"),
                    columns,
                    data,
                    k3,
                )?;
                // ∂W_head = Σ_b h_f[b, M:]ᵀ ∂raw[b]: per-sequence products, then their sum in order.
                let partials = Operand::new(self.ptr(a.head_partials), DType::F32).strided(c * k3);
                let dims = Dims {
                    m: c,
                    n: k3,
                    k: s.seq,
                    batch: s.batch,
                };
                gemm(
                    gpu,
                    dims,
                    self.data_rows_of(a.normed[2 * layers]).t(),
                    draw,
                    partials,
                    1.0,
                    0.0,
                )?;
                self.ops.reduce.sum_rows(
                    gpu,
                    partials.ptr,
                    s.batch,
                    c * k3,
                    self.grad("mdn_head.linear.weight"),
                    false,
                )?;
                // ∂h_f: zero on the memory rows, ∂raw W_headᵀ on the data rows.
                gpu.zero(self.ptr(a.d_normed), a.d_normed.bytes())?;
                let dims = Dims {
                    m: s.seq,
                    n: c,
                    k: k3,
                    batch: s.batch,
                };
                let d_data = self.data_rows_of(a.d_normed);
                gemm(
                    gpu,
                    dims,
                    draw,
                    self.weight("mdn_head.linear.weight").t(),
                    d_data,
                    1.0,
                    0.0,
                )?;
            }
        }
        gpu.zero(self.ptr(a.d_residual), a.d_residual.bytes())?;
        self.norm_backward(2 * layers, true)?;
        for l in (0..layers).rev() {
            let p = |name: &str| format!("blocks.{l}.{name}");
            let d_branch = self.act_op(a.d_branch);
            // MLP: the branch gradient is d_branch.
            self.ops.gelu.column_sum(
                gpu,
                d_branch.ptr,
                self.grad(&p("mlp.proj.bias")),
                columns,
                n,
                c,
            )?;
            // g = gelu(pre) again (pre holds the bias already): ∂W_proj = gᵀ ∂branch.
            self.ops
                .gelu
                .forward(gpu, self.ptr(a.fc_pre[l]), 0, 0, self.ptr(a.fc_act), n, f)?;
            gemm(
                gpu,
                mm(f, c, n),
                self.act_op(a.fc_act).t(),
                d_branch,
                grad_op(&p("mlp.proj.weight")),
                1.0,
                0.0,
            )?;
            gemm(
                gpu,
                mm(n, f, c),
                d_branch,
                self.weight(&p("mlp.proj.weight")).t(),
                self.act_op(a.d_fc),
                1.0,
                0.0,
            )?;
            let (d_fc, pre) = (self.ptr(a.d_fc), self.ptr(a.fc_pre[l]));
            self.ops.gelu.backward(
                gpu,
                d_fc,
                pre,
                d_fc,
                self.grad(&p("mlp.fc.bias")),
                columns,
                n,
                f,
            )?;
            gemm(
                gpu,
                mm(c, f, n),
                self.act_op(a.normed[2 * l + 1]).t(),
                self.act_op(a.d_fc),
                grad_op(&p("mlp.fc.weight")),
                1.0,
                0.0,
            )?;
            gemm(
                gpu,
                mm(n, c, f),
                self.act_op(a.d_fc),
                self.weight(&p("mlp.fc.weight")).t(),
                self.act_op(a.d_normed),
                1.0,
                0.0,
            )?;
            self.norm_backward(2 * l + 1, true)?;
            // Attention: the o-projection's branch gradient is d_branch again.
            self.ops.gelu.column_sum(
                gpu,
                d_branch.ptr,
                self.grad(&p("attn.o.bias")),
                columns,
                n,
                c,
            )?;
            gemm(
                gpu,
                mm(c, c, n),
                self.act_op(a.attn_out[l]).t(),
                d_branch,
                grad_op(&p("attn.o.weight")),
                1.0,
                0.0,
            )?;
            // ∂y into d_normed (free until the norm's backward below).
            gemm(
                gpu,
                mm(n, c, c),
                d_branch,
                self.weight(&p("attn.o.weight")).t(),
                self.act_op(a.d_normed),
                1.0,
                0.0,
            )?;
            let grads = Qkv {
                q: self.third(a.d_qkv, 0),
                k: self.third(a.d_qkv, 1),
                v: self.third(a.d_qkv, 2),
            };
            let input = BackwardInput {
                y: self.ptr(a.attn_out[l]),
                dy: self.ptr(a.d_normed),
                rope: self.rope(),
            };
            match &self.attention {
                Attention::Flash { op, saved, scratch } => {
                    op.backward(gpu, &input, &saved[l], scratch, &grads)?
                }
                Attention::Cublas { op, saved, scratch } => {
                    op.backward(gpu, &input, &saved[l], scratch, &grads)?
                }
            }
            for (x, d) in ["q", "k", "v"].iter().zip([grads.q, grads.k, grads.v]) {
                self.ops.gelu.column_sum(
                    gpu,
                    d,
                    self.grad(&p(&format!("attn.{x}.bias"))),
                    columns,
                    n,
                    c,
                )?;
            }
            let h = self.act_op(a.normed[2 * l]);
            let w_grads = grad_op(&p("attn.q.weight")).strided(c * c);
            gemm(
                gpu,
                Dims {
                    m: c,
                    n: c,
                    k: n,
                    batch: 3,
                },
                h.t(),
                self.act_op(a.d_qkv).strided(n * c),
                w_grads,
                1.0,
                0.0,
            )?;
            // ∂h = Σ ∂{q,k,v} W_{q,k,v}ᵀ, accumulated in the gemm.
            for (i, x) in ["q", "k", "v"].iter().enumerate() {
                let beta = if i == 0 { 0.0 } else { 1.0 };
                let d = Operand::new(self.third(a.d_qkv, i), act);
                gemm(
                    gpu,
                    mm(n, c, c),
                    d,
                    self.weight(&p(&format!("attn.{x}.weight"))).t(),
                    self.act_op(a.d_normed),
                    1.0,
                    beta,
                )?;
            }
            self.norm_backward(2 * l, l > 0)?;
        }
        match self.model {
            EngineModel::Gpt(s) => {
                let backward = embedding::Backward {
                    idx: self.ptr(a.inputs),
                    dout: self.ptr(a.d_residual),
                    dwte: self.grad("tok_emb.weight"),
                    dwpe: self.grad("pos_emb.weight"),
                    workspace: self.ptr(self.flat.embedding_workspace),
                };
                self.ops.embedding.backward(
                    gpu,
                    &backward,
                    embedding::Shape {
                        n,
                        t: s.seq,
                        v: s.vocab,
                        c,
                    },
                )
            }
            EngineModel::SpacingMdn(s) => {
                let grads = self.input_params(|name| self.grad(name));
                let shape = InputShape {
                    batch: s.batch,
                    seq: s.seq,
                    slots: s.slots,
                    width: c,
                };
                self.ops.input.backward(
                    gpu,
                    self.ptr(a.inputs),
                    self.ptr(a.d_residual),
                    &grads,
                    columns,
                    shape,
                )
            }
        }
    }

    fn optimizer_step(&self) -> Result<(), EngineError> {
        let gpu = &self.gpu;
        let flat = self.flat;
        self.ops.reduce.grad_norm(
            gpu,
            self.ptr(flat.grads),
            self.table.len(),
            self.max_grad_norm,
            self.ptr(flat.partials),
            self.ptr(flat.norm),
            self.ptr(flat.clip),
        )?;
        let buffers = Flat {
            params: self.ptr(flat.params),
            grads: self.ptr(flat.grads),
            m: self.ptr(flat.m),
            v: self.ptr(flat.v),
            copy: self.ptr(flat.compute),
        };
        let lr = |i: u64| self.ptr(flat.lrs) + 4 * i;
        let scalars = |lr| StepScalars {
            lr,
            step: self.ptr(flat.step),
            clip: self.ptr(flat.clip),
        };
        let adamw = *self.optimizer.adamw();
        match &self.ops.muon {
            Some(muon) => muon.step(
                gpu,
                &self.arena,
                FlatBuffers {
                    params: buffers.params,
                    params_compute: buffers.copy,
                    grads: buffers.grads,
                    momentum: buffers.m,
                    clip: self.ptr(flat.clip),
                    lr: lr(0),
                },
            )?,
            None => self.ops.adamw.step(
                gpu,
                &buffers,
                self.table.group_range(Group::Matrix),
                &scalars(lr(0)),
                &adamw,
            )?,
        }
        self.ops.adamw.step(
            gpu,
            &buffers,
            self.table.group_range(Group::Decayed),
            &scalars(lr(1)),
            &adamw,
        )?;
        let undecayed = Hyper {
            weight_decay: 0.0,
            ..adamw
        };
        self.ops.adamw.step(
            gpu,
            &buffers,
            self.table.group_range(Group::Undecayed),
            &scalars(lr(1)),
            &undecayed,
        )
    }
}
