/*
 * sla_level.c — service_level_low: the sliding window of acd.end samples
 * and queue statistics readings (SPEC §6).
 *
 * A sample at t counts while the watermark is before t + window; the ratio
 * is compared with the policy's target for the queue and media. It must
 * never count a sample whose wait is unknown as within or not (sla.h).
 */
#include "processor/sla_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Drops samples that have left the window at `now`, then compares the ratio
 * with the target. Frees w when it empties. */
static void evaluate_window(struct sla_ctx *ctx, const char *gkey, struct sla_window *w,
                            int64_t now, int64_t at, bool is_sample)
{
    struct sla_engine *e = ctx->e;
    struct sla_alert_state *st = sla_map_get(&e->alerts, gkey);
    struct policy_sla pol;
    struct sla_evidence evd;
    size_t gone = 0, within = 0;
    bool low;

    while (gone < w->n && w->s[gone].t + e->o.sl_window_ms <= now)
        gone++;
    if (gone) {
        memmove(w->s, w->s + gone, (w->n - gone) * sizeof(*w->s));
        w->n -= gone;
        sla_note(ctx, sla_mark(e, "slw", gkey));
    }
    for (size_t i = 0; i < w->n; i++)
        within += w->s[i].within;
    policy_lookup(e->policy, w->queue_id, w->media, &pol);
    sla_evidence_init(&evd);
    evd.samples = (int64_t)w->n;
    evd.service_level = w->n ? (double)within / (double)w->n : NAN;
    evd.target = pol.target;
    evd.threshold_ms = pol.duration_ms;
    evd.source_event_id = ctx->event_id;
    /* the epsilon keeps 8/10 against a target of 0.8 "not low" whatever
     * rounding the division and the per-cent conversion did */
    low = w->n > 0 && (int64_t)w->n >= e->o.sl_min_samples &&
          evd.service_level < pol.target - 1e-9;
    if (low) {
        if (is_sample || !st || !st->sl_low) {
            st = sla_observe(ctx, gkey, POLICY_SERVICE_LEVEL_LOW, w->queue_id, NULL, w->media,
                         at, &evd);
            if (st && !st->sl_low) {
                st->sl_low = true;
                sla_note(ctx, sla_mark(e, "alert", gkey));
            }
        }
    } else if (st && st->sl_low) {
        st->sl_low = false;
        sla_note(ctx, sla_mark(e, "alert", gkey));
        sla_maybe_resolve(ctx, gkey, st, at, &evd);
    }
    if (w->n == 0) {
        sla_window_free(sla_map_remove(&e->windows, gkey));
        sla_note(ctx, sla_mark(e, "slw", gkey));
    }
}

void sla_add_sample(struct sla_ctx *ctx, const char *queue_id, const char *media,
                       int64_t t, bool within)
{
    struct sla_engine *e = ctx->e;
    char *gkey = NULL;
    struct sla_window *w;
    size_t i;

    if (t + e->o.sl_window_ms <= e->wm)
        return; /* late beyond the window: it would have left already */
    if (!(gkey = sla_grouping_key(queue_id, POLICY_SERVICE_LEVEL_LOW, media)))
        goto nomem;
    if (!(w = sla_map_get(&e->windows, gkey))) {
        while (e->windows.count >= e->o.max_keys && e->windows.head) {
            sla_mark(e, "slw", e->windows.head->key);
            sla_window_free(sla_map_remove_entry(&e->windows, e->windows.head));
            e->evictions++;
        }
        if (!(w = calloc(1, sizeof(*w))) || !(w->queue_id = strdup(queue_id)) ||
            (media && !(w->media = strdup(media))) || sla_map_put(&e->windows, gkey, w)) {
            sla_window_free(w);
            goto nomem;
        }
    }
    if (w->n > 0 && w->n >= e->o.max_window_samples) {
        memmove(w->s, w->s + 1, (w->n - 1) * sizeof(*w->s));
        w->n--;
        e->evictions++;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        struct sla_sample *s = realloc(w->s, cap * sizeof(*s));
        if (!s)
            goto nomem;
        w->s = s;
        w->cap = cap;
    }
    for (i = w->n; i > 0 && w->s[i - 1].t > t; i--)
        ;
    memmove(w->s + i + 1, w->s + i, (w->n - i) * sizeof(*w->s));
    w->s[i] = (struct sla_sample){ t, within };
    w->n++;
    sla_note(ctx, sla_mark(e, "slw", gkey));
    sla_note(ctx, sla_heap_push(&e->timers, t + e->o.sl_window_ms, SLA_T_SL_EXPIRE, gkey));
    evaluate_window(ctx, gkey, w, e->wm, t, true);
    free(gkey);
    return;
nomem:
    free(gkey);
    sla_note(ctx, QA_ERR_NOMEM);
}

void sla_on_expire_timer(struct sla_ctx *ctx, const char *gkey, int64_t at)
{
    struct sla_window *w = sla_map_get(&ctx->e->windows, gkey);

    if (!w || w->n == 0 || w->s[0].t + ctx->e->o.sl_window_ms > at)
        return; /* nothing leaves at this time any more */
    evaluate_window(ctx, gkey, w, at, at, false);
}

void sla_on_stats(struct sla_ctx *ctx, const struct raw_event *ev, const char *media,
                     int64_t t)
{
    struct sla_alert_state *st;
    struct sla_evidence evd;
    char *gkey = sla_grouping_key(ev->queue_id, POLICY_SERVICE_LEVEL_LOW, media);

    if (!gkey) {
        sla_note(ctx, QA_ERR_NOMEM);
        return;
    }
    sla_evidence_init(&evd);
    evd.service_level = ev->sla_percentage / 100.0;
    evd.target = ev->target_sla / 100.0;
    evd.wait_ms = ev->wait_ms;
    evd.source_event_id = ev->event_id;
    if (ev->sla_percentage < ev->target_sla) {
        st = sla_observe(ctx, gkey, POLICY_SERVICE_LEVEL_LOW, ev->queue_id, ev->queue_name, media,
                     t, &evd);
        if (st && !st->qs_low) {
            st->qs_low = true;
            sla_note(ctx, sla_mark(ctx->e, "alert", gkey));
        }
    } else if ((st = sla_map_get(&ctx->e->alerts, gkey)) && st->qs_low) {
        st->qs_low = false;
        sla_note(ctx, sla_mark(ctx->e, "alert", gkey));
        sla_maybe_resolve(ctx, gkey, st, t, &evd);
    }
    free(gkey);
}

