//! `spectral diagnose --ckpt FILE`: the six memory phenomena, a number and a reading each
//! (`train::eval::diagnostics`).

use crate::commands::eval::{CkptArgs, write_json};
use anyhow::Result;
use burn::backend::Autodiff;
use spectral::CpuBackend;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub ckpt: CkptArgs,
}

pub fn run(args: Args) -> Result<()> {
    let device = Default::default();
    let (loaded, data, settings) = args.ckpt.open::<Autodiff<CpuBackend>>(&device)?;
    loaded.require_memory("diagnose")?;
    let report = train::eval::diagnostics::diagnose(&loaded.model, &data, &settings, &device)?;
    print!("{}", train::eval::report::diagnostics_table(&report));
    write_json(args.ckpt.json.as_deref(), &report)
}
