//! `NP.REDUCE`: NumPy's reductions (`arr.sum(axis)`, `mean`, `argmax`…) on a
//! stored array, with NumPy's result dtypes (an int32 sum is int64, a float16
//! mean is computed in float32), its NaN and NaT propagation and its order of
//! additions (pairwise along contiguous lanes, row by row otherwise), so that
//! integer results are equal and float results equal or within an ulp.

use std::borrow::Cow;

use half::f16;

use super::axes::{Axes, Plan};
use super::kernels::{self, Float, Lanes};
use super::{c_order_data, dtype_repr, numpy_error, pod_vec};
use crate::array::NpArray;
use crate::convert;
use crate::dtype::{ByteOrder, Dtype, Kind};
use crate::error::Result;
use crate::meta::{Meta, Order};
use crate::shape::Shape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Sum,
    Prod,
    Mean,
    Min,
    Max,
    ArgMin,
    ArgMax,
    Std,
    Var,
    CountNonzero,
    Any,
    All,
    NanSum,
    NanProd,
    NanMean,
    NanMin,
    NanMax,
    NanArgMin,
    NanArgMax,
    NanStd,
    NanVar,
}

const OPS: [(&str, Op); 21] = [
    ("sum", Op::Sum),
    ("prod", Op::Prod),
    ("mean", Op::Mean),
    ("min", Op::Min),
    ("max", Op::Max),
    ("argmin", Op::ArgMin),
    ("argmax", Op::ArgMax),
    ("std", Op::Std),
    ("var", Op::Var),
    ("count_nonzero", Op::CountNonzero),
    ("any", Op::Any),
    ("all", Op::All),
    ("nansum", Op::NanSum),
    ("nanprod", Op::NanProd),
    ("nanmean", Op::NanMean),
    ("nanmin", Op::NanMin),
    ("nanmax", Op::NanMax),
    ("nanargmin", Op::NanArgMin),
    ("nanargmax", Op::NanArgMax),
    ("nanstd", Op::NanStd),
    ("nanvar", Op::NanVar),
];

impl Op {
    /// The op named (case-insensitively) `text`.
    pub fn parse(text: &str) -> Result<Op> {
        OPS.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|&(_, op)| op)
            .ok_or_else(|| {
                let names: Vec<&str> = OPS.iter().map(|(n, _)| *n).collect();
                numpy_error(format!("unknown reduction {text:?} (use one of {})", names.join(", ")))
            })
    }

    /// The ufunc NumPy reduces with, for its error texts.
    fn ufunc(self) -> &'static str {
        match self {
            Op::Sum | Op::Mean | Op::Var | Op::Std => "add",
            Op::Prod => "multiply",
            Op::Min => "minimum",
            Op::Max => "maximum",
            Op::NanMin => "fmin",
            Op::NanMax => "fmax",
            Op::Any => "logical_or",
            Op::All => "logical_and",
            Op::ArgMin => "argmin",
            Op::ArgMax => "argmax",
            Op::CountNonzero => "count_nonzero",
            other => other.plain().ufunc(),
        }
    }

    /// The op a NaN-ignoring one is on data without NaNs (itself otherwise).
    pub fn plain(self) -> Op {
        match self {
            Op::NanSum => Op::Sum,
            Op::NanProd => Op::Prod,
            Op::NanMean => Op::Mean,
            Op::NanMin => Op::Min,
            Op::NanMax => Op::Max,
            Op::NanArgMin => Op::ArgMin,
            Op::NanArgMax => Op::ArgMax,
            Op::NanStd => Op::Std,
            Op::NanVar => Op::Var,
            other => other,
        }
    }

    /// Whether `AS dtype` (NumPy's `dtype=` argument) applies.
    pub fn takes_dtype(self) -> bool {
        matches!(self.plain(), Op::Sum | Op::Prod | Op::Mean | Op::Var | Op::Std)
    }

    /// Whether `DDOF n` (NumPy's `ddof=` argument) applies.
    pub fn takes_ddof(self) -> bool {
        matches!(self.plain(), Op::Var | Op::Std)
    }

    /// mean, var and std (and their NaN-ignoring forms), which check the
    /// axis of a 0-d array where the ufunc reductions take 0 or -1 as None.
    fn checks_axis(self) -> bool {
        matches!(self.plain(), Op::Mean | Op::Var | Op::Std)
    }
}

fn dtype(typestr: &str) -> Dtype {
    Dtype::from_typestr(typestr).expect("a valid builtin typestr")
}

/// The dtype in native (little-endian) byte order.
fn native(d: &Dtype) -> Dtype {
    Dtype {
        kind: d.kind.clone(),
        order: if d.order == ByteOrder::Big {
            ByteOrder::Little
        } else {
            d.order
        },
    }
}

/// Result of `np.<op>(arr, axis=axes, dtype=acc, ddof=ddof)` as `np.save`
/// would store it: a 0-d array when every axis is reduced, else the shape
/// without the reduced axes, in the memory order of the input. `acc` is the
/// `AS` dtype (sum, prod, mean, var, std and their NaN forms), `ddof` that of
/// var and std.
pub fn reduce(array: &NpArray, op: Op, axes: Axes, acc: Option<&Dtype>, ddof: Option<i64>) -> Result<NpArray> {
    if let Some(target) = acc {
        if !op.takes_dtype() {
            return Err(numpy_error(
                "AS applies to sum, prod, mean, var and std and their nan forms (NumPy's dtype= argument)",
            ));
        }
        if target.order == ByteOrder::Big {
            return Err(numpy_error(
                "The `dtype` and `signature` arguments to ufuncs only select the general DType and not details such as the byte order or time unit. You can avoid this error by using the scalar types `np.float64` or the dtype string notation.",
            ));
        }
    }
    if ddof.is_some() && !op.takes_ddof() {
        return Err(numpy_error(
            "DDOF applies to var, std, nanvar and nanstd (NumPy's ddof= argument)",
        ));
    }
    if matches!(array.dtype().kind, Kind::LongDouble(_) | Kind::CLongDouble(_)) {
        return Err(numpy_error(format!(
            "NP.REDUCE does not compute in {} (NumPy's longdouble is x87 80-bit extended precision, which the module does not implement)",
            array.dtype().name()
        )));
    }
    if op != op.plain() {
        return nan_reduce(array, op, axes, acc, ddof);
    }
    let ddof = ddof.unwrap_or(0);
    if matches!(op, Op::ArgMin | Op::ArgMax) {
        axes.require_int()?;
    }
    // NumPy's ufunc reductions (and argmax) take axis 0 or -1 of a 0-d array
    // as the whole array; mean, var and std check the axis and refuse.
    let axes = if array.ndim() == 0 && !op.checks_axis() && matches!(axes, Axes::One(0 | -1)) {
        Axes::All
    } else {
        axes
    };
    let flags = axes.flags(array.ndim())?;
    if let (Some(target), Op::Var | Op::Std) = (acc, op) {
        let data = array.dtype();
        if is_integer(target) && (is_integer(data) || data.kind == Kind::Bool) {
            return integer_variance(array, op, &flags, target, ddof);
        }
        if is_complex(data) && !is_complex(target) {
            return Err(numpy_error(
                "var and std of complex arrays AS a real dtype are not implemented (NumPy drops the imaginary parts of the mean only)",
            ));
        }
        if let Some(wide) = wider_deviations(data, target) {
            return narrow_variance(array, op, &flags, &native(target), &wide, ddof);
        }
    }
    if let Some(target) = acc {
        let target = native(target);
        if native(array.dtype()) != target {
            check_supported(array.dtype(), op)?;
            let cast = convert::cast(array, &target)?;
            return Reduction::new(&cast, op, &flags, true, true, ddof)?.run();
        }
        return Reduction::new(array, op, &flags, false, true, ddof)?.run();
    }
    Reduction::new(array, op, &flags, false, false, ddof)?.run()
}

/// Float and complex dtypes: those whose NaNs the nan ops skip.
fn is_inexact(d: &Dtype) -> bool {
    matches!(
        d.kind,
        Kind::Float16 | Kind::Float32 | Kind::Float64 | Kind::Complex64 | Kind::Complex128
    )
}

fn is_integer(d: &Dtype) -> bool {
    matches!(
        d.kind,
        Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64 | Kind::UInt8 | Kind::UInt16 | Kind::UInt32 | Kind::UInt64
    )
}

fn is_signed(d: &Dtype) -> bool {
    matches!(d.kind, Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64)
}

