/*
 * codec_alert_fast.c — reads today's qalert.Alert payload straight from its
 * Avro binary into a struct alert, without building an avro-c value.
 *
 * Exists because the notifier decodes every alert it delivers, and the
 * generic path (an avro-c value, then a lookup by field name per field) cost
 * ~33,000 instructions an alert, a sixth of a delivery's. It gives the same
 * struct as that path (codec_decode_alert_avro) for every payload: strings
 * end at their first NUL byte, and a map key given twice keeps its first
 * place and its last value, as avro-c's generic map does. It runs only on a
 * payload codec_check_payload accepted against today's schema, so the walk
 * below meets no surprise, but it bounds every read all the same.
 * tests/unit/test_codec_fast.c and tests/fuzz/fuzz_codec_alert.c compare the
 * two paths.
 */
#include "common/codec_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rd {
    const uint8_t *p, *end;
    enum qa_err err; /* the first error sticks; later reads give zero values */
};

static int64_t rd_long(struct rd *r)
{
    uint64_t v = 0;

    if (r->err)
        return 0;
    for (int i = 0; i < 10; i++) {
        uint8_t b;
        if (r->p == r->end)
            break;
        b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
    }
    r->err = QA_ERR_INVALID;
    return 0;
}

/* A string as avro-c gives it to a C reader: up to its first NUL.
 * Returns malloc'd text, or NULL with r->err set. */
static char *rd_str(struct rd *r)
{
    int64_t n = rd_long(r);
    const uint8_t *s = r->p;
    char *out;

    if (r->err || n < 0 || n > r->end - r->p) {
        r->err = r->err ? r->err : QA_ERR_INVALID;
        return NULL;
    }
    r->p += n;
    if (!(out = strndup((const char *)s, (size_t)n)))
        r->err = QA_ERR_NOMEM;
    return out;
}

/* A ["null", T] union: 1 when T follows. */
static int rd_present(struct rd *r)
{
    int64_t branch = rd_long(r);

    if (!r->err && branch != 0 && branch != 1)
        r->err = QA_ERR_INVALID;
    return branch == 1 && !r->err;
}

static void rd_opt_str(struct rd *r, char **out)
{
    if (rd_present(r))
        *out = rd_str(r);
}

static int64_t rd_opt_long(struct rd *r)
{
    return rd_present(r) ? rd_long(r) : CODEC_ABSENT;
}

static double rd_opt_double(struct rd *r)
{
    uint64_t bits = 0;
    double d;

    if (!rd_present(r))
        return NAN;
    if (r->end - r->p < 8) {
        r->err = QA_ERR_INVALID;
        return NAN;
    }
    for (int i = 7; i >= 0; i--)
        bits = bits << 8 | r->p[i]; /* little-endian on the wire */
    r->p += 8;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

/* Grows *arr (and *keys when given) to hold need entries. */
static int grow(char ***arr, char ***keys, size_t *cap, size_t need)
{
    size_t ncap = *cap ? *cap : 8;
    char **a, **k;

    if (need <= *cap)
        return 0;
    while (ncap < need)
        ncap *= 2;
    if (!(a = realloc(*arr, ncap * sizeof(*a))))
        return -1;
    *arr = a;
    if (keys) {
        if (!(k = realloc(*keys, ncap * sizeof(*k))))
            return -1;
        *keys = k;
    }
    *cap = ncap;
    return 0;
}

/* An array<string> (keys NULL) or a map<string> into malloc'd arrays; *n
 * always counts the entries that hold memory. */
static void rd_strings(struct rd *r, char ***keys, char ***vals, size_t *n)
{
    size_t cap = 0;

    for (;;) {
        int64_t count = rd_long(r);
        if (r->err || count == 0)
            return;
        if (count < 0) {
            count = -count; /* the block's byte size follows */
            (void)rd_long(r);
        }
        if (r->err || count < 0 || count > r->end - r->p) {
            r->err = r->err ? r->err : QA_ERR_INVALID;
            return;
        }
        for (int64_t i = 0; i < count && !r->err; i++) {
            char *key = keys ? rd_str(r) : NULL;
            char *val = r->err ? NULL : rd_str(r);
            size_t at = *n;
            if (r->err) {
                free(key);
                free(val);
                return;
            }
            for (size_t j = 0; keys && j < *n; j++) {
                if (strcmp((*keys)[j], key) == 0) {
                    at = j; /* given twice: first place, last value */
                    break;
                }
            }
            if (at < *n) {
                free(key);
                free((*vals)[at]);
                (*vals)[at] = val;
                continue;
            }
            if (grow(vals, keys, &cap, *n + 1)) {
                free(key);
                free(val);
                r->err = QA_ERR_NOMEM;
                return;
            }
            (*vals)[*n] = val;
            if (keys)
                (*keys)[*n] = key;
            (*n)++;
        }
    }
}

enum qa_err codec_decode_alert_fast(const uint8_t *p, size_t len, struct alert *al,
                                    char *errstr, size_t errstr_size)
{
    struct rd r = { .p = p, .end = p + len };
    int64_t status;

    memset(al, 0, sizeof(*al));
    al->alert_id = rd_str(&r);
    al->grouping_key = rd_str(&r);
    status = rd_long(&r);
    if (!r.err && status != ALERT_FIRING && status != ALERT_RESOLVED)
        r.err = QA_ERR_INVALID;
    al->status = status == ALERT_RESOLVED ? ALERT_RESOLVED : ALERT_FIRING;
    al->alarm_type = rd_str(&r);
    al->queue_id = rd_str(&r);
    rd_opt_str(&r, &al->queue_name);
    rd_opt_str(&r, &al->media_type);
    al->priority = rd_str(&r);
    al->count = rd_long(&r);
    al->first_seen_ms = rd_long(&r);
    al->last_seen_ms = rd_long(&r);
    al->at_ms = rd_long(&r);
    rd_opt_str(&r, &al->conversation_id);
    al->wait_ms = rd_opt_long(&r);
    al->threshold_ms = rd_opt_long(&r);
    al->service_level = rd_opt_double(&r);
    al->target = rd_opt_double(&r);
    al->samples = rd_opt_long(&r);
    al->message = rd_str(&r);
    rd_opt_str(&r, &al->description);
    rd_strings(&r, NULL, &al->tags, &al->ntags);
    rd_strings(&r, &al->detail_keys, &al->detail_values, &al->ndetails);
    rd_opt_str(&r, &al->source_event_id);
    if (!r.err && r.p != r.end)
        r.err = QA_ERR_INVALID;
    if (r.err) {
        codec_alert_clear(al);
        return r.err == QA_ERR_NOMEM
                   ? qa_errf(errstr, errstr_size, r.err, "codec: out of memory")
                   : qa_errf(errstr, errstr_size, r.err,
                             "codec: qalert.Alert payload malformed at byte %zu of %zu",
                             (size_t)(r.p - p), len);
    }
    return QA_OK;
}
