//! `SvdLinear`: a Linear `y = x W + b` replaced by two, `y = (x A) B + b`.

use super::LowRank;
use crate::linalg::exact::from_faer;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// A rank-`k` Linear in burn's layout: `a: [d_in, k]` without bias, then `b: [k, d_out]` with
/// the original bias. Input `[..., d_in]` → output `[..., d_out]`; `k (d_in + d_out)` weight
/// parameters instead of `d_in d_out`.
#[derive(Module, Debug)]
pub struct SvdLinear<B: Backend> {
    /// `d_in → k`, no bias.
    pub a: Linear<B>,
    /// `k → d_out`, the original bias.
    pub b: Linear<B>,
}

impl<B: Backend> SvdLinear<B> {
    /// From factors (f64, rounded to the backend's float) and the original Linear's bias.
    pub fn new(factors: &LowRank, bias: Option<Tensor<B, 1>>, device: &B::Device) -> Self {
        Self {
            a: Linear {
                weight: Param::from_tensor(from_faer(&factors.a, device)),
                bias: None,
            },
            b: Linear {
                weight: Param::from_tensor(from_faer(&factors.b, device)),
                bias: bias.map(Param::from_tensor),
            },
        }
    }

    /// `[..., d_in]` → `[..., d_out]`.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        self.b.forward(self.a.forward(x))
    }

    /// The rank `k`.
    pub fn rank(&self) -> usize {
        self.a.weight.dims()[1]
    }

    /// The equivalent dense Linear, weight `A B` `[d_in, d_out]` (computed on the device).
    pub fn to_dense(&self) -> Linear<B> {
        Linear {
            weight: Param::from_tensor(self.a.weight.val().matmul(self.b.weight.val())),
            bias: self.b.bias.as_ref().map(|b| Param::from_tensor(b.val())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend as B;
    use crate::compress::Spectrum;
    use crate::linalg::exact::{from_faer, to_faer};
    use burn::tensor::{Distribution, Tolerance};

    #[test]
    fn two_linears_match_the_truncated_product_and_keep_the_bias() {
        let device = Default::default();
        let w: Tensor<B, 2> = Tensor::random([12, 10], Distribution::Normal(0.0, 1.0), &device);
        let bias: Tensor<B, 1> = Tensor::random([10], Distribution::Normal(0.0, 1.0), &device);
        let x: Tensor<B, 3> = Tensor::random([2, 5, 12], Distribution::Normal(0.0, 1.0), &device);
        let spectrum = Spectrum::plain(&to_faer(w.clone())).unwrap();
        let factors = spectrum.truncate(4);
        let layer = SvdLinear::new(&factors, Some(bias.clone()), &device);
        assert_eq!(layer.rank(), 4);
        assert_eq!(layer.num_params(), 4 * (12 + 10) + 10);
        // Oracle: x (A B) + b with A B formed in f64.
        let dense = from_faer::<B>(&factors.product(), &device);
        let want = x.clone().matmul(dense.unsqueeze::<3>()) + bias.clone().unsqueeze::<3>();
        let got = layer.forward(x.clone());
        // f32 rounding of two matmuls over 12 and 4 terms of O(1) entries.
        got.to_data()
            .assert_approx_eq::<f32>(&want.to_data(), Tolerance::absolute(1e-4));
        layer
            .to_dense()
            .forward(x)
            .to_data()
            .assert_approx_eq::<f32>(&got.to_data(), Tolerance::absolute(1e-4));
        // Full rank reproduces the layer.
        let full = SvdLinear::<B>::new(&spectrum.truncate(10), Some(bias.clone()), &device);
        full.to_dense()
            .weight
            .val()
            .to_data()
            .assert_approx_eq::<f32>(&w.to_data(), Tolerance::absolute(1e-5));
    }
}
