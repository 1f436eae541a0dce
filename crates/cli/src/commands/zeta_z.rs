//! `spectral zeta-z --t T1,T2,...`: Hardy's Z(t), the zero count N(t) and S(t) at heights
//! given as decimals (read in double-double, so `1000000000000.0625` means what it says).

use crate::output::Console;
use anyhow::Result;
use spectral_zeta::at_height::{parse_height, values_at};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Heights t, comma-separated decimals, 9 ≤ t ≤ 7.05e12.
    #[arg(
        long = "t",
        value_delimiter = ',',
        required = true,
        allow_hyphen_values = true
    )]
    pub heights: Vec<String>,
    /// Also write the values as a JSON array (one object per height: t as given, z, n, s) to
    /// FILE (`-`: stdout, the table then on stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let console = Console::for_outputs(&[args.json.as_deref()]);
    console.line(&format!(
        "{:>28} {:>22} {:>16} {:>18}",
        "t", "Z(t)", "N(t)", "S(t)"
    ));
    let mut rows = Vec::with_capacity(args.heights.len());
    for text in &args.heights {
        let values = values_at(parse_height(text)?)?;
        let t = text.trim();
        console.line(&format!(
            "{t:>28} {:>22.15e} {:>16} {:>18.12}",
            values.z, values.count, values.s
        ));
        rows.push(serde_json::json!({"t": t, "z": values.z, "n": values.count, "s": values.s}));
    }
    console.write_json(args.json.as_deref(), &rows)
}
