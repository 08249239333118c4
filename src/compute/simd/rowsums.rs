//! One query's sums against float16 and float32 rows with intrinsics:
//! - float16 elements widened by the hardware (`vcvtph2ps`, exact: AVX-512 F
//!   on the AVX-512 tier, F16C on the AVX2 one) instead of the plain
//!   kernels' bit steps (`search::kernels::f16_to_f32`, several
//!   instructions per element, which made a float16 scan compute-bound);
//! - the partial sums combined as a few vector additions, where the plain
//!   kernels' halving tree compiles to about sixty scalar instructions a
//!   sum: with a row's norm beside its product (cosine) that was a sixth
//!   of the scan (`perf annotate`), and it fills the core's window of
//!   instructions in flight, which a scan at memory speed needs for loads.
//!
//! The sums are bit for bit those of the plain kernels on the same tier:
//! 32 float32 partial sums, column `j` added into sum `j mod 32` by one
//! fused multiply-add, a last partial chunk padded with zeros, the partial
//! sums combined as a halving tree. (Two or four rows abreast and software
//! prefetching were measured slower here: the hardware prefetcher keeps up
//! with one row after the other.)

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// What is summed for each row `x` against the query `q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sums {
    /// `Σ x·q`.
    Dot,
    /// `Σ x·q` and `Σ x·x`.
    DotNorm,
    /// `Σ (x − q)²`.
    Squares,
}

/// Whether this CPU converts float16 with F16C (every AVX2 CPU made has it,
/// but it is a feature of its own).
fn cpu_has_f16c() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("f16c")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The kernel searches use: the AVX-512 one on that tier, the AVX2 one on
/// that tier where the CPU has F16C, none on the baseline (so
/// `REDIS_NUMPY_DISABLE_CPU_FEATURES` holds them back with the tiers).
pub fn kernel_tier() -> Option<super::Isa> {
    #[cfg(test)]
    let isa = super::FORCED.get().unwrap_or_else(super::chosen);
    #[cfg(not(test))]
    let isa = super::chosen();
    match isa {
        super::Isa::Avx512 => Some(isa),
        super::Isa::Avx2 if cpu_has_f16c() => Some(isa),
        _ => None,
    }
}

/// A row element the kernels read: float16, or float32 (AVX-512 tier only).
pub trait Element: bytemuck::Pod {
    const HALF: bool;
}

impl Element for half::f16 {
    const HALF: bool = true;
}

impl Element for f32 {
    const HALF: bool = false;
}

/// Calls `each(i, Σ x·q, Σ x·x)` for each row `i` of the `count` rows of
/// `x` (`q.len()` elements each, one after the other) in order, or `each(i,
/// Σ (x − q)², 0)` for [`Sums::Squares`] (the norm is 0 for [`Sums::Dot`]
/// too), each sum a float32 widened. Returns false, calling nothing, where
/// the kernel does not run. Panics if `x` holds fewer rows.
#[inline(always)]
pub fn rows<X: Element>(x: &[X], q: &[f32], count: usize, what: Sums, each: impl FnMut(usize, f64, f64)) -> bool {
    let d = q.len();
    assert!(x.len() >= d * count);
    #[cfg(target_arch = "x86_64")]
    match kernel_tier() {
        _ if d == 0 => {}
        Some(super::Isa::Avx512) => {
            // SAFETY: the AVX-512 tier is chosen (or forced by a test) only
            // where this CPU runs AVX-512 F, BW, DQ and VL and FMA (checked
            // at run time by `available`); `x` holds the rows (asserted above).
            unsafe {
                match what {
                    Sums::Dot => kernel512::<X, 0>(x, q, count, each),
                    Sums::DotNorm => kernel512::<X, 1>(x, q, count, each),
                    Sums::Squares => kernel512::<X, 2>(x, q, count, each),
                }
            }
            return true;
        }
        Some(_) if X::HALF => {
            let x: &[half::f16] = bytemuck::cast_slice(x);
            // SAFETY: the AVX2 tier is chosen (or forced) only where this
            // CPU runs AVX2 and FMA (checked by `available`), and
            // `kernel_tier` has checked F16C; `x` holds the rows.
            unsafe {
                match what {
                    Sums::Dot => kernel256::<0>(x, q, count, each),
                    Sums::DotNorm => kernel256::<1>(x, q, count, each),
                    Sums::Squares => kernel256::<2>(x, q, count, each),
                }
            }
            return true;
        }
        _ => {}
    }
    let _ = each;
    false
}

/// The 32 partial sums `low` (0–15) and `high` (16–31) combined as the
/// plain kernels combine them: `s[i] += s[i + w]` for w = 16, 8, 4, 2, 1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn combine(low: __m512, high: __m512) -> f64 {
    let s = _mm512_add_ps(low, high);
    let s8 = _mm256_add_ps(
        _mm512_castps512_ps256(s),
        _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(s))),
    );
    let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
    let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    let s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
    f64::from(_mm_cvtss_f32(s1))
}

