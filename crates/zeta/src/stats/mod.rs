//! Random-matrix statistics of spectra: the exact GUE spacing law and its companions,
//! and distances between samples and laws.

pub mod comparison;
pub mod distance;
pub mod empirical;
pub mod gaudin;
pub mod gue;
pub mod gue_sample;
pub mod quadrature;
pub mod report;
pub mod surmise;
