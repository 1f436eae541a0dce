//! Learning-rate schedule: linear warmup, then cosine decay to a floor.

use serde::{Deserialize, Serialize};

/// `factor(step)` multiplies every group's base learning rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Schedule {
    /// Steps of linear warmup from 0 to 1 (the first step uses 1/warmup_steps).
    pub warmup_steps: u64,
    /// Step at which the cosine reaches its floor (usually the run's total steps).
    pub total_steps: u64,
    /// Floor of the factor as a fraction of the peak (nanoGPT uses 0.1).
    pub min_factor: f64,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            warmup_steps: 100,
            total_steps: 5000,
            min_factor: 0.1,
        }
    }
}

impl Schedule {
    /// Factor for 0-based `step`: `(step + 1) / warmup_steps` during warmup, then
    /// `min + (1 − min)·(1 + cos(π·p))/2` with `p` the fraction of the decay done, then `min`.
    pub fn factor(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return (step + 1) as f64 / self.warmup_steps as f64;
        }
        let decay_steps = self.total_steps.saturating_sub(self.warmup_steps).max(1);
        let progress = ((step - self.warmup_steps) as f64 / decay_steps as f64).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.min_factor + (1.0 - self.min_factor) * cosine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_peak_midpoint_and_floor() {
        let schedule = Schedule {
            warmup_steps: 10,
            total_steps: 110,
            min_factor: 0.1,
        };
        assert!((schedule.factor(0) - 0.1).abs() < 1e-15);
        assert!((schedule.factor(9) - 1.0).abs() < 1e-15);
        assert!((schedule.factor(10) - 1.0).abs() < 1e-15);
        // Halfway through the decay the cosine term is 1/2.
        assert!((schedule.factor(60) - 0.55).abs() < 1e-12);
        assert!((schedule.factor(110) - 0.1).abs() < 1e-15);
        assert!((schedule.factor(10_000) - 0.1).abs() < 1e-15);
    }

    #[test]
    fn decay_is_monotone() {
        let schedule = Schedule::default();
        let factors: Vec<f64> = (schedule.warmup_steps..schedule.total_steps + 10)
            .map(|s| schedule.factor(s))
            .collect();
        assert!(factors.windows(2).all(|w| w[1] <= w[0]));
    }
}
