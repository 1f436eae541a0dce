//! `spectral zeta-z --t T1,T2,...`: Hardy's Z(t), the zero count N(t) and S(t) at heights
//! given as decimals (read in double-double, so `1000000000000.0625` means what it says).

use anyhow::Result;
use spectral_zeta::at_height::{parse_height, values_at};

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
    /// One JSON object per height instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    if !args.json {
        println!("{:>28} {:>22} {:>16} {:>18}", "t", "Z(t)", "N(t)", "S(t)");
    }
    for text in &args.heights {
        let values = values_at(parse_height(text)?)?;
        let t = text.trim();
        if args.json {
            println!(
                "{{\"t\": \"{t}\", \"z\": {:e}, \"n\": {}, \"s\": {:e}}}",
                values.z, values.count, values.s
            );
        } else {
            println!(
                "{t:>28} {:>22.15e} {:>16} {:>18.12}",
                values.z, values.count, values.s
            );
        }
    }
    Ok(())
}
