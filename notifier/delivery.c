/*
 * delivery.c — one record's way through the notifier: taken from a topic,
 * held behind its grouping key, sent to the sink at the configured pace,
 * judged by retry_classify(), then done: delivered, or forwarded unchanged
 * to the next retry topic / the dead-letter topic once Kafka acknowledged
 * the copy. Only then is its offset stored (the lowest open one of its
 * partition, order.h).
 *
 * Order per grouping key: one record of a key at a time, the next one only
 * once the group's commit has passed the previous one (so a crash replays
 * at most a key's last record), and a record whose key has an older record
 * parked in the retry chain does not go to the sink but follows it into the
 * chain ("deferred"), keeping its own attempt count.
 *
 * It must never store an offset before the record is done, never drop a
 * record (an undecodable one is dead-lettered), and never log a URL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "notifier/delivery_internal.h"
#include "notifier/sinks/opsgenie.h"

static void dispatch(struct delivery *d, struct dlv_rec *r);

static char *dup_bytes(const void *p, size_t n)
{
    char *s = malloc(n + 1);

    if (s) {
        if (n)
            memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

void dlv_rec_free(struct delivery *d, struct dlv_rec *r)
{
    if (!r)
        return;
    free(r->key);
    free(r->kkey);
    free(r->value);
    if (r->headers)
        rd_kafka_headers_destroy(r->headers);
    codec_alert_clear(&r->al);
    free(r);
    d->held--;
}

static void read_retry_headers(const rd_kafka_message_t *msg, struct retry_headers *out)
{
    rd_kafka_headers_t *hdrs = NULL;
    struct retry_header_kv kv[32];
    size_t n = 0;
    const char *name;
    const void *value;
    size_t len;
    char why[256];

    memset(out, 0, sizeof(*out));
    if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    for (size_t i = 0; n < 32 && !rd_kafka_header_get_all(hdrs, i, &name, &value, &len); i++) {
        if (strncmp(name, "qalert-", 7) != 0)
            continue;
        kv[n].name = name;
        kv[n].value = value;
        kv[n].value_len = len;
        n++;
    }
    if (retry_headers_parse(kv, n, out, why, sizeof(why)))
        log_warn("bad retry header ignored", LOG_S("reason", why));
}

static struct dlv_rec *rec_new(struct delivery *d, const rd_kafka_message_t *msg,
                               int topic, const struct retry_headers *rh)
{
    struct dlv_rec *r = calloc(1, sizeof(*r));
    rd_kafka_headers_t *hdrs = NULL;
    char why[256];

    if (!r)
        return NULL;
    d->held++;
    r->topic = topic;
    r->partition = msg->partition;
    r->offset = msg->offset;
    r->rh = *rh;
    r->orig = topic == 0 ? msg->offset
            : (rh->present & RETRY_HAS_ORIGINAL_OFFSET) ? rh->original_offset : -1;
    r->orig_partition = topic == 0 ? msg->partition
            : (rh->present & RETRY_HAS_ORIGINAL_PARTITION) ? rh->original_partition
            : msg->partition;
    if (!(r->rh.present & RETRY_HAS_ATTEMPT))
        r->rh.attempt = topic; /* retry.n holds the n-th attempt */
    if (msg->key && (!(r->kkey = dup_bytes(msg->key, msg->key_len))))
        goto nomem;
    r->kkey_len = msg->key_len;
    /* A key with a NUL byte cannot be one grouping key: no order for it. */
    if (msg->key && msg->key_len > 0 && !memchr(msg->key, '\0', msg->key_len) &&
        !(r->key = dup_bytes(msg->key, msg->key_len)))
        goto nomem;
    if (!(r->value = dup_bytes(msg->payload, msg->payload ? msg->len : 0)))
        goto nomem;
    r->value_len = msg->payload ? msg->len : 0;
    if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        !(r->headers = rd_kafka_headers_copy(hdrs)))
        goto nomem;
    if (codec_decode_alert(r->value, r->value_len, &r->al, why, sizeof(why)) == QA_OK &&
        r->al.grouping_key)
        r->decoded = 1;
    else
        snprintf(r->error, sizeof(r->error), "undecodable alert: %s",
                 r->al.grouping_key || !*why ? why : "no grouping key");
    return r;
nomem:
    dlv_rec_free(d, r);
    return NULL;
}

