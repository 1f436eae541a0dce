//! The zeros and counts against Arb's (python-flint) values: `data/zeta_zeros_reference.txt`
//! and `data/zeta_counts_reference.txt` come from `shared/data`, `data/zeros_high_reference.txt`
//! from `data/make_reference.py`.

fn table(text: &str) -> Vec<(u64, f64)> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut fields = line.split_whitespace();
            let n = fields.next().unwrap().parse().unwrap();
            let value = fields.next().unwrap().parse().unwrap();
            (n, value)
        })
        .collect()
}

/// Every reference zero to absolute error ≤ 1e-9. The f64 result itself carries the
/// rounding of γ (ulp 1.2e-10 at 10⁶), so this is what double precision can promise.
fn check_zeros(text: &str) {
    for (n, want) in table(text) {
        let got = spectral_zeta::zeros(n, 1).unwrap()[0];
        assert!(
            (got - want).abs() <= 1e-9,
            "γ_{n} = {got}, Arb {want}, error {:e}",
            got - want
        );
    }
}

#[test]
fn zeros_match_arb() {
    check_zeros(include_str!("data/zeta_zeros_reference.txt"));
}

#[test]
fn zeros_near_index_three_million_match_arb() {
    check_zeros(include_str!("data/zeros_high_reference.txt"));
}

#[test]
fn counts_match_arb_exactly() {
    for (t, want) in table(include_str!("data/zeta_counts_reference.txt")) {
        assert_eq!(
            spectral_zeta::count_up_to(t as f64).unwrap(),
            want as u64,
            "N({t})"
        );
    }
}
