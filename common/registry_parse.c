/*
 * registry_parse.c — the pure half of the schema registry client: subjects,
 * URLs, redaction, and reading the registry's JSON answers.
 *
 * Exists apart from the HTTP half so that every answer shape (including
 * hostile ones) is unit-tested without a server. It must never trust a
 * registry: bodies come with a length, ids are checked to be integers in
 * Confluent's range (a Java int, 1 and up: 0 means "no id" to the codec), and
 * text that ends up in an error message is cut and made printable.
 */
#include "common/registry.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum qa_err registry_subject(const char *topic, char *out, size_t out_size)
{
    int n;

    if (!topic || !*topic)
        return QA_ERR_INVALID;
    n = snprintf(out, out_size, "%s-value", topic);
    if (n < 0 || (size_t)n >= out_size)
        return QA_ERR_FULL;
    return QA_OK;
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

enum qa_err registry_build_url(const char *base, const char *path, const char *arg,
                               char *out, size_t out_size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t blen = strlen(base), o = 0;

    if (out_size == 0)
        return QA_ERR_FULL;
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    /* Each step writes at most 3 bytes; keep one for the NUL. */
#define PUT(ch)                                                                          \
    do {                                                                                 \
        if (o + 1 >= out_size)                                                           \
            goto full;                                                                   \
        out[o++] = (char)(ch);                                                           \
    } while (0)
    for (size_t i = 0; i < blen; i++)
        PUT(base[i]);
    for (const char *p = path; *p; p++) {
        if (p[0] == '%' && p[1] == 's') {
            for (const unsigned char *a = (const unsigned char *)(arg ? arg : ""); *a; a++) {
                if (unreserved(*a)) {
                    PUT(*a);
                } else {
                    PUT('%');
                    PUT(hex[*a >> 4]);
                    PUT(hex[*a & 15]);
                }
            }
            p++;
            continue;
        }
        PUT(*p);
    }
#undef PUT
    out[o] = '\0';
    return QA_OK;
full:
    out[0] = '\0';
    return QA_ERR_FULL;
}

void registry_redact_url(const char *url, char *out, size_t out_size)
{
    const char *scheme_end, *host, *auth_end, *at = NULL;
    int n;

    if (!out || out_size == 0)
        return;
    out[0] = '\0';
    if (!url)
        return;
    scheme_end = strstr(url, "://");
    host = scheme_end ? scheme_end + 3 : url;
    auth_end = host + strcspn(host, "/?#");
    for (const char *p = host; p < auth_end; p++)
        if (*p == '@')
            at = p; /* the last one: a password may hold '@' unencoded */
    if (!at) {
        n = snprintf(out, out_size, "%s", url);
    } else {
        n = snprintf(out, out_size, "%.*s%s", (int)(host - url), url, at + 1);
    }
    (void)n; /* truncation is acceptable for a message */
}

/* Parses body as JSON; NULL with errstr when it is not. */
static cJSON *parse_body(const char *body, size_t len, const char *what, char *errstr,
                         size_t errstr_size)
{
    cJSON *j = NULL;

    if (!body || len == 0) {
        qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s: empty answer", what);
        return NULL;
    }
    if (len > REGISTRY_MAX_RESPONSE) {
        qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s: answer over %d bytes", what,
                REGISTRY_MAX_RESPONSE);
        return NULL;
    }
    j = cJSON_ParseWithLength(body, len);
    if (!j)
        qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s: answer is not JSON", what);
    return j;
}

/* An integer number in [lo, hi]: 0 when it is, -1 when not. */
static int int_in_range(const cJSON *n, double lo, double hi, double *out)
{
    double d;

    if (!cJSON_IsNumber(n))
        return -1;
    d = n->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < lo || d > hi)
        return -1;
    *out = d;
    return 0;
}

enum qa_err registry_parse_id(const char *body, size_t len, uint32_t *id, char *errstr,
                              size_t errstr_size)
{
    cJSON *j = parse_body(body, len, "register", errstr, errstr_size);
    enum qa_err err = QA_OK;
    double d;

    if (!j)
        return QA_ERR_INVALID;
    if (!cJSON_IsObject(j) ||
        int_in_range(cJSON_GetObjectItemCaseSensitive(j, "id"), 1, INT32_MAX, &d)) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                      "register: answer has no \"id\" between 1 and %d", INT32_MAX);
        goto out;
    }
    *id = (uint32_t)d;
out:
    cJSON_Delete(j);
    return err;
}

