//! `NP.UPDATE`: `arr[spec] op= value` in place, as NumPy's in-place ufuncs
//! compute it: the loop dtype is NumPy's promotion of the two dtypes, the
//! result is cast back to the array's dtype under the `same_kind` rule (an
//! int array `+=` a float value is refused with NumPy's text), integers wrap,
//! floats follow IEEE, and the value broadcasts to the selection.

use half::f16;
use num_complex::Complex;

use super::kernels::Float;
use super::simd;
use super::{c_order_data, dtype_repr, numpy_error, pod_vec};
use crate::array::NpArray;
use crate::convert;
use crate::dtype::{ByteOrder, Dtype, Kind};
use crate::error::Result;
use crate::meta::Meta;
use crate::npy::ParsedNpy;
use crate::shape::{self, Shape};
use crate::slice::{self, Distinct, Item, Selection};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    And,
    Or,
    Xor,
}

const OPS: [(&str, BinOp); 9] = [
    ("add", BinOp::Add),
    ("sub", BinOp::Sub),
    ("mul", BinOp::Mul),
    ("div", BinOp::Div),
    ("min", BinOp::Min),
    ("max", BinOp::Max),
    ("and", BinOp::And),
    ("or", BinOp::Or),
    ("xor", BinOp::Xor),
];

impl BinOp {
    pub fn parse(text: &str) -> Result<BinOp> {
        OPS.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|&(_, op)| op)
            .ok_or_else(|| {
                let names: Vec<&str> = OPS.iter().map(|(n, _)| *n).collect();
                numpy_error(format!("unknown operation {text:?} (use one of {})", names.join(", ")))
            })
    }

    /// NumPy's name of the ufunc, for its error texts.
    fn ufunc(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "subtract",
            BinOp::Mul => "multiply",
            BinOp::Div => "divide",
            BinOp::Min => "minimum",
            BinOp::Max => "maximum",
            BinOp::And => "bitwise_and",
            BinOp::Or => "bitwise_or",
            BinOp::Xor => "bitwise_xor",
        }
    }

    fn bitwise(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Xor)
    }
}

/// NumPy's kinds in the order `same_kind` casting allows: b < u < i < f < c.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Category {
    Bool,
    Unsigned,
    Signed,
    Float,
    Complex,
}

/// The category and byte size of a numeric dtype.
fn numeric(kind: &Kind) -> Option<(Category, u8)> {
    Some(match kind {
        Kind::Bool => (Category::Bool, 1),
        Kind::UInt8 => (Category::Unsigned, 1),
        Kind::UInt16 => (Category::Unsigned, 2),
        Kind::UInt32 => (Category::Unsigned, 4),
        Kind::UInt64 => (Category::Unsigned, 8),
        Kind::Int8 => (Category::Signed, 1),
        Kind::Int16 => (Category::Signed, 2),
        Kind::Int32 => (Category::Signed, 4),
        Kind::Int64 => (Category::Signed, 8),
        Kind::Float16 => (Category::Float, 2),
        Kind::Float32 => (Category::Float, 4),
        Kind::Float64 => (Category::Float, 8),
        Kind::Complex64 => (Category::Complex, 8),
        Kind::Complex128 => (Category::Complex, 16),
        _ => return None,
    })
}

/// `np.can_cast(from, to, 'safe')` between numeric dtypes: `to` holds every
/// value of `from`, which is when promoting the two gives `to`'s kind and size.
pub(crate) fn can_cast_safely(from: &Kind, to: &Kind) -> bool {
    match (numeric(from), numeric(to)) {
        (Some(a), Some(b)) => promote(a, b) == b,
        _ => false,
    }
}

fn kind_of(category: Category, size: u8) -> Kind {
    match (category, size) {
        (Category::Bool, _) => Kind::Bool,
        (Category::Unsigned, 1) => Kind::UInt8,
        (Category::Unsigned, 2) => Kind::UInt16,
        (Category::Unsigned, 4) => Kind::UInt32,
        (Category::Unsigned, _) => Kind::UInt64,
        (Category::Signed, 1) => Kind::Int8,
        (Category::Signed, 2) => Kind::Int16,
        (Category::Signed, 4) => Kind::Int32,
        (Category::Signed, _) => Kind::Int64,
        (Category::Float, 2) => Kind::Float16,
        (Category::Float, 4) => Kind::Float32,
        (Category::Float, _) => Kind::Float64,
        (Category::Complex, 8) => Kind::Complex64,
        (Category::Complex, _) => Kind::Complex128,
    }
}

