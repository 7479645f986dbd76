/*
 * sla.c — the SLA engine's event and timer logic (SPEC §6; rules in sla.h).
 *
 * Every decision is a function of the events and the watermark alone, so a
 * replay, a dry run and an engine restored from its changelog all emit the
 * same alerts. It must never read a clock, do I/O or log: the processor
 * does those around it.
 */
#include "processor/sla_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void sla_options_default(struct sla_options *o)
{
    o->dedup_window_ms = 3600000;
    o->resolve_after_ms = 300000;
    o->sl_window_ms = 900000;
    o->sl_min_samples = 10;
    o->max_conversations = 100000;
    o->max_seen_ids = 1000000;
    o->max_keys = 10000;
    o->max_window_samples = 10000;
}

struct sla_engine *sla_engine_new(const struct policy *p, const struct sla_options *o)
{
    struct sla_engine *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->policy = p;
    if (o)
        e->o = *o;
    else
        sla_options_default(&e->o);
    e->wm = SLA_NONE;
    return e;
}

void sla_conv_free(void *p)
{
    struct sla_conv *c = p;
    if (!c)
        return;
    free(c->queue_id);
    free(c->media);
    free(c->start_event_id);
    free(c);
}

void sla_alert_state_free(void *p)
{
    struct sla_alert_state *st = p;
    if (!st)
        return;
    free(st->queue_id);
    free(st->queue_name);
    free(st->media);
    free(st->conversation_id);
    free(st);
}

void sla_window_free(void *p)
{
    struct sla_window *w = p;
    if (!w)
        return;
    free(w->queue_id);
    free(w->media);
    free(w->s);
    free(w);
}

static void seen_free(void *p)
{
    free(p);
}

void sla_engine_free(struct sla_engine *e)
{
    if (!e)
        return;
    sla_map_clear(&e->waiting, sla_conv_free);
    sla_map_clear(&e->ended, sla_conv_free);
    sla_map_clear(&e->alerts, sla_alert_state_free);
    sla_map_clear(&e->windows, sla_window_free);
    sla_map_clear(&e->seen, seen_free);
    sla_seen_free(e);
    sla_map_clear(&e->dirty, NULL);
    sla_heap_clear(&e->timers);
    free(e);
}

int64_t sla_engine_watermark(const struct sla_engine *e)
{
    return e->wm == SLA_NONE ? CODEC_ABSENT : e->wm;
}

void sla_engine_stats(const struct sla_engine *e, struct sla_stats *out)
{
    out->open_conversations = e->waiting.count;
    out->ended_conversations = e->ended.count;
    out->open_alerts = e->alerts.count;
    out->sl_windows = e->windows.count;
    out->seen_ids = e->seen.count;
    out->pending_changes = e->dirty.count;
    out->evictions = e->evictions;
    out->watermark_ms = sla_engine_watermark(e);
}

/* a + sep + b (b may be NULL: a alone). Caller frees. */
static char *join(const char *a, const char *sep, const char *b)
{
    size_t la = strlen(a), ls = b ? strlen(sep) : 0, lb = b ? strlen(b) : 0;
    char *s = malloc(la + ls + lb + 1);

    if (!s)
        return NULL;
    memcpy(s, a, la);
    if (b) {
        memcpy(s + la, sep, ls);
        memcpy(s + la + ls, b, lb);
    }
    s[la + ls + lb] = '\0';
    return s;
}

enum qa_err sla_mark(struct sla_engine *e, const char *prefix, const char *id)
{
    char buf[256], *key = buf;
    size_t lp, li;
    enum qa_err err = QA_OK;

    if (e->restoring)
        return QA_OK;
    /* called for nearly every event: the key is built on the stack unless
     * an id is longer than any Genesys one */
    lp = strlen(prefix);
    li = id ? strlen(id) : 0;
    if (lp + 1 + li >= sizeof(buf) && !(key = join(prefix, ":", id)))
        return QA_ERR_NOMEM;
    if (key == buf) {
        memcpy(buf, prefix, lp);
        if (id) {
            buf[lp] = ':';
            memcpy(buf + lp + 1, id, li);
            lp += 1 + li;
        }
        buf[lp] = '\0';
    }
    if (!sla_map_find(&e->dirty, key))
        err = sla_map_put(&e->dirty, key, NULL);
    if (key != buf)
        free(key);
    return err;
}

