//! Run-time CPU-feature dispatch for the reduction kernels, and the only
//! `unsafe` of the pure layer.
//!
//! The module is built for baseline x86-64 (SSE2) so that it loads on any
//! x86-64 server. The kernels in [`super::kernels`] are written once, as
//! plain generic loops marked `#[inline(always)]`; [`run`] executes a closure
//! over them inside a function compiled for AVX2 + FMA when the CPU has both,
//! so LLVM vectorises the same loops with 256-bit registers there. The
//! compiler only vectorises what the source says in the source's order (no
//! reassociation of float operations), so both copies give identical results.
//!
//! `REDIS_NUMPY_DISABLE_CPU_FEATURES=AVX2` in the server's environment (read
//! once, like NumPy's `NPY_DISABLE_CPU_FEATURES`) keeps the baseline kernels.

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction set the kernels can run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// What the module is compiled for: x86-64 with SSE2 (or any other target).
    Baseline,
    /// x86-64 with AVX2 and FMA.
    Avx2,
}

const UNKNOWN: u8 = 0;
const BASELINE: u8 = 1;
const AVX2: u8 = 2;

/// The instruction set chosen at the first dispatch.
static CHOSEN: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether this CPU runs AVX2 and FMA code.
fn cpu_has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
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
        let disabled = std::env::var("REDIS_NUMPY_DISABLE_CPU_FEATURES")
            .map(|v| v.to_ascii_uppercase().contains("AVX2"))
            .unwrap_or(false);
        c = if cpu_has_avx2() && !disabled { AVX2 } else { BASELINE };
        CHOSEN.store(c, Ordering::Relaxed);
    }
    if c == AVX2 {
        Isa::Avx2
    } else {
        Isa::Baseline
    }
}

/// The instruction sets this CPU can run, baseline first (for tests that run
/// every kernel on each).
pub fn available() -> Vec<Isa> {
    let mut isas = vec![Isa::Baseline];
    if cpu_has_avx2() {
        isas.push(Isa::Avx2);
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
    if isa == Isa::Avx2 && cpu_has_avx2() {
        // SAFETY: `avx2_fma` only requires that the CPU executes AVX2 and FMA
        // instructions, which `cpu_has_avx2` has just checked at run time.
        return unsafe { avx2_fma(f) };
    }
    let _ = isa;
    f()
}

/// `f()`, with whatever is inlined into it compiled for AVX2 and FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_isa_runs_and_the_choice_is_available() {
        for isa in available() {
            assert_eq!(run_with(isa, || (1..=10).sum::<i32>()), 55);
        }
        assert!(available().contains(&chosen()));
    }
}
