//! `spectral spectrum --ckpt FILE [--out DIR] [--compare FILE2]`: singular-value statistics of
//! every matrix of a checkpoint (ours or a PyTorch state_dict in safetensors), the modular
//! norm; a table, and with --out the JSON and charts.

use crate::output::Console;
use anyhow::Result;
use spectral::analyze::{analyze_file, table, to_json, write_outputs};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A safetensors file: our checkpoint (compressed or not) or a PyTorch state_dict.
    #[arg(long)]
    pub ckpt: PathBuf,
    /// Directory for spectrum.json, singular_values.{svg,png} and energy.{svg,png}.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the statistics (as DIR/spectrum.json) to FILE (`-`: stdout, the table then
    /// on stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// A second file to put side by side (e.g. another optimizer or init).
    #[arg(long)]
    pub compare: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let report = analyze_file(&args.ckpt)?;
    let other = args.compare.as_deref().map(analyze_file).transpose()?;
    let console = Console::for_outputs(&[args.json.as_deref()]);
    console.print(&table(&report, other.as_ref()));
    if let Some(path) = &args.json {
        spectral_io::write_atomic(path, to_json(&report, other.as_ref()).as_bytes())?;
    }
    if let Some(dir) = &args.out {
        let mut written = write_outputs(dir, &report, other.as_ref())?;
        let json = dir.join("spectrum.json");
        spectral_io::write_atomic(&json, to_json(&report, other.as_ref()).as_bytes())?;
        written.insert(0, json);
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        console.line(&format!("wrote {}", names.join(", ")));
    }
    Ok(())
}
