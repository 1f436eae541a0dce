//! A synthetic video for frame interpolation: textured shapes that move and rotate over a
//! textured, slowly panning background, rendered in code from a seed (no files).
//!
//! A **clip** is `frames` consecutive RGB frames of `size × size` pixels, each stored
//! channel-major `[3, size, size]` (row `y` down, column `x` right), values in `[0, 1]`. Its
//! scene is a pure function of the clip's seed:
//!
//! ```text
//! background(p, t) = base + Σ_{k<3} a_k · sin(2π f_k·(p − v_bg t) + φ_k)     (per channel)
//! shape i at t:      centre c_i + v_i t, angle θ_i + ω_i t, radius r_i,
//!                    kind ∈ {disc, square, triangle}, colour = stripes of two colours
//!                    along the shape's own x axis (so a spin is visible, even on a disc)
//! ```
//!
//! Shapes are painted in order over the background with an anti-aliased edge (coverage
//! `clamp(½ − d, 0, 1)`, `d` the signed distance to the edge in pixels), so motion is
//! continuous at sub-pixel scale. Speeds are in pixels per frame, spins in radians per frame.
//!
//! A **triplet** is three consecutive frames `(f0, f1, f2)` of a clip; the interpolation task
//! is `(f0, f2) → f1`. [`FrameTriplets`] holds every triplet of a range of clip seeds.
//! Training sets use seeds `0..n`; held-out sets use seeds from [`HELD_OUT_SEEDS`] on, so the
//! two never share a clip.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use std::f64::consts::PI;
use std::ops::Range;

use super::sampling::splitmix64;

/// First clip seed of held-out sets (training sets use seeds below it).
pub const HELD_OUT_SEEDS: u64 = 1 << 40;

/// How the clips look and move.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VideoConfig {
    /// Frame width and height in pixels.
    pub size: usize,
    /// Shapes per clip.
    pub shapes: usize,
    /// Largest shape speed, pixels per frame.
    pub max_speed: f64,
    /// Largest shape spin, radians per frame.
    pub max_spin: f64,
    /// Background pan speed, pixels per frame.
    pub background_speed: f64,
}

impl Default for VideoConfig {
    /// 64×64, 3 shapes, up to 2 px and 0.15 rad per frame (so 4 px and 0.3 rad between the two
    /// input frames of a triplet), background pan 0.5 px per frame.
    fn default() -> Self {
        Self {
            size: 64,
            shapes: 3,
            max_speed: 2.0,
            max_spin: 0.15,
            background_speed: 0.5,
        }
    }
}

/// Uniform draws from SplitMix64 (Steele, Lea & Flood 2014), seeded per clip.
struct Stream(u64);

impl Stream {
    fn new(seed: u64) -> Self {
        Self(splitmix64(seed ^ 0x5E_EDF4_A3E5))
    }

