//! The Redis glue: module registration, command handlers and type callbacks.

#[cfg(not(any(test, feature = "system-alloc")))]
mod alloc;
mod command_docs;
mod commands;
mod compute_commands;
mod config;
#[cfg(feature = "debug-panic")]
mod debug_panic;
mod entry;
mod guard;
mod held;
mod memory;
mod prefetch;
mod read_key;
mod stats;
mod value_type;
mod write_key;

use redis_module::configuration::ConfigurationFlags;
use redis_module::{redis_module, Context, RedisString, Status};

use command_docs::{Arg, Choice, CommandDoc, KeyAccess, Keys};
pub use value_type::NP_TYPE;

/// Unit tests and standalone users of the rlib (fuzzers, benches) run without
/// a Redis server, so they keep the system allocator.
#[cfg(not(any(test, feature = "system-alloc")))]
mod allocator {
    pub type Alloc = super::alloc::Alloc;
    pub const ALLOC: Alloc = super::alloc::Alloc;
}
#[cfg(any(test, feature = "system-alloc"))]
mod allocator {
    pub type Alloc = std::alloc::System;
    pub const ALLOC: Alloc = std::alloc::System;
}

const KEY: Arg = Arg::Key(c"key");

/// Every command, declared once: its handler, Redis flags and key positions,
/// ACL categories, and what `COMMAND DOCS` says of it.
const DOCS: &[CommandDoc] = &[
    CommandDoc {
        name: c"np.set",
        summary: c"Stores a NumPy array given as .npy bytes (what np.save writes), with SET's options",
        complexity: c"O(N) where N is the size of the payload",
        arity: -3,
        access: KeyAccess::Overwrite,
        keys: Keys::One,
        args: &[
            KEY,
            Arg::String(c"npy"),
            Arg::OptionalOneOf(c"condition", &[Choice::Flag(c"NX"), Choice::Flag(c"XX")]),
            Arg::OptionalFlag(c"GET"),
            Arg::OptionalOneOf(
                c"expiration",
                &[
                    Choice::Integer(c"EX", c"seconds"),
                    Choice::Integer(c"PX", c"milliseconds"),
                    Choice::Integer(c"EXAT", c"unix-time-seconds"),
                    Choice::Integer(c"PXAT", c"unix-time-milliseconds"),
                    Choice::Flag(c"KEEPTTL"),
                ],
            ),
        ],
        acl: "write",
        flags: c"write deny-oom",
        entry: entry::lean_entry!(commands::np_set),
    },
    CommandDoc {
        name: c"np.append",
        summary: c"Appends .npy data along the growth axis (axis 0 in C order), creating the key if needed; MAXLEN keeps the last n entries",
        complexity: c"O(N) where N is the size of the appended payload (amortised)",
        arity: -3,
        access: KeyAccess::Insert,
        keys: Keys::One,
        args: &[
            KEY,
            Arg::String(c"npy"),
            Arg::OptionalOneOf(c"trim", &[Choice::Integer(c"MAXLEN", c"count")]),
        ],
        acl: "write",
        flags: c"write deny-oom",
        entry: entry::lean_entry!(commands::np_append),
    },
    CommandDoc {
        name: c"np.trim",
        summary: c"Keeps only the last n entries along the growth axis (axis 0 in C order)",
        complexity: c"O(1) amortised",
        arity: 3,
        access: KeyAccess::Update,
        keys: Keys::One,
        args: &[KEY, Arg::String(c"count")],
        acl: "write",
        flags: c"write",
        entry: entry::lean_entry!(commands::np_trim),
    },
    CommandDoc {
        name: c"np.reserve",
        summary: c"Makes room for the array to grow to length entries along the growth axis without reallocating",
        complexity: c"O(N) where N is the array's size when the buffer must move, O(1) otherwise",
        arity: 3,
        access: KeyAccess::Update,
        keys: Keys::One,
        args: &[KEY, Arg::String(c"length")],
        acl: "write",
        flags: c"write deny-oom",
        entry: entry::lean_entry!(commands::np_reserve),
    },
    CommandDoc {
        name: c"np.convert",
        summary: c"Turns a string holding .npy bytes (SET key <np.save bytes>) into an array in place, keeping its TTL",
        complexity: c"O(N) where N is the size of the string",
        arity: 2,
        access: KeyAccess::Update,
        keys: Keys::One,
        args: &[KEY],
        acl: "write",
        flags: c"write deny-oom",
        entry: entry::lean_entry!(commands::np_convert),
    },
    CommandDoc {
        name: c"np.get",
        summary: c"Returns the array, or arr[spec], as .npy bytes (byte-identical to np.save), optionally cast, or its elements",
        complexity: c"O(N) where N is the size in bytes of the array, or of the slice with SLICE",
        arity: -2,
        access: KeyAccess::Read,
        keys: Keys::One,
        args: &[
            KEY,
            Arg::OptionalToken(c"SLICE", c"spec"),
            Arg::OptionalToken(c"AS", c"dtype"),
            Arg::OptionalFlag(c"VALUES"),
            Arg::OptionalToken(c"MAXBYTES", c"bytes"),
        ],
        acl: "read",
        flags: c"readonly",
        entry: entry::lean_entry!(commands::np_get),
    },
    CommandDoc {
        name: c"np.setslice",
        summary: c"Assigns .npy data to arr[spec] in place (NumPy basic indexing and broadcasting, same dtype)",
        complexity: c"O(N) where N is the size in bytes of the slice",
        arity: 4,
        access: KeyAccess::Update,
        keys: Keys::One,
        args: &[KEY, Arg::String(c"spec"), Arg::String(c"npy")],
        acl: "write",
        flags: c"write deny-oom",
        entry: entry::lean_entry!(commands::np_setslice),
    },
    CommandDoc {
        name: c"np.shape",
        summary: c"Returns the array's shape",
        complexity: c"O(1)",
        arity: 2,
        access: KeyAccess::Read,
        keys: Keys::One,
        args: &[KEY],
        acl: "read fast",
        flags: c"readonly fast",
        entry: entry::lean_entry!(commands::np_shape),
    },
    CommandDoc {
        name: c"np.dtype",
        summary: c"Returns the array's dtype name as NumPy prints it",
        complexity: c"O(1)",
        arity: 2,
        access: KeyAccess::Read,
        keys: Keys::One,
        args: &[KEY],
        acl: "read fast",
        flags: c"readonly fast",
        entry: entry::lean_entry!(commands::np_dtype),
    },
    CommandDoc {
        name: c"np.size",
        summary: c"Returns the array's element count",
        complexity: c"O(1)",
        arity: 2,
        access: KeyAccess::Read,
        keys: Keys::One,
        args: &[KEY],
        acl: "read fast",
        flags: c"readonly fast",
        entry: entry::lean_entry!(commands::np_size),
    },
    CommandDoc {
        name: c"np.info",
        summary: c"Returns the array's metadata and memory use",
        complexity: c"O(1)",
        arity: 2,
        access: KeyAccess::Read,
        keys: Keys::One,
        args: &[KEY],
        acl: "read fast",
        flags: c"readonly fast",
        entry: entry::lean_entry!(commands::np_info),
    },
    CommandDoc {
        name: c"np.mget",
        summary: c"Returns the .npy bytes of every key, nil for missing keys and keys of other types",
        complexity: c"O(N) where N is the total size of the arrays returned",
        arity: -2,
        access: KeyAccess::Read,
        keys: Keys::All { step: 1 },
        args: &[Arg::Keys(c"key")],
        acl: "read",
        flags: c"readonly",
        entry: entry::lean_entry!(commands::np_mget),
    },
    CommandDoc {
        name: c"np.mset",
        summary: c"Stores several arrays atomically; validates every payload before writing any",
        complexity: c"O(N) where N is the total size of the payloads",
        arity: -3,
        access: KeyAccess::Overwrite,
        keys: Keys::All { step: 2 },
        args: &[Arg::KeyValuePairs(c"key", c"npy")],
        acl: "write",
        flags: c"write deny-oom",
        entry: entry::lean_entry!(commands::np_mset),
    },
    CommandDoc {
        name: c"np.reshape",
        summary: c"Gives the array a new shape (arr.reshape(shape), -1 inferred) and replies with it",
        complexity: c"O(1); O(N) for a Fortran-ordered array that NumPy would copy",
        arity: 3,
        access: KeyAccess::Update,
        keys: Keys::One,
        args: &[KEY, Arg::String(c"shape")],
        acl: "write",
        flags: c"write deny-oom",
        entry: entry::lean_entry!(compute_commands::np_reshape),
    },
    CommandDoc {
        name: c"np.reduce",
        summary: c"Returns arr[spec].op(axis, dtype) (sum, prod, mean, min, max, argmin, argmax, std, var, count_nonzero, any, all) as .npy bytes or values",
        complexity: c"O(N) where N is the size of the array, or of the slice with SLICE",
        arity: -3,
        access: KeyAccess::Read,
        keys: Keys::One,
        args: &[
            KEY,
            Arg::String(c"op"),
            Arg::OptionalToken(c"AXIS", c"axis"),
            Arg::OptionalToken(c"SLICE", c"spec"),
            Arg::OptionalToken(c"AS", c"dtype"),
            Arg::OptionalFlag(c"VALUES"),
        ],
        acl: "read",
        flags: c"readonly",
        entry: entry::lean_entry!(compute_commands::np_reduce),
    },
    CommandDoc {
        name: c"np.knn",
        summary: c"Returns the k rows of an (N, d) array nearest each query (exact; l2, ip or cosine) as .npy indices and distances, or values",
        complexity: c"O(N*d*Q) where N is the number of rows (or of rows selected with SLICE), d their length and Q the number of queries",
        arity: -5,
        access: KeyAccess::Read,
        keys: Keys::One,
        args: &[
            KEY,
            Arg::String(c"query"),
            Arg::IntegerToken(c"K", c"k"),
            Arg::OptionalToken(c"METRIC", c"metric"),
            Arg::OptionalToken(c"SLICE", c"spec"),
            Arg::OptionalFlag(c"VALUES"),
        ],
        acl: "read",
        flags: c"readonly",
        entry: entry::lean_entry!(compute_commands::np_knn),
    },
    CommandDoc {
        name: c"np.update",
        summary: c"arr[spec] op= value in place (add, sub, mul, div, min, max, and, or, xor) with NumPy's broadcasting and same_kind casting",
        complexity: c"O(N) where N is the size of the array, or of the slice with SLICE",
        arity: -4,
        access: KeyAccess::Update,
        keys: Keys::One,
        args: &[
            KEY,
            Arg::String(c"op"),
            Arg::String(c"npy"),
            Arg::OptionalToken(c"SLICE", c"spec"),
        ],
        acl: "write",
        flags: c"write deny-oom",
        entry: entry::lean_entry!(compute_commands::np_update),
    },
    CommandDoc {
        name: c"np.transpose",
        summary: c"Transposes the array in place (arr.T, the memory order flag flips) and replies with the new shape",
        complexity: c"O(1)",
        arity: 2,
        access: KeyAccess::Update,
        keys: Keys::One,
        args: &[KEY],
        acl: "write fast",
        flags: c"write fast",
        entry: entry::lean_entry!(compute_commands::np_transpose),
    },
];

