//! Causal self-attention on the device against an exact oracle: the output and the gradients
//! of `loss = Σ y ⊙ ∂y` by f64 loops, itself checked on the CPU against finite differences of
//! its own forward pass (the one test here that needs no GPU).

mod common;

use common::*;
use spectral_cuda::ops::attention::{
    AttentionDims, AttentionInput, BackwardInput, Buffer, CublasAttention, CublasSaved,
    CublasScratch, Qkv, rope_table,
};
use spectral_cuda::ops::flash_attention::{FlashAttention, FlashSaved, FlashScratch};
use spectral_cuda::{Arena, DType, Gpu, Layout, Slot};

/// One attention problem on the host: the projections' outputs `q, k, v` and the output
/// gradient `dy`, each `[B, T, C]`, optional biases `[C]` and RoPE table `[T, D/2, 2]`.
#[derive(Clone)]
struct Problem {
    dims: AttentionDims,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    dy: Vec<f32>,
    bias: Option<[Vec<f32>; 3]>,
    rope: Option<Vec<f32>>,
}

impl Problem {
    /// Seeded inputs, rounded to `act` where the device stores them in `act` (biases and the
    /// table stay f32), so the oracle sees exactly what the device reads. q and k span
    /// [-1.5, 1.5): scores of a few units, softmax rows neither flat nor one-hot.
    fn new(dims: AttentionDims, bias: bool, rope: bool, act: DType, seed: u64) -> Self {
        let n = dims.elements();
        let c = dims.channels();
        let stored = |x: Vec<f32>| match act {
            DType::BF16 => x.into_iter().map(round_bf16).collect(),
            _ => x,
        };
        Self {
            dims,
            q: stored(uniform(n, 1.5, seed)),
            k: stored(uniform(n, 1.5, seed + 1)),
            v: stored(uniform(n, 1.0, seed + 2)),
            dy: stored(uniform(n, 1.0, seed + 3)),
            bias: bias.then(|| [4, 5, 6].map(|s| uniform(c, 0.5, seed + s))),
            rope: rope.then(|| rope_table(dims.seq, dims.head_dim)),
        }
    }

    /// Every head `(b, h)`.
    fn all_heads(&self) -> Vec<(usize, usize)> {
        let AttentionDims { batch, heads, .. } = self.dims;
        (0..batch)
            .flat_map(|b| (0..heads).map(move |h| (b, h)))
            .collect()
    }
}

/// The oracle's output and gradients, each `[B, T, C]`.
struct Exact {
    y: Vec<f64>,
    dq: Vec<f64>,
    dk: Vec<f64>,
    dv: Vec<f64>,
}

