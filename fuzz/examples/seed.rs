//! Writes seed corpora for the fuzz targets (run by fuzz/seed.sh):
//! `seed <fixtures dir> <corpus root>` fills `<root>/npy_parse`, `<root>/rdb_decode`,
//! `<root>/descr_parse`, `<root>/slice_spec`, `<root>/options`, `<root>/cast_values` and
//! `<root>/array_ops` from the checked-in `np.save` outputs plus a few
//! synthesized arrays, RDB records (`rdb::encode_meta`) and descr texts.

use std::fs;
use std::path::{Path, PathBuf};

use redis_numpy::dtype::Dtype;
use redis_numpy::meta::Meta;
use redis_numpy::shape::Shape;
use redis_numpy::{npy, rdb, NpArray};

/// Seeds larger than this would raise libFuzzer's default `-max_len` and slow every run.
const MAX_SEED: usize = 16 << 10;

/// Descr texts beyond what the fixtures cover: every kind, order and time unit,
/// titles, padding, subarrays, nesting.
const EXTRA_DESCRS: &[&str] = &[
    "'|b1'",
    "'|i1'",
    "'<i2'",
    "'>i4'",
    "'=i8'",
    "'|u1'",
    "'>u2'",
    "'<u4'",
    "'<u8'",
    "'<f2'",
    "'>f4'",
    "'<f8'",
    "'<f12'",
    "'<f16'",
    "'<c8'",
    "'>c16'",
    "'<c24'",
    "'<c32'",
    "'|S0'",
    "'|S5'",
    "'<U0'",
    "'>U3'",
    "'|V0'",
    "'|V16'",
    "'<M8'",
    "'<M8[Y]'",
    "'>M8[M]'",
    "'<M8[W]'",
    "'<M8[D]'",
    "'<M8[h]'",
    "'<M8[m]'",
    "'<M8[s]'",
    "'<M8[ms]'",
    "'<M8[us]'",
    "'<M8[μs]'",
    "'<M8[ns]'",
    "'<M8[ps]'",
    "'<M8[fs]'",
    "'<M8[as]'",
    "'<m8[25s]'",
    "'>m8[7D]'",
    "'<m8'",
    "[('a', '<i4'), ('b', '<f8')]",
    "[('a', '<i4'), ('', '|V4'), ('b', [('x', '>f4'), ('y', '|S3')], (2, 3))]",
    "[(('title', 'x'), '<f4'), ('y', '<U2', 4)]",
    "[(\"it's\", '<i2'), ('\\x41\\u00e9', '|b1')]",
    "[('a', [('b', [('c', [('d', '<i8', (1, 2))])])])]",
    "[('a', '<f8', ())]",
    "[]",
    // Subarray formats, NumPy's own test_format case first.
    "[('c', ('<f8', (5,)), (2,))]",
    "[('c', ('<f8', (5,)))]",
    "[('c', (('<i2', (3,)), (5,)), (2,))]",
    "[('c', ([('a', '<i4')], (3,)), (2,))]",
    "[('c', ('<f8', ()), 2)]",
    // Titles, padding runs and names NumPy writes differently.
    "[(('t', 'a'), '<i4'), (('u', 'b'), '<f8'), ('c', '|u1')]",
    "[(('t', ''), '|V4')]",
    "[('', '|V0'), ('a', '<i4'), ('', '|V2'), ('', '|V3'), ('b', '<i4'), ('', '|V1', (3,))]",
    "[((\"t'\", '\\xa0'), '<i4'), ('\\u03bb\\u200b', '|u1')]",
];

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [fixtures, root] = args.as_slice() else {
        eprintln!("usage: seed <fixtures dir> <corpus root>");
        std::process::exit(2);
    };
    let dir = |name: &str| {
        let d = root.join(name);
        fs::create_dir_all(&d).expect("create corpus dir");
        d
    };
    let (npy_dir, rdb_dir, descr_dir) = (dir("npy_parse"), dir("rdb_decode"), dir("descr_parse"));
    let mut counts = [0usize; 3];

    let mut arrays: Vec<(String, NpArray)> = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(fixtures)
        .expect("fixtures dir")
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().is_none_or(|e| e != "npy") {
            continue;
        }
        let bytes = fs::read(&path).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let array = NpArray::from_npy(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if bytes.len() <= MAX_SEED {
            write(&npy_dir, &stem, &bytes, &mut counts[0]);
        } else {
            // Its container version (2.0) is covered by the small synthesized one below.
            eprintln!("seed: skipping {stem} ({} bytes) as an npy_parse seed", bytes.len());
        }
        arrays.push((stem, array));
    }

    // Synthesized arrays: every extra descr at a few shapes and orders.
    for (i, text) in EXTRA_DESCRS.iter().enumerate() {
        let dtype = Dtype::from_descr_text(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        for (j, (shape, fortran)) in [
            (&[][..], false),
            (&[2][..], false),
            (&[2, 0, 3][..], false),
            (&[2, 3][..], true),
        ]
        .into_iter()
        .enumerate()
        {
            let n = redis_numpy::shape::nbytes(shape, dtype.itemsize()).unwrap() as usize;
            if n > 4096 {
                continue;
            }
            let data: Vec<u8> = (0..n).map(|k| (k * 37 % 251) as u8).collect();
            let a = NpArray::from_parts(Meta::new(dtype.clone(), Shape::from_slice(shape), fortran), &data).unwrap();
            arrays.push((format!("synth_{i:02}_{j}"), a));
        }
    }

    for (name, array) in &arrays {
        let npy_bytes = array.npy_bytes();
        if name.starts_with("synth_") && npy_bytes.len() <= MAX_SEED {
            write(&npy_dir, name, &npy_bytes, &mut counts[0]);
        }
        // RDB record: encver, u32 LE meta length, meta, data (see fuzz_targets/rdb_decode.rs).
        let meta = rdb::encode_meta(array);
        let mut record = vec![rdb::ENCODING_VERSION as u8];
        record.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        record.extend_from_slice(&meta);
        record.extend_from_slice(array.data());
        if record.len() <= MAX_SEED {
            write(&rdb_dir, name, &record, &mut counts[1]);
            // Version 1 (one data string) must keep loading.
            if name.starts_with("synth_") {
                record[0] = 1;
                write(&rdb_dir, &format!("{name}_v1"), &record, &mut counts[1]);
            }
        }
        let descr = array.dtype().descr();
        if descr.len() <= MAX_SEED {
            write(&descr_dir, name, descr.as_bytes(), &mut counts[2]);
        }
    }

    // Format 2.0 (u32 header length) and 3.0 (UTF-8) containers in small sizes:
    // np.save only writes 2.0 for headers over 64 KiB.
    let small = Dtype::from_descr_text("[('a', '<i4'), ('λ', '<f8')]").unwrap();
    for (major, dtype) in [(2u8, Dtype::from_typestr("<f8").unwrap()), (3, small)] {
        let header = npy::write_header(&Meta::new(dtype.clone(), Shape::from_slice(&[3]), false));
        let text_start = if header[6] == 1 { 10 } else { 12 };
        let text = &header[text_start..];
        let mut out = npy::MAGIC.to_vec();
        out.extend_from_slice(&[major, 0]);
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(text);
        out.extend(std::iter::repeat_n(0u8, 3 * dtype.itemsize() as usize));
        NpArray::from_npy(&out).unwrap_or_else(|e| panic!("v{major} seed: {e}"));
        write(&npy_dir, &format!("version_{major}_0"), &out, &mut counts[0]);
    }

    // slice_spec: [shape bits, order, spec text...] (see fuzz_targets/slice_spec.rs).
    let slice_dir = dir("slice_spec");
    let mut slice_count = 0;
    let specs = [
        "",
        "()",
        "0",
        "-1",
        "1:3",
        "::-1",
        "::2, -1",
        "..., 0",
        ":, 3",
        "None, 1:",
        "1, ..., None",
        "5,",
        "[0, 2, 0]",
        "[-1], 1:",
        ":, [1, 1], ...",
        "0, None, [1, 0]",
        "[], [0]",
        "[1.5]",
    ];
    for (i, spec) in specs.iter().enumerate() {
        for (head, order) in [(0b0110_0110u8, 0u8), (0b1101_0111, 1), (0b0000_0001, 0)] {
            let mut input = vec![head, order];
            input.extend_from_slice(spec.as_bytes());
            write(
                &slice_dir,
                &format!("spec_{i:02}_{head:02x}_{order}"),
                &input,
                &mut slice_count,
            );
        }
    }

    // options: [clock, NUL-separated arguments] (see fuzz_targets/options.rs).
    let options_dir = dir("options");
    let arg_lists: &[&[&str]] = &[
        &[],
        &["NX", "GET", "EX", "10"],
        &["xx", "px", "1500", "GET"],
        &["EXAT", "1700000000", "NX"],
        &["PXAT", "1700000000000"],
        &["KEEPTTL", "GET"],
        &["EX", "10", "EX", "20"],
        &["MAXLEN", "0"],
        &["maxlen", "-1"],
        &["12"],
        &["AXIS", "-1", "SLICE", "0, [1, 2]", "AS", "float32", "VALUES"],
        &["npy", "SLICE", "..., ::2"],
        &["SLICE", "[0, -1]", "npy"],
    ];
    let mut options_count = 0;
    for (i, args) in arg_lists.iter().enumerate() {
        for clock in [0u8, 1] {
            let mut input = vec![clock];
            input.extend_from_slice(args.join("\0").as_bytes());
            write(
                &options_dir,
                &format!("args_{i:02}_{clock}"),
                &input,
                &mut options_count,
            );
        }
    }

    // cast_values: [source, target, dims, data...]; array_ops: [dtype, dims, flags, (op, arg)...].
    let cast_dir = dir("cast_values");
    let ops_dir = dir("array_ops");
    let (mut cast_count, mut ops_count) = (0, 0);
    for from in 0..21u8 {
        let input = [
            from,
            from.wrapping_mul(7),
            0b0110_1101,
            0x00,
            0x3c,
            0xff,
            0x7f,
            0x80,
            0x01,
        ];
        write(&cast_dir, &format!("cast_{from:02}"), &input, &mut cast_count);
    }
    for kind in 0..8u8 {
        for flags in [2u8, 3, 126, 127] {
            // Grow past the packed limit, trim back, overwrite, relabel, write, copy, reload.
            let ops = [
                0, 63, 0, 63, 1, 0, 2, 3, 7, 0, 7, 1, 3, 90, 4, 9, 5, 17, 6, 0, 2, 0, 0, 5,
            ];
            let mut input = vec![kind, 0b1001_0101, flags];
            input.extend_from_slice(&ops);
            write(&ops_dir, &format!("ops_{kind}_{flags:03}"), &input, &mut ops_count);
            // Adopt (NP.SET keeping the argument), then each way out of the adopted layout.
            let adopt = [
                8, 5, 5, 17, 8, 0, 0, 5, 8, 1, 2, 10, 8, 2, 4, 9, 8, 3, 6, 0, 7, 0, 8, 4, 3, 90, 8, 6, 7, 1,
            ];
            let mut input = vec![kind, 0b1001_0101, flags];
            input.extend_from_slice(&adopt);
            write(&ops_dir, &format!("adopt_{kind}_{flags:03}"), &input, &mut ops_count);
        }
    }

    println!("seed: {options_count} options, {cast_count} cast_values, {ops_count} array_ops inputs");
    println!(
        "seed: {} npy_parse, {} rdb_decode, {} descr_parse, {slice_count} slice_spec inputs under {}",
        counts[0],
        counts[1],
        counts[2],
        root.display()
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8], count: &mut usize) {
    fs::write(dir.join(name), bytes).expect("write seed");
    *count += 1;
}
