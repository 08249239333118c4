//! What `NP.GET` does for a request, decided free of Redis from the array,
//! its options and its selection (resolved once, here): reply the stored
//! bytes, one run of them, or a copy (the selection built, then cast, as
//! `.npy` or `VALUES`). The glue executes the plan; the checks that need the
//! server (`maxmemory`, `numpy.max-array-bytes`) stay there, on the sizes the
//! plan gives it.

use crate::array::NpArray;
use crate::convert;
use crate::dtype::Dtype;
use crate::error::{NpyError, Result};
use crate::options::GetOptions;
use crate::slice::{Selection, StoredRun};

/// How `NP.GET` replies.
#[derive(Debug, PartialEq, Eq)]
pub enum GetPlan {
    /// The array's `.npy` bytes as stored: a header kept in front of its
    /// data, or a packed value.
    Stored,
    /// One run of the stored data, sent behind a header written for it:
    /// rows `a:b`, or a whole array whose header is not in front of its data.
    Run(StoredRun),
    /// A copy: the selection built, then cast.
    Copy(CopyPlan),
}

/// The copy an `NP.GET` replies with, built from the array read as one
/// slice (contiguous).
#[derive(Debug, PartialEq, Eq)]
pub struct CopyPlan {
    /// `SLICE`: `None` reads the whole array.
    pub selection: Option<Selection>,
    /// `AS`.
    pub cast: Option<Dtype>,
    /// `VALUES`: the elements as RESP values, not `.npy` bytes.
    pub values: bool,
    max_bytes: Option<u64>,
    selected_nbytes: u64,
}

impl GetPlan {
    /// The plan for `NP.GET` of `array` with `options`. Errors come in
    /// NumPy's order for the selection, then `MAXBYTES` on the reply's size,
    /// known before anything is built (the cast's element count from the
    /// selection when its itemsize allows).
    pub fn new(array: &NpArray, options: GetOptions) -> Result<GetPlan> {
        let selection = match options.slice.as_deref() {
            Some(items) => Some(Selection::resolve(array, items)?),
            None => None,
        };
        let selected_nbytes = match &selection {
            Some(selection) => selection.nbytes()?,
            None => array.nbytes(),
        };
        let reply_nbytes = match &options.cast {
            None => Some(selected_nbytes),
            Some(_) if array.itemsize() == 0 => None,
            Some(to) => Some((selected_nbytes / array.itemsize()).saturating_mul(to.itemsize())),
        };
        if let Some(nbytes) = reply_nbytes {
            check_max_bytes(options.max_bytes, nbytes)?;
        }
        if options.cast.is_none() && !options.values {
            match &selection {
                Some(selection) => {
                    if let Some(run) = selection.stored_run(array.dtype()) {
                        return Ok(GetPlan::Run(run));
                    }
                }
                // A full-layout array without its header in front of the data
                // (an exact-size buffer, a rolling buffer, wrapped or not) is
                // the run of all its data.
                None if !array.is_packed() && array.stored_npy().is_none() => {
                    return Ok(GetPlan::Run(StoredRun {
                        meta: array.meta().into_owned(),
                        bytes: 0..selected_nbytes as usize,
                    }));
                }
                None => return Ok(GetPlan::Stored),
            }
        }
        Ok(GetPlan::Copy(CopyPlan {
            selection,
            cast: options.cast,
            values: options.values,
            max_bytes: options.max_bytes,
            selected_nbytes,
        }))
    }
}

impl CopyPlan {
    /// The data size the selection builds, when there is one: an index list
    /// can repeat rows, so the glue caps it as it caps stored arrays.
    pub fn selection_nbytes(&self) -> Option<u64> {
        self.selection.as_ref().map(|_| self.selected_nbytes)
    }

    /// The selection built from `array` (the request's array, contiguous),
    /// or `None` to read the array itself.
    pub fn select(&self, array: &NpArray) -> Result<Option<NpArray>> {
        self.selection
            .as_ref()
            .map(|selection| selection.build(array))
            .transpose()
    }

    /// Checks what the reply will hold once `input` (the selection, or the
    /// array) is cast: at most `VALUES`'s element count (before a cast copies
    /// the data) and `MAXBYTES`. The cast's data size, for the glue to cap
    /// as it caps stored arrays; `None` without a cast.
    pub fn check_cast(&self, input: &NpArray) -> Result<Option<u64>> {
        if self.values {
            convert::check_value_count(input.size())?;
        }
        let Some(to) = &self.cast else {
            return Ok(None);
        };
        let cast_nbytes = input.size().saturating_mul(to.itemsize());
        check_max_bytes(self.max_bytes, cast_nbytes)?;
        Ok(Some(cast_nbytes))
    }