fn init(ctx: &Context, _args: &[RedisString]) -> Status {
    guard::install_panic_hook();
    held::mark_main_thread();
    // HANDLE_IO_ERRORS: corrupt RDB/RESTORE payloads make the load helpers
    // return errors instead of aborting the server. HANDLE_REPL_ASYNC_LOAD:
    // loading a value touches no state shared with the live dataset (the
    // INFO counters it bumps are undone by `free` if the load is discarded),
    // so a replica with `repl-diskless-load swapdb` keeps serving its old
    // data during a full sync.
    ctx.set_module_options(
        redis_module::ModuleOptions::HANDLE_IO_ERRORS | redis_module::ModuleOptions::HANDLE_REPL_ASYNC_LOAD,
    );
    value_type::check_allocator_classes();
    value_type::log_defrag_support(ctx);
    #[cfg(feature = "debug-panic")]
    if debug_panic::register(ctx) == Status::Err {
        return Status::Err;
    }
    for doc in DOCS {
        if entry::create(ctx, doc.name, doc.entry, doc.flags, doc.keys.positions()) == Status::Err {
            return Status::Err;
        }
    }
    if command_docs::set_acl_categories(ctx, DOCS) == Status::Err {
        return Status::Err;
    }
    command_docs::register(ctx, DOCS)
}

redis_module! {
    name: "numpy",
    version: 1,
    allocator: (allocator::Alloc, allocator::ALLOC),
    data_types: [NP_TYPE],
    init: init,
    configurations: [
        i64: [
            ["max-array-bytes", &config::MAX_ARRAY_BYTES, config::DEFAULT_MAX_ARRAY_BYTES, 0, i64::MAX, ConfigurationFlags::DEFAULT, None],
        ],
        string: [],
        bool: [
            ["adopt-always", &config::ADOPT_ALWAYS, false, ConfigurationFlags::DEFAULT, None],
        ],
        enum: [],
        module_args_as_configuration: true,
    ]
}
