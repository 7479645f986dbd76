/*
 * recognise.c — request body → raw events (see recognise.h).
 *
 * Two passes over hostile bytes: scan_body() walks the raw text once, with no
 * recursion, to check UTF-8, refuse deep nesting and note where each batch
 * element starts and ends (so an event keeps its exact bytes; re-serialising
 * would change them and the sha256 id with them). Only then does cJSON parse,
 * and the object walkers below pull out the fields the SLA engine needs.
 *
 * Field types are strict where the field is ours (the flat webhook shape,
 * acd.start/acd.end): a wrong type is a client bug worth a 400. Notification
 * topics we do not use are Genesys' own schemas: their fields are taken only
 * when well-typed, so nothing Genesys sends is refused for our sake.
 */
#include "recognise.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "common/clock.h"
#include "common/utf8.h"
#include "jarena.h"

/* cJSON's allocations for one body come from this much stack first
 * (jarena.h): a ~700-byte event takes a few KiB. */
#define PARSE_SCRATCH 16384

/* Largest integer a double holds exactly; bigger "ms" values are nonsense. */
#define MAX_EXACT_INT 9007199254740992.0

struct span {
    size_t start, end; /* [start, end) in the body */
};

/* A refusal in progress: code + message, written once. */
struct why {
    enum recognise_code code;
    char *buf;
    size_t size;
    const char *prefix; /* "event 3: " inside a batch, "" otherwise */
    int nomem;          /* the refusal is ours, not the client's */
};



static int refuse(struct why *w, enum recognise_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct why *w, enum recognise_code code, const char *fmt, ...)
{
    va_list ap;
    int n;

    w->code = code;
    if (!w->buf || w->size == 0)
        return -1;
    n = snprintf(w->buf, w->size, "%s", w->prefix);
    if (n < 0 || (size_t)n >= w->size)
        return -1;
    va_start(ap, fmt);
    vsnprintf(w->buf + n, w->size - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int oom(struct why *w)
{
    w->nomem = 1;
    return refuse(w, RECOGNISE_INVALID_EVENT, "out of memory");
}

static int is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Inside a string, a byte that needs no decision: printable ASCII other
 * than the quote and the backslash. */
static int plain_in_string(uint8_t c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/*
 * One pass, no recursion: UTF-8, control bytes in strings, depth, and the
 * byte span of each top-level array element (or of the single top-level
 * value). Structure errors beyond depth are left to cJSON; the spans are only
 * trusted once cJSON has accepted the same bytes. *spans is malloc'd; the
 * caller frees it.
 */
static int scan_body(const uint8_t *b, size_t len, struct span **spans,
                     size_t *nspans, struct why *w)
{
    size_t depth = 0, cap = 0, n = 0, last = 0;
    int in_str = 0, esc = 0, top_array = 0, in_elem = 0, seen_value = 0;
    size_t elem_start = 0;
    struct span *sp = NULL;

    *spans = NULL;
    *nspans = 0;
    for (size_t i = 0; i < len;) {
        uint8_t c = b[i];
        size_t k;

        if (in_str && !esc && plain_in_string(c)) {
            /* a run of printable ASCII inside a string: most of an event */
            size_t j = i + 1;
            while (j < len && plain_in_string(b[j]))
                j++;
            last = j - 1;
            i = j;
            continue;
        }
        k = c < 0x80 ? 1 : utf8_seq_len(b + i, len - i);

        if (k == 0) {
            free(sp);
            return refuse(w, RECOGNISE_INVALID_JSON,
                          "invalid UTF-8 at byte %zu", i);
        }
        if (in_str) {
            if (c < 0x20) {
                free(sp);
                return refuse(w, RECOGNISE_INVALID_JSON,
                              "control character in a string at byte %zu", i);
            }
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
            last = i;
            i += k;
            continue;
        }
        if (is_ws(c)) {
            i++;
            continue;
        }
        if (c == 0) {
            free(sp);
            return refuse(w, RECOGNISE_INVALID_JSON, "NUL byte at %zu", i);
        }
        if (!seen_value) {
            seen_value = 1;
            top_array = c == '[';
            elem_start = i;
        }
        if (top_array && depth == 1 && !in_elem && c != ']' && c != ',') {
            in_elem = 1;
            elem_start = i;
        }
        if (top_array && depth == 1 && in_elem && (c == ',' || c == ']')) {
            if (n == RECOGNISE_MAX_BATCH) {
                free(sp);
                return refuse(w, RECOGNISE_INVALID_EVENT,
                              "batch of more than %d events",
                              RECOGNISE_MAX_BATCH);
            }
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                struct span *t;
                t = realloc(sp, ncap * sizeof(*sp));
                if (!t) {
                    free(sp);
                    return oom(w);
                }
                sp = t;
                cap = ncap;
            }
            sp[n].start = elem_start;
            sp[n].end = last + 1;
            n++;
            in_elem = 0;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > RECOGNISE_MAX_DEPTH) {
                free(sp);
                return refuse(w, RECOGNISE_INVALID_JSON,
                              "nesting deeper than %d levels",
                              RECOGNISE_MAX_DEPTH);
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
        last = i;
        i += k;
    }
    if (seen_value && !top_array) {
        sp = malloc(sizeof(*sp));
        if (!sp)
            return oom(w);
        sp[0].start = elem_start;
        sp[0].end = last + 1;
        n = 1;
    }
    *spans = sp;
    *nspans = n;
    return 0;
}

/* --- fields ------------------------------------------------------------ */

/* A bounded copy of a string member. Absent, null and "" leave *out NULL.
 * Returns -1 (refusal written) on a wrong type or an over-long value. */
static int get_str(const cJSON *obj, const char *name, const char *path,
                   char **out, struct why *w)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    size_t n;

    *out = NULL;
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsString(it) || !it->valuestring)
        return refuse(w, RECOGNISE_INVALID_EVENT, "%s%s: expected a string",
                      path, name);
    n = strnlen(it->valuestring, RECOGNISE_MAX_FIELD + 1);
    if (n > RECOGNISE_MAX_FIELD)
        return refuse(w, RECOGNISE_INVALID_EVENT,
                      "%s%s: longer than %d bytes", path, name,
                      RECOGNISE_MAX_FIELD);
    if (n == 0)
        return 0;
    *out = strndup(it->valuestring, n);
    if (!*out)
        return oom(w);
    return 0;
}

/* A finite number in [lo, hi]. Absent or null leaves *out = absent and
 * returns 0; *present tells which. */
static int get_num(const cJSON *obj, const char *name, const char *path,
                   double lo, double hi, double *out, int *present,
                   struct why *w)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

    *present = 0;
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsNumber(it))
        return refuse(w, RECOGNISE_INVALID_EVENT, "%s%s: expected a number",
                      path, name);
    if (!isfinite(it->valuedouble) || it->valuedouble < lo ||
        it->valuedouble > hi)
        return refuse(w, RECOGNISE_INVALID_EVENT,
                      "%s%s: out of range [%.0f, %.0f]", path, name, lo, hi);
    *out = it->valuedouble;
    *present = 1;
    return 0;
}