/// [`rows`] for `WHAT` = 0 (dot), 1 (dot and norm), 2 (squares), with
/// 512-bit registers.
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL and FMA; `x` holds
/// `count` rows of `q.len()` elements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
unsafe fn kernel512<X: Element, const WHAT: u8>(
    x: &[X],
    q: &[f32],
    count: usize,
    mut each: impl FnMut(usize, f64, f64),
) {
    let d = q.len();
    let whole = d / 32 * 32;
    let rem = d - whole;
    // The masks of a last partial chunk: its columns in the low and high halves.
    let low_mask: u16 = if rem >= 16 { !0 } else { (1u16 << rem) - 1 };
    let high_mask: u16 = if rem > 16 { (1u16 << (rem - 16)) - 1 } else { 0 };
    let zero = _mm512_setzero_ps();
    for r in 0..count {
        let row = x[r * d..].as_ptr();
        let (mut dl, mut dh, mut nl, mut nh) = (zero, zero, zero, zero);
        macro_rules! step {
            ($xl:expr, $xh:expr, $ql:expr, $qh:expr) => {{
                let (xl, xh) = ($xl, $xh);
                if WHAT == 2 {
                    let (tl, th) = (_mm512_sub_ps(xl, $ql), _mm512_sub_ps(xh, $qh));
                    dl = _mm512_fmadd_ps(tl, tl, dl);
                    dh = _mm512_fmadd_ps(th, th, dh);
                } else {
                    dl = _mm512_fmadd_ps(xl, $ql, dl);
                    dh = _mm512_fmadd_ps(xh, $qh, dh);
                    if WHAT == 1 {
                        nl = _mm512_fmadd_ps(xl, xl, nl);
                        nh = _mm512_fmadd_ps(xh, xh, nh);
                    }
                }
            }};
        }
        let mut j = 0;
        while j < whole {
            // SAFETY: columns j..j + 32 lie within q and within the row
            // (j + 32 <= whole <= d; row r < count of d elements in x).
            unsafe {
                let (ql, qh) = (
                    _mm512_loadu_ps(q.as_ptr().add(j)),
                    _mm512_loadu_ps(q.as_ptr().add(j + 16)),
                );
                let (xl, xh) = if X::HALF {
                    (
                        _mm512_cvtph_ps(_mm256_loadu_si256(row.add(j) as *const __m256i)),
                        _mm512_cvtph_ps(_mm256_loadu_si256(row.add(j + 16) as *const __m256i)),
                    )
                } else {
                    (
                        _mm512_loadu_ps(row.add(j) as *const f32),
                        _mm512_loadu_ps(row.add(j + 16) as *const f32),
                    )
                };
                step!(xl, xh, ql, qh);
            }
            j += 32;
        }
        if rem > 0 {
            // SAFETY: the masks select columns whole..d only, within q and
            // the row; masked-off elements are not read (their addresses
            // formed with wrapping arithmetic, as they may lie past the end).
            unsafe {
                let ql = _mm512_maskz_loadu_ps(low_mask, q.as_ptr().add(whole));
                let qh = _mm512_maskz_loadu_ps(high_mask, q.as_ptr().wrapping_add(whole + 16));
                let (xl, xh) = if X::HALF {
                    (
                        _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(low_mask, row.add(whole) as *const i16)),
                        _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(
                            high_mask,
                            row.wrapping_add(whole + 16) as *const i16,
                        )),
                    )
                } else {
                    (
                        _mm512_maskz_loadu_ps(low_mask, row.add(whole) as *const f32),
                        _mm512_maskz_loadu_ps(high_mask, row.wrapping_add(whole + 16) as *const f32),
                    )
                };
                step!(xl, xh, ql, qh);
            }
        }
        let norm = if WHAT == 1 { combine(nl, nh) } else { 0.0 };
        each(r, combine(dl, dh), norm);
    }
}

/// The 32 partial sums in `s` (eight each) combined as [`combine`] does.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn combine256(s: [__m256; 4]) -> f64 {
    let s8 = _mm256_add_ps(_mm256_add_ps(s[0], s[2]), _mm256_add_ps(s[1], s[3]));
    let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
    let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    let s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
    f64::from(_mm_cvtss_f32(s1))
}