/// `np.var(a, dtype=I)` and `np.std` of integer or bool data with an integer
/// `I`, as numpy/_core/_methods.py makes them: the sum in `I` (wrapping), the
/// mean truncated to `I`, the deviations and their squares in the promoted
/// dtype (an integer at least as wide as `I`, so wrapping in `I` gives the
/// same sums once cast back; float64 for uint64 with a signed dtype, each
/// square then truncated to `I`), their sum in `I`, divided by
/// `max(count - ddof, 0)` and truncated. std takes the root in the float
/// type NumPy's sqrt picks for `I` and truncates it for a 0-d result; for an
/// array result NumPy refuses to cast the root back, and so does this.
/// The bits C's cast of a double to the integer `kind` gives on x86-64
/// (SSE2 `cvttsd2si`), where NumPy's unsafe casts of out-of-range values
/// and NaN land: the "integer indefinite" (the smallest int32 or int64),
/// truncated to narrower types; uint64 splits at 2^63 as compilers do.
fn c_cast(v: f64, kind: &Kind) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let to_i64 = |v: f64| {
        if (-TWO_63..TWO_63).contains(&v) {
            v as i64
        } else {
            i64::MIN
        }
    };
    let to_i32 = |v: f64| {
        if v > -2_147_483_649.0 && v < 2_147_483_648.0 {
            v as i32
        } else {
            i32::MIN
        }
    };
    match kind {
        Kind::Int64 | Kind::UInt32 => to_i64(v) as u64,
        Kind::UInt64 if v < TWO_63 => to_i64(v) as u64,
        Kind::UInt64 => (to_i64(v - TWO_63) as u64) ^ (1 << 63),
        _ => i64::from(to_i32(v)) as u64,
    }
}

fn integer_variance(array: &NpArray, op: Op, reduced: &[bool], target: &Dtype, ddof: i64) -> Result<NpArray> {
    let target = native(target);
    let cast = convert::cast(array, &target)?;
    let red = Reduction::new(&cast, op, reduced, true, true, ddof)?;
    let root_type = match target.itemsize() {
        1 => "float16",
        2 => "float32",
        _ => "float64",
    };
    if op == Op::Std && !red.out_shape.is_empty() {
        return Err(numpy_error(format!(
            "Cannot cast ufunc 'sqrt' output from dtype('{root_type}') to dtype('{}') with casting rule 'same_kind'",
            target.name()
        )));
    }
    // The promoted dtype of the deviations is float64 (uint64 with a signed dtype).
    let float_deviations = (array.dtype().kind == Kind::UInt64 && is_signed(&target))
        || (is_signed(array.dtype()) && target.kind == Kind::UInt64);
    let exact = if float_deviations {
        Some(convert::cast(array, &dtype("<f8"))?)
    } else {
        None
    };
    let n = red.plan.reduced() as f64;
    let dof = (red.plan.reduced() as i64 - ddof).max(0) as f64;
    macro_rules! var {
        ($t:ty) => {{
            let x = red.view::<$t>();
            let sums = red.fold(&x, 0 as $t, |a, v| a.wrapping_add(v));
            let to_int = |v: f64| c_cast(v, &target.kind) as $t;
            let means: Vec<$t> = sums.into_iter().map(|s| to_int(s as f64 / n)).collect();
            let squares: Vec<$t> = match &exact {
                Some(values) => {
                    let xf = pod_vec::<f64>(values.data());
                    red.deviations(&xf, &means, |v, m| {
                        let d = v - m as f64;
                        to_int(d * d)
                    })
                }
                None => red.deviations(&x, &means, |v: $t, m| {
                    let d = v.wrapping_sub(m);
                    d.wrapping_mul(d)
                }),
            };
            let sums = red.fold(&squares, 0 as $t, |a, v| a.wrapping_add(v));
            let out: Vec<$t> = sums
                .into_iter()
                .map(|s| {
                    let var = to_int(s as f64 / dof);
                    if op == Op::Var {
                        return var;
                    }
                    to_int(match root_type {
                        "float16" => f16::from_f32(f16::from_f64(var as f64).to_f32().sqrt()).to_f64(),
                        "float32" => f64::from((var as f32).sqrt()),
                        _ => (var as f64).sqrt(),
                    })
                })
                .collect();
            red.output(target.clone(), &out)
        }};
    }
    match target.kind {
        Kind::Int8 => var!(i8),
        Kind::Int16 => var!(i16),
        Kind::Int32 => var!(i32),
        Kind::Int64 => var!(i64),
        Kind::UInt8 => var!(u8),
        Kind::UInt16 => var!(u16),
        Kind::UInt32 => var!(u32),
        Kind::UInt64 => var!(u64),
        _ => unreachable!("integer dtypes only"),
    }
}

/// The dtype NumPy computes `arr - mean` in for `np.var(arr, dtype=target)`
/// with a real float target: `np.result_type(arr.dtype, target)`, when it
/// is wider than `target` (None otherwise, or for complex and time dtypes).
fn wider_deviations(data: &Dtype, target: &Dtype) -> Option<Dtype> {
    let rank = |k: &Kind| match k {
        Kind::Float16 => Some(2),
        Kind::Float32 => Some(4),
        Kind::Float64 => Some(8),
        _ => None,
    };
    let target_size = rank(&target.kind)?;
    // The float an integer needs to hold its values, as NumPy promotes it.
    let data_size = match data.kind {
        Kind::Bool => 2,
        Kind::Int8 | Kind::UInt8 => 2,
        Kind::Int16 | Kind::UInt16 => 4,
        Kind::Int32 | Kind::UInt32 | Kind::Int64 | Kind::UInt64 => 8,
        ref k => rank(k)?,
    };
    match data_size.max(target_size) {
        size if size == target_size => None,
        4 => Some(dtype("<f4")),
        _ => Some(dtype("<f8")),
    }
}

/// `np.var(arr, dtype=target)` (and std) where NumPy's deviations are in a
/// dtype `wide` wider than the float `target`: the mean summed in `target`
/// (cast in buffers), `arr - mean` and its square in `wide`, the squares
/// summed in `target` (cast in buffers again), divided in `target`.
fn narrow_variance(
    array: &NpArray,
    op: Op,
    reduced: &[bool],
    target: &Dtype,
    wide: &Dtype,
    ddof: i64,
) -> Result<NpArray> {
    let cast = convert::cast(array, target)?;
    let red = Reduction::new(&cast, op, reduced, true, true, ddof)?;
    let values = pod_vec::<f64>(convert::cast(array, &dtype("<f8"))?.data());
    let n = red.count();
    let wide_round = |v: f64| {
        if wide.kind == Kind::Float32 {
            f64::from(v as f32)
        } else {
            v
        }
    };
    let deviation = |v: f64, m: f64| {
        let d = wide_round(v - m);
        wide_round(d * d)
    };
    match target.kind {
        Kind::Float16 => {
            let round = |v: f32| f16::from_f32(v).to_f32();
            let half = |q: f64| f16::from_f64(q).to_f32();
            let sums = red.sum(&red.view::<f16>(), true, |h: f16| h.to_f32(), round);
            let means: Vec<f64> = sums.into_iter().map(|s| f64::from(half(f64::from(s) / n))).collect();
            let squares = red.deviations(&values, &means, deviation);
            let sums = red.sum(&squares, true, |v: f64| f16::from_f64(v).to_f32(), round);
            let out: Vec<f16> = red
                .finish_variance(sums, round, half)
                .into_iter()
                .map(f16::from_f32)
                .collect();
            red.output(target.clone(), &out)
        }
        _ => {
            let sums = red.sum(&red.view::<f32>(), true, |v: f32| v, |v| v);
            let means: Vec<f64> = sums.into_iter().map(|s| f64::from((f64::from(s) / n) as f32)).collect();
            let squares = red.deviations(&values, &means, deviation);
            let sums = red.sum(&squares, true, |v: f64| v as f32, |v| v);
            let out = red.finish_variance(sums, |v| v, |q| q as f32);
            red.output(target.clone(), &out)
        }
    }
}

fn is_complex(d: &Dtype) -> bool {
    matches!(d.kind, Kind::Complex64 | Kind::Complex128)
}

/// numpy/lib/_nanfunctions_impl.py: NaNs replaced (nansum, nanprod,
/// nanargmin, nanargmax) or skipped (nanmin, nanmax with fmin/fmax;
/// nanmean, nanvar, nanstd counting the others). On dtypes without NaN the
/// plain op, except that nanmin and nanmax still skip NaT (fmin, fmax).
fn nan_reduce(array: &NpArray, op: Op, axes: Axes, acc: Option<&Dtype>, ddof: Option<i64>) -> Result<NpArray> {
    let inexact = is_inexact(array.dtype());
    let flags = |axes: Axes| axes.flags(array.ndim());
    match op {
        Op::NanMin | Op::NanMax => {
            check_supported(array.dtype(), op)?;
            Reduction::new(array, op, &flags(axes)?, false, false, 0)?.run()
        }
        _ if !inexact => reduce(array, op.plain(), axes, acc, ddof),
        Op::NanSum => reduce(&replace_nan(array, 0.0)?, Op::Sum, axes, acc, None),
        Op::NanProd => reduce(&replace_nan(array, 1.0)?, Op::Prod, axes, acc, None),
        Op::NanArgMin | Op::NanArgMax => {
            if array.size() > 0 {
                let all_nan = reduce(&nan_mask(array)?, Op::All, axes, None, None)?;
                if all_nan.data().iter().any(|&b| b != 0) {
                    return Err(numpy_error("All-NaN slice encountered"));
                }
            }
            let (fill, plain) = if op == Op::NanArgMin {
                (f64::INFINITY, Op::ArgMin)
            } else {
                (f64::NEG_INFINITY, Op::ArgMax)
            };
            reduce(&replace_nan(array, fill)?, plain, axes, None, None)
        }
        _ => {
            // nanmean, nanvar, nanstd: a dtype= must be inexact; the input
            // is cast to it first (NumPy casts inside its buffers: the same
            // sums, but nanvar's deviations are rounded to the input's dtype).
            let flags = flags(axes)?;
            let ddof = ddof.unwrap_or(0);
            match acc {
                Some(target) if !is_inexact(target) => Err(numpy_error("If a is inexact, then dtype must be inexact")),
                Some(target) if op != Op::NanMean && is_complex(target) && !is_complex(array.dtype()) => Err(
                    numpy_error("AS a complex dtype applies to nanvar and nanstd of complex arrays only"),
                ),
                Some(target) if native(target) != native(array.dtype()) => {
                    let cast = convert::cast(array, &native(target))?;
                    Reduction::new(&cast, op, &flags, true, false, ddof)?.run()
                }
                _ => Reduction::new(array, op, &flags, false, false, ddof)?.run(),
            }
        }
    }
}

