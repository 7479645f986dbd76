/*
 * sla_alert.c — turns one transition of an open alert into a struct alert:
 * deterministic id, priority from the policy, a one-line message within
 * OpsGenie's 130 characters, a description with the evidence, tags and a
 * details map.
 *
 * Everything here is a function of the engine's state and the transition,
 * never of the clock or of memory addresses, so a replay yields the same
 * bytes. The strings live on this function's stack until the emit callback
 * returns; the callback must copy them.
 */
#include "processor/sla_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/clock.h"

/* OpsGenie's limit on `message`. */
#define SLA_MESSAGE_MAX 130
/* OpsGenie's limit on one tag. */
#define SLA_TAG_MAX 50
#define SLA_NDETAILS 14

void sla_evidence_init(struct sla_evidence *ev)
{
    ev->conversation_id = NULL;
    ev->wait_ms = CODEC_ABSENT;
    ev->threshold_ms = CODEC_ABSENT;
    ev->samples = CODEC_ABSENT;
    ev->service_level = NAN;
    ev->target = NAN;
    ev->source_event_id = NULL;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static void utf8_truncate(char *s, size_t max)
{
    size_t p;

    if (strlen(s) <= max)
        return;
    p = max;
    while (p > 0 && ((unsigned char)s[p] & 0xC0) == 0x80)
        p--;
    s[p] = '\0';
}

/* hex(SHA-256("<key>|<STATUS>|<first_seen>|<at>")): the same transition of
 * the same episode always has the same id; FIRING and RESOLVED differ. */
static void alert_id(const char *gkey, enum alert_status status, int64_t first_seen,
                     int64_t at, char out[65])
{
    char head[64];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int n = snprintf(head, sizeof(head), "|%s|%" PRId64 "|%" PRId64,
                     status == ALERT_FIRING ? "FIRING" : "RESOLVED", first_seen, at);

    out[0] = '\0';
    if (!c || n < 0 || (size_t)n >= sizeof(head) ||
        !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(c, gkey, strlen(gkey)) ||
        !EVP_DigestUpdate(c, head, (size_t)n) || !EVP_DigestFinal_ex(c, md, &mdlen) ||
        mdlen != 32) {
        EVP_MD_CTX_free(c);
        return;
    }
    EVP_MD_CTX_free(c);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

struct details {
    const char *keys[SLA_NDETAILS];
    char values[SLA_NDETAILS][80];
    char *vptr[SLA_NDETAILS];
    size_t n;
};

static void detail(struct details *d, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void detail(struct details *d, const char *key, const char *fmt, ...)
{
    va_list ap;

    if (d->n >= SLA_NDETAILS)
        return;
    va_start(ap, fmt);
    vsnprintf(d->values[d->n], sizeof(d->values[d->n]), fmt, ap); /* ids are cut at 79 */
    va_end(ap);
    d->keys[d->n] = key;
    d->vptr[d->n] = d->values[d->n];
    d->n++;
}

void sla_alert_emit(struct sla_ctx *ctx, const char *gkey, const struct sla_alert_state *st,
                    enum alert_status status, int64_t at, const struct sla_evidence *evd)
{
    const char *name = st->queue_name ? st->queue_name : st->queue_id;
    bool firing = status == ALERT_FIRING;
    bool wait_alarm = st->alarm == POLICY_WAIT_SLA_BREACH;
    struct alert al;
    struct details d = { .n = 0 };
    char id[65], label[160], message[512], description[1024], evidence[512];
    char since[32], when[32];
    char tag_queue[SLA_TAG_MAX + 1], tag_media[SLA_TAG_MAX + 1];
    char *tags[3];
    struct sla_evidence ev = *evd;
    enum qa_err err;

    if (!ctx->emit)
        return;
    if (ev.threshold_ms == CODEC_ABSENT)
        ev.threshold_ms = st->threshold_ms;
    if (firing && !ev.conversation_id)
        ev.conversation_id = st->conversation_id;
    alert_id(gkey, status, st->first_seen, at, id);
    snprintf(label, sizeof(label), "%s%s%s", name, st->media ? " " : "",
             st->media ? st->media : "");
    utf8_truncate(label, 100);
    clock_format_iso8601(st->first_seen, since, sizeof(since));
    clock_format_iso8601(at, when, sizeof(when));

    if (wait_alarm && firing && ev.conversation_id && ev.wait_ms != CODEC_ABSENT)
        snprintf(message, sizeof(message), "%s: conversation %.8s waiting %.1f s, threshold %.1f s",
                 label, ev.conversation_id, (double)ev.wait_ms / 1000.0,
                 (double)ev.threshold_ms / 1000.0);
    else if (wait_alarm && firing)
        snprintf(message, sizeof(message), "%s: wait over threshold %.1f s", label,
                 (double)ev.threshold_ms / 1000.0);
    else if (wait_alarm)
        snprintf(message, sizeof(message), "%s: resolved, no conversation waiting past %.1f s",
                 label, (double)ev.threshold_ms / 1000.0);
    else if (firing)
        snprintf(message, sizeof(message), "%s: service level %.1f%% below target %.1f%%",
                 label, ev.service_level * 100.0, ev.target * 100.0);
    else if (isnan(ev.service_level))
        snprintf(message, sizeof(message), "%s: service level resolved, no samples left", label);
    else
        snprintf(message, sizeof(message), "%s: service level resolved, %.1f%% (target %.1f%%)",
                 label, ev.service_level * 100.0, ev.target * 100.0);
    utf8_truncate(message, SLA_MESSAGE_MAX);

    if (wait_alarm && ev.conversation_id && ev.wait_ms != CODEC_ABSENT)
        snprintf(evidence, sizeof(evidence), "Conversation %s waited %.1f s, threshold %.1f s.",
                 ev.conversation_id, (double)ev.wait_ms / 1000.0, (double)ev.threshold_ms / 1000.0);
    else if (wait_alarm)
        snprintf(evidence, sizeof(evidence), "Threshold %.1f s.", (double)ev.threshold_ms / 1000.0);
    else if (!isnan(ev.service_level) && ev.samples != CODEC_ABSENT)
        snprintf(evidence, sizeof(evidence), "Service level %.1f%% over %" PRId64
                 " answered or abandoned conversations in the window, target %.1f%%.",
                 ev.service_level * 100.0, ev.samples, ev.target * 100.0);
    else if (!isnan(ev.service_level))
        snprintf(evidence, sizeof(evidence), "Service level %.1f%% (queue statistics), target %.1f%%.",
                 ev.service_level * 100.0, ev.target * 100.0);
    else
        snprintf(evidence, sizeof(evidence), "No samples left in the window.");
    snprintf(description, sizeof(description),
             "%s %s on queue %s (%s)%s%s. %s Open since %s, %" PRId64
             " occurrence(s); this transition at %s (event time).",
             policy_alarm_name(st->alarm), firing ? "FIRING" : "RESOLVED", name, st->queue_id,
             st->media ? ", media " : "", st->media ? st->media : "", evidence, since,
             st->count, when);

    snprintf(tag_queue, sizeof(tag_queue), "%s", name);
    utf8_truncate(tag_queue, SLA_TAG_MAX);
    snprintf(tag_media, sizeof(tag_media), "%s", st->media ? st->media : "");
    tags[0] = (char *)policy_alarm_name(st->alarm);
    tags[1] = tag_queue;
    tags[2] = tag_media;

    detail(&d, "groupingKey", "%s", gkey);
    detail(&d, "queueId", "%s", st->queue_id);
    if (ev.conversation_id)
        detail(&d, "conversationId", "%s", ev.conversation_id);
    if (ev.wait_ms != CODEC_ABSENT)
        detail(&d, "waitMs", "%" PRId64, ev.wait_ms);
    if (ev.threshold_ms != CODEC_ABSENT)
        detail(&d, "thresholdMs", "%" PRId64, ev.threshold_ms);
    if (!isnan(ev.service_level))
        detail(&d, "serviceLevel", "%.4f", ev.service_level);
    if (!isnan(ev.target))
        detail(&d, "target", "%.4f", ev.target);
    if (ev.samples != CODEC_ABSENT)
        detail(&d, "samples", "%" PRId64, ev.samples);
    detail(&d, "firstSeen", "%s", since);
    detail(&d, "count", "%" PRId64, st->count);

    memset(&al, 0, sizeof(al));
    al.alert_id = id;
    al.grouping_key = (char *)gkey;
    al.status = status;
    al.alarm_type = (char *)policy_alarm_name(st->alarm);
    al.queue_id = st->queue_id;
    al.queue_name = st->queue_name;
    al.media_type = st->media;
    al.priority = (char *)policy_priority(ctx->e->policy, st->queue_id, st->alarm);
    al.count = st->count;
    al.first_seen_ms = st->first_seen;
    al.last_seen_ms = st->last_seen;
    al.at_ms = at;
    al.conversation_id = (char *)ev.conversation_id;
    al.wait_ms = ev.wait_ms;
    al.threshold_ms = ev.threshold_ms;
    al.service_level = ev.service_level;
    al.target = ev.target;
    al.samples = ev.samples;
    al.message = message;
    al.description = description;
    al.tags = tags;
    al.ntags = st->media ? 3 : 2;
    al.detail_keys = (char **)d.keys;
    al.detail_values = d.vptr;
    al.ndetails = d.n;
    al.source_event_id = (char *)ev.source_event_id;
    if ((err = ctx->emit(&al, ctx->opaque)) && !ctx->err)
        ctx->err = err;
}