/// The smallest float that holds every value of an integer of `size` bytes.
fn float_for_int(size: u8) -> u8 {
    match size {
        1 => 2,
        2 => 4,
        _ => 8,
    }
}

/// `np.result_type(a, b)` for numeric dtypes (category, size).
fn promote(a: (Category, u8), b: (Category, u8)) -> (Category, u8) {
    use Category::*;
    let (lo, hi) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    match (lo.0, hi.0) {
        (Bool, _) => hi,
        (Unsigned, Unsigned) | (Signed, Signed) | (Float, Float) => (lo.0, lo.1.max(hi.1)),
        (Unsigned, Signed) if hi.1 > lo.1 => hi,
        (Unsigned, Signed) if lo.1 < 8 => (Signed, lo.1 * 2),
        (Unsigned, Signed) => (Float, 8),
        (Unsigned | Signed, Float) => (Float, hi.1.max(float_for_int(lo.1))),
        (Unsigned | Signed, Complex) => (Complex, if float_for_int(lo.1) <= 4 { hi.1 } else { 16 }),
        (Float, Complex) => (Complex, hi.1.max(2 * lo.1).max(8)),
        (Complex, Complex) => (Complex, lo.1.max(hi.1)),
        _ => unreachable!("ordered by category"),
    }
}

fn native_dtype(kind: Kind) -> Dtype {
    let order = match kind {
        Kind::Bool | Kind::Int8 | Kind::UInt8 => ByteOrder::NotApplicable,
        _ => ByteOrder::Little,
    };
    Dtype { kind, order }
}

/// The dtype NumPy's loop computes `op` in for these operands, or its error.
fn loop_dtype(op: BinOp, a: &Dtype, v: &Dtype) -> Result<Dtype> {
    let not_supported = || {
        numpy_error(format!(
            "ufunc '{}' not supported for the input types, and the inputs could not be safely coerced to any supported types according to the casting rule ''safe''",
            op.ufunc()
        ))
    };
    let (Some(na), Some(nv)) = (numeric(&a.kind), numeric(&v.kind)) else {
        return Err(numpy_error(format!(
            "ufunc '{}' did not contain a loop with signature matching types ({}, {}) -> None",
            op.ufunc(),
            dtype_repr(a),
            dtype_repr(v)
        )));
    };
    let (category, size) = promote(na, nv);
    match category {
        Category::Bool if op == BinOp::Sub => Err(numpy_error(
            "numpy boolean subtract, the `-` operator, is not supported, use the bitwise_xor, the `^` operator, or the logical_xor function instead.",
        )),
        Category::Float | Category::Complex if op.bitwise() => Err(not_supported()),
        Category::Bool | Category::Unsigned | Category::Signed if op == BinOp::Div => {
            Ok(native_dtype(Kind::Float64))
        }
        _ => Ok(native_dtype(kind_of(category, size))),
    }
}

/// NumPy's `same_kind` rule between numeric dtypes: towards a later kind
/// (b < u < i < f < c), or within one kind at any size.
fn same_kind(from: &Dtype, to: &Dtype) -> bool {
    match (numeric(&from.kind), numeric(&to.kind)) {
        (Some((a, _)), Some((b, _))) => a <= b,
        _ => false,
    }
}

fn broadcast_error(target: &[u64], value: &[u64]) -> crate::error::NpyError {
    let compact = |s: &[u64]| shape::repr(s).replace(' ', "");
    let rank = target.len().max(value.len());
    let dim = |s: &[u64], i: usize| if i + s.len() >= rank { s[i + s.len() - rank] } else { 1 };
    let mut joint = Shape::new();
    for i in 0..rank {
        let (t, v) = (dim(target, i), dim(value, i));
        if t != v && t != 1 && v != 1 {
            return numpy_error(format!(
                "operands could not be broadcast together with shapes {} {} {} ",
                compact(target),
                compact(value),
                compact(target)
            ));
        }
        joint.push(if t == 1 { v } else { t });
    }
    numpy_error(format!(
        "non-broadcastable output operand with shape {} doesn't match the broadcast shape {}",
        compact(target),
        compact(&joint)
    ))
}

