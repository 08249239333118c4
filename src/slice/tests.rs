use super::spec::NOT_AN_INDEX;
use super::*;
use crate::array::{test_array, NpArray};
use crate::dtype::Dtype;
use crate::error::Result;
use crate::meta::Meta;
use crate::npy::ParsedNpy;

fn sliced(array: &NpArray, spec: &str) -> Result<NpArray> {
    slice(array, &parse(spec)?)
}

/// `arr[items] = value`, the selection resolved as `NP.SETSLICE` resolves it.
fn assign(array: &mut NpArray, items: &[Item], value: &ParsedNpy) -> Result<()> {
    Selection::resolve(array, items)?.assign(array, value)
}

fn stored_run(array: &NpArray, items: &[Item]) -> Result<Option<StoredRun>> {
    Ok(Selection::resolve(array, items)?.stored_run(array.dtype()))
}

fn array(shape: &[u64], fortran_order: bool) -> NpArray {
    let dtype = Dtype::from_typestr("<i4").unwrap();
    let size = shape.iter().product::<u64>() as i32;
    let mut data = Vec::new();
    for i in 0..size {
        data.extend_from_slice(&i.to_le_bytes());
    }
    NpArray::from_parts(Meta::new(dtype, shape.iter().copied().collect(), fortran_order), &data).unwrap()
}