/// The parts of one element of an inexact dtype, read as f64, with their
/// size in bytes and byte order.
fn read_part(bytes: &[u8], big: bool) -> f64 {
    let mut b = [0u8; 8];
    b[..bytes.len()].copy_from_slice(bytes);
    if big {
        b[..bytes.len()].reverse();
    }
    match bytes.len() {
        2 => f16::from_le_bytes([b[0], b[1]]).to_f64(),
        4 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        _ => f64::from_le_bytes(b),
    }
}

fn write_part(value: f64, out: &mut [u8], big: bool) {
    match out.len() {
        2 => out.copy_from_slice(&f16::from_f64(value).to_le_bytes()),
        4 => out.copy_from_slice(&(value as f32).to_le_bytes()),
        _ => out.copy_from_slice(&value.to_le_bytes()),
    }
    if big {
        out.reverse();
    }
}

/// Calls `each(element bytes, part size, is NaN)` for every element of an
/// inexact array (complex: NaN when either part is).
fn each_element(array: &NpArray, mut each: impl FnMut(usize, usize, bool)) {
    let d = array.dtype();
    let big = d.order == ByteOrder::Big;
    let size = d.itemsize() as usize;
    let part = if matches!(d.kind, Kind::Complex64 | Kind::Complex128) {
        size / 2
    } else {
        size
    };
    for (i, item) in array.data().chunks_exact(size).enumerate() {
        let nan = item.chunks_exact(part).any(|p| read_part(p, big).is_nan());
        each(i * size, part, nan);
    }
}

/// `np.copyto(a.copy(), value, where=np.isnan(a))` (complex: `value + 0j`),
/// in the input's dtype, byte order and memory order.
fn replace_nan(array: &NpArray, value: f64) -> Result<NpArray> {
    let big = array.dtype().order == ByteOrder::Big;
    let size = array.itemsize() as usize;
    let mut data = array.data().to_vec();
    each_element(array, |at, part, nan| {
        if nan {
            let item = &mut data[at..at + size];
            write_part(value, &mut item[..part], big);
            if part < size {
                write_part(0.0, &mut item[part..], big);
            }
        }
    });
    NpArray::from_parts(array.meta().into_owned(), &data)
}

/// `np.isnan(a)`, in the input's memory order.
fn nan_mask(array: &NpArray) -> Result<NpArray> {
    let mut mask = Vec::with_capacity(array.size() as usize);
    each_element(array, |_, _, nan| mask.push(u8::from(nan)));
    let fortran = array.order() == Order::F;
    NpArray::from_parts(
        Meta::new(dtype("|b1"), Shape::from_slice(array.shape()), fortran),
        &mask,
    )
}

fn check_supported(d: &Dtype, op: Op) -> Result<()> {
    let numeric = d.is_numeric();
    let time = matches!(d.kind, Kind::DateTime(_) | Kind::TimeDelta(_));
    if numeric || time {
        return Ok(());
    }
    let t = dtype_repr(d);
    Err(numpy_error(format!(
        "ufunc '{}' did not contain a loop with signature matching types ({t}, {t}) -> None",
        op.ufunc()
    )))
}

/// One reduction, set up: the data in native order (and in C order where the
/// result depends on it), the plan of its walk and the result's shape and order.
struct Reduction<'a> {
    dtype: Dtype,
    data: Cow<'a, [u8]>,
    plan: Plan,
    out_shape: Shape,
    out_order: Order,
    op: Op,
    /// The input was cast for the reduction (`AS`): NumPy then sums in buffers.
    buffered: bool,
    /// The dtype sums and products accumulate in is the input's own (`AS`).
    own_accumulator: bool,
    ddof: i64,
}

