//! The Redis glue: module registration, command handlers and type callbacks.

mod commands;
mod guard;
mod value_type;

use redis_module::{redis_module, Context, RedisString, Status};

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

fn init(ctx: &Context, _args: &[RedisString]) -> Status {
    // Corrupt RDB/RESTORE payloads then make the load helpers return errors
    // instead of aborting the server.
    ctx.set_module_options(redis_module::ModuleOptions::HANDLE_IO_ERRORS);
    Status::Ok
}

redis_module! {
    name: "numpy",
    version: 1,
    allocator: (allocator::Alloc, allocator::ALLOC),
    data_types: [NP_TYPE],
    init: init,
    commands: [
        ["np.set", commands::np_set, "write deny-oom", 1, 1, 1, ""],
        ["np.get", commands::np_get, "readonly", 1, 1, 1, ""],
        ["np.shape", commands::np_shape, "readonly fast", 1, 1, 1, ""],
        ["np.dtype", commands::np_dtype, "readonly fast", 1, 1, 1, ""],
        ["np.size", commands::np_size, "readonly fast", 1, 1, 1, ""],
        ["np.info", commands::np_info, "readonly fast", 1, 1, 1, ""],
    ],
}
