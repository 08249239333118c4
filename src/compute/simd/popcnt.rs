//! Hamming distances of one query against many byte rows with AVX-512
//! VPOPCNTDQ (`vpopcntq`: eight 64-bit popcounts an instruction), where the
//! plain loop counts one 64-bit word at a time with POPCNT.
//!
//! A row is read 64, then 32, then 16 bytes at a time (no masked loads:
//! rows of 384 bits are 48 bytes, a 32- and a 16-byte step), the rest a
//! word and then a byte at a time; the counts are exact integers.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Whether this CPU runs the kernel (AVX-512 F, BW, VL and VPOPCNTDQ).
fn cpu_has_vpopcntdq() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
            && std::arch::is_x86_feature_detected!("popcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether searches use the kernel: with the AVX-512 tier only (so
/// `REDIS_NUMPY_DISABLE_CPU_FEATURES=AVX512` holds it back too), where the
/// CPU has VPOPCNTDQ.
pub fn enabled() -> bool {
    #[cfg(test)]
    if let Some(isa) = super::FORCED.get() {
        return isa == super::Isa::Avx512 && cpu_has_vpopcntdq();
    }
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| super::chosen() == super::Isa::Avx512 && cpu_has_vpopcntdq())
}

/// Calls `each(r, distance)` for each row `r` that `rows` yields, in
/// order: the number of bits in which `data[r·d..(r + 1)·d]` and `q` (`d`
/// bytes) differ. Returns false, calling nothing, where the kernel does not
/// run. Panics if a row lies outside `data`.
#[inline(always)]
pub fn distances(data: &[u8], q: &[u8], rows: impl Iterator<Item = usize>, each: impl FnMut(usize, u64)) -> bool {
    #[cfg(target_arch = "x86_64")]
    if enabled() {
        // SAFETY: `enabled` has checked at run time that this CPU runs
        // AVX-512 F, BW and VL, VPOPCNTDQ and POPCNT.
        unsafe { kernel(data, q, rows, each) };
        return true;
    }
    let _ = (data, q, rows, each);
    false
}

/// # Safety
/// The CPU must support AVX-512 F, BW, VL and VPOPCNTDQ and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq,avx2,popcnt")]
unsafe fn kernel(data: &[u8], q: &[u8], rows: impl Iterator<Item = usize>, mut each: impl FnMut(usize, u64)) {
    let d = q.len();
    for r in rows {
        let x = &data[r * d..(r + 1) * d];
        let (xp, qp) = (x.as_ptr(), q.as_ptr());
        let mut wide = _mm512_setzero_si512();
        let mut j = 0;
        while j + 64 <= d {
            // SAFETY: bytes j..j + 64 lie within x and q (both d bytes long).
            let (a, b) = unsafe {
                (
                    _mm512_loadu_si512(xp.add(j) as *const __m512i),
                    _mm512_loadu_si512(qp.add(j) as *const __m512i),
                )
            };
            wide = _mm512_add_epi64(wide, _mm512_popcnt_epi64(_mm512_xor_si512(a, b)));
            j += 64;
        }
        let mut total = _mm512_reduce_add_epi64(wide) as u64;
        if j + 32 <= d {
            // SAFETY: bytes j..j + 32 lie within x and q.
            let (a, b) = unsafe {
                (
                    _mm256_loadu_si256(xp.add(j) as *const __m256i),
                    _mm256_loadu_si256(qp.add(j) as *const __m256i),
                )
            };
            let c = _mm256_popcnt_epi64(_mm256_xor_si256(a, b));
            let c = _mm_add_epi64(_mm256_castsi256_si128(c), _mm256_extracti128_si256::<1>(c));
            total += (_mm_cvtsi128_si64(c) + _mm_extract_epi64::<1>(c)) as u64;
            j += 32;
        }
        if j + 16 <= d {
            // SAFETY: bytes j..j + 16 lie within x and q.
            let (a, b) = unsafe {
                (
                    _mm_loadu_si128(xp.add(j) as *const __m128i),
                    _mm_loadu_si128(qp.add(j) as *const __m128i),
                )
            };
            let c = _mm_popcnt_epi64(_mm_xor_si128(a, b));
            total += (_mm_cvtsi128_si64(c) + _mm_extract_epi64::<1>(c)) as u64;
            j += 16;
        }
        while j + 8 <= d {
            let a = u64::from_le_bytes(x[j..j + 8].try_into().expect("8 bytes"));
            let b = u64::from_le_bytes(q[j..j + 8].try_into().expect("8 bytes"));
            total += u64::from((a ^ b).count_ones());
            j += 8;
        }
        for (a, b) in x[j..].iter().zip(&q[j..]) {
            total += u64::from((a ^ b).count_ones());
        }
        each(r, total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::simd;
    use crate::search::kernels::random_bytes;

    /// On the AVX-512 tier of a CPU with VPOPCNTDQ the kernel counts the
    /// bits one at a time would, on lengths around each step; elsewhere it
    /// declines.
    #[test]
    fn distances_count_the_differing_bits() {
        let mut seed = 13u64;
        let mut bytes = |n: usize| random_bytes(n, &mut seed);
        for d in [
            0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 100, 127, 128, 300,
        ] {
            let count = 4;
            let (data, q) = (bytes(d * count), bytes(d));
            let want: Vec<u64> = (0..count)
                .map(|r| {
                    let x = &data[r * d..(r + 1) * d];
                    x.iter()
                        .zip(&q)
                        .map(|(a, b)| (0..8).filter(|bit| (a >> bit) & 1 != (b >> bit) & 1).count() as u64)
                        .sum()
                })
                .collect();
            for isa in simd::available() {
                let mut got = Vec::new();
                let order = [2, 0, 3, 1];
                let ran = simd::forcing(isa, || distances(&data, &q, order.into_iter(), |r, v| got.push((r, v))));
                assert_eq!(ran, isa == simd::Isa::Avx512 && cpu_has_vpopcntdq(), "{isa:?}");
                if ran {
                    let want: Vec<(usize, u64)> = order.iter().map(|&r| (r, want[r])).collect();
                    assert_eq!(got, want, "{isa:?} d={d}");
                }
            }
        }
    }
}
