fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(2_000_000);
    let start = std::time::Instant::now();
    let mut last = 0.0;
    let v = zeta::compute_zeros(1, n, |_, b| {
        last = *b.last().unwrap();
        Ok(())
    })
    .unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} zeros in {secs:.2}s ({:.0}/s), last {last}, refine evals/zero {:.2}",
        n as f64 / secs,
        v.refine_evaluations as f64 / n as f64
    );
    println!("{}", v.summary());
}