    /// Uniform in `[0, 1)` (53 bits).
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        (splitmix64(self.0) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    fn colour(&mut self) -> [f64; 3] {
        [self.uniform(), self.uniform(), self.uniform()]
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Disc,
    Square,
    Triangle,
}

#[derive(Clone, Debug)]
struct Shape {
    kind: Kind,
    centre: [f64; 2],
    velocity: [f64; 2],
    angle: f64,
    spin: f64,
    radius: f64,
    colours: [[f64; 3]; 2],
    stripe_period: f64,
}

/// One sinusoidal component of the background: frequency vector (cycles per pixel), phase,
/// per-channel amplitude.
#[derive(Clone, Debug)]
struct Wave {
    frequency: [f64; 2],
    phase: f64,
    amplitude: [f64; 3],
}

/// Everything a clip's frames are rendered from.
#[derive(Clone, Debug)]
struct Scene {
    size: usize,
    base: [f64; 3],
    waves: Vec<Wave>,
    pan: [f64; 2],
    shapes: Vec<Shape>,
}

impl Scene {
    fn new(config: &VideoConfig, seed: u64) -> Self {
        let mut rng = Stream::new(seed);
        let s = config.size as f64;
        let base = [
            rng.range(0.25, 0.75),
            rng.range(0.25, 0.75),
            rng.range(0.25, 0.75),
        ];
        let waves = (0..3)
            .map(|_| {
                let period = rng.range(6.0, 24.0);
                let direction = rng.range(0.0, 2.0 * PI);
                Wave {
                    frequency: [direction.cos() / period, direction.sin() / period],
                    phase: rng.range(0.0, 2.0 * PI),
                    amplitude: [
                        rng.range(0.0, 0.1),
                        rng.range(0.0, 0.1),
                        rng.range(0.0, 0.1),
                    ],
                }
            })
            .collect();
        let pan_direction = rng.range(0.0, 2.0 * PI);
        let pan = [
            config.background_speed * pan_direction.cos(),
            config.background_speed * pan_direction.sin(),
        ];
        let shapes = (0..config.shapes)
            .map(|_| {
                let kind = match (rng.uniform() * 3.0) as usize {
                    0 => Kind::Disc,
                    1 => Kind::Square,
                    _ => Kind::Triangle,
                };
                let speed = config.max_speed * rng.uniform();
                let heading = rng.range(0.0, 2.0 * PI);
                Shape {
                    kind,
                    centre: [rng.range(0.15 * s, 0.85 * s), rng.range(0.15 * s, 0.85 * s)],
                    velocity: [speed * heading.cos(), speed * heading.sin()],
                    angle: rng.range(0.0, 2.0 * PI),
                    spin: rng.range(-config.max_spin, config.max_spin),
                    radius: rng.range(0.1 * s, 0.22 * s),
                    colours: [rng.colour(), rng.colour()],
                    stripe_period: rng.range(3.0, 8.0),
                }
            })
            .collect();
        Self {
            size: config.size,
            base,
            waves,
            pan,
            shapes,
        }
    }

    /// Frame `t` as `[3, size, size]` channel-major, in `[0, 1]`.
    fn render(&self, t: f64) -> Vec<f32> {
        let n = self.size;
        let mut out = vec![0.0f32; 3 * n * n];
        for y in 0..n {
            for x in 0..n {
                // Pixel centres at integer + ½.
                let p = [x as f64 + 0.5, y as f64 + 0.5];
                let mut rgb = self.background(p, t);
                for shape in &self.shapes {
                    let (coverage, colour) = shape.sample(p, t);
                    if coverage > 0.0 {
                        for c in 0..3 {
                            rgb[c] = rgb[c] * (1.0 - coverage) + colour[c] * coverage;
                        }
                    }
                }
                for c in 0..3 {
                    out[(c * n + y) * n + x] = rgb[c].clamp(0.0, 1.0) as f32;
                }
            }
        }
        out
    }

    fn background(&self, p: [f64; 2], t: f64) -> [f64; 3] {
        let q = [p[0] - self.pan[0] * t, p[1] - self.pan[1] * t];
        let mut rgb = self.base;
        for w in &self.waves {
            let s = (2.0 * PI * (w.frequency[0] * q[0] + w.frequency[1] * q[1]) + w.phase).sin();
            for (value, amplitude) in rgb.iter_mut().zip(w.amplitude) {
                *value += amplitude * s;
            }
        }
        rgb
    }
}

impl Shape {
    /// (coverage in `[0, 1]`, colour) of pixel centre `p` at time `t`.
    fn sample(&self, p: [f64; 2], t: f64) -> (f64, [f64; 3]) {
        let centre = [
            self.centre[0] + self.velocity[0] * t,
            self.centre[1] + self.velocity[1] * t,
        ];
        let angle = self.angle + self.spin * t;
        let (sin, cos) = angle.sin_cos();
        let (dx, dy) = (p[0] - centre[0], p[1] - centre[1]);
        // The pixel in the shape's own frame (rotated by −angle).
        let (u, v) = (cos * dx + sin * dy, -sin * dx + cos * dy);
        let r = self.radius;
        let distance = match self.kind {
            Kind::Disc => (u * u + v * v).sqrt() - r,
            Kind::Square => u.abs().max(v.abs()) - r / std::f64::consts::SQRT_2,
            // Equilateral, circumradius r: inradius r/2, edge normals at 90°, 210°, 330°.
            Kind::Triangle => {
                [PI / 2.0, 7.0 * PI / 6.0, 11.0 * PI / 6.0]
                    .iter()
                    .map(|a| u * a.cos() + v * a.sin())
                    .fold(f64::NEG_INFINITY, f64::max)
                    - r / 2.0
            }
        };
        let coverage = (0.5 - distance).clamp(0.0, 1.0);
        let mix = 0.5 + 0.5 * (2.0 * PI * u / self.stripe_period).sin();
        let [a, b] = self.colours;
        (
            coverage,
            [
                a[0] * (1.0 - mix) + b[0] * mix,
                a[1] * (1.0 - mix) + b[1] * mix,
                a[2] * (1.0 - mix) + b[2] * mix,
            ],
        )
    }
}

/// The `frames` consecutive frames (`t = 0, 1, …`) of clip `seed`, each `[3, size, size]`.
pub fn render_clip(config: &VideoConfig, seed: u64, frames: usize) -> Vec<Vec<f32>> {
    let scene = Scene::new(config, seed);
    (0..frames).map(|t| scene.render(t as f64)).collect()
}

/// Every triplet `(f_t, f_{t+1}, f_{t+2})` of a set of clips, as three stacks of frames.
#[derive(Clone, Debug)]
pub struct FrameTriplets {
    /// Frame side in pixels.
    pub size: usize,
    /// `[N, 3, size, size]` each, triplet-major: the inputs `f0`, `f2` and the target `f1`.
    pub f0: Vec<f32>,
    pub f1: Vec<f32>,
    pub f2: Vec<f32>,
}

impl FrameTriplets {
    /// The `frames_per_clip − 2` triplets of every clip in `seeds`, clip by clip.
    pub fn generate(config: &VideoConfig, seeds: Range<u64>, frames_per_clip: usize) -> Self {
        assert!(frames_per_clip >= 3, "a triplet needs 3 frames per clip");
        let mut set = Self {
            size: config.size,
            f0: Vec::new(),
            f1: Vec::new(),
            f2: Vec::new(),
        };
        for seed in seeds {
            let clip = render_clip(config, seed, frames_per_clip);
            for w in clip.windows(3) {
                set.f0.extend_from_slice(&w[0]);
                set.f1.extend_from_slice(&w[1]);
                set.f2.extend_from_slice(&w[2]);
            }
        }
        set
    }

    /// Values in one frame, `3·size²`.
    pub fn frame_len(&self) -> usize {
        3 * self.size * self.size
    }

    /// Number of triplets N.
    pub fn len(&self) -> usize {
        self.f1.len() / self.frame_len()
    }

    pub fn is_empty(&self) -> bool {
        self.f1.is_empty()
    }

    /// Frame `i` of a stack (`&self.f0`, ...): `[3, size, size]`.
    pub fn frame<'a>(&self, stack: &'a [f32], i: usize) -> &'a [f32] {
        let n = self.frame_len();
        &stack[i * n..(i + 1) * n]
    }

