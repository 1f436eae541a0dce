//! The init section: the table of `spectral bench init --summarize` (its own summarizer,
//! [`crate::init_bench::summary`]) for every directory of bench-init run records.

use super::{Result, Section, all_files, read_json, relative};
use crate::init_bench::{Config, RunRecord, Summary, summary};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `target` of the `summary.json` in `dir` or its parent (the benchmark's default when
/// there is none); a `summary.json` that is not one of [`Summary`] is an error naming it.
fn target_for(dir: &Path) -> Result<f64> {
    match [Some(dir), dir.parent()]
        .into_iter()
        .flatten()
        .map(|d| d.join("summary.json"))
        .find(|p| p.is_file())
    {
        Some(path) => Ok(read_json::<Summary>(&path)?.args.target),
        None => Ok(Config::default().target),
    }
}

/// One block per directory holding bench-init records (`*.json` that parse as one);
/// `None` when there is none.
pub fn section(root: &Path) -> Result<Option<Section>> {
    let mut groups: BTreeMap<PathBuf, Vec<RunRecord>> = BTreeMap::new();
    for path in all_files(root)? {
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        // Other JSON files (eval, slots, sweeps, summaries) are not records: skip them.
        if let Ok(record) = read_json::<RunRecord>(&path) {
            let dir = path.parent().unwrap_or(root).to_path_buf();
            groups.entry(dir).or_default().push(record);
        }
    }
    if groups.is_empty() {
        return Ok(None);
    }
    let mut md = String::from(
        "## Init\n\nThe table of `spectral bench init --summarize`: each init at the lr with the lowest mean final validation loss, mean ± std (sample std, n − 1) over its seeds.\n\n",
    );
    for (dir, records) in &groups {
        let target = target_for(dir)?;
        let (table, _) = summary(records, target);
        md += &format!(
            "From {} records in `{}` (target {target}):\n\n{table}\n",
            records.len(),
            relative(dir, root)
        );
    }
    Ok(Some(Section {
        title: "Init",
        markdown: md,
    }))
}
