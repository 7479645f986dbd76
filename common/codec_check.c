/*
 * codec_check.c — walks an Avro binary payload against its writer schema and
 * checks every length, count and index before avro-c reads it.
 *
 * Exists because avro-c trusts the wire: a string length of 2^62 becomes a
 * malloc of 2^62, a block count of 2^40 an endless append. This walk only
 * reads, allocates nothing, and must never accept a payload avro-c would
 * read past the end of (it is stricter, never looser, than the encoding).
 */
#include "common/codec_internal.h"

#include <inttypes.h>

/* Recursive schemas (a linked list) nest with the data; cap the stack. */
#define CHECK_MAX_DEPTH 32

struct cursor {
    const uint8_t *p;
    size_t left;
    size_t start_len;
    char *errstr;
    size_t errstr_size;
};

static enum qa_err bad(struct cursor *c, const char *what)
{
    return qa_errf(c->errstr, c->errstr_size, QA_ERR_INVALID,
                   "codec: payload malformed at byte %zu of %zu: %s",
                   c->start_len - c->left, c->start_len, what);
}

/* A zig-zag varint of at most max_bytes (5 for int, 10 for long). */
static enum qa_err read_varint(struct cursor *c, int max_bytes, int64_t *out)
{
    uint64_t v = 0;
    for (int i = 0;; i++) {
        if (i == max_bytes)
            return bad(c, "varint too long");
        if (c->left == 0)
            return bad(c, "truncated varint");
        uint8_t b = *c->p++;
        c->left--;
        if (i == max_bytes - 1 && (b >> (max_bytes == 10 ? 1 : 4)) != 0)
            return bad(c, "varint overflows");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            break;
    }
    *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
    return QA_OK;
}

static enum qa_err skip(struct cursor *c, int64_t n, const char *what)
{
    if (n < 0 || (uint64_t)n > c->left)
        return bad(c, what);
    c->p += n;
    c->left -= (size_t)n;
    return QA_OK;
}

static enum qa_err check_value(struct cursor *c, avro_schema_t s, int depth);

/* Arrays and maps: blocks of count items, a negative count followed by the
 * block's byte size, ended by a zero count. An item takes at least one byte
 * in every schema we read, so a count above the bytes left is a lie. */
static enum qa_err check_blocks(struct cursor *c, avro_schema_t item, bool is_map,
                                int depth)
{
    for (;;) {
        int64_t count, size;
        enum qa_err err = read_varint(c, 10, &count);
        if (err)
            return err;
        if (count == 0)
            return QA_OK;
        if (count == INT64_MIN)
            return bad(c, "block count out of range");
        if (count < 0) {
            count = -count;
            if ((err = read_varint(c, 10, &size)))
                return err;
            if (size < 0 || (uint64_t)size > c->left)
                return bad(c, "block size beyond the payload");
        }
        if ((uint64_t)count > c->left)
            return bad(c, "block count beyond the payload");
        for (int64_t i = 0; i < count; i++) {
            if (is_map) {
                int64_t klen;
                if ((err = read_varint(c, 10, &klen)) || (err = skip(c, klen, "map key length")))
                    return err;
            }
            if ((err = check_value(c, item, depth + 1)))
                return err;
        }
    }
}

static enum qa_err check_value(struct cursor *c, avro_schema_t s, int depth)
{
    int64_t v;
    enum qa_err err;

    if (depth > CHECK_MAX_DEPTH)
        return bad(c, "nested too deeply");
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return QA_OK;
    case AVRO_BOOLEAN:
        if (c->left == 0)
            return bad(c, "truncated boolean");
        if (*c->p > 1)
            return bad(c, "boolean not 0 or 1");
        return skip(c, 1, "boolean");
    case AVRO_INT32:
        return read_varint(c, 5, &v);
    case AVRO_INT64:
        return read_varint(c, 10, &v);
    case AVRO_FLOAT:
        return skip(c, 4, "truncated float");
    case AVRO_DOUBLE:
        return skip(c, 8, "truncated double");
    case AVRO_STRING:
    case AVRO_BYTES:
        if ((err = read_varint(c, 10, &v)))
            return err;
        return skip(c, v, avro_typeof(s) == AVRO_STRING ? "string length beyond the payload"
                                                        : "bytes length beyond the payload");
    case AVRO_FIXED:
        return skip(c, avro_schema_fixed_size(s), "truncated fixed");
    case AVRO_ENUM:
        if ((err = read_varint(c, 5, &v)))
            return err;
        if (v < 0 || v >= avro_schema_enum_number_of_symbols(s))
            return bad(c, "enum index out of range");
        return QA_OK;
    case AVRO_UNION:
        if ((err = read_varint(c, 10, &v)))
            return err;
        if (v < 0 || (uint64_t)v >= avro_schema_union_size(s))
            return bad(c, "union branch out of range");
        return check_value(c, avro_schema_union_branch(s, (int)v), depth + 1);
    case AVRO_RECORD: {
        size_t n = avro_schema_record_size(s);
        for (size_t i = 0; i < n; i++)
            if ((err = check_value(c, avro_schema_record_field_get_by_index(s, (int)i),
                                   depth + 1)))
                return err;
        return QA_OK;
    }
    case AVRO_ARRAY:
        return check_blocks(c, avro_schema_array_items(s), false, depth);
    case AVRO_MAP:
        return check_blocks(c, avro_schema_map_values(s), true, depth);
    case AVRO_LINK:
        return check_value(c, avro_schema_link_target(s), depth + 1);
    }
    return bad(c, "unknown schema type");
}

enum qa_err codec_check_payload(avro_schema_t schema, const uint8_t *p,
                                size_t len, char *errstr, size_t errstr_size)
{
    struct cursor c = { .p = p, .left = len, .start_len = len,
                        .errstr = errstr, .errstr_size = errstr_size };
    enum qa_err err = check_value(&c, schema, 0);

    if (err)
        return err;
    if (c.left)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "codec: %zu bytes after the end of the record", c.left);
    return QA_OK;
}
