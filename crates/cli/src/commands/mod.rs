pub mod bench;
pub mod bench_init;
pub mod bench_train;
pub mod run;
pub mod stats;
pub mod train;
pub mod unfold;
pub mod zeros;