/* The record is done: store what that allows. Its key is not handed on
 * yet: the next record of the key goes only once the group's commit has
 * passed this one (dlv_on_committed), so that a crash can replay a key's
 * last record only, never one the sink has seen followed by a newer one (a
 * replayed FIRING after its RESOLVED would open a second OpsGenie alert). */
static void finish(struct delivery *d, struct dlv_rec *r)
{
    int64_t next = order_offsets_done(d->offsets, r->topic, r->partition, r->offset);
    struct dlv_rec *waiting = NULL;

    if (next >= 0)
        dlv_store_offset(d, r->topic, r->partition, next);
    if (r->key && !d->draining &&
        order_key_hold(d->keys, r->key, r->topic, r->partition, r->offset) != QA_OK)
        waiting = order_key_release(d->keys, r->key); /* not busy: nothing to hold */
    dlv_rec_free(d, r);
    if (waiting)
        dispatch(d, waiting);
}

static void dispatch_item(void *item, void *ctx)
{
    dispatch(ctx, item);
}

void dlv_on_committed(struct delivery *d, int topic, int32_t partition,
                      int64_t next_offset)
{
    if (!d->draining)
        order_keys_committed(d->keys, topic, partition, next_offset, dispatch_item, d);
}

static void produce(struct delivery *d, struct dlv_rec *r)
{
    struct retry_headers h = r->rh;
    struct retry_header_set set;
    rd_kafka_headers_t *hdrs;
    rd_kafka_resp_err_t err;
    int32_t part = r->orig_partition;
    static const char *const names[] = {
        RETRY_H_ATTEMPT, RETRY_H_NOT_BEFORE, RETRY_H_ERROR, RETRY_H_ORIGINAL_TOPIC,
        RETRY_H_ORIGINAL_PARTITION, RETRY_H_ORIGINAL_OFFSET, RETRY_H_FIRST_FAILURE,
    };

    if (r->deferred) {
        /* Not a failure: attempt and first-failure stay as they were. */
        h.not_before_ms = r->dest_not_before;
        h.present |= RETRY_HAS_ATTEMPT | RETRY_HAS_NOT_BEFORE;
        if (!(h.present & RETRY_HAS_ERROR)) {
            snprintf(h.error, sizeof(h.error), "%s", r->error);
            h.present |= RETRY_HAS_ERROR;
        }
        if (!(h.present & RETRY_HAS_ORIGINAL_TOPIC)) {
            snprintf(h.original_topic, sizeof(h.original_topic), "%s", d->topics[r->topic]);
            h.original_partition = r->partition;
            h.original_offset = r->offset;
            h.present |= RETRY_HAS_ORIGINAL_TOPIC | RETRY_HAS_ORIGINAL_PARTITION |
                         RETRY_HAS_ORIGINAL_OFFSET;
        }
    } else {
        struct retry_dest dest = {
            r->dest > (int)d->conf.ndelays ? RETRY_DEST_DLQ : RETRY_DEST_RETRY,
            r->rh.attempt + 1 > RETRY_MAX_ATTEMPT ? RETRY_MAX_ATTEMPT : r->rh.attempt + 1,
            r->dest_not_before,
        };
        if (dest.kind == RETRY_DEST_RETRY)
            dest.attempt = r->dest;
        retry_headers_on_failure(&h, &dest, r->error, d->topics[r->topic], r->partition,
                                 r->offset, clock_wall_ms());
    }
    retry_headers_build(&h, &set);
    hdrs = r->headers ? rd_kafka_headers_copy(r->headers) : rd_kafka_headers_new(8);
    for (size_t i = 0; hdrs && i < sizeof(names) / sizeof(names[0]); i++)
        rd_kafka_header_remove(hdrs, names[i]);
    for (size_t i = 0; hdrs && i < set.n; i++)
        rd_kafka_header_add(hdrs, set.kv[i].name, -1, set.kv[i].value,
                            (ssize_t)set.kv[i].value_len);
    /* Same partition number as on the alerts topic: a key's whole chain then
     * belongs to the consumer that owns its alerts partition (range assignor). */
    if (part < 0 || part >= d->partitions[r->dest])
        part = RD_KAFKA_PARTITION_UA;
    for (;;) {
        err = rd_kafka_producev(d->producer, RD_KAFKA_V_TOPIC(d->topics[r->dest]),
                                RD_KAFKA_V_PARTITION(part),
                                RD_KAFKA_V_KEY(r->kkey, r->kkey_len),
                                RD_KAFKA_V_VALUE(r->value, r->value_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(r),
                                RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(d->producer, 100);
    }
    if (err) {
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        /* Nothing is lost: the offset is not stored, a restart reads it again. */
        log_error("cannot forward a record", LOG_S("topic", d->topics[r->dest]),
                  LOG_S("error", rd_kafka_err2str(err)));
        d->fatal = 1;
        dlv_rec_free(d, r);
        return;
    }
    d->producing++;
}

static void forward(struct delivery *d, struct dlv_rec *r, int dest, int64_t not_before)
{
    r->dest = dest;
    r->dest_not_before = not_before;
    produce(d, r);
}

/* Deferrals come in bursts (a busy key behind a retried record): one info
 * line a second with the count left out, the rest at debug. */
static void log_deferred(struct delivery *d, const struct dlv_rec *r)
{
    int64_t now = clock_mono_ms();

    if (now - d->defer_log_mono < 1000) {
        d->defer_log_skipped++;
        log_debug("deferred behind an older record of its key", LOG_S("key", r->key),
                  LOG_S("topic", d->topics[r->dest]), LOG_I("not_before", r->dest_not_before));
        return;
    }
    log_info("deferred behind an older record of its key", LOG_S("key", r->key),
             LOG_S("topic", d->topics[r->dest]), LOG_I("attempt", r->rh.attempt),
             LOG_I("not_before", r->dest_not_before),
             LOG_I("more_since_last_line", d->defer_log_skipped));
    d->defer_log_mono = now;
    d->defer_log_skipped = 0;
}

void dlv_on_produced(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct delivery *d = opaque;
    struct dlv_rec *r = msg->_private;
    const char *outcome;
    char labels[128];

    d->producing--;
    if (msg->err) {
        if (d->draining) { /* cut short: read again after the restart */
            dlv_rec_free(d, r);
            return;
        }
        log_warn("forwarding failed; trying again", LOG_S("topic", d->topics[r->dest]),
                 LOG_S("error", rd_kafka_err2str(msg->err)));
        produce(d, r);
        return;
    }
    if (r->key && r->dest <= (int)d->conf.ndelays)
        order_parked_add(d->keys, r->key, r->orig, r->dest, r->dest_not_before);
    if (r->key && r->topic > 0)
        order_parked_remove(d->keys, r->key, r->orig);
    outcome = r->deferred ? NULL : r->dest > (int)d->conf.ndelays ? "dead_lettered" : "retried";
    if (outcome) {
        metrics_inc(d->m_deliveries, metrics_labels(labels, sizeof(labels), "outcome",
                    outcome, "sink", d->conf.sink_name, NULL), 1);
    }
    if (r->deferred)
        log_deferred(d, r);
    else
        log_info(r->dest > (int)d->conf.ndelays ? "dead-lettered" : "will retry",
                 LOG_S("key", r->key), LOG_S("topic", d->topics[r->dest]),
                 LOG_I("attempt", r->rh.attempt), LOG_I("not_before", r->dest_not_before),
                 LOG_S("error", r->error));
    finish(d, r);
}

/* Sends r to the sink, or defers it behind an older record of its key. */
static void dispatch(struct delivery *d, struct dlv_rec *r)
{
    int level = 0;
    int64_t nb = 0, now = clock_wall_ms();

    if (!r->decoded) {
        forward(d, r, (int)d->conf.ndelays + 1, now);
        return;
    }
    if (r->key && order_parked_blocker(d->keys, r->key, r->orig, &level, &nb)) {
        if (level < 1 || level > (int)d->conf.ndelays)
            level = (int)d->conf.ndelays;
        r->deferred = 1;
        snprintf(r->error, sizeof(r->error),
                 "deferred: an older record of this key is in the retry chain");
        forward(d, r, level, nb > now ? nb : now);
        return;
    }
    dlv_sendq_add(d, r);
}

void dlv_on_message(struct delivery *d, rd_kafka_message_t *msg)
{
    struct retry_headers rh;
    struct dlv_rec *r;
    int topic;

    if (msg->err) {
        if (msg->err == RD_KAFKA_RESP_ERR__FATAL)
            d->fatal = 1;
        log_warn("consumer error", LOG_S("error", rd_kafka_err2str(msg->err)),
                 LOG_S("detail", rd_kafka_message_errstr(msg)));
        return;
    }
    topic = dlv_topic_index(d, rd_kafka_topic_name(msg->rkt));
    if (topic < 0 || topic > (int)d->conf.ndelays ||
        dlv_is_put_back(d, topic, msg->partition, msg->offset))
        return;
    memset(&rh, 0, sizeof(rh));
    if (topic > 0) {
        read_retry_headers(msg, &rh);
        /* Not due: read it again then. The partition waits, the loop not. */
        if ((rh.present & RETRY_HAS_NOT_BEFORE) && rh.not_before_ms > clock_wall_ms()) {
            dlv_put_back(d, topic, msg->partition, msg->offset, rh.not_before_ms);
            return;
        }
        if (dlv_wait_for_key(d, msg, topic, (rh.present & RETRY_HAS_ORIGINAL_OFFSET)
                                            ? rh.original_offset : -1))
            return;
    }
    if (d->held >= DLV_MAX_HELD) {
        d->backpressure = 1;
        dlv_put_back(d, topic, msg->partition, msg->offset, 0);
        return;
    }
    if (!(r = rec_new(d, msg, topic, &rh))) {
        log_error("out of memory; reading the record again later");
        dlv_put_back(d, topic, msg->partition, msg->offset, clock_wall_ms() + 1000);
        return;
    }
    if (order_offsets_begin(d->offsets, topic, r->partition, r->offset)) {
        log_warn("record seen twice; ignored", LOG_S("topic", d->topics[topic]),
                 LOG_I("partition", r->partition), LOG_I("offset", r->offset));
        dlv_rec_free(d, r);
        return;
    }
    if (r->key && order_key_busy(d->keys, r->key)) {
        if (order_key_wait(d->keys, r->key, r) == QA_OK)
            return;
        d->fatal = 1;
        dlv_rec_free(d, r);
        return;
    }
    if (r->key && order_key_acquire(d->keys, r->key)) {
        d->fatal = 1;
        dlv_rec_free(d, r);
        return;
    }
    dispatch(d, r);
}

static enum qa_err build(struct delivery *d, struct dlv_rec *r, struct sink_request *req,
                         enum sink_api *api, char *errstr, size_t errstr_size)
{
    const char *channel = NULL, *ts = NULL;

    if (d->conf.sink == DELIVERY_OPSGENIE) {
        *api = SINK_API_OPSGENIE;
        return sink_opsgenie_request(&r->al, d->conf.opsgenie_url, d->conf.opsgenie_key,
                                     req, errstr, errstr_size);
    }
    if (!sink_slack_use_web_api(&d->conf.slack)) {
        *api = SINK_API_SLACK_WEBHOOK;
        return sink_slack_request(&r->al, &d->conf.slack, NULL, req, errstr, errstr_size);
    }
    *api = SINK_API_SLACK_WEB;
    if (r->stage == 1)
        return sink_slack_update_request(&r->al, &d->conf.slack, r->upd_channel,
                                         r->upd_ts, req, errstr, errstr_size);
    if (r->al.status == ALERT_RESOLVED &&
        sink_thread_map_get(d->threads, r->al.grouping_key, &channel, &ts)) {
        snprintf(r->upd_channel, sizeof(r->upd_channel), "%s", channel);
        snprintf(r->upd_ts, sizeof(r->upd_ts), "%s", ts);
    }
    return sink_slack_request(&r->al, &d->conf.slack, r->upd_ts[0] ? r->upd_ts : NULL,
                              req, errstr, errstr_size);
}

void dlv_start(struct delivery *d, struct dlv_rec *r)
{
    struct sink_request req;
    struct sink_result res;
    enum sink_api api = SINK_API_OPSGENIE;
    char why[256];

    memset(&req, 0, sizeof(req));
    if (build(d, r, &req, &api, why, sizeof(why))) {
        snprintf(r->error, sizeof(r->error), "cannot build the request: %s", why);
        forward(d, r, (int)d->conf.ndelays + 1, clock_wall_ms());
        return;
    }
    r->sent_mono = clock_mono_ms();
    if (http_submit(d->http, &req, api, r, why, sizeof(why))) {
        sink_result_transport(&res, SINK_TRANSPORT_CONNECT, why);
        sink_request_clear(&req);
        dlv_on_http(d, r, &res);
        return;
    }
    log_debug("sending", LOG_S("request", req.what), LOG_S("key", r->key),
              LOG_I("attempt", r->rh.attempt));
    sink_request_clear(&req);
    metrics_set(d->m_in_flight, NULL, (double)http_in_flight(d->http));
}

static void delivered(struct delivery *d, struct dlv_rec *r, const struct sink_result *res)
{
    char labels[128];

    if (r->stage == 0 && d->conf.sink == DELIVERY_SLACK && res->ts[0]) {
        if (r->al.status == ALERT_FIRING) {
            sink_thread_map_put(d->threads, r->al.grouping_key,
                                res->channel[0] ? res->channel : d->conf.slack.channel,
                                res->ts);
        } else if (r->upd_ts[0] && !d->draining) {
            r->stage = 1; /* turn the FIRING message green */
            dlv_start(d, r);
            return;
        }
    }
    if (r->al.status == ALERT_RESOLVED && d->threads)
        sink_thread_map_remove(d->threads, r->al.grouping_key);
    if (r->key && r->topic > 0)
        order_parked_remove(d->keys, r->key, r->orig);
    metrics_inc(d->m_deliveries, metrics_labels(labels, sizeof(labels), "outcome",
                "delivered", "sink", d->conf.sink_name, NULL), 1);
    log_info("delivered", LOG_S("key", r->key), LOG_S("status",
             codec_status_name(r->al.status)), LOG_I("attempt", r->rh.attempt),
             LOG_S("alert_id", r->al.alert_id));
    finish(d, r);
}

void dlv_on_http(void *ctx, void *opaque, const struct sink_result *res)
{
    struct delivery *d = ctx;
    struct dlv_rec *r = opaque;
    struct retry_dest dest;
    char labels[64];
    int64_t now = clock_wall_ms();

    metrics_observe(d->m_seconds, metrics_labels(labels, sizeof(labels), "sink",
                    d->conf.sink_name, NULL),
                    (double)(clock_mono_ms() - r->sent_mono) / 1000.0);
    metrics_set(d->m_in_flight, NULL, (double)http_in_flight(d->http));
    if (r->stage == 1) {
        /* The reply is posted; a failed update only leaves the FIRING red:
         * retrying would post the reply twice. */
        if (retry_classify(res, r->error, sizeof(r->error)) != RETRY_DELIVERED)
            log_warn("chat.update failed", LOG_S("key", r->key), LOG_S("error", r->error));
        r->stage = 2;
        delivered(d, r, res);
        return;
    }
    if (res->retry_after_ms > 0) {
        /* About the sink, not the record: everything waits. */
        d->sink_paused_until = clock_mono_ms() + res->retry_after_ms;
        atomic_store(&d->sink_paused_wall, (long long)(now + res->retry_after_ms));
        log_warn("sink asked to wait", LOG_I("retry_after_ms", res->retry_after_ms));
    }
    dlv_hold_if_ambiguous(d, r, res);
    switch (retry_classify(res, r->error, sizeof(r->error))) {
    case RETRY_DELIVERED:
        delivered(d, r, res);
        return;
    case RETRY_AGAIN:
        retry_next(r->rh.attempt, d->conf.delays, d->conf.ndelays, now,
                   res->retry_after_ms, &dest);
        forward(d, r, dest.kind == RETRY_DEST_DLQ ? (int)d->conf.ndelays + 1 : dest.attempt,
                dest.not_before_ms);
        return;
    case RETRY_DEAD_LETTER:
        forward(d, r, (int)d->conf.ndelays + 1, now);
        return;
    }
}

static void gone(void *ctx, void *opaque)
{
    dlv_rec_free(ctx, opaque);
}

static void gone_item(void *item, void *ctx)
{
    dlv_rec_free(ctx, item);
}

void dlv_drain(struct delivery *d, int64_t deadline_mono)
{
    d->draining = 1;
    while ((http_in_flight(d->http) > 0 || d->producing > 0) &&
           clock_mono_ms() < deadline_mono) {
        http_poll(d->http, 50, dlv_on_http, d);
        rd_kafka_poll(d->producer, 0);
    }
    if (http_in_flight(d->http) > 0) {
        log_warn("abandoning requests in flight; they are read again later",
                 LOG_I("requests", http_in_flight(d->http)));
        http_cancel_all(d->http, gone, d);
    }
    if (d->producing > 0) {
        rd_kafka_purge(d->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        for (int i = 0; i < 20 && d->producing > 0; i++)
            rd_kafka_poll(d->producer, 100);
    }
    dlv_sendq_clear(d);
    order_keys_clear(d->keys, 1, gone_item, d);
    order_offsets_clear(d->offsets);
    metrics_set(d->m_in_flight, NULL, 0);
}
