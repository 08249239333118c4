//! `NP.RESHAPE` and `NP.TRANSPOSE`: a new shape for the same data. Both only
//! rewrite the header, except a reshape of a Fortran-ordered array that NumPy
//! could not express as a view, which is copied into C order first.

use crate::array::NpArray;
use crate::error::Result;
use crate::shape::{self, Shape, MAX_NDIM};

use super::{c_order_data, numpy_error};
use crate::meta::Order;

/// The longest shape text accepted: far more than 64 dimensions' worth.
pub const MAX_SHAPE_LEN: usize = 4096;

/// Parses a requested shape: integers separated by commas, optionally in
/// parentheses, as Python writes a tuple: `"2, 3"`, `"(2, -1)"`, `"(6,)"`, `"()"`.
/// Any negative entry asks NumPy to infer that dimension.
pub fn parse_shape(text: &str) -> Result<Vec<i64>> {
    let bad = |why: &str| numpy_error(format!("invalid shape {text:?}: {why}"));
    if text.len() > MAX_SHAPE_LEN {
        return Err(numpy_error(format!("shape text is longer than {MAX_SHAPE_LEN} bytes")));
    }
    let mut inner = text.trim();
    if let Some(rest) = inner.strip_prefix('(') {
        inner = rest
            .strip_suffix(')')
            .ok_or_else(|| bad("unbalanced parentheses"))?
            .trim();
    }
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    let mut parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    if parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop(); // "(6,)"
    }
    if parts.len() > MAX_NDIM {
        return Err(numpy_error(format!(
            "maximum supported dimension for an ndarray is currently {MAX_NDIM}, found {}",
            parts.len()
        )));
    }
    parts
        .into_iter()
        .map(|part| {
            let digits = part.strip_prefix(['-', '+']).unwrap_or(part);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(&format!("{part:?} is not an integer")));
            }
            part.parse::<i64>()
                .map_err(|_| bad(&format!("{part} does not fit in 64 bits")))
        })
        .collect()
}

/// NumPy's text for a requested shape in its reshape errors: leading unknown
/// dimensions are left out, later ones print as `newaxis`, no spaces.
fn requested_repr(requested: &[i64]) -> String {
    let first = requested.iter().position(|&d| d >= 0);
    let Some(first) = first else {
        return "()".to_owned();
    };
    let parts: Vec<String> = requested[first..]
        .iter()
        .map(|&d| if d < 0 { "newaxis".to_owned() } else { d.to_string() })
        .collect();
    if requested.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(","))
    }
}

/// The shape `requested` means for `size` elements, with NumPy's errors.
pub fn resolve(size: u64, requested: &[i64]) -> Result<Shape> {
    let mismatch = || {
        numpy_error(format!(
            "cannot reshape array of size {size} into shape {}",
            requested_repr(requested)
        ))
    };
    let unknown: Vec<usize> = (0..requested.len()).filter(|&i| requested[i] < 0).collect();
    if unknown.len() > 1 {
        return Err(numpy_error("can only specify one unknown dimension"));
    }
    let mut known = 1u64;
    for &d in requested.iter().filter(|&&d| d >= 0) {
        known = known.checked_mul(d as u64).ok_or_else(mismatch)?;
    }
    let mut shape: Shape = requested.iter().map(|&d| d.max(0) as u64).collect();
    match unknown.first() {
        Some(&axis) => {
            if known == 0 || !size.is_multiple_of(known) {
                return Err(mismatch());
            }
            shape[axis] = size / known;
        }
        None if known != size => return Err(mismatch()),
        None => {}
    }
    Ok(shape)
}

/// Dimensions longer than 1, in order: what a reshape must keep for the
/// Fortran-ordered data to stay a view.
fn long_dims(shape: &[u64]) -> Shape {
    shape.iter().copied().filter(|&d| d != 1).collect()
}

/// `arr = arr.reshape(requested)` (C index order, NumPy's default), stored as
/// `np.save` would write the result.
pub fn reshape(array: &mut NpArray, requested: &[i64]) -> Result<()> {
    let shape = resolve(array.size(), requested)?;
    shape::nbytes(&shape, array.itemsize())?;
    if array.order() != Order::F {
        return array.relabel(shape, false);
    }
    if long_dims(&shape) == long_dims(array.shape()) {
        // Only length-1 dimensions come or go: NumPy keeps a Fortran view.
        return array.relabel(shape, true);
    }
    // NumPy copies: the elements in C order, with the new shape.
    let data = c_order_data(array);
    *array = NpArray::from_parts(array.meta().with_shape(shape, false), &data)?;
    Ok(())
}

