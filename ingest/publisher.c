/*
 * publisher.c — the only place ingest talks to Kafka (see publisher.h).
 *
 * The submitting (HTTP) thread produces a job's messages itself: librdkafka
 * is thread-safe, and handing each job to another thread cost a lock, a
 * wake-up and a context switch per request. The publisher thread serves
 * the delivery reports (rd_kafka_poll runs there only), produces the rest
 * of a job that met a full local queue, enforces deadlines and frees jobs.
 * A job is answered exactly once (`claimed`): by its last report, its first
 * failure, its deadline or shutdown. It is freed by the publisher thread
 * only, once answered, once its submitter let go of it and once no report
 * is outstanding, because a report carries a pointer to it.
 *
 * Two producers ("lanes") share the work: jobs of up to LANE_SMALL_MAX
 * events go to one whose batches leave at 32 messages, so that concurrent
 * single-event requests are not all held for linger.ms together; larger
 * jobs go to one with librdkafka's big batches, because cutting a
 * 100-event request into batches of 32, at most 5 in flight, cut the batch
 * benchmark's rate by half (bench/NOTES.md). Ordering is unaffected: a
 * job's events all take one lane, and two requests are only ordered when
 * the second is sent after the first's answer, i.e. after its acks. Both
 * lanes' delivery reports wake the publisher thread through one pipe.
 *
 * It must never answer "ok" for a job before the delivery report of every
 * one of its messages, and never block an HTTP thread.
 */
#include "publisher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/log.h"

struct publisher;

enum { LANE_SMALL, LANE_BULK, NLANES };
/* A job of up to this many events takes the small-batch lane. */
#define LANE_SMALL_MAX 32

/* One producer with its topic handle. */
struct lane {
    rd_kafka_t *rk;
    rd_kafka_queue_t *mainq;  /* its delivery reports; io events -> wake pipe */
    rd_kafka_topic_t *rkt;    /* held for the producer's life: no lookup by
                               * name per message, leaders known early */
};

struct publisher_job {
    struct publisher *p;
    struct lane *lane;
    struct publisher_job *next; /* the active list (under p->lock) */
    size_t n, next_idx;         /* messages, and the next one to produce */
    uint8_t **values;           /* NULL once librdkafka owns one */
    size_t *value_lens;
    char **keys;                /* copies: the events are gone after submit */
    /* Messages produced and not yet reported, plus one hold by whoever is
     * producing (the submitting thread, or the publisher thread once the
     * job is handed over): the hold keeps a partly produced job from
     * looking finished. */
    atomic_size_t outstanding;
    atomic_int failed;          /* why is set (under p->lock) */
    atomic_int claimed;         /* done is being or was called */
    atomic_int finished;        /* done has returned */
    atomic_int submitter_done;  /* the submitting thread no longer touches it */
    atomic_int handed;          /* the publisher thread produces the rest */
    struct publisher_job *due;  /* publisher thread: past the deadline */
    int64_t deadline_mono;
    publisher_done_fn done;
    void *opaque;
    char why[192];
};

