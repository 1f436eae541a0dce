//! Random-matrix statistics of spectra: the exact GUE spacing law and its companions.

pub mod gaudin;
pub mod quadrature;
pub mod surmise;
