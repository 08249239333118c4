/* The bench's reference module: the least a module data type write can do.
 *
 * FLOOR.SET key npy stores the data of a .npy payload (the bytes after its
 * header, found from the length field of the preamble) as a module value in
 * one allocation (length + bytes), replicates and notifies as any write must,
 * and replies +OK. It decodes no header, checks nothing and keeps no
 * statistics: it receives the bytes NP.SET receives and stores the bytes SET
 * of the raw data stores. Table k of `python -m bench`
 * times it beside SET and NP.SET on the same server: FLOOR.SET over SET is
 * the module API's own cost, NP.SET over FLOOR.SET is redis-numpy's.
 *
 * FLOOR.HOLD key npy keeps the argument itself as the value
 * (RedisModule_HoldString: no copy, nothing decoded), the least an adopting
 * write can do, to time beside SET (which keeps its argument too) and an
 * adopting NP.SET: FLOOR.HOLD over SET is the module API's cost at any size.
 *
 * Built by bench/floor.py against the redismodule.h that the redis-module
 * crate vendors; never part of the product's module and never loaded by its
 * tests. */

#include <string.h>

#include "redismodule.h"

static RedisModuleType *FloorType;
static RedisModuleType *HoldType;

typedef struct {
    size_t len;
    unsigned char bytes[];
} Blob;

static Blob *blob_new(const char *bytes, size_t len) {
    Blob *blob = RedisModule_Alloc(sizeof(Blob) + len);
    blob->len = len;
    memcpy(blob->bytes, bytes, len);
    return blob;
}

static void *blob_rdb_load(RedisModuleIO *io, int encver) {
    (void)encver;
    size_t len;
    char *bytes = RedisModule_LoadStringBuffer(io, &len);
    if (bytes == NULL) return NULL;
    Blob *blob = blob_new(bytes, len);
    RedisModule_Free(bytes);
    return blob;
}

static void blob_rdb_save(RedisModuleIO *io, void *value) {
    Blob *blob = value;
    RedisModule_SaveStringBuffer(io, (const char *)blob->bytes, blob->len);
}

static size_t blob_mem_usage(const void *value) {
    const Blob *blob = value;
    return sizeof(Blob) + blob->len;
}

static void blob_free(void *value) { RedisModule_Free(value); }

/* Where the data of .npy bytes starts: after the magic (6 B), the version
 * (2 B), the header length (2 B in version 1, 4 B after) and the header.
 * Bytes that are not .npy are stored whole. */
static size_t npy_data_offset(const unsigned char *p, size_t len) {
    if (len < 12 || memcmp(p, "\x93NUMPY", 6) != 0) return 0;
    size_t offset = p[6] == 1 ? 10 + (p[8] | (size_t)p[9] << 8)
                              : 12 + (p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24);
    return offset <= len ? offset : 0;
}

/* FLOOR.SET key npy: open the key, check its type, set or replace the value,
 * replicate, notify, reply. */
static int floor_set(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 3) return RedisModule_WrongArity(ctx);
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ | REDISMODULE_WRITE);
    int type = RedisModule_KeyType(key);
    if (type != REDISMODULE_KEYTYPE_EMPTY && RedisModule_ModuleTypeGetType(key) != FloorType) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
    }
    size_t len;
    const char *bytes = RedisModule_StringPtrLen(argv[2], &len);
    size_t offset = npy_data_offset((const unsigned char *)bytes, len);
    Blob *blob = blob_new(bytes + offset, len - offset);
    if (type == REDISMODULE_KEYTYPE_EMPTY) {
        RedisModule_ModuleTypeSetValue(key, FloorType, blob);
    } else {
        /* An overwrite swaps the value under the existing key (no delete and
         * re-add); like SET, it clears the key's TTL. */
        void *old = NULL;
        RedisModule_ModuleTypeReplaceValue(key, FloorType, blob, &old);
        blob_free(old);
        RedisModule_SetExpire(key, REDISMODULE_NO_EXPIRE);
    }
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_MODULE, "floor.set", argv[1]);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* The held string is the value: freed, saved and sized as a string. */
static void *held_rdb_load(RedisModuleIO *io, int encver) {
    (void)encver;
    return RedisModule_LoadString(io);
}

static void held_rdb_save(RedisModuleIO *io, void *value) { RedisModule_SaveString(io, value); }

static size_t held_mem_usage(const void *value) { return RedisModule_MallocSizeString((RedisModuleString *)value); }

static void held_free(void *value) { RedisModule_FreeString(NULL, value); }

/* Opens argv[1] for writing and checks that it is empty or of `type`;
 * replies WRONGTYPE and returns NULL otherwise. */
static RedisModuleKey *open_typed(RedisModuleCtx *ctx, RedisModuleString *name, RedisModuleType *type) {
    RedisModuleKey *key = RedisModule_OpenKey(ctx, name, REDISMODULE_READ | REDISMODULE_WRITE);
    if (RedisModule_KeyType(key) != REDISMODULE_KEYTYPE_EMPTY && RedisModule_ModuleTypeGetType(key) != type) {
        RedisModule_CloseKey(key);
        RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
        return NULL;
    }
    return key;
}

/* FLOOR.HOLD key npy: FLOOR.SET's steps, with the argument held as the
 * value instead of its data copied. */
static int floor_hold(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 3) return RedisModule_WrongArity(ctx);
    RedisModuleKey *key = open_typed(ctx, argv[1], HoldType);
    if (key == NULL) return REDISMODULE_OK;
    RedisModuleString *held = RedisModule_HoldString(NULL, argv[2]);
    if (RedisModule_KeyType(key) == REDISMODULE_KEYTYPE_EMPTY) {
        RedisModule_ModuleTypeSetValue(key, HoldType, held);
    } else {
        void *old = NULL;
        RedisModule_ModuleTypeReplaceValue(key, HoldType, held, &old);
        held_free(old);
        RedisModule_SetExpire(key, REDISMODULE_NO_EXPIRE);
    }
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_MODULE, "floor.hold", argv[1]);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    (void)argc;
    if (RedisModule_Init(ctx, "npfloor", 1, REDISMODULE_APIVER_1) == REDISMODULE_ERR) return REDISMODULE_ERR;
    RedisModuleTypeMethods methods = {
        .version = REDISMODULE_TYPE_METHOD_VERSION,
        .rdb_load = blob_rdb_load,
        .rdb_save = blob_rdb_save,
        .mem_usage = blob_mem_usage,
        .free = blob_free,
    };
    FloorType = RedisModule_CreateDataType(ctx, "npfloor-b", 0, &methods);
    if (FloorType == NULL) return REDISMODULE_ERR;
    RedisModuleTypeMethods held_methods = {
        .version = REDISMODULE_TYPE_METHOD_VERSION,
        .rdb_load = held_rdb_load,
        .rdb_save = held_rdb_save,
        .mem_usage = held_mem_usage,
        .free = held_free,
    };
    HoldType = RedisModule_CreateDataType(ctx, "npfloor-h", 0, &held_methods);
    if (HoldType == NULL) return REDISMODULE_ERR;
    if (RedisModule_CreateCommand(ctx, "floor.set", floor_set, "write deny-oom", 1, 1, 1) == REDISMODULE_ERR)
        return REDISMODULE_ERR;
    return RedisModule_CreateCommand(ctx, "floor.hold", floor_hold, "write deny-oom", 1, 1, 1);
}