/// The value's elements (C order) repeated to fill `target` (NumPy's
/// broadcasting), or NumPy's error when the value does not fit the output.
fn broadcast<T: Copy>(values: &[T], shape: &[u64], target: &[u64]) -> Result<Vec<T>> {
    if shape == target {
        return Ok(values.to_vec());
    }
    if shape.len() > target.len()
        || shape
            .iter()
            .rev()
            .zip(target.iter().rev())
            .any(|(&s, &t)| s != t && s != 1)
    {
        return Err(broadcast_error(target, shape));
    }
    // Element strides of the value seen through the target's shape (0 where it repeats).
    let lead = target.len() - shape.len();
    let mut strides = vec![0usize; target.len()];
    let mut step = 1usize;
    for i in (0..shape.len()).rev() {
        if shape[i] != 1 {
            strides[lead + i] = step;
        }
        step *= shape[i] as usize;
    }
    let size = target.iter().product::<u64>() as usize;
    if values.len() == 1 {
        return Ok(vec![values[0]; size]);
    }
    let mut out = Vec::with_capacity(size);
    if size == 0 {
        return Ok(out);
    }
    let mut index = vec![0u64; target.len()];
    let mut at = 0usize;
    loop {
        out.push(values[at]);
        let mut axis = target.len();
        loop {
            if axis == 0 {
                return Ok(out);
            }
            axis -= 1;
            index[axis] += 1;
            at += strides[axis];
            if index[axis] < target[axis] {
                break;
            }
            at -= strides[axis] * target[axis] as usize;
            index[axis] = 0;
        }
    }
}

/// `arr[items] op= value`, in place. Everything is checked before the array
/// changes: on error it is untouched.
pub fn update(array: &mut NpArray, items: &[Item], op: BinOp, value: &ParsedNpy) -> Result<()> {
    if items.is_empty() && in_place(array, op, value) {
        return Ok(());
    }
    let selection = Selection::resolve(array, items)?;
    match selection.distinct() {
        Some(distinct) => update_distinct(array, &distinct, op, value),
        None => update_selected(array, &selection, op, value),
    }
}

/// `arr[selection] op= value`, the selection resolved once: read, combined
/// with the value, written back through it.
fn update_selected(array: &mut NpArray, selection: &Selection, op: BinOp, value: &ParsedNpy) -> Result<()> {
    let current = selection.build(array)?;
    let out_dtype = array.dtype().clone();
    let result = apply(op, &current, value, &out_dtype)?;
    let written = ParsedNpy {
        meta: Meta::new(out_dtype, Shape::from_slice(current.shape()), false),
        data: &result,
    };
    selection.assign(array, &written)
}

/// `arr[items] op= value` where the index lists repeat an index: NumPy reads
/// every repeat, combines each with its part of `value` and writes them all,
/// the last winning; this combines and writes only the last of each, so the
/// temporaries and the work are bounded by the distinct elements, never by
/// the number of repeats. Errors are NumPy's for the whole selection.
fn update_distinct(array: &mut NpArray, distinct: &Distinct, op: BinOp, value: &ParsedNpy) -> Result<()> {
    let full = &distinct.full_shape;
    let broadcasts = value.meta.shape().len() <= full.len()
        && value
            .meta
            .shape()
            .iter()
            .rev()
            .zip(full.iter().rev())
            .all(|(&v, &t)| v == t || v == 1);
    if !broadcasts {
        // NumPy resolves the loop's dtypes before it broadcasts: a dry run on
        // empty operands of the same dtypes gives its type errors, if any.
        let empty = Shape::from_slice(&[0]);
        let current = NpArray::from_parts(array.meta().with_shape(empty.clone(), false), &[])?;
        let empty_value = ParsedNpy {
            meta: value.meta.with_shape(empty, false),
            data: &[],
        };
        apply(op, &current, &empty_value, array.dtype())?;
        return Err(broadcast_error(full, value.meta.shape()));
    }
    // The value's axis that lines up with the gathered one, when it is not
    // broadcast (length 1 or missing): only its kept positions are used.
    let value_axis = (distinct.axis + value.meta.shape().len()).checked_sub(full.len());
    let Some(axis) = value_axis.filter(|&axis| value.meta.shape()[axis] > 1) else {
        return update_selected(array, &distinct.selection, op, value);
    };
    let mut items = vec![
        Item::Slice {
            start: None,
            stop: None,
            step: None
        };
        value.meta.shape().len()
    ];
    items[axis] = Item::List(distinct.kept.iter().map(|&p| p as i64).collect());
    let whole = NpArray::from_parsed(value)?;
    let cut = slice::slice(&whole, &items)?;
    let cut_value = ParsedNpy {
        meta: cut.meta().into_owned(),
        data: cut.data(),
    };
    update_selected(array, &distinct.selection, op, &cut_value)
}