static int get_ms(const cJSON *obj, const char *name, const char *path,
                  int64_t *out, struct why *w)
{
    double d = 0;
    int present;

    *out = CODEC_ABSENT;
    if (get_num(obj, name, path, 0, MAX_EXACT_INT, &d, &present, w))
        return -1;
    if (present)
        *out = (int64_t)llround(d);
    return 0;
}

static int get_time(const cJSON *obj, const char *name, const char *path,
                    int64_t *out, struct why *w)
{
    char *s = NULL;
    int rc = 0;

    *out = CODEC_ABSENT;
    if (get_str(obj, name, path, &s, w))
        return -1;
    if (s && clock_parse_iso8601(s, out) != 0)
        rc = refuse(w, RECOGNISE_INVALID_EVENT,
                    "%s%s: not an ISO-8601 time", path, name);
    free(s);
    return rc;
}

static void upper_ascii(char *s)
{
    for (; s && *s; s++)
        *s = (char)toupper((unsigned char)*s);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

static int require(const void *v, const char *path, const char *name,
                   const char *what, struct why *w)
{
    if (v)
        return 0;
    return refuse(w, RECOGNISE_INVALID_EVENT, "%s%s: required for %s", path,
                  name, what);
}

/* --- shapes ------------------------------------------------------------ */

/* The seeds' flat webhook event and queue statistics (eventType present). */
static int flat_event(const cJSON *obj, const char *path, struct raw_event *ev,
                      struct why *w)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "eventType");
    int64_t t = CODEC_ABSENT;

    if (!cJSON_IsString(type) || !type->valuestring || !type->valuestring[0])
        return refuse(w, RECOGNISE_INVALID_EVENT,
                      "%seventType: expected a non-empty string", path);
    if (get_str(obj, "eventType", path, &ev->event_type, w) ||
        get_str(obj, "conversationId", path, &ev->conversation_id, w) ||
        get_str(obj, "queueId", path, &ev->queue_id, w) ||
        get_str(obj, "queueName", path, &ev->queue_name, w) ||
        get_str(obj, "mediaType", path, &ev->media_type, w) ||
        get_ms(obj, "waitTime", path, &ev->wait_ms, w) ||
        get_time(obj, "timestamp", path, &t, w))
        return -1;
    upper_ascii(ev->media_type);
    if (t != CODEC_ABSENT)
        ev->event_time_ms = t;

    if (strcmp(ev->event_type, "routing.queue.stats") == 0) {
        int p1, p2, p3;
        double calls = 0;
        ev->kind = RAW_QUEUE_STATS;
        if (get_num(obj, "slaPercentage", path, 0, 100, &ev->sla_percentage,
                    &p1, w) ||
            get_num(obj, "targetSla", path, 0, 100, &ev->target_sla, &p2, w) ||
            get_num(obj, "callsInQueue", path, 0, MAX_EXACT_INT, &calls, &p3,
                    w))
            return -1;
        if (p3)
            ev->calls_in_queue = (int64_t)llround(calls);
        if (require(ev->queue_id, path, "queueId", "queue statistics", w) ||
            require(p1 ? "" : NULL, path, "slaPercentage", "queue statistics",
                    w) ||
            require(p2 ? "" : NULL, path, "targetSla", "queue statistics", w))
            return -1;
        return 0;
    }
    if (get_ms(obj, "sla", path, &ev->sla_ms, w))
        return -1;
    if (ev->wait_ms != CODEC_ABSENT && ev->sla_ms != CODEC_ABSENT) {
        ev->kind = RAW_FLAT_WAIT;
        return require(ev->queue_id, path, "queueId", "a wait event", w);
    }
    ev->kind = RAW_OTHER;
    return 0;
}

