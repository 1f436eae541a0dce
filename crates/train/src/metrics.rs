//! `metrics.jsonl`: one JSON object per logged step, appended and flushed as it is written, so
//! a crash loses nothing already logged. On resume the log is cut back to the checkpoint's
//! step (the steps after it run again) and a line torn by a crash is dropped; that repair
//! replaces the file atomically, so a kill while it happens leaves the log as it was.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// One line of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Steps completed (1-based: the record after the first optimizer step has step 1).
    pub step: u64,
    /// Training loss of this step's batch (nats per target).
    pub train_loss: f64,
    /// Validation loss (nats per target), on evaluation steps only.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub val_loss: Option<f64>,
    /// Learning rate of the matrix group at this step.
    pub lr: f64,
    /// Global L2 norm of the gradient before clipping.
    pub grad_norm: f64,
    /// Training targets per second over the last logging interval.
    pub tokens_per_s: f64,
    /// Seconds since the run (or the resumed run) started.
    pub wall_s: f64,
    /// Seconds spent inside the optimizer's `step` since the run (or the resumed run) started,
    /// like `wall_s` cumulative; 0 in logs written before it was recorded. On a GPU it times
    /// the host side of the step (kernels are asynchronous) unless the backend synchronizes.
    #[serde(default)]
    pub optim_s: f64,
}

/// Appends records to a JSON-lines file.
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Opens `path` for appending, first dropping records after `keep_through_step` (all of
    /// them for a fresh run: pass 0) and any line that is not a whole record (the tail a
    /// crash tore). The file is rewritten, atomically, only when something is dropped.
    pub fn open(path: &Path, keep_through_step: u64) -> std::io::Result<Self> {
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let lines: Vec<&str> = text.lines().collect();
        let kept: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|line| {
                serde_json::from_str::<Record>(line).is_ok_and(|r| r.step <= keep_through_step)
            })
            .collect();
        if kept.len() != lines.len() || !(text.is_empty() || text.ends_with('\n')) {
            let mut repaired = String::new();
            for line in &kept {
                repaired.push_str(line);
                repaired.push('\n');
            }
            spectral_io::write_atomic(path, repaired.as_bytes()).map_err(|e| e.source)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&mut self, record: &Record) -> std::io::Result<()> {
        let line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        writeln!(self.file, "{line}")?;
        self.file.flush()
    }

    /// Every record of a log file.
    pub fn read(path: &Path) -> std::io::Result<Vec<Record>> {
        BufReader::new(File::open(path)?)
            .lines()
            .map(|line| serde_json::from_str(&line?).map_err(std::io::Error::other))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(step: u64) -> Record {
        Record {
            step,
            train_loss: 1.0 / step as f64,
            val_loss: step.is_multiple_of(2).then_some(0.5),
            lr: 1e-3,
            grad_norm: 0.25,
            tokens_per_s: 1000.0,
            wall_s: step as f64,
            optim_s: step as f64 / 4.0,
        }
    }

    #[test]
    fn records_round_trip_and_resume_cuts_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&path, 0).unwrap();
        for step in 1..=5 {
            log.write(&record(step)).unwrap();
        }
        drop(log);
        assert_eq!(
            MetricsLog::read(&path).unwrap(),
            (1..=5).map(record).collect::<Vec<_>>()
        );
        let mut log = MetricsLog::open(&path, 3).unwrap();
        log.write(&record(4)).unwrap();
        drop(log);
        assert_eq!(
            MetricsLog::read(&path).unwrap(),
            (1..=4).map(record).collect::<Vec<_>>()
        );
        // A fresh run starts an empty log.
        MetricsLog::open(&path, 0).unwrap();
        assert!(MetricsLog::read(&path).unwrap().is_empty());
    }

    /// A line torn by a crash is dropped; a log with nothing to drop is not rewritten (its
    /// inode stays: appended to, never truncated).
    #[test]
    fn a_torn_line_is_dropped_and_a_whole_log_is_only_appended_to() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&path, 0).unwrap();
        for step in 1..=3 {
            log.write(&record(step)).unwrap();
        }
        drop(log);
        let inode = std::fs::metadata(&path).unwrap().ino();
        let mut log = MetricsLog::open(&path, 3).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode);
        log.write(&record(4)).unwrap();
        drop(log);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"step":5,"train_lo"#);
        std::fs::write(&path, text).unwrap();
        let mut log = MetricsLog::open(&path, 10).unwrap();
        log.write(&record(5)).unwrap();
        drop(log);
        assert_eq!(
            MetricsLog::read(&path).unwrap(),
            (1..=5).map(record).collect::<Vec<_>>()
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn logs_without_optim_s_still_read() {
        let line = r#"{"step":3,"train_loss":1.5,"lr":0.01,"grad_norm":0.5,"tokens_per_s":10.0,"wall_s":2.0}"#;
        let record: Record = serde_json::from_str(line).unwrap();
        assert_eq!((record.step, record.wall_s, record.optim_s), (3, 2.0, 0.0));
    }
}
