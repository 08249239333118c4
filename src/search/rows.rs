//! The rows a search visits: all of them, a range (`start:stop:step`), or an
//! index list, always as a set visited in increasing order (a list's
//! repeats count once, a negative step selects the same rows as its
//! reversal), so ties go to the lower row and a long list with repeats costs
//! no more than its distinct rows.

use crate::error::{NpyError, Result};
use crate::slice::{self, Item};

/// Selected rows, increasing and distinct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    /// `start, start + step, …`: `count` rows.
    Range { start: u64, step: u64, count: u64 },
    /// Sorted, without repeats.
    List(Vec<u64>),
}

impl Rows {
    /// Every row of an array of `n` rows.
    pub fn all(n: u64) -> Rows {
        Rows::Range {
            start: 0,
            step: 1,
            count: n,
        }
    }

    /// The rows `arr[spec]` selects along the first axis of `n` rows, where
    /// the spec (already parsed) is one range, one index, one list, or `...`.
    pub fn select(items: &[Item], n: u64) -> Result<Rows> {
        let [item] = items else {
            if items.is_empty() {
                return Ok(Rows::all(n));
            }
            return Err(NpyError::Index(format!(
                "NP.KNN's SLICE selects rows: one range (start:stop:step), one index or one [i, j, ...] list, got {} items",
                items.len()
            )));
        };
        match item {
            Item::Ellipsis => Ok(Rows::all(n)),
            Item::Slice { start, stop, step } => {
                let (start, step, count) = slice::resolve_slice(*start, *stop, *step, n)?;
                if count == 0 {
                    return Ok(Rows::List(Vec::new()));
                }
                // A negative step visits the same rows from the other end.
                let last = start + step * i128::from(count - 1);
                let first = start.min(last);
                Ok(Rows::Range {
                    start: u64::try_from(first).expect("a selected row is in 0..n"),
                    step: u64::try_from(step.abs()).expect("a step fits"),
                    count,
                })
            }
            Item::Index(i) => Ok(Rows::List(vec![row(*i, n)?])),
            Item::List(list) => {
                let mut rows = list.iter().map(|&i| row(i, n)).collect::<Result<Vec<u64>>>()?;
                rows.sort_unstable();
                rows.dedup();
                Ok(Rows::List(rows))
            }
            Item::NewAxis => Err(NpyError::Index(
                "NP.KNN's SLICE selects rows: None (a new axis) has no rows to select".into(),
            )),
        }
    }

    /// How many rows are selected.
    pub fn len(&self) -> usize {
        match self {
            Rows::Range { count, .. } => *count as usize,
            Rows::List(rows) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th selected row.
    #[inline]
    pub fn row(&self, i: usize) -> u64 {
        match self {
            Rows::Range { start, step, .. } => start + step * i as u64,
            Rows::List(rows) => rows[i],
        }
    }

    /// The first of the selected rows `i..i + len` when they are consecutive.
    pub fn run(&self, i: usize, len: usize) -> Option<u64> {
        match self {
            Rows::Range { step: 1, .. } => Some(self.row(i)),
            Rows::Range { .. } => (len == 1).then(|| self.row(i)),
            Rows::List(rows) => {
                let part = &rows[i..i + len];
                (part[len - 1] - part[0] == len as u64 - 1).then_some(part[0])
            }
        }
    }
}

fn row(index: i64, n: u64) -> Result<u64> {
    let resolved = slice::resolve_index(index, 0, n)?;
    Ok(u64::try_from(resolved).expect("an in-bounds index is not negative"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(spec: &str, n: u64) -> Result<Vec<u64>> {
        let r = Rows::select(&slice::parse(spec)?, n)?;
        Ok((0..r.len()).map(|i| r.row(i)).collect())
    }

    #[test]
    fn selections_are_increasing_sets() {
        assert_eq!(rows("", 4).unwrap(), [0, 1, 2, 3]);
        assert_eq!(rows("...", 3).unwrap(), [0, 1, 2]);
        assert_eq!(rows("-2:", 5).unwrap(), [3, 4]);
        assert_eq!(rows("::-2", 5).unwrap(), [0, 2, 4]);
        assert_eq!(rows("8:1:-3", 10).unwrap(), [2, 5, 8]);
        assert_eq!(rows("5:2", 10).unwrap(), Vec::<u64>::new());
        assert_eq!(rows("[3, -1, 3, 0, 3]", 5).unwrap(), [0, 3, 4]);
        assert_eq!(rows("2", 5).unwrap(), [2]);
        assert_eq!(
            rows("[7]", 5).unwrap_err().to_string(),
            "index 7 is out of bounds for axis 0 with size 5"
        );
        assert!(rows("1:2, 0", 5).is_err());
        assert!(rows("None", 5).is_err());
        let r = Rows::select(&slice::parse("[1, 2, 3, 5]").unwrap(), 9).unwrap();
        assert_eq!((r.run(0, 3), r.run(1, 3), r.run(3, 1)), (Some(1), None, Some(5)));
    }
}