/* Takes a string member only when it is a string; notification topics we do
 * not use keep their own schemas. */
static void take_str_lenient(const cJSON *obj, const char *name, char **out)
{
    char *s = NULL;
    struct why quiet = { 0 };

    if (*out == NULL && get_str(obj, name, "", &s, &quiet) == 0)
        *out = s;
}

/* A Genesys notification event (topicName, eventBody, metadata). */
static int notification(const cJSON *obj, const char *path,
                        struct raw_event *ev, char **corr_id, struct why *w)
{
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(obj, "eventBody");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    char *topic = NULL;
    char bpath[64];
    int rc = -1;

    if (get_str(obj, "topicName", path, &topic, w))
        goto out;
    if (!topic) {
        refuse(w, RECOGNISE_INVALID_EVENT,
               "%stopicName: expected a non-empty string", path);
        goto out;
    }
    if (!cJSON_IsObject(body)) {
        refuse(w, RECOGNISE_INVALID_EVENT, "%seventBody: expected an object",
               path);
        goto out;
    }
    if (meta && !cJSON_IsNull(meta) && !cJSON_IsObject(meta)) {
        refuse(w, RECOGNISE_INVALID_EVENT, "%smetadata: expected an object",
               path);
        goto out;
    }
    if (cJSON_IsObject(meta)) {
        char mpath[64];
        snprintf(mpath, sizeof(mpath), "%smetadata.", path);
        if (get_str(meta, "CorrelationId", mpath, corr_id, w))
            goto out;
    }
    if (ends_with(topic, ".acd.start"))
        ev->kind = RAW_ACD_START;
    else if (ends_with(topic, ".acd.end"))
        ev->kind = RAW_ACD_END;
    else
        ev->kind = RAW_OTHER;
    if (!ev->event_type) {
        ev->event_type = topic;
        topic = NULL;
    }

    if (ev->kind == RAW_OTHER) {
        double d = cJSON_GetNumberValue(
            cJSON_GetObjectItemCaseSensitive(body, "eventTime"));
        take_str_lenient(body, "conversationId", &ev->conversation_id);
        take_str_lenient(body, "queueId", &ev->queue_id);
        take_str_lenient(body, "mediaType", &ev->media_type);
        upper_ascii(ev->media_type);
        if (isfinite(d) && d >= 0 && d <= MAX_EXACT_INT)
            ev->event_time_ms = (int64_t)llround(d);
        rc = 0;
        goto out;
    }

