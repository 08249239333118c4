//! `NP.REDUCE`: NumPy's reductions (`arr.sum(axis)`, `mean`, `argmax`…) on a
//! stored array, with NumPy's result dtypes (an int32 sum is int64, a float16
//! mean is computed in float32), its NaN and NaT propagation and its order of
//! additions (pairwise along contiguous lanes, row by row otherwise), so that
//! integer results are equal and float results equal or within an ulp.

use std::borrow::Cow;

use half::f16;

use super::kernels::{self, Float, Lanes};
use super::{c_order_data, dtype_repr, is_fortran, numpy_error, pod_vec, saved_fortran};
use crate::array::NpArray;
use crate::convert;
use crate::dtype::{ByteOrder, Dtype, Kind};
use crate::error::Result;
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
}

const OPS: [(&str, Op); 12] = [
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
            Op::Any => "logical_or",
            Op::All => "logical_and",
            Op::ArgMin => "argmin",
            Op::ArgMax => "argmax",
            Op::CountNonzero => "count_nonzero",
        }
    }

    /// Whether `AS dtype` (NumPy's `dtype=` argument) applies.
    pub fn takes_dtype(self) -> bool {
        matches!(self, Op::Sum | Op::Prod | Op::Mean | Op::Var | Op::Std)
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

/// Result of `arr.<op>(axis=axis, dtype=acc)` as `np.save` would store it: a
/// 0-d array without an axis, else the shape without that axis, in the
/// memory order of the input. `acc` is the `AS` dtype (sum, prod, mean, var, std).
pub fn reduce(array: &NpArray, op: Op, axis: Option<i64>, acc: Option<&Dtype>) -> Result<NpArray> {
    let ndim = array.ndim();
    // NumPy's ufunc reductions (and argmax) take axis 0 or -1 of a 0-d array
    // as the whole array; mean, var and std check the axis and refuse.
    let moments = matches!(op, Op::Mean | Op::Var | Op::Std);
    let axis = if ndim == 0 && !moments && matches!(axis, Some(0 | -1)) {
        None
    } else {
        axis
    };
    let axis = axis
        .map(|a| {
            let resolved = if a < 0 { a + ndim as i64 } else { a };
            if resolved < 0 || resolved >= ndim as i64 {
                return Err(numpy_error(format!(
                    "axis {a} is out of bounds for array of dimension {ndim}"
                )));
            }
            Ok(resolved as usize)
        })
        .transpose()?;
    if let Some(target) = acc {
        if !op.takes_dtype() {
            return Err(numpy_error(
                "AS applies to sum, prod, mean, var and std (NumPy's dtype= argument)",
            ));
        }
        let target = native(target);
        if native(array.dtype()) != target {
            check_supported(array.dtype(), op)?;
            let cast = convert::cast(array, &target)?;
            return Reduction::new(&cast, op, axis, true, true)?.run();
        }
        return Reduction::new(array, op, axis, false, true)?.run();
    }
    Reduction::new(array, op, axis, false, false)?.run()
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
/// result depends on it), its lanes and the result's shape and order.
struct Reduction<'a> {
    dtype: Dtype,
    data: Cow<'a, [u8]>,
    lanes: Lanes,
    out_shape: Shape,
    out_fortran: bool,
    op: Op,
    /// The input was cast for the reduction (`AS`): NumPy then sums in buffers.
    buffered: bool,
    /// The dtype sums and products accumulate in is the input's own (`AS`).
    own_accumulator: bool,
}

impl<'a> Reduction<'a> {
    fn new(
        array: &'a NpArray,
        op: Op,
        axis: Option<usize>,
        cast: bool,
        own_accumulator: bool,
    ) -> Result<Reduction<'a>> {
        check_supported(array.dtype(), op)?;
        let shape = array.shape();
        let size = shape.iter().product::<u64>() as usize;
        let (lanes, out_shape, out_fortran, data) = match axis {
            None => {
                // argmin/argmax index the C-order ravel; everything else runs in memory order.
                let data = if matches!(op, Op::ArgMin | Op::ArgMax) && is_fortran(array) {
                    Cow::Owned(c_order_data(array))
                } else {
                    Cow::Borrowed(array.data())
                };
                (
                    Lanes {
                        outer: 1,
                        len: size,
                        inner: 1,
                    },
                    Shape::new(),
                    false,
                    data,
                )
            }
            Some(axis) => {
                let fortran = array.fortran_order();
                let (before, after) = (&shape[..axis], &shape[axis + 1..]);
                let (inner, outer) = if fortran { (before, after) } else { (after, before) };
                let count = |dims: &[u64]| dims.iter().product::<u64>() as usize;
                let lanes = Lanes {
                    outer: count(outer),
                    len: shape[axis] as usize,
                    inner: count(inner),
                };
                let out_shape: Shape = before.iter().chain(after).copied().collect();
                let out_fortran = saved_fortran(&out_shape, fortran);
                (lanes, out_shape, out_fortran, Cow::Borrowed(array.data()))
            }
        };
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
            lanes,
            out_shape,
            out_fortran,
            op,
            // A byte-swapped input is cast too, so NumPy sums it in buffers.
            buffered: cast || array.dtype().order == ByteOrder::Big,
            own_accumulator,
        })
    }

    fn view<T: bytemuck::Pod>(&self) -> Cow<'_, [T]> {
        match bytemuck::try_cast_slice(&self.data) {
            Ok(typed) => Cow::Borrowed(typed),
            Err(_) => Cow::Owned(pod_vec(&self.data)),
        }
    }

    fn output<R: bytemuck::Pod>(&self, dtype: Dtype, values: &[R]) -> Result<NpArray> {
        NpArray::from_parts(
            dtype,
            self.out_shape.clone(),
            self.out_fortran,
            bytemuck::cast_slice(values),
        )
    }

    /// NumPy refuses a reduction without identity along an empty axis, even
    /// when the result would be empty too.
    fn is_empty_reduction(&self) -> bool {
        self.lanes.len == 0
    }

    fn run(self) -> Result<NpArray> {
        let op = self.op;
        if matches!(op, Op::Min | Op::Max) && self.is_empty_reduction() {
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
            Op::Min | Op::Max => self.extreme(),
            Op::Sum | Op::Prod => self.sum_or_prod(op == Op::Sum),
            Op::Mean | Op::Var | Op::Std => self.moments(),
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
        let g = self.lanes;
        match self.op {
            Op::Any | Op::All => {
                let out = kernels::truth(x, g, self.op == Op::All, nonzero);
                self.output(dtype("|b1"), &out)
            }
            _ => {
                let out = kernels::fold(x, g, 0i64, move |a, v| a + i64::from(nonzero(v)));
                self.output(dtype("<i8"), &out)
            }
        }
    }

    fn argument(&self) -> Result<NpArray> {
        let g = self.lanes;
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
        if !self.out_fortran {
            return Ok(result);
        }
        // NumPy's argmax moves the axis last and makes a C-ordered copy first:
        // its result is C-ordered whatever the input's order.
        NpArray::from_parts(
            result.dtype().clone(),
            self.out_shape.clone(),
            false,
            &c_order_data(&result),
        )
    }

    fn extreme(&self) -> Result<NpArray> {
        let g = self.lanes;
        let max = self.op == Op::Max;
        let out_dtype = self.dtype.clone();
        if g.count() == 0 {
            return self.output::<u8>(out_dtype, &[]);
        }
        macro_rules! ord {
            ($t:ty) => {{
                // One call per function, so each loop is monomorphic and vectorises.
                let x = self.view::<$t>();
                let out = if max {
                    kernels::fold_first(&x, g, Ord::max)
                } else {
                    kernels::fold_first(&x, g, Ord::min)
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
                // NaT (the smallest i64) wins, as in NumPy 1.18 and later.
                let pick = |a: i64, v: i64| match (a == i64::MIN, v == i64::MIN) {
                    (true, _) => a,
                    (_, true) => v,
                    _ if max => a.max(v),
                    _ => a.min(v),
                };
                self.output(out_dtype, &kernels::fold_first(&self.view::<i64>(), g, pick))
            }
            Kind::Float16 => {
                let x: Vec<f32> = self.view::<f16>().iter().map(|h| h.to_f32()).collect();
                let out: Vec<f16> = kernels::extreme(&x, g, max).into_iter().map(f16::from_f32).collect();
                self.output(out_dtype, &out)
            }
            Kind::Float32 => self.output(out_dtype, &kernels::extreme(&self.view::<f32>(), g, max)),
            Kind::Float64 => self.output(out_dtype, &kernels::extreme(&self.view::<f64>(), g, max)),
            Kind::Complex64 => self.output(out_dtype, &extreme_complex(&self.view::<[f32; 2]>(), g, max)),
            Kind::Complex128 => self.output(out_dtype, &extreme_complex(&self.view::<[f64; 2]>(), g, max)),
            _ => unreachable!("checked by check_supported"),
        }
    }

    fn sum_or_prod(&self, sum: bool) -> Result<NpArray> {
        let g = self.lanes;
        let own = self.own_accumulator;
        // Integers accumulate in int64 / uint64 (NumPy's default on Linux), or
        // in their own width with AS, wrapping either way.
        macro_rules! int {
            ($t:ty, $acc:ty, $typestr:expr) => {{
                let x = self.view::<$t>();
                let out: Vec<$acc> = if sum {
                    kernels::fold(&x, g, 0 as $acc, |a, v| a.wrapping_add(v as $acc))
                } else {
                    kernels::fold(&x, g, 1 as $acc, |a, v| a.wrapping_mul(v as $acc))
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
                    kernels::fold(&x, g, 0i64, |a, v| a + i64::from(v))
                } else {
                    kernels::fold(&x, g, 1i64, |a, v| a * i64::from(v))
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
                self.output(self.dtype.clone(), &kernels::fold(&self.view::<i64>(), g, 0, add))
            }
            Kind::Float16 => {
                // NumPy's half loops compute in float32 and store halves: a
                // contiguous lane is one inner loop, rounded once at its end.
                let round = |v: f32| f16::from_f32(v).to_f32();
                let x = self.view::<f16>();
                let out = if sum {
                    kernels::sum(&x, g, self.buffered, |h: f16| h.to_f32(), round)
                } else {
                    product(&x, g, |h: f16| h.to_f32(), round)
                };
                let out: Vec<f16> = out.into_iter().map(f16::from_f32).collect();
                self.output(self.dtype.clone(), &out)
            }
            Kind::Float32 => {
                let x = self.view::<f32>();
                let out = if sum {
                    kernels::sum(&x, g, self.buffered, |v| v, |v| v)
                } else {
                    product(&x, g, |v| v, |v| v)
                };
                self.output(self.dtype.clone(), &out)
            }
            Kind::Float64 => {
                let x = self.view::<f64>();
                let out = if sum {
                    kernels::sum(&x, g, self.buffered, |v| v, |v| v)
                } else {
                    product(&x, g, |v| v, |v| v)
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
            return kernels::sum_complex(&f, self.lanes, self.buffered);
        }
        let pairs: Vec<(A, A)> = f.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        if self.lanes.inner == 1 {
            // NumPy's reduce loop: the textbook product.
            return kernels::fold(&pairs, self.lanes, (A::ONE, A::ZERO), |(ar, ai), (br, bi)| {
                (ar * br - ai * bi, ar * bi + ai * br)
            });
        }
        // Rows multiplied into the result go through NumPy's SIMD loop, whose
        // products are fused: a.re*b.re - (a.im*b.im) in one rounding.
        kernels::fold(&pairs, self.lanes, (A::ONE, A::ZERO), |(ar, ai), (br, bi)| {
            (ar.mul_add(br, A::ZERO - ai * bi), ar.mul_add(bi, ai * br))
        })
    }

    /// mean, var and std, following numpy/_core/_methods.py step by step.
    fn moments(&self) -> Result<NpArray> {
        let g = self.lanes;
        let n = g.len as f64;
        let is_time = matches!(self.dtype.kind, Kind::TimeDelta(_) | Kind::DateTime(_));
        if is_time {
            if let (Op::Mean, Kind::TimeDelta(_)) = (self.op, &self.dtype.kind) {
                // timedelta64 mean: the timedelta sum divided by the count (NaT stays NaT).
                let nat = i64::MIN;
                let add = |a: i64, v: i64| if a == nat || v == nat { nat } else { a.wrapping_add(v) };
                let sums = kernels::fold(&self.view::<i64>(), g, 0, add);
                let out: Vec<i64> = sums
                    .into_iter()
                    .map(|s| if s == nat || g.len == 0 { nat } else { s / g.len as i64 })
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
                let sums = kernels::sum(&self.view::<f16>(), g, true, |h: f16| h.to_f32(), |v| v);
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
                        "AS with an integer or bool dtype applies to sum, prod and mean",
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
        let g = self.lanes;
        macro_rules! sums {
            ($t:ty) => {
                kernels::sum(&self.view::<$t>(), g, true, |v: $t| v as f64, |v| v)
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
        let g = self.lanes;
        let n = g.len as f64;
        let sums = kernels::sum(x, g, mean_buffered, |v| v, round);
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
        let sums = if g.inner == 1 && g.len > 0 {
            // One lane per result: the squares are summed as they are made.
            x.chunks_exact(g.len)
                .zip(&means)
                .map(|(lane, &m)| round(A::ZERO + kernels::pairwise(lane, &|v| deviation(v, m))))
                .collect()
        } else {
            let mut squares = Vec::with_capacity(x.len());
            for o in 0..g.outer {
                for l in 0..g.len {
                    let row = &x[g.at(o, l, 0)..][..g.inner];
                    let row_means = &means[o * g.inner..][..g.inner];
                    squares.extend(row.iter().zip(row_means).map(|(&v, &m)| deviation(v, m)));
                }
            }
            kernels::sum(&squares, g, false, |v| v, round)
        };
        self.finish_variance(sums, round, quotient)
    }

    /// The sums of squared deviations, divided by the count (and their root for std).
    fn finish_variance<A: Float>(
        &self,
        sums: Vec<A>,
        round: impl Fn(A) -> A + Copy,
        quotient: impl Fn(f64) -> A + Copy,
    ) -> Vec<A> {
        let n = self.lanes.len as f64;
        sums.into_iter()
            .map(|s| {
                let var = quotient(s.to_f64() / n);
                if self.op == Op::Std {
                    round(var.sqrt())
                } else {
                    var
                }
            })
            .collect()
    }

    fn complex_moments<A: Float + bytemuck::Pod>(&self, typestr: &str, real_typestr: &str) -> Result<NpArray> {
        let g = self.lanes;
        let n = g.len as f64;
        let f = self.view::<A>();
        let sums = kernels::sum_complex(&f, g, self.buffered);
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
        let mut squares = Vec::with_capacity(f.len() / 2);
        for o in 0..g.outer {
            for l in 0..g.len {
                let start = 2 * g.at(o, l, 0);
                let row = &f[start..][..2 * g.inner];
                for (pair, &(mr, mi)) in row.chunks_exact(2).zip(&means[o * g.inner..][..g.inner]) {
                    let (dr, di) = (pair[0] - mr, pair[1] - mi);
                    squares.push(dr * dr + di * di);
                }
            }
        }
        let sums = kernels::sum(&squares, g, false, |v| v, |v| v);
        let out = self.finish_variance(sums, |v| v, |q| A::from_f64(q));
        self.output(dtype(real_typestr), &out)
    }
}

/// Products: sequential in every case (NumPy's multiply loop has no pairwise form).
fn product<T: Copy, A: Float>(x: &[T], g: Lanes, conv: impl Fn(T) -> A, round: impl Fn(A) -> A) -> Vec<A> {
    if g.inner == 1 {
        // One inner loop per lane: float16 is rounded once, at its end.
        return kernels::fold(x, g, A::ONE, |a, v| a * conv(v))
            .into_iter()
            .map(round)
            .collect();
    }
    kernels::fold(x, g, A::ONE, |a, v| round(a * conv(v)))
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

/// NumPy's complex maximum/minimum: lexicographic, and a NaN in either part wins.
fn extreme_complex<A: Float + bytemuck::Pod>(x: &[[A; 2]], g: Lanes, max: bool) -> Vec<[A; 2]> {
    let nan = |c: [A; 2]| c[0].is_nan() || c[1].is_nan();
    let keep = |a: [A; 2], v: [A; 2]| {
        if max {
            (a[0] > v[0] && !nan(a) && !nan(v)) || (a[0] == v[0] && a[1] >= v[1])
        } else {
            (a[0] < v[0] && !nan(a) && !nan(v)) || (a[0] == v[0] && a[1] <= v[1])
        }
    };
    kernels::fold_first(x, g, |a, v| if keep(a, v) || nan(a) { a } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::test_array;

    fn run(a: &NpArray, op: &str, axis: Option<i64>) -> Result<NpArray> {
        reduce(a, Op::parse(op)?, axis, None)
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
}
