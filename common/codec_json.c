/*
 * codec_json.c — any framed qalert record as JSON text, in the shape of the
 * schema that wrote it (qalert-replay print, debugging a topic).
 *
 * Exists so that operators can read records without an Avro tool. It renders
 * what the bytes say (the writer's fields, not today's), and must never emit
 * invalid JSON: bytes and strings that are not clean UTF-8 become
 * {"base64": "..."}, longs are printed exactly (not through a double).
 */
#include "common/codec_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/utf8.h"

/* Strict UTF-8 without NUL, which cJSON's C strings would cut. */
static bool clean_utf8(const uint8_t *p, size_t n)
{
    return n == 0 || (memchr(p, '\0', n) == NULL && utf8_valid(p, n));
}

/* {"base64": "..."} of p[0..n), for the caller to cJSON_Delete (or attach).
 * NULL on allocation failure. */
static cJSON *base64_object(const uint8_t *p, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *text = malloc((n + 2) / 3 * 4 + 1);
    cJSON *obj = NULL;
    size_t o = 0;

    if (!text)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        text[o++] = alphabet[v >> 18 & 63];
        text[o++] = alphabet[v >> 12 & 63];
        text[o++] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        text[o++] = i + 2 < n ? alphabet[v & 63] : '=';
    }
    text[o] = '\0';
    obj = cJSON_CreateObject();
    if (obj && !cJSON_AddStringToObject(obj, "base64", text)) {
        cJSON_Delete(obj);
        obj = NULL;
    }
    free(text);
    return obj;
}

static cJSON *text_or_base64(const void *p, size_t n)
{
    if (clean_utf8(p, n)) {
        char *s = strndup(p, n);
        cJSON *j = s ? cJSON_CreateString(s) : NULL;
        free(s);
        return j;
    }
    return base64_object(p, n);
}

/* The JSON for one value; NULL on failure (allocation, or avro-c refusing a
 * value the payload check accepted). Depth is bounded by that check. */
static cJSON *to_json(avro_value_t *v)
{
    avro_value_t child;
    cJSON *j = NULL;
    size_t n;

    switch (avro_value_get_type(v)) {
    case AVRO_NULL:
        return cJSON_CreateNull();
    case AVRO_BOOLEAN: {
        int b;
        return avro_value_get_boolean(v, &b) ? NULL : cJSON_CreateBool(b);
    }
    case AVRO_INT32: {
        int32_t i;
        return avro_value_get_int(v, &i) ? NULL : cJSON_CreateNumber(i);
    }
    case AVRO_INT64: {
        int64_t l;
        char num[32];
        if (avro_value_get_long(v, &l))
            return NULL;
        int w = snprintf(num, sizeof(num), "%" PRId64, l);
        return w > 0 && (size_t)w < sizeof(num) ? cJSON_CreateRaw(num) : NULL;
    }
    case AVRO_FLOAT: {
        float f;
        return avro_value_get_float(v, &f) ? NULL : cJSON_CreateNumber(f);
    }
    case AVRO_DOUBLE: {
        double d;
        return avro_value_get_double(v, &d) ? NULL : cJSON_CreateNumber(d);
    }
    case AVRO_STRING: {
        const char *s;
        if (avro_value_get_string(v, &s, &n))
            return NULL;
        return text_or_base64(s, n ? n - 1 : 0);
    }
    case AVRO_BYTES:
    case AVRO_FIXED: {
        const void *b;
        if (avro_value_get_type(v) == AVRO_BYTES ? avro_value_get_bytes(v, &b, &n)
                                                 : avro_value_get_fixed(v, &b, &n))
            return NULL;
        return text_or_base64(b, n);
    }
    case AVRO_ENUM: {
        int idx;
        const char *sym;
        if (avro_value_get_enum(v, &idx))
            return NULL;
        sym = avro_schema_enum_get(avro_value_get_schema(v), idx);
        return sym ? cJSON_CreateString(sym) : NULL;
    }
    case AVRO_UNION: /* nullable values render as the value or null */
        return avro_value_get_current_branch(v, &child) ? NULL : to_json(&child);
    case AVRO_RECORD:
    case AVRO_MAP:
        j = cJSON_CreateObject();
        if (!j || avro_value_get_size(v, &n))
            goto fail;
        for (size_t i = 0; i < n; i++) {
            const char *name = NULL;
            cJSON *c;
            if (avro_value_get_by_index(v, i, &child, &name) || !name)
                goto fail;
            c = to_json(&child);
            if (!c)
                goto fail;
            if (!clean_utf8((const uint8_t *)name, strlen(name))) {
                cJSON_Delete(c);
                continue; /* a hostile map key: dropped rather than emitted */
            }
            cJSON_AddItemToObject(j, name, c);
        }
        return j;
    case AVRO_ARRAY:
        j = cJSON_CreateArray();
        if (!j || avro_value_get_size(v, &n))
            goto fail;
        for (size_t i = 0; i < n; i++) {
            cJSON *c;
            if (avro_value_get_by_index(v, i, &child, NULL) || !(c = to_json(&child)))
                goto fail;
            cJSON_AddItemToArray(j, c);
        }
        return j;
    default:
        return NULL;
    }
fail:
    cJSON_Delete(j);
    return NULL;
}

enum qa_err codec_to_json(const void *buf, size_t len, char **json,
                          enum codec_record *rec, char *errstr,
                          size_t errstr_size)
{
    struct codec_read r;
    cJSON *j = NULL;
    enum qa_err err;

    *json = NULL;
    err = codec_read_framed(buf, len, -1, false, &r, errstr, errstr_size);
    if (err)
        return err;
    j = to_json(&r.value);
    if (!j) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM,
                      "codec: cannot render %s as JSON", codec_record_name(r.writer->rec));
        goto out;
    }
    *json = cJSON_PrintUnformatted(j);
    if (!*json) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "codec: out of memory");
        goto out;
    }
    if (rec)
        *rec = r.writer->rec;
out:
    cJSON_Delete(j);
    codec_read_release(&r);
    return err;
}
