//! `spectral diagnose --ckpt FILE`: the six memory phenomena, a number and a reading each
//! (`train::eval::diagnostics`).

use crate::commands::eval::{CkptArgs, write_json};
use anyhow::Result;
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use experiments::device::{Job, on_device};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub ckpt: CkptArgs,
}

pub fn run(args: Args) -> Result<()> {
    on_device(args.ckpt.device, Diagnose(&args.ckpt))
}

struct Diagnose<'a>(&'a CkptArgs);

impl Job for Diagnose<'_> {
    type Output = ();
    type Error = anyhow::Error;
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let args = self.0;
        let (loaded, data, settings) = args.open::<Autodiff<B>>(device)?;
        loaded.require_memory("diagnose")?;
        let report = train::eval::diagnostics::diagnose(&loaded.model, &data, &settings, device)?;
        print!("{}", train::eval::report::diagnostics_table(&report));
        write_json(args.json.as_deref(), &report)
    }
}
