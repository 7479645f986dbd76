/*
 * delivery_kafka.c — the Kafka side of the delivery loop: topics (the retry
 * chain and the dead-letter topic are created when missing, with the alerts
 * topic's partition count), the consumer group's rebalances, the parked
 * table's rebuild from the retry topics, partitions put back until their
 * records are due, stored offsets and lag, and the loop itself.
 *
 * On assignment it rebuilds the parked table by reading each assigned retry
 * partition from the group's committed offset to its end with a separate
 * assign()-only handle that never commits. On revocation it drains what is
 * under way and commits before giving partitions up. It must never commit
 * an offset that was not stored by delivery.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/log.h"
#include "notifier/delivery_internal.h"

#define DLV_REBUILD_TIMEOUT_MS 30000
#define DLV_SEEK_TIMEOUT_MS 2000
#define DLV_SEEK_RETRY_MS 200

int dlv_topic_index(const struct delivery *d, const char *topic)
{
    for (int i = 0; topic && i < d->ntopics; i++) {
        if (strcmp(d->topics[i], topic) == 0)
            return i;
    }
    return -1;
}

static rd_kafka_topic_partition_list_t *one_tp(const struct delivery *d, int topic,
                                               int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, d->topics[topic], partition)->offset = offset;
    return l;
}

void dlv_store_offset(struct delivery *d, int topic, int32_t partition,
                      int64_t next_offset)
{
    rd_kafka_topic_partition_list_t *l = one_tp(d, topic, partition, next_offset);
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(d->consumer, l);

    if (err) /* the partition went away: its new owner reads the record again */
        log_debug("offset not stored", LOG_S("topic", d->topics[topic]),
                  LOG_I("partition", partition), LOG_S("error", rd_kafka_err2str(err)));
    else
        d->commit_wanted = 1;
    rd_kafka_topic_partition_list_destroy(l);
}

#define DLV_COMMIT_STUCK_MS 10000
#define DLV_COMMIT_RETRY_MS 200

void dlv_commit_for_keys(struct delivery *d)
{
    int64_t now = clock_mono_ms();
    rd_kafka_resp_err_t err;

    if (d->commit_in_flight && now - d->commit_sent_mono > DLV_COMMIT_STUCK_MS)
        d->commit_in_flight = 0; /* no answer: ask again rather than wait forever */
    if (!d->commit_wanted || d->commit_in_flight || d->draining ||
        order_keys_held(d->keys) == 0 || now < d->commit_retry_mono)
        return;
    d->commit_wanted = 0;
    /* NULL: the stored offsets of the whole assignment; the answer comes
     * through on_commit from rd_kafka_consumer_poll(). */
    if ((err = rd_kafka_commit(d->consumer, NULL, 1)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            d->commit_wanted = 1;
            d->commit_retry_mono = now + DLV_COMMIT_RETRY_MS;
        }
        return;
    }
    d->commit_in_flight = 1;
    d->commit_sent_mono = now;
}

/* Every commit's outcome (ours, the periodic one, the one at revocation):
 * the committed offsets release the keys held on records below them. */
static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    struct delivery *d = opaque;
    int failed = err && err != RD_KAFKA_RESP_ERR__NO_OFFSET;

    (void)rk;
    d->commit_in_flight = 0;
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        int t = dlv_topic_index(d, tp->topic);
        if (tp->err || tp->offset < 0) {
            failed |= tp->err != RD_KAFKA_RESP_ERR_NO_ERROR;
            continue;
        }
        if (t >= 0)
            dlv_on_committed(d, t, tp->partition, tp->offset);
    }
    if (failed) { /* e.g. a rebalance under way: ask again a little later */
        log_debug("commit failed; asking again", LOG_S("error", rd_kafka_err2str(err)));
        d->commit_wanted = 1;
        d->commit_retry_mono = clock_mono_ms() + DLV_COMMIT_RETRY_MS;
    }
}

int dlv_is_put_back(const struct delivery *d, int topic, int32_t partition,
                    int64_t offset)
{
    for (size_t i = 0; i < d->npaused; i++) {
        const struct dlv_paused *p = &d->paused[i];
        if (p->topic == topic && p->partition == partition)
            return offset >= p->offset;
    }
    return 0;
}

/* A seek that timed out leaves librdkafka's fetch position unknown: the
 * partition stays paused (records past offset are still ignored) and the
 * seek is tried again from dlv_resume_due(); it resumes only after one
 * succeeded. Never fatal: it happens under load. */