impl<'a> Reduction<'a> {
    /// `reduced` flags the axes to reduce.
    fn new(
        array: &'a NpArray,
        op: Op,
        reduced: &[bool],
        cast: bool,
        own_accumulator: bool,
        ddof: i64,
    ) -> Result<Reduction<'a>> {
        check_supported(array.dtype(), op)?;
        let shape = array.shape();
        let every = reduced.iter().all(|&r| r);
        // argmin/argmax over everything index the C-order ravel; everything
        // else runs in memory order.
        let (plan, data) = if every && matches!(op, Op::ArgMin | Op::ArgMax) && array.order() == Order::F {
            let lanes = Lanes {
                outer: 1,
                len: array.size() as usize,
                inner: 1,
            };
            (Plan::of_lanes(lanes), Cow::Owned(c_order_data(array)))
        } else {
            let plan = Plan::new(shape, array.order() == Order::F, reduced);
            (plan, Cow::Borrowed(array.data()))
        };
        let out_shape: Shape = shape
            .iter()
            .zip(reduced)
            .filter(|(_, &r)| !r)
            .map(|(&d, _)| d)
            .collect();
        let out_order = Order::of(&out_shape, array.order() == Order::F);
        let mut data = data;
        if array.dtype().order == ByteOrder::Big {
            let unit = match array.dtype().kind {
                Kind::Complex64 | Kind::Complex128 => array.itemsize() as usize / 2,
                _ => array.itemsize() as usize,
            };
            data.to_mut().chunks_exact_mut(unit).for_each(<[u8]>::reverse);
        }
        Ok(Reduction {
            dtype: native(array.dtype()),
            data,
            plan,
            out_shape,
            out_order,
            op,
            // A byte-swapped input is cast too, so NumPy sums it in buffers.
            buffered: cast || array.dtype().order == ByteOrder::Big,
            own_accumulator,
            ddof,
        })
    }

    fn view<T: bytemuck::Pod>(&self) -> Cow<'_, [T]> {
        match bytemuck::try_cast_slice(&self.data) {
            Ok(typed) => Cow::Borrowed(typed),
            Err(_) => Cow::Owned(pod_vec(&self.data)),
        }
    }

    fn output<R: bytemuck::Pod>(&self, dtype: Dtype, values: &[R]) -> Result<NpArray> {
        let meta = Meta::new(dtype, self.out_shape.clone(), self.out_order == Order::F);
        NpArray::from_parts(meta, bytemuck::cast_slice(values))
    }

    /// NumPy refuses a reduction without identity along an empty axis, even
    /// when the result would be empty too.
    fn is_empty_reduction(&self) -> bool {
        self.plan.reduced() == 0
    }

    /// Number of elements each result reduces, as a float divisor.
    fn count(&self) -> f64 {
        self.plan.reduced() as f64
    }

    /// [`kernels::fold`] over the whole plan: each block of lanes continues
    /// from what the blocks before it accumulated, as NumPy's iterator does.
    fn fold<T: Copy, A: Copy>(&self, x: &[T], init: A, step: impl Fn(A, T) -> A) -> Vec<A> {
        let g = self.plan.lanes;
        if self.plan.is_simple() {
            return kernels::fold(x, g, init, step);
        }
        let mut out = vec![init; self.plan.results()];
        self.plan.for_each_block(|i, o| {
            kernels::fold_into(&x[i..][..g.size()], g, &mut out[o..][..g.count()], &step);
        });
        out
    }

    /// [`kernels::sum`] over the whole plan (see [`Reduction::fold`]).
    fn sum<T: Copy, A: Float>(&self, x: &[T], buffered: bool, conv: impl Fn(T) -> A, round: impl Fn(A) -> A) -> Vec<A> {
        let g = self.plan.lanes;
        if self.plan.is_simple() {
            return kernels::sum(x, g, buffered, conv, round);
        }
        let mut out = vec![A::ZERO; self.plan.results()];
        self.plan.for_each_block(|i, o| {
            let part = &x[i..][..g.size()];
            kernels::sum_into(part, g, buffered, &conv, &round, &mut out[o..][..g.count()]);
        });
        out
    }

    /// [`kernels::sum_complex`] over the whole plan (interleaved parts).
    fn sum_complex<A: Float>(&self, f: &[A], buffered: bool) -> Vec<(A, A)> {
        let g = self.plan.lanes;
        if self.plan.is_simple() {
            return kernels::sum_complex(f, g, buffered);
        }
        let mut out = vec![(A::ZERO, A::ZERO); self.plan.results()];
        self.plan.for_each_block(|i, o| {
            let part = &f[2 * i..][..2 * g.size()];
            kernels::sum_complex_into(part, g, buffered, &mut out[o..][..g.count()]);
        });
        out
    }

    /// A reduction whose blocks of lanes are reduced on their own by `block`
    /// (given the first element of the block and the lanes) and combined in
    /// the order NumPy visits them by `merge(earlier, later)`: for min, max,
    /// any and all, where only the value matters.
    fn combined<A: Copy>(&self, block: impl Fn(usize, Lanes) -> Vec<A>, merge: impl Fn(A, A) -> A) -> Vec<A> {
        let g = self.plan.lanes;
        if self.plan.is_simple() {
            return block(0, g);
        }
        let mut out: Vec<A> = Vec::with_capacity(self.plan.results());
        // Each block of results is first met in increasing order.
        self.plan.for_each_block(|i, o| {
            let part = block(i, g);
            if o == out.len() {
                out.extend(part);
            } else {
                for (a, v) in out[o..][..g.count()].iter_mut().zip(part) {
                    *a = merge(*a, v);
                }
            }
        });
        out
    }

    fn run(self) -> Result<NpArray> {
        let op = self.op;
        if matches!(op, Op::Min | Op::Max | Op::NanMin | Op::NanMax) && self.is_empty_reduction() {
            return Err(numpy_error(format!(
                "zero-size array to reduction operation {} which has no identity",
                op.ufunc()
            )));
        }
        if matches!(op, Op::ArgMin | Op::ArgMax) && self.is_empty_reduction() {
            let name = if op == Op::ArgMin { "argmin" } else { "argmax" };
            return Err(numpy_error(format!("attempt to get {name} of an empty sequence")));
        }
        match op {
            Op::Any | Op::All | Op::CountNonzero => self.truth(),
            Op::ArgMin | Op::ArgMax => self.argument(),
            Op::Min | Op::Max | Op::NanMin | Op::NanMax => self.extreme(),
            Op::Sum | Op::Prod => self.sum_or_prod(op == Op::Sum),
            Op::Mean | Op::Var | Op::Std => self.moments(),
            Op::NanMean | Op::NanVar | Op::NanStd => self.nan_moments(),
            Op::NanSum | Op::NanProd | Op::NanArgMin | Op::NanArgMax => {
                unreachable!("replaced by the plain op in nan_reduce")
            }
        }
    }

    /// any, all, count_nonzero: the elements as truth values.
    fn truth(&self) -> Result<NpArray> {
        macro_rules! with_nonzero {
            ($t:ty, $nz:expr) => {
                self.truth_of(&self.view::<$t>(), $nz)
            };
        }
        match self.dtype.kind {
            Kind::Bool | Kind::Int8 | Kind::UInt8 => with_nonzero!(u8, |v: u8| v != 0),
            Kind::Int16 | Kind::UInt16 => with_nonzero!(u16, |v: u16| v != 0),
            Kind::Int32 | Kind::UInt32 => with_nonzero!(u32, |v: u32| v != 0),
            Kind::Int64 | Kind::UInt64 | Kind::DateTime(_) | Kind::TimeDelta(_) => with_nonzero!(u64, |v: u64| v != 0),
            Kind::Float16 => with_nonzero!(u16, |v: u16| v & 0x7fff != 0),
            Kind::Float32 => with_nonzero!(f32, |v: f32| v != 0.0),
            Kind::Float64 => with_nonzero!(f64, |v: f64| v != 0.0),
            Kind::Complex64 => with_nonzero!([f32; 2], |c: [f32; 2]| c[0] != 0.0 || c[1] != 0.0),
            Kind::Complex128 => with_nonzero!([f64; 2], |c: [f64; 2]| c[0] != 0.0 || c[1] != 0.0),
            _ => unreachable!("checked by check_supported"),
        }
    }

    fn truth_of<T: Copy>(&self, x: &[T], nonzero: impl Fn(T) -> bool + Copy) -> Result<NpArray> {
        match self.op {
            Op::Any | Op::All => {
                let all = self.op == Op::All;
                let out = self.combined(
                    |i, g| kernels::truth(&x[i..][..g.size()], g, all, nonzero),
                    |a, v| if all { a & v } else { a | v },
                );
                self.output(dtype("|b1"), &out)
            }
            _ => {
                let out = self.fold(x, 0i64, move |a, v| a + i64::from(nonzero(v)));
                self.output(dtype("<i8"), &out)
            }
        }
    }

    fn argument(&self) -> Result<NpArray> {
        assert!(self.plan.is_simple(), "argmin and argmax take one axis");
        let g = self.plan.lanes;
        let max = self.op == Op::ArgMax;
        let out = match self.dtype.kind {
            Kind::Bool | Kind::UInt8 => arg_ord(&self.view::<u8>(), g, max),
            Kind::Int8 => arg_ord(&self.view::<i8>(), g, max),
            Kind::Int16 => arg_ord(&self.view::<i16>(), g, max),
            Kind::Int32 => arg_ord(&self.view::<i32>(), g, max),
            Kind::Int64 => arg_ord(&self.view::<i64>(), g, max),
            Kind::UInt16 => arg_ord(&self.view::<u16>(), g, max),
            Kind::UInt32 => arg_ord(&self.view::<u32>(), g, max),
            Kind::UInt64 => arg_ord(&self.view::<u64>(), g, max),
            Kind::DateTime(_) | Kind::TimeDelta(_) => {
                let better = move |v: i64, b: i64| if max { v > b } else { v < b };
                kernels::arg(&self.view::<i64>(), g, better, |v| v == i64::MIN)
            }
            Kind::Float16 => {
                let x: Vec<f32> = self.view::<f16>().iter().map(|h| h.to_f32()).collect();
                arg_float(&x, g, max)
            }
            Kind::Float32 => arg_float(&self.view::<f32>(), g, max),
            Kind::Float64 => arg_float(&self.view::<f64>(), g, max),
            Kind::Complex64 => arg_complex(&self.view::<[f32; 2]>(), g, max),
            Kind::Complex128 => arg_complex(&self.view::<[f64; 2]>(), g, max),
            _ => unreachable!("checked by check_supported"),
        };
        let result = self.output(dtype("<i8"), &out)?;
        if self.out_order != Order::F {
            return Ok(result);
        }
        // NumPy's argmax moves the axis last and makes a C-ordered copy first:
        // its result is C-ordered whatever the input's order.
        let meta = result.meta().with_shape(self.out_shape.clone(), false);
        NpArray::from_parts(meta, &c_order_data(&result))
    }

    /// min and max (NaN and NaT win), nanmin and nanmax (NumPy's fmin and
    /// fmax: NaN and NaT lose, and are the result only where all are).
    fn extreme(&self) -> Result<NpArray> {
        let max = matches!(self.op, Op::Max | Op::NanMax);
        let skip = matches!(self.op, Op::NanMin | Op::NanMax);
        let out_dtype = self.dtype.clone();
        if self.plan.results() == 0 {
            return self.output::<u8>(out_dtype, &[]);
        }
        macro_rules! ord {
            ($t:ty) => {{
                // One call per function, so each loop is monomorphic and vectorises.
                let x = self.view::<$t>();
                let out = if max {
                    self.combined(
                        |i, g| kernels::fold_first(&x[i..][..g.size()], g, Ord::max),
                        Ord::max,
                    )
                } else {
                    self.combined(
                        |i, g| kernels::fold_first(&x[i..][..g.size()], g, Ord::min),
                        Ord::min,
                    )
                };
                self.output(out_dtype, &out)
            }};
        }
        match self.dtype.kind {
            Kind::Bool | Kind::UInt8 => ord!(u8),
            Kind::Int8 => ord!(i8),
            Kind::Int16 => ord!(i16),
            Kind::Int32 => ord!(i32),
            Kind::Int64 => ord!(i64),
            Kind::UInt16 => ord!(u16),
            Kind::UInt32 => ord!(u32),
            Kind::UInt64 => ord!(u64),
            Kind::DateTime(_) | Kind::TimeDelta(_) => {
                // NaT (the smallest i64) wins min and max, as in NumPy 1.18
                // and later, and loses fmin and fmax.
                let pick = move |a: i64, v: i64| match (a == i64::MIN, v == i64::MIN) {
                    (true, _) if skip => v,
                    (_, true) if skip => a,
                    (true, _) => a,
                    (_, true) => v,
                    _ if max => a.max(v),
                    _ => a.min(v),
                };
                let x = self.view::<i64>();
                let out = self.combined(|i, g| kernels::fold_first(&x[i..][..g.size()], g, pick), pick);
                self.output(out_dtype, &out)
            }
            Kind::Float16 => {
                let x: Vec<f32> = self.view::<f16>().iter().map(|h| h.to_f32()).collect();
                let out: Vec<f16> = self
                    .real_extreme(&x, max, skip)
                    .into_iter()
                    .map(f16::from_f32)
                    .collect();
                self.output(out_dtype, &out)
            }
            Kind::Float32 => self.output(out_dtype, &self.real_extreme(&self.view::<f32>(), max, skip)),
            Kind::Float64 => self.output(out_dtype, &self.real_extreme(&self.view::<f64>(), max, skip)),
            Kind::Complex64 => self.output(out_dtype, &self.complex_extreme(&self.view::<[f32; 2]>(), max, skip)),
            Kind::Complex128 => self.output(out_dtype, &self.complex_extreme(&self.view::<[f64; 2]>(), max, skip)),
            _ => unreachable!("checked by check_supported"),
        }
    }

    fn real_extreme<A: Float>(&self, x: &[A], max: bool, skip: bool) -> Vec<A> {
        let better = move |v: A, a: A| if max { v > a } else { v < a };
        if skip {
            // fmin/fmax: a NaN gives way to anything; of two NaNs the first stays.
            let step = move |a: A, v: A| {
                if v.is_nan() || (!a.is_nan() && !better(v, a)) {
                    a
                } else {
                    v
                }
            };
            return self.combined(|i, g| kernels::fold_first(&x[i..][..g.size()], g, step), step);
        }
        let step = move |a: A, v: A| {
            if a.is_nan() || !(better(v, a) || v.is_nan()) {
                a
            } else {
                v
            }
        };
        self.combined(|i, g| kernels::extreme(&x[i..][..g.size()], g, max), step)
    }

    /// NumPy's complex maximum/minimum: lexicographic, and a NaN in either
    /// part wins (fmax/fmin: loses).
    fn complex_extreme<A: Float + bytemuck::Pod>(&self, x: &[[A; 2]], max: bool, skip: bool) -> Vec<[A; 2]> {
        let nan = |c: [A; 2]| c[0].is_nan() || c[1].is_nan();
        let keep = move |a: [A; 2], v: [A; 2]| {
            if max {
                (a[0] > v[0] && !nan(a) && !nan(v)) || (a[0] == v[0] && a[1] >= v[1])
            } else {
                (a[0] < v[0] && !nan(a) && !nan(v)) || (a[0] == v[0] && a[1] <= v[1])
            }
        };
        let step = move |a: [A; 2], v: [A; 2]| {
            let a_wins = if skip {
                nan(v) || (!nan(a) && keep(a, v))
            } else {
                keep(a, v) || nan(a)
            };
            if a_wins {
                a
            } else {
                v
            }
        };
        self.combined(|i, g| kernels::fold_first(&x[i..][..g.size()], g, step), step)
    }

    fn sum_or_prod(&self, sum: bool) -> Result<NpArray> {
        let own = self.own_accumulator;
        // Integers accumulate in int64 / uint64 (NumPy's default on Linux), or
        // in their own width with AS, wrapping either way.
        macro_rules! int {
            ($t:ty, $acc:ty, $typestr:expr) => {{
                let x = self.view::<$t>();
                let out: Vec<$acc> = if sum {
                    self.fold(&x, 0 as $acc, |a, v| a.wrapping_add(v as $acc))
                } else {
                    self.fold(&x, 1 as $acc, |a, v| a.wrapping_mul(v as $acc))
                };
                if own {
                    let narrowed: Vec<$t> = out.into_iter().map(|v| v as $t).collect();
                    self.output(self.dtype.clone(), &narrowed)
                } else {
                    self.output(dtype($typestr), &out)
                }
            }};
        }
        match self.dtype.kind {
            Kind::Bool => {
                let x = self.view::<u8>();
                let out: Vec<i64> = if sum {
                    self.fold(&x, 0i64, |a, v| a + i64::from(v))
                } else {
                    self.fold(&x, 1i64, |a, v| a * i64::from(v))
                };
                if own {
                    let truth: Vec<u8> = out.into_iter().map(|v| u8::from(v != 0)).collect();
                    self.output(self.dtype.clone(), &truth)
                } else {
                    self.output(dtype("<i8"), &out)
                }
            }
            Kind::Int8 => int!(i8, i64, "<i8"),
            Kind::Int16 => int!(i16, i64, "<i8"),
            Kind::Int32 => int!(i32, i64, "<i8"),
            Kind::Int64 => int!(i64, i64, "<i8"),
            Kind::UInt8 => int!(u8, u64, "<u8"),
            Kind::UInt16 => int!(u16, u64, "<u8"),
            Kind::UInt32 => int!(u32, u64, "<u8"),
            Kind::UInt64 => int!(u64, u64, "<u8"),
            Kind::TimeDelta(_) if sum => {
                let nat = i64::MIN;
                let add = |a: i64, v: i64| if a == nat || v == nat { nat } else { a.wrapping_add(v) };
                self.output(self.dtype.clone(), &self.fold(&self.view::<i64>(), 0, add))
            }
            Kind::Float16 => {
                // NumPy's half loops compute in float32 and store halves: a
                // contiguous lane is one inner loop, rounded once at its end.
                let round = |v: f32| f16::from_f32(v).to_f32();
                let x = self.view::<f16>();
                let out = if sum {
                    self.sum(&x, self.buffered, |h: f16| h.to_f32(), round)
                } else {
                    self.product(&x, |h: f16| h.to_f32(), round)
                };
                let out: Vec<f16> = out.into_iter().map(f16::from_f32).collect();
                self.output(self.dtype.clone(), &out)
            }
            Kind::Float32 => {
                let x = self.view::<f32>();
                let out = if sum {
                    self.sum(&x, self.buffered, |v| v, |v| v)
                } else {
                    self.product(&x, |v| v, |v| v)
                };
                self.output(self.dtype.clone(), &out)
            }
            Kind::Float64 => {
                let x = self.view::<f64>();
                let out = if sum {
                    self.sum(&x, self.buffered, |v| v, |v| v)
                } else {
                    self.product(&x, |v| v, |v| v)
                };
                self.output(self.dtype.clone(), &out)
            }
            Kind::Complex64 => {
                let out = self.complex_sum_or_prod::<f32>(sum);
                let flat: Vec<f32> = out.into_iter().flat_map(|(r, i)| [r, i]).collect();
                self.output(self.dtype.clone(), &flat)
            }
            Kind::Complex128 => {
                let out = self.complex_sum_or_prod::<f64>(sum);
                let flat: Vec<f64> = out.into_iter().flat_map(|(r, i)| [r, i]).collect();
                self.output(self.dtype.clone(), &flat)
            }
            _ => {
                let t = dtype_repr(&self.dtype);
                Err(numpy_error(format!(
                    "ufunc '{}' cannot use operands with types {t} and {t}",
                    self.op.ufunc()
                )))
            }
        }
    }

    fn complex_sum_or_prod<A: Float + bytemuck::Pod>(&self, sum: bool) -> Vec<(A, A)> {
        let f = self.view::<A>();
        if sum {
            return self.sum_complex(&f, self.buffered);
        }
        let pairs: Vec<(A, A)> = f.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        if self.plan.lanes.inner == 1 {
            // NumPy's reduce loop: the textbook product.
            return self.fold(&pairs, (A::ONE, A::ZERO), |(ar, ai), (br, bi)| {
                (ar * br - ai * bi, ar * bi + ai * br)
            });
        }
        // Rows multiplied into the result go through NumPy's SIMD loop, whose
        // products are fused: a.re*b.re - (a.im*b.im) in one rounding.
        self.fold(&pairs, (A::ONE, A::ZERO), |(ar, ai), (br, bi)| {
            (ar.mul_add(br, A::ZERO - ai * bi), ar.mul_add(bi, ai * br))
        })
    }

    /// mean, var and std, following numpy/_core/_methods.py step by step.
    fn moments(&self) -> Result<NpArray> {
        let n = self.count();
        let is_time = matches!(self.dtype.kind, Kind::TimeDelta(_) | Kind::DateTime(_));
        if is_time {
            if let (Op::Mean, Kind::TimeDelta(_)) = (self.op, &self.dtype.kind) {
                // timedelta64 mean: the timedelta sum divided by the count (NaT stays NaT).
                let nat = i64::MIN;
                let add = |a: i64, v: i64| if a == nat || v == nat { nat } else { a.wrapping_add(v) };
                let sums = self.fold(&self.view::<i64>(), 0, add);
                let count = self.plan.reduced() as i64;
                let out: Vec<i64> = sums
                    .into_iter()
                    .map(|s| if s == nat || count == 0 { nat } else { s / count })
                    .collect();
                return self.output(self.dtype.clone(), &out);
            }
            if self.op == Op::Mean || matches!(self.dtype.kind, Kind::DateTime(_)) {
                let t = dtype_repr(&self.dtype);
                return Err(numpy_error(format!(
                    "ufunc 'add' cannot use operands with types {t} and {t}"
                )));
            }
            return Err(numpy_error(
                "ufunc 'square' not supported for the input types, and the inputs could not be safely coerced to any supported types according to the casting rule ''safe''",
            ));
        }
        let own = self.own_accumulator;
        match self.dtype.kind {
            Kind::Complex64 => self.complex_moments::<f32>("<c8", "<f4"),
            Kind::Complex128 => self.complex_moments::<f64>("<c16", "<f8"),
            Kind::Float16 if self.op == Op::Mean && !own => {
                // Summed in float32 (dtype='f4', so NumPy casts in buffers),
                // divided in float64, stored as float16.
                let sums = self.sum(&self.view::<f16>(), true, |h: f16| h.to_f32(), |v| v);
                let out: Vec<f16> = sums
                    .into_iter()
                    .map(|s| {
                        let q = s.to_f64() / n;
                        // With an axis NumPy stores the quotient as float32 first.
                        if self.out_shape.is_empty() {
                            f16::from_f64(q)
                        } else {
                            f16::from_f32(q as f32)
                        }
                    })
                    .collect();
                self.output(self.dtype.clone(), &out)
            }
            Kind::Float16 => {
                let x: Vec<f32> = self.view::<f16>().iter().map(|h| h.to_f32()).collect();
                let round = |v: f32| f16::from_f32(v).to_f32();
                let half = |q: f64| f16::from_f64(q).to_f32();
                let out = self.real_moments(&x, self.buffered, round, half, half);
                let out: Vec<f16> = out.into_iter().map(f16::from_f32).collect();
                self.output(self.dtype.clone(), &out)
            }
            Kind::Float32 => {
                let x = self.view::<f32>();
                let out = self.real_moments(&x, self.buffered, |v| v, |q| q as f32, |q| q as f32);
                self.output(self.dtype.clone(), &out)
            }
            Kind::Float64 => {
                let x = self.view::<f64>();
                let out = self.real_moments(&x, self.buffered, |v| v, |q| q, |q| q);
                self.output(self.dtype.clone(), &out)
            }
            _ if own => {
                // AS an integer dtype: the sum in that dtype, divided in float64,
                // truncated back (NumPy's unsafe cast into the result).
                if self.op != Op::Mean {
                    return Err(numpy_error(
                        "var and std AS an integer dtype apply to integer and bool arrays; AS bool to sum, prod and mean",
                    ));
                }
                let sums = convert::cast(&self.sum_or_prod(true)?, &dtype("<f8"))?;
                let quotients: Vec<f64> = pod_vec::<f64>(sums.data()).into_iter().map(|s| s / n).collect();
                let q = self.output(dtype("<f8"), &quotients)?;
                convert::cast(&q, &self.dtype)
            }
            _ => {
                // Integers and bools: float64 throughout (dtype='f8'); the mean's
                // sum casts in buffers, the squares are already float64.
                if self.op == Op::Mean {
                    // The same buffered sum, converting as it reads (exactly).
                    let out: Vec<f64> = self.int_sums_as_f64().into_iter().map(|s| s / n).collect();
                    return self.output(dtype("<f8"), &out);
                }
                let x: Vec<f64> = self.as_f64()?;
                let out = self.real_moments(&x, true, |v| v, |q| q, |q| q);
                self.output(dtype("<f8"), &out)
            }
        }
    }

    /// Sums of integers or bools in float64, in NumPy's buffered order.
    fn int_sums_as_f64(&self) -> Vec<f64> {
        macro_rules! sums {
            ($t:ty) => {
                self.sum(&self.view::<$t>(), true, |v: $t| v as f64, |v| v)
            };
        }
        match self.dtype.kind {
            Kind::Bool | Kind::UInt8 => sums!(u8),
            Kind::Int8 => sums!(i8),
            Kind::Int16 => sums!(i16),
            Kind::Int32 => sums!(i32),
            Kind::Int64 => sums!(i64),
            Kind::UInt16 => sums!(u16),
            Kind::UInt32 => sums!(u32),
            Kind::UInt64 => sums!(u64),
            _ => unreachable!("integer kinds only"),
        }
    }

    fn as_f64(&self) -> Result<Vec<f64>> {
        Ok(match self.dtype.kind {
            Kind::Bool | Kind::UInt8 => self.data.iter().map(|&v| f64::from(v)).collect(),
            Kind::Int8 => self.view::<i8>().iter().map(|&v| f64::from(v)).collect(),
            Kind::Int16 => self.view::<i16>().iter().map(|&v| f64::from(v)).collect(),
            Kind::Int32 => self.view::<i32>().iter().map(|&v| f64::from(v)).collect(),
            Kind::Int64 => self.view::<i64>().iter().map(|&v| v as f64).collect(),
            Kind::UInt16 => self.view::<u16>().iter().map(|&v| f64::from(v)).collect(),
            Kind::UInt32 => self.view::<u32>().iter().map(|&v| f64::from(v)).collect(),
            Kind::UInt64 => self.view::<u64>().iter().map(|&v| v as f64).collect(),
            _ => unreachable!("integer kinds only"),
        })
    }

    /// mean, var or std of real values `x` (already in the accumulator type
    /// `A`). `round` stores an intermediate in the array's dtype (float16
    /// rounding, else nothing); `quotient` turns a float64 quotient into the
    /// result where NumPy divides an array (`true_divide(..., out=...)`),
    /// `scalar_quotient` where it divides a scalar (axis None).
    fn real_moments<A: Float>(
        &self,
        x: &[A],
        mean_buffered: bool,
        round: impl Fn(A) -> A + Copy,
        quotient: impl Fn(f64) -> A + Copy,
        scalar_quotient: impl Fn(f64) -> A + Copy,
    ) -> Vec<A> {
        let n = self.count();
        let sums = self.sum(x, mean_buffered, |v| v, round);
        if self.op == Op::Mean {
            let scalar = self.out_shape.is_empty();
            return sums
                .into_iter()
                .map(|s| {
                    let q = s.to_f64() / n;
                    if scalar {
                        scalar_quotient(q)
                    } else {
                        quotient(q)
                    }
                })
                .collect();
        }
        // var: the mean is kept as an array (keepdims), so divided like one.
        let means: Vec<A> = sums.into_iter().map(|s| quotient(s.to_f64() / n)).collect();
        let deviation = |v: A, m: A| {
            let d = round(v - m);
            round(d * d)
        };
        let g = self.plan.lanes;
        let sums = if self.plan.is_simple() && g.inner == 1 && g.len > 0 {
            // One lane per result: the squares are summed as they are made.
            x.chunks_exact(g.len)
                .zip(&means)
                .map(|(lane, &m)| round(A::ZERO + kernels::pairwise(lane, &|v| deviation(v, m))))
                .collect()
        } else {
            let squares = self.deviations(x, &means, deviation);
            self.sum(&squares, false, |v| v, round)
        };
        self.finish_variance(sums, round, quotient)
    }

    /// `f(x, mean)` for every element, in the elements' order, with the mean
    /// of the result each element is reduced into.
    fn deviations<T: Copy, M: Copy, D>(&self, x: &[T], means: &[M], f: impl Fn(T, M) -> D) -> Vec<D> {
        let g = self.plan.lanes;
        let mut out = Vec::with_capacity(x.len());
        self.plan.for_each_block(|i, o| {
            for outer in 0..g.outer {
                let row_means = &means[o + outer * g.inner..][..g.inner];
                for l in 0..g.len {
                    let row = &x[i + g.at(outer, l, 0)..][..g.inner];
                    out.extend(row.iter().zip(row_means).map(|(&v, &m)| f(v, m)));
                }
            }
        });
        out
    }

    /// The sums of squared deviations, divided by the count (and their root for std).
    fn finish_variance<A: Float>(
        &self,
        sums: Vec<A>,
        round: impl Fn(A) -> A + Copy,
        quotient: impl Fn(f64) -> A + Copy,
    ) -> Vec<A> {
        // NumPy divides by max(count - ddof, 0), giving inf or NaN at 0.
        let n = (self.plan.reduced() as i64 - self.ddof).max(0) as f64;
        sums.into_iter()
            .map(|s| {
                let var = quotient(s.to_f64() / n);
                if matches!(self.op, Op::Std | Op::NanStd) {
                    round(var.sqrt())
                } else {
                    var
                }
            })
            .collect()
    }

    fn complex_moments<A: Float + bytemuck::Pod>(&self, typestr: &str, real_typestr: &str) -> Result<NpArray> {
        let n = self.count();
        let f = self.view::<A>();
        let sums = self.sum_complex(&f, self.buffered);
        // NumPy divides complex by complex: (re + im*0) * (1/n), in complex128.
        let scale = 1.0 / n;
        let divide = |(re, im): (A, A)| {
            (
                A::from_f64((re.to_f64() + im.to_f64() * 0.0) * scale),
                A::from_f64((im.to_f64() - re.to_f64() * 0.0) * scale),
            )
        };
        if self.op == Op::Mean {
            let flat: Vec<A> = sums.into_iter().map(divide).flat_map(|(r, i)| [r, i]).collect();
            return self.output(dtype(typestr), &flat);
        }
        let means: Vec<(A, A)> = sums.into_iter().map(divide).collect();
        let pairs: Vec<(A, A)> = f.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        let squares = self.deviations(&pairs, &means, |(r, i), (mr, mi)| {
            let (dr, di) = (r - mr, i - mi);
            dr * dr + di * di
        });
        if !self.own_accumulator {
            let sums = self.sum(&squares, false, |v| v, |v| v);
            let out = self.finish_variance(sums, |v| v, |q| A::from_f64(q));
            return self.output(dtype(real_typestr), &out);
        }
        // AS a complex dtype: NumPy sums the (real) squares in that dtype,
        // cast in its buffers, and divides and takes the root as complex numbers.
        let as_complex: Vec<A> = squares.iter().flat_map(|&v| [v, A::ZERO]).collect();
        drop(squares);
        let sums = self.sum_complex(&as_complex, true);
        let n = (self.plan.reduced() as i64 - self.ddof).max(0) as f64;
        let flat: Vec<A> = sums
            .into_iter()
            .flat_map(|(re, _)| {
                let re = re.to_f64();
                let (var, im) = if n == 0.0 {
                    (re / n, 0.0 / n)
                } else {
                    (re * (1.0 / n), (0.0 - re * 0.0) * (1.0 / n))
                };
                let (var, im) = (A::from_f64(var), A::from_f64(im));
                [if self.op == Op::Std { var.sqrt() } else { var }, im]
            })
            .collect();
        self.output(dtype(typestr), &flat)
    }

    /// nanmean, nanvar and nanstd of floats and complex numbers, step by
    /// step as numpy/lib/_nanfunctions_impl.py makes them: NaNs count as
    /// zeros in the sums and not at all in the counts; the sums are in the
    /// array's dtype (float16 too); a variance with `count - ddof <= 0` is NaN.
    fn nan_moments(&self) -> Result<NpArray> {
        match self.dtype.kind {
            Kind::Float16 => {
                let x: Vec<f32> = self.view::<f16>().iter().map(|h| h.to_f32()).collect();
                let round = |v: f32| f16::from_f32(v).to_f32();
                let half = |q: f64| f16::from_f64(q).to_f32();
                let out = self.real_nan_moments(&x, round, half);
                let out: Vec<f16> = out.into_iter().map(f16::from_f32).collect();
                self.output(self.dtype.clone(), &out)
            }
            Kind::Float32 => {
                let out = self.real_nan_moments(&self.view::<f32>(), |v| v, |q| q as f32);
                self.output(self.dtype.clone(), &out)
            }
            Kind::Float64 => {
                let out = self.real_nan_moments(&self.view::<f64>(), |v| v, |q| q);
                self.output(self.dtype.clone(), &out)
            }
            Kind::Complex64 => self.complex_nan_moments::<f32>("<c8", "<f4"),
            Kind::Complex128 => self.complex_nan_moments::<f64>("<c16", "<f8"),
            _ => unreachable!("nan_reduce sends other dtypes to the plain op"),
        }
    }

    /// The variances (or standard deviations) from the sums of squared
    /// deviations and the counts of non-NaN elements.
    fn nan_variance<A: Float>(
        &self,
        sums: Vec<A>,
        counts: &[i64],
        round: impl Fn(A) -> A,
        quotient: impl Fn(f64) -> A,
    ) -> Vec<A> {
        sums.into_iter()
            .zip(counts)
            .map(|(s, &c)| {
                let dof = c - self.ddof;
                if dof <= 0 {
                    return A::from_f64(f64::NAN);
                }
                let var = quotient(s.to_f64() / dof as f64);
                if self.op == Op::NanStd {
                    round(var.sqrt())
                } else {
                    var
                }
            })
            .collect()
    }

    fn real_nan_moments<A: Float>(
        &self,
        x: &[A],
        round: impl Fn(A) -> A + Copy,
        quotient: impl Fn(f64) -> A,
    ) -> Vec<A> {
        let counts = self.fold(x, 0i64, |c, v: A| c + i64::from(!v.is_nan()));
        let zeroed = |v: A| if v.is_nan() { A::ZERO } else { v };
        // The copy with NaNs zeroed keeps the input's byte order: buffered like it.
        let sums = self.sum(x, self.buffered, zeroed, round);
        let means: Vec<A> = sums
            .into_iter()
            .zip(&counts)
            .map(|(s, &c)| quotient(s.to_f64() / c as f64))
            .collect();
        if self.op == Op::NanMean {
            return means;
        }
        let squares = self.deviations(x, &means, |v: A, m: A| {
            if v.is_nan() {
                return A::ZERO;
            }
            let d = round(v - m);
            round(d * d)
        });
        let sums = self.sum(&squares, self.buffered, |v| v, round);
        self.nan_variance(sums, &counts, round, quotient)
    }

    fn complex_nan_moments<A: Float + bytemuck::Pod>(&self, typestr: &str, real_typestr: &str) -> Result<NpArray> {
        let f = self.view::<A>();
        let pairs: Vec<(A, A)> = f.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        let nan = |(r, i): (A, A)| r.is_nan() || i.is_nan();
        let counts = self.fold(&pairs, 0i64, |c, p| c + i64::from(!nan(p)));
        let zeroed: Vec<A> = pairs
            .iter()
            .flat_map(|&p| if nan(p) { [A::ZERO, A::ZERO] } else { [p.0, p.1] })
            .collect();
        let sums = self.sum_complex(&zeroed, self.buffered);
        drop(zeroed);
        // np.divide(sum, count): complex128 division by (count + 0j).
        let means: Vec<(A, A)> = sums
            .into_iter()
            .zip(&counts)
            .map(|((re, im), &c)| {
                let (re, im, c) = (re.to_f64(), im.to_f64(), c as f64);
                let (r, i) = if c == 0.0 {
                    (re / c, im / c)
                } else {
                    let scale = 1.0 / c;
                    ((re + im * 0.0) * scale, (im - re * 0.0) * scale)
                };
                (A::from_f64(r), A::from_f64(i))
            })
            .collect();
        if self.op == Op::NanMean {
            let flat: Vec<A> = means.into_iter().flat_map(|(r, i)| [r, i]).collect();
            return self.output(dtype(typestr), &flat);
        }
        // (d * conj(d)).real through NumPy's SIMD complex product: fused.
        let squares = self.deviations(&pairs, &means, |p, (mr, mi)| {
            if nan(p) {
                return A::ZERO;
            }
            let (dr, di) = (p.0 - mr, p.1 - mi);
            dr.mul_add(dr, di * di)
        });
        let sums = self.sum(&squares, self.buffered, |v| v, |v| v);
        let out = self.nan_variance(sums, &counts, |v| v, A::from_f64);
        self.output(dtype(real_typestr), &out)
    }

    /// Products: sequential in every case (NumPy's multiply loop has no
    /// pairwise form), each block continuing from the ones before it.
    fn product<T: Copy, A: Float>(&self, x: &[T], conv: impl Fn(T) -> A, round: impl Fn(A) -> A) -> Vec<A> {
        let g = self.plan.lanes;
        if g.inner != 1 {
            return self.fold(x, A::ONE, |a, v| round(a * conv(v)));
        }
        // One inner loop per lane: float16 is rounded once, at its end.
        let mut out = vec![A::ONE; self.plan.results()];
        self.plan.for_each_block(|i, o| {
            let results = &mut out[o..][..g.count()];
            kernels::fold_into(&x[i..][..g.size()], g, results, |a, v| a * conv(v));
            results.iter_mut().for_each(|a| *a = round(*a));
        });
        out
    }
}

