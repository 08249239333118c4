//! The `k` best rows seen so far for one query: a bounded max-heap of
//! (key, row), where a smaller key is nearer, a NaN key is worse than every
//! number, and of two equal keys the lower row is nearer.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A candidate: its key (smaller is nearer) and its row in the whole array.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    pub key: f64,
    pub row: u64,
}

impl Candidate {
    /// Nearer first: numbers by value (−0 equals 0), then NaN; ties by row.
    fn order(&self, other: &Self) -> Ordering {
        let by_key = match (self.key.is_nan(), other.key.is_nan()) {
            (false, false) => self.key.partial_cmp(&other.key).expect("numbers compare"),
            (a, b) => a.cmp(&b),
        };
        by_key.then(self.row.cmp(&other.row))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.order(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order(other)
    }
}

/// The `k` nearest candidates offered so far.
#[derive(Debug)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Candidate>,
}

impl TopK {
    pub fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k),
        }
    }

    /// Offers a candidate whose row is above every row offered before (a
    /// scan visits rows in increasing order), so only a strictly smaller
    /// key, or a number where the worst kept is NaN, displaces the worst.
    #[inline]
    pub fn offer_next(&mut self, key: f64, row: u64) {
        if self.heap.len() < self.k {
            self.heap.push(Candidate { key, row });
            return;
        }
        let worst = self.heap.peek().expect("k >= 1").key;
        if key < worst || (worst.is_nan() && !key.is_nan()) {
            self.heap.pop();
            self.heap.push(Candidate { key, row });
        }
    }

    /// A key at or above which (with a row above all offered) a candidate
    /// cannot enter: the worst kept key once `k` are kept, else NaN (which
    /// nothing is at or above, so everything is offered; also while the
    /// worst kept is NaN, which any number displaces).
    #[inline]
    pub fn gate(&self) -> f64 {
        match self.heap.peek() {
            Some(worst) if self.heap.len() == self.k => worst.key,
            _ => f64::NAN,
        }
    }

    /// [`TopK::offer_next`] unless `key` is at or above `gate`, the
    /// caller's copy of [`TopK::gate`] (a local the scan keeps in a
    /// register), which it then updates. A NaN gate or key compares
    /// neither way, so is offered.
    #[inline(always)]
    pub fn offer_gated(&mut self, gate: &mut f64, key: f64, row: u64) {
        if !matches!(key.partial_cmp(gate), Some(Ordering::Greater | Ordering::Equal)) {
            self.offer_next(key, row);
            *gate = self.gate();
        }
    }

    /// Offers a candidate in any order.
    pub fn offer(&mut self, candidate: Candidate) {
        if self.heap.len() < self.k {
            self.heap.push(candidate);
        } else if candidate < *self.heap.peek().expect("k >= 1") {
            self.heap.pop();
            self.heap.push(candidate);
        }
    }

    /// The kept candidates, nearest first.
    pub fn into_sorted(self) -> Vec<Candidate> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_first_ties_by_row_nan_last() {
        let keys = [3.0, f64::NAN, 1.0, -0.0, 0.0, 1.0, f64::INFINITY, f64::NAN, 2.0];
        for k in 1..=keys.len() {
            let mut top = TopK::new(k);
            for (row, &key) in keys.iter().enumerate() {
                top.offer_next(key, row as u64);
            }
            assert_eq!(top.gate().is_nan(), k >= 8, "k={k}: NaN while the worst kept is NaN");
            let rows: Vec<u64> = top.into_sorted().iter().map(|c| c.row).collect();
            assert_eq!(rows, [3, 4, 2, 5, 8, 0, 6, 1, 7][..k], "k={k}");
            let mut any = TopK::new(k);
            for (row, &key) in keys.iter().enumerate().rev() {
                any.offer(Candidate { key, row: row as u64 });
            }
            let rows2: Vec<u64> = any.into_sorted().iter().map(|c| c.row).collect();
            assert_eq!(rows2, [3, 4, 2, 5, 8, 0, 6, 1, 7][..k], "k={k}");
        }
    }
}