/// `arr = arr.T`: the shape reversed and the memory order flipped, so the data
/// does not move.
pub fn transpose(array: &mut NpArray) -> Result<()> {
    let shape: Shape = array.shape().iter().rev().copied().collect();
    let fortran = array.order() != Order::F;
    array.relabel(shape, fortran)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::test_array;

    fn err(size: u64, requested: &[i64]) -> String {
        resolve(size, requested).unwrap_err().to_string()
    }

    #[test]
    fn parses_python_tuples() {
        assert_eq!(parse_shape("2, 3").unwrap(), [2, 3]);
        assert_eq!(parse_shape(" (6,) ").unwrap(), [6]);
        assert_eq!(parse_shape("(-1, +2)").unwrap(), [-1, 2]);
        assert_eq!(parse_shape("()").unwrap(), Vec::<i64>::new());
        assert_eq!(parse_shape("").unwrap(), Vec::<i64>::new());
        for bad in ["(2", "2,,3", "a", "1.5", "2 3", "99999999999999999999", "(,)", "--1"] {
            assert!(parse_shape(bad).is_err(), "{bad}");
        }
        assert!(parse_shape(&"1,".repeat(65)).unwrap_err().to_string().contains("64"));
    }

    #[test]
    fn resolves_with_numpy_errors() {
        assert_eq!(resolve(6, &[2, -1]).unwrap().as_slice(), &[2, 3]);
        assert_eq!(resolve(6, &[-2, 3]).unwrap().as_slice(), &[2, 3]);
        assert_eq!(resolve(0, &[-1, 3]).unwrap().as_slice(), &[0, 3]);
        assert_eq!(resolve(1, &[]).unwrap().as_slice(), &[] as &[u64]);
        assert_eq!(err(6, &[4]), "cannot reshape array of size 6 into shape (4,)");
        assert_eq!(err(6, &[-1, -1]), "can only specify one unknown dimension");
        assert_eq!(err(6, &[-1, 4]), "cannot reshape array of size 6 into shape (4)");
        assert_eq!(
            err(6, &[7, -1]),
            "cannot reshape array of size 6 into shape (7,newaxis)"
        );
        assert_eq!(
            err(0, &[0, -1]),
            "cannot reshape array of size 0 into shape (0,newaxis)"
        );
        assert_eq!(err(6, &[]), "cannot reshape array of size 6 into shape ()");
        assert!(resolve(6, &[-1]).is_ok());
        assert!(err(6, &[i64::MAX, 4]).starts_with("cannot reshape"));
    }

    #[test]
    fn c_order_reshape_and_transpose_move_no_data() {
        let mut a = test_array("<i4", &[2, 3], false, bytemuck::cast_slice(&[0i32, 1, 2, 3, 4, 5]));
        let ptr = a.data().as_ptr();
        reshape(&mut a, &[3, -1]).unwrap();
        assert_eq!(
            (a.shape(), a.saved_fortran(), a.data().as_ptr()),
            (&[3u64, 2][..], false, ptr)
        );
        transpose(&mut a).unwrap();
        assert_eq!(
            (a.shape(), a.saved_fortran(), a.data().as_ptr()),
            (&[2u64, 3][..], true, ptr)
        );
        transpose(&mut a).unwrap();
        assert_eq!((a.shape(), a.saved_fortran()), (&[3u64, 2][..], false));
        let again = NpArray::from_npy(&a.npy_bytes()).unwrap();
        assert_eq!(again.npy_bytes(), a.npy_bytes(), "header as np.save writes it");
    }

    #[test]
    fn fortran_reshape_copies_unless_numpy_keeps_a_view() {
        // [[0, 1, 2], [3, 4, 5]] stored in Fortran order.
        let mut f = test_array("|u1", &[2, 3], true, &[0, 3, 1, 4, 2, 5]);
        reshape(&mut f, &[2, 1, 3]).unwrap();
        assert_eq!(
            (f.shape(), f.saved_fortran(), f.data()),
            (&[2u64, 1, 3][..], true, &[0u8, 3, 1, 4, 2, 5][..])
        );
        reshape(&mut f, &[3, 2]).unwrap();
        assert_eq!(
            (f.shape(), f.saved_fortran(), f.data()),
            (&[3u64, 2][..], false, &[0u8, 1, 2, 3, 4, 5][..])
        );
        let mut one = test_array("|u1", &[1, 3], true, &[7, 8, 9]);
        transpose(&mut one).unwrap();
        assert!(!one.saved_fortran(), "a single long dimension is saved in C order");
    }
}
