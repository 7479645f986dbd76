/*
 * loop.c — see loop.h.
 *
 * One transaction gathers the work of up to commit_interval_ms: for each raw
 * record, the engine of its partition emits alerts (produced to the alerts
 * topic) and changes its state; at commit time every engine's changed state
 * entries go to the state topic (same partition number as the raw one) and
 * the consumer positions go in with send_offsets_to_transaction. The alerts,
 * the state and the offsets become visible together or not at all.
 */
#include "loop.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changelog.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/metrics.h"
#include "sla_policy_swap.h"

struct part {
    struct sla_engine *engine; /* NULL when not assigned */
    int64_t next_offset;       /* to commit; -1 when nothing consumed yet */
    int64_t last_record_mono;  /* when its last record arrived */
    int64_t wm_at_last_record; /* its watermark then */
};

struct proc {
    const struct cfg *cfg;
    struct proc_options o;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    struct changelog *changelog;
    struct part *parts;
    int nparts;
    int in_txn;
    int64_t txn_started_mono;
    rd_kafka_topic_t *warm[2];  /* alerts, state: keep their metadata known */
    int64_t txn_records;
    volatile int ready;
    volatile int restoring;
    int fatal;
    char fatal_reason[256];
    double last_evictions;
    /* metrics */
    struct metrics_family *m_events, *m_emitted, *m_open, *m_lag, *m_txn,
        *m_restored, *m_evictions;
};

/* Marks the loop failed: what (a fixed phrase) and the library's detail. */
static void proc_fail(struct proc *p, const char *what, const char *detail)
{
    p->fatal = 1;
    /* A cut reason is still a reason: the check only marks the cut. */
    if (snprintf(p->fatal_reason, sizeof(p->fatal_reason), "%s: %s", what, detail) >=
        (int)sizeof(p->fatal_reason))
        memcpy(p->fatal_reason + sizeof(p->fatal_reason) - 4, "...", 4);
}

/* --- producing ------------------------------------------------------- */

/* librdkafka's local queue can be momentarily full: serve delivery reports
 * and try again rather than losing the record (the transaction would then
 * fail to commit anyway). */
static rd_kafka_resp_err_t produce(struct proc *p, const char *topic,
                                   int32_t partition, const void *key,
                                   size_t klen, const void *value, size_t vlen,
                                   rd_kafka_headers_t *hdrs)
{
    rd_kafka_resp_err_t err;

    rd_kafka_vu_t vu[6] = {
        { .vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = topic },
        { .vtype = RD_KAFKA_VTYPE_PARTITION, .u.i32 = partition },
        { .vtype = RD_KAFKA_VTYPE_KEY, .u.mem = { (void *)key, klen } },
        { .vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = { (void *)value, vlen } },
        { .vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY },
        { .vtype = RD_KAFKA_VTYPE_HEADERS, .u.headers = hdrs },
    };
    for (int tries = 0;; tries++) {
        rd_kafka_error_t *e = rd_kafka_produceva(p->producer, vu, hdrs ? 6 : 5);
        err = e ? rd_kafka_error_code(e) : RD_KAFKA_RESP_ERR_NO_ERROR;
        if (e)
            rd_kafka_error_destroy(e);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries > 500)
            break;
        rd_kafka_poll(p->producer, 10);
    }
    if (err && hdrs)
        rd_kafka_headers_destroy(hdrs); /* ownership passes only on success */
    return err;
}

static int begin_txn(struct proc *p);

/* sla_emit_fn: an alert goes into the open transaction, begun here when the
 * engine emits outside one (a timer fired by an idle advance), so idle
 * partitions cost no transaction at all. */
static enum qa_err emit_alert(const struct alert *al, void *opaque)
{
    struct proc *p = opaque;
    uint8_t *buf = NULL;
    size_t len = 0;
    char errstr[256], labels[128];
    rd_kafka_headers_t *hdrs;
    rd_kafka_resp_err_t err;