/// The exact forward and backward pass for the heads `heads` (other heads stay 0), in f64
/// loops, by the closed form of softmax attention:
///
/// ```text
/// q'_t = R_t (q_t + b_q),  k'_t = R_t (k_t + b_k),  v'_t = v_t + b_v
/// p_ij = softmax_{j ≤ i}(q'_i · k'_j / √D),  y_i = Σ_j p_ij v'_j
/// ∂v'_j = Σ_i p_ij ∂y_i,  ∂s_ij = p_ij (∂y_i · v'_j − Σ_j' p_ij' ∂y_i · v'_j')
/// ∂q'_i = Σ_j ∂s_ij k'_j / √D,  ∂k'_j = Σ_i ∂s_ij q'_i / √D,  ∂q_t = R_tᵀ ∂q'_t, ∂k_t = R_tᵀ ∂k'_t
/// ```
///
/// with `R_t` the rotation of each pair `(2p, 2p + 1)` by the table's `(cos, sin)`.
fn exact(problem: &Problem, heads: &[(usize, usize)]) -> Exact {
    let AttentionDims {
        seq: t_len,
        head_dim: d,
        ..
    } = problem.dims;
    let c = problem.dims.channels();
    let n = problem.dims.elements();
    let scale = 1.0 / (d as f64).sqrt();
    let rotate = |x: &mut [f64], t: usize, sign: f64| {
        if let Some(table) = &problem.rope {
            for p in 0..d / 2 {
                let cos = f64::from(table[(t * d / 2 + p) * 2]);
                let sin = sign * f64::from(table[(t * d / 2 + p) * 2 + 1]);
                let (x0, x1) = (x[2 * p], x[2 * p + 1]);
                x[2 * p] = x0 * cos - x1 * sin;
                x[2 * p + 1] = x0 * sin + x1 * cos;
            }
        }
    };
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
    let mut out = Exact {
        y: vec![0.0; n],
        dq: vec![0.0; n],
        dk: vec![0.0; n],
        dv: vec![0.0; n],
    };
    for &(b, h) in heads {
        let at = |t: usize| (b * t_len + t) * c + h * d;
        // The head's rows of x + bias, rotated when `rotated`: [T, D].
        let head = |x: &[f32], which: usize, rotated: bool| -> Vec<Vec<f64>> {
            (0..t_len)
                .map(|t| {
                    let mut row: Vec<f64> = (0..d)
                        .map(|e| {
                            let bias = problem.bias.as_ref().map_or(0.0, |b| b[which][h * d + e]);
                            f64::from(x[at(t) + e]) + f64::from(bias)
                        })
                        .collect();
                    if rotated {
                        rotate(&mut row, t, 1.0);
                    }
                    row
                })
                .collect()
        };
        let (q, k, v) = (
            head(&problem.q, 0, true),
            head(&problem.k, 1, true),
            head(&problem.v, 2, false),
        );
        let dy: Vec<Vec<f64>> = (0..t_len)
            .map(|t| (0..d).map(|e| f64::from(problem.dy[at(t) + e])).collect())
            .collect();
        let (mut dq, mut dk) = (vec![vec![0.0; d]; t_len], vec![vec![0.0; d]; t_len]);
        for i in 0..t_len {
            let s: Vec<f64> = (0..=i).map(|j| dot(&q[i], &k[j]) * scale).collect();
            let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|x| (x - max).exp()).collect();
            let total: f64 = e.iter().sum();
            let p: Vec<f64> = e.iter().map(|x| x / total).collect();
            let dp: Vec<f64> = (0..=i).map(|j| dot(&dy[i], &v[j])).collect();
            let delta = dot(&p, &dp);
            for j in 0..=i {
                let ds = p[j] * (dp[j] - delta) * scale;
                for e in 0..d {
                    out.y[at(i) + e] += p[j] * v[j][e];
                    out.dv[at(j) + e] += p[j] * dy[i][e];
                    dq[i][e] += ds * k[j][e];
                    dk[j][e] += ds * q[i][e];
                }
            }
        }
        for t in 0..t_len {
            rotate(&mut dq[t], t, -1.0);
            rotate(&mut dk[t], t, -1.0);
            out.dq[at(t)..at(t) + d].copy_from_slice(&dq[t]);
            out.dk[at(t)..at(t) + d].copy_from_slice(&dk[t]);
        }
    }
    out
}