enum qa_err registry_parse_versions(const char *body, size_t len, int **versions,
                                    size_t *n, char *errstr, size_t errstr_size)
{
    cJSON *j = parse_body(body, len, "versions", errstr, errstr_size);
    const cJSON *it;
    enum qa_err err = QA_OK;
    int *v = NULL, count;
    size_t k = 0;
    double d;

    *versions = NULL;
    *n = 0;
    if (!j)
        return QA_ERR_INVALID;
    if (!cJSON_IsArray(j)) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "versions: answer is not a list");
        goto out;
    }
    count = cJSON_GetArraySize(j);
    if (count > REGISTRY_MAX_VERSIONS) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                      "versions: %d entries, more than %d", count, REGISTRY_MAX_VERSIONS);
        goto out;
    }
    if (count > 0 && !(v = calloc((size_t)count, sizeof(*v)))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "versions: out of memory");
        goto out;
    }
    cJSON_ArrayForEach(it, j) {
        if (int_in_range(it, 1, INT32_MAX, &d)) {
            err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                          "versions: entry %zu is not a version number", k);
            goto out;
        }
        v[k++] = (int)d;
    }
out:
    cJSON_Delete(j);
    if (err) {
        free(v);
        return err;
    }
    *versions = v;
    *n = k;
    return QA_OK;
}

enum qa_err registry_parse_schema(const char *body, size_t len, char **schema,
                                  uint32_t *id, char *errstr, size_t errstr_size)
{
    cJSON *j = parse_body(body, len, "schema", errstr, errstr_size);
    const cJSON *s, *type;
    enum qa_err err = QA_OK;
    double d;

    *schema = NULL;
    if (!j)
        return QA_ERR_INVALID;
    if (!cJSON_IsObject(j)) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "schema: answer is not an object");
        goto out;
    }
    /* Absent means AVRO (the registry omits it for the default type). */
    type = cJSON_GetObjectItemCaseSensitive(j, "schemaType");
    if (type && !(cJSON_IsString(type) && strcmp(type->valuestring, "AVRO") == 0)) {
        err = qa_errf(errstr, errstr_size, QA_ERR_UNSUPPORTED,
                      "schema: schemaType %.16s is not AVRO",
                      cJSON_IsString(type) ? type->valuestring : "(not a string)");
        goto out;
    }
    s = cJSON_GetObjectItemCaseSensitive(j, "schema");
    if (!cJSON_IsString(s) || !s->valuestring[0]) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                      "schema: answer has no \"schema\" text");
        goto out;
    }
    if (id) {
        if (int_in_range(cJSON_GetObjectItemCaseSensitive(j, "id"), 1, INT32_MAX, &d)) {
            err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                          "schema: answer has no \"id\" between 1 and %d", INT32_MAX);
            goto out;
        }
        *id = (uint32_t)d;
    }
    if (!(*schema = strdup(s->valuestring)))
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "schema: out of memory");
out:
    cJSON_Delete(j);
    return err;
}

/* Copies at most max bytes of s, '?' for anything not printable ASCII. */
static void printable(const char *s, size_t len, size_t max, char *out, size_t out_size)
{
    size_t o = 0;

    if (out_size == 0)
        return;
    for (size_t i = 0; i < len && i < max && o + 1 < out_size; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[o] = '\0';
}

enum qa_err registry_describe_error(long status, const char *body, size_t len,
                                    char *out, size_t out_size)
{
    enum qa_err err = status == 404 ? QA_ERR_NOT_FOUND
                    : (status >= 400 && status < 500 && status != 408 && status != 429)
                        ? QA_ERR_INVALID
                        : QA_ERR_IO;
    cJSON *j = NULL;
    const cJSON *code = NULL, *msg = NULL;
    char text[256] = "";
    double d = 0;

    if (body && len > 0 && len <= REGISTRY_MAX_RESPONSE) {
        j = cJSON_ParseWithLength(body, len);
        code = cJSON_GetObjectItemCaseSensitive(j, "error_code");
        msg = cJSON_GetObjectItemCaseSensitive(j, "message");
    }
    if (cJSON_IsString(msg))
        printable(msg->valuestring, strlen(msg->valuestring), 200, text, sizeof(text));
    else if (body)
        printable(body, len, 200, text, sizeof(text)); /* a proxy's page, say */
    if (code && !int_in_range(code, 0, 999999, &d))
        qa_errf(out, out_size, err, "HTTP %ld (error_code %.0f): %s", status, d,
                text[0] ? text : "no message");
    else
        qa_errf(out, out_size, err, "HTTP %ld: %s", status, text[0] ? text : "no message");
    cJSON_Delete(j);
    return err;
}