    if (begin_txn(p))
        return QA_ERR_KAFKA;
    if (codec_encode_alert(al, &buf, &len, errstr, sizeof(errstr))) {
        proc_fail(p, "encoding an alert", errstr);
        return QA_ERR_INVALID;
    }
    hdrs = rd_kafka_headers_new(3);
    kq_header_add(hdrs, "qalert-status", codec_status_name(al->status));
    kq_header_add(hdrs, "qalert-alarm-type", al->alarm_type);
    kq_header_add(hdrs, "qalert-alert-id", al->alert_id);
    err = produce(p, p->o.topic_alerts, RD_KAFKA_PARTITION_UA, al->grouping_key,
                  strlen(al->grouping_key), buf, len, hdrs);
    free(buf);
    if (err) {
        proc_fail(p, "producing an alert", rd_kafka_err2str(err));
        return QA_ERR_KAFKA;
    }
    metrics_inc(p->m_emitted,
                metrics_labels(labels, sizeof(labels), "alarm_type", al->alarm_type,
                               "status", codec_status_name(al->status), NULL),
                1);
    log_info("alert", LOG_S("status", codec_status_name(al->status)),
             LOG_S("grouping_key", al->grouping_key), LOG_S("alert_id", al->alert_id),
             LOG_I("at_ms", al->at_ms));
    return QA_OK;
}

struct drain_ctx {
    struct proc *p;
    int32_t partition;
};

static enum qa_err emit_state(const void *key, size_t klen, const void *value,
                              size_t vlen, void *opaque)
{
    struct drain_ctx *d = opaque;
    rd_kafka_resp_err_t err = produce(d->p, d->p->o.topic_state, d->partition,
                                      key, klen, value, value ? vlen : 0, NULL);
    if (err) {
        proc_fail(d->p, "producing state", rd_kafka_err2str(err));
        return QA_ERR_KAFKA;
    }
    return QA_OK;
}

/* sla_change_fn for restored entries: already in the changelog. */
static enum qa_err discard_change(const void *key, size_t klen, const void *value,
                                  size_t vlen, void *opaque)
{
    return QA_OK;
}

/* --- transactions ---------------------------------------------------- */

