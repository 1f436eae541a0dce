//! Weight initializations, all acting on matrices in burn's `[d_in, d_out]` layout
//! (`fan_in = d_in`, the rows): M23-Spectrum ([`m23`]), and the baselines Xavier ([`xavier`]),
//! He ([`he`]) and orthogonal ([`orthogonal`]), and two controls with M23-seed's Frobenius
//! norm but other spectra ([`m23_scale_controls`]); [`apply`] redraws every Linear and Conv2d
//! weight of a burn module.
//!
//! Every matrix is drawn on the host in f64 from a `u64` seed, so an init is the same on
//! every backend and device.

pub mod apply;
pub mod he;
pub mod m23;
pub mod m23_scale_controls;
pub mod orthogonal;
pub mod xavier;

use faer::Mat;
use serde::{Deserialize, Serialize};

pub use apply::{apply_init, apply_init_where, apply_m23_init};
pub use m23::{
    Complex64, M23_CONDITION, M23Scale, generate_m23_stable_spectrum, m23_singular_values,
    mgi_init_stable,
};

/// Which initialization a layer gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// M23-Spectrum at the notes' scale (spectral radius `√(2/fan_in)`).
    M23Seed,
    /// M23-Spectrum at the variance-preserving scale (`‖W‖_F² = 2·d_out`, like He).
    M23Preserving,
    /// He / Kaiming normal, `N(0, 2/fan_in)`.
    He,
    /// Xavier / Glorot normal, `N(0, 2/(fan_in + fan_out))`.
    Xavier,
    /// Haar orthogonal with gain 1.
    Orthogonal,
    /// Control: Gaussian, rescaled to M23-seed's Frobenius norm at that shape.
    GaussianM23Scale,
    /// Control: Haar (semi-)orthogonal, rescaled to M23-seed's Frobenius norm (flat spectrum).
    OrthogonalM23Scale,
}

impl Init {
    pub const ALL: [Init; 7] = [
        Init::M23Seed,
        Init::M23Preserving,
        Init::He,
        Init::Xavier,
        Init::Orthogonal,
        Init::GaussianM23Scale,
        Init::OrthogonalM23Scale,
    ];

    /// The name used in configs and on the command line (`m23_seed`, `he`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Init::M23Seed => "m23_seed",
            Init::M23Preserving => "m23_preserving",
            Init::He => "he",
            Init::Xavier => "xavier",
            Init::Orthogonal => "orthogonal",
            Init::GaussianM23Scale => "gaussian_m23_scale",
            Init::OrthogonalM23Scale => "orthogonal_m23_scale",
        }
    }
}

impl std::fmt::Display for Init {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Init {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Init::ALL
            .into_iter()
            .find(|i| i.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Init::ALL.iter().map(|i| i.name()).collect();
                format!("unknown init {s:?}; expected one of {}", names.join(", "))
            })
    }
}

/// A `[d_in, d_out]` matrix (burn's layout) drawn by `init` from `seed`, in f64.
pub fn init_matrix(init: Init, d_in: usize, d_out: usize, seed: u64) -> Mat<f64> {
    match init {
        Init::M23Seed => mgi_init_stable(d_in, d_out, M23Scale::Seed, seed),
        Init::M23Preserving => mgi_init_stable(d_in, d_out, M23Scale::Preserving, seed),
        Init::He => he::he_host(d_in, d_out, seed),
        Init::Xavier => xavier::xavier_host(d_in, d_out, seed),
        Init::Orthogonal => orthogonal::orthogonal_host(d_in, d_out, 1.0, seed),
        Init::GaussianM23Scale => m23_scale_controls::gaussian_m23_scale(d_in, d_out, seed),
        Init::OrthogonalM23Scale => m23_scale_controls::orthogonal_m23_scale(d_in, d_out, seed),
    }
}

/// A seed for sub-stream `k` of `seed` (SplitMix64 finalizer of `seed + (k+1)·φ`): distinct,
/// well-mixed seeds for the parts of one draw.
pub fn split_seed(seed: u64, k: u64) -> u64 {
    let mut z = seed.wrapping_add(k.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_init_name_round_trips_through_str_and_serde() {
        for init in Init::ALL {
            assert_eq!(init.name().parse::<Init>(), Ok(init));
            let json = serde_json::to_string(&init).unwrap();
            assert_eq!(json, format!("\"{}\"", init.name()));
        }
        assert!(
            "m23"
                .parse::<Init>()
                .unwrap_err()
                .contains("gaussian_m23_scale")
        );
    }
}
