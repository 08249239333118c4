//! The Redis glue: module registration, command handlers and type callbacks.

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
mod stats;
mod value_type;
mod write_key;

use redis_module::configuration::ConfigurationFlags;
use redis_module::{redis_module, AclCategory, Context, RedisString, Status};

use command_docs::{Arg, Choice, CommandDoc, KeyAccess, Keys};
pub use value_type::NP_TYPE;

/// Unit tests and standalone users of the rlib (fuzzers, benches) run without
/// a Redis server, so they keep the system allocator.
#[cfg(not(any(test, feature = "system-alloc")))]
mod allocator {
    pub type Alloc = redis_module::alloc::RedisAlloc;
    pub const ALLOC: Alloc = redis_module::alloc::RedisAlloc;
}
#[cfg(any(test, feature = "system-alloc"))]
mod allocator {
    pub type Alloc = std::alloc::System;
    pub const ALLOC: Alloc = std::alloc::System;
}

const KEY: Arg = Arg::Key(c"key");

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
    #[cfg(feature = "debug-panic")]
    if debug_panic::register(ctx) == Status::Err {
        return Status::Err;
    }
    // The hottest commands skip redis-module's argument copy (see entry.rs).
    entry::lean_entry!(np_set_entry, commands::np_set);
    entry::lean_entry!(np_get_entry, commands::np_get);
    entry::lean_entry!(np_mget_entry, commands::np_mget);
    for (name, entry, flags, keys) in [
        (c"np.set", np_set_entry as entry::Entry, c"write deny-oom", (1, 1, 1)),
        (c"np.get", np_get_entry as entry::Entry, c"readonly", (1, 1, 1)),
        (c"np.mget", np_mget_entry as entry::Entry, c"readonly", (1, -1, 1)),
    ] {
        if entry::create(ctx, name, entry, flags, keys) == Status::Err {
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
    // Module ACL categories need Redis 7.4+; older servers log a warning and
    // the commands' categories are set in `init` (see command_docs.rs).
    acl_categories: ["numpy",],
    init: init,
    commands: [
        ["np.append", commands::np_append, "write deny-oom", 1, 1, 1, ""],
        ["np.trim", commands::np_trim, "write", 1, 1, 1, ""],
        ["np.reserve", commands::np_reserve, "write deny-oom", 1, 1, 1, ""],
        ["np.setslice", commands::np_setslice, "write deny-oom", 1, 1, 1, ""],
        ["np.reshape", compute_commands::np_reshape, "write deny-oom", 1, 1, 1, ""],
        ["np.reduce", compute_commands::np_reduce, "readonly", 1, 1, 1, ""],
        ["np.update", compute_commands::np_update, "write deny-oom", 1, 1, 1, ""],
        ["np.transpose", compute_commands::np_transpose, "write fast", 1, 1, 1, ""],
        ["np.shape", commands::np_shape, "readonly fast", 1, 1, 1, ""],
        ["np.dtype", commands::np_dtype, "readonly fast", 1, 1, 1, ""],
        ["np.size", commands::np_size, "readonly fast", 1, 1, 1, ""],
        ["np.info", commands::np_info, "readonly fast", 1, 1, 1, ""],
        ["np.mset", commands::np_mset, "write deny-oom", 1, -1, 2, ""],
    ],
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