fn values(array: &NpArray) -> Vec<i32> {
    array
        .data()
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn parses_numpy_syntax() {
    use Item::*;
    let slice = |start, stop, step| Slice { start, stop, step };
    assert_eq!(parse("").unwrap(), vec![]);
    assert_eq!(parse(" 5, ").unwrap(), vec![Index(5)]);
    assert_eq!(parse("::2, -1").unwrap(), vec![slice(None, None, Some(2)), Index(-1)]);
    assert_eq!(
        parse("..., None, 1:").unwrap(),
        vec![Ellipsis, NewAxis, slice(Some(1), None, None)]
    );
    assert_eq!(parse("-3:+4:").unwrap(), vec![slice(Some(-3), Some(4), None)]);
    for bad in ["a", "1,,2", "1:2:3:4", "--1", "1.5", "...,...", "99999999999999999999"] {
        assert!(parse(bad).is_err(), "{bad}");
    }
    assert!(parse(&"1,".repeat(MAX_SPEC_LEN / 2 + 1)).is_err());
}

#[test]
fn parses_index_lists() {
    use Item::*;
    assert_eq!(parse("[3, 17, 99]").unwrap(), vec![List(vec![3, 17, 99])]);
    assert_eq!(
        parse("[3,-1] , 2:5").unwrap(),
        vec![
            List(vec![3, -1]),
            Slice {
                start: Some(2),
                stop: Some(5),
                step: None
            }
        ]
    );
    assert_eq!(parse(":, [0, 5],").unwrap()[1], List(vec![0, 5]));
    assert_eq!(parse("[ ]").unwrap(), vec![List(vec![])]);
    assert_eq!(parse("[5,]").unwrap(), vec![List(vec![5])]);
    let err = |spec: &str| parse(spec).unwrap_err().to_string();
    assert_eq!(err("[1.5]"), NOT_AN_INDEX);
    assert_eq!(err("[1, 2e3]"), NOT_AN_INDEX);
    assert!(err("[True, False]").starts_with("boolean index lists are not supported"));
    assert!(err("[[0, 1], [2, 3]]").starts_with("nested index lists are not supported"));
    assert!(err("[1, 2").ends_with("unbalanced '['"));
    assert!(err("1]").ends_with("unbalanced ']'"));
    assert!(err("[1,,2]").ends_with("empty index in a list"));
    assert!(err("[1]2").ends_with("\"[1]2\" is not an index list"));
    assert!(err("[x]").contains("\"x\" is not an integer"));
    let long = format!("[{}x]", "1, ".repeat(1000));
    assert!(err(&long).len() < 200, "a long spec is quoted by its start");
    assert!(parse(&format!("[{}]", "1,".repeat(100_000))).is_ok(), "a long list");
}

#[test]
fn lists_gather_like_numpy() {
    let a = array(&[3, 4], false);
    let rows = sliced(&a, "[2, 0, 2, -1]").unwrap();
    assert_eq!(rows.shape(), &[4, 4]);
    assert_eq!(values(&rows), [8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11, 8, 9, 10, 11]);
    // NumPy lays the gathered axis out outermost: a column gather of a
    // C-ordered matrix is Fortran-contiguous, and np.save says so.
    let cols = sliced(&a, ":, [3, 0]").unwrap();
    assert_eq!((cols.shape(), cols.saved_fortran()), (&[3u64, 2][..], true));
    assert_eq!(values(&cols), [3, 7, 11, 0, 4, 8]);
    let mixed = sliced(&a, "1, [0, 2]").unwrap();
    assert_eq!((mixed.shape(), values(&mixed)), (&[2u64][..], vec![4, 6]));
    let empty = sliced(&a, "[]").unwrap();
    assert_eq!((empty.shape(), empty.saved_fortran()), (&[0u64, 4][..], false));
    let pairs = sliced(&a, "[0, 2], [1]").unwrap();
    assert_eq!(values(&pairs), [1, 9]);

    // Fortran storage: a row gather keeps the rows' order of strides.
    let f = array(&[3, 4], true);
    let rows = sliced(&f, "[1]").unwrap();
    assert!(rows.saved_fortran() || rows.shape()[0] == 1);
    assert_eq!(values(&sliced(&f, "[1], 1:3").unwrap()), [4, 7]);
}

#[test]
fn the_gathered_axis_goes_where_numpy_puts_it() {
    let a = array(&[3, 4, 5], false);
    let shape = |spec: &str| sliced(&a, spec).unwrap().shape().to_vec();
    assert_eq!(shape("[0, 2]"), [2, 4, 5]);
    assert_eq!(shape(":, [0, 2]"), [3, 2, 5]);
    assert_eq!(shape(":, 1, [0, 2]"), [3, 2], "next to an integer: in place");
    assert_eq!(shape("1, :, [0, 2]"), [2, 4], "apart from the integer: first");
    assert_eq!(shape("[0, 2], None, 1"), [2, 1, 5]);
    assert_eq!(shape("[0, 2], ..., 1"), [2, 4]);
    assert_eq!(shape("::2, [1, 3]"), [2, 2, 5]);
    let b = array(&[3, 4, 5, 6], false);
    assert_eq!(
        sliced(&b, ":, [0, 2], ..., 1, :").unwrap().shape(),
        &[2, 3, 6],
        "an empty ... separates"
    );
    let f = sliced(&a, ":, 1, [0, 2]").unwrap();
    assert!(f.saved_fortran());
    assert_eq!(values(&f), [5, 25, 45, 7, 27, 47]);
}

#[test]
fn list_errors_use_numpy_wording() {
    let a = array(&[3, 4], false);
    let err = |spec| sliced(&a, spec).unwrap_err().to_string();
    assert_eq!(err("[1, 7]"), "index 7 is out of bounds for axis 0 with size 3");
    assert_eq!(err(":, [0, -5]"), "index -5 is out of bounds for axis 1 with size 4");
    assert_eq!(
        err("[7], 9"),
        "index 9 is out of bounds for axis 1 with size 4",
        "integers first"
    );
    assert_eq!(err("[7], ::0"), "slice step cannot be zero");
    assert_eq!(
        err("[0, 1], [0, 1, 2]"),
        "shape mismatch: indexing arrays could not be broadcast together with shapes (2,) (3,) "
    );
    assert_eq!(
        err("[0], [0], [0]"),
        "too many indices for array: array is 2-dimensional, but 3 were indexed"
    );
    assert_eq!(
        sliced(&a, "[7], []").unwrap().shape(),
        &[0],
        "nothing selected, nothing checked"
    );
    assert_eq!(err("[7], 0:0"), "index 7 is out of bounds for axis 0 with size 3");
}

#[test]
fn list_assignment_broadcasts_and_the_last_repeat_wins() {
    let mut a = array(&[3, 2], false);
    let payload = test_array("<i4", &[3, 1], false, bytemuck::cast_slice(&[7i32, 8, 9]))
        .npy_bytes()
        .to_vec();
    let value = crate::npy::parse(&payload).unwrap();
    assign(&mut a, &parse("[2, 0, 2]").unwrap(), &value).unwrap();
    assert_eq!(values(&a), [8, 8, 2, 3, 9, 9]);
    let err = assign(&mut a, &parse("[0, 1]").unwrap(), &value).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shape mismatch: value array of shape (3,1) could not be broadcast to indexing result of shape (2,2)"
    );
    let err = assign(&mut a, &parse("[0, 5]").unwrap(), &value).unwrap_err();
    assert_eq!(err.to_string(), "index 5 is out of bounds for axis 0 with size 3");
    assert_eq!(values(&a), [8, 8, 2, 3, 9, 9], "untouched on error");
}