void sla_note(struct sla_ctx *ctx, enum qa_err err)
{
    if (err && !ctx->err)
        ctx->err = err;
}

/* Genesys' media types are upper case; flat events send "voice". Caller
 * frees; NULL for none. */
static char *upper_dup(const char *s)
{
    char *u;

    if (!s || !*s || !(u = strdup(s)))
        return NULL;
    for (char *p = u; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return u;
}

/* "<queueId>:<alarmType>[:<MEDIA>]". Caller frees. */
char *sla_grouping_key(const char *queue_id, enum policy_alarm alarm, const char *media)
{
    char *qa = join(queue_id, ":", policy_alarm_name(alarm)), *k;

    if (!qa)
        return NULL;
    k = join(qa, ":", media);
    free(qa);
    return k;
}

/* gkey may be the map's own key: mark before it is freed. */
static void drop_alert(struct sla_engine *e, const char *gkey)
{
    sla_mark(e, "alert", gkey);
    sla_alert_state_free(sla_map_remove(&e->alerts, gkey));
}

/* A new occurrence of the alarm at `at`: FIRING when no alert is open for
 * the key, else count and last-seen only. NULL when out of memory. */
struct sla_alert_state *sla_observe(struct sla_ctx *ctx, const char *gkey,
                                       enum policy_alarm alarm, const char *queue_id,
                                       const char *event_queue_name, const char *media,
                                       int64_t at, const struct sla_evidence *evd)
{
    struct sla_engine *e = ctx->e;
    struct sla_alert_state *st = sla_map_get(&e->alerts, gkey);
    struct policy_sla pol;

    if (st) {
        st->count++;
        if (at > st->last_seen)
            st->last_seen = at;
        sla_note(ctx, sla_mark(e, "alert", gkey));
        return st;
    }
    while (e->alerts.count >= e->o.max_keys && e->alerts.head) {
        drop_alert(e, e->alerts.head->key);
        e->evictions++;
    }
    policy_lookup(e->policy, queue_id, media, &pol);
    if (!(st = calloc(1, sizeof(*st))))
        goto nomem;
    st->alarm = alarm;
    st->queue_id = strdup(queue_id);
    st->queue_name = pol.queue_name ? strdup(pol.queue_name)
                     : event_queue_name ? strdup(event_queue_name) : NULL;
    st->media = media ? strdup(media) : NULL;
    st->conversation_id = evd->conversation_id ? strdup(evd->conversation_id) : NULL;
    if (!st->queue_id || (media && !st->media) ||
        (evd->conversation_id && !st->conversation_id) ||
        (!st->queue_name && (pol.queue_name || event_queue_name)))
        goto nomem;
    st->first_seen = st->last_seen = st->last_at = at;
    st->count = 1;
    st->wait_ms = evd->wait_ms;
    st->threshold_ms = evd->threshold_ms;
    st->samples = evd->samples;
    st->service_level = evd->service_level;
    st->target = evd->target;
    st->flat_until = SLA_NONE;
    if (sla_map_put(&e->alerts, gkey, st) != QA_OK)
        goto nomem;
    sla_note(ctx, sla_mark(e, "alert", gkey));
    sla_alert_emit(ctx, gkey, st, ALERT_FIRING, at, evd);
    return st;
nomem:
    sla_alert_state_free(st);
    sla_note(ctx, QA_ERR_NOMEM);
    return NULL;
}

/* RESOLVED once nothing holds the alert open; at never before its FIRING. */
void sla_maybe_resolve(struct sla_ctx *ctx, const char *gkey, struct sla_alert_state *st,
                          int64_t at, const struct sla_evidence *evd)
{
    if (st->breaching > 0 || st->flat_until != SLA_NONE || st->sl_low || st->qs_low)
        return;
    if (at < st->last_at)
        at = st->last_at;
    sla_alert_emit(ctx, gkey, st, ALERT_RESOLVED, at, evd);
    drop_alert(ctx->e, gkey);
}

/* A breaching conversation stops waiting (answered, abandoned, evicted). */
static void breach_cleared(struct sla_ctx *ctx, const char *conv_id, const struct sla_conv *c,
                           int64_t at, int64_t wait_ms)
{
    char *gkey = sla_grouping_key(c->queue_id, POLICY_WAIT_SLA_BREACH, c->media);
    struct sla_alert_state *st;
    struct sla_evidence evd;

    if (!gkey) {
        sla_note(ctx, QA_ERR_NOMEM);
        return;
    }
    st = sla_map_get(&ctx->e->alerts, gkey);
    if (st && st->breaching > 0) {
        st->breaching--;
        sla_note(ctx, sla_mark(ctx->e, "alert", gkey));
        sla_evidence_init(&evd);
        evd.conversation_id = conv_id;
        evd.wait_ms = wait_ms;
        evd.threshold_ms = c->threshold_ms;
        evd.source_event_id = ctx->event_id;
        sla_maybe_resolve(ctx, gkey, st, at, &evd);
    }
    free(gkey);
}

/* Remembers an ended conversation for the dedup window (bounded). */
static void remember_ended(struct sla_ctx *ctx, const char *conv_id)
{
    struct sla_engine *e = ctx->e;
    struct sla_conv *c;

    while (e->ended.count >= e->o.max_conversations && e->ended.head) {
        sla_mark(e, "conv", e->ended.head->key);
        sla_conv_free(sla_map_remove_entry(&e->ended, e->ended.head));
        e->evictions++;
    }
    if (!(c = calloc(1, sizeof(*c)))) {
        sla_note(ctx, QA_ERR_NOMEM);
        return;
    }
    c->ended = true;
    c->ended_at = e->wm;
    if (sla_map_put(&e->ended, conv_id, c) != QA_OK) {
        free(c);
        sla_note(ctx, QA_ERR_NOMEM);
        return;
    }
    sla_note(ctx, sla_mark(e, "conv", conv_id));
}

static void on_breach_timer(struct sla_ctx *ctx, const char *conv_id, int64_t at)
{
    struct sla_conv *c = sla_map_get(&ctx->e->waiting, conv_id);
    struct sla_alert_state *st;
    struct sla_evidence evd;
    char *gkey;

    if (!c || c->breached || c->start_ms + c->threshold_ms != at)
        return; /* answered, evicted, or a stale timer */
    if (!(gkey = sla_grouping_key(c->queue_id, POLICY_WAIT_SLA_BREACH, c->media))) {
        sla_note(ctx, QA_ERR_NOMEM);
        return;
    }
    c->breached = true;
    sla_note(ctx, sla_mark(ctx->e, "conv", conv_id));
    sla_evidence_init(&evd);
    evd.conversation_id = conv_id;
    evd.wait_ms = c->threshold_ms;
    evd.threshold_ms = c->threshold_ms;
    evd.source_event_id = c->start_event_id;
    st = sla_observe(ctx, gkey, POLICY_WAIT_SLA_BREACH, c->queue_id, NULL, c->media, at, &evd);
    if (st)
        st->breaching++;
    free(gkey);
}

static void on_flat_timer(struct sla_ctx *ctx, const char *gkey, int64_t at)
{
    struct sla_alert_state *st = sla_map_get(&ctx->e->alerts, gkey);
    struct sla_evidence evd;

    if (!st || st->flat_until != at)
        return;
    st->flat_until = SLA_NONE;
    sla_note(ctx, sla_mark(ctx->e, "alert", gkey));
    sla_evidence_init(&evd);
    evd.threshold_ms = st->threshold_ms;
    sla_maybe_resolve(ctx, gkey, st, at, &evd);
}

/* Fires every timer at or before `limit`, earliest first. */
static void fire_due(struct sla_ctx *ctx, int64_t limit)
{
    const struct sla_timer *next;
    struct sla_timer t;
    const char *saved = ctx->event_id;

    ctx->event_id = NULL; /* a timer is nobody's event */
    while ((next = sla_heap_peek(&ctx->e->timers)) && next->at <= limit &&
           sla_heap_pop(&ctx->e->timers, &t)) {
        switch (t.type) {
        case SLA_T_BREACH: on_breach_timer(ctx, t.key, t.at); break;
        case SLA_T_FLAT: on_flat_timer(ctx, t.key, t.at); break;
        case SLA_T_SL_EXPIRE: sla_on_expire_timer(ctx, t.key, t.at); break;
        }
        free(t.key);
    }
    ctx->event_id = saved;
}

static enum qa_err purge_expired(struct sla_engine *e)
{
    enum qa_err err;

    if (e->wm == SLA_NONE)
        return QA_OK;
    err = sla_seen_purge(e);
    while (e->ended.head &&
           ((struct sla_conv *)e->ended.head->value)->ended_at + e->o.dedup_window_ms <= e->wm) {
        sla_mark(e, "conv", e->ended.head->key);
        sla_conv_free(sla_map_remove_entry(&e->ended, e->ended.head));
    }
    return err;
}

static void on_start(struct sla_ctx *ctx, const struct raw_event *ev, const char *media,
                     int64_t t)
{
    struct sla_engine *e = ctx->e;
    struct sla_conv *c;
    struct policy_sla pol;
    const char *id = ev->conversation_id;

    if (sla_map_find(&e->waiting, id) || sla_map_find(&e->ended, id))
        return; /* a repeated start, or one whose end came first */
    while (e->waiting.count >= e->o.max_conversations && e->waiting.head) {
        struct sla_map_entry *old = e->waiting.head;
        struct sla_conv *oc = old->value;
        e->evictions++;
        if (oc->breached)
            breach_cleared(ctx, old->key, oc, e->wm, e->wm - oc->start_ms);
        sla_mark(e, "conv", old->key);
        sla_conv_free(sla_map_remove_entry(&e->waiting, old));
    }
    policy_lookup(e->policy, ev->queue_id, media, &pol);
    if (!(c = calloc(1, sizeof(*c))) || !(c->queue_id = strdup(ev->queue_id)) ||
        (media && !(c->media = strdup(media))) ||
        (ev->event_id && !(c->start_event_id = strdup(ev->event_id))))
        goto nomem;
    c->start_ms = t;
    c->threshold_ms = pol.duration_ms;
    if (sla_map_put(&e->waiting, id, c) != QA_OK)
        goto nomem;
    sla_note(ctx, sla_mark(e, "conv", id));
    sla_note(ctx, sla_heap_push(&e->timers, t + c->threshold_ms, SLA_T_BREACH, id));
    return;
nomem:
    sla_conv_free(c);
    sla_note(ctx, QA_ERR_NOMEM);
}

static void on_end(struct sla_ctx *ctx, const struct raw_event *ev, const char *media,
                   int64_t t)
{
    struct sla_engine *e = ctx->e;
    const char *id = ev->conversation_id;
    struct sla_map_entry *en = sla_map_find(&e->waiting, id);
    const char *outcome = ev->acd_outcome;
    bool answered = outcome && strcasecmp(outcome, "ANSWERED") == 0;
    bool abandoned = outcome && strcasecmp(outcome, "ABANDON") == 0;

    if (en) {
        struct sla_conv *c = en->value;
        int64_t wait = t > c->start_ms ? t - c->start_ms : 0;
        char *conv_id = strdup(id);
        if (!conv_id) {
            sla_note(ctx, QA_ERR_NOMEM);
            return;
        }
        if (c->breached)
            breach_cleared(ctx, conv_id, c, t, wait);
        if (answered || abandoned)
            sla_add_sample(ctx, c->queue_id, c->media, t, answered && wait <= c->threshold_ms);
        sla_conv_free(sla_map_remove(&e->waiting, conv_id));
        remember_ended(ctx, conv_id);
        free(conv_id);
        return;
    }
    if (sla_map_find(&e->ended, id))
        return; /* a repeated end */
    remember_ended(ctx, id);
    /* start unknown: an abandon is a sample whatever its wait; an answer is
     * not, its wait is unknown (sla.h) */
    if (abandoned)
        sla_add_sample(ctx, ev->queue_id, media, t, false);
}

static void on_flat(struct sla_ctx *ctx, const struct raw_event *ev, const char *media,
                    int64_t t)
{
    struct sla_engine *e = ctx->e;
    struct sla_alert_state *st;
    struct sla_evidence evd;
    char *gkey;
    int64_t until = t + e->o.resolve_after_ms;

    if (ev->wait_ms <= ev->sla_ms)
        return; /* within SLA: nothing, and not a service-level sample */
    if (!(gkey = sla_grouping_key(ev->queue_id, POLICY_WAIT_SLA_BREACH, media))) {
        sla_note(ctx, QA_ERR_NOMEM);
        return;
    }
    sla_evidence_init(&evd);
    evd.conversation_id = ev->conversation_id;
    evd.wait_ms = ev->wait_ms;
    evd.threshold_ms = ev->sla_ms;
    evd.source_event_id = ev->event_id;
    st = sla_observe(ctx, gkey, POLICY_WAIT_SLA_BREACH, ev->queue_id, ev->queue_name, media, t,
                 &evd);
    if (st && (st->flat_until == SLA_NONE || until > st->flat_until)) {
        st->flat_until = until;
        sla_note(ctx, sla_heap_push(&e->timers, until, SLA_T_FLAT, gkey));
    }
    free(gkey);
}

/* Whether the engine can use the event at all (fields it needs present). */
static bool usable(const struct raw_event *ev)
{
    if (!ev->queue_id || !*ev->queue_id)
        return false;
    switch (ev->kind) {
    case RAW_ACD_START:
    case RAW_ACD_END:
        return ev->conversation_id && *ev->conversation_id;
    case RAW_FLAT_WAIT:
        return ev->wait_ms != CODEC_ABSENT && ev->sla_ms != CODEC_ABSENT && ev->sla_ms >= 0;
    case RAW_QUEUE_STATS:
        return isfinite(ev->sla_percentage) && isfinite(ev->target_sla);
    case RAW_OTHER:
        break;
    }
    return false;
}

enum qa_err sla_engine_process(struct sla_engine *e, const struct raw_event *ev,
                               sla_emit_fn emit, void *opaque, enum sla_outcome *outcome,
                               char *errstr, size_t errstr_size)
{
    struct sla_ctx ctx = { e, emit, opaque, QA_OK, NULL };
    enum sla_outcome out = SLA_APPLIED;
    int64_t t;
    bool use;
    char *media = NULL;

    if (!e || !ev)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "sla: no engine or event");
    t = ev->event_time_ms != CODEC_ABSENT ? ev->event_time_ms : ev->received_ms;
    use = usable(ev);
    /* nothing to do but after a restore: a block's record keeps the ids
     * that expired after it was written, and they are not seen (sla_seen.c) */
    sla_note(&ctx, purge_expired(e));
    if (use && ev->event_id && sla_map_find(&e->seen, ev->event_id)) {
        out = SLA_DUPLICATE;
        goto out;
    }
    if (t == CODEC_ABSENT || t < 0 || t > SLA_MAX_TIME) {
        out = SLA_IGNORED; /* cannot be placed in time */
        goto out;
    }
    if (e->wm == SLA_NONE || t > e->wm) {
        e->wm = t;
        sla_note(&ctx, sla_mark(e, "wm", NULL));
    }
    fire_due(&ctx, t - 1);
    if (!use) {
        out = SLA_IGNORED;
    } else {
        ctx.event_id = ev->event_id;
        if (ev->event_id)
            sla_note(&ctx, sla_seen_remember(e, ev->event_id));
        media = upper_dup(ev->media_type);
        if (ev->media_type && *ev->media_type && !media)
            sla_note(&ctx, QA_ERR_NOMEM);
        switch (ev->kind) {
        case RAW_ACD_START: on_start(&ctx, ev, media, t); break;
        case RAW_ACD_END: on_end(&ctx, ev, media, t); break;
        case RAW_FLAT_WAIT: on_flat(&ctx, ev, media, t); break;
        case RAW_QUEUE_STATS: sla_on_stats(&ctx, ev, media, t); break;
        case RAW_OTHER: break;
        }
        ctx.event_id = NULL;
    }
    fire_due(&ctx, e->wm);
    sla_note(&ctx, purge_expired(e));
out:
    free(media);
    if (outcome)
        *outcome = out;
    if (ctx.err)
        qa_errf(errstr, errstr_size, ctx.err, "sla: %s while processing an event",
                ctx.err == QA_ERR_NOMEM ? "out of memory" : "an alert was not emitted");
    return ctx.err;
}

enum qa_err sla_engine_advance(struct sla_engine *e, int64_t watermark_ms, sla_emit_fn emit,
                               void *opaque, char *errstr, size_t errstr_size)
{
    struct sla_ctx ctx = { e, emit, opaque, QA_OK, NULL };

    if (watermark_ms > SLA_MAX_TIME)
        watermark_ms = SLA_MAX_TIME;
    if (watermark_ms < 0 || (e->wm != SLA_NONE && watermark_ms <= e->wm))
        return QA_OK;
    e->wm = watermark_ms;
    sla_note(&ctx, sla_mark(e, "wm", NULL));
    fire_due(&ctx, e->wm);
    sla_note(&ctx, purge_expired(e));
    if (ctx.err)
        qa_errf(errstr, errstr_size, ctx.err, "sla: %s while advancing the watermark",
                ctx.err == QA_ERR_NOMEM ? "out of memory" : "an alert was not emitted");
    return ctx.err;
}