static void seek_failed(struct delivery *d, struct dlv_paused *p, rd_kafka_error_t *error)
{
    int64_t now = clock_mono_ms();

    p->seek_pending = 1;
    p->seek_retry_mono = now + DLV_SEEK_RETRY_MS;
    if (now - d->seek_log_mono >= 1000) {
        d->seek_log_mono = now;
        log_warn("seek failed; trying again", LOG_S("topic", d->topics[p->topic]),
                 LOG_I("partition", p->partition), LOG_I("offset", p->offset),
                 LOG_S("error", rd_kafka_error_string(error)));
    }
    rd_kafka_error_destroy(error);
}

void dlv_put_back(struct delivery *d, int topic, int32_t partition, int64_t offset,
                  int64_t resume_ms)
{
    rd_kafka_topic_partition_list_t *l = one_tp(d, topic, partition, offset);
    rd_kafka_error_t *error;

    if (d->npaused == d->cappaused) {
        size_t cap = d->cappaused ? d->cappaused * 2 : 16;
        struct dlv_paused *np = realloc(d->paused, cap * sizeof(*np));
        if (!np) {
            d->fatal = 1;
            goto out;
        }
        d->paused = np;
        d->cappaused = cap;
    }
    /* Pause first, then seek (librdkafka#3471): the fetched queue is
     * dropped and the fetcher restarts at offset on resume. */
    rd_kafka_pause_partitions(d->consumer, l);
    d->paused[d->npaused] = (struct dlv_paused){ topic, partition, offset, resume_ms,
                                                 0, 0, "", 0 };
    if ((error = rd_kafka_seek_partitions(d->consumer, l, DLV_SEEK_TIMEOUT_MS)))
        seek_failed(d, &d->paused[d->npaused], error);
    d->npaused++;
    log_debug("partition waits", LOG_S("topic", d->topics[topic]),
              LOG_I("partition", partition), LOG_I("offset", offset),
              LOG_I("until", resume_ms));
out:
    rd_kafka_topic_partition_list_destroy(l);
}

int dlv_wait_for_key(struct delivery *d, const rd_kafka_message_t *msg, int topic,
                     int64_t orig)
{
    char key[sizeof(((struct dlv_paused *)0)->wait_key)];
    int level = 0;
    int64_t nb = 0, now = clock_wall_ms();

    if (topic < 1 || !msg->key || msg->key_len == 0 || msg->key_len >= sizeof(key) ||
        memchr(msg->key, '\0', msg->key_len))
        return 0;
    memcpy(key, msg->key, msg->key_len);
    key[msg->key_len] = '\0';
    for (size_t i = 0; i < d->nwaited; i++) {
        const struct dlv_waited *w = &d->waited[i];
        if (w->topic == topic && w->partition == msg->partition && w->offset == msg->offset) {
            d->waited[i] = d->waited[--d->nwaited];
            return 0; /* waited long enough: deferred this time */
        }
    }
    /* Busy: it queues behind the key. Not due yet: deferred with that due
     * time, read again only then. An older one in this very partition is
     * behind it (it would hold the key otherwise): deferred behind it. */
    if (order_key_busy(d->keys, key) ||
        !order_parked_blocker(d->keys, key, orig, &level, &nb) || nb > now ||
        order_parked_older_at(d->keys, key, orig, topic))
        return 0;
    dlv_put_back(d, topic, msg->partition, msg->offset, now + DLV_BLOCKED_WAIT_MS);
    if (d->npaused > 0 && d->paused[d->npaused - 1].offset == msg->offset &&
        d->paused[d->npaused - 1].topic == topic) {
        struct dlv_paused *p = &d->paused[d->npaused - 1];
        snprintf(p->wait_key, sizeof(p->wait_key), "%s", key);
        p->wait_orig = orig;
    }
    return 1;
}

void dlv_resume_due(struct delivery *d)
{
    int64_t now = clock_wall_ms();

    if (d->backpressure && d->held < DLV_MAX_HELD / 2)
        d->backpressure = 0;
    for (size_t i = 0; i < d->npaused;) {
        struct dlv_paused *p = &d->paused[i];
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_error_t *error;
        int cleared = p->wait_key[0] &&
                      !order_parked_blocker(d->keys, p->wait_key, p->wait_orig, NULL, NULL);

        if (p->seek_pending) {
            if (clock_mono_ms() < p->seek_retry_mono) {
                i++;
                continue;
            }
            l = one_tp(d, p->topic, p->partition, p->offset);
            error = rd_kafka_seek_partitions(d->consumer, l, DLV_SEEK_TIMEOUT_MS);
            rd_kafka_topic_partition_list_destroy(l);
            if (error) {
                seek_failed(d, p, error);
                i++;
                continue;
            }
            p->seek_pending = 0;
        }
        if (!cleared && (p->resume_ms ? p->resume_ms > now : d->backpressure)) {
            i++;
            continue;
        }
        if (p->wait_key[0] && !cleared) {
            if (d->nwaited == DLV_MAX_WAITED) /* forget the oldest: it waits once more */
                memmove(d->waited, d->waited + 1, --d->nwaited * sizeof(d->waited[0]));
            d->waited[d->nwaited++] = (struct dlv_waited){ p->topic, p->partition, p->offset };
        }
        l = one_tp(d, p->topic, p->partition, p->offset);
        rd_kafka_resume_partitions(d->consumer, l);
        rd_kafka_topic_partition_list_destroy(l);
        *p = d->paused[--d->npaused];
    }
}

