//! A linear layer followed by GELU, `gelu(x W + b)`, with the bias and the GELU in one kernel
//! on burn's CUDA backend, forward and backward.
//!
//! burn fuses the bias add and its `gelu` into its own element-wise kernels; this is one
//! kernel each way on a GPU. Both paths differentiate the exact (erf) GELU exactly,
//! `Φ(u) + u φ(u)`, as PyTorch does: burn's path is [`gelu_exact`] of the layer's output, the
//! GELU written as burn's element-wise ops, because burn 0.21's own `gelu` backward is the
//! derivative of the tanh approximation (about 5e-4 relative off per element). One
//! process-wide switch, [`set_gelu_kernel`] (`--gelu`), chooses the fused kernel; the default,
//! and the only choice on a CPU, is burn's ops.

use super::switch::{Switch, switch_enum};
use burn::nn::Linear;
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor};

switch_enum! {
    /// Who computes `gelu(x W + b)`'s bias and GELU.
    pub enum GeluKernel ("gelu kernel") {
        /// burn's `gelu` of the layer's output. The default, on every backend.
        Burn = "burn",
        /// One kernel for bias and GELU (and one for their backward) on burn's CUDA backend in
        /// f32; anywhere else burn's.
        Fused = "fused",
    }
}

static KERNEL: Switch = Switch::new();

/// Sets who computes the bias and GELU, for the whole process.
pub fn set_gelu_kernel(kernel: GeluKernel) {
    KERNEL.set(kernel);
}

/// The current choice (see [`set_gelu_kernel`]).
pub fn gelu_kernel() -> GeluKernel {
    KERNEL.get()
}

/// `gelu(x W + b)` for burn's `Linear` (`W: [d_in, d_out]`, burn's layout) and
/// `x: [batch, tokens, d_in]` → `[batch, tokens, d_out]`, with the exact (erf) GELU;
/// differentiable on an autodiff backend.
///
/// With [`GeluKernel::Fused`] on burn's CUDA backend in f32 and `d_out` a multiple of 4, the
/// product runs through [`matmul`](super::matmul) and the bias and GELU in one kernel;
/// otherwise this is `gelu(`[`linear`](super::linear)`(layer, x))`.
pub fn linear_gelu<B: Backend>(layer: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let d_out = layer.weight.dims()[1];
    if !fuses::<B>(x.dtype(), d_out) {
        return gelu_exact(super::linear(layer, x));
    }
    let z = super::matmul(x, layer.weight.val().unsqueeze::<3>()); // [batch, tokens, d_out]
    let bias = match &layer.bias {
        Some(bias) => bias.val(),
        None => Tensor::zeros([d_out], &z.device()),
    };
    #[cfg(feature = "cuda")]
    return super::bias_gelu_cuda::bias_gelu(z, bias);
    #[cfg(not(feature = "cuda"))]
    unreachable!("nothing fuses without CUDA: {:?}", (z.dims(), bias.dims()))
}

/// Whether the fused kernel runs for `dtype` tensors of width `d_out` on backend `B` (always
/// no without the `cuda` feature, where `B` goes unused).
/// The exact GELU `½·u·(1 + erf(u/√2))` as burn's element-wise ops, in the order of burn's
/// `gelu` (the same values), so that autodiff differentiates it exactly: `Φ(u) + u φ(u)`
/// through erf's derivative `2/√π·e^(−x²)`. burn 0.21's `gelu` has this forward but the tanh
/// approximation's derivative in its backward.
pub fn gelu_exact<B: Backend, const D: usize>(u: Tensor<B, D>) -> Tensor<B, D> {
    let cdf = u
        .clone()
        .div_scalar(std::f64::consts::SQRT_2)
        .erf()
        .add_scalar(1.0);
    u.mul(cdf).div_scalar(2.0)
}

