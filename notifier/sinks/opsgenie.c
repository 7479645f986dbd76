/*
 * opsgenie.c — builds OpsGenie Alert API v2 requests (create, close by alias)
 * from a struct alert, cutting every field to the API's documented limit at
 * a character boundary so that OpsGenie never refuses or mangles an alert.
 *
 * Pure: no I/O. Never puts the API key anywhere but the Authorization
 * header.
 */
#include "notifier/sinks/opsgenie.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/sbuf.h"

enum qa_err sink_opsgenie_alias(const char *grouping_key, char *buf, size_t n,
                                char *errstr, size_t errstr_size)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t len;

    if (!buf || n <= SINK_OPSGENIE_ALIAS_MAX)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "alias buffer too small");
    buf[0] = '\0';
    if (!grouping_key || !*grouping_key)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "alert has no grouping key");
    len = strlen(grouping_key);
    if (len <= SINK_OPSGENIE_ALIAS_MAX) {
        memcpy(buf, grouping_key, len + 1);
        return QA_OK;
    }
    /* bytes >= characters, so a key within 512 bytes fits the 512-character
     * limit; a longer one is hashed: still one stable alias per key */
    if (!EVP_Digest(grouping_key, len, md, &mdlen, EVP_sha256(), NULL))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "sha256 failed");
    for (unsigned int i = 0; i < mdlen; i++) {
        static const char hex[] = "0123456789abcdef";
        buf[2 * i] = hex[md[i] >> 4];
        buf[2 * i + 1] = hex[md[i] & 0xF];
    }
    buf[2 * mdlen] = '\0';
    return QA_OK;
}

static int valid_priority(const char *p)
{
    return p && p[0] == 'P' && p[1] >= '1' && p[1] <= '5' && p[2] == '\0';
}

/*
 * The bodies are written as text into one buffer: a cJSON tree and a clipped
 * copy of every field cost more than the rest of a delivery (malloc/free per
 * node). The text is byte for byte what cJSON_PrintUnformatted() gave for
 * the tree this replaced, down to its escaping and its handling of detail
 * keys (tests/support/opsgenie_ref.c keeps that builder, and
 * tests/unit/test_opsgenie_body.c compares).
 */

/* Appends a string literal. */
#define ADD(b, lit) sbuf_add((b), lit, sizeof(lit) - 1)

/* A duplicate name is looked for among the first entries by where their
 * names are; past them (more than a usual alert has) by reading the map. */
#define DETAILS_INDEXED 64

/* The details map: the alert's own details, then the evidence under fixed
 * names when the alert did not set them. Entries that would pass the
 * 8000-character budget are left out rather than cut mid-value. */
struct details {
    struct sbuf *b;
    size_t used;                    /* characters (bytes) of names and values */
    size_t n;                       /* entries written */
    size_t name_at[DETAILS_INDEXED]; /* where entry i's name's text begins in b */
    size_t tail;                    /* where entry DETAILS_INDEXED begins (its ',') */
};

/* The end of the JSON string whose text starts at p (past its opening
 * quote): just past its closing quote. The quote ends it when an even
 * number of backslashes precedes it; p is never inside an escape. */
static const char *string_end(const char *p, const char *end)
{
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        size_t bs = 0;

        if (!q)
            return end;
        while (q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            return q + 1;
        p = q + 1;
    }
}

static int hex_digit(char c)
{
    return c >= 'a' ? c - 'a' + 10 : c - '0';
}

/* Whether the JSON string whose text starts at p (as sink_json_escape()
 * writes it) reads key; *next, when next is not NULL, gets its end. */
static int string_is(const char *p, const char *end, const char *key, const char **next)
{
    while (p < end && *p != '"') {
        unsigned char c = (unsigned char)*p++;

        if (c == '\\' && p < end) {
            c = (unsigned char)*p++;
            switch (c) {
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': /* \u00xx */
                if (end - p < 4) {
                    if (next)
                        *next = end;
                    return 0;
                }
                c = (unsigned char)(hex_digit(p[2]) << 4 | hex_digit(p[3]));
                p += 4;
                break;
            default: /* " and \ */
                break;
            }
        }
        if ((unsigned char)*key != c) {
            if (next)
                *next = string_end(p, end);
            return 0;
        }
        key++;
    }
    if (next)
        *next = p < end ? p + 1 : end;
    return *key == '\0';
}