    /// `input` cast to `AS`'s dtype, or `None` without `AS`.
    pub fn cast(&self, input: &NpArray) -> Result<Option<NpArray>> {
        self.cast.as_ref().map(|to| convert::cast(input, to)).transpose()
    }
}

/// `MAXBYTES`: refuses a reply whose array data (`nbytes` of the selection,
/// after a cast) would exceed the caller's bound.
fn check_max_bytes(max_bytes: Option<u64>, nbytes: u64) -> Result<()> {
    match max_bytes {
        Some(max) if nbytes > max => Err(NpyError::OverMaxBytes { nbytes, max }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::test_array;
    use crate::options::parse_get;

    fn plan(array: &NpArray, args: &[&str]) -> Result<GetPlan> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        GetPlan::new(array, parse_get(&args).expect("valid options"))
    }

    fn matrix(rows: u64) -> NpArray {
        let data: Vec<u8> = (0..rows as u32 * 4).flat_map(u32::to_le_bytes).collect();
        test_array("<u4", &[rows, 4], false, &data)
    }

    fn copy(plan: Result<GetPlan>) -> CopyPlan {
        match plan {
            Ok(GetPlan::Copy(copy)) => copy,
            other => panic!("not a copy: {other:?}"),
        }
    }

    #[test]
    fn each_kind_of_request_gets_its_plan() {
        let a = matrix(1000);
        assert!(a.stored_npy().is_some(), "a whole .npy kept as one piece");
        assert_eq!(plan(&a, &[]), Ok(GetPlan::Stored));
        assert_eq!(plan(&a, &["MAXBYTES", "16000"]), Ok(GetPlan::Stored));

        // Rows are a run of the stored bytes; a step or a column is a copy.
        let Ok(GetPlan::Run(run)) = plan(&a, &["SLICE", "10:20"]) else {
            panic!("rows are a run");
        };
        assert_eq!((run.meta.shape(), run.bytes), (&[10u64, 4][..], 160..320));
        let strided = copy(plan(&a, &["SLICE", "::2"]));
        assert_eq!(
            (strided.selection_nbytes(), strided.cast.is_none(), strided.values),
            (Some(8000), true, false)
        );
        assert_eq!(strided.select(&a).unwrap().unwrap().shape(), &[500, 4]);
        let gather = copy(plan(&a, &["SLICE", "[5, 5, 5]"]));
        assert_eq!(gather.selection_nbytes(), Some(48));
        let element = copy(plan(&a, &["SLICE", "3, 1"]));
        assert_eq!(element.select(&a).unwrap().unwrap().shape(), &[] as &[u64], "a scalar");

        // A cast or VALUES copies, with or without a selection.
        let cast = copy(plan(&a, &["AS", "float64"]));
        assert_eq!((cast.selection_nbytes(), cast.check_cast(&a)), (None, Ok(Some(32000))));
        assert_eq!(cast.cast(&a).unwrap().unwrap().dtype().name(), "float64");
        let values = copy(plan(&a, &["SLICE", "10:20", "VALUES"]));
        assert!(values.values && values.selection.is_some());
        assert_eq!(values.check_cast(&a), Ok(None));
        let both = copy(plan(&a, &["SLICE", "0", "AS", "int8"]));
        let row = both.select(&a).unwrap().unwrap();
        assert_eq!(both.check_cast(&row), Ok(Some(4)));

        // A whole array whose header is not in front of its data (an
        // exact-size buffer: 1 MiB of data) is a run.
        let exact = matrix(65_536);
        assert!(!exact.is_packed() && exact.stored_npy().is_none());
        let Ok(GetPlan::Run(run)) = plan(&exact, &[]) else {
            panic!("a headerless array is a run");
        };
        assert_eq!((run.meta.shape(), run.bytes), (&[65_536u64, 4][..], 0..1 << 20));
        let small = matrix(2);
        assert!(small.is_packed());
        assert_eq!(plan(&small, &[]), Ok(GetPlan::Stored));
    }

    #[test]
    fn refusals_come_before_anything_is_built() {
        let a = matrix(1000);
        let err = |args: &[&str]| plan(&a, args).unwrap_err().to_string();
        assert_eq!(
            err(&["SLICE", "1000"]),
            "index 1000 is out of bounds for axis 0 with size 1000"
        );
        assert_eq!(
            err(&["MAXBYTES", "15999"]),
            "reply array would be 16000 bytes, over MAXBYTES 15999"
        );
        assert_eq!(
            err(&["SLICE", "[1, 2, 3]", "AS", "complex128", "MAXBYTES", "100"]),
            "reply array would be 192 bytes, over MAXBYTES 100"
        );
        assert!(plan(&a, &["SLICE", "0:1", "MAXBYTES", "16"]).is_ok());
    }
}
