/*
 * delivery_sendq.c — the notifier's send queue: records ready for the sink
 * wait here for the pace (QALERT_SINK_RATE, a token bucket), a free place
 * among QALERT_NOTIFIER_CONCURRENCY requests in flight, the end of a sink's
 * Retry-After, and the end of their key's hold after an ambiguous attempt
 * (holds.h), which parks them in a side list while other keys go on.
 *
 * Exists to keep when a record may go apart from what happens to it
 * (delivery.c). It never reorders the records of one key: only one is
 * under way per key (order.h), so a parked record has no sibling behind it.
 */
#include "common/clock.h"
#include "common/log.h"
#include "notifier/delivery_internal.h"

static void append(struct dlv_rec **head, struct dlv_rec **tail, struct dlv_rec *r)
{
    r->next = NULL;
    if (*tail)
        (*tail)->next = r;
    else
        *head = r;
    *tail = r;
}

void dlv_sendq_add(struct delivery *d, struct dlv_rec *r)
{
    append(&d->sendq_head, &d->sendq_tail, r);
}

void dlv_release_later(struct delivery *d)
{
    struct dlv_rec *r = d->later_head, *keep = NULL, *keep_tail = NULL;
    int64_t now;

    if (!r)
        return;
    now = clock_mono_ms();
    d->later_head = d->later_tail = NULL;
    while (r) {
        struct dlv_rec *next = r->next;
        if (key_holds_until(d->holds, r->key, now))
            append(&keep, &keep_tail, r);
        else
            append(&d->sendq_head, &d->sendq_tail, r);
        r = next;
    }
    d->later_head = keep;
    d->later_tail = keep_tail;
}

/* After a timeout or a failed connection the sink may still apply the
 * request; the key's next request waits one more HTTP timeout (holds.h). */
void dlv_hold_if_ambiguous(struct delivery *d, const struct dlv_rec *r,
                           const struct sink_result *res)
{
    int64_t now = clock_mono_ms();

    if (!r->key || (res->transport != SINK_TRANSPORT_TIMEOUT &&
                    res->transport != SINK_TRANSPORT_CONNECT))
        return;
    /* Refused only with HOLDS_MAX keys held at once (a sink down for many
     * keys): the record goes on unheld; debug, or an outage floods the log. */
    if (key_holds_set(d->holds, r->key, now + d->conf.http_timeout_ms, now) != QA_OK)
        log_debug("cannot hold the key after an ambiguous attempt", LOG_S("key", r->key));
}

void dlv_pump(struct delivery *d)
{
    double cap = d->conf.rate >= 1 ? d->conf.rate : 1;

    while (d->sendq_head && !d->draining &&
           http_in_flight(d->http) < (size_t)d->conf.concurrency) {
        int64_t now = clock_mono_ms();
        struct dlv_rec *r;

        if (now < d->sink_paused_until)
            return;
        r = d->sendq_head;
        if (r->key && key_holds_until(d->holds, r->key, now)) {
            d->sendq_head = r->next;
            if (!d->sendq_head)
                d->sendq_tail = NULL;
            append(&d->later_head, &d->later_tail, r);
            continue;
        }
        d->tokens += (double)(now - d->tokens_mono) * d->conf.rate / 1000.0;
        d->tokens_mono = now;
        if (d->tokens > cap)
            d->tokens = cap;
        if (d->tokens < 1)
            return;
        d->tokens -= 1;
        r = d->sendq_head;
        d->sendq_head = r->next;
        if (!d->sendq_head)
            d->sendq_tail = NULL;
        r->next = NULL;
        dlv_start(d, r);
    }
}

void dlv_sendq_clear(struct delivery *d)
{
    while (d->sendq_head) {
        struct dlv_rec *r = d->sendq_head;
        d->sendq_head = r->next;
        dlv_rec_free(d, r);
    }
    d->sendq_tail = NULL;
    while (d->later_head) {
        struct dlv_rec *r = d->later_head;
        d->later_head = r->next;
        dlv_rec_free(d, r);
    }
    d->later_tail = NULL;
}
