//! `spectral slots --ckpt FILE`: zero- and mean-ablate every memory slot; eff%, rollout Δ
//! and their labels (`spectral_train::eval::slots`).

use crate::commands::eval::{CkptArgs, write_json};
use anyhow::Result;
use burn::tensor::backend::Backend;
use spectral_experiments::device::{Job, on_device};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub ckpt: CkptArgs,
}

pub fn run(args: Args) -> Result<()> {
    on_device(args.ckpt.device, Ablate(&args.ckpt))
}

struct Ablate<'a>(&'a CkptArgs);

impl Job for Ablate<'_> {
    type Output = ();
    type Error = anyhow::Error;
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let args = self.0;
        let (loaded, data, settings) = args.open::<B>(device)?;
        loaded.require_memory("ablate")?;
        let report =
            spectral_train::eval::slots::slot_ablations(&loaded.model, &data, &settings, device)?;
        print!("{}", spectral_train::eval::report::slots_table(&report));
        write_json(args.json.as_deref(), &report)
    }
}
