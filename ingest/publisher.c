/*
 * publisher.c — the only place ingest talks to Kafka (see publisher.h).
 *
 * The publisher thread owns every job once submitted: it produces their
 * messages in order, serves delivery reports (rd_kafka_poll runs on this
 * thread only, so reports need no locks), and completes each job exactly
 * once: all reports in (ok), a failed report, or the deadline. A completed
 * job lives on until its last outstanding report, because the report carries
 * a pointer to it.
 *
 * It must never answer "ok" for a job before the delivery report of every
 * one of its messages, and never block an HTTP thread.
 */
#include "publisher.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/log.h"

struct publisher_job {
    struct publisher_job *next;
    size_t n, next_idx;       /* messages, and the next one to produce */
    uint8_t **values;         /* NULL once librdkafka owns one */
    size_t *value_lens;
    char **keys;              /* borrowed from the events: copied at submit */
    size_t pending;           /* produced, report not yet seen */
    int failed, completed;
    int64_t deadline_mono;
    publisher_done_fn done;
    void *opaque;
    char why[192];
};

struct publisher {
    rd_kafka_t *rk;
    rd_kafka_queue_t *mainq;  /* to wake rd_kafka_poll on submit */
    rd_kafka_topic_t *rkt;    /* held for the producer's life: no lookup by
                               * name per message, leaders known early */
    char *topic;
    int timeout_ms;
    pthread_t thread, ready_thread;
    int threads_started;
    pthread_mutex_t lock;     /* incoming, stop; cond wakes the ready thread */
    pthread_cond_t cond;
    struct publisher_job *incoming, **incoming_tail;
    struct publisher_job *active; /* publisher thread only */
    atomic_size_t in_flight;
    atomic_int ready;
    int stop;
    int64_t stop_deadline;
};

static void job_free(struct publisher_job *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++) {
        if (j->values)
            free(j->values[i]);
        if (j->keys)
            free(j->keys[i]);
    }
    free(j->values);
    free(j->value_lens);
    free(j->keys);
    free(j);
}

static void job_fail(struct publisher_job *j, const char *why)
{
    if (j->failed)
        return; /* the first reason is the useful one */
    j->failed = 1;
    snprintf(j->why, sizeof(j->why), "%s", why);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct publisher_job *j = m->_private;

    if (!j)
        return;
    if (j->pending > 0)
        j->pending--;
    if (m->err)
        job_fail(j, rd_kafka_err2str(m->err));
}

static void complete(struct publisher *p, struct publisher_job *j, int ok)
{
    j->completed = 1;
    atomic_fetch_sub(&p->in_flight, 1);
    j->done(j->opaque, ok, ok ? "" : j->why);
}

/* Produces what it can of j. Returns 1 when the local queue is full (the
 * caller lets delivery reports drain before trying again). */