void dlv_update_lag(struct delivery *d)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    char labels[RETRY_TOPIC_MAX + 64], part[16];

    if (rd_kafka_assignment(d->consumer, &l) || !l)
        return;
    rd_kafka_position(d->consumer, l);
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo = -1, hi = -1, pos = l->elems[i].offset;
        if (rd_kafka_get_watermark_offsets(d->consumer, l->elems[i].topic,
                                           l->elems[i].partition, &lo, &hi) || hi < 0)
            continue;
        if (pos < 0)
            pos = lo;
        snprintf(part, sizeof(part), "%d", (int)l->elems[i].partition);
        metrics_set(d->m_lag, metrics_labels(labels, sizeof(labels), "partition", part,
                    "topic", l->elems[i].topic, NULL), hi > pos ? (double)(hi - pos) : 0);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Reads the retry partitions of `assigned` from the committed offsets to
 * their ends, adding each record to the parked table. */
static void rebuild_parked(struct delivery *d,
                           const rd_kafka_topic_partition_list_t *assigned)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    struct kq_consumer_opts opts = { .group_id = d->conf.group_id };
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk = NULL;
    int64_t *end = NULL, deadline = clock_mono_ms() + DLV_REBUILD_TIMEOUT_MS;
    int left = 0;
    size_t found = 0;
    char err[512];

    for (int i = 0; i < assigned->cnt; i++) {
        int t = dlv_topic_index(d, assigned->elems[i].topic);
        if (t >= 1 && t <= (int)d->conf.ndelays)
            rd_kafka_topic_partition_list_add(l, assigned->elems[i].topic,
                                              assigned->elems[i].partition);
    }
    if (l->cnt == 0)
        goto out;
    if (!(conf = kq_conf_new(d->conf.cfg, "qalert-notifier-rebuild", err, sizeof(err))) ||
        !(rk = kq_consumer_new(conf, &opts, err, sizeof(err))) ||
        !(end = calloc((size_t)l->cnt, sizeof(*end)))) {
        log_error("cannot rebuild the parked table", LOG_S("reason", err));
        goto out;
    }
    if (rd_kafka_committed(rk, l, 10000))
        log_warn("committed offsets unknown; reading retry topics from the start");
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        if (rd_kafka_query_watermark_offsets(rk, tp->topic, tp->partition, &lo, &hi, 5000))
            lo = hi = 0;
        end[i] = hi;
        if (tp->offset < lo)
            tp->offset = lo;
        if (tp->offset < hi)
            left++;
        else
            tp->offset = RD_KAFKA_OFFSET_END; /* nothing parked here */
    }
    if (left > 0 && rd_kafka_assign(rk, l)) {
        log_error("cannot read the retry topics to rebuild the parked table");
        goto out;
    }
    while (left > 0 && clock_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        rd_kafka_headers_t *hdrs = NULL;
        struct retry_header_kv kv[32];
        struct retry_headers rh;
        const char *name;
        const void *value;
        size_t n = 0, len;
        char key[1024];

        if (!m)
            continue;
        int t = dlv_topic_index(d, rd_kafka_topic_name(m->rkt));
        for (int i = 0; !m->err && i < l->cnt; i++) {
            if (strcmp(l->elems[i].topic, rd_kafka_topic_name(m->rkt)) ||
                l->elems[i].partition != m->partition || l->elems[i].offset < 0)
                continue;
            if (m->offset + 1 >= end[i]) {
                l->elems[i].offset = RD_KAFKA_OFFSET_END;
                left--;
            }
        }
        memset(&rh, 0, sizeof(rh));
        if (!m->err && rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            for (size_t i = 0; n < 32 &&
                 !rd_kafka_header_get_all(hdrs, i, &name, &value, &len); i++) {
                if (strncmp(name, "qalert-", 7) == 0)
                    kv[n++] = (struct retry_header_kv){ name, value, len };
            }
            retry_headers_parse(kv, n, &rh, NULL, 0);
        }
        if (!m->err && t > 0 && m->key && m->key_len > 0 && m->key_len < sizeof(key) &&
            !memchr(m->key, '\0', m->key_len)) {
            memcpy(key, m->key, m->key_len);
            key[m->key_len] = '\0';
            order_parked_add(d->keys, key,
                             (rh.present & RETRY_HAS_ORIGINAL_OFFSET) ? rh.original_offset : -1,
                             t, rh.not_before_ms);
            found++;
        }
        rd_kafka_message_destroy(m);
    }
    if (left > 0)
        log_warn("parked table incomplete: retry topics not read to the end in time",
                 LOG_I("partitions_left", left));
    log_info("parked records rebuilt", LOG_I("records", found),
             LOG_I("partitions", l->cnt));