static int begin_txn(struct proc *p)
{
    rd_kafka_error_t *e;

    if (p->in_txn)
        return 0;
    if (p->fatal)
        return -1;
    e = rd_kafka_begin_transaction(p->producer);
    if (e) {
        proc_fail(p, "begin_transaction", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return -1;
    }
    p->in_txn = 1;
    p->txn_started_mono = clock_mono_ms();
    p->txn_records = 0;
    return 0;
}

static void restore_all(struct proc *p);

/* Aborts the open transaction and puts the consumer and the engines back to
 * what the last committed transaction says. */
static void abort_and_rewind(struct proc *p, const char *why)
{
    rd_kafka_error_t *e;
    rd_kafka_topic_partition_list_t *assigned = NULL;

    log_warn("aborting transaction", LOG_S("reason", why));
    metrics_inc(p->m_txn, "outcome=\"aborted\"", 1);
    e = rd_kafka_abort_transaction(p->producer, -1);
    if (e) {
        if (rd_kafka_error_is_fatal(e))
            proc_fail(p, "abort_transaction", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    p->in_txn = 0;
    if (rd_kafka_assignment(p->consumer, &assigned) == 0 && assigned->cnt > 0) {
        if (rd_kafka_committed(p->consumer, assigned, 10000) == 0) {
            for (int i = 0; i < assigned->cnt; i++) {
                if (assigned->elems[i].offset < 0)
                    assigned->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
            }
            rd_kafka_error_t *se = rd_kafka_seek_partitions(p->consumer, assigned, 10000);
            if (se)
                rd_kafka_error_destroy(se);
        }
    }
    if (assigned)
        rd_kafka_topic_partition_list_destroy(assigned);
    restore_all(p);
}

/* Drains state, sends offsets, commits. Returns 0 when committed (or when
 * nothing needed committing), -1 after an abort or on a fatal error. */
static int commit_txn(struct proc *p)
{
    rd_kafka_topic_partition_list_t *offsets;
    rd_kafka_consumer_group_metadata_t *cgmd;
    rd_kafka_error_t *e = NULL;
    int rc = 0;
    int64_t t0 = clock_mono_ms();

    if (!p->in_txn)
        return 0;
    for (int i = 0; i < p->nparts; i++) {
        struct drain_ctx d = { p, i };
        char errstr[256];
        if (p->parts[i].engine &&
            sla_engine_drain_changes(p->parts[i].engine, emit_state, &d, errstr,
                                     sizeof(errstr)))
            proc_fail(p, "draining state", errstr);
    }
    if (p->fatal)
        return -1;
    offsets = rd_kafka_topic_partition_list_new(p->nparts > 0 ? p->nparts : 1);
    for (int i = 0; i < p->nparts; i++) {
        if (p->parts[i].engine && p->parts[i].next_offset >= 0)
            rd_kafka_topic_partition_list_add(offsets, p->o.topic_raw, i)->offset =
                p->parts[i].next_offset;
    }
    if (offsets->cnt > 0) {
        cgmd = rd_kafka_consumer_group_metadata(p->consumer);
        e = rd_kafka_send_offsets_to_transaction(p->producer, offsets, cgmd, -1);
        rd_kafka_consumer_group_metadata_destroy(cgmd);
    }
    rd_kafka_topic_partition_list_destroy(offsets);
    for (int attempt = 0; !e; attempt++) {
        e = rd_kafka_commit_transaction(p->producer, -1);
        if (!e) {
            p->in_txn = 0;
            metrics_inc(p->m_txn, "outcome=\"committed\"", 1);
            log_debug("transaction committed", LOG_I("ms", clock_mono_ms() - t0),
                      LOG_I("records", p->txn_records));
            for (int i = 0; i < p->nparts; i++)
                p->parts[i].next_offset = -1;
            return 0;
        }
        if (!rd_kafka_error_is_retriable(e) || attempt > 5)
            break;
        rd_kafka_error_destroy(e);
        e = NULL;
    }
    if (rd_kafka_error_txn_requires_abort(e)) {
        char why[256];
        snprintf(why, sizeof(why), "%s", rd_kafka_error_string(e));
        abort_and_rewind(p, why);
        rc = -1;
    } else {
        proc_fail(p, "commit_transaction", rd_kafka_error_string(e));
        rc = -1;
    }
    rd_kafka_error_destroy(e);
    return rc;
}

/* --- partitions and state -------------------------------------------- */

static int ensure_parts(struct proc *p, int n)
{
    if (n <= p->nparts)
        return 0;
    struct part *np = realloc(p->parts, sizeof(*np) * (size_t)n);
    if (!np)
        return -1;
    for (int i = p->nparts; i < n; i++)
        memset(&np[i], 0, sizeof(np[i]));
    p->parts = np;
    p->nparts = n;
    return 0;
}

static void apply_state(void *opaque, const void *key, size_t klen,
                        const void *value, size_t vlen)
{
    char errstr[256];
    if (sla_engine_restore(opaque, key, klen, value, vlen, errstr, sizeof(errstr)))
        log_warn("unreadable state entry skipped", LOG_S("error", errstr));
}

static int restore_part(struct proc *p, int32_t i)
{
    char errstr[512];
    int64_t records = 0;
    int64_t t0 = clock_mono_ms();
    struct part *pt = &p->parts[i];

    if (pt->engine)
        sla_engine_free(pt->engine);
    pt->engine = sla_engine_new(p->o.policy, &p->o.sla);
    if (!pt->engine) {
        proc_fail(p, "creating an SLA engine", "out of memory");
        return -1;
    }
    if (changelog_restore(p->changelog, i, p->o.restore_timeout_ms, apply_state,
                          pt->engine, &records, errstr, sizeof(errstr))) {
        proc_fail(p, "restoring state", errstr);
        return -1;
    }
    if (sla_engine_restore_finish(pt->engine, errstr, sizeof(errstr))) {
        proc_fail(p, "restoring state", errstr);
        return -1;
    }
    /* Restored entries are already in the changelog: nothing to re-send. */
    sla_engine_drain_changes(pt->engine, discard_change, NULL, errstr, sizeof(errstr));
    pt->next_offset = -1;
    pt->last_record_mono = clock_mono_ms();
    pt->wm_at_last_record = sla_engine_watermark(pt->engine);
    metrics_inc(p->m_restored, NULL, (double)records);
    log_info("partition restored", LOG_S("topic", p->o.topic_state), LOG_I("partition", i),
             LOG_I("records", records), LOG_I("ms", clock_mono_ms() - t0),
             LOG_I("watermark_ms", pt->wm_at_last_record));
    return 0;
}

static void restore_all(struct proc *p)
{
    for (int i = 0; i < p->nparts && !p->fatal; i++) {
        if (p->parts[i].engine)
            restore_part(p, i);
    }
}

static void drop_all(struct proc *p)
{
    char labels[128];
    for (int i = 0; i < p->nparts; i++) {
        if (p->parts[i].engine) {
            sla_engine_free(p->parts[i].engine);
            p->parts[i].engine = NULL;
            snprintf(labels, sizeof(labels), "topic=\"%s\",partition=\"%d\"",
                     p->o.topic_raw, i);
            metrics_remove(p->m_lag, labels);
        }
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct proc *p = opaque;

    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        p->ready = 0;
        p->restoring = 1;
        for (int i = 0; i < parts->cnt; i++) {
            int32_t part = parts->elems[i].partition;
            if (ensure_parts(p, part + 1) || restore_part(p, part))
                break;
        }
        p->restoring = 0;
        log_info("partitions assigned", LOG_I("count", parts->cnt));
        rd_kafka_assign(rk, parts);
        p->ready = !p->fatal;
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        p->ready = 0;
        if (p->in_txn) {
            if (rd_kafka_assignment_lost(rk))
                abort_and_rewind(p, "assignment lost");
            else
                commit_txn(p);
        }
        drop_all(p);
        log_info("partitions revoked", LOG_I("count", parts->cnt));
        rd_kafka_assign(rk, NULL);
        break;
    default:
        log_error("rebalance error", LOG_S("error", rd_kafka_err2str(err)));
        rd_kafka_assign(rk, NULL);
        break;
    }
}

/* --- the loop --------------------------------------------------------- */

/* Records handled between two looks at the clock and the commit timer. */
#define PROC_BURST 64

static void handle_record(struct proc *p, rd_kafka_message_t *m, int64_t now)
{
    struct raw_event ev = { 0 };
    char errstr[256], labels[64];
    struct part *pt;

    if (m->partition < 0 || m->partition >= p->nparts || !p->parts[m->partition].engine)
        return; /* a record of a partition revoked in between: not ours */
    pt = &p->parts[m->partition];
    if (begin_txn(p))
        return;
    if (codec_decode_raw_event(m->payload, m->len, &ev, errstr, sizeof(errstr))) {
        /* A record no reader can decode stays in the raw topic for
         * qalert-replay; skipping it keeps the partition moving. */
        log_error("undecodable raw event skipped", LOG_S("error", errstr),
                  LOG_I("partition", m->partition), LOG_I("offset", m->offset));
        metrics_inc(p->m_events, "type=\"undecodable\"", 1);
    } else {
        enum sla_outcome outcome = SLA_APPLIED;
        if (sla_engine_process(pt->engine, &ev, emit_alert, p, &outcome, errstr,
                               sizeof(errstr)) && !p->fatal)
            proc_fail(p, "SLA engine", errstr);
        metrics_inc(p->m_events,
                    metrics_labels(labels, sizeof(labels), "type",
                                   outcome == SLA_DUPLICATE ? "duplicate"
                                                            : codec_raw_kind_name(ev.kind),
                                   NULL),
                    1);
    }
    codec_raw_event_clear(&ev);
    pt->next_offset = m->offset + 1;
    pt->last_record_mono = now;
    pt->wm_at_last_record = sla_engine_watermark(pt->engine);
    p->txn_records++;
}

/* A partition with no record for idle_advance_ms moves its watermark with
 * the wall clock: last event time plus the time since that record arrived
 * (never a jump to now, so replays of old data keep their pace). */
static void idle_advance(struct proc *p, int64_t now)
{
    char errstr[256];

    for (int i = 0; i < p->nparts && !p->fatal; i++) {
        struct part *pt = &p->parts[i];
        if (!pt->engine || pt->wm_at_last_record == CODEC_ABSENT)
            continue;
        int64_t idle = now - pt->last_record_mono;
        if (idle < p->o.idle_advance_ms)
            continue;
        /* Timers it fires begin a transaction (emit_alert); the watermark
         * change alone waits for the next one. */
        if (sla_engine_advance(pt->engine, pt->wm_at_last_record + idle, emit_alert, p,
                               errstr, sizeof(errstr)) && !p->fatal)
            proc_fail(p, "SLA engine", errstr);
    }
}

static void update_gauges(struct proc *p)
{
    char labels[160];
    double open = 0, evictions = 0;
    for (int i = 0; i < p->nparts; i++) {
        struct sla_stats st;
        int64_t low, high;
        if (!p->parts[i].engine)
            continue;
        sla_engine_stats(p->parts[i].engine, &st);
        open += (double)st.open_alerts;
        evictions += (double)st.evictions;
        if (rd_kafka_get_watermark_offsets(p->consumer, p->o.topic_raw, i, &low,
                                           &high) == 0) {
            rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(pos, p->o.topic_raw, i);
            if (rd_kafka_position(p->consumer, pos) == 0 && pos->elems[0].offset >= 0 &&
                high >= pos->elems[0].offset) {
                snprintf(labels, sizeof(labels), "topic=\"%s\",partition=\"%d\"",
                         p->o.topic_raw, i);
                metrics_set(p->m_lag, labels, (double)(high - pos->elems[0].offset));
            }
            rd_kafka_topic_partition_list_destroy(pos);
        }
    }
    metrics_set(p->m_open, NULL, open);
    if (evictions > p->last_evictions)
        log_warn("SLA state cap reached: oldest entries evicted",
                 LOG_D("evictions", evictions));
    p->last_evictions = evictions;
    metrics_set(p->m_evictions, NULL, evictions);
}

enum qa_err proc_run(struct proc *p, volatile sig_atomic_t *stop, char *errstr,
                     size_t errstr_size)
{
    const char *topics[] = { p->o.topic_raw };
    int64_t last_gauges = 0;

    if (kq_subscribe(p->consumer, topics, 1, errstr, errstr_size))
        return QA_ERR_KAFKA;
    while (!*stop && !p->fatal) {
        /* Records already fetched are taken without waiting, up to a small
         * burst, before the per-iteration housekeeping below: the clock, the
         * idle scan and the commit check then cost once per burst, not once
         * per record. The commit check still runs within one burst of its
         * due time, so transactions keep their size and cadence. */
        int64_t now = clock_mono_ms();
        for (int n = 0; n < PROC_BURST && !p->fatal; n++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(p->consumer, n ? 0 : 50);
            if (!m)
                break;
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    log_warn("consumer error", LOG_S("error", rd_kafka_message_errstr(m)));
            } else {
                if (n == 0)
                    now = clock_mono_ms(); /* the wait may have been long */
                handle_record(p, m, now);
            }
            rd_kafka_message_destroy(m);
            if (p->txn_records >= 10000)
                break;
        }
        if (p->o.on_tick)
            p->o.on_tick(p, p->o.tick_opaque);
        now = clock_mono_ms();
        idle_advance(p, now);
        if (p->in_txn && (now - p->txn_started_mono >= p->o.commit_interval_ms ||
                          p->txn_records >= 10000))
            commit_txn(p);
        if (now - last_gauges >= 1000) {
            update_gauges(p);
            last_gauges = now;
        }
    }
    if (p->fatal)
        return qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "%s", p->fatal_reason);
    /* Stop: commit what was done, then leave the group (which revokes). */
    commit_txn(p);
    p->ready = 0;
    rd_kafka_consumer_close(p->consumer);
    if (p->fatal)
        return qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "%s", p->fatal_reason);
    return QA_OK;
}