/// The oracle's gradients are the derivatives of its own forward pass: each entry of ∂q, ∂k,
/// ∂v against the central difference of `Σ y ⊙ ∂y` over a step of 1e-5, with RoPE and biases,
/// on a length that reaches positions with several keys. f64 throughout: the difference's
/// truncation error is O(h²) ≈ 1e-10 and its rounding O(ε/h) ≈ 1e-11, so agreement to 1e-7
/// leaves room and a wrong formula (order-1 errors) cannot pass. Also pinned in closed form:
/// position 0 sees only itself, so y_0 = v_0 + b_v.
#[test]
fn the_oracle_backward_is_the_derivative_of_its_forward() {
    let dims = AttentionDims {
        batch: 2,
        seq: 5,
        heads: 2,
        head_dim: 4,
    };
    let problem = Problem::new(dims, true, true, DType::F32, 7);
    let heads = problem.all_heads();
    let grads = exact(&problem, &heads);
    let loss = |p: &Problem| {
        let y = exact(p, &heads).y;
        y.iter()
            .zip(&p.dy)
            .map(|(y, g)| y * f64::from(*g))
            .sum::<f64>()
    };
    let step = 1e-5f32;
    for (which, grad) in [&grads.dq, &grads.dk, &grads.dv].into_iter().enumerate() {
        for i in 0..dims.elements() {
            let nudged = |sign: f32| {
                let mut p = problem.clone();
                let [q, k, v] = [&mut p.q, &mut p.k, &mut p.v];
                [q, k, v][which][i] += sign * step;
                loss(&p)
            };
            // The step actually taken in f32 (x ± h rounds).
            let x = [&problem.q, &problem.k, &problem.v][which][i];
            let h = f64::from(x + step) - f64::from(x - step);
            let numeric = (nudged(1.0) - nudged(-1.0)) / h;
            assert!(
                (numeric - grad[i]).abs() < 1e-7 + 1e-6 * grad[i].abs(),
                "gradient {which} entry {i}: {} analytic, {numeric} numeric",
                grad[i]
            );
        }
    }
    let c = dims.channels();
    for b in 0..dims.batch {
        for e in 0..c {
            let at = b * dims.seq * c + e;
            let want = f64::from(problem.v[at]) + f64::from(problem.bias.as_ref().unwrap()[2][e]);
            assert!((grads.y[at] - want).abs() < 1e-15, "y_0 of batch {b}");
        }
    }
}

/// The device buffers every attention path reads and writes: its input, `dy` and its output
/// gradients.
struct Io {
    rows: [Slot; 3],
    bias: Option<[Slot; 3]>,
    rope: Option<Slot>,
    y: Slot,
    dy: Slot,
    grads: [Slot; 3],
}

impl Io {
    fn plan(layout: &mut Layout, problem: &Problem, act: DType) -> Self {
        let n = problem.dims.elements();
        let c = problem.dims.channels();
        let mut act_slot = |name: &str| layout.push(name, n, act);
        let rows = ["q", "k", "v"].map(&mut act_slot);
        let (y, dy) = (act_slot("y"), act_slot("dy"));
        let grads = ["dq", "dk", "dv"].map(&mut act_slot);
        let bias = problem
            .bias
            .as_ref()
            .map(|_| ["bq", "bk", "bv"].map(|name| layout.push(name, c, DType::F32)));
        let rope = problem
            .rope
            .as_ref()
            .map(|table| layout.push("rope", table.len(), DType::F32));
        Self {
            rows,
            bias,
            rope,
            y,
            dy,
            grads,
        }
    }

    /// The problem's inputs, and NaN in the outputs.
    fn upload(&self, gpu: &Gpu, arena: &Arena, problem: &Problem) {
        let inputs = [&problem.q, &problem.k, &problem.v, &problem.dy];
        let slots = [self.rows[0], self.rows[1], self.rows[2], self.dy];
        for (slot, x) in slots.into_iter().zip(inputs) {
            upload_act(gpu, arena, slot, x);
        }
        if let (Some(slots), Some(bias)) = (self.bias, &problem.bias) {
            for (slot, b) in slots.into_iter().zip(bias) {
                gpu.upload(arena.ptr(slot), b).unwrap();
            }
        }
        if let (Some(slot), Some(table)) = (self.rope, &problem.rope) {
            gpu.upload(arena.ptr(slot), table).unwrap();
        }
        // NaN in every output, so an entry a kernel leaves unwritten fails the comparison.
        let [dq, dk, dv] = self.grads;
        for slot in [self.y, dq, dk, dv] {
            upload_act(gpu, arena, slot, &vec![f32::NAN; slot.len]);
        }
    }

