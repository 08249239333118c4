//! The search against a naive float64 reference, on every instruction set.

use proptest::prelude::*;

use super::*;
use crate::array::test_array;
use crate::compute::simd;
use crate::slice;

/// The reference: float64 distances of the widened values, sorted by (NaN
/// last, key, row), the first `k`.
fn reference(x: &[Vec<f64>], rows: &[u64], q: &[f64], metric: Metric, k: usize) -> (Vec<i64>, Vec<f64>) {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
    let mut scored: Vec<(f64, u64)> = rows
        .iter()
        .map(|&r| {
            let row = &x[r as usize];
            let distance = match metric {
                Metric::L2 => row.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(),
                Metric::Ip => dot(row, q),
                Metric::Cosine => dot(row, q) / (dot(row, row).sqrt() * dot(q, q).sqrt()),
                Metric::Hamming => row
                    .iter()
                    .zip(q)
                    .map(|(&a, &b)| f64::from((a as u8 ^ b as u8).count_ones()))
                    .sum(),
            };
            (metric.key(distance), r)
        })
        .collect();
    scored.sort_by(|a, b| topk::Candidate { key: a.0, row: a.1 }.cmp(&topk::Candidate { key: b.0, row: b.1 }));
    scored.truncate(k);
    (
        scored.iter().map(|s| s.1 as i64).collect(),
        scored.iter().map(|s| metric.key(s.0)).collect(),
    )
}

fn typestr(kind: usize) -> &'static str {
    ["<f4", "<f8", "<f2", "|i1", "|u1"][kind]
}

/// Small integers in the dtype's range, as stored bytes (C order).
fn encode(kind: usize, values: &[f64]) -> Vec<u8> {
    match kind {
        0 => values.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect(),
        1 => values.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        2 => values.iter().flat_map(|&v| f16::from_f64(v).to_le_bytes()).collect(),
        3 => values.iter().map(|&v| v as i8 as u8).collect(),
        _ => values.iter().map(|&v| v as u8).collect(),
    }
}

fn transpose(values: &[f64], n: usize, d: usize) -> Vec<f64> {
    (0..n * d).map(|i| values[(i % n) * d + i / n]).collect()
}

struct Case {
    kind: usize,
    n: usize,
    d: usize,
    values: Vec<f64>,
    queries: Vec<f64>,
    q_count: usize,
}

impl Case {
    fn check(&self, metric: Metric, k: usize, spec: &str, fortran: bool) -> std::result::Result<(), TestCaseError> {
        let (n, d) = (self.n, self.d);
        let stored = if fortran {
            transpose(&self.values, n, d)
        } else {
            self.values.clone()
        };
        let matrix = test_array(
            typestr(self.kind),
            &[n as u64, d as u64],
            fortran,
            &encode(self.kind, &stored),
        );
        let query = test_array(
            typestr(self.kind),
            &[self.q_count as u64, d as u64],
            false,
            &encode(self.kind, &self.queries),
        );
        let items = slice::parse(spec).unwrap();
        let selected = Rows::select(&items, n as u64).unwrap();
        let rows: Vec<u64> = (0..selected.len()).map(|i| selected.row(i)).collect();
        let x: Vec<Vec<f64>> = self.values.chunks(d).map(<[f64]>::to_vec).collect();
        for isa in simd::available() {
            let found = simd::forcing(isa, || knn(&matrix, &query, k as i64, metric, Some(&items))).unwrap();
            for (c, q) in self.queries.chunks(d).enumerate() {
                let (want_rows, want) = reference(&x, &rows, q, metric, k);
                let got_rows = &found.rows[c * k..(c + 1) * k];
                let got = &found.distances[c * k..(c + 1) * k];
                if metric == Metric::Cosine && self.q_count > 1 {
                    // A batch ranks cosine by x·q · ‖x‖⁻¹ · ‖q‖⁻¹, which rounds
                    // otherwise than the reference's division: equal cosines
                    // (parallel rows) may be ordered by that rounding. Each
                    // row kept must have the distance of its rank.
                    let all: Vec<u64> = (0..n as u64).collect();
                    let (every_row, every) = reference(&x, &all, q, metric, n);
                    for (rank, &row) in got_rows.iter().enumerate() {
                        let at = every_row.iter().position(|&r| r == row).unwrap();
                        prop_assert!(rows.contains(&(row as u64)), "{:?} row {} not searched", isa, row);
                        let (mine, theirs) = (every[at] as f32, want[rank] as f32);
                        prop_assert!(
                            mine == theirs || mine.is_nan() && theirs.is_nan(),
                            "{:?} query {} rank {}: row {} at {}, want {}",
                            isa,
                            c,
                            rank,
                            row,
                            mine,
                            theirs
                        );
                    }
                } else {
                    prop_assert_eq!(got_rows, &want_rows[..], "{:?} {:?} query {}", isa, metric, c);
                }
                for (g, w) in got.iter().zip(&want) {
                    let g = if found.float64 { *g } else { f64::from(*g as f32) };
                    let w = if found.float64 { *w } else { f64::from(*w as f32) };
                    prop_assert!(g == w || g.is_nan() && w.is_nan(), "{:?} {:?} {} {}", isa, metric, g, w);
                }
            }
        }
        Ok(())
    }
}