    snprintf(bpath, sizeof(bpath), "%seventBody.", path);
    {
        int64_t t = CODEC_ABSENT;
        if (get_str(body, "conversationId", bpath, &ev->conversation_id, w) ||
            get_str(body, "queueId", bpath, &ev->queue_id, w) ||
            get_str(body, "mediaType", bpath, &ev->media_type, w) ||
            get_str(body, "acdOutcome", bpath, &ev->acd_outcome, w) ||
            get_ms(body, "eventTime", bpath, &t, w) ||
            require(ev->conversation_id, bpath, "conversationId",
                    "an acd event", w) ||
            require(ev->queue_id, bpath, "queueId", "an acd event", w) ||
            require(t != CODEC_ABSENT ? "" : NULL, bpath, "eventTime",
                    "an acd event", w))
            goto out;
        ev->event_time_ms = t;
    }
    upper_ascii(ev->media_type);
    upper_ascii(ev->acd_outcome);
    rc = 0;
out:
    free(topic);
    return rc;
}

/* An EventBridge envelope: version, id, detail-type, source, time, detail. */
static int envelope(const cJSON *obj, struct raw_event *ev, char **id,
                    char **corr_id, struct why *w)
{
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(obj, "detail");
    int64_t t = CODEC_ABSENT;

    if (get_str(obj, "detail-type", "", &ev->event_type, w) ||
        get_str(obj, "id", "", id, w) || get_time(obj, "time", "", &t, w))
        return -1;
    if (!ev->event_type)
        return refuse(w, RECOGNISE_INVALID_EVENT,
                      "detail-type: expected a non-empty string");
    if (!cJSON_IsObject(detail))
        return refuse(w, RECOGNISE_INVALID_EVENT, "detail: expected an object");
    if (t != CODEC_ABSENT)
        ev->event_time_ms = t;
    ev->source = RAW_SOURCE_EVENTBRIDGE;
    if (cJSON_HasObjectItem(detail, "topicName"))
        return notification(detail, "detail.", ev, corr_id, w);
    ev->kind = RAW_OTHER;
    return 0;
}

/* Lowercase hex SHA-256 of the event's own bytes: a retried body gets the
 * same id, so the processor's dedup sees it. */
static char *sha256_hex(const uint8_t *b, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char *hex;

    if (!EVP_Digest(b, len, md, &mdlen, EVP_sha256(), NULL))
        return NULL;
    hex = malloc(mdlen * 2 + 1);
    if (!hex)
        return NULL;
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return hex;
}

static int one_event(const cJSON *obj, const uint8_t *bytes, size_t len,
                     enum recognise_endpoint endpoint, int64_t received_ms,
                     struct raw_event *ev, struct why *w)
{
    char *id = NULL, *corr = NULL;
    int rc = -1;

    memset(ev, 0, sizeof(*ev));
    ev->received_ms = received_ms;
    ev->event_time_ms = CODEC_ABSENT;
    ev->source = RAW_SOURCE_WEBHOOK;
    ev->wait_ms = ev->sla_ms = ev->calls_in_queue = CODEC_ABSENT;
    ev->sla_percentage = ev->target_sla = NAN;

    if (!cJSON_IsObject(obj)) {
        refuse(w, RECOGNISE_INVALID_EVENT, "expected a JSON object");
        goto out;
    }
    if (cJSON_HasObjectItem(obj, "detail-type") ||
        cJSON_HasObjectItem(obj, "detail")) {
        if (envelope(obj, ev, &id, &corr, w))
            goto out;
    } else if (endpoint == RECOGNISE_EVENTBRIDGE) {
        refuse(w, RECOGNISE_INVALID_EVENT,
               "expected an EventBridge envelope (detail-type, detail)");
        goto out;
    } else if (cJSON_HasObjectItem(obj, "topicName")) {
        if (notification(obj, "", ev, &corr, w))
            goto out;
    } else if (cJSON_HasObjectItem(obj, "eventType")) {
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
        if (flat_event(obj, "", ev, w))
            goto out;
        if (cJSON_IsObject(meta))
            take_str_lenient(meta, "CorrelationId", &corr);
    } else {
        refuse(w, RECOGNISE_INVALID_EVENT,
               "unknown event shape (expected eventType, topicName or an "
               "EventBridge envelope)");
        goto out;
    }

    if (ev->event_time_ms == CODEC_ABSENT)
        ev->event_time_ms = received_ms;
    if (id) {
        ev->event_id = id;
        id = NULL;
    } else if (corr) {
        ev->event_id = corr;
        corr = NULL;
    } else {
        ev->event_id = sha256_hex(bytes, len);
    }
    ev->body = malloc(len ? len : 1);
    if (!ev->event_id || !ev->body) {
        oom(w);
        goto out;
    }
    memcpy(ev->body, bytes, len);
    ev->body_len = len;
    rc = 0;
out:
    free(id);
    free(corr);
    if (rc)
        codec_raw_event_clear(ev);
    return rc;
}

