//! `METRIC hamming`: the number of bits in which a row and a query differ,
//! for uint8 rows holding bits as `np.packbits` packs them, and for bool
//! rows (one element a byte of 0 or 1: the number of differing elements).
//! A popcount of the XOR of the two, eight bytes at a time (LLVM turns the
//! loop into vector popcounts in the AVX2 and AVX-512 builds of
//! `simd::run`), or for one query, where the CPU has AVX-512 VPOPCNTDQ,
//! eight words an instruction (`simd::popcnt`); the distances are integers,
//! exact.

use super::rows::Rows;
use super::scan::Matrix;
use super::topk::TopK;
use crate::compute::simd;

/// The number of differing bits of `x` and `q` (equal lengths).
#[inline(always)]
pub fn distance(x: &[u8], q: &[u8]) -> u64 {
    let (xs, qs) = (x.chunks_exact(8), q.chunks_exact(8));
    let (x_tail, q_tail) = (xs.remainder(), qs.remainder());
    let mut total = 0u64;
    for (a, b) in xs.zip(qs) {
        let a = u64::from_le_bytes(a.try_into().expect("8 bytes"));
        let b = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        total += u64::from((a ^ b).count_ones());
    }
    for (a, b) in x_tail.iter().zip(q_tail) {
        total += u64::from((a ^ b).count_ones());
    }
    total
}

/// The `k` selected rows nearest each query (`queries` holds `q_count·d`
/// bytes), ties to the lower row. Memory: one row (Fortran order) and the
/// `Q·k` candidates.
pub fn search(matrix: &Matrix<u8>, rows: &Rows, queries: &[u8], q_count: usize, k: usize) -> Vec<TopK> {
    simd::run(
        #[inline(always)]
        || scan(matrix, rows, queries, q_count, k),
    )
}

#[inline(always)]
fn scan(matrix: &Matrix<u8>, rows: &Rows, queries: &[u8], q_count: usize, k: usize) -> Vec<TopK> {
    let d = matrix.d;
    let mut tops: Vec<TopK> = (0..q_count).map(|_| TopK::new(k)).collect();
    let mut gates = vec![f64::NAN; q_count];
    let mut gathered = vec![0u8; if matrix.fortran { d } else { 0 }];
    if q_count == 1 && !matrix.fortran && d > 0 {
        // One query over C-ordered rows: the rows as they lie, the gate in a register.
        let (q, top) = (&queries[..d], &mut tops[0]);
        let mut gate = f64::NAN;
        // With VPOPCNTDQ, eight words counted an instruction.
        let by_kernel = simd::popcnt::distances(
            matrix.data,
            q,
            (0..rows.len()).map(|i| rows.row(i) as usize),
            #[inline(always)]
            |r, distance| {
                top.offer_gated(&mut gate, distance as f64, r as u64);
            },
        );
        if by_kernel {
            return tops;
        }
        for i in 0..rows.len() {
            let r = rows.row(i) as usize;
            let key = distance(&matrix.data[r * d..(r + 1) * d], q) as f64;
            top.offer_gated(&mut gate, key, r as u64);
        }
        return tops;
    }
    for i in 0..rows.len() {
        let r = rows.row(i) as usize;
        let x: &[u8] = if matrix.fortran {
            for (j, v) in gathered.iter_mut().enumerate() {
                *v = matrix.data[j * matrix.n + r];
            }
            &gathered
        } else {
            &matrix.data[r * d..(r + 1) * d]
        };
        for (c, top) in tops.iter_mut().enumerate() {
            let key = distance(x, &queries[c * d..(c + 1) * d]) as f64;
            top.offer_gated(&mut gates[c], key, r as u64);
        }
    }
    tops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::kernels::random_bytes;

    /// Every instruction set counts the bits one at a time would.
    #[test]
    fn distances_count_the_differing_bits_on_every_isa() {
        let mut seed = 11u64;
        let mut bytes = |n: usize| random_bytes(n, &mut seed);
        for n in [0, 1, 7, 8, 9, 63, 64, 65, 300] {
            let (x, q) = (bytes(n), bytes(n));
            let want: u64 = x
                .iter()
                .zip(&q)
                .map(|(a, b)| (0..8).filter(|bit| (a >> bit) & 1 != (b >> bit) & 1).count() as u64)
                .sum();
            for isa in simd::available() {
                let got = simd::forcing(isa, || simd::run(|| distance(&x, &q)));
                assert_eq!(got, want, "{isa:?} n={n}");
            }
            assert_eq!(distance(&x, &x), 0);
            let ones = vec![0xffu8; n];
            assert_eq!(distance(&ones, &vec![0u8; n]), 8 * n as u64);
        }
    }
}