struct publisher {
    struct lane lane[NLANES];
    int wake[2];              /* pipe: reports queued, a job handed, stop */
    char *topic;
    int timeout_ms;
    pthread_t thread, ready_thread;
    int threads_started;
    pthread_mutex_t lock;     /* active, stop, why; cond wakes the ready thread */
    pthread_cond_t cond;
    struct publisher_job *active; /* every job not yet freed, newest first */
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

static void job_fail(struct publisher *p, struct publisher_job *j, const char *why)
{
    pthread_mutex_lock(&p->lock);
    if (!atomic_load(&j->failed)) { /* the first reason is the useful one */
        snprintf(j->why, sizeof(j->why), "%s", why);
        atomic_store(&j->failed, 1);
    }
    pthread_mutex_unlock(&p->lock);
}

/* Answers the job once, whoever gets here first: the last delivery report,
 * the first failure, the deadline or shutdown. */
static void complete(struct publisher *p, struct publisher_job *j, int ok)
{
    char why[sizeof(j->why)] = "";

    if (atomic_exchange(&j->claimed, 1))
        return;
    if (!ok || atomic_load(&j->failed)) {
        ok = 0;
        pthread_mutex_lock(&p->lock);
        snprintf(why, sizeof(why), "%s", j->why[0] ? j->why : "failed");
        pthread_mutex_unlock(&p->lock);
    }
    atomic_fetch_sub(&p->in_flight, 1);
    j->done(j->opaque, ok, why);
    atomic_store(&j->finished, 1);
}

/* Drops one from outstanding; the last one answers the job. The caller
 * must not touch j afterwards unless it is the publisher thread (the only
 * one that frees jobs). */
static void release(struct publisher *p, struct publisher_job *j)
{
    if (atomic_fetch_sub(&j->outstanding, 1) == 1)
        complete(p, j, 1);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct publisher_job *j = m->_private;
    struct publisher *p;

    (void)rk;
    (void)opaque;
    if (!j)
        return;
    p = j->p;
    if (m->err) {
        job_fail(p, j, rd_kafka_err2str(m->err));
        complete(p, j, 0); /* at once: the client retries, ids de-duplicate */
    }
    release(p, j);
}

/* Produces what it can of j, from any thread. Returns 1 when the local
 * queue is full, -1 on another error (j failed), 0 when all are produced. */
static int produce_job(struct publisher *p, struct publisher_job *j)
{
    while (j->next_idx < j->n && !atomic_load(&j->failed)) {
        size_t i = j->next_idx;
        rd_kafka_resp_err_t err;

        atomic_fetch_add(&j->outstanding, 1); /* before: the report may come at once */
        err = rd_kafka_producev(
            j->lane->rk, RD_KAFKA_V_RKT(j->lane->rkt),
            RD_KAFKA_V_KEY(j->keys[i], strlen(j->keys[i])),
            RD_KAFKA_V_VALUE(j->values[i], j->value_lens[i]),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_OPAQUE(j),
            RD_KAFKA_V_END);
        if (err) {
            atomic_fetch_sub(&j->outstanding, 1); /* never reported */
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                return 1;
            job_fail(p, j, rd_kafka_err2str(err));
            return -1;
        }
        j->values[i] = NULL; /* librdkafka frees it now */
        j->next_idx++;
    }
    return atomic_load(&j->failed) ? -1 : 0;
}

/* Wakes the publisher thread (a byte in the pipe; a full pipe is awake
 * enough already). */
static void wake(struct publisher *p)
{
    ssize_t r;
    do
        r = write(p->wake[1], "w", 1);
    while (r < 0 && errno == EINTR);
}

/* Sleeps until something is written to the pipe or timeout_ms pass, then
 * empties the pipe. librdkafka writes to it when a lane's report queue goes
 * from empty to not empty, so the caller must serve both queues fully
 * after this returns, before waiting again. */
static void wait_wake(struct publisher *p, int timeout_ms)
{
    struct pollfd pfd = { p->wake[0], POLLIN, 0 };
    char buf[64];

    if (poll(&pfd, 1, timeout_ms) > 0)
        while (read(p->wake[0], buf, sizeof(buf)) > 0)
            ;
}

/* The publisher thread: delivery reports, jobs handed over (queue full),
 * deadlines, and freeing what is done. Only this thread unlinks or frees a
 * job; submitters only push new ones at the head (under lock), so the list
 * can be walked from a head read under lock without holding it. */
static void *publisher_main(void *arg)
{
    struct publisher *p = arg;

    for (;;) {
        struct publisher_job *j, **link, *head, *dead = NULL, *due = NULL;
        int full = 0, stop;
        int64_t now = clock_mono_ms();

        pthread_mutex_lock(&p->lock);
        stop = p->stop;
        head = p->active;
        pthread_mutex_unlock(&p->lock);
        if (stop && (!head || now >= p->stop_deadline))
            break;
        for (j = head; j && !full; j = j->next) {
            int r;
            if (!atomic_load(&j->handed) || atomic_load(&j->claimed) || j->next_idx == j->n)
                continue;
            r = produce_job(p, j);
            if (r == 1) {
                full = 1;
                continue;
            }
            if (r < 0)
                complete(p, j, 0);
            j->next_idx = j->n; /* nothing more to produce */
            release(p, j);      /* the hold the submitter handed over */
        }
        /* Queue full: let reports drain, retry soon. Otherwise sleep until a
         * report, a hand-over or stop writes to the pipe. */
        wait_wake(p, full ? 5 : 100);
        for (int l = 0; l < NLANES; l++)
            rd_kafka_poll(p->lane[l].rk, 0);

        now = clock_mono_ms();
        pthread_mutex_lock(&p->lock);
        for (link = &p->active; (j = *link);) {
            int handed = atomic_load(&j->handed);
            /* the hold stays with a handed job whose rest was never produced */
            size_t idle = handed && j->next_idx < j->n ? 1 : 0;
            if (!atomic_load(&j->claimed) && now >= j->deadline_mono) {
                j->due = due;
                due = j;
            }
            if (atomic_load(&j->finished) && atomic_load(&j->submitter_done) &&
                atomic_load(&j->outstanding) == idle) {
                *link = j->next;
                j->next = dead;
                dead = j;
            } else {
                link = &j->next;
            }
        }
        pthread_mutex_unlock(&p->lock);
        for (j = due; j; j = j->due) { /* not finished: none of them is in dead */
            job_fail(p, j, atomic_load(&j->handed) && j->next_idx < j->n
                               ? "Kafka's queue stayed full until the deadline"
                               : "no delivery report before the deadline");
            complete(p, j, 0);
        }
        while (dead) {
            j = dead;
            dead = j->next;
            job_free(j);
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
        atomic_store(&p->ready, kq_metadata_ok(p->lane[LANE_SMALL].rk, 1000));
        pthread_mutex_lock(&p->lock);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (!p->stop)
            pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* O_NONBLOCK and FD_CLOEXEC on fd; 0 on success. */
static int nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
           fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ? -1 : 0;
}

/* Starts lane l's producer from conf (taken, whatever happens) and wires
 * its delivery reports to the wake pipe. */
static enum qa_err lane_start(struct publisher *p, int l, rd_kafka_conf_t *conf,
                              char *errstr, size_t errstr_size)
{
    struct lane *ln = &p->lane[l];

    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if (!(ln->rk = kq_producer_new(conf, NULL, errstr, errstr_size)))
        return QA_ERR_KAFKA;
    ln->mainq = rd_kafka_queue_get_main(ln->rk);
    rd_kafka_queue_io_event_enable(ln->mainq, p->wake[1], "r", 1);
    if (!(ln->rkt = rd_kafka_topic_new(ln->rk, p->topic, NULL)))
        return qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "topic %s: %s", p->topic,
                       rd_kafka_err2str(rd_kafka_last_error()));
    return QA_OK;
}

/* Undoes lane_start, as far as it got. */
static void lane_stop(struct lane *ln)
{
    if (ln->rkt)
        rd_kafka_topic_destroy(ln->rkt);
    if (ln->mainq) {
        rd_kafka_queue_io_event_enable(ln->mainq, -1, NULL, 0);
        rd_kafka_queue_destroy(ln->mainq);
    }
    if (ln->rk)
        rd_kafka_destroy(ln->rk);
    memset(ln, 0, sizeof(*ln));
}

struct publisher *publisher_new(const struct cfg *cfg, const char *topic,
                                int timeout_ms, char *errstr, size_t errstr_size)
{
    struct publisher *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *conf = NULL, *bulk = NULL;
    char ms[32];

    if (!p || !(p->topic = strdup(topic))) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        free(p);
        return NULL;
    }
    p->wake[0] = p->wake[1] = -1;
    p->timeout_ms = timeout_ms;
    atomic_init(&p->in_flight, 0);
    atomic_init(&p->ready, 0);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    if (pipe(p->wake) != 0 || nonblocking(p->wake[0]) || nonblocking(p->wake[1])) {
        qa_errf(errstr, errstr_size, QA_ERR_IO, "cannot create a pipe");
        goto fail;
    }

    if (!(conf = kq_conf_new(cfg, "qalert-ingest", errstr, errstr_size)))
        goto fail;
    /* A message Kafka cannot take within the publish timeout fails (no
     * broker): the client gets 503 and retries, rather than hanging. */
    snprintf(ms, sizeof(ms), "%d", timeout_ms);
    /* Every request waits for its acks, so the batch wait is latency each
     * client pays: 1 ms, not librdkafka's 5 (bench/REPORT.md: 2.4x req/s
     * at 64 connections, p99 lower). On the small lane a batch also leaves
     * as soon as it holds 32 events rather than 10,000: with C requests
     * waiting, the first C/32 batches are on their way while the rest are
     * parsed, instead of all C waiting out linger.ms together
     * (bench/NOTES.md: 13,400 -> 26,600 req/s at 32 connections, 25,000 ->
     * 35,000 at 64, no change at 16 or 256). An operator's values are kept,
     * on both lanes. */
    if (kq_conf_set(conf, "message.timeout.ms", ms, errstr, errstr_size) ||
        kq_conf_default(conf, "linger.ms", "5", "1", errstr, errstr_size))
        goto fail;
    if (!(bulk = rd_kafka_conf_dup(conf))) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (kq_conf_set(bulk, "client.id", "qalert-ingest-bulk", errstr, errstr_size) ||
        kq_conf_default(conf, "batch.num.messages", "10000", "32", errstr, errstr_size))
        goto fail;
    {
        rd_kafka_conf_t *c = conf;
        conf = NULL;
        if (lane_start(p, LANE_SMALL, c, errstr, errstr_size))
            goto fail;
        c = bulk;
        bulk = NULL;
        if (lane_start(p, LANE_BULK, c, errstr, errstr_size))
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
        wake(p);
        pthread_join(p->thread, NULL);
        qa_errf(errstr, errstr_size, QA_ERR_IO, "cannot start readiness thread");
        goto fail;
    }
    p->threads_started = 1;
    return p;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (bulk)
        rd_kafka_conf_destroy(bulk);
    for (int l = 0; l < NLANES; l++)
        lane_stop(&p->lane[l]);
    for (int i = 0; i < 2; i++)
        if (p->wake[i] >= 0)
            close(p->wake[i]);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->topic);
    free(p);
    return NULL;
}

