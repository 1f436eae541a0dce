// GELU of a linear layer's output plus its bias, forward and backward, in one pass each over
// memory (compiled at run time by NVRTC; see bias_gelu_cuda.rs). The exact (erf) GELU, as burn's
// `gelu` and PyTorch's default:
//   y = gelu(z + bias),        gelu(u) = u Φ(u) = u (1 + erf(u / √2)) / 2
//   ∂z = ∂y gelu'(z + bias),  gelu'(u) = Φ(u) + u φ(u),  φ(u) = exp(−u² / 2) / √(2π)
// Layouts (row-major, f32): z, y, dy, dz [rows, n] with n a multiple of 4; bias [n].
// Grid (⌈n / 4 / 256⌉, min(rows, 65535)), 256 threads: a thread owns four columns and walks
// the rows.

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

__device__ __forceinline__ float gelu(float u) {
    return 0.5f * u * (1.0f + erff(u * INV_SQRT2));
}

__device__ __forceinline__ float gelu_grad(float u) {
    return 0.5f * (1.0f + erff(u * INV_SQRT2)) + u * INV_SQRT_2PI * expf(-0.5f * u * u);
}

extern "C" __global__ void __launch_bounds__(256)
bias_gelu_forward(const float* __restrict__ z, const float* __restrict__ bias,
                  float* __restrict__ y, long long rows, int n) {
    const int col4 = blockIdx.x * blockDim.x + threadIdx.x;
    if (col4 * 4 >= n) return;
    const float4 b = reinterpret_cast<const float4*>(bias)[col4];
    for (long long row = blockIdx.y; row < rows; row += gridDim.y) {
        const long long at = row * (n / 4) + col4;
        const float4 u = reinterpret_cast<const float4*>(z)[at];
        reinterpret_cast<float4*>(y)[at] =
            make_float4(gelu(u.x + b.x), gelu(u.y + b.y), gelu(u.z + b.z), gelu(u.w + b.w));
    }
}

extern "C" __global__ void __launch_bounds__(256)
bias_gelu_backward(const float* __restrict__ z, const float* __restrict__ bias,
                   const float* __restrict__ dy, float* __restrict__ dz, long long rows, int n) {
    const int col4 = blockIdx.x * blockDim.x + threadIdx.x;
    if (col4 * 4 >= n) return;
    const float4 b = reinterpret_cast<const float4*>(bias)[col4];
    for (long long row = blockIdx.y; row < rows; row += gridDim.y) {
        const long long at = row * (n / 4) + col4;
        const float4 u = reinterpret_cast<const float4*>(z)[at];
        const float4 g = reinterpret_cast<const float4*>(dy)[at];
        reinterpret_cast<float4*>(dz)[at] =
            make_float4(g.x * gelu_grad(u.x + b.x), g.y * gelu_grad(u.y + b.y),
                        g.z * gelu_grad(u.z + b.z), g.w * gelu_grad(u.w + b.w));
    }
}
