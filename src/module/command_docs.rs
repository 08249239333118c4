//! `COMMAND DOCS` / `COMMAND INFO` metadata (summary, complexity, arguments,
//! key specs with access flags) via `RedisModule_SetCommandInfo`, which Redis
//! copies; the structs below only need to live for the call.

use std::ffi::{c_int, CStr, CString};
use std::ptr;

use redis_module::{raw, Context, Status};

pub const SINCE: &CStr = c"0.1.0";

#[derive(Clone, Copy)]
pub enum Arg {
    Key(&'static CStr),
    /// One or more keys, e.g. `key [key ...]`.
    Keys(&'static CStr),
    String(&'static CStr),
    /// One or more `key value` pairs, e.g. `key npy [key npy ...]`.
    KeyValuePairs(&'static CStr, &'static CStr),
    /// At most one of these, e.g. `[NX | XX]`.
    OptionalOneOf(&'static CStr, &'static [Choice]),
    /// A required `TOKEN integer` pair, e.g. `K k`.
    IntegerToken(&'static CStr, &'static CStr),
    /// An optional `TOKEN value` pair, e.g. `SLICE spec`.
    OptionalToken(&'static CStr, &'static CStr),
    /// An optional flag without a value, e.g. `VALUES`.
    OptionalFlag(&'static CStr),
}

/// One alternative of [`Arg::OptionalOneOf`].
#[derive(Clone, Copy)]
pub enum Choice {
    Flag(&'static CStr),
    /// A token followed by an integer, e.g. `EX seconds`.
    Integer(&'static CStr, &'static CStr),
}

/// Where the keys are: Redis's key specs, so Cluster routing and ACL key
/// patterns apply as to Redis's own commands.
#[derive(Clone, Copy)]
pub enum Keys {
    /// The key at position 1.
    One,
    /// Every argument from position 1 on, with this step (MGET: 1, MSET: 2).
    All { step: c_int },
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
    pub keys: Keys,
    pub args: &'static [Arg],
    /// Redis's built-in ACL categories, e.g. `read fast`; `numpy` is added
    /// where the server supports module categories.
    pub acl: &'static str,
    /// Redis's command flags, e.g. `write deny-oom`.
    pub flags: &'static CStr,
    /// The handler's entry, made by `entry::lean_entry!`.
    pub entry: super::entry::Entry,
}

impl Keys {
    /// The first key, last key and step of `RedisModule_CreateCommand`.
    pub fn positions(self) -> (c_int, c_int, c_int) {
        match self {
            Keys::One => (1, 1, 1),
            Keys::All { step } => (1, -1, step),
        }
    }
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
                lastkey: match doc.keys {
                    Keys::One => 0,
                    Keys::All { .. } => -1,
                },
                keystep: match doc.keys {
                    Keys::One => 1,
                    Keys::All { step } => step,
                },
                limit: 0,
            },
        };

        // Sub-argument arrays are kept here until Redis has copied them.
        let mut blocks: Vec<Vec<raw::RedisModuleCommandArg>> = Vec::new();
        let mut args: Vec<raw::RedisModuleCommandArg> = doc.args.iter().map(|a| c_arg(*a, &mut blocks)).collect();
        args.push(terminator());

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

fn terminator() -> raw::RedisModuleCommandArg {
    // SAFETY: zeroed = no name, no token, no flags, no sub-arguments: the
    // documented terminator of an argument array.
    unsafe { std::mem::zeroed() }
}

/// An argument of `type_`; `blocks` keeps the sub-argument arrays alive.
fn c_arg(arg: Arg, blocks: &mut Vec<Vec<raw::RedisModuleCommandArg>>) -> raw::RedisModuleCommandArg {
    let mut out = terminator();
    let mut block = |out: &mut raw::RedisModuleCommandArg, mut subargs: Vec<raw::RedisModuleCommandArg>| {
        subargs.push(terminator());
        out.subargs = subargs.as_mut_ptr();
        blocks.push(subargs); // moving the Vec keeps its heap buffer where it is
    };
    match arg {
        Arg::Key(name) => {
            out.name = name.as_ptr();
            out.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_KEY;
            out.key_spec_index = 0;
        }
        Arg::Keys(name) => {
            out.name = name.as_ptr();
            out.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_KEY;
            out.key_spec_index = 0;
            out.flags = raw::REDISMODULE_CMD_ARG_MULTIPLE as c_int;
        }
        Arg::KeyValuePairs(key, value) => {
            out.name = c"data".as_ptr();
            out.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_BLOCK;
            out.key_spec_index = -1;
            out.flags = raw::REDISMODULE_CMD_ARG_MULTIPLE as c_int;
            let mut k = terminator();
            k.name = key.as_ptr();
            k.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_KEY;
            k.key_spec_index = 0;
            let mut v = terminator();
            v.name = value.as_ptr();
            v.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_STRING;
            v.key_spec_index = -1;
            block(&mut out, vec![k, v]);
        }
        Arg::OptionalOneOf(name, choices) => {
            out.name = name.as_ptr();
            out.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_ONEOF;
            out.key_spec_index = -1;
            out.flags = raw::REDISMODULE_CMD_ARG_OPTIONAL as c_int;
            let subargs = choices
                .iter()
                .map(|choice| {
                    let mut c = terminator();
                    c.key_spec_index = -1;
                    match *choice {
                        Choice::Flag(token) => {
                            c.name = token.as_ptr();
                            c.token = token.as_ptr();
                            c.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_PURE_TOKEN;
                        }
                        Choice::Integer(token, name) => {
                            c.name = name.as_ptr();
                            c.token = token.as_ptr();
                            c.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_INTEGER;
                        }
                    }
                    c
                })
                .collect();
            block(&mut out, subargs);
        }
        Arg::String(name) => {
            out.name = name.as_ptr();
            out.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_STRING;
            out.key_spec_index = -1;
        }
        Arg::IntegerToken(token, name) => {
            out.name = name.as_ptr();
            out.token = token.as_ptr();
            out.type_ = raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_INTEGER;
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

/// Adds the `numpy` ACL category (Redis 7.4+, Valkey 8) and puts each
/// command in its built-in ACL categories and in `numpy`. Redis 7.2 can set
/// built-in categories but cannot add a module's own, and refuses a category
/// string that names one whole; there each command gets its built-in
/// categories only. Redis 7.0 has no category API: the commands stay in no
/// category and are granted by name. Each case is logged once, as
/// information: none of them is a fault.
pub fn set_acl_categories(ctx: &Context, docs: &[CommandDoc]) -> Status {
    // SAFETY: the API pointers are written once by RedisModule_Init, before OnLoad runs this.
    let api = unsafe {
        (
            raw::RedisModule_GetCommand,
            raw::RedisModule_SetCommandACLCategories,
            raw::RedisModule_AddACLCategory,
        )
    };
    let (Some(get_command), Some(set_categories), add_category) = api else {
        ctx.log_notice(
            "ACL: this Redis version has no ACL categories for module commands (Redis 7.2+ has); \
             grant NP.* commands to users by name, as docs/security.md shows",
        );
        return Status::Ok;
    };
    let module_category = match add_category {
        // SAFETY: called from OnLoad, the only place Redis allows it, with a C string.
        Some(add) => unsafe { add(ctx.ctx, c"numpy".as_ptr()) == raw::REDISMODULE_OK as c_int },
        None => false,
    };
    if !module_category {
        ctx.log_notice(
            "ACL: NP.* commands are in the built-in categories (@read, @write, @fast); \
             the @numpy category needs Redis 7.4+ or Valkey 8",
        );
    }
    for doc in docs {
        // SAFETY: `ctx` is the module's load context and the name a C string.
        let command = unsafe { get_command(ctx.ctx, doc.name.as_ptr()) };
        if command.is_null() {
            ctx.log_warning(&format!("no command {} to categorise", doc.name.to_string_lossy()));
            return Status::Err;
        }
        let categories = if module_category {
            format!("{} numpy", doc.acl)
        } else {
            doc.acl.to_string()
        };
        let categories = CString::new(categories).expect("category names have no NUL");
        // SAFETY: `command` was just returned by Redis for this module and
        // `categories` outlives the call; Redis parses and copies it.
        if unsafe { set_categories(command, categories.as_ptr()) } != raw::REDISMODULE_OK as c_int {
            ctx.log_warning(&format!(
                "could not put {} in the ACL categories '{}'",
                doc.name.to_string_lossy(),
                categories.to_string_lossy()
            ));
            return Status::Err;
        }
    }
    Status::Ok
}
