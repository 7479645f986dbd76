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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

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

/* Adds a clipped string; returns 0 on allocation failure. */
static int add_clipped(cJSON *obj, const char *name, const char *s, size_t max)
{
    char *c = sink_utf8_clip(s, max);
    int ok = c && cJSON_AddStringToObject(obj, name, c) != NULL;
    free(c);
    return ok;
}

static int valid_priority(const char *p)
{
    return p && p[0] == 'P' && p[1] >= '1' && p[1] <= '5' && p[2] == '\0';
}

/* The details map: the alert's own details, then the evidence under fixed
 * names when the alert did not set them. Entries that would pass the
 * 8000-character budget are left out rather than cut mid-value. */
struct details {
    cJSON *obj;
    size_t used;
    int oom;
};

static void detail(struct details *d, const char *key, const char *value)
{
    char *k, *v;
    size_t cost;

    if (d->oom || !key || !*key || !value || !*value)
        return;
    if (cJSON_GetObjectItemCaseSensitive(d->obj, key))
        return;
    k = sink_utf8_clip(key, 128);
    v = sink_utf8_clip(value, 1000);
    if (!k || !v) {
        d->oom = 1;
        goto out;
    }
    cost = strlen(k) + strlen(v); /* bytes >= characters: a safe count */
    if (d->used + cost > SINK_OPSGENIE_DETAILS_MAX || !*k)
        goto out;
    if (!cJSON_AddStringToObject(d->obj, k, v)) {
        d->oom = 1;
        goto out;
    }
    d->used += cost;
out:
    free(k);
    free(v);
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

static cJSON *create_body(const struct alert *al, const char *alias)
{
    cJSON *body = cJSON_CreateObject(), *tags = NULL, *det = NULL;
    struct details d = { 0 };
    char fallback[256];
    const char *message = al->message;
    size_t ntags = 0;

    if (!body)
        return NULL;
    if (!message || !*message) {
        /* message is the one mandatory field */
        if (snprintf(fallback, sizeof(fallback), "%s on queue %s",
                     al->alarm_type ? al->alarm_type : "alert",
                     al->queue_name ? al->queue_name
                                    : (al->queue_id ? al->queue_id : "?")) < 0)
            fallback[0] = '\0';
        message = fallback;
    }
    if (!add_clipped(body, "message", message, SINK_OPSGENIE_MESSAGE_MAX) ||
        !cJSON_AddStringToObject(body, "alias", alias) ||
        !add_clipped(body, "description",
                     al->description && *al->description ? al->description : message,
                     SINK_OPSGENIE_DESCRIPTION_MAX) ||
        !cJSON_AddStringToObject(body, "priority",
                                 valid_priority(al->priority) ? al->priority : "P3") ||
        !cJSON_AddStringToObject(body, "source", SINK_OPSGENIE_SOURCE))
        goto fail;
    if ((al->queue_name && *al->queue_name) || (al->queue_id && *al->queue_id))
        if (!add_clipped(body, "entity",
                         al->queue_name && *al->queue_name ? al->queue_name : al->queue_id,
                         SINK_OPSGENIE_ENTITY_MAX))
            goto fail;

    tags = cJSON_AddArrayToObject(body, "tags");
    if (!tags)
        goto fail;
    for (size_t i = 0; al->tags && i < al->ntags && ntags < SINK_OPSGENIE_TAGS_MAX; i++) {
        char *t = sink_utf8_clip(al->tags[i], SINK_OPSGENIE_TAG_MAX);
        cJSON *s;
        if (!t)
            goto fail;
        if (!*t) { /* an empty tag is refused by the API */
            free(t);
            continue;
        }
        s = cJSON_CreateString(t);
        free(t);
        if (!s || !cJSON_AddItemToArray(tags, s)) {
            cJSON_Delete(s);
            goto fail;
        }
        ntags++;
    }

    det = cJSON_AddObjectToObject(body, "details");
    if (!det)
        goto fail;
    d.obj = det;
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
    if (d.oom)
        goto fail;
    return body;
fail:
    cJSON_Delete(body);
    return NULL;
}

static cJSON *close_body(const struct alert *al)
{
    cJSON *body = cJSON_CreateObject();
    char note[512];
    char at[32];

    if (!body)
        return NULL;
    sink_format_time(at, sizeof(at), al->at_ms);
    if (snprintf(note, sizeof(note), "Resolved by qalert%s%s", at[0] ? " at " : "",
                 at) < 0)
        note[0] = '\0';
    if (!cJSON_AddStringToObject(body, "source", SINK_OPSGENIE_SOURCE) ||
        !cJSON_AddStringToObject(body, "user", SINK_OPSGENIE_SOURCE) ||
        !add_clipped(body, "note", note, SINK_OPSGENIE_NOTE_MAX)) {
        cJSON_Delete(body);
        return NULL;
    }
    return body;
}

enum qa_err sink_opsgenie_request(const struct alert *al, const char *base_url,
                                  const char *api_key, struct sink_request *req,
                                  char *errstr, size_t errstr_size)
{
    char alias[SINK_OPSGENIE_ALIAS_MAX + 1];
    char *enc = NULL, *path = NULL;
    cJSON *body = NULL;
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
        err = sink_request_set_url(req, base_url, "/v2/alerts", errstr, errstr_size);
        body = create_body(al, alias);
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
        err = sink_request_set_url(req, base_url, path, errstr, errstr_size);
        body = close_body(al);
    }
    if (err)
        goto out;
    if (!body || !(req->body = cJSON_PrintUnformatted(body))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto out;
    }
    req->body_len = strlen(req->body);
    if ((err = sink_request_add_header(req, "Content-Type", NULL, "application/json",
                                       errstr, errstr_size)) ||
        (err = sink_request_add_header(req, "Authorization", "GenieKey ", api_key,
                                       errstr, errstr_size)))
        goto out;
out:
    cJSON_Delete(body);
    free(enc);
    free(path);
    if (err)
        sink_request_clear(req);
    return err;
}
