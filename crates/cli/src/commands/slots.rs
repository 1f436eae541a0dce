//! `spectral slots --ckpt FILE`: zero- and mean-ablate every memory slot; eff%, rollout Δ
//! and their labels (`spectral_train::eval::slots`).

use crate::commands::eval::CkptArgs;
use anyhow::Result;
use burn::tensor::backend::Backend;
use spectral_train::devices::{BackendDevices, DeviceJob, DeviceSet, on_devices};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub ckpt: CkptArgs,
}

pub fn run(args: Args) -> Result<()> {
    args.ckpt.kernels.apply()?;
    on_devices(&DeviceSet::one(args.ckpt.device)?, Ablate(&args.ckpt))
}

struct Ablate<'a>(&'a CkptArgs);

impl DeviceJob for Ablate<'_> {
    type Output = Result<()>;
    fn run<B: Backend>(self, devices: BackendDevices<B>) -> Result<()> {
        let (args, device) = (self.0, &devices.devices[0]);
        let (loaded, data, settings) = args.open::<B>(device, Some("ablate"))?;
        let report =
            spectral_train::eval::slots::slot_ablations(&loaded.model, &data, &settings, device)?;
        let console = args.console();
        console.print(&spectral_train::eval::report::slots_table(&report));
        console.write_json(args.json.as_deref(), &report)
    }
}
