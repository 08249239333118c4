//! Criterion benchmarks of the pure codec (no Redis): `.npy` parsing, header
//! synthesis, building the stored value, RDB encode/decode, append and cast.
//!
//! Run with `cargo bench --features system-alloc --bench codec` (the feature
//! swaps Redis's allocator for the system one so the rlib links outside Redis).
//! Add `-- --quick` for a short run.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use redis_numpy::dtype::Dtype;
use redis_numpy::meta::Meta;
use redis_numpy::shape::Shape;
use redis_numpy::{convert, npy, rdb, NpArray};

/// Data sizes in bytes: 64 B to 16 MiB, powers of 16.
const SIZES: [usize; 6] = [64, 1 << 10, 16 << 10, 256 << 10, 4 << 20, 16 << 20];

fn float32_array(nbytes: usize) -> NpArray {
    let data: Vec<u8> = (0..nbytes).map(|i| (i * 31 % 251) as u8).collect();
    let shape = Shape::from_slice(&[(nbytes / 4) as u64]);
    NpArray::from_parts(Meta::new(Dtype::from_typestr("<f4").unwrap(), shape, false), &data).unwrap()
}

fn label(nbytes: usize) -> String {
    match nbytes {
        n if n >= 1 << 20 => format!("{}MiB", n >> 20),
        n if n >= 1 << 10 => format!("{}KiB", n >> 10),
        n => format!("{n}B"),
    }
}

fn bench_parse(c: &mut Criterion) {
    // Parsing validates the header and checks the data length: O(1) in the data size.
    let mut group = c.benchmark_group("npy_parse");
    for &n in &SIZES {
        let npy_bytes = float32_array(n).npy_bytes().to_vec();
        group.bench_with_input(BenchmarkId::from_parameter(label(n)), &npy_bytes, |b, bytes| {
            b.iter(|| npy::parse(black_box(bytes)).unwrap().data.len())
        });
    }
    group.finish();
}

fn bench_from_npy(c: &mut Criterion) {
    let mut group = c.benchmark_group("from_npy");
    for &n in &SIZES {
        let npy_bytes = float32_array(n).npy_bytes().to_vec();
        group.throughput(Throughput::Bytes(npy_bytes.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(label(n)), &npy_bytes, |b, bytes| {
            b.iter(|| NpArray::from_npy(black_box(bytes)).unwrap())
        });
    }
    group.finish();
}

fn bench_headers(c: &mut Criterion) {
    let mut group = c.benchmark_group("header");
    let f4 = Dtype::from_typestr("<f4").unwrap();
    let matrix = Meta::new(f4, Shape::from_slice(&[1000, 384]), false);
    group.bench_function("write_header_2d", |b| b.iter(|| npy::write_header(black_box(&matrix))));
    let record = Dtype::from_descr_text("[('a', '<i4'), ('b', [('x', '>f4')], (2, 3)), ('c', '<U8')]").unwrap();
    let records = Meta::new(record.clone(), Shape::from_slice(&[10]), false);
    group.bench_function("write_header_record", |b| {
        b.iter(|| npy::write_header(black_box(&records)))
    });
    let header = npy::write_header(&Meta::new(record, Shape::from_slice(&[0]), false));
    group.bench_function("parse_header_record", |b| {
        b.iter(|| npy::parse(black_box(&header)).unwrap().meta.ndim())
    });
    group.finish();
}

fn bench_rdb(c: &mut Criterion) {
    let mut group = c.benchmark_group("rdb");
    let array = float32_array(64);
    group.bench_function("encode_meta", |b| b.iter(|| rdb::encode_meta(black_box(&array))));
    for &n in &SIZES {
        let array = float32_array(n);
        let meta = rdb::encode_meta(&array);
        group.throughput(Throughput::Bytes(n as u64));
        group.bench_with_input(BenchmarkId::new("decode", label(n)), &array, |b, a| {
            b.iter(|| rdb::decode(rdb::ENCODING_VERSION, black_box(&meta), black_box(a.data())).unwrap())
        });
    }
    group.finish();
}

fn bench_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    let row = float32_array(512); // 128 float32, one row
    let rows = row.npy_bytes().to_vec();
    let empty = NpArray::from_parts(
        Meta::new(Dtype::from_typestr("<f4").unwrap(), Shape::from_slice(&[0, 128]), false),
        &[],
    )
    .unwrap();
    group.throughput(Throughput::Bytes(512 * 1000));
    group.bench_function("1000_rows_of_128_f4", |b| {
        b.iter(|| {
            let mut a = empty.clone();
            for _ in 0..1000 {
                a.append(&npy::parse(black_box(&rows)).unwrap()).unwrap();
            }
            a.nbytes()
        })
    });
    group.finish();
}

fn bench_cast(c: &mut Criterion) {
    let mut group = c.benchmark_group("cast_f4_to_f8");
    let f8 = convert::parse_target("float64").unwrap();
    for &n in &SIZES[..5] {
        let array = float32_array(n);
        group.throughput(Throughput::Bytes(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(label(n)), &array, |b, a| {
            b.iter(|| convert::cast(black_box(a), &f8).unwrap())
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_parse,
    bench_from_npy,
    bench_headers,
    bench_rdb,
    bench_append,
    bench_cast
);
criterion_main!(benches);