    fn input(&self, arena: &Arena) -> AttentionInput {
        let qkv = |[q, k, v]: [Slot; 3]| Qkv {
            q: arena.ptr(q),
            k: arena.ptr(k),
            v: arena.ptr(v),
        };
        AttentionInput {
            rows: qkv(self.rows),
            bias: self.bias.map(qkv),
            rope: self.rope.map(|s| arena.ptr(s)),
        }
    }

    fn backward_input(&self, arena: &Arena) -> BackwardInput {
        BackwardInput {
            y: arena.ptr(self.y),
            dy: arena.ptr(self.dy),
            rope: self.rope.map(|s| arena.ptr(s)),
        }
    }

    fn grads(&self, arena: &Arena) -> Qkv {
        let [q, k, v] = self.grads.map(|s| arena.ptr(s));
        Qkv { q, k, v }
    }

    /// y, ∂q, ∂k, ∂v as f32.
    fn outputs(&self, gpu: &Gpu, arena: &Arena) -> [Vec<f32>; 4] {
        let [dq, dk, dv] = self.grads;
        [self.y, dq, dk, dv].map(|slot| download_act(gpu, arena, slot))
    }
}

fn upload_act(gpu: &Gpu, arena: &Arena, slot: Slot, x: &[f32]) {
    match slot.dtype {
        DType::BF16 => gpu.upload(arena.ptr(slot), &bf16_bits(x)).unwrap(),
        _ => gpu.upload(arena.ptr(slot), x).unwrap(),
    }
}

fn download_act(gpu: &Gpu, arena: &Arena, slot: Slot) -> Vec<f32> {
    match slot.dtype {
        DType::BF16 => {
            let mut bits = vec![0u16; slot.len];
            gpu.download(arena.ptr(slot), &mut bits).unwrap();
            from_bf16_bits(&bits)
        }
        _ => {
            let mut x = vec![0f32; slot.len];
            gpu.download(arena.ptr(slot), &mut x).unwrap();
            x
        }
    }
}

/// Plans `buffers` under `prefix` and returns their slots in order.
fn plan<const N: usize>(layout: &mut Layout, prefix: &str, buffers: [Buffer; N]) -> [Slot; N] {
    buffers.map(|b| layout.push(format!("{prefix}{}", b.name), b.len, b.dtype))
}

/// One attention path set up on the device for one problem: its arena, inputs uploaded.
trait Run {
    fn io(&self) -> (&Io, &Arena);
    fn forward(&self, gpu: &Gpu);
    fn backward(&self, gpu: &Gpu);

    /// A forward and a backward pass; y, ∂q, ∂k, ∂v.
    fn step(&self, gpu: &Gpu) -> [Vec<f32>; 4] {
        self.forward(gpu);
        self.backward(gpu);
        let (io, arena) = self.io();
        io.outputs(gpu, arena)
    }
}

/// The cuBLAS path.
struct CublasRun {
    io: Io,
    arena: Arena,
    attention: CublasAttention,
    saved: CublasSaved,
    scratch: CublasScratch,
}

impl CublasRun {
    fn new(gpu: &mut Gpu, problem: &Problem, act: DType) -> Self {
        let dims = problem.dims;
        let mut layout = Layout::new();
        let io = Io::plan(&mut layout, problem, act);
        let saved = plan(&mut layout, "saved.", CublasSaved::buffers(dims, act));
        let scratch = plan(&mut layout, "scratch.", CublasScratch::buffers(dims, act));
        let arena = gpu.arena(&layout).unwrap();
        io.upload(gpu, &arena, problem);
        Self {
            attention: CublasAttention::new(gpu, act, dims).unwrap(),
            saved: CublasSaved::at(saved.map(|s| arena.ptr(s))),
            scratch: CublasScratch::at(scratch.map(|s| arena.ptr(s))),
            io,
            arena,
        }
    }
}

impl Run for CublasRun {
    fn io(&self) -> (&Io, &Arena) {
        (&self.io, &self.arena)
    }

    fn forward(&self, gpu: &Gpu) {
        let (io, arena) = (&self.io, &self.arena);
        let y = arena.ptr(io.y);
        self.attention
            .forward(gpu, &io.input(arena), &self.saved, &self.scratch, y)
            .unwrap();
    }

