//! `COMMAND DOCS` / `COMMAND INFO` metadata (summary, complexity, arguments,
//! key specs with access flags) via `RedisModule_SetCommandInfo`, which Redis
//! copies; the structs below only need to live for the call.

use std::ffi::{c_int, CStr};
use std::ptr;

use redis_module::{raw, Context, Status};

pub const SINCE: &CStr = c"0.1.0";

#[derive(Clone, Copy)]
pub enum Arg {
    Key(&'static CStr),
    String(&'static CStr),
    /// An optional `TOKEN value` pair, e.g. `SLICE spec`.
    OptionalToken(&'static CStr, &'static CStr),
    /// An optional flag without a value, e.g. `VALUES`.
    OptionalFlag(&'static CStr),
}

/// How a command touches its key, for the key spec's flags (as Redis's own
/// commands declare them: SET is OW update, APPEND is RW insert, GET is RO access).
#[derive(Clone, Copy)]
pub enum KeyAccess {
    Read,
    /// Replaces the value without reading it.
    Overwrite,
    /// Reads the value and adds to it, or creates it.
    Insert,
    /// Reads the value and changes part of it.
    Update,
}

pub struct CommandDoc {
    pub name: &'static CStr,
    pub summary: &'static CStr,
    pub complexity: &'static CStr,
    /// Redis arity: positive = exact, negative = at least.
    pub arity: c_int,
    pub access: KeyAccess,
    pub args: &'static [Arg],
}

/// Registers the docs of each command. Failures are logged, not fatal: the
/// commands work without their docs.
pub fn register(ctx: &Context, docs: &[CommandDoc]) -> Status {
    // SAFETY: the API pointers are written once by RedisModule_Init, before OnLoad runs this.
    let api = unsafe { (raw::RedisModule_GetCommand, raw::RedisModule_SetCommandInfo) };
    let (Some(get_command), Some(set_info)) = api else {
        ctx.log_notice("this Redis has no RedisModule_SetCommandInfo; COMMAND DOCS stays empty");
        return Status::Ok;
    };
    let version = raw::RedisModuleCommandInfoVersion {
        version: 1,
        sizeof_historyentry: std::mem::size_of::<raw::RedisModuleCommandHistoryEntry>(),
        sizeof_keyspec: std::mem::size_of::<raw::RedisModuleCommandKeySpec>(),
        sizeof_arg: std::mem::size_of::<raw::RedisModuleCommandArg>(),
    };
    for doc in docs {
        let flags = match doc.access {
            KeyAccess::Read => raw::REDISMODULE_CMD_KEY_RO | raw::REDISMODULE_CMD_KEY_ACCESS,
            KeyAccess::Overwrite => raw::REDISMODULE_CMD_KEY_OW | raw::REDISMODULE_CMD_KEY_UPDATE,
            KeyAccess::Insert => raw::REDISMODULE_CMD_KEY_RW | raw::REDISMODULE_CMD_KEY_INSERT,
            KeyAccess::Update => raw::REDISMODULE_CMD_KEY_RW | raw::REDISMODULE_CMD_KEY_UPDATE,
        };
        // SAFETY: all-zero is the documented terminator/"unset" value of these C structs.
        let mut key_specs: [raw::RedisModuleCommandKeySpec; 2] = unsafe { std::mem::zeroed() };
        key_specs[0].flags = u64::from(flags);
        key_specs[0].begin_search_type = raw::RedisModuleKeySpecBeginSearchType_REDISMODULE_KSPEC_BS_INDEX;
        key_specs[0].bs = raw::RedisModuleCommandKeySpec__bindgen_ty_1 {
            index: raw::RedisModuleCommandKeySpec__bindgen_ty_1__bindgen_ty_1 { pos: 1 },
        };
        key_specs[0].find_keys_type = raw::RedisModuleKeySpecFindKeysType_REDISMODULE_KSPEC_FK_RANGE;
        key_specs[0].fk = raw::RedisModuleCommandKeySpec__bindgen_ty_2 {
            range: raw::RedisModuleCommandKeySpec__bindgen_ty_2__bindgen_ty_1 {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        };

        let mut args: Vec<raw::RedisModuleCommandArg> = doc.args.iter().map(|a| c_arg(*a)).collect();
        // SAFETY: as above, a zeroed entry terminates the array.
        args.push(unsafe { std::mem::zeroed() });

        let info = raw::RedisModuleCommandInfo {
            version: &version,
            summary: doc.summary.as_ptr(),
            complexity: doc.complexity.as_ptr(),
            since: SINCE.as_ptr(),
            history: ptr::null_mut(),
            tips: ptr::null(),
            arity: doc.arity,
            key_specs: key_specs.as_mut_ptr(),
            args: args.as_mut_ptr(),
        };
        // SAFETY: `ctx` is the module's load context; `info` and everything it
        // points to stay alive for the call, and Redis copies what it keeps.
        let ok = unsafe {
            let command = get_command(ctx.ctx, doc.name.as_ptr());
            !command.is_null() && set_info(command, &info) == raw::REDISMODULE_OK as c_int
        };
        if !ok {
            ctx.log_warning(&format!(
                "could not set COMMAND DOCS for {}",
                doc.name.to_string_lossy()
            ));
        }
    }
    Status::Ok
}

fn c_arg(arg: Arg) -> raw::RedisModuleCommandArg {
    // SAFETY: zeroed = no token, no summary, no flags, no sub-arguments.
    let mut out: raw::RedisModuleCommandArg = unsafe { std::mem::zeroed() };
    match arg {
        Arg::Key(name) => {
            out.name = name.as_ptr();
            out.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_KEY;
            out.key_spec_index = 0;
        }
        Arg::String(name) => {
            out.name = name.as_ptr();
            out.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_STRING;
            out.key_spec_index = -1;
        }
        Arg::OptionalToken(token, name) => {
            out.name = name.as_ptr();
            out.token = token.as_ptr();
            out.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_STRING;
            out.key_spec_index = -1;
            out.flags = raw::REDISMODULE_CMD_ARG_OPTIONAL as c_int;
        }
        Arg::OptionalFlag(token) => {
            out.name = token.as_ptr();
            out.token = token.as_ptr();
            out.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_PURE_TOKEN;
            out.key_spec_index = -1;
            out.flags = raw::REDISMODULE_CMD_ARG_OPTIONAL as c_int;
        }
    }
    out
}