/// [`rows`] with 256-bit registers and F16C.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C; `x` holds `count` rows of
/// `q.len()` elements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn kernel256<const WHAT: u8>(x: &[half::f16], q: &[f32], count: usize, mut each: impl FnMut(usize, f64, f64)) {
    let d = q.len();
    let whole = d / 32 * 32;
    let rem = d - whole;
    // A last partial chunk, zero-padded (AVX2 has no masked 16-bit loads).
    let mut q_tail = [0.0f32; 32];
    q_tail[..rem].copy_from_slice(&q[whole..]);
    let zero = _mm256_setzero_ps();
    for r in 0..count {
        let row = &x[r * d..(r + 1) * d];
        let (mut dot, mut norm) = ([zero; 4], [zero; 4]);
        // 32 columns from `$xs` and `$qs`.
        macro_rules! chunk {
            ($xs:expr, $qs:expr) => {{
                let (xs, qs): (*const u16, *const f32) = ($xs, $qs);
                for b in 0..4 {
                    // SAFETY: 32 elements are readable at each (see the calls).
                    let (xv, qv) = unsafe {
                        (
                            _mm256_cvtph_ps(_mm_loadu_si128(xs.add(8 * b) as *const __m128i)),
                            _mm256_loadu_ps(qs.add(8 * b)),
                        )
                    };
                    if WHAT == 2 {
                        let t = _mm256_sub_ps(xv, qv);
                        dot[b] = _mm256_fmadd_ps(t, t, dot[b]);
                    } else {
                        dot[b] = _mm256_fmadd_ps(xv, qv, dot[b]);
                        if WHAT == 1 {
                            norm[b] = _mm256_fmadd_ps(xv, xv, norm[b]);
                        }
                    }
                }
            }};
        }
        let (xp, qp) = (row.as_ptr() as *const u16, q.as_ptr());
        let mut j = 0;
        while j < whole {
            // Columns j..j + 32 lie within the row and q (j + 32 <= whole <= d).
            chunk!(xp.wrapping_add(j), qp.wrapping_add(j));
            j += 32;
        }
        if rem > 0 {
            let mut x_tail = [0u16; 32];
            for (t, v) in x_tail.iter_mut().zip(&row[whole..]) {
                *t = v.to_bits();
            }
            chunk!(x_tail.as_ptr(), q_tail.as_ptr());
        }
        let n = if WHAT == 1 { combine256(norm) } else { 0.0 };
        each(r, combine256(dot), n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::simd;
    use crate::search::kernels::{random, reference};

    /// On the AVX-512 tier, and the AVX2 one with F16C for float16, the
    /// kernels give the scalar reference's bits for every row (on lengths
    /// around a chunk and its halves, and values spanning float16's range,
    /// subnormals to near its largest); elsewhere they decline.
    #[test]
    fn rows_match_the_reference() {
        let mut seed = 5;
        let f16c = std::arch::is_x86_feature_detected!("f16c");
        for d in [1, 5, 15, 16, 17, 31, 32, 33, 47, 48, 49, 100, 384, 700] {
            let count = 3;
            let x: Vec<half::f16> = random(d * count, &mut seed)
                .iter()
                .enumerate()
                .map(|(i, &v)| half::f16::from_f32(v * [1.0, 60000.0, 1e-6, 0.01][i % 4]))
                .collect();
            let q: Vec<f32> = random(d, &mut seed).iter().map(|&v| v * 3.0).collect();
            let widened: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
            let singles: Vec<f32> = random(d * count, &mut seed);
            for isa in simd::available() {
                for what in [Sums::Dot, Sums::DotNorm, Sums::Squares] {
                    let (mut halves, mut floats) =
                        (vec![(f64::NAN, f64::NAN); count], vec![(f64::NAN, f64::NAN); count]);
                    let ran = simd::forcing(isa, || {
                        (
                            rows(&x, &q, count, what, |i, s, n| halves[i] = (s, n)),
                            rows(&singles, &q, count, what, |i, s, n| floats[i] = (s, n)),
                        )
                    });
                    let avx512 = isa == simd::Isa::Avx512;
                    assert_eq!(ran, (avx512 || isa == simd::Isa::Avx2 && f16c, avx512), "{isa:?}");
                    for (ran, all, got) in [(ran.0, &widened, &halves), (ran.1, &singles, &floats)] {
                        if !ran {
                            continue;
                        }
                        for (i, &(sum, norm)) in got.iter().enumerate() {
                            let row = &all[i * d..(i + 1) * d];
                            let want = reference(row, &q, 32, true, what == Sums::Squares, usize::MAX);
                            assert_eq!(sum.to_bits(), want.to_bits(), "{isa:?} {what:?} d={d} row {i}");
                            let want = match what {
                                Sums::DotNorm => reference(row, row, 32, true, false, usize::MAX),
                                _ => 0.0,
                            };
                            assert_eq!(norm.to_bits(), want.to_bits(), "{isa:?} norm {what:?} d={d} row {i}");
                        }
                    }
                }
            }
        }
    }
}
