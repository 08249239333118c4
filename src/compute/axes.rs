//! Which axes a reduction runs over (NumPy's `axis=` as an int, a tuple or
//! None, with its error texts), and how NumPy's iterator walks them: the
//! axes in memory order, neighbours of the same kind (reduced or kept)
//! merged, the innermost one the inner loop. The order decides float
//! rounding, so [`Plan`] hands the kernels the same pieces in the same order.

use super::kernels::Lanes;
use super::numpy_error;
use crate::error::Result;

/// The `axis=` of a reduction, as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axes<'a> {
    /// Every axis (`axis=None`).
    All,
    /// `axis=n`: one integer.
    One(i64),
    /// `axis=(a, b, …)`: a tuple of at least two integers.
    Tuple(&'a [i64]),
}

impl<'a> Axes<'a> {
    /// `AXIS a [b …]`: one integer is NumPy's int, more are its tuple.
    pub fn from_list(list: Option<&'a [i64]>) -> Axes<'a> {
        match list {
            None => Axes::All,
            Some([one]) => Axes::One(*one),
            Some(many) => Axes::Tuple(many),
        }
    }

    /// NumPy's `'tuple' object cannot be interpreted as an integer` for the
    /// functions that take an integer axis only (argmin, argmax).
    pub fn require_int(self) -> Result<Axes<'a>> {
        match self {
            Axes::Tuple(_) => Err(numpy_error("'tuple' object cannot be interpreted as an integer")),
            other => Ok(other),
        }
    }

    /// One flag per dimension: whether it is reduced. Every axis's range is
    /// checked before any repeat is looked for, as NumPy does.
    pub fn flags(self, ndim: usize) -> Result<Vec<bool>> {
        let one;
        let list: &[i64] = match self {
            Axes::All => return Ok(vec![true; ndim]),
            Axes::One(a) => {
                one = [a];
                &one
            }
            Axes::Tuple(list) => list,
        };
        let resolve = |a: i64| {
            let resolved = if a < 0 { a + ndim as i64 } else { a };
            if resolved < 0 || resolved >= ndim as i64 {
                return Err(numpy_error(format!(
                    "axis {a} is out of bounds for array of dimension {ndim}"
                )));
            }
            Ok(resolved as usize)
        };
        list.iter().try_for_each(|&a| resolve(a).map(drop))?;
        let mut flags = vec![false; ndim];
        for &a in list {
            let d = resolve(a)?;
            if flags[d] {
                return Err(numpy_error("duplicate value in 'axis'"));
            }
            flags[d] = true;
        }
        Ok(flags)
    }
}

/// A reduction over any set of axes of contiguous data, as NumPy's iterator
/// walks it: the innermost (up to three) merged dimensions — kept, reduced,
/// kept — form [`Lanes`] that the kernels run over, and the dimensions outside
/// them (`prefix`) repeat those lanes over consecutive blocks of the data,
/// accumulating into the block of results their kept indices select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub lanes: Lanes,
    /// The merged dimensions outside `lanes`, outermost first: (length, reduced).
    prefix: Vec<(usize, bool)>,
}

impl Plan {
    /// The plan for data of `shape` (C order, or Fortran with `fortran`)
    /// reduced over the dimensions flagged in `reduced`.
    pub fn new(shape: &[u64], fortran: bool, reduced: &[bool]) -> Plan {
        let size: u64 = shape.iter().product();
        let count = |of_reduced: bool| {
            shape
                .iter()
                .zip(reduced)
                .filter(|(_, &r)| r == of_reduced)
                .map(|(&d, _)| d as usize)
                .product::<usize>()
        };
        if size == 0 {
            // Nothing to walk: each result reduces `len` (possibly zero) elements.
            return Plan {
                lanes: Lanes {
                    outer: count(false),
                    len: count(true),
                    inner: 1,
                },
                prefix: Vec::new(),
            };
        }
        // Memory order, outermost first; length-1 dimensions change nothing.
        let mut order: Vec<(usize, bool)> = shape.iter().zip(reduced).map(|(&d, &r)| (d as usize, r)).collect();
        if fortran {
            order.reverse();
        }
        let mut merged: Vec<(usize, bool)> = Vec::new();
        for (len, r) in order.into_iter().filter(|&(len, _)| len != 1) {
            match merged.last_mut() {
                Some(last) if last.1 == r => last.0 *= len,
                _ => merged.push((len, r)),
            }
        }
        let mut take = |reduced: bool| match merged.last() {
            Some(&(len, r)) if r == reduced => {
                merged.pop();
                len
            }
            _ => 1,
        };
        let inner = take(false);
        let len = take(true);
        let outer = take(false);
        Plan {
            lanes: Lanes { outer, len, inner },
            prefix: merged,
        }
    }

    /// A plan of a single set of lanes.
    pub fn of_lanes(lanes: Lanes) -> Plan {
        Plan {
            lanes,
            prefix: Vec::new(),
        }
    }