#[cfg_attr(not(feature = "cuda"), allow(clippy::extra_unused_type_parameters))]
fn fuses<B: Backend>(dtype: DType, d_out: usize) -> bool {
    #[cfg(feature = "cuda")]
    if gelu_kernel() == GeluKernel::Fused {
        return super::bias_gelu_cuda::supports::<B>(dtype, d_out);
    }
    let _ = (dtype, d_out);
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend as B;
    use burn::nn::LinearConfig;
    use burn::tensor::Distribution;
    use burn::tensor::TensorData;
    use burn::tensor::activation::gelu;

    /// Names round-trip; the process starts on burn's; and on the CPU, even with `fused`
    /// chosen, `linear_gelu` is burn's `gelu(linear(x))` to the bit.
    #[test]
    fn names_round_trip_and_the_cpu_keeps_burns_gelu() {
        for kernel in [GeluKernel::Burn, GeluKernel::Fused] {
            assert_eq!(kernel.to_string().parse::<GeluKernel>(), Ok(kernel));
        }
        assert!("tanh".parse::<GeluKernel>().is_err());
        assert_eq!(gelu_kernel(), GeluKernel::Burn);
        let device = Default::default();
        let layer = LinearConfig::new(6, 8).init::<B>(&device);
        let x = Tensor::<B, 3>::random([2, 3, 6], Distribution::Normal(0.0, 1.0), &device);
        set_gelu_kernel(GeluKernel::Fused);
        let ours = linear_gelu(&layer, x.clone());
        set_gelu_kernel(GeluKernel::Burn);
        ours.into_data()
            .assert_eq(&gelu(layer.forward(x)).into_data(), true);
    }

    /// `gelu_exact`'s values are burn's `gelu`'s, and its gradient is the exact derivative
    /// `Φ(x) + x φ(x)` (closed form in f64), where burn's own gelu gradient is off by more
    /// than 1e-5.
    #[test]
    fn gelu_exact_has_the_exact_gradient() {
        use burn::backend::{Autodiff, NdArray};
        type A = Autodiff<NdArray<f64>>;
        let device = Default::default();
        let points: Vec<f64> = (0..81).map(|i| -4.0 + 0.1 * i as f64).collect();
        let u = || {
            let data = TensorData::new(points.clone(), [points.len()]); // f64 elements
            Tensor::<A, 1>::from_data(data, &device).require_grad()
        };
        let exact = u();
        gelu_exact(exact.clone())
            .into_data()
            .assert_eq(&gelu(u()).into_data(), true);
        let values =
            |t: Tensor<A, 1>| -> Vec<f64> { t.into_data().convert::<f64>().to_vec().unwrap() };
        let grad = |x: Tensor<A, 1>, y: Tensor<A, 1>| -> Vec<f64> {
            let grads = y.sum().backward();
            values(Tensor::from_inner(x.grad(&grads).unwrap()))
        };
        let ours = grad(exact.clone(), gelu_exact(exact));
        let theirs = {
            let x = u();
            grad(x.clone(), gelu(x))
        };
        // Φ(x) + x φ(x) in f64, erf from its series of positive terms (relative error < 1e-15).
        let erf = |x: f64| {
            let (x2, mut term, mut n) = (x * x, x, 0.0);
            let mut sum = x;
            while term.abs() > 1e-17 * sum.abs() {
                n += 1.0;
                term *= 2.0 * x2 / (2.0 * n + 1.0);
                sum += term;
            }
            2.0 / std::f64::consts::PI.sqrt() * (-x2).exp() * sum
        };
        let exact_grad = |x: f64| {
            let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
            0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2)) + x * pdf
        };
        let mut burn_worst = 0.0f64;
        for ((&x, ours), theirs) in points.iter().zip(ours).zip(theirs) {
            let want = exact_grad(x);
            // 1e-7: burn-autodiff's erf derivative multiplies by its constants (2, √π) as f32
            // scalars, ~3e-8 relative.
            assert!((ours - want).abs() < 1e-7, "at {x}: {ours} vs {want}");
            burn_worst = burn_worst.max((theirs - want).abs());
        }
        assert!(
            burn_worst > 1e-5,
            "burn's gelu gradient is the tanh form's: {burn_worst}"
        );
    }
}