#[test]
fn a_distinct_selection_is_the_items_cut_to_the_kept_positions() {
    let a = array(&[4, 3], false);
    let resolve = |spec: &str| Selection::resolve(&a, &parse(spec).unwrap()).unwrap();
    assert_eq!(resolve("[0, 1, 2]").distinct(), None, "no repeats");
    assert_eq!(resolve("1:3").distinct(), None, "no list");
    assert_eq!(resolve("[2, 2], [0, 1]").distinct(), None, "distinct elements");
    let cases = [
        ("[2, 0, 2, 1, 0]", "[2, 1, 0]", vec![2, 3, 4], 0),
        (":, [1, 1]", ":, [1]", vec![1], 1),
        ("[3, 1, 3], 0", "[1, 3], 0", vec![1, 2], 0),
        ("[1], [2, 0, 2]", "[1], [0, 2]", vec![1, 2], 0),
        ("[0, 0], [1, 1]", "[0], [1]", vec![1], 0),
    ];
    for (spec, cut, kept, axis) in cases {
        let whole = resolve(spec);
        let distinct = whole.distinct().unwrap();
        assert_eq!(distinct.selection, resolve(cut), "{spec}");
        assert_eq!((distinct.kept, distinct.axis), (kept, axis), "{spec}");
        assert_eq!(distinct.full_shape, whole.shape(), "{spec}");
    }
}

#[test]
fn one_selection_answers_every_question() {
    let a = array(&[10, 4], false);
    let rows = Selection::resolve(&a, &parse("2:5").unwrap()).unwrap();
    assert_eq!(rows.nbytes(), Ok(48));
    assert_eq!(rows.stored_run(a.dtype()).unwrap().bytes, 32..80);
    assert_eq!(values(&rows.build(&a).unwrap()), (8..20).collect::<Vec<_>>());
    // A contiguous copy of the same array is answered for as well.
    let copy = NpArray::from_parts(Meta::new(a.dtype().clone(), a.shape().into(), false), a.data()).unwrap();
    assert_eq!(rows.build(&copy).unwrap().data(), rows.build(&a).unwrap().data());
    let repeated = Selection::resolve(&a, &parse("[1, 1, 1]").unwrap()).unwrap();
    assert_eq!(repeated.nbytes(), Ok(48), "repeats count in the result's size");
    assert_eq!(repeated.stored_run(a.dtype()), None);
    let element = Selection::resolve(&a, &parse("1, 2").unwrap()).unwrap();
    assert_eq!((element.nbytes(), element.stored_run(a.dtype())), (Ok(4), None));
    assert_eq!(element.build(&a).unwrap().shape(), &[] as &[u64]);
}

#[test]
fn python_slice_semantics() {
    assert_eq!(resolve_slice(None, None, Some(-1), 5).unwrap(), (4, -1, 5));
    assert_eq!(resolve_slice(Some(-100), Some(100), None, 5).unwrap(), (0, 1, 5));
    assert_eq!(resolve_slice(Some(3), Some(1), None, 5).unwrap().2, 0);
    assert_eq!(resolve_slice(Some(1), None, Some(3), 8).unwrap(), (1, 3, 3));
    assert!(resolve_slice(None, None, Some(0), 5).is_err());
}

#[test]
fn rows_columns_and_steps_in_c_order() {
    let a = array(&[3, 4], false);
    let row = sliced(&a, "1").unwrap();
    assert_eq!((row.shape(), values(&row)), (&[4u64][..], vec![4, 5, 6, 7]));
    let col = sliced(&a, ":, -1").unwrap();
    assert_eq!(values(&col), vec![3, 7, 11]);
    let rev = sliced(&a, "::-2, 1::2").unwrap();
    assert_eq!((rev.shape(), values(&rev)), (&[2u64, 2][..], vec![9, 11, 1, 3]));
    assert_eq!(values(&sliced(&a, "2, 3").unwrap()), vec![11]);
    assert_eq!(sliced(&a, "None, ..., None").unwrap().shape(), &[1, 3, 4, 1]);
    assert_eq!(sliced(&a, "5:").unwrap().shape(), &[0, 4]);
}

#[test]
fn fortran_views_keep_fortran_order_like_np_save() {
    // Stored [[0, 2, 4], [1, 3, 5]] in Fortran order.
    let a = array(&[2, 3], true);
    let all = sliced(&a, "...").unwrap();
    assert!(all.saved_fortran());
    assert_eq!(values(&all), vec![0, 1, 2, 3, 4, 5]);
    let cols = sliced(&a, ":, 1:").unwrap();
    assert!(cols.saved_fortran(), "F-contiguous column block");
    assert_eq!(values(&cols), vec![2, 3, 4, 5]);
    let strided = sliced(&a, ":, ::2").unwrap();
    assert!(!strided.saved_fortran(), "non-contiguous views are saved in C order");
    assert_eq!(values(&strided), vec![0, 4, 1, 5]);
    let row = sliced(&a, "1").unwrap();
    assert!(!row.saved_fortran());
    assert_eq!(values(&row), vec![1, 3, 5]);
}

