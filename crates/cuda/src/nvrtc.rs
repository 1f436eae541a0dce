//! Kernel sources, compiled at run time by NVRTC for the device's architecture, with the PTX
//! cached on disk: a warm start loads PTX instead of compiling (and the driver keeps its own
//! cache of the machine code it assembles from it, `~/.nv/ComputeCache`).
//!
//! Every source is compiled after [`PRELUDE`], which defines the engine's bf16 storage type
//! without the toolkit's headers (the GPU host needs only the driver and libnvrtc).

use std::path::{Path, PathBuf};

use crate::error::EngineError;

/// One CUDA C source file of the engine.
#[derive(Clone, Copy, Debug)]
pub struct Source {
    /// File name, used in error messages and cache file names.
    pub name: &'static str,
    pub code: &'static str,
}

/// Definitions every kernel source starts from: `bf16` (the bits of a bfloat16, stored as
/// `unsigned short`), its conversions (`to_float`, round-to-nearest-even `to_bf16`), and
/// warp and block sums.
pub const PRELUDE: &str = include_str!("kernels/prelude.cuh");

/// Where compiled PTX is kept between runs.
#[derive(Clone, Debug)]
pub struct KernelCache {
    dir: Option<PathBuf>,
}

impl KernelCache {
    /// A cache in `dir` (created on first write).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
        }
    }

    /// No cache: every start compiles.
    pub fn none() -> Self {
        Self { dir: None }
    }

    /// `$SPECTRAL_KERNEL_CACHE` when set; else `target/kernels` when the working directory
    /// is a checkout (has `target/`); else `$XDG_CACHE_HOME/spectral/kernels` or
    /// `~/.cache/spectral/kernels`.
    pub fn default_dir() -> Self {
        if let Some(dir) = std::env::var_os("SPECTRAL_KERNEL_CACHE") {
            return Self::in_dir(dir);
        }
        if Path::new("target").is_dir() {
            return Self::in_dir("target/kernels");
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
        match base {
            Some(base) => Self::in_dir(base.join("spectral").join("kernels")),
            None => Self::none(),
        }
    }

    /// PTX of `source` with `defines` for compute capability `arch`: from the cache, or
    /// compiled (and then cached; a cache that cannot be written is skipped, not an error).
    pub fn ptx(
        &self,
        source: &Source,
        defines: &[String],
        arch: (i32, i32),
    ) -> Result<String, EngineError> {
        let file = self.dir.as_ref().map(|dir| {
            let key = cache_key(source, defines, arch);
            dir.join(format!(
                "{}-{key:016x}.ptx",
                source.name.trim_end_matches(".cu")
            ))
        });
        if let Some(file) = &file
            && let Ok(ptx) = std::fs::read_to_string(file)
        {
            return Ok(ptx);
        }
        let ptx = compile(source, defines, arch)?;
        if let Some(file) = &file {
            let _ = write_cache(file, &ptx);
        }
        Ok(ptx)
    }
}

fn write_cache(file: &Path, ptx: &str) -> Result<(), spectral_io::IoError> {
    let dir = file.parent().expect("a cache file has a directory");
    std::fs::create_dir_all(dir).map_err(|e| spectral_io::IoError::new(dir, e))?;
    // Atomic: concurrent starts never read half a file.
    spectral_io::write_atomic(file, ptx.as_bytes())
}

/// FNV-1a over everything the PTX depends on: prelude, source, defines, architecture.
fn cache_key(source: &Source, defines: &[String], arch: (i32, i32)) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash = (hash ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
    };
    eat(PRELUDE.as_bytes());
    eat(source.code.as_bytes());
    for define in defines {
        eat(define.as_bytes());
    }
    eat(format!("{}.{}", arch.0, arch.1).as_bytes());
    hash
}

/// Compiles `source` (after [`PRELUDE`]) to PTX for compute capability `arch`. Needs
/// libnvrtc, not a GPU.
pub fn compile(
    source: &Source,
    defines: &[String],
    arch: (i32, i32),
) -> Result<String, EngineError> {
    let mut options = vec![
        format!("--gpu-architecture=compute_{}{}", arch.0, arch.1),
        "--std=c++17".to_string(),
    ];
    options.extend(defines.iter().map(|d| format!("-D{d}")));
    let options = cudarc::nvrtc::CompileOptions {
        options,
        name: Some(source.name.into()),
        ..Default::default()
    };
    let code = format!("{PRELUDE}\n#line 1 \"{}\"\n{}", source.name, source.code);
    cudarc::nvrtc::compile_ptx_with_opts(code, options)
        .map(|ptx| ptx.to_src())
        .map_err(|e| EngineError::Compile {
            name: source.name.into(),
            log: match e {
                cudarc::nvrtc::CompileError::CompileError { log, .. } => {
                    log.to_string_lossy().into_owned()
                }
                other => format!("{other:?}"),
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Source = Source {
        name: "a.cu",
        code: "extern \"C\" __global__ void k() {}",
    };

    #[test]
    fn the_cache_key_changes_with_every_input() {
        let base = cache_key(&A, &[], (9, 0));
        let b = Source {
            code: "extern \"C\" __global__ void k(int) {}",
            ..A
        };
        assert_ne!(base, cache_key(&b, &[], (9, 0)));
        assert_ne!(base, cache_key(&A, &["D=1".into()], (9, 0)));
        assert_ne!(base, cache_key(&A, &[], (8, 0)));
        // Defines are hashed with separators: ["AB"] is not ["A", "B"].
        assert_ne!(
            cache_key(&A, &["AB".into()], (9, 0)),
            cache_key(&A, &["A".into(), "B".into()], (9, 0))
        );
        assert_eq!(base, cache_key(&A, &[], (9, 0)));
    }

    #[test]
    fn a_cached_ptx_is_read_back_without_compiling() {
        let dir =
            std::env::temp_dir().join(format!("spectral-kernel-cache-{}", std::process::id()));
        let cache = KernelCache::in_dir(&dir);
        let key = cache_key(&A, &[], (9, 0));
        write_cache(&dir.join(format!("a-{key:016x}.ptx")), "// cached").unwrap();
        // No NVRTC is needed: the cached text comes back as it was written.
        assert_eq!(cache.ptx(&A, &[], (9, 0)).unwrap(), "// cached");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