    fn backward(&self, gpu: &Gpu) {
        let (io, arena) = (&self.io, &self.arena);
        let (input, grads) = (io.backward_input(arena), io.grads(arena));
        self.attention
            .backward(gpu, &input, &self.saved, &self.scratch, &grads)
            .unwrap();
    }
}

/// The FlashAttention-2 path (bf16).
struct FlashRun {
    io: Io,
    arena: Arena,
    attention: FlashAttention,
    saved: FlashSaved,
    scratch: FlashScratch,
}

impl FlashRun {
    fn new(gpu: &mut Gpu, problem: &Problem) -> Self {
        let dims = problem.dims;
        let mut layout = Layout::new();
        let io = Io::plan(&mut layout, problem, DType::BF16);
        let saved = plan(&mut layout, "saved.", FlashSaved::buffers(dims));
        let scratch = plan(&mut layout, "scratch.", FlashScratch::buffers(dims));
        let arena = gpu.arena(&layout).unwrap();
        io.upload(gpu, &arena, problem);
        Self {
            attention: FlashAttention::new(gpu, dims).unwrap(),
            saved: FlashSaved::at(saved.map(|s| arena.ptr(s))),
            scratch: FlashScratch::at(scratch.map(|s| arena.ptr(s))),
            io,
            arena,
        }
    }
}

impl Run for FlashRun {
    fn io(&self) -> (&Io, &Arena) {
        (&self.io, &self.arena)
    }

    fn forward(&self, gpu: &Gpu) {
        let (io, arena) = (&self.io, &self.arena);
        let y = arena.ptr(io.y);
        self.attention
            .forward(gpu, &io.input(arena), &self.saved, y)
            .unwrap();
    }

    fn backward(&self, gpu: &Gpu) {
        let (io, arena) = (&self.io, &self.arena);
        let (input, grads) = (io.backward_input(arena), io.grads(arena));
        self.attention
            .backward(gpu, &input, &self.saved, &self.scratch, &grads)
            .unwrap();
    }
}

/// Milliseconds of one forward and one backward pass, each the mean of 20 after 3 warm-ups
/// (eager launches, timed on the host around a synchronize).
fn time(run: &dyn Run, gpu: &Gpu) -> (f64, f64) {
    let mean = |pass: &dyn Fn()| {
        for _ in 0..3 {
            pass();
        }
        gpu.synchronize().unwrap();
        let start = std::time::Instant::now();
        for _ in 0..20 {
            pass();
        }
        gpu.synchronize().unwrap();
        start.elapsed().as_secs_f64() * 1e3 / 20.0
    };
    run.forward(gpu);
    let forward = mean(&|| run.forward(gpu));
    let backward = mean(&|| {
        run.forward(gpu);
        run.backward(gpu)
    }) - forward;
    (forward, backward)
}

/// ‖got − want‖ / ‖want‖ over the heads `heads` of `[B, T, C]` tensors; the largest |got|
/// where `want` is 0 there (one position: ∂q = ∂k = 0).
fn error_over(dims: AttentionDims, got: &[f32], want: &[f64], heads: &[(usize, usize)]) -> f64 {
    let (c, d) = (dims.channels(), dims.head_dim);
    let (mut g, mut w) = (Vec::new(), Vec::new());
    for &(b, h) in heads {
        for t in 0..dims.seq {
            let at = (b * dims.seq + t) * c + h * d;
            g.extend_from_slice(&got[at..at + d]);
            w.extend_from_slice(&want[at..at + d]);
        }
    }
    if w.iter().all(|x| *x == 0.0) {
        // f64::max drops NaN: an unwritten (NaN) entry must fail here too.
        if g.iter().any(|x| x.is_nan()) {
            return f64::INFINITY;
        }
        return g.iter().map(|x| f64::from(x.abs())).fold(0.0, f64::max);
    }
    relative_error(&g, &w)
}

