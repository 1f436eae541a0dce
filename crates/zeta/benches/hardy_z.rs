//! Kernel benchmarks: the Riemann–Siegel main sum per term, and one Z evaluation at the
//! heights of the 10⁶-th zero. Run: `cargo bench -p zeta --bench hardy_z`.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};

fn phase_sums(c: &mut Criterion) {
    let mut group = c.benchmark_group("phase_sums");
    let terms = 400;
    group.throughput(Throughput::Elements(terms as u64));
    group.bench_function("400 terms at t=1e6", |b| {
        b.iter(|| spectral_zeta::phase_sum::phase_sums(black_box(1.0e6), black_box(0.3), terms))
    });
    group.finish();
    c.bench_function("z_and_derivative t=6e5", |b| {
        b.iter(|| spectral_zeta::hardy_z::z_and_derivative(black_box(600_269.5)))
    });
    c.bench_function("gram_point n=1e6", |b| {
        b.iter(|| spectral_zeta::theta::gram_point(black_box(1_000_000)))
    });
    c.bench_function("theta_mod_two_pi t=6e5", |b| {
        b.iter(|| spectral_zeta::theta::theta_mod_two_pi(black_box(600_269.5)))
    });
}

criterion_group!(benches, phase_sums);
criterion_main!(benches);