/// The common case straight on the stored data: the whole array, a value of
/// the same native dtype that is one element or has the array's shape and
/// order, and an op that stays in that dtype. One vectorised pass, no copy.
fn in_place(array: &mut NpArray, op: BinOp, value: &ParsedNpy) -> bool {
    // The same shape and order; orders are canonical, so equal for two arrays
    // of one shape that are both C- and Fortran-ordered.
    let same_layout = value.meta.shape() == array.shape() && value.meta.order() == array.order();
    let scalar = shape::size(value.meta.shape()) == 1 && value.meta.shape().len() <= array.ndim();
    if value.meta.dtype() != array.dtype() || array.dtype().order == ByteOrder::Big || !(same_layout || scalar) {
        return false;
    }
    // One arm per op, so each loop is its own monomorphic, vectorisable function.
    macro_rules! ints {
        ($t:ty) => {
            match op {
                BinOp::Add => combine::<$t>(array, value, scalar, <$t>::wrapping_add),
                BinOp::Sub => combine::<$t>(array, value, scalar, <$t>::wrapping_sub),
                BinOp::Mul => combine::<$t>(array, value, scalar, <$t>::wrapping_mul),
                BinOp::Min => combine::<$t>(array, value, scalar, <$t>::min),
                BinOp::Max => combine::<$t>(array, value, scalar, <$t>::max),
                BinOp::And => combine::<$t>(array, value, scalar, |a, b| a & b),
                BinOp::Or => combine::<$t>(array, value, scalar, |a, b| a | b),
                BinOp::Xor => combine::<$t>(array, value, scalar, |a, b| a ^ b),
                BinOp::Div => false,
            }
        };
    }
    macro_rules! floats {
        ($t:ty) => {
            match op {
                BinOp::Add => combine::<$t>(array, value, scalar, |a, b| a + b),
                BinOp::Sub => combine::<$t>(array, value, scalar, |a, b| a - b),
                BinOp::Mul => combine::<$t>(array, value, scalar, |a, b| a * b),
                BinOp::Div => combine::<$t>(array, value, scalar, |a, b| a / b),
                BinOp::Min => combine::<$t>(array, value, scalar, float_min),
                BinOp::Max => combine::<$t>(array, value, scalar, float_max),
                _ => false,
            }
        };
    }
    match array.dtype().kind {
        Kind::Int8 => ints!(i8),
        Kind::Int16 => ints!(i16),
        Kind::Int32 => ints!(i32),
        Kind::Int64 => ints!(i64),
        Kind::UInt8 => ints!(u8),
        Kind::UInt16 => ints!(u16),
        Kind::UInt32 => ints!(u32),
        Kind::UInt64 => ints!(u64),
        Kind::Float32 => floats!(f32),
        Kind::Float64 => floats!(f64),
        _ => false,
    }
}

fn combine<T: bytemuck::Pod>(array: &mut NpArray, value: &ParsedNpy, scalar: bool, f: impl Fn(T, T) -> T) -> bool {
    let Ok(data) = bytemuck::try_cast_slice_mut::<u8, T>(array.data_mut()) else {
        return false;
    };
    // Element by element, so the widest vectors the CPU has give the same results.
    simd::run(
        #[inline(always)]
        || combine_loop(data, value.data, scalar, f),
    );
    true
}

#[inline(always)]
fn combine_loop<T: bytemuck::Pod>(data: &mut [T], value: &[u8], scalar: bool, f: impl Fn(T, T) -> T) {
    let width = std::mem::size_of::<T>();
    if scalar {
        let v: T = bytemuck::pod_read_unaligned(&value[..width]);
        for a in data.iter_mut() {
            *a = f(*a, v);
        }
    } else {
        // The payload sits in the request buffer, unaligned: read it as bytes.
        for (a, v) in data.iter_mut().zip(value.chunks_exact(width)) {
            *a = f(*a, bytemuck::pod_read_unaligned(v));
        }
    }
}

