/*
 * schema.c — Avro Parsing Canonical Form and the CRC-64-AVRO fingerprint.
 *
 * Single-object encoding names a record's writer schema by the fingerprint of
 * its canonical form, and avro-c 1.11.1 computes neither, so this module does,
 * following the specification's "Parsing Canonical Form for Schemas" and
 * "Schema Fingerprints" sections word for word. It must never accept a schema
 * it cannot canonicalise exactly: a wrong canonical form is a fingerprint no
 * other Avro implementation agrees with.
 */
#include "common/schema.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/sbuf.h"

/* Deeper nesting than this is not a schema anyone writes; it protects the
 * stack from hostile input (schemas can come from a registry). */
#define SCHEMA_MAX_DEPTH 64

/* [STRINGS]: escapes are replaced by their UTF-8 (cJSON already decoded
 * them); only what JSON itself requires is escaped again. */
static void put_string(struct sbuf *b, const char *s)
{
    sbuf_add(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[2];
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*c;
            sbuf_add(b, esc, 2);
        } else if (*c < 0x20) {
            sbuf_printf(b, "\\u%04x", *c);
        } else {
            sbuf_add(b, (const char *)c, 1);
        }
    }
    sbuf_add(b, "\"", 1);
}

static const char *const primitives[] = {
    "null", "boolean", "int", "long", "float", "double", "bytes", "string", NULL,
};

static bool is_primitive(const char *s)
{
    for (int i = 0; primitives[i]; i++)
        if (strcmp(s, primitives[i]) == 0)
            return true;
    return false;
}

/* [FULLNAMES]: a dotted name is already full; otherwise the namespace (the
 * type's own, else the enclosing one) is prefixed. *out is malloc'd. */
static char *full_name(const char *name, const char *ns)
{
    size_t nl = strlen(name), sl = ns ? strlen(ns) : 0;
    char *out;

    if (strchr(name, '.') || sl == 0)
        return strdup(name);
    out = malloc(sl + 1 + nl + 1);
    if (!out)
        return NULL;
    memcpy(out, ns, sl);
    out[sl] = '.';
    memcpy(out + sl + 1, name, nl + 1);
    return out;
}

struct canon {
    struct sbuf out;
    char *errstr;
    size_t errstr_size;
    enum qa_err err;
};

static void fail(struct canon *c, const char *what, const char *detail)
{
    if (c->err)
        return;
    c->err = qa_errf(c->errstr, c->errstr_size, QA_ERR_INVALID,
                     "schema: %s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

static void emit(struct canon *c, const cJSON *s, const char *ns, int depth);

/* record, enum, fixed: {"name":<fullname>,"type":...,<rest in [ORDER]>} */
static void emit_named(struct canon *c, const cJSON *s, const char *type,
                       const char *ns, int depth)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(s, "name");
    const cJSON *space = cJSON_GetObjectItemCaseSensitive(s, "namespace");
    char *full = NULL, *inner_ns = NULL;

    if (!cJSON_IsString(name) || !name->valuestring[0]) {
        fail(c, "named type without a name", type);
        return;
    }
    if (cJSON_IsString(space))
        ns = space->valuestring;
    full = full_name(name->valuestring, ns);
    if (!full) {
        c->err = qa_errf(c->errstr, c->errstr_size, QA_ERR_NOMEM, "schema: out of memory");
        return;
    }
    /* Nested definitions inherit the namespace of this type's full name. */
    const char *dot = strrchr(full, '.');
    inner_ns = dot ? strndup(full, (size_t)(dot - full)) : NULL;
    if (dot && !inner_ns) {
        c->err = qa_errf(c->errstr, c->errstr_size, QA_ERR_NOMEM, "schema: out of memory");
        goto out;
    }

    sbuf_puts(&c->out, "{\"name\":");
    put_string(&c->out, full);
    sbuf_puts(&c->out, ",\"type\":");
    put_string(&c->out, type);

    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0) {
        const cJSON *fields = cJSON_GetObjectItemCaseSensitive(s, "fields");
        const cJSON *f;
        bool first = true;
        if (!cJSON_IsArray(fields)) {
            fail(c, "record without a fields array", full);
            goto out;
        }
        sbuf_puts(&c->out, ",\"fields\":[");
        cJSON_ArrayForEach(f, fields) {
            const cJSON *fname = cJSON_GetObjectItemCaseSensitive(f, "name");
            const cJSON *ftype = cJSON_GetObjectItemCaseSensitive(f, "type");
            if (!cJSON_IsString(fname) || !ftype) {
                fail(c, "field without a name or type in", full);
                goto out;
            }
            sbuf_puts(&c->out, first ? "{\"name\":" : ",{\"name\":");
            first = false;
            put_string(&c->out, fname->valuestring);
            sbuf_puts(&c->out, ",\"type\":");
            emit(c, ftype, inner_ns, depth + 1);
            sbuf_puts(&c->out, "}");
        }
        sbuf_puts(&c->out, "]");
    } else if (strcmp(type, "enum") == 0) {
        const cJSON *syms = cJSON_GetObjectItemCaseSensitive(s, "symbols");
        const cJSON *sym;
        bool first = true;
        if (!cJSON_IsArray(syms)) {
            fail(c, "enum without a symbols array", full);
            goto out;
        }
        sbuf_puts(&c->out, ",\"symbols\":[");
        cJSON_ArrayForEach(sym, syms) {
            if (!cJSON_IsString(sym)) {
                fail(c, "enum symbol that is not a string in", full);
                goto out;
            }
            if (!first)
                sbuf_puts(&c->out, ",");
            first = false;
            put_string(&c->out, sym->valuestring);
        }
        sbuf_puts(&c->out, "]");
    } else { /* fixed */
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(s, "size");
        char num[32];
        double v = cJSON_IsNumber(size) ? size->valuedouble : -1;
        /* [INTEGERS]: no leading zeros, no fraction. */
        if (!(v >= 0 && v <= 2147483647.0) || floor(v) != v) {
            fail(c, "fixed without a valid size", full);
            goto out;
        }
        int n = snprintf(num, sizeof(num), "%lld", (long long)v);
        if (n < 0 || (size_t)n >= sizeof(num)) {
            fail(c, "fixed size", full);
            goto out;
        }
        sbuf_puts(&c->out, ",\"size\":");
        sbuf_puts(&c->out, num);
    }
    sbuf_puts(&c->out, "}");
out:
    free(inner_ns);
    free(full);
}