static int produce_job(struct publisher *p, struct publisher_job *j)
{
    while (j->next_idx < j->n && !j->failed) {
        size_t i = j->next_idx;
        rd_kafka_resp_err_t err = rd_kafka_producev(
            p->rk, RD_KAFKA_V_RKT(p->rkt),
            RD_KAFKA_V_KEY(j->keys[i], strlen(j->keys[i])),
            RD_KAFKA_V_VALUE(j->values[i], j->value_lens[i]),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_OPAQUE(j),
            RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return 1;
        if (err) {
            job_fail(j, rd_kafka_err2str(err));
            return 0;
        }
        j->values[i] = NULL; /* librdkafka frees it now */
        j->pending++;
        j->next_idx++;
    }
    return 0;
}

static void *publisher_main(void *arg)
{
    struct publisher *p = arg;

    for (;;) {
        struct publisher_job *in, **link, *j;
        int full = 0, stop;
        int64_t now;

        pthread_mutex_lock(&p->lock);
        in = p->incoming;
        p->incoming = NULL;
        p->incoming_tail = &p->incoming;
        stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        for (link = &p->active; *link; link = &(*link)->next)
            ;
        *link = in; /* arrival order is production order */

        if (stop && (!p->active || clock_mono_ms() >= p->stop_deadline))
            break;
        for (j = p->active; j && !full; j = j->next)
            if (!j->completed)
                full = produce_job(p, j);
        /* Queue full: let reports drain, retry soon. Otherwise sleep until a
         * report or a submit (rd_kafka_queue_yield) wakes us. */
        rd_kafka_poll(p->rk, full ? 5 : 100);

        now = clock_mono_ms();
        for (link = &p->active; (j = *link);) {
            if (!j->completed) {
                if (j->failed)
                    complete(p, j, 0);
                else if (j->next_idx == j->n && j->pending == 0)
                    complete(p, j, 1);
                else if (now >= j->deadline_mono) {
                    job_fail(j, j->next_idx < j->n
                                    ? "Kafka's queue stayed full until the deadline"
                                    : "no delivery report before the deadline");
                    complete(p, j, 0);
                }
            }
            if (j->completed && j->pending == 0) {
                *link = j->next;
                job_free(j);
            } else {
                link = &j->next;
            }
        }
    }
    return NULL;
}

static void *ready_main(void *arg)
{
    struct publisher *p = arg;

    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec ts;
        pthread_mutex_unlock(&p->lock);
        /* Up to 1 s per check, so the answer is never older than ~2 s. */
        atomic_store(&p->ready, kq_metadata_ok(p->rk, 1000));
        pthread_mutex_lock(&p->lock);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (!p->stop)
            pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct publisher *publisher_new(const struct cfg *cfg, const char *topic,
                                int timeout_ms, char *errstr, size_t errstr_size)
{
    struct publisher *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *conf = NULL;
    char ms[32];

    if (!p || !(p->topic = strdup(topic))) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto fail;
    }
    p->timeout_ms = timeout_ms;
    p->incoming_tail = &p->incoming;
    atomic_init(&p->in_flight, 0);
    atomic_init(&p->ready, 0);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);

    if (!(conf = kq_conf_new(cfg, "qalert-ingest", errstr, errstr_size)))
        goto fail;
    /* A message Kafka cannot take within the publish timeout fails (no
     * broker): the client gets 503 and retries, rather than hanging. */
    snprintf(ms, sizeof(ms), "%d", timeout_ms);
    /* Every request waits for its acks, so the batch wait is latency each
     * client pays: 1 ms, not librdkafka's 5 (bench/REPORT.md: 2.4x req/s
     * at 64 connections, p99 lower). An operator's linger.ms is kept. */
    if (kq_conf_set(conf, "message.timeout.ms", ms, errstr, errstr_size) ||
        kq_conf_default(conf, "linger.ms", "5", "1", errstr, errstr_size)) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if (!(p->rk = kq_producer_new(conf, NULL, errstr, errstr_size)))
        goto fail;
    p->mainq = rd_kafka_queue_get_main(p->rk);
    if (!(p->rkt = rd_kafka_topic_new(p->rk, p->topic, NULL))) {
        qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "topic %s: %s", p->topic,
                rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    if (pthread_create(&p->thread, NULL, publisher_main, p) != 0) {
        qa_errf(errstr, errstr_size, QA_ERR_IO, "cannot start publisher thread");
        goto fail;
    }
    if (pthread_create(&p->ready_thread, NULL, ready_main, p) != 0) {
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        qa_errf(errstr, errstr_size, QA_ERR_IO, "cannot start readiness thread");
        goto fail;
    }
    p->threads_started = 1;
    return p;
fail:
    if (p) {
        if (p->rkt)
            rd_kafka_topic_destroy(p->rkt);
        if (p->mainq)
            rd_kafka_queue_destroy(p->mainq);
        if (p->rk)
            rd_kafka_destroy(p->rk);
        free(p->topic);
        free(p);
    }
    return NULL;
}

enum qa_err publisher_ensure_topic(struct publisher *p, int partitions,
                                   int timeout_ms, char *errstr,
                                   size_t errstr_size)
{
    struct kq_topic t = { p->topic, partitions, 0 };
    const struct rd_kafka_metadata *md = NULL;
    /* -1: the broker's default.replication.factor (KIP-464). */
    enum qa_err err = kq_create_topics(p->rk, &t, 1, -1, timeout_ms, errstr, errstr_size);

    /* The topic's leaders now, not on the first request: that first produce
     * otherwise waits for metadata (0.75 s on a busy broker, measured in
     * the processor). A failure here only means that wait comes later. */
    if (rd_kafka_metadata(p->rk, 0, p->rkt, &md, timeout_ms) == 0)
        rd_kafka_metadata_destroy(md);
    return err;
}

const char *publisher_key(const struct raw_event *ev)
{
    if (ev->queue_id && *ev->queue_id)
        return ev->queue_id;
    if (ev->conversation_id && *ev->conversation_id)
        return ev->conversation_id;
    return ev->event_id ? ev->event_id : "";
}

enum qa_err publisher_submit(struct publisher *p, const struct raw_event *evs,
                             size_t n, publisher_done_fn done, void *opaque,
                             char *errstr, size_t errstr_size)
{
    struct publisher_job *j = calloc(1, sizeof(*j));
    enum qa_err err = QA_ERR_NOMEM;

    if (!j || !(j->values = calloc(n, sizeof(*j->values))) ||
        !(j->value_lens = calloc(n, sizeof(*j->value_lens))) ||
        !(j->keys = calloc(n, sizeof(*j->keys)))) {
        qa_errf(errstr, errstr_size, err, "out of memory");
        goto fail;
    }
    j->n = n;
    for (size_t i = 0; i < n; i++) {
        err = codec_encode_raw_event(&evs[i], &j->values[i], &j->value_lens[i],
                                     errstr, errstr_size);
        if (err)
            goto fail;
        if (!(j->keys[i] = strdup(publisher_key(&evs[i])))) {
            err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    j->done = done;
    j->opaque = opaque;
    j->deadline_mono = clock_mono_ms() + p->timeout_ms;

    pthread_mutex_lock(&p->lock);
    if (p->stop) {
        pthread_mutex_unlock(&p->lock);
        err = qa_errf(errstr, errstr_size, QA_ERR_UNSUPPORTED, "shutting down");
        goto fail;
    }
    atomic_fetch_add(&p->in_flight, 1);
    *p->incoming_tail = j;
    p->incoming_tail = &j->next;
    pthread_mutex_unlock(&p->lock);
    rd_kafka_queue_yield(p->mainq);
    return QA_OK;
fail:
    job_free(j);
    return err;
}

int publisher_ready(struct publisher *p)
{
    return atomic_load(&p->ready);
}

size_t publisher_in_flight(struct publisher *p)
{
    return atomic_load(&p->in_flight);
}

int publisher_free(struct publisher *p, int timeout_ms)
{
    int64_t deadline = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int left;

    if (!p)
        return 0;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    p->stop_deadline = deadline;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    rd_kafka_queue_yield(p->mainq);
    pthread_join(p->thread, NULL);
    pthread_join(p->ready_thread, NULL);

    /* Jobs the deadline cut short: answer them, then drop what Kafka still
     * holds so that no report can reach a freed job. */
    for (struct publisher_job *j = p->active; j; j = j->next)
        if (!j->completed) {
            job_fail(j, "shutting down");
            complete(p, j, 0);
        }
    {
        int64_t now = clock_mono_ms();
        rd_kafka_flush(p->rk, now < deadline ? (int)(deadline - now) : 0);
    }
    left = rd_kafka_outq_len(p->rk);
    if (left > 0) {
        log_warn("unflushed messages at shutdown", LOG_I("count", left));
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        for (int i = 0; i < 20 && rd_kafka_outq_len(p->rk) > 0; i++)
            rd_kafka_poll(p->rk, 50);
    }
    while (p->active) {
        struct publisher_job *j = p->active;
        p->active = j->next;
        job_free(j);
    }
    rd_kafka_queue_destroy(p->mainq);
    rd_kafka_topic_destroy(p->rkt);
    rd_kafka_destroy(p->rk);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->topic);
    free(p);
    return left > 0 ? left : 0;
}