/// NumPy's maximum: the first operand when it is NaN or not smaller.
fn float_max<T: Float>(a: T, b: T) -> T {
    if a >= b || a.is_nan() {
        a
    } else {
        b
    }
}

fn float_min<T: Float>(a: T, b: T) -> T {
    if a <= b || a.is_nan() {
        a
    } else {
        b
    }
}

/// `current op value` as data of `out` dtype in C order (NumPy's loop dtype,
/// then the same_kind cast to the array's dtype).
fn apply(op: BinOp, current: &NpArray, value: &ParsedNpy, out: &Dtype) -> Result<Vec<u8>> {
    if let Some(data) = apply_time(op, current, value, out)? {
        return Ok(data);
    }
    let loop_dtype = loop_dtype(op, current.dtype(), value.meta.dtype())?;
    if !same_kind(&loop_dtype, out) {
        return Err(numpy_error(format!(
            "Cannot cast ufunc '{}' output from {} to {} with casting rule 'same_kind'",
            op.ufunc(),
            dtype_repr(&loop_dtype),
            dtype_repr(out)
        )));
    }
    let shape = current.shape();
    let value_array = NpArray::from_parsed(value)?;
    // Operands already in the loop dtype (the usual case) are not cast.
    let in_loop_dtype = |array: &NpArray| -> Result<Vec<u8>> {
        if *array.dtype() == loop_dtype {
            Ok(c_order_data(array))
        } else {
            Ok(c_order_data(&convert::cast(array, &loop_dtype)?))
        }
    };
    let a = in_loop_dtype(current)?;
    let v = in_loop_dtype(&value_array)?;
    macro_rules! run {
        ($t:ty, $f:expr) => {{
            let a: Vec<$t> = pod_vec(&a);
            let v = broadcast(&pod_vec::<$t>(&v), value.meta.shape(), shape)?;
            let f = $f;
            let r: Vec<$t> = a.iter().zip(&v).map(|(&x, &y)| f(x, y)).collect();
            bytemuck::cast_slice::<$t, u8>(&r).to_vec()
        }};
    }
    macro_rules! int {
        ($t:ty) => {
            run!($t, |x: $t, y: $t| match op {
                BinOp::Add => x.wrapping_add(y),
                BinOp::Sub => x.wrapping_sub(y),
                BinOp::Mul => x.wrapping_mul(y),
                BinOp::Min => x.min(y),
                BinOp::Max => x.max(y),
                BinOp::And => x & y,
                BinOp::Or => x | y,
                BinOp::Xor => x ^ y,
                BinOp::Div => unreachable!("integer division runs in float64"),
            })
        };
    }
    let result = match loop_dtype.kind {
        Kind::Bool => run!(u8, |x: u8, y: u8| match op {
            BinOp::Add | BinOp::Max | BinOp::Or => x | y,
            BinOp::Mul | BinOp::Min | BinOp::And => x & y,
            BinOp::Xor => x ^ y,
            BinOp::Sub | BinOp::Div => unreachable!("refused or float64"),
        }),
        Kind::Int8 => int!(i8),
        Kind::Int16 => int!(i16),
        Kind::Int32 => int!(i32),
        Kind::Int64 => int!(i64),
        Kind::UInt8 => int!(u8),
        Kind::UInt16 => int!(u16),
        Kind::UInt32 => int!(u32),
        Kind::UInt64 => int!(u64),
        // NumPy's half loops compute in float32 and round each result.
        Kind::Float16 => run!(f16, |x: f16, y: f16| f16::from_f32(real(op, x.to_f32(), y.to_f32()))),
        Kind::Float32 => run!(f32, |x, y| real(op, x, y)),
        Kind::Float64 => run!(f64, |x, y| real(op, x, y)),
        Kind::Complex64 => run!(Complex<f32>, |x, y| complex(op, x, y)),
        Kind::Complex128 => run!(Complex<f64>, |x, y| complex(op, x, y)),
        _ => unreachable!("loop_dtype is numeric"),
    };
    if loop_dtype == *out {
        return Ok(result);
    }
    let computed = NpArray::from_parts(Meta::new(loop_dtype, Shape::from_slice(shape), false), &result)?;
    Ok(convert::cast(&computed, out)?.data().to_vec())
}

fn real<T: Float>(op: BinOp, x: T, y: T) -> T {
    match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => x / y,
        BinOp::Min => float_min(x, y),
        BinOp::Max => float_max(x, y),
        _ => unreachable!("bitwise ops are refused for floats"),
    }
}

