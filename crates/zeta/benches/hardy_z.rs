//! Kernel benchmarks: the Riemann–Siegel main sum per term (heights that are f64, and
//! heights carried in double-double), and one Z evaluation at the heights of the 10⁶-th and
//! the 10¹²-th zero. Run: `cargo bench -p spectral-zeta --bench hardy_z`.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use spectral_zeta::DoubleDouble;

fn phase_sums(c: &mut Criterion) {
    let mut group = c.benchmark_group("phase_sums");
    let terms = 400;
    group.throughput(Throughput::Elements(terms as u64));
    group.bench_function("400 terms at t=1e6", |b| {
        let t = DoubleDouble::from_f64(1.0e6);
        b.iter(|| spectral_zeta::phase_sum::phase_sums(black_box(t), black_box(0.3), terms))
    });
    group.bench_function("400 terms at t=1e6 + 1e-11 (double-double)", |b| {
        let t = DoubleDouble::from_f64(1.0e6) + 1e-11;
        b.iter(|| spectral_zeta::phase_sum::phase_sums(black_box(t), black_box(0.3), terms))
    });
    group.finish();
    c.bench_function("z_and_derivative t=6e5", |b| {
        b.iter(|| spectral_zeta::hardy_z::z_and_derivative(black_box(600_269.5)))
    });
    c.bench_function("z_and_derivative t=2.7e11 (γ near index 1e12)", |b| {
        let t = DoubleDouble::parse_decimal("267653395648.625948242142").unwrap();
        b.iter(|| spectral_zeta::hardy_z::z_and_derivative(black_box(t)))
    });
    c.bench_function("gram_point n=1e6", |b| {
        b.iter(|| spectral_zeta::theta::gram_point(black_box(1_000_000)))
    });
    c.bench_function("theta_mod_two_pi t=6e5", |b| {
        let t = DoubleDouble::from_f64(600_269.5);
        b.iter(|| spectral_zeta::theta::theta_mod_two_pi(black_box(t)))
    });
}

criterion_group!(benches, phase_sums);
criterion_main!(benches);