const struct policy *proc_swap_policy(struct proc *p, const struct policy *np)
{
    const struct policy *old = p->o.policy;

    p->o.policy = np;
    for (int i = 0; i < p->nparts; i++)
        if (p->parts[i].engine)
            sla_engine_set_policy(p->parts[i].engine, np);
    return old;
}

int proc_ready(void *opaque, char *why, size_t why_size)
{
    struct proc *p = opaque;
    if (p->ready)
        return 1;
    snprintf(why, why_size, "%s", p->restoring ? "restoring state" : "no partitions assigned yet");
    return 0;
}

/* --- set-up ----------------------------------------------------------- */

/* The producer learns a topic's leaders only when it first produces to it,
 * and that first transaction then waits for the metadata: 0.75-0.85 s on a
 * busy broker, measured, so the first alerts were late by that much. Asking
 * now, with handles kept for the producer's life, moves the wait before
 * the processor is ready. A failure is not fatal: produce asks again. */
static void warm_topics(struct proc *p)
{
    const char *names[2] = { p->o.topic_alerts, p->o.topic_state };

    for (int i = 0; i < 2; i++) {
        const struct rd_kafka_metadata *md = NULL;
        if (!(p->warm[i] = rd_kafka_topic_new(p->producer, names[i], NULL)))
            continue;
        if (rd_kafka_metadata(p->producer, 0, p->warm[i], &md, 10000) == 0)
            rd_kafka_metadata_destroy(md);
        else
            log_warn("no metadata yet; the first transaction will wait for it",
                     LOG_S("topic", names[i]));
    }
}

