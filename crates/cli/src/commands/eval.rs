//! `spectral eval --ckpt FILE`: NLL, MAE, CRPS, PIT, Err@H, rollout distribution and
//! mem_entropy of a SpacingMDN on its validation split (`spectral_train::eval::suite`).

use crate::output::Console;
use anyhow::Result;
use burn::tensor::backend::Backend;
use spectral::DeviceKind;
use spectral_train::devices::{BackendDevices, DeviceJob, DeviceSet, on_devices};
use spectral_train::eval::{EvalSettings, Loaded, load_spacing_mdn};
use std::path::PathBuf;

/// What all three evaluation commands take.
#[derive(clap::Args)]
pub struct CkptArgs {
    /// A SpacingMDN checkpoint (`last.safetensors` or `best.safetensors` of a run).
    #[arg(long)]
    pub ckpt: PathBuf,
    /// Spacing file instead of the one named in the checkpoint's config.
    #[arg(long)]
    pub spacings: Option<PathBuf>,
    /// Also write the results as JSON to FILE (`-`: stdout, the table then on stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Rollouts (validation windows of seq_len + 100 spacings).
    #[arg(long, default_value_t = 64, value_parser = at_least_one())]
    pub rollouts: usize,
    /// Validation windows scored one step ahead; default the run's eval_windows.
    #[arg(long, value_parser = at_least_one())]
    pub windows: Option<usize>,
    /// `cpu`, or `cuda[:N]` in a binary built with `--features cuda` (a full-size model's
    /// rollouts take many minutes on a CPU).
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,
    #[command(flatten)]
    pub kernels: crate::kernels::KernelArgs,
}

/// A count of at least 1 (0 windows or rollouts would score nothing).
pub(crate) fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
}

impl CkptArgs {
    /// Where the table goes (stderr when `--json -` takes stdout).
    pub fn console(&self) -> Console {
        Console::for_outputs(&[self.json.as_deref()])
    }

    /// The checkpoint's model, its data and the settings, every check made (the memory bank
    /// when `memory_for` names what is done to its slots) before a note is printed.
    pub fn open<B: burn::tensor::backend::Backend>(
        &self,
        device: &B::Device,
        memory_for: Option<&'static str>,
    ) -> Result<(
        Loaded<B>,
        spectral_train::data::SpacingDataset,
        EvalSettings,
    )> {
        crate::output::check_output_dirs(&[self.json.as_deref()])?;
        let loaded = load_spacing_mdn::<B>(&self.ckpt, device)?;
        if let Some(what) = memory_for {
            loaded.require_memory(what)?;
        }
        let data = loaded.dataset(self.spacings.as_deref())?;
        let mut settings = EvalSettings::for_run(&loaded.config);
        settings.rollouts = self.rollouts;
        if let Some(windows) = self.windows {
            settings.windows = windows;
        }
        for note in settings.fit(data.split())? {
            eprintln!("note: {note}");
        }
        Ok((loaded, data, settings))
    }
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub ckpt: CkptArgs,
}

pub fn run(args: Args) -> Result<()> {
    args.ckpt.kernels.apply()?;
    on_devices(&DeviceSet::one(args.ckpt.device)?, Evaluate(&args.ckpt))
}

struct Evaluate<'a>(&'a CkptArgs);

impl DeviceJob for Evaluate<'_> {
    type Output = Result<()>;
    fn run<B: Backend>(self, devices: BackendDevices<B>) -> Result<()> {
        let (args, device) = (self.0, &devices.devices[0]);
        let (loaded, data, settings) = args.open::<B>(device, None)?;
        let report =
            spectral_train::eval::suite::evaluate(&loaded.model, &data, &settings, device)?;
        let console = args.console();
        console.print(&spectral_train::eval::report::eval_table(&report));
        console.write_json(args.json.as_deref(), &report)
    }
}
