//! `spectral slots --ckpt FILE`: zero- and mean-ablate every memory slot; eff%, rollout Δ
//! and their labels (`train::eval::slots`).

use crate::commands::eval::{CkptArgs, write_json};
use anyhow::Result;
use spectral::CpuBackend;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub ckpt: CkptArgs,
}

pub fn run(args: Args) -> Result<()> {
    let device = Default::default();
    let (loaded, data, settings) = args.ckpt.open::<CpuBackend>(&device)?;
    loaded.require_memory("ablate")?;
    let report = train::eval::slots::slot_ablations(&loaded.model, &data, &settings, &device)?;
    print!("{}", train::eval::report::slots_table(&report));
    write_json(args.ckpt.json.as_deref(), &report)
}