static void emit(struct canon *c, const cJSON *s, const char *ns, int depth)
{
    if (c->err)
        return;
    if (depth > SCHEMA_MAX_DEPTH) {
        fail(c, "nested too deeply", NULL);
        return;
    }
    if (cJSON_IsString(s)) {
        /* [PRIMITIVES] stay as they are; other names are references. */
        if (is_primitive(s->valuestring)) {
            put_string(&c->out, s->valuestring);
        } else {
            char *full = full_name(s->valuestring, ns);
            if (!full) {
                c->err = qa_errf(c->errstr, c->errstr_size, QA_ERR_NOMEM,
                                 "schema: out of memory");
                return;
            }
            put_string(&c->out, full);
            free(full);
        }
        return;
    }
    if (cJSON_IsArray(s)) { /* a union */
        const cJSON *b;
        bool first = true;
        sbuf_puts(&c->out, "[");
        cJSON_ArrayForEach(b, s) {
            if (!first)
                sbuf_puts(&c->out, ",");
            first = false;
            emit(c, b, ns, depth + 1);
        }
        sbuf_puts(&c->out, "]");
        return;
    }
    if (!cJSON_IsObject(s)) {
        fail(c, "a type must be a string, an array or an object", NULL);
        return;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (!type) {
        fail(c, "object without a type", NULL);
        return;
    }
    if (!cJSON_IsString(type)) { /* {"type": {...}} or {"type": [...]} */
        emit(c, type, ns, depth + 1);
        return;
    }
    const char *t = type->valuestring;
    if (is_primitive(t)) {
        put_string(&c->out, t); /* [PRIMITIVES], [STRIP] of the attributes */
    } else if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0 ||
               strcmp(t, "enum") == 0 || strcmp(t, "fixed") == 0) {
        emit_named(c, s, t, ns, depth);
    } else if (strcmp(t, "array") == 0) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
        if (!items) {
            fail(c, "array without items", NULL);
            return;
        }
        sbuf_puts(&c->out, "{\"type\":\"array\",\"items\":");
        emit(c, items, ns, depth + 1);
        sbuf_puts(&c->out, "}");
    } else if (strcmp(t, "map") == 0) {
        const cJSON *values = cJSON_GetObjectItemCaseSensitive(s, "values");
        if (!values) {
            fail(c, "map without values", NULL);
            return;
        }
        sbuf_puts(&c->out, "{\"type\":\"map\",\"values\":");
        emit(c, values, ns, depth + 1);
        sbuf_puts(&c->out, "}");
    } else {
        /* {"type":"qalert.Source"}: a reference written as an object. */
        emit(c, type, ns, depth + 1);
    }
}

enum qa_err schema_canonical_form(const char *json, char **out, char *errstr,
                                  size_t errstr_size)
{
    struct canon c = { .errstr = errstr, .errstr_size = errstr_size };
    cJSON *root = NULL;

    *out = NULL;
    if (!json)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "schema: no text");
    root = cJSON_Parse(json);
    if (!root) {
        c.err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                        "schema: not JSON near offset %td",
                        cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - json : (ptrdiff_t)0);
        goto out;
    }
    emit(&c, root, NULL, 0);
    if (!c.err && c.out.oom)
        c.err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "schema: out of memory");
    if (!c.err && c.out.len == 0)
        c.err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "schema: empty");
    if (!c.err)
        *out = sbuf_take(&c.out, NULL);
out:
    sbuf_free(&c.out);
    cJSON_Delete(root);
    return c.err;
}

/* The specification's Rabin fingerprint: EMPTY is its seed and polynomial. */
#define CRC64_AVRO_EMPTY 0xc15d213aa4d7a795ULL

uint64_t schema_fingerprint64(const void *data, size_t len)
{
    /* Built on every call: 256 entries, 2 KiB of shifts, no shared state to
     * initialise (ingest threads call this concurrently at start). */
    uint64_t table[256];
    const uint8_t *p = data;
    uint64_t fp = CRC64_AVRO_EMPTY;

    for (int i = 0; i < 256; i++) {
        uint64_t v = (uint64_t)i;
        for (int j = 0; j < 8; j++)
            v = (v >> 1) ^ (CRC64_AVRO_EMPTY & (0 - (v & 1)));
        table[i] = v;
    }
    for (size_t i = 0; i < len; i++)
        fp = (fp >> 8) ^ table[(fp ^ p[i]) & 0xff];
    return fp;
}
