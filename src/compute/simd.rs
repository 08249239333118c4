//! Run-time CPU-feature dispatch for the reduction kernels, and the only
//! `unsafe` of the pure layer.
//!
//! The module is built for baseline x86-64 (SSE2) so that it loads on any
//! x86-64 server. The kernels in [`super::kernels`] are written once, as
//! plain generic loops marked `#[inline(always)]`; [`run`] executes a closure
//! over them inside a function compiled for AVX-512 (F, BW, DQ, VL: 512-bit
//! registers) when the CPU has it, else for AVX2 + FMA when it has both, so
//! LLVM vectorises the same loops with the widest registers there. The
//! compiler only vectorises what the source says in the source's order (no
//! reassociation of float operations), so every copy gives identical results.
//! Kernels whose best shape depends on the register width (more partial
//! results where registers are wider) ask [`wide`].
//!
//! `REDIS_NUMPY_DISABLE_CPU_FEATURES` in the server's environment (read once,
//! like NumPy's `NPY_DISABLE_CPU_FEATURES`) holds the kernels back: `AVX512`
//! keeps the AVX2 ones, `AVX2` the baseline ones, `VNNI` the float ones for
//! 8-bit integer searches ([`dot8`]: intrinsics, as no loop the compiler
//! vectorises turns into `vpdpbusd`). [`rowsums`] sums one query against
//! float16 rows (widened by the hardware's conversion) and float32 rows
//! with intrinsics too, and [`popcnt`] counts one query's differing bits
//! with AVX-512 VPOPCNTDQ.

pub mod dot8;
pub mod popcnt;
pub mod rowsums;

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction set the kernels can run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// What the module is compiled for: x86-64 with SSE2 (or any other target).
    Baseline,
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// x86-64 with AVX-512 F, BW, DQ and VL (and AVX2 and FMA).
    Avx512,
}

impl Isa {
    /// The width in bits of the vector registers the kernels use, as `INFO
    /// numpy` reports it (`numpy_simd_bits`; an integer, as every field there).
    pub fn bits(self) -> i64 {
        match self {
            Isa::Baseline => 128,
            Isa::Avx2 => 256,
            Isa::Avx512 => 512,
        }
    }
}

const UNKNOWN: u8 = 0;
const BASELINE: u8 = 1;
const AVX2: u8 = 2;
const AVX512: u8 = 3;

/// The instruction set chosen at the first dispatch.
static CHOSEN: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether this CPU runs AVX2 and FMA code (and POPCNT, which every AVX2
/// CPU has: the Hamming distances count bits with it).
fn cpu_has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("popcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU runs the AVX-512 code (which also uses AVX2 and FMA).
fn cpu_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        cpu_has_avx2()
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The instruction set [`run`] uses: the best one this CPU has, unless the
/// environment disables it.
pub fn chosen() -> Isa {
    let mut c = CHOSEN.load(Ordering::Relaxed);
    if c == UNKNOWN {
        let disabled = std::env::var("REDIS_NUMPY_DISABLE_CPU_FEATURES").unwrap_or_default();
        c = match best_allowed(&disabled, &available()) {
            Isa::Avx512 => AVX512,
            Isa::Avx2 => AVX2,
            Isa::Baseline => BASELINE,
        };
        CHOSEN.store(c, Ordering::Relaxed);
    }
    match c {
        AVX512 => Isa::Avx512,
        AVX2 => Isa::Avx2,
        _ => Isa::Baseline,
    }
}

/// The best of the `available` instruction sets that `disabled` (the value
/// of `REDIS_NUMPY_DISABLE_CPU_FEATURES`) leaves: `AVX512` rules out
/// AVX-512, `AVX2` rules out AVX2 and, as it builds on it, AVX-512.
fn best_allowed(disabled: &str, available: &[Isa]) -> Isa {
    let disabled = disabled.to_ascii_uppercase();
    let no_avx2 = disabled.contains("AVX2");
    let no_avx512 = no_avx2 || disabled.contains("AVX512");
    let allowed = |isa: &&Isa| match isa {
        Isa::Avx512 => !no_avx512,
        Isa::Avx2 => !no_avx2,
        Isa::Baseline => true,
    };
    available.iter().rev().find(allowed).copied().unwrap_or(Isa::Baseline)
}

/// Whether [`run`] on this thread uses 512-bit registers (kernels then keep
/// more partial results abreast).
#[inline(always)]
pub fn wide() -> bool {
    #[cfg(test)]
    if let Some(isa) = FORCED.get() {
        return isa == Isa::Avx512;
    }
    chosen() == Isa::Avx512
}

/// Whether [`run`] on this thread uses FMA instructions: `mul_add` is then one
/// instruction, while on the baseline it is a library call, so kernels that
/// fuse multiplications and additions do so only here (their rounding then
/// depends on this answer, and their tests ask it too).
#[inline(always)]
pub fn fused() -> bool {
    #[cfg(test)]
    if let Some(isa) = FORCED.get() {
        return isa != Isa::Baseline;
    }
    chosen() != Isa::Baseline
}

/// The instruction sets this CPU can run, baseline first (for tests that run
/// every kernel on each).
pub fn available() -> Vec<Isa> {
    let mut isas = vec![Isa::Baseline];
    if cpu_has_avx2() {
        isas.push(Isa::Avx2);
    }
    if cpu_has_avx512() {
        isas.push(Isa::Avx512);
    }
    isas
}

/// Runs `f` compiled for the chosen instruction set. `f` and the kernels it
/// calls must be inlined into it to profit (the kernels are `#[inline(always)]`).
#[inline(always)]
pub fn run<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(test)]
    if let Some(isa) = FORCED.get() {
        return run_with(isa, f);
    }
    run_with(chosen(), f)
}