fn case(kind: usize, n: usize, d: usize, q_count: usize, seed: u64, range: i64) -> Case {
    let mut state = seed.wrapping_mul(2862933555777941757).wrapping_add(3037000493);
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let lo = if kind == 4 { 0 } else { -range };
        (lo + ((state >> 33) as i64).rem_euclid(range - lo + 1)) as f64
    };
    let values = (0..n * d).map(|_| next()).collect();
    let queries = (0..q_count * d).map(|_| next()).collect();
    Case {
        kind,
        n,
        d,
        values,
        queries,
        q_count,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Integer-valued data: every sum is exact in every dtype, so rows and
    /// distances equal the float64 reference's exactly, ties included.
    #[test]
    fn integer_valued_data_gives_the_reference_exactly(
        kind in 0usize..5,
        n in 1usize..70,
        d in 1usize..40,
        q_count in 1usize..7,
        seed in any::<u64>(),
        k_pick in any::<prop::sample::Index>(),
        metric in prop_oneof![Just(Metric::L2), Just(Metric::Ip), Just(Metric::Cosine)],
        fortran in any::<bool>(),
        spec in prop_oneof![Just(""), Just("3:"), Just("::-3"), Just("[5, 0, 5, 2, 60, 1]"), Just("-4:")],
    ) {
        let c = case(kind, n, d, q_count, seed, if kind == 2 { 8 } else { 4 });
        let items = slice::parse(spec).unwrap();
        let Ok(rows) = Rows::select(&items, n as u64) else { return Ok(()) };
        prop_assume!(!rows.is_empty());
        // Cosine's division rounds like the reference's only where the sums are exact.
        let k = 1 + k_pick.index(rows.len());
        c.check(metric, k, spec, fortran)?;
    }
}

#[test]
fn long_rows_of_bytes_sum_exactly() {
    for kind in [3, 4] {
        let c = case(kind, 9, 700, 3, 11, 127);
        for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
            c.check(metric, 9, "", false).unwrap();
            c.check(metric, 4, "1::2", true).unwrap();
        }
    }
}

#[test]
fn nan_rows_rank_last_and_duplicates_tie_by_row() {
    let x = [1.0f32, 0.0, f32::NAN, 0.0, 1.0, 0.0, 2.0, 2.0, 1.0, 0.0];
    let matrix = test_array("<f4", &[5, 2], false, bytemuck::cast_slice(&x));
    let query = test_array("<f4", &[2], false, bytemuck::cast_slice(&[1.0f32, 0.0]));
    for isa in simd::available() {
        let found = simd::forcing(isa, || knn(&matrix, &query, 5, Metric::L2, None)).unwrap();
        assert_eq!(found.rows, [0, 2, 4, 3, 1]);
        assert_eq!(&found.distances[..4], [0.0, 0.0, 0.0, 5.0]);
        assert!(found.distances[4].is_nan());
        assert_eq!(&found.shape[..], [5]);
    }
}

