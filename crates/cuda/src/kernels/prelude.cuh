// The engine's prelude, compiled before every kernel source (nvrtc.rs): bf16 as raw bits, its
// conversions, and the warp and block reductions the row kernels share. No toolkit headers:
// the GPU host needs only the driver and libnvrtc.

typedef unsigned short bf16;

// bf16 -> f32 is exact: the bf16 bits are the top half of an f32.
__device__ __forceinline__ float to_float(bf16 x) { return __uint_as_float(((unsigned)x) << 16); }
__device__ __forceinline__ float to_float(float x) { return x; }

// f32 -> bf16, rounded to nearest even (NaN stays NaN); sm_80 and later.
__device__ __forceinline__ bf16 to_bf16(float x) {
    unsigned short r;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(x));
    return r;
}

// Two f32 -> one register of two bf16, `lo` in the low half (the layout mma.sync expects).
__device__ __forceinline__ unsigned pack_bf16x2(float lo, float hi) {
    unsigned r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

// Stores an f32 into an element of either storage type.
__device__ __forceinline__ void store(float* p, float x) { *p = x; }
__device__ __forceinline__ void store(bf16* p, float x) { *p = to_bf16(x); }

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
    return x;
}

// The sum of x over the block (blockDim.x a multiple of 32, at most 1024), returned to every
// thread. `scratch` is 32 floats of shared memory; the function synchronizes the block twice.
__device__ __forceinline__ float block_sum(float x, float* scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    x = warp_sum(x);
    __syncthreads();
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    x = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(x);
}

__device__ __forceinline__ float block_max(float x, float* scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    x = warp_max(x);
    __syncthreads();
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    x = lane < warps ? scratch[lane] : -__int_as_float(0x7f800000);
    return warp_max(x);
}