fn arg_ord<T: Copy + PartialOrd>(x: &[T], g: Lanes, max: bool) -> Vec<i64> {
    if g.inner == 1 && g.len > 0 {
        return kernels::arg_ordered(x, g, max);
    }
    kernels::arg(x, g, |v, b| if max { v > b } else { v < b }, |_| false)
}

fn arg_float<A: Float>(x: &[A], g: Lanes, max: bool) -> Vec<i64> {
    if g.inner == 1 && g.len > 0 {
        return kernels::arg_extreme(x, g, max);
    }
    kernels::arg(x, g, |v, b| if max { v > b } else { v < b }, |v: A| v.is_nan())
}

fn arg_complex<A: Float>(x: &[[A; 2]], g: Lanes, max: bool) -> Vec<i64> {
    let better = |v: [A; 2], b: [A; 2]| {
        if max {
            v[0] > b[0] || (v[0] == b[0] && v[1] > b[1])
        } else {
            v[0] < b[0] || (v[0] == b[0] && v[1] < b[1])
        }
    };
    kernels::arg(x, g, better, |v| v[0].is_nan() || v[1].is_nan())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::test_array;

    fn run(a: &NpArray, op: &str, axis: Option<i64>) -> Result<NpArray> {
        reduce(a, Op::parse(op)?, axis.map_or(Axes::All, Axes::One), None, None)
    }

    #[test]
    fn integer_sums_widen_and_wrap() {
        let a = test_array("<i4", &[2, 3], false, bytemuck::cast_slice(&[i32::MAX, 1, 2, 3, 4, 5]));
        let s = run(&a, "sum", None).unwrap();
        assert_eq!(
            (s.dtype().descr(), s.as_slice::<i64>().unwrap()),
            ("'<i8'".into(), &[i64::from(i32::MAX) + 15][..])
        );
        let s = run(&a, "SUM", Some(0)).unwrap();
        assert_eq!(s.as_slice::<i64>().unwrap(), &[i64::from(i32::MAX) + 3, 5, 7]);
        let u = test_array("<u8", &[2], false, bytemuck::cast_slice(&[u64::MAX, 2]));
        assert_eq!(run(&u, "sum", None).unwrap().as_slice::<u64>().unwrap(), &[1]);
        let b = test_array("|b1", &[3], false, &[1, 0, 1]);
        assert_eq!(run(&b, "sum", None).unwrap().as_slice::<i64>().unwrap(), &[2]);
        assert_eq!(run(&b, "all", None).unwrap().data(), &[0]);
        assert_eq!(run(&b, "count_nonzero", None).unwrap().as_slice::<i64>().unwrap(), &[2]);
    }

    #[test]
    fn axes_follow_the_memory_order() {
        // [[0, 1, 2], [3, 4, 5]] stored in Fortran order.
        let f = test_array(
            "<f8",
            &[2, 3],
            true,
            bytemuck::cast_slice(&[0.0f64, 3.0, 1.0, 4.0, 2.0, 5.0]),
        );
        assert_eq!(
            run(&f, "sum", Some(0)).unwrap().as_slice::<f64>().unwrap(),
            &[3.0, 5.0, 7.0]
        );
        assert_eq!(
            run(&f, "max", Some(-1)).unwrap().as_slice::<f64>().unwrap(),
            &[2.0, 5.0]
        );
        assert_eq!(
            run(&f, "argmax", None).unwrap().as_slice::<i64>().unwrap(),
            &[5],
            "C-order index"
        );
        let m = run(&f, "mean", Some(1)).unwrap();
        assert_eq!(m.as_slice::<f64>().unwrap(), &[1.0, 4.0]);
        assert_eq!(run(&f, "var", None).unwrap().as_slice::<f64>().unwrap(), &[35.0 / 12.0]);
    }

    #[test]
    fn numpy_errors() {
        let e = test_array("<f4", &[0, 2], false, &[]);
        let err = |op, axis| run(&e, op, axis).unwrap_err().to_string();
        assert_eq!(
            err("max", Some(0)),
            "zero-size array to reduction operation maximum which has no identity"
        );
        assert_eq!(err("argmin", None), "attempt to get argmin of an empty sequence");
        assert_eq!(err("sum", Some(2)), "axis 2 is out of bounds for array of dimension 2");
        assert_eq!(run(&e, "max", Some(1)).unwrap().shape(), &[0]);
        assert!(run(&test_array("<f4", &[0, 0], false, &[]), "max", Some(1)).is_err());
        let t = test_array("<M8[s]", &[1], false, &[0; 8]);
        assert_eq!(
            run(&t, "sum", None).unwrap_err().to_string(),
            "ufunc 'add' cannot use operands with types dtype('<M8[s]') and dtype('<M8[s]')"
        );
        let s = test_array("|S2", &[1], false, b"ab");
        assert_eq!(
            run(&s, "max", None).unwrap_err().to_string(),
            "ufunc 'maximum' did not contain a loop with signature matching types (dtype('S2'), dtype('S2')) -> None"
        );
        assert!(Op::parse("median").is_err());
    }

    #[test]
    fn nan_and_nat_propagate() {
        let x = test_array("<f4", &[3], false, bytemuck::cast_slice(&[1.0f32, f32::NAN, 3.0]));
        assert!(run(&x, "min", None).unwrap().as_slice::<f32>().unwrap()[0].is_nan());
        assert_eq!(run(&x, "argmax", None).unwrap().as_slice::<i64>().unwrap(), &[1]);
        let t = test_array("<m8[s]", &[3], false, bytemuck::cast_slice(&[5i64, i64::MIN, 2]));
        assert_eq!(run(&t, "max", None).unwrap().as_slice::<i64>().unwrap(), &[i64::MIN]);
        assert_eq!(run(&t, "argmin", None).unwrap().as_slice::<i64>().unwrap(), &[1]);
    }

    fn run_axes(a: &NpArray, op: &str, axes: &[i64], ddof: Option<i64>) -> Result<NpArray> {
        reduce(a, Op::parse(op)?, Axes::from_list(Some(axes)), None, ddof)
    }

    #[test]
    fn several_axes_ddof_and_nan_ops() {
        // arange(24).reshape(2, 3, 4) as int16, in C and in Fortran order.
        let c: Vec<i16> = (0..24).collect();
        let f: Vec<i16> = (0..24)
            .map(|i| ((i % 2) * 12 + (i / 2 % 3) * 4 + i / 6) as i16)
            .collect();
        for (data, fortran) in [(c, false), (f, true)] {
            let a = test_array("<i2", &[2, 3, 4], fortran, bytemuck::cast_slice(&data));
            let s = run_axes(&a, "sum", &[0, 2], None).unwrap();
            assert_eq!(
                (s.shape(), s.as_slice::<i64>().unwrap()),
                (&[3][..], &[60, 92, 124][..])
            );
            let s = run_axes(&a, "max", &[-1, 1], None).unwrap();
            assert_eq!(s.as_slice::<i16>().unwrap(), &[11, 23]);
            assert!(run_axes(&a, "any", &[0, 1, 2], None).unwrap().shape().is_empty());
            let v = run_axes(&a, "var", &[1, 2], Some(1)).unwrap();
            assert_eq!(v.as_slice::<f64>().unwrap(), &[13.0, 13.0]);
        }
        let a = test_array("<f4", &[2], false, bytemuck::cast_slice(&[1.0f32, 2.0]));
        let v = run_axes(&a, "var", &[0], Some(2)).unwrap();
        assert_eq!(
            v.as_slice::<f32>().unwrap(),
            &[f32::INFINITY],
            "ddof = count: divided by 0"
        );
        let err = |op, axes: &[i64]| run_axes(&a, op, axes, None).unwrap_err().to_string();
        assert_eq!(err("sum", &[0, -1]), "duplicate value in 'axis'");
        assert_eq!(
            err("argmax", &[0, -1]),
            "'tuple' object cannot be interpreted as an integer"
        );
        assert!(
            reduce(&a, Op::Sum, Axes::All, None, Some(1)).is_err(),
            "DDOF is var's and std's"
        );

        let nan = f64::NAN;
        let x = test_array("<f8", &[2, 2], false, bytemuck::cast_slice(&[nan, 1.0, nan, nan]));
        let m = run_axes(&x, "nanmin", &[1], None).unwrap();
        assert!(m.as_slice::<f64>().unwrap()[0] == 1.0 && m.as_slice::<f64>().unwrap()[1].is_nan());
        assert_eq!(run(&x, "nansum", None).unwrap().as_slice::<f64>().unwrap(), &[1.0]);
        assert_eq!(run(&x, "nanmean", None).unwrap().as_slice::<f64>().unwrap(), &[1.0]);
        assert_eq!(run(&x, "nanargmax", None).unwrap().as_slice::<i64>().unwrap(), &[1]);
        assert_eq!(
            run(&x, "nanargmin", Some(1)).unwrap_err().to_string(),
            "All-NaN slice encountered"
        );
        let v = run_axes(&x, "nanvar", &[0], None).unwrap();
        assert!(v.as_slice::<f64>().unwrap()[0].is_nan() && v.as_slice::<f64>().unwrap()[1] == 0.0);
        let t = test_array("<m8[s]", &[3], false, bytemuck::cast_slice(&[5i64, i64::MIN, 2]));
        assert_eq!(
            run(&t, "nanmax", None).unwrap().as_slice::<i64>().unwrap(),
            &[5],
            "fmax skips NaT"
        );
        let e = test_array("<f4", &[0], false, &[]);
        assert_eq!(
            run(&e, "nanmin", None).unwrap_err().to_string(),
            "zero-size array to reduction operation fmin which has no identity"
        );
    }

    #[test]
    fn var_as_an_integer_dtype_wraps_and_truncates() {
        let a = test_array("<i4", &[4], false, bytemuck::cast_slice(&[0i32, 1, 2, 4]));
        let i64_ = Dtype::from_typestr("<i8").unwrap();
        let v = reduce(&a, Op::Var, Axes::All, Some(&i64_), None).unwrap();
        // mean 7 // 4 = 1; squares 1 + 0 + 1 + 9 = 11; 11 / 4 -> 2.
        assert_eq!(v.as_slice::<i64>().unwrap(), &[2]);
        let s = reduce(&a, Op::Std, Axes::All, Some(&i64_), None).unwrap();
        assert_eq!(s.as_slice::<i64>().unwrap(), &[1]);
        let b = test_array("<i4", &[2, 2], false, bytemuck::cast_slice(&[0i32, 1, 2, 4]));
        assert_eq!(
            reduce(&b, Op::Std, Axes::One(0), Some(&i64_), None)
                .unwrap_err()
                .to_string(),
            "Cannot cast ufunc 'sqrt' output from dtype('float64') to dtype('int64') with casting rule 'same_kind'"
        );
        assert_eq!(c_cast(f64::INFINITY, &Kind::Int64), i64::MIN as u64);
        assert_eq!(c_cast(-1.5, &Kind::UInt64), u64::MAX);
        assert_eq!(c_cast(1e10, &Kind::Int8) as i8, 0);
    }
}
