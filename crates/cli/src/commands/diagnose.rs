//! `spectral diagnose --ckpt FILE`: the six memory phenomena, a number and a reading each
//! (`spectral_train::eval::diagnostics`).

use crate::commands::eval::{CkptArgs, write_json};
use anyhow::Result;
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use spectral_experiments::device::{Job, on_device};

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
        let report =
            spectral_train::eval::diagnostics::diagnose(&loaded.model, &data, &settings, device)?;
        print!(
            "{}",
            spectral_train::eval::report::diagnostics_table(&report)
        );
        write_json(args.json.as_deref(), &report)
    }
}
