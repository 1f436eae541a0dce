//! `spectral diagnose --ckpt FILE`: the six memory phenomena, a number and a reading each
//! (`spectral_train::eval::diagnostics`).

use crate::commands::eval::CkptArgs;
use anyhow::Result;
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use spectral_train::devices::{BackendDevices, DeviceJob, DeviceSet, on_devices};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub ckpt: CkptArgs,
}

pub fn run(args: Args) -> Result<()> {
    args.ckpt.kernels.apply()?;
    on_devices(&DeviceSet::one(args.ckpt.device)?, Diagnose(&args.ckpt))
}

struct Diagnose<'a>(&'a CkptArgs);

impl DeviceJob for Diagnose<'_> {
    type Output = Result<()>;
    fn run<B: Backend>(self, devices: BackendDevices<B>) -> Result<()> {
        let (args, device) = (self.0, &devices.devices[0]);
        let (loaded, data, settings) = args.open::<Autodiff<B>>(device, Some("diagnose"))?;
        let report =
            spectral_train::eval::diagnostics::diagnose(&loaded.model, &data, &settings, device)?;
        let console = args.console();
        console.print(&spectral_train::eval::report::diagnostics_table(&report));
        console.write_json(args.json.as_deref(), &report)
    }
}