    /// Whether the plan is one set of lanes (no blocks to repeat them over).
    pub fn is_simple(&self) -> bool {
        self.prefix.is_empty()
    }

    /// Number of results.
    pub fn results(&self) -> usize {
        self.lanes.count() * self.prefix.iter().filter(|d| !d.1).map(|d| d.0).product::<usize>()
    }

    /// Number of elements each result reduces.
    pub fn reduced(&self) -> usize {
        self.lanes.len * self.prefix.iter().filter(|d| d.1).map(|d| d.0).product::<usize>()
    }

    /// Calls `block(input, output)` for each repetition of the lanes in
    /// memory order: `input` is the element where its data starts (it spans
    /// `outer * len * inner` elements), `output` the first of its
    /// `lanes.count()` results.
    pub fn for_each_block(&self, mut block: impl FnMut(usize, usize)) {
        let g = self.lanes;
        let (in_size, out_size) = (g.outer * g.len * g.inner, g.count());
        let mut index = vec![0usize; self.prefix.len()];
        let mut input = 0usize;
        loop {
            block(input * in_size, self.output_block(&index) * out_size);
            // The next prefix position (an odometer, innermost dimension fastest).
            input += 1;
            let mut d = self.prefix.len();
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                index[d] += 1;
                if index[d] < self.prefix[d].0 {
                    break;
                }
                index[d] = 0;
            }
        }
    }

    /// The block of results the prefix position `index` accumulates into:
    /// its kept indices, innermost fastest (the results' memory order).
    fn output_block(&self, index: &[usize]) -> usize {
        self.prefix
            .iter()
            .zip(index)
            .filter(|((_, reduced), _)| !reduced)
            .fold(0, |acc, (&(len, _), &i)| acc * len + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(plan: &Plan) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        plan.for_each_block(|i, o| out.push((i, o)));
        out
    }

    #[test]
    fn axes_follow_numpys_rules() {
        assert_eq!(Axes::All.flags(2).unwrap(), [true, true]);
        assert_eq!(Axes::One(-1).flags(3).unwrap(), [false, false, true]);
        assert_eq!(Axes::Tuple(&[2, 0]).flags(3).unwrap(), [true, false, true]);
        let err = |axes: Axes| axes.flags(3).unwrap_err().to_string();
        assert_eq!(err(Axes::Tuple(&[1, -2])), "duplicate value in 'axis'");
        assert_eq!(
            err(Axes::Tuple(&[1, 1, 5])),
            "axis 5 is out of bounds for array of dimension 3"
        );
        assert_eq!(
            err(Axes::Tuple(&[-4, 0])),
            "axis -4 is out of bounds for array of dimension 3"
        );
        assert!(Axes::Tuple(&[0, 1]).require_int().is_err());
        assert_eq!(Axes::from_list(Some(&[3])), Axes::One(3));
    }

    #[test]
    fn plans_merge_neighbours_in_memory_order() {
        let lanes = |outer, len, inner| Lanes { outer, len, inner };
        // (2, 3, 4) in C order over axes 1 and 2: one lane of 12 per result.
        let p = Plan::new(&[2, 3, 4], false, &[false, true, true]);
        assert_eq!((p.lanes, p.is_simple()), (lanes(2, 12, 1), true));
        // Over axes 0 and 2: lanes of 4 for each of 3 results, repeated twice.
        let p = Plan::new(&[2, 3, 4], false, &[true, false, true]);
        assert_eq!(p.lanes, lanes(3, 4, 1));
        assert_eq!((p.results(), p.reduced()), (3, 8));
        assert_eq!(blocks(&p), [(0, 0), (12, 0)]);
        // The same array in Fortran order: axis 2 is outermost.
        let p = Plan::new(&[2, 3, 4], true, &[true, false, true]);
        assert_eq!(
            (p.lanes, blocks(&p)),
            (lanes(3, 2, 1), vec![(0, 0), (6, 0), (12, 0), (18, 0)])
        );
        // (2, 2, 2, 2) over axes 1 and 3: kept, reduced, kept, reduced.
        let p = Plan::new(&[2, 2, 2, 2], false, &[false, true, false, true]);
        assert_eq!(p.lanes, lanes(2, 2, 1));
        assert_eq!(blocks(&p), [(0, 0), (4, 0), (8, 2), (12, 2)]);
        // (3, 2, 2, 2) over axes 0 and 2: reduced, kept, reduced, kept.
        let p = Plan::new(&[3, 2, 2, 2], false, &[true, false, true, false]);
        assert_eq!(p.lanes, lanes(2, 2, 2));
        assert_eq!(blocks(&p), [(0, 0), (8, 0), (16, 0)]);
        // Length-1 axes vanish; nothing reduced is a copy.
        let p = Plan::new(&[1, 5, 1], false, &[true, false, true]);
        assert_eq!((p.lanes, p.reduced()), (lanes(1, 1, 5), 1));
        let p = Plan::new(&[2, 0, 3], false, &[false, true, false]);
        assert_eq!((p.lanes, p.results()), (lanes(6, 0, 1), 6));
    }
}