/* Whether the map already has an entry named key. As with the cJSON object
 * this replaced, the key is compared as the alert gives it with the names
 * as written (clipped): first wins, and two keys that differ only in what
 * clipping removes both get in. */
static int details_have(const struct details *d, const char *key)
{
    const char *p, *end;

    if (d->b->oom || d->n == 0)
        return 0;
    end = d->b->p + d->b->len;
    for (size_t i = 0; i < d->n && i < DETAILS_INDEXED; i++)
        if (string_is(d->b->p + d->name_at[i], end, key, NULL))
            return 1;
    if (d->n <= DETAILS_INDEXED)
        return 0;
    /* ,"name":"value" from entry DETAILS_INDEXED on */
    p = d->b->p + d->tail;
    while (end - p > 1 && p[0] == ',' && p[1] == '"') {
        if (string_is(p + 2, end, key, &p))
            return 1;
        if (end - p < 2) /* ':' and the value's opening quote */
            break;
        p = string_end(p + 2, end);
    }
    return 0;
}

static void detail(struct details *d, const char *key, const char *value)
{
    size_t klen, cost;

    if (!key || !*key || !value || !*value || details_have(d, key))
        return;
    klen = sink_utf8_clip_len(key, 128);
    cost = klen + sink_utf8_clip_len(value, 1000); /* bytes >= characters: safe */
    if (d->used + cost > SINK_OPSGENIE_DETAILS_MAX || klen == 0)
        return;
    if (d->n == DETAILS_INDEXED)
        d->tail = d->b->len;
    if (d->n)
        ADD(d->b, ",\"");
    else
        ADD(d->b, "\"");
    if (d->n < DETAILS_INDEXED)
        d->name_at[d->n] = d->b->len;
    d->n++;
    sink_json_escape_clipped(d->b, key, 128);
    ADD(d->b, "\":\"");
    sink_json_escape_clipped(d->b, value, 1000);
    ADD(d->b, "\"");
    d->used += cost;
}

static void detail_int(struct details *d, const char *key, int64_t v)
{
    char buf[24];
    if (v == CODEC_ABSENT)
        return;
    if (snprintf(buf, sizeof(buf), "%" PRId64, v) > 0)
        detail(d, key, buf);
}

static void detail_frac(struct details *d, const char *key, double v)
{
    char buf[32];
    if (isnan(v) || isinf(v))
        return;
    if (snprintf(buf, sizeof(buf), "%.4f", v) > 0)
        detail(d, key, buf);
}

static void detail_time(struct details *d, const char *key, int64_t ms)
{
    char buf[32];
    sink_format_time(buf, sizeof(buf), ms);
    detail(d, key, buf);
}

/* Writes the create body into b; b->oom tells whether it is complete. */
static void create_body(struct sbuf *b, const struct alert *al, const char *alias)
{
    struct details d = { .b = b };
    char fallback[256];
    const char *message = al->message;
    size_t ntags = 0;

    if (!message || !*message) {
        /* message is the one mandatory field */
        if (snprintf(fallback, sizeof(fallback), "%s on queue %s",
                     al->alarm_type ? al->alarm_type : "alert",
                     al->queue_name ? al->queue_name
                                    : (al->queue_id ? al->queue_id : "?")) < 0)
            fallback[0] = '\0';
        message = fallback;
    }
    ADD(b, "{\"message\":\"");
    sink_json_escape_clipped(b, message, SINK_OPSGENIE_MESSAGE_MAX);
    ADD(b, "\",\"alias\":\"");
    sink_json_escape(b, alias);
    ADD(b, "\",\"description\":\"");
    sink_json_escape_clipped(b, al->description && *al->description ? al->description
                                                                     : message,
                             SINK_OPSGENIE_DESCRIPTION_MAX);
    ADD(b, "\",\"priority\":\"");
    sink_json_escape(b, valid_priority(al->priority) ? al->priority : "P3");
    ADD(b, "\",\"source\":\"");
    sink_json_escape(b, SINK_OPSGENIE_SOURCE);
    if ((al->queue_name && *al->queue_name) || (al->queue_id && *al->queue_id)) {
        ADD(b, "\",\"entity\":\"");
        sink_json_escape_clipped(b, al->queue_name && *al->queue_name ? al->queue_name
                                                                      : al->queue_id,
                                 SINK_OPSGENIE_ENTITY_MAX);
    }

    ADD(b, "\",\"tags\":[");
    for (size_t i = 0; al->tags && i < al->ntags && ntags < SINK_OPSGENIE_TAGS_MAX; i++) {
        if (!sink_utf8_clip_len(al->tags[i], SINK_OPSGENIE_TAG_MAX))
            continue; /* an empty tag is refused by the API */
        if (ntags++)
            ADD(b, ",\"");
        else
            ADD(b, "\"");
        sink_json_escape_clipped(b, al->tags[i], SINK_OPSGENIE_TAG_MAX);
        ADD(b, "\"");
    }

    ADD(b, "],\"details\":{");
    for (size_t i = 0; al->detail_keys && al->detail_values && i < al->ndetails; i++)
        detail(&d, al->detail_keys[i], al->detail_values[i]);
    detail(&d, "alertId", al->alert_id);
    detail(&d, "groupingKey", al->grouping_key);
    detail(&d, "alarmType", al->alarm_type);
    detail(&d, "queueId", al->queue_id);
    detail(&d, "queueName", al->queue_name);
    detail(&d, "mediaType", al->media_type);
    detail(&d, "conversationId", al->conversation_id);
    detail_int(&d, "waitMs", al->wait_ms);
    detail_int(&d, "thresholdMs", al->threshold_ms);
    detail_frac(&d, "serviceLevel", al->service_level);
    detail_frac(&d, "target", al->target);
    detail_int(&d, "samples", al->samples);
    detail_int(&d, "count", al->count);
    detail_time(&d, "firstSeen", al->first_seen_ms);
    detail_time(&d, "lastSeen", al->last_seen_ms);
    ADD(b, "}}");
}

