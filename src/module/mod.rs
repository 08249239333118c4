//! The Redis glue: module registration, command handlers and type callbacks.

mod command_docs;
mod commands;
mod compute_commands;
mod config;
#[cfg(feature = "debug-panic")]
mod debug_panic;
mod guard;
mod stats;
mod value_type;

use redis_module::configuration::ConfigurationFlags;
use redis_module::{redis_module, AclCategory, Context, RedisString, Status};

use command_docs::{Arg, CommandDoc, KeyAccess};
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
        summary: c"Stores a NumPy array given as .npy bytes (what np.save writes)",
        complexity: c"O(N) where N is the size of the payload",
        arity: 3,
        access: KeyAccess::Overwrite,
        args: &[KEY, Arg::String(c"npy")],
    },
    CommandDoc {
        name: c"np.append",
        summary: c"Appends .npy data along the growth axis (axis 0 in C order), creating the key if needed",
        complexity: c"O(N) where N is the size of the appended payload (amortised)",
        arity: 3,
        access: KeyAccess::Insert,
        args: &[KEY, Arg::String(c"npy")],
    },
    CommandDoc {
        name: c"np.get",
        summary: c"Returns the array, or arr[spec], as .npy bytes (byte-identical to np.save), optionally cast, or its elements",
        complexity: c"O(N) where N is the size in bytes of the array, or of the slice with SLICE",
        arity: -2,
        access: KeyAccess::Read,
        args: &[
            KEY,
            Arg::OptionalToken(c"SLICE", c"spec"),
            Arg::OptionalToken(c"AS", c"dtype"),
            Arg::OptionalFlag(c"VALUES"),
        ],
    },
    CommandDoc {
        name: c"np.setslice",
        summary: c"Assigns .npy data to arr[spec] in place (NumPy basic indexing and broadcasting, same dtype)",
        complexity: c"O(N) where N is the size in bytes of the slice",
        arity: 4,
        access: KeyAccess::Update,
        args: &[KEY, Arg::String(c"spec"), Arg::String(c"npy")],
    },
    CommandDoc {
        name: c"np.shape",
        summary: c"Returns the array's shape",
        complexity: c"O(1)",
        arity: 2,
        access: KeyAccess::Read,
        args: &[KEY],
    },
    CommandDoc {
        name: c"np.dtype",
        summary: c"Returns the array's dtype name as NumPy prints it",
        complexity: c"O(1)",
        arity: 2,
        access: KeyAccess::Read,
        args: &[KEY],
    },
    CommandDoc {
        name: c"np.size",
        summary: c"Returns the array's element count",
        complexity: c"O(1)",
        arity: 2,
        access: KeyAccess::Read,
        args: &[KEY],
    },
    CommandDoc {
        name: c"np.info",
        summary: c"Returns the array's metadata and memory use",
        complexity: c"O(1)",
        arity: 2,
        access: KeyAccess::Read,
        args: &[KEY],
    },
    CommandDoc {
        name: c"np.reshape",
        summary: c"Gives the array a new shape (arr.reshape(shape), -1 inferred) and replies with it",
        complexity: c"O(1); O(N) for a Fortran-ordered array that NumPy would copy",
        arity: 3,
        access: KeyAccess::Update,
        args: &[KEY, Arg::String(c"shape")],
    },
    CommandDoc {
        name: c"np.reduce",
        summary: c"Returns arr[spec].op(axis, dtype) (sum, prod, mean, min, max, argmin, argmax, std, var, count_nonzero, any, all) as .npy bytes or values",
        complexity: c"O(N) where N is the size of the array, or of the slice with SLICE",
        arity: -3,
        access: KeyAccess::Read,
        args: &[
            KEY,
            Arg::String(c"op"),
            Arg::OptionalToken(c"AXIS", c"axis"),
            Arg::OptionalToken(c"SLICE", c"spec"),
            Arg::OptionalToken(c"AS", c"dtype"),
            Arg::OptionalFlag(c"VALUES"),
        ],
    },
    CommandDoc {
        name: c"np.update",
        summary: c"arr[spec] op= value in place (add, sub, mul, div, min, max, and, or, xor) with NumPy's broadcasting and same_kind casting",
        complexity: c"O(N) where N is the size of the array, or of the slice with SLICE",
        arity: -4,
        access: KeyAccess::Update,
        args: &[
            KEY,
            Arg::String(c"op"),
            Arg::String(c"npy"),
            Arg::OptionalToken(c"SLICE", c"spec"),
        ],
    },
    CommandDoc {
        name: c"np.transpose",
        summary: c"Transposes the array in place (arr.T, the memory order flag flips) and replies with the new shape",
        complexity: c"O(1)",
        arity: 2,
        access: KeyAccess::Update,
        args: &[KEY],
    },
];

fn init(ctx: &Context, _args: &[RedisString]) -> Status {
    // Corrupt RDB/RESTORE payloads then make the load helpers return errors
    // instead of aborting the server.
    ctx.set_module_options(redis_module::ModuleOptions::HANDLE_IO_ERRORS);
    #[cfg(feature = "debug-panic")]
    if debug_panic::register(ctx) == Status::Err {
        return Status::Err;
    }
    command_docs::register(ctx, DOCS)
}

redis_module! {
    name: "numpy",
    version: 1,
    allocator: (allocator::Alloc, allocator::ALLOC),
    data_types: [NP_TYPE],
    // ACL categories need Redis 7.2+; on 7.0 they are skipped (see docs/operations.md).
    acl_categories: ["numpy",],
    init: init,
    commands: [
        ["np.set", commands::np_set, "write deny-oom", 1, 1, 1, "", "write numpy"],
        ["np.append", commands::np_append, "write deny-oom", 1, 1, 1, "", "write numpy"],
        ["np.get", commands::np_get, "readonly", 1, 1, 1, "", "read numpy"],
        ["np.setslice", commands::np_setslice, "write deny-oom", 1, 1, 1, "", "write numpy"],
        ["np.reshape", compute_commands::np_reshape, "write", 1, 1, 1, "", "write numpy"],
        ["np.reduce", compute_commands::np_reduce, "readonly", 1, 1, 1, "", "read numpy"],
        ["np.update", compute_commands::np_update, "write deny-oom", 1, 1, 1, "", "write numpy"],
        ["np.transpose", compute_commands::np_transpose, "write fast", 1, 1, 1, "", "write numpy"],
        ["np.shape", commands::np_shape, "readonly fast", 1, 1, 1, "", "read fast numpy"],
        ["np.dtype", commands::np_dtype, "readonly fast", 1, 1, 1, "", "read fast numpy"],
        ["np.size", commands::np_size, "readonly fast", 1, 1, 1, "", "read fast numpy"],
        ["np.info", commands::np_info, "readonly fast", 1, 1, 1, "", "read fast numpy"],
    ],
    configurations: [
        i64: [
            ["max-array-bytes", &config::MAX_ARRAY_BYTES, config::DEFAULT_MAX_ARRAY_BYTES, 0, i64::MAX, ConfigurationFlags::DEFAULT, None],
        ],
        string: [],
        bool: [],
        enum: [],
        module_args_as_configuration: true,
    ]
}