out:
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    free(end);
    rd_kafka_topic_partition_list_destroy(l);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct delivery *d = opaque;
    char labels[RETRY_TOPIC_MAX + 64], part[16];

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        d->npaused = d->nwaited = 0;
        d->backpressure = 0;
        order_keys_clear(d->keys, 1, NULL, NULL); /* empty after a revoke anyway */
        rebuild_parked(d, parts);
        rd_kafka_assign(rk, parts);
        atomic_store(&d->joined, 1);
        log_info("partitions assigned", LOG_I("partitions", parts->cnt),
                 LOG_I("parked", order_parked_count(d->keys, NULL)));
        return;
    }
    /* Revoked: finish what is under way, commit, then let go. */
    dlv_drain(d, clock_mono_ms() + d->conf.http_timeout_ms + 2000);
    rd_kafka_commit(rk, NULL, 0);
    for (int i = 0; i < parts->cnt; i++) {
        snprintf(part, sizeof(part), "%d", (int)parts->elems[i].partition);
        metrics_remove(d->m_lag, metrics_labels(labels, sizeof(labels), "partition", part,
                       "topic", parts->elems[i].topic, NULL));
    }
    rd_kafka_assign(rk, NULL);
    d->npaused = d->nwaited = 0;
    d->draining = d->stopping;
    log_info("partitions revoked", LOG_I("partitions", parts->cnt));
}

enum qa_err dlv_kafka_setup(struct delivery *d, char *errstr, size_t errstr_size)
{
    struct kq_topic topics[DLV_MAX_TOPICS];
    struct kq_consumer_opts opts = { .group_id = d->conf.group_id, .auto_commit = 1 };
    rd_kafka_conf_t *conf;
    char why[512];
    int nparts;

    if (!(conf = kq_conf_new(d->conf.cfg, "qalert-notifier", errstr, errstr_size)))
        return QA_ERR_INVALID;
    rd_kafka_conf_set_dr_msg_cb(conf, dlv_on_produced);
    rd_kafka_conf_set_opaque(conf, d);
    if (!(d->producer = kq_producer_new(conf, NULL, errstr, errstr_size)))
        return QA_ERR_KAFKA;
    nparts = kq_partition_count(d->producer, d->topics[0], 10000, why, sizeof(why));
    if (nparts <= 0) {
        /* The processor normally creates it; the chain mirrors its layout. */
        log_warn("alerts topic not found; creating it", LOG_S("topic", d->topics[0]),
                 LOG_S("reason", why));
        nparts = 3;
    }
    for (int i = 0; i < d->ntopics; i++)
        topics[i] = (struct kq_topic){ d->topics[i], nparts, 0 };
    if (kq_create_topics(d->producer, topics, (size_t)d->ntopics, 1, 15000, errstr,
                         errstr_size))
        return QA_ERR_KAFKA;
    for (int i = 0; i < d->ntopics; i++) {
        d->partitions[i] = kq_partition_count(d->producer, d->topics[i], 10000, why,
                                              sizeof(why));
        if (d->partitions[i] <= 0)
            return qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "%s", why);
    }
    if (!(conf = kq_conf_new(d->conf.cfg, "qalert-notifier", errstr, errstr_size)))
        return QA_ERR_INVALID;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
    rd_kafka_conf_set_opaque(conf, d);
    /* Stored offsets are committed every second and on close (an operator's
     * QALERT_KAFKA_AUTO_COMMIT_INTERVAL_MS is kept: 5000 is librdkafka's own). */
    if (kq_conf_default(conf, "auto.commit.interval.ms", "5000", "1000", errstr, errstr_size)) {
        rd_kafka_conf_destroy(conf);
        return QA_ERR_INVALID;
    }
    if (!(d->consumer = kq_consumer_new(conf, &opts, errstr, errstr_size)))
        return QA_ERR_KAFKA;
    return QA_OK;
}