    /// Triplets `indices` as tensors `(f0, f1, f2)`, each `[indices.len(), 3, size, size]`.
    pub fn batch<B: Backend>(
        &self,
        indices: &[usize],
        device: &B::Device,
    ) -> (Tensor<B, 4>, Tensor<B, 4>, Tensor<B, 4>) {
        let shape = [indices.len(), 3, self.size, self.size];
        let stack = |frames: &[f32]| {
            let values: Vec<f32> = indices
                .iter()
                .flat_map(|&i| self.frame(frames, i).iter().copied())
                .collect();
            Tensor::<B, 4>::from_data(TensorData::new(values, shape), device)
        };
        (stack(&self.f0), stack(&self.f1), stack(&self.f2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_abs_diff(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from((x - y).abs()))
            .sum::<f64>()
            / a.len() as f64
    }

    #[test]
    fn clips_are_deterministic_per_seed_and_in_range() {
        let config = VideoConfig::default();
        let a = render_clip(&config, 7, 3);
        assert_eq!(a, render_clip(&config, 7, 3));
        assert_ne!(a[0], render_clip(&config, 8, 3)[0]);
        for frame in &a {
            assert_eq!(frame.len(), 3 * 64 * 64);
            assert!(frame.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }

    #[test]
    fn frames_change_a_little_and_the_middle_is_not_the_average() {
        let config = VideoConfig::default();
        for seed in 0..4 {
            let clip = render_clip(&config, seed, 3);
            let step = mean_abs_diff(&clip[0], &clip[1]);
            // Something moves (the pan alone moves the whole background) ...
            assert!(step > 1e-3, "seed {seed}: {step}");
            // ... but consecutive frames are far closer than frames of unrelated clips.
            let other = render_clip(&config, seed + 100, 1);
            assert!(
                step < 0.5 * mean_abs_diff(&clip[0], &other[0]),
                "seed {seed}"
            );
            // Motion is not linear in pixel values: averaging f0 and f2 misses f1.
            let average: Vec<f32> = clip[0]
                .iter()
                .zip(&clip[2])
                .map(|(x, y)| 0.5 * (x + y))
                .collect();
            assert!(mean_abs_diff(&average, &clip[1]) > 1e-4, "seed {seed}");
        }
    }

    #[test]
    fn a_static_scene_repeats_its_frames() {
        let config = VideoConfig {
            max_speed: 0.0,
            max_spin: 0.0,
            background_speed: 0.0,
            ..VideoConfig::default()
        };
        let clip = render_clip(&config, 3, 2);
        assert_eq!(clip[0], clip[1]);
    }

    #[test]
    fn triplets_are_consecutive_frames_and_batches_keep_the_layout() {
        let config = VideoConfig {
            size: 8,
            ..VideoConfig::default()
        };
        let set = FrameTriplets::generate(&config, 5..7, 5);
        assert_eq!(set.len(), 2 * 3);
        let clip = render_clip(&config, 6, 5);
        // Triplet 4 = clip 6 (the second), t = 1: frames 1, 2, 3.
        assert_eq!(set.frame(&set.f0, 4), &clip[1][..]);
        assert_eq!(set.frame(&set.f1, 4), &clip[2][..]);
        assert_eq!(set.frame(&set.f2, 4), &clip[3][..]);
        let device = Default::default();
        let (f0, f1, _) = set.batch::<spectral::CpuBackend>(&[4, 0], &device);
        assert_eq!(f1.dims(), [2, 3, 8, 8]);
        let f0: Vec<f32> = f0.into_data().to_vec().unwrap();
        assert_eq!(&f0[..192], &clip[1][..]);
        // Channel-major: value (c = 2, y = 5, x = 3) of the first frame.
        assert_eq!(f0[(2 * 8 + 5) * 8 + 3], clip[1][2 * 64 + 5 * 8 + 3]);
    }
}