#[test]
fn errors_use_numpy_wording() {
    let a = array(&[3, 4], false);
    let err = |spec| sliced(&a, spec).unwrap_err().to_string();
    assert_eq!(err("3"), "index 3 is out of bounds for axis 0 with size 3");
    assert_eq!(err(":, -5"), "index -5 is out of bounds for axis 1 with size 4");
    assert_eq!(
        err("0, 0, 0"),
        "too many indices for array: array is 2-dimensional, but 3 were indexed"
    );
    assert_eq!(err("::0"), "slice step cannot be zero");
    let deep = "None, ".repeat(63);
    assert!(err(&deep).contains("the limit is 64"));
}

#[test]
fn scalars_become_native_and_trimmed() {
    let be = test_array(">i2", &[2], false, &[0, 1, 0, 2]);
    let item = sliced(&be, "1").unwrap();
    assert_eq!((item.dtype().descr(), item.data()), ("'<i2'".to_owned(), &[2u8, 0][..]));
    let zero_d = sliced(&be, "1, ...").unwrap();
    assert_eq!(zero_d.dtype().descr(), "'>i2'", "an Ellipsis keeps a 0-d array");
    let s = test_array("|S4", &[2], false, b"ab\0\0\0\0\0\0");
    assert_eq!(sliced(&s, "0").unwrap().dtype().descr(), "'|S2'");
    assert_eq!(sliced(&s, "1").unwrap().dtype().descr(), "'|S1'");
}

#[test]
fn a_sequence_into_one_element_follows_numpy() {
    let write = |array: &mut NpArray, spec: &str, value: &NpArray| {
        let payload = value.npy_bytes().to_vec();
        assign(array, &parse(spec).unwrap(), &crate::npy::parse(&payload).unwrap())
    };
    let mut a = array(&[3], false);
    let five = test_array("<i4", &[1], false, &5i32.to_le_bytes());
    let err = write(&mut a, "2", &five).unwrap_err();
    assert_eq!(err.to_string(), "setting an array element with a sequence.");
    assert_eq!(values(&a), [0, 1, 2], "untouched on error");
    write(&mut a, "2, ...", &five).unwrap();
    write(&mut a, "1:2", &five).unwrap();
    assert_eq!(values(&a), [0, 5, 5], "a view broadcasts the value");

    let mut flags = test_array("|b1", &[2], false, &[0, 0]);
    write(&mut flags, "1", &test_array("|b1", &[1, 1], false, &[1])).unwrap();
    assert_eq!(flags.data(), &[0, 1], "a one-element bool array is its truth value");
    let err = write(&mut flags, "1", &test_array("|b1", &[2], false, &[1, 1])).unwrap_err();
    assert_eq!(err.to_string(), "setting an array element with a sequence.");

    let mut c = test_array("<c8", &[2], false, &[0; 16]);
    let err = write(&mut c, "0", &test_array("<c8", &[1], false, &[1; 8])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "only 0-dimensional arrays can be converted to Python scalars"
    );
    let mut s = test_array("|S2", &[2], false, b"abcd");
    let err = write(&mut s, "0", &test_array("|S2", &[1], false, b"xy")).unwrap_err();
    assert_eq!(err.to_string(), "setting an array element with a sequence");
    let mut t = test_array("<m8[s]", &[1], false, &[0; 8]);
    let err = write(&mut t, "0", &test_array("<m8[s]", &[1], false, &[1; 8])).unwrap_err();
    assert_eq!(err.to_string(), "Could not convert object to NumPy timedelta");

    // Raw bytes: the value's buffer, cut or zero-padded to one item.
    let mut v = test_array("|V2", &[2], false, &[9; 4]);
    write(&mut v, "0", &test_array("|V2", &[2], false, &[1, 2, 3, 4])).unwrap();
    write(&mut v, "1", &test_array("|V2", &[0], false, &[])).unwrap();
    assert_eq!(v.data(), &[1, 2, 0, 0]);
    let err = write(&mut v, "0", &test_array("|V2", &[2, 2], true, &[0; 8])).unwrap_err();
    assert_eq!(err.to_string(), "ndarray is not C-contiguous");

    let mut zero_d = test_array("<i4", &[], false, &[0; 4]);
    assert!(write(&mut zero_d, "()", &five).is_err());
    write(&mut zero_d, "...", &five).unwrap();
    assert_eq!(values(&zero_d), [5]);
}

