// The main sums of Riemann–Siegel at many heights at once: phase_sum.rs's kernel on a GPU,
// with the same exact phase reduction, term for term.
//
// For each point p and n = 1..=terms[p], with φ_n = θ_p − t_p·ln n and a_n = n^{-1/2}:
//   out[3p]   = Σ a_n cos φ_n
//   out[3p+1] = Σ a_n sin φ_n
//   out[3p+2] = Σ a_n ln n · sin φ_n
// Layouts (f64 unless said): t_hi, t_lo, theta: [points] (the height t_hi + t_lo in
// double-double, θ(t) reduced modulo 2π); terms: [points] i32; the table ln_hi, ln_lo,
// amplitude, amplitude_ln: [table_terms], index i holding n = i + 1 (ln n in double-double,
// n^{-1/2}, ln_hi·n^{-1/2}); out: [points, 3].
//
// One block of BLOCK threads takes POINTS consecutive points, so each table entry is read once
// for all of them; thread j takes n = j + 1, j + 1 + BLOCK, … The block sums its threads in a
// fixed order, so a result depends on its inputs alone. Every product whose rounding matters
// is written out (__dmul_rn, fma) so that no contraction changes it.

#ifndef BLOCK
#define BLOCK 256
#endif
#ifndef POINTS
#define POINTS 4
#endif

#define TWO_PI_HI 6.283185307179586
#define TWO_PI_LO 2.4492935982947064e-16
#define INV_TWO_PI 0.15915494309189535

// (sin x, cos x) for |x| ≤ 3.9, absolute error ≲ 2e-16: phase_sum.rs's sin_cos_small.
__device__ __forceinline__ void sin_cos_small(double x, double* sin_out, double* cos_out) {
    const double FRAC_2_PI = 0.6366197723675814;
    const double PI_2_HI = 1.5707963267948966;
    const double PI_2_LO = 6.123233995736766e-17;
    const double q = rint(__dmul_rn(x, FRAC_2_PI));
    const double y = fma(q, -PI_2_LO, fma(q, -PI_2_HI, x));
    const double y2 = __dmul_rn(y, y);
    double s = fma(y2, -7.647163731819816e-13, 1.6059043836821613e-10);
    s = fma(y2, s, -2.505210838544172e-8);
    s = fma(y2, s, 2.755731922398589e-6);
    s = fma(y2, s, -1.984126984126984e-4);
    s = fma(y2, s, 8.333333333333333e-3);
    s = fma(y2, s, -0.16666666666666666);
    const double sin_y = fma(y, __dmul_rn(y2, s), y);
    double c = fma(y2, 4.779477332387385e-14, -1.1470745597729725e-11);
    c = fma(y2, c, 2.08767569878681e-9);
    c = fma(y2, c, -2.7557319223985894e-7);
    c = fma(y2, c, 2.4801587301587302e-5);
    c = fma(y2, c, -1.388888888888889e-3);
    c = fma(y2, c, 4.1666666666666664e-2);
    c = fma(y2, c, -0.5);
    const double cos_y = fma(y2, c, 1.0);
    // Rotate back by q quarter turns, q ∈ {−2, …, 2}.
    const bool odd = q == 1.0 || q == -1.0;
    const double s1 = odd ? cos_y : sin_y;
    const double c1 = odd ? sin_y : cos_y;
    const bool cos_negative = !(q >= -1.5 && q <= 0.5);
    const bool sin_negative = !(q >= -0.5 && q <= 1.5);
    *sin_out = sin_negative ? -s1 : s1;
    *cos_out = cos_negative ? -c1 : c1;
}

// (sin φ, cos φ) of φ = θ − t·ln n: phase_sum.rs's term_sin_cos (its t_lo = 0 instance gives
// the same bits, since fma(0, hi, x) = x).
__device__ __forceinline__ void term_sin_cos(double t_hi, double t_lo, double theta, double hi,
                                             double lo, double* s, double* c) {
    const double p = __dmul_rn(t_hi, hi);
    const double e = fma(t_hi, hi, -p);
    const double k = rint(__dmul_rn(p, INV_TWO_PI));
    double r = fma(k, -TWO_PI_HI, p);
    double small = fma(t_hi, lo, e);
    small = fma(t_lo, hi, small);
    r = __dadd_rn(fma(k, -TWO_PI_LO, r), small);
    double phi = __dsub_rn(theta, r);
    phi = fma(rint(__dmul_rn(phi, INV_TWO_PI)), -TWO_PI_HI, phi);
    sin_cos_small(phi, s, c);
}

__device__ __forceinline__ double warp_sum_f64(double x) {
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

extern "C" __global__ void __launch_bounds__(BLOCK)
phase_sums(const double* __restrict__ t_hi, const double* __restrict__ t_lo,
           const double* __restrict__ theta, const int* __restrict__ terms,
           const double* __restrict__ ln_hi, const double* __restrict__ ln_lo,
           const double* __restrict__ amplitude, const double* __restrict__ amplitude_ln,
           double* __restrict__ out, int points) {
    const int first = blockIdx.x * POINTS;
    double th[POINTS], tl[POINTS], ph[POINTS];
    int n_terms[POINTS];
    int most = 0;
#pragma unroll
    for (int p = 0; p < POINTS; ++p) {
        const bool live = first + p < points;
        th[p] = live ? t_hi[first + p] : 0.0;
        tl[p] = live ? t_lo[first + p] : 0.0;
        ph[p] = live ? theta[first + p] : 0.0;
        n_terms[p] = live ? terms[first + p] : 0;
        most = max(most, n_terms[p]);
    }
    double cos_acc[POINTS], sin_acc[POINTS], sin_ln_acc[POINTS];
#pragma unroll
    for (int p = 0; p < POINTS; ++p) cos_acc[p] = sin_acc[p] = sin_ln_acc[p] = 0.0;

    for (int i = threadIdx.x; i < most; i += BLOCK) {
        const double hi = ln_hi[i], lo = ln_lo[i], a = amplitude[i], al = amplitude_ln[i];
#pragma unroll
        for (int p = 0; p < POINTS; ++p) {
            if (i < n_terms[p]) {
                double s, c;
                term_sin_cos(th[p], tl[p], ph[p], hi, lo, &s, &c);
                cos_acc[p] = fma(a, c, cos_acc[p]);
                sin_acc[p] = fma(a, s, sin_acc[p]);
                sin_ln_acc[p] = fma(al, s, sin_ln_acc[p]);
            }
        }
    }

    // Warps sum by shuffles, then thread 0 adds the warps' sums in order.
    __shared__ double partial[BLOCK / 32][3 * POINTS];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
    for (int p = 0; p < POINTS; ++p) {
        const double c = warp_sum_f64(cos_acc[p]);
        const double s = warp_sum_f64(sin_acc[p]);
        const double sl = warp_sum_f64(sin_ln_acc[p]);
        if (lane == 0) {
            partial[warp][3 * p] = c;
            partial[warp][3 * p + 1] = s;
            partial[warp][3 * p + 2] = sl;
        }
    }
    __syncthreads();
    if (threadIdx.x < 3 * POINTS && first + threadIdx.x / 3 < points) {
        double sum = 0.0;
        for (int w = 0; w < BLOCK / 32; ++w) sum += partial[w][threadIdx.x];
        out[3 * first + threadIdx.x] = sum;
    }
}