/* Writes the close body into b; b->oom tells whether it is complete. */
static void close_body(struct sbuf *b, const struct alert *al)
{
    char note[512];
    char at[32];

    sink_format_time(at, sizeof(at), al->at_ms);
    if (snprintf(note, sizeof(note), "Resolved by qalert%s%s", at[0] ? " at " : "",
                 at) < 0)
        note[0] = '\0';
    ADD(b, "{\"source\":\"");
    sink_json_escape(b, SINK_OPSGENIE_SOURCE);
    ADD(b, "\",\"user\":\"");
    sink_json_escape(b, SINK_OPSGENIE_SOURCE);
    ADD(b, "\",\"note\":\"");
    sink_json_escape_clipped(b, note, SINK_OPSGENIE_NOTE_MAX);
    ADD(b, "\"}");
}

enum qa_err sink_opsgenie_request(const struct alert *al, const char *base_url,
                                  const char *api_key, struct sink_request *req,
                                  char *errstr, size_t errstr_size)
{
    char alias[SINK_OPSGENIE_ALIAS_MAX + 1];
    char *enc = NULL, *path = NULL;
    struct sbuf body = { 0 };
    enum qa_err err;

    memset(req, 0, sizeof(*req));
    if (!al)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "no alert");
    if ((err = sink_opsgenie_alias(al->grouping_key, alias, sizeof(alias), errstr,
                                   errstr_size)))
        goto out;
    if (!api_key || !*api_key) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                      "QALERT_OPSGENIE_API_KEY is not set");
        goto out;
    }
    req->method = "POST";
    if (al->status == ALERT_FIRING) {
        req->what = "opsgenie.create";
        if (!(err = sink_request_set_url(req, base_url, "/v2/alerts", errstr,
                                         errstr_size)))
            create_body(&body, al, alias);
    } else {
        static const char pre[] = "/v2/alerts/", post[] = "/close?identifierType=alias";
        size_t n;
        req->what = "opsgenie.close";
        /* the alias is a path segment: ':' and anything else reserved is
         * percent-encoded */
        enc = sink_url_encode(alias);
        if (!enc) {
            err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
            goto out;
        }
        n = sizeof(pre) - 1 + strlen(enc) + sizeof(post);
        path = malloc(n);
        if (!path || snprintf(path, n, "%s%s%s", pre, enc, post) != (int)(n - 1)) {
            err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (!(err = sink_request_set_url(req, base_url, path, errstr, errstr_size)))
            close_body(&body, al);
    }
    if (err)
        goto out;
    if (!(req->body = sbuf_take(&body, &req->body_len))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((err = sink_request_add_header(req, "Content-Type", NULL, "application/json",
                                       errstr, errstr_size)) ||
        (err = sink_request_add_header(req, "Authorization", "GenieKey ", api_key,
                                       errstr, errstr_size)))
        goto out;
out:
    sbuf_free(&body);
    free(enc);
    free(path);
    if (err)
        sink_request_clear(req);
    return err;
}