#[test]
fn assignment_broadcasts_and_checks() {
    let mut a = array(&[2, 3], true);
    let payload = test_array("<i4", &[], false, &9i32.to_le_bytes()).npy_bytes().to_vec();
    let value = crate::npy::parse(&payload).unwrap();
    assign(&mut a, &parse(":, 1").unwrap(), &value).unwrap();
    assert_eq!(values(&a), vec![0, 1, 9, 9, 4, 5]);
    assert!(assign(&mut a, &parse("5").unwrap(), &value).is_err());
    assert_eq!(values(&a), vec![0, 1, 9, 9, 4, 5], "untouched on error");
}

#[test]
fn row_ranges_and_fortran_columns_are_stored_runs() {
    let run = |a: &NpArray, spec: &str| stored_run(a, &parse(spec).unwrap()).unwrap();
    let c = array(&[10, 4], false);
    let r = run(&c, "3:7").unwrap();
    assert_eq!(
        (r.meta.shape(), r.meta.saved_fortran(), r.bytes),
        (&[4u64, 4][..], false, 48..112)
    );
    assert_eq!(run(&c, "-1:").unwrap().bytes, 144..160);
    assert_eq!(run(&c, "2").unwrap().bytes, 32..48);
    assert_eq!(run(&c, "None, 1:3, ...").unwrap().meta.shape(), &[1, 2, 4]);
    assert_eq!(run(&c, "").unwrap().bytes, 0..160);
    for not_a_run in ["::2", ":, 1", "3:3", "[1, 2]", "1, 2", "::-1"] {
        assert_eq!(run(&c, not_a_run), None, "{not_a_run}");
    }
    let f = array(&[4, 10], true);
    let r = run(&f, ":, 3:7").unwrap();
    assert_eq!(
        (r.meta.shape(), r.meta.saved_fortran(), r.bytes),
        (&[4u64, 4][..], true, 48..112)
    );
    // One column of a Fortran array is 1-d: saved in C order, same bytes.
    assert!(!run(&f, ":, 5").unwrap().meta.saved_fortran());
}

#[test]
fn header_in_place_puts_the_bytes_back() {
    let mut block: Vec<u8> = (0..32).collect();
    {
        let npy = HeaderInPlace::new(&mut block, 10..20, b"HEAD").unwrap();
        assert_eq!(npy.bytes(), b"HEAD\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13");
    }
    assert_eq!(block, (0..32).collect::<Vec<u8>>());
    assert!(HeaderInPlace::new(&mut block, 3..20, b"HEAD").is_none(), "no room");
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _npy = HeaderInPlace::new(&mut block, 4..8, b"HEAD").unwrap();
        panic!("while replying");
    }));
    assert!(unwound.is_err());
    assert_eq!(block, (0..32).collect::<Vec<u8>>(), "restored on unwinding");
}

fn spec_item() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let bound = proptest::option::of(-6i64..7);
    prop_oneof![
        (-5i64..5).prop_map(|i| i.to_string()),
        (
            bound.clone(),
            bound,
            proptest::option::of(prop_oneof![-2i64..0, 1i64..3])
        )
            .prop_map(|(a, b, c)| {
                let f = |x: Option<i64>| x.map_or(String::new(), |v| v.to_string());
                match c {
                    Some(step) => format!("{}:{}:{step}", f(a), f(b)),
                    None => format!("{}:{}", f(a), f(b)),
                }
            }),
        Just(":".to_owned()),
        Just("...".to_owned()),
        Just("None".to_owned()),
    ]
}

proptest::proptest! {
    /// Whenever a slice is a stored run, the run's bytes, shape and order
    /// are exactly what the slice builds.
    #[test]
    fn stored_runs_are_what_the_slice_builds(
        shape in proptest::collection::vec(0u64..5, 0..4),
        fortran_order in proptest::bool::ANY,
        items in proptest::collection::vec(spec_item(), 0..4),
    ) {
        let a = array(&shape, fortran_order);
        let spec = items.join(", ");
        let Ok(items) = parse(&spec) else { return Ok(()) };
        match (slice(&a, &items), stored_run(&a, &items)) {
            (Ok(built), Ok(Some(run))) => {
                proptest::prop_assert_eq!(&*built.meta(), &run.meta);
                proptest::prop_assert_eq!(built.data(), &a.data()[run.bytes]);
            }
            (Ok(_), Ok(None)) => {}
            (Err(e), Err(f)) => proptest::prop_assert_eq!(e.to_string(), f.to_string()),
            (built, run) => proptest::prop_assert!(false, "{spec}: {built:?} vs {run:?}"),
        }
    }
}