enum qa_err recognise_body(const void *body, size_t len,
                           enum recognise_endpoint endpoint, int64_t received_ms,
                           struct recognise_batch *out,
                           enum recognise_code *code, char *errstr,
                           size_t errstr_size)
{
    const uint8_t *b = body;
    struct why w = { RECOGNISE_OK, errstr, errstr_size, "", 0 };
    struct span *spans = NULL;
    size_t nspans = 0, n;
    const char *end = NULL;
    cJSON *root = NULL;
    char prefix[32];
    enum qa_err err = QA_ERR_INVALID;
    struct jarena arena;
    _Alignas(16) uint8_t scratch[PARSE_SCRATCH];

    jarena_begin(&arena, scratch, sizeof(scratch));
    memset(out, 0, sizeof(*out));
    *code = RECOGNISE_OK;
    if (errstr && errstr_size)
        errstr[0] = '\0';
    if (!b && len)
        b = (const uint8_t *)"";
    if (scan_body(b ? b : (const uint8_t *)"", len, &spans, &nspans, &w))
        goto out;
    root = cJSON_ParseWithLengthOpts((const char *)b, len, &end, 0);
    if (!root) {
        size_t at = end && end >= (const char *)b ? (size_t)(end - (const char *)b) : 0;
        refuse(&w, RECOGNISE_INVALID_JSON, "not valid JSON (near byte %zu)", at);
        goto out;
    }
    for (const char *p = end; p && p < (const char *)b + len; p++) {
        if (!is_ws((uint8_t)*p)) {
            refuse(&w, RECOGNISE_INVALID_JSON,
                   "trailing data after the JSON value at byte %zu",
                   (size_t)(p - (const char *)b));
            goto out;
        }
    }
    if (cJSON_IsArray(root)) {
        n = (size_t)cJSON_GetArraySize(root);
        if (n == 0) {
            refuse(&w, RECOGNISE_INVALID_EVENT, "empty batch");
            goto out;
        }
    } else if (cJSON_IsObject(root)) {
        n = 1;
    } else {
        refuse(&w, RECOGNISE_INVALID_EVENT,
               "expected a JSON object or an array of objects");
        goto out;
    }
    if (n != nspans) { /* cannot happen once cJSON agreed; never guess spans */
        refuse(&w, RECOGNISE_INVALID_JSON, "could not delimit the events");
        goto out;
    }
    out->events = calloc(n, sizeof(*out->events));
    if (!out->events) {
        err = QA_ERR_NOMEM;
        qa_errf(errstr, errstr_size, err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const cJSON *obj = cJSON_IsArray(root) ? cJSON_GetArrayItem(root, (int)i)
                                               : root;
        if (cJSON_IsArray(root)) {
            snprintf(prefix, sizeof(prefix), "event %zu: ", i);
            w.prefix = prefix;
        }
        /* cJSON_GetArrayItem walks the list: fine at RECOGNISE_MAX_BATCH. */
        if (one_event(obj, b + spans[i].start, spans[i].end - spans[i].start,
                      endpoint, received_ms, &out->events[i], &w))
            goto out;
        out->nevents = i + 1;
    }
    err = QA_OK;
out:
    if (err == QA_ERR_INVALID && w.nomem)
        err = QA_ERR_NOMEM;
    if (err == QA_ERR_INVALID) {
        *code = w.code ? w.code : RECOGNISE_INVALID_EVENT;
        recognise_batch_clear(out);
    } else if (err != QA_OK) {
        recognise_batch_clear(out);
    }
    cJSON_Delete(root); /* before jarena_end: its memory may be the arena's */
    jarena_end(&arena);
    free(spans);
    return err;
}

void recognise_batch_clear(struct recognise_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; b->events && i < b->nevents; i++)
        codec_raw_event_clear(&b->events[i]);
    free(b->events);
    b->events = NULL;
    b->nevents = 0;
}

const char *recognise_code_name(enum recognise_code code)
{
    switch (code) {
    case RECOGNISE_OK:
        return "ok";
    case RECOGNISE_INVALID_JSON:
        return "invalid_json";
    case RECOGNISE_INVALID_EVENT:
        return "invalid_event";
    }
    return "invalid_event";
}

const char *recognise_endpoint_name(enum recognise_endpoint endpoint)
{
    return endpoint == RECOGNISE_EVENTBRIDGE ? "eventbridge" : "genesys";
}
