/*
 * delivery_loop.c — the notifier's one thread: poll the consumer, start
 * requests as the pace allows, drive curl, collect Kafka delivery reports,
 * resume partitions whose records came due; on stop, drain and commit.
 *
 * It never sleeps on a record: a record not yet due is put back in its
 * partition (paused), and the loop waits at most ~100 ms in any one call,
 * so signals, answers and reports are all handled promptly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/log.h"
#include "notifier/delivery_internal.h"

#define DLV_LAG_EVERY_MS 2000
#define DLV_POLL_BATCH 200

struct delivery *delivery_new(const struct delivery_config *conf, char *errstr,
                              size_t errstr_size)
{
    struct delivery *d = calloc(1, sizeof(*d));
    static const double seconds[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };

    if (!d) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        return NULL;
    }
    d->conf = *conf;
    if (d->conf.ndelays < 1 || d->conf.ndelays > RETRY_MAX_DELAYS) {
        qa_errf(errstr, errstr_size, QA_ERR_INVALID, "between 1 and %d retry delays",
                RETRY_MAX_DELAYS);
        goto fail;
    }
    if (d->conf.concurrency < 1)
        d->conf.concurrency = 1;
    if (d->conf.rate <= 0)
        d->conf.rate = 1;
    d->ntopics = (int)d->conf.ndelays + 2;
    if (snprintf(d->topics[0], sizeof(d->topics[0]), "%s", conf->alerts_topic) >=
            (int)sizeof(d->topics[0]) ||
        retry_dlq_topic(d->topics[d->ntopics - 1], sizeof(d->topics[0]),
                        conf->alerts_topic, conf->sink_name) != QA_OK) {
        qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                "QALERT_TOPIC_ALERTS: too long or illegal for the retry topic names");
        goto fail;
    }
    for (int i = 1; i <= (int)d->conf.ndelays; i++) {
        if (retry_topic_for_attempt(d->topics[i], sizeof(d->topics[i]), conf->alerts_topic,
                                    conf->sink_name, i) != QA_OK) {
            qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                    "QALERT_TOPIC_ALERTS: too long or illegal for the retry topic names");
            goto fail;
        }
    }
    d->tokens = 1;
    d->tokens_mono = clock_mono_ms();
    d->m_deliveries = metrics_register(METRICS_COUNTER, "qalert_notifier_deliveries_total",
        "alerts handled, by sink and outcome (delivered, retried, dead_lettered)", NULL, 0);
    d->m_seconds = metrics_register(METRICS_HISTOGRAM, "qalert_notifier_delivery_seconds",
        "duration of one request to the sink", seconds, sizeof(seconds) / sizeof(seconds[0]));
    d->m_in_flight = metrics_register(METRICS_GAUGE, "qalert_notifier_in_flight",
        "requests to the sink in flight", NULL, 0);
    d->m_lag = metrics_register(METRICS_GAUGE, "qalert_consumer_lag",
        "records not yet read, per assigned partition", NULL, 0);
    if (!(d->offsets = order_offsets_new()) || !(d->keys = order_keys_new()) ||
        !(d->holds = key_holds_new()) ||
        (conf->sink == DELIVERY_SLACK && !(d->threads = sink_thread_map_new(4096))) ||
        !(d->http = http_client_new(conf->http_timeout_ms, conf->concurrency, errstr,
                                    errstr_size))) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (dlv_kafka_setup(d, errstr, errstr_size))
        goto fail;
    return d;
fail:
    delivery_free(d);
    return NULL;
}

void delivery_free(struct delivery *d)
{
    if (!d)
        return;
    if (d->consumer)
        rd_kafka_destroy(d->consumer);
    if (d->producer) {
        rd_kafka_flush(d->producer, 1000);
        rd_kafka_destroy(d->producer);
    }
    http_client_free(d->http);
    order_keys_free(d->keys);
    key_holds_free(d->holds);
    order_offsets_free(d->offsets);
    sink_thread_map_free(d->threads);
    free(d->paused);
    free(d);
}

int delivery_ready(void *opaque, char *why, size_t why_size)
{
    struct delivery *d = opaque;
    long long paused = atomic_load(&d->sink_paused_wall);

    if (!atomic_load(&d->joined)) {
        snprintf(why, why_size, "not yet a member of consumer group %s", d->conf.group_id);
        return 0;
    }
    if (paused > clock_wall_ms()) {
        snprintf(why, why_size, "sink %s asked to wait (429 Retry-After)", d->conf.sink_name);
        return 0;
    }
    return 1;
}

/* Reads what the consumer has, waiting up to wait_ms for the first. */
static void consume(struct delivery *d, int wait_ms)
{
    for (int i = 0; i < DLV_POLL_BATCH && !d->fatal; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(d->consumer, i == 0 ? wait_ms : 0);
        if (!m)
            return;
        dlv_on_message(d, m);
        rd_kafka_message_destroy(m);
    }
}

int delivery_run(struct delivery *d, volatile sig_atomic_t *stop)
{
    const char *topics[RETRY_MAX_DELAYS + 1];
    int64_t started, deadline;
    char err[512];

    for (int i = 0; i <= (int)d->conf.ndelays; i++)
        topics[i] = d->topics[i];
    if (kq_subscribe(d->consumer, topics, d->conf.ndelays + 1, err, sizeof(err))) {
        log_error("cannot subscribe", LOG_S("reason", err));
        return 1;
    }
    log_info("delivering", LOG_S("sink", d->conf.sink_name), LOG_S("topic", d->topics[0]),
             LOG_S("group", d->conf.group_id), LOG_I("retry_topics", d->conf.ndelays),
             LOG_D("rate", d->conf.rate), LOG_I("concurrency", d->conf.concurrency));
    while (!*stop && !d->fatal) {
        int busy = http_in_flight(d->http) > 0;
        int64_t now = clock_mono_ms();

        dlv_resume_due(d);
        dlv_release_later(d);
        /* Short waits while records or keys wait: a commit's answer (which
         * frees held keys) is served inside the consumer poll. */
        consume(d, busy ? 0
                   : d->sendq_head || d->later_head || order_keys_held(d->keys) ? 20 : 100);
        dlv_pump(d);
        http_poll(d->http, busy ? 20 : 0, dlv_on_http, d);
        dlv_pump(d);
        rd_kafka_poll(d->producer, 0);
        dlv_commit_for_keys(d);
        if (now - d->last_lag_mono >= DLV_LAG_EVERY_MS) {
            d->last_lag_mono = now;
            dlv_update_lag(d);
        }
        if (atomic_load(&d->sink_paused_wall) && atomic_load(&d->sink_paused_wall) <= clock_wall_ms())
            atomic_store(&d->sink_paused_wall, 0);
    }
    /* Stop taking records; finish requests (each bounded by the HTTP
     * timeout) and forwards; then commit what is stored and leave. */
    started = clock_mono_ms();
    deadline = started + d->conf.http_timeout_ms + 1000;
    if (deadline > started + d->conf.shutdown_timeout_ms - 2000)
        deadline = started + d->conf.shutdown_timeout_ms - 2000;
    d->stopping = 1;
    log_info("stopping", LOG_I("in_flight", http_in_flight(d->http)),
             LOG_I("forwarding", d->producing));
    dlv_drain(d, deadline);
    rd_kafka_commit(d->consumer, NULL, 0);
    rd_kafka_consumer_close(d->consumer);
    rd_kafka_flush(d->producer, 1000);
    log_info("stopped", LOG_I("ms", clock_mono_ms() - started));
    return d->fatal ? 1 : 0;
}
