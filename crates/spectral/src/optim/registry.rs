//! The registry: each [`Method`] name to its [`MatrixMethod`] implementation. Adding a method
//! adds one line here (see the [module doc](super)).

use super::OptimizerConfig;
use super::manifold_muon::ManifoldMuon;
use super::method::{MatrixMethod, Method};
use super::muon::Muon;
use super::spectra::Spectra;
use super::spectra_teon::spectra_teon;
use super::teon::teon;
use burn::tensor::backend::Backend;

/// The implementation of `config.method`, built from its settings. AdamW has
/// none: with `method = "adamw"` the matrices are AdamW's like every other parameter.
pub fn matrix_method<B: Backend>(config: &OptimizerConfig) -> Option<Box<dyn MatrixMethod<B>>> {
    Some(match config.method {
        Method::AdamW => return None,
        Method::Muon => Box::new(Muon::new(config.muon)),
        Method::Teon => Box::new(teon(config.muon, config.teon.clone())),
        Method::Spectra => Box::new(Spectra::new(config.spectra)),
        Method::SpectraTeon => Box::new(spectra_teon(config.spectra, config.teon.clone())),
        Method::ManifoldMuon => Box::new(ManifoldMuon::new(config.manifold_muon)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_but_adamw_is_registered_under_its_serde_name() {
        for method in Method::ALL {
            let config = OptimizerConfig {
                method,
                ..Default::default()
            };
            let built = matrix_method::<crate::CpuBackend>(&config);
            assert_eq!(built.is_none(), method == Method::AdamW, "{method:?}");
            let serde_name = serde_json::to_string(&method).unwrap();
            assert_eq!(serde_name, format!("\"{}\"", method.name()));
            assert_eq!(method.name().parse::<Method>(), Ok(method));
        }
    }
}