fn complex<T: Float>(op: BinOp, x: Complex<T>, y: Complex<T>) -> Complex<T> {
    let nan = |c: Complex<T>| c.re.is_nan() || c.im.is_nan();
    match op {
        BinOp::Add => Complex::new(x.re + y.re, x.im + y.im),
        BinOp::Sub => Complex::new(x.re - y.re, x.im - y.im),
        // NumPy's SIMD loop fuses each product pair (on CPUs with FMA).
        BinOp::Mul => Complex::new(
            x.re.mul_add(y.re, T::ZERO - x.im * y.im),
            x.re.mul_add(y.im, x.im * y.re),
        ),
        BinOp::Div => complex_divide(x, y),
        BinOp::Max | BinOp::Min => {
            let keep = if op == BinOp::Max {
                x.re > y.re || (x.re == y.re && x.im >= y.im)
            } else {
                x.re < y.re || (x.re == y.re && x.im <= y.im)
            };
            if keep || nan(x) {
                x
            } else {
                y
            }
        }
        _ => unreachable!("bitwise ops are refused for complex"),
    }
}

/// NumPy's complex division (Smith's method, as in its loops). A zero
/// divisor divides by `fabs` of its real part, so `-0.0` gives infinities of
/// the dividend's signs, as `+0.0` does.
fn complex_divide<T: Float>(a: Complex<T>, b: Complex<T>) -> Complex<T> {
    let (br_abs, bi_abs) = (b.re.abs(), b.im.abs());
    if br_abs >= bi_abs {
        if br_abs == T::ZERO && bi_abs == T::ZERO {
            return Complex::new(a.re / br_abs, a.im / br_abs);
        }
        let rat = b.im / b.re;
        let scl = T::ONE / (b.re + b.im * rat);
        Complex::new((a.re + a.im * rat) * scl, (a.im - a.re * rat) * scl)
    } else {
        let rat = b.re / b.im;
        let scl = T::ONE / (b.im + b.re * rat);
        Complex::new((a.re * rat + a.im) * scl, (a.im * rat - a.re) * scl)
    }
}