#[test]
fn errors_read_like_numpy() {
    let matrix = test_array("<f4", &[3, 2], false, &[0; 24]);
    let err = |query: &NpArray, k: i64, spec: Option<&str>| {
        let items = spec.map(|s| slice::parse(s).unwrap());
        knn(&matrix, query, k, Metric::L2, items.as_deref())
            .unwrap_err()
            .to_string()
    };
    let q2 = test_array("<f4", &[2], false, &[0; 8]);
    let q3 = test_array("<f4", &[3], false, &[0; 12]);
    let q64 = test_array("<f8", &[2], false, &[0; 16]);
    assert_eq!(
        err(&q3, 1, None),
        "matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature (n?,k),(k,m?)->(n?,m?) (size 3 is different from 2)"
    );
    assert_eq!(
        err(&q64, 1, None),
        "Cannot cast array data from dtype('float64') to dtype('float32') according to the rule 'safe'"
    );
    assert_eq!(
        err(&q2, 4, None),
        "k must be between 1 and the number of rows searched (3), got 4"
    );
    assert_eq!(
        err(&q2, 0, None),
        "k must be between 1 and the number of rows searched (3), got 0"
    );
    assert_eq!(
        err(&q2, 2, Some("[1, 1]")),
        "k must be between 1 and the number of rows searched (1), got 2"
    );
    assert!(err(&q2, 1, Some("3:")).starts_with("no rows to search"));
    let ints = test_array("<i4", &[3, 2], false, &[0; 24]);
    let e = knn(&ints, &q2, 1, Metric::Ip, None).unwrap_err().to_string();
    assert!(e.contains("not dtype('int32')"), "{e}");
    let i8q = test_array("|i1", &[2], false, &[0; 2]);
    assert!(
        knn(&matrix, &i8q, 1, Metric::Ip, None).is_ok(),
        "int8 casts safely to float32"
    );
    assert_eq!(Metric::parse(b"COSINE").unwrap(), Metric::Cosine);
    assert_eq!(Metric::parse(b"HAMMING").unwrap(), Metric::Hamming);
    assert!(Metric::parse(b"jaccard").is_err());
    assert!(knn(&matrix, &i8q, 1, Metric::Hamming, None)
        .unwrap_err()
        .to_string()
        .contains("METRIC hamming compares uint8 rows"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random floats: distances within float32 rounding of the float64
    /// reference, and the rows the same wherever the reference's distances
    /// are apart by more than that.
    #[test]
    fn random_floats_are_near_the_reference(
        n in 1usize..300,
        d in 1usize..70,
        q_count in 1usize..6,
        seed in any::<u64>(),
        metric in prop_oneof![Just(Metric::L2), Just(Metric::Ip), Just(Metric::Cosine)],
    ) {
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0
        };
        let values: Vec<f64> = (0..n * d).map(|_| f64::from(next() as f32)).collect();
        let queries: Vec<f64> = (0..q_count * d).map(|_| f64::from(next() as f32)).collect();
        let matrix = test_array("<f4", &[n as u64, d as u64], false, &encode(0, &values));
        let query = test_array("<f4", &[q_count as u64, d as u64], false, &encode(0, &queries));
        let x: Vec<Vec<f64>> = values.chunks(d).map(<[f64]>::to_vec).collect();
        let all: Vec<u64> = (0..n as u64).collect();
        let k = n.min(5);
        let found = knn(&matrix, &query, k as i64, metric, None).unwrap();
        for (c, q) in queries.chunks(d).enumerate() {
            let (_, want) = reference(&x, &all, q, metric, n);
            let scale = match metric {
                Metric::Cosine => 1.0,
                _ => d as f64 * 4.0,
            };
            let tolerance = scale * 1e-6;
            for (i, (&row, &got)) in found.rows[c * k..(c + 1) * k].iter().zip(&found.distances[c * k..]).enumerate() {
                prop_assert!((got - want[i]).abs() <= tolerance, "rank {} {} vs {}", i, got, want[i]);
                // The row found has the reference distance of its rank, within rounding.
                let (_, mine) = reference(&x, &[row as u64], q, metric, 1);
                prop_assert!((mine[0] - want[i]).abs() <= 2.0 * tolerance);
            }
        }
    }
}

/// Rows (1, 1) and (3, 3) have the same cosine with every query; a batch's
/// rounding may rank either first, at the distance of the first rank.
#[test]
fn parallel_rows_tie_in_a_cosine_batch() {
    let c = case(4, 5, 2, 4, 3840259822496732949, 4);
    assert_eq!(c.values[6..], [1.0, 1.0, 3.0, 3.0]);
    c.check(Metric::Cosine, 1, "", false).unwrap();
    c.check(Metric::Cosine, 2, "", true).unwrap();
}