/// Shapes the oracle checks: lengths on and off the flash kernels' 64-row tiles, one
/// position, both head widths of the models, with and without biases and RoPE.
const CASES: [(AttentionDims, bool, bool); 5] = [
    (dims(2, 70, 3, 32), true, true),
    (dims(1, 263, 2, 32), false, true),
    (dims(2, 130, 2, 64), true, false),
    (dims(3, 1, 2, 64), true, true),
    (dims(1, 64, 1, 64), false, false),
];

const fn dims(batch: usize, seq: usize, heads: usize, head_dim: usize) -> AttentionDims {
    AttentionDims {
        batch,
        seq,
        heads,
        head_dim,
    }
}

/// bf16's unit roundoff, 2⁻⁸ (8 significant bits).
const BF16_U: f64 = 1.0 / 256.0;

/// The relative error bounds of `[y, ∂q, ∂k, ∂v]` against the exact oracle.
///
/// f32 (cuBLAS in true f32, no TF32): each entry is a sum of at most T = 263 products of O(1)
/// terms, rounded at a few stages: about √T·2⁻²⁴ ≈ 1e-6, ten times below the bound.
///
/// bf16: the device rounds Q', K', V' (after bias and rotation), P (or ∂S) and every output
/// to 8 significant bits, each a relative error of at most u = 2⁻⁸ per entry and about u/2 in
/// the norm. y and ∂v pass three such roundings (about 0.6u in the norm when their errors are
/// independent), ∂q and ∂k four, and lose more in `p (∂p − Δ)`, whose terms cancel (about
/// 1.1u); the bounds leave a factor of three.
fn bounds(act: DType) -> [f64; 4] {
    match act {
        DType::BF16 => [2.0 * BF16_U, 3.0 * BF16_U, 3.0 * BF16_U, 2.0 * BF16_U],
        _ => [1e-5; 4],
    }
}

const NAMES: [&str; 4] = ["y", "∂q", "∂k", "∂v"];

fn assert_same_bits(a: &[Vec<f32>; 4], b: &[Vec<f32>; 4], case: &str) {
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    for i in 0..4 {
        assert!(
            bits(&a[i]) == bits(&b[i]),
            "{case}: {} differs between runs",
            NAMES[i]
        );
    }
}

/// The cuBLAS path in both activation types against the oracle on [`CASES`], within
/// [`bounds`].
#[test]
#[ignore = "needs an NVIDIA GPU"]
fn cublas_attention_matches_the_exact_oracle() {
    let mut gpu = gpu();
    for (seed, (dims, bias, rope)) in CASES.into_iter().enumerate() {
        for act in [DType::F32, DType::BF16] {
            let problem = Problem::new(dims, bias, rope, act, 100 + 10 * seed as u64);
            let heads = problem.all_heads();
            let want = exact(&problem, &heads);
            let want = [&want.y, &want.dq, &want.dk, &want.dv];
            let got = CublasRun::new(&mut gpu, &problem, act).step(&gpu);
            let case = format!("cuBLAS {act:?} {dims:?} bias={bias} rope={rope}");
            for i in 0..4 {
                let error = error_over(dims, &got[i], want[i], &heads);
                eprintln!("{case} {}: {error:.2e}", NAMES[i]);
                assert!(error <= bounds(act)[i], "{case} {}: {error:.3e}", NAMES[i]);
            }
        }
    }
}

/// Two forward and backward passes over the same buffers give the same bits (what a replayed
/// CUDA graph relies on): no atomics, no order that depends on timing.
#[test]
#[ignore = "needs an NVIDIA GPU"]
fn cublas_attention_repeats_bit_for_bit() {
    let mut gpu = gpu();
    let (dims, bias, rope) = CASES[0];
    for act in [DType::F32, DType::BF16] {
        let problem = Problem::new(dims, bias, rope, act, 3);
        let run = CublasRun::new(&mut gpu, &problem, act);
        assert_same_bits(&run.step(&gpu), &run.step(&gpu), &format!("cuBLAS {act:?}"));
    }
}

