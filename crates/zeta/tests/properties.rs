//! Properties of computed zeros at random places up to index 3·10⁶: Z changes sign across
//! each, they increase, spacings are positive, and each lies near its Gram interval.

use proptest::prelude::*;
use spectral_zeta::hardy_z::z;
use spectral_zeta::theta::theta;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn zeros_are_sign_changes_in_order(first in 1u64..3_000_000, count in 1u64..40) {
        let zeros = spectral_zeta::zeros(first, count).unwrap();
        prop_assert_eq!(zeros.len() as u64, count);
        for (i, &gamma) in zeros.iter().enumerate() {
            let n = first + i as u64;
            // Z is ~1e-14 accurate and |Z'| ≳ 0.1 at a zero: ±1e-7 is far outside the noise.
            let eps = 1e-7 * gamma.max(1.0).sqrt().sqrt();
            prop_assert!(z(gamma - eps) * z(gamma + eps) < 0.0, "no sign change at γ_{}", n);
            // N(t) = θ(t)/π + 1 + S(t) with |S| < 2.5 here, and N(γ_n) = n − 1/2 at a simple zero.
            let offset = theta(gamma) / std::f64::consts::PI + 1.0 - (n as f64 - 0.5);
            prop_assert!(offset.abs() < 2.5, "γ_{} is {} Gram intervals from its place", n, offset);
        }
        for pair in zeros.windows(2) {
            prop_assert!(pair[1] > pair[0]);
            prop_assert!(spectral_zeta::unfold::unfolded_spacing(pair[0], pair[1]) > 0.0);
        }
    }
}