#[cfg(test)]
thread_local! {
    /// The instruction set [`run`] uses on this thread, while [`forcing`] runs.
    static FORCED: std::cell::Cell<Option<Isa>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with every dispatch on this thread using `isa` (tests compare
/// the kernels of every instruction set).
#[cfg(test)]
pub fn forcing<R>(isa: Isa, f: impl FnOnce() -> R) -> R {
    FORCED.set(Some(isa));
    let result = f();
    FORCED.set(None);
    result
}

/// Runs `f` compiled for `isa`, or for the baseline if this CPU lacks `isa`.
#[inline(always)]
pub fn run_with<R>(isa: Isa, f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && cpu_has_avx512() {
        // SAFETY: `avx512` only requires that the CPU executes AVX-512 F, BW,
        // DQ and VL, AVX2, FMA and POPCNT instructions, which `cpu_has_avx512` has
        // just checked at run time.
        return unsafe { avx512(f) };
    }
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx2 && cpu_has_avx2() {
        // SAFETY: `avx2_fma` only requires that the CPU executes AVX2, FMA
        // and POPCNT instructions, which `cpu_has_avx2` has just checked at
        // run time.
        return unsafe { avx2_fma(f) };
    }
    let _ = isa;
    f()
}

/// `f()`, with whatever is inlined into it compiled for AVX2, FMA and POPCNT.
///
/// # Safety
/// The CPU must support AVX2, FMA and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,popcnt")]
unsafe fn avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `f()`, with whatever is inlined into it compiled for AVX-512 (512-bit
/// registers), AVX2 and FMA.
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL, AVX2, FMA and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,popcnt")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Matrix products for the batched nearest-row search: `matrixmultiply`'s
/// GEMM, which picks its own kernels for this CPU at run time (AVX-512,
/// AVX2 + FMA or SSE2; the environment variable above does not reach it).
pub trait Gemm: Copy {
    /// `c = a · bᵀ` over `k` columns: `a` holds `m` rows starting `lda`
    /// elements apart, `b` `n` rows `ldb` apart, `c` is `m × n` row-major.
    /// Panics if a slice is too short for its rows.
    fn gemm_abt(m: usize, n: usize, k: usize, a: (&[Self], usize), b: (&[Self], usize), c: &mut [Self]);
}

/// The elements a matrix of `rows` rows `stride` apart, `k` used per row, spans.
fn span(rows: usize, stride: usize, k: usize) -> usize {
    if rows == 0 || k == 0 {
        0
    } else {
        (rows - 1) * stride + k
    }
}

macro_rules! gemm {
    ($t:ty, $f:ident) => {
        impl Gemm for $t {
            fn gemm_abt(m: usize, n: usize, k: usize, a: (&[$t], usize), b: (&[$t], usize), c: &mut [$t]) {
                let ((a, lda), (b, ldb)) = (a, b);
                assert!(a.len() >= span(m, lda, k) && b.len() >= span(n, ldb, k) && c.len() >= m * n);
                assert!(lda >= k && ldb >= k && [m, n, k, lda, ldb].iter().all(|&v| isize::try_from(v).is_ok()));
                // SAFETY: matrixmultiply reads a[i·lda + p] and b[j·ldb + p]
                // for i < m, j < n, p < k, and writes c[i·n + j]: all within
                // the slices (checked just above), which do not overlap (c is
                // borrowed mutably); the strides fit an isize (checked).
                unsafe {
                    matrixmultiply::$f(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        lda as isize,
                        1,
                        b.as_ptr(),
                        1,
                        ldb as isize,
                        0.0,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            }
        }
    };
}
gemm!(f32, sgemm);
gemm!(f64, dgemm);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_holds_the_kernels_back() {
        use Isa::*;
        let all = [Baseline, Avx2, Avx512];
        assert_eq!(best_allowed("", &all), Avx512);
        assert_eq!(best_allowed("avx512", &all), Avx2);
        assert_eq!(best_allowed("AVX512F", &all), Avx2);
        assert_eq!(best_allowed("AVX2", &all), Baseline);
        assert_eq!(best_allowed("AVX2 AVX512", &all), Baseline);
        assert_eq!(best_allowed("", &[Baseline, Avx2]), Avx2);
        assert_eq!(best_allowed("AVX512", &[Baseline, Avx2]), Avx2);
        assert_eq!(best_allowed("", &[Baseline]), Baseline);
    }

    #[test]
    fn gemm_multiplies_by_the_transpose() {
        // a: 2 rows of 3 used columns, 4 apart; b: 3 rows of 3, 3 apart.
        let a = [1.0f32, 2.0, 3.0, 99.0, 4.0, 5.0, 6.0];
        let b = [1.0f32, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let mut c = [0.0f32; 6];
        f32::gemm_abt(2, 3, 3, (&a, 4), (&b, 3), &mut c);
        assert_eq!(c, [1.0, 5.0, 6.0, 4.0, 11.0, 15.0]);
        let mut c = [7.0f64; 1];
        f64::gemm_abt(1, 1, 0, (&[], 0), (&[], 0), &mut c);
        assert_eq!(c, [0.0]);
    }

    #[test]
    fn every_isa_runs_and_the_choice_is_available() {
        for isa in available() {
            assert_eq!(run_with(isa, || (1..=10).sum::<i32>()), 55);
        }
        assert!(available().contains(&chosen()));
    }
}
