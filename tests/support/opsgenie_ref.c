/*
 * opsgenie_ref.c — the OpsGenie request bodies as notifier/sinks/opsgenie.c
 * built them with cJSON (and the UTF-8 sanitiser they were clipped with, as
 * sink.c had it) before the bodies were written as text. Frozen on purpose:
 * tests/unit/test_opsgenie_body.c compares today's bodies with these, byte
 * for byte. Change it only when the body format is meant to change.
 */
#include "support/opsgenie_ref.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/utf8.h"
#include "notifier/sinks/opsgenie.h"

size_t ts_opsgenie_ref_sanitize(char *dst, size_t dst_size, const void *src,
                                size_t src_len, size_t max_chars, int keep_newlines)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *s = src;
    size_t i = 0, o = 0, chars = 0;

    if (!dst || dst_size == 0)
        return 0;
    while (s && i < src_len) {
        unsigned char c = s[i];
        size_t len = utf8_seq_len(s + i, src_len - i);
        size_t units;
        const char *bytes = (const char *)s + i;
        size_t nbytes = len;

        if (len == 0) {
            len = 1;
            bytes = replacement;
            nbytes = 3;
        } else if (len == 1 && (c < 0x20 || c == 0x7F) &&
                   !(keep_newlines && (c == '\n' || c == '\t'))) {
            i++;
            continue;
        }
        i += len;
        units = nbytes == 4 ? 2 : 1;
        if (chars + units > max_chars || o + nbytes >= dst_size)
            break;
        memcpy(dst + o, bytes, nbytes);
        o += nbytes;
        chars += units;
    }
    dst[o] = '\0';
    return o;
}

char *ts_opsgenie_ref_clip(const char *s, size_t max_chars)
{
    size_t len = s ? strlen(s) : 0;
    size_t cap = (len < max_chars ? len : max_chars) * 4 + 1;
    char *out = malloc(cap);

    if (!out)
        return NULL;
    ts_opsgenie_ref_sanitize(out, cap, s, len, max_chars, 1);
    return out;
}

static int add_clipped(cJSON *obj, const char *name, const char *s, size_t max)
{
    char *c = ts_opsgenie_ref_clip(s, max);
    int ok = c && cJSON_AddStringToObject(obj, name, c) != NULL;
    free(c);
    return ok;
}

static int valid_priority(const char *p)
{
    return p && p[0] == 'P' && p[1] >= '1' && p[1] <= '5' && p[2] == '\0';
}

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
    k = ts_opsgenie_ref_clip(key, 128);
    v = ts_opsgenie_ref_clip(value, 1000);
    if (!k || !v) {
        d->oom = 1;
        goto out;
    }
    cost = strlen(k) + strlen(v);
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
        char *t = ts_opsgenie_ref_clip(al->tags[i], SINK_OPSGENIE_TAG_MAX);
        cJSON *s;
        if (!t)
            goto fail;
        if (!*t) {
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

char *ts_opsgenie_ref_body(const struct alert *al, const char *alias)
{
    cJSON *body = al->status == ALERT_FIRING ? create_body(al, alias) : close_body(al);
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;

    cJSON_Delete(body);
    return text;
}