enum qa_err publisher_ensure_topic(struct publisher *p, int partitions,
                                   int timeout_ms, char *errstr,
                                   size_t errstr_size)
{
    struct kq_topic t = { p->topic, partitions, 0 };
    /* -1: the broker's default.replication.factor (KIP-464). */
    enum qa_err err = kq_create_topics(p->lane[LANE_SMALL].rk, &t, 1, -1, timeout_ms,
                                       errstr, errstr_size);

    /* The topic's leaders now, not on the first request: that first produce
     * otherwise waits for metadata (0.75 s on a busy broker, measured in
     * the processor). A failure here only means that wait comes later. */
    for (int l = 0; l < NLANES; l++) {
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(p->lane[l].rk, 0, p->lane[l].rkt, &md, timeout_ms) == 0)
            rd_kafka_metadata_destroy(md);
    }
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
    int r;

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
    j->p = p;
    j->lane = &p->lane[n <= LANE_SMALL_MAX ? LANE_SMALL : LANE_BULK];
    j->done = done;
    j->opaque = opaque;
    j->deadline_mono = clock_mono_ms() + p->timeout_ms;
    atomic_init(&j->outstanding, 1); /* our hold */
    atomic_init(&j->failed, 0);
    atomic_init(&j->claimed, 0);
    atomic_init(&j->finished, 0);
    atomic_init(&j->submitter_done, 0);
    atomic_init(&j->handed, 0);

    pthread_mutex_lock(&p->lock);
    if (p->stop) {
        pthread_mutex_unlock(&p->lock);
        err = qa_errf(errstr, errstr_size, QA_ERR_UNSUPPORTED, "shutting down");
        goto fail;
    }
    atomic_fetch_add(&p->in_flight, 1);
    j->next = p->active;
    p->active = j;
    pthread_mutex_unlock(&p->lock);

    /* Produce from this thread: no hand-over to the publisher thread (a
     * lock, a wake-up and a context switch per request before). librdkafka
     * is thread-safe; reports still arrive on the publisher thread. */
    r = produce_job(p, j);
    if (r == 1) {
        /* Queue full: the publisher thread produces the rest when reports
         * have drained, keeping our hold until then. */
        atomic_store(&j->handed, 1);
        atomic_store(&j->submitter_done, 1);
        wake(p);
        return QA_OK;
    }
    if (r < 0)
        complete(p, j, 0);
    j->next_idx = j->n;
    /* Last touches: the hold, then the flag that lets the job be freed. */
    if (atomic_fetch_sub(&j->outstanding, 1) == 1)
        complete(p, j, 1);
    atomic_store(&j->submitter_done, 1);
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
    int left = 0;

    if (!p)
        return 0;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    p->stop_deadline = deadline;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    wake(p);
    pthread_join(p->thread, NULL);
    pthread_join(p->ready_thread, NULL);

    /* Jobs the deadline cut short: answer them, then drop what Kafka still
     * holds so that no report can reach a freed job. */
    for (struct publisher_job *j = p->active; j; j = j->next)
        if (!atomic_load(&j->claimed)) {
            job_fail(p, j, "shutting down");
            complete(p, j, 0);
        }
    for (int l = 0; l < NLANES; l++) {
        rd_kafka_t *rk = p->lane[l].rk;
        int64_t now = clock_mono_ms();
        int n;
        rd_kafka_flush(rk, now < deadline ? (int)(deadline - now) : 0);
        if ((n = rd_kafka_outq_len(rk)) > 0) {
            rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            for (int i = 0; i < 20 && rd_kafka_outq_len(rk) > 0; i++)
                rd_kafka_poll(rk, 50);
            left += n;
        }
    }
    if (left > 0)
        log_warn("unflushed messages at shutdown", LOG_I("count", left));
    while (p->active) {
        struct publisher_job *j = p->active;
        p->active = j->next;
        job_free(j);
    }
    for (int l = 0; l < NLANES; l++)
        lane_stop(&p->lane[l]);
    close(p->wake[0]);
    close(p->wake[1]);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->topic);
    free(p);
    return left;
}