/// datetime64 ± timedelta64 and timedelta64 ± timedelta64 in the same unit,
/// and their minimum/maximum (NaT propagates). `None` when neither side is a time.
fn apply_time(op: BinOp, current: &NpArray, value: &ParsedNpy, out: &Dtype) -> Result<Option<Vec<u8>>> {
    let unit = |k: &Kind| match k {
        Kind::DateTime(u) | Kind::TimeDelta(u) => Some(*u),
        _ => None,
    };
    let (a, v) = (&current.dtype().kind, &value.meta.dtype().kind);
    if unit(a).is_none() && unit(v).is_none() {
        return Ok(None);
    }
    let fits = match (a, v, op) {
        (Kind::DateTime(x), Kind::TimeDelta(y), BinOp::Add | BinOp::Sub) => x == y,
        (Kind::TimeDelta(x), Kind::TimeDelta(y), BinOp::Add | BinOp::Sub | BinOp::Min | BinOp::Max) => x == y,
        (Kind::DateTime(x), Kind::DateTime(y), BinOp::Min | BinOp::Max) => x == y,
        _ => false,
    };
    if !fits {
        return Err(numpy_error(format!(
            "ufunc '{}' cannot use operands with types {} and {} here (NP.UPDATE on datetime64/timedelta64 takes add/sub of a timedelta64, or min/max, in the array's unit)",
            op.ufunc(),
            dtype_repr(current.dtype()),
            dtype_repr(value.meta.dtype())
        )));
    }
    let swap = |mut bytes: Vec<u8>, d: &Dtype| {
        if d.order == ByteOrder::Big {
            bytes.chunks_exact_mut(8).for_each(<[u8]>::reverse);
        }
        bytes
    };
    let a_vals: Vec<i64> = pod_vec(&swap(c_order_data(current), current.dtype()));
    let value_array = NpArray::from_parsed(value)?;
    let v_vals: Vec<i64> = pod_vec(&swap(c_order_data(&value_array), value.meta.dtype()));
    let v_vals = broadcast(&v_vals, value.meta.shape(), current.shape())?;
    const NAT: i64 = i64::MIN;
    let result: Vec<i64> = a_vals
        .iter()
        .zip(&v_vals)
        .map(|(&x, &y)| match op {
            _ if x == NAT || y == NAT => NAT,
            BinOp::Add => x.wrapping_add(y),
            BinOp::Sub => x.wrapping_sub(y),
            BinOp::Min => x.min(y),
            _ => x.max(y),
        })
        .collect();
    Ok(Some(swap(bytemuck::cast_slice::<i64, u8>(&result).to_vec(), out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::test_array;

    fn parsed(a: &NpArray) -> Vec<u8> {
        a.npy_bytes().to_vec()
    }

    fn run(a: &mut NpArray, spec: &str, op: &str, value: &NpArray) -> Result<()> {
        let bytes = parsed(value);
        update(a, &slice::parse(spec)?, BinOp::parse(op)?, &crate::npy::parse(&bytes)?)
    }

    #[test]
    fn promotion_matches_numpy() {
        use Category::*;
        assert_eq!(promote((Unsigned, 1), (Signed, 1)), (Signed, 2));
        assert_eq!(promote((Unsigned, 8), (Signed, 8)), (Float, 8));
        assert_eq!(promote((Signed, 2), (Float, 2)), (Float, 4));
        assert_eq!(promote((Signed, 4), (Complex, 8)), (Complex, 16));
        assert_eq!(promote((Float, 2), (Complex, 8)), (Complex, 8));
        assert_eq!(promote((Bool, 1), (Float, 2)), (Float, 2));
    }

    #[test]
    fn in_place_add_wraps_and_broadcasts() {
        let mut a = test_array("|i1", &[2, 2], false, &[127, 0, 1, 2]);
        let one = test_array("|i1", &[], false, &[1]);
        run(&mut a, "", "add", &one).unwrap();
        assert_eq!(a.data(), &[128, 1, 2, 3]);
        let row = test_array("<i2", &[2], false, bytemuck::cast_slice(&[10i16, 20]));
        run(&mut a, "1:", "sub", &row).unwrap();
        assert_eq!(a.data(), &[128, 1, (2i8 - 10) as u8, (3i8 - 20) as u8]);
    }

    #[test]
    fn same_kind_refusals_leave_the_array() {
        let mut a = test_array("<i4", &[2], false, &[0; 8]);
        let f = test_array("<f8", &[], false, &1.5f64.to_le_bytes());
        assert_eq!(
            run(&mut a, "", "add", &f).unwrap_err().to_string(),
            "Cannot cast ufunc 'add' output from dtype('float64') to dtype('int32') with casting rule 'same_kind'"
        );
        let i = test_array("<i4", &[3], false, &[0; 12]);
        assert_eq!(
            run(&mut a, "", "add", &i).unwrap_err().to_string(),
            "operands could not be broadcast together with shapes (2,) (3,) (2,) "
        );
        assert_eq!(a.data(), &[0; 8]);
    }

    #[test]
    fn floats_follow_ieee_and_nan_rules() {
        let mut a = test_array("<f4", &[3], false, bytemuck::cast_slice(&[1.0f32, f32::NAN, 3.0]));
        let two = test_array("<f8", &[], false, &2.0f64.to_le_bytes());
        run(&mut a, "", "max", &two).unwrap();
        let got = a.as_slice::<f32>().unwrap();
        assert!(got[0] == 2.0 && got[1].is_nan() && got[2] == 3.0);
        run(
            &mut a,
            "::2",
            "div",
            &test_array("<f4", &[], false, &0.0f32.to_le_bytes()),
        )
        .unwrap();
        assert!(a.as_slice::<f32>().unwrap()[0].is_infinite());
    }

    #[test]
    fn complex_division_by_signed_zeros_is_numpys() {
        let one_one = Complex::new(1.0f64, 1.0);
        for (re, im) in [(-0.0, 0.0), (-0.0, -0.0), (0.0, -0.0), (0.0, 0.0)] {
            let q = complex_divide(one_one, Complex::new(re, im));
            assert_eq!(
                (q.re, q.im),
                (f64::INFINITY, f64::INFINITY),
                "(1+1j) / complex({re}, {im})"
            );
        }
        let q = complex_divide(Complex::new(-1.0f32, 2.0), Complex::new(-0.0, 0.0));
        assert_eq!((q.re, q.im), (f32::NEG_INFINITY, f32::INFINITY));
    }
}