struct proc *proc_new(const struct cfg *cfg, const struct proc_options *opts,
                      char *errstr, size_t errstr_size)
{
    struct proc *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_error_t *e;
    struct kq_consumer_opts copts = { 0 };
    struct kq_topic topics[3];

    if (!p) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        return NULL;
    }
    p->cfg = cfg;
    p->o = *opts;
    p->m_events = metrics_register(METRICS_COUNTER, "qalert_processor_events_total",
                                   "Raw events consumed, by type.", NULL, 0);
    p->m_emitted = metrics_register(METRICS_COUNTER, "qalert_alerts_emitted_total",
                                    "Alerts emitted (in committed or aborted transactions).", NULL, 0);
    p->m_open = metrics_register(METRICS_GAUGE, "qalert_processor_open_alerts",
                                 "Alerts open (FIRING, not yet RESOLVED).", NULL, 0);
    p->m_lag = metrics_register(METRICS_GAUGE, "qalert_consumer_lag",
                                "Records behind the high watermark, per partition.", NULL, 0);
    p->m_txn = metrics_register(METRICS_COUNTER, "qalert_processor_transactions_total",
                                "Kafka transactions, by outcome.", NULL, 0);
    p->m_restored = metrics_register(METRICS_COUNTER, "qalert_processor_state_restored_total",
                                     "State records read back from the changelog.", NULL, 0);
    p->m_evictions = metrics_register(METRICS_GAUGE, "qalert_processor_state_evictions",
                                      "State entries dropped by a memory cap since start.", NULL, 0);

    /* Topics: the state topic must have as many partitions as the raw one,
     * since raw partition p keeps its state in state partition p. */
    rd_kafka_conf_t *aconf = kq_conf_new(cfg, "qalert-processor-admin", errstr, errstr_size);
    if (!aconf)
        goto fail;
    rd_kafka_t *admin = kq_producer_new(aconf, NULL, errstr, errstr_size);
    if (!admin)
        goto fail;
    topics[0] = (struct kq_topic){ opts->topic_raw, opts->partitions, 0 };
    topics[1] = (struct kq_topic){ opts->topic_alerts, opts->partitions, 0 };
    topics[2] = (struct kq_topic){ opts->topic_state, opts->partitions, 1 };
    enum qa_err terr = kq_create_topics(admin, topics, 3, 1, 30000, errstr, errstr_size);
    int raw_n = terr ? -1 : kq_partition_count(admin, opts->topic_raw, 10000, errstr, errstr_size);
    int state_n = raw_n < 0 ? -1 : kq_partition_count(admin, opts->topic_state, 10000, errstr, errstr_size);
    rd_kafka_destroy(admin);
    if (terr || raw_n < 0 || state_n < 0)
        goto fail;
    if (state_n < raw_n) {
        qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                "QALERT_TOPIC_STATE %s has %d partitions, fewer than %s's %d",
                opts->topic_state, state_n, opts->topic_raw, raw_n);
        goto fail;
    }
    if (ensure_parts(p, raw_n)) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto fail;
    }

    p->changelog = changelog_new(cfg, opts->topic_state, errstr, errstr_size);
    if (!p->changelog)
        goto fail;

    conf = kq_conf_new(cfg, "qalert-processor", errstr, errstr_size);
    if (!conf)
        goto fail;
    p->producer = kq_producer_new(conf, opts->transactional_id, errstr, errstr_size);
    conf = NULL;
    if (!p->producer)
        goto fail;
    e = rd_kafka_init_transactions(p->producer, 30000);
    if (e) {
        qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "init_transactions: %s",
                rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        goto fail;
    }
    warm_topics(p);

    conf = kq_conf_new(cfg, "qalert-processor", errstr, errstr_size);
    if (!conf)
        goto fail;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, p);
    copts.group_id = opts->group_id;
    p->consumer = kq_consumer_new(conf, &copts, errstr, errstr_size);
    conf = NULL;
    if (!p->consumer)
        goto fail;
    return p;
fail:
    proc_free(p);
    return NULL;
}

void proc_free(struct proc *p)
{
    if (!p)
        return;
    drop_all(p);
    if (p->consumer)
        rd_kafka_destroy(p->consumer);
    if (p->producer) {
        rd_kafka_flush(p->producer, 5000);
        for (int i = 0; i < 2; i++)
            if (p->warm[i])
                rd_kafka_topic_destroy(p->warm[i]);
        rd_kafka_destroy(p->producer);
    }
    changelog_free(p->changelog);
    free(p->parts);
    free(p);
}