/// The flash kernels against the oracle on [`CASES`], within the bf16 [`bounds`].
#[test]
#[ignore = "needs an NVIDIA GPU"]
fn flash_attention_matches_the_exact_oracle() {
    let mut gpu = gpu();
    for (seed, (dims, bias, rope)) in CASES.into_iter().enumerate() {
        let problem = Problem::new(dims, bias, rope, DType::BF16, 200 + 10 * seed as u64);
        let heads = problem.all_heads();
        let want = exact(&problem, &heads);
        let want = [&want.y, &want.dq, &want.dk, &want.dv];
        let got = FlashRun::new(&mut gpu, &problem).step(&gpu);
        let case = format!("flash {dims:?} bias={bias} rope={rope}");
        for i in 0..4 {
            let error = error_over(dims, &got[i], want[i], &heads);
            eprintln!("{case} {}: {error:.2e}", NAMES[i]);
            assert!(
                error <= bounds(DType::BF16)[i],
                "{case} {}: {error:.3e}",
                NAMES[i]
            );
        }
    }
}

/// Two passes of the flash kernels over the same buffers give the same bits.
#[test]
#[ignore = "needs an NVIDIA GPU"]
fn flash_attention_repeats_bit_for_bit() {
    let mut gpu = gpu();
    for (dims, bias, rope) in [CASES[0], CASES[2]] {
        let problem = Problem::new(dims, bias, rope, DType::BF16, 5);
        let run = FlashRun::new(&mut gpu, &problem);
        assert_same_bits(&run.step(&gpu), &run.step(&gpu), &format!("flash {dims:?}"));
    }
}

/// At the models' shapes (GPT: B 64, T 256, H 12, D 64; SpacingMDN: B 512, T 263, H 8,
/// D 32), the flash and cuBLAS paths in bf16 agree with each other within the sum of their
/// bounds over every head, and each with the oracle on the first and the last head; prints
/// both paths' times.
#[test]
#[ignore = "needs an NVIDIA GPU"]
fn flash_attention_matches_cublas_at_the_model_shapes() {
    let mut gpu = gpu();
    for (name, dims) in [
        ("GPT", dims(64, 256, 12, 64)),
        ("SpacingMDN", dims(512, 263, 8, 32)),
    ] {
        let problem = Problem::new(dims, true, true, DType::BF16, 9);
        let heads = [(0, 0), (dims.batch - 1, dims.heads - 1)];
        let want = exact(&problem, &heads);
        let want = [&want.y, &want.dq, &want.dk, &want.dv];
        let flash = FlashRun::new(&mut gpu, &problem);
        let cublas = CublasRun::new(&mut gpu, &problem, DType::BF16);
        let (f, c) = (flash.step(&gpu), cublas.step(&gpu));
        for i in 0..4 {
            let to_oracle = [&f, &c].map(|got| error_over(dims, &got[i], want[i], &heads));
            let c64: Vec<f64> = c[i].iter().map(|&x| f64::from(x)).collect();
            let between = relative_error(&f[i], &c64);
            eprintln!(
                "{name} {}: flash {:.2e}, cuBLAS {:.2e} against the oracle; {between:.2e} apart",
                NAMES[i], to_oracle[0], to_oracle[1]
            );
            let bound = bounds(DType::BF16)[i];
            assert!(to_oracle.iter().all(|e| *e <= bound), "{name} {}", NAMES[i]);
            assert!(
                between <= 2.0 * bound,
                "{name} {}: {between:.3e} apart",
                NAMES[i]
            );
        }
        let (ff, fb) = time(&flash, &gpu);
        let (cf, cb) = time(&cublas, &gpu);
        eprintln!(
            "{name} {dims:?}: flash {ff:.3} ms forward, {fb:.3} ms backward; \
             cuBLAS {cf:.3} ms forward, {cb:.3} ms backward"
        );
    }
}
