"""Every target a row is judged against: one home, quoted by the tables and
filled into docs/benchmarks.md ("How to read these tables")."""

from __future__ import annotations

from .units import KB

# NP.GET / NP.SET time ÷ GET / SET time, by size (single client and 50 clients).
GETSET_SMALL = 1.15
GETSET_LARGE = 1.05
GETSET_LARGE_FROM = 64 * KB
# Zero-copy writes (table a2), NP.SET ÷ SET of the same bytes from 64 KiB up: end to end, and
# server time from ZEROCOPY_SERVER_FROM up; 50 clients writing 64 KiB (table b) use GETSET_LARGE.
ZEROCOPY_WALL = 1.03
ZEROCOPY_SERVER = 1.5
ZEROCOPY_SERVER_FROM = 1024 * KB
# The first NP.REDUCE after an adopting write (table a3): its extra time over a reduce of an owned
# array ÷ the copy an NP.SET that copies pays (at most one copy more).
FIRST_REDUCE_COPIES = 1.0
# NP.SHAPE / NP.INFO on a huge array ÷ on a 4-byte one.
METADATA = 1.1
# MEMORY USAGE ÷ nbytes from 1 MiB up; bytes over nbytes below.
MEMORY_LARGE = 1.01
MEMORY_SMALL_OVER = 256
# RDB file size and load time, arrays ÷ strings.
RDB_SIZE = 1.01
RELOAD = 1.1
# NP.APPEND time per call at the end of 100,000 appends ÷ early on, each over one 1.5× growth.
APPEND_GROWTH = 1.2
# One-row NP.GET SLICE, big matrix ÷ 1 MiB matrix.
SLICE = 1.2
# NP.GET SLICE of one contiguous run of rows ÷ GETRANGE of the same bytes (server and end to end).
SLICE_RUN = 1.2
# Rolling buffer of camera frames through the client (append with MAXLEN, read the last 30) ÷ a stream.
ROLLING = 1.0
# A batch of 256 float32[384] vectors through the client's mget ÷ raw MGET + np.frombuffer.
FEATURE_BATCH = 1.0
# A multi-GiB array through the client ÷ raw SET/GET of 256 MiB pieces (≥ 0.9× the throughput),
# and the client's peak RSS: at most the array plus this many chunks.
BIG_ROUND_TRIP = 1.11
BIG_PEAK_CHUNKS = 2
# A 1,000-row slice of a sharded array ÷ the same slice on one server.
SHARDED_SLICE = 2.0
# The client's get of a 1–16 KiB array ÷ GET + pickle.loads of the same array.
CLIENT_SMALL_GET = 1.0
# Pipelined NP.SET of float32[16] ÷ SET of its raw bytes: wall time, server time.
SMALL_SET_WALL = 1.3
SMALL_SET_SERVER = 3.0
# Memory per key: float32[16] at most the raw-bytes string + this; float32[384] at most this ratio.
SMALL_KEY_OVER = 48
SMALL_KEY_RATIO = 1.05
# MEMORY USAGE at 2^k bytes, 4 KiB to 256 MiB: at most ratio × nbytes + over.
MEMORY_USAGE_RATIO = 1.10
MEMORY_USAGE_OVER = 64
# NP.REDUCE over 100 MB of float32: NumPy's single-threaded time ÷ the server's (higher is better).
REDUCE_SPEED = 0.8
# NP.UPDATE add over 1M elements ÷ a memcpy of the same bytes.
UPDATE_VS_MEMCPY = 2.0

# NP.KNN on 100,000 × 384 float32, k = 10, server CPU time: one query ÷ faiss's flat index (and
# NumPy's X @ q), a batch of 64 ÷ NumPy's and faiss's single-thread GEMM paths, float16 and int8
# storage ÷ float32, and end to end through the client: times faster than NP.GET + NumPy.
KNN_ONE = 1.0
KNN_BATCH = 1.0
KNN_FLOAT16 = 0.6
KNN_INT8 = 0.35
KNN_END_TO_END = 20


def getset(nbytes: int) -> float:
    return GETSET_LARGE if nbytes >= GETSET_LARGE_FROM else GETSET_SMALL


def facts() -> dict[str, str]:
    """The targets as the doc quotes them."""
    return {
        "target-getset-large": f"{GETSET_LARGE}×",
        "target-getset-small": f"{GETSET_SMALL}×",
        "target-metadata": f"{METADATA}×",
        "target-zerocopy-wall": f"{ZEROCOPY_WALL}×",
        "target-zerocopy-server": f"{ZEROCOPY_SERVER}×",
        "target-memory-large": f"{MEMORY_LARGE}×",
        "target-memory-small": f"nbytes + {MEMORY_SMALL_OVER} B",
        "target-rdb-size": f"{RDB_SIZE}×",
        "target-reload": f"{RELOAD}×",
        "target-append": f"{APPEND_GROWTH}×",
        "target-slice": f"{SLICE}×",
        "target-slice-run": f"{SLICE_RUN}×",
        "target-rolling": f"{ROLLING}×",
        "target-feature": f"{FEATURE_BATCH}×",
        "target-big": f"{BIG_ROUND_TRIP}×",
        "target-sharded": f"{SHARDED_SLICE}×",
        "target-small-set-wall": f"{SMALL_SET_WALL}×",
        "target-client-small-get": f"{CLIENT_SMALL_GET}×",
        "target-small-set-server": f"{SMALL_SET_SERVER}×",
        "target-small-key": f"raw string + {SMALL_KEY_OVER} B",
        "target-small-key-384": f"{SMALL_KEY_RATIO}×",
        "target-memory-usage": f"{MEMORY_USAGE_RATIO} × nbytes + {MEMORY_USAGE_OVER} B",
        "target-reduce": f"{REDUCE_SPEED}×",
        "target-update": f"{UPDATE_VS_MEMCPY}×",
        "target-knn-one": f"{KNN_ONE}×",
        "target-knn-batch": f"{KNN_BATCH}×",
    }
