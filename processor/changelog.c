/*
 * changelog.c — see changelog.h. Reads with isolation.level=read_committed
 * and enable.partition.eof=true: the EOF event arrives at the last stable
 * offset, so aborted or still-open transactions are never applied and the
 * restore knows when it has everything.
 */
#include "changelog.h"

#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/log.h"

struct changelog {
    rd_kafka_t *rk;
    char *topic;
};

struct changelog *changelog_new(const struct cfg *cfg, const char *topic,
                                char *errstr, size_t errstr_size)
{
    struct changelog *cl = calloc(1, sizeof(*cl));

    if (!cl || !(cl->topic = strdup(topic))) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* A plain assign()-only reader: nothing is ever committed. */
    if (!(cl->rk = kq_reader_new(kq_conf_new(cfg, "qalert-processor-restore", errstr,
                                             errstr_size),
                                 "qalert-processor-restore", errstr, errstr_size)))
        goto fail;
    return cl;
fail:
    changelog_free(cl);
    return NULL;
}

void changelog_free(struct changelog *cl)
{
    if (!cl)
        return;
    if (cl->rk) {
        rd_kafka_consumer_close(cl->rk);
        rd_kafka_destroy(cl->rk);
    }
    free(cl->topic);
    free(cl);
}

static int transient(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
        return 1;
    default:
        return 0;
    }
}

enum qa_err changelog_restore(struct changelog *cl, int32_t partition,
                              int timeout_ms, changelog_apply_fn apply,
                              void *opaque, int64_t *records, char *errstr,
                              size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    enum qa_err err = QA_OK;
    int64_t low = 0, high = 0;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    rd_kafka_resp_err_t rerr;

    *records = 0;
    /* Just after the topic is created, or while leadership moves, the broker
     * answers "not leader" or "unknown partition" for a moment: those pass,
     * so they are retried until the deadline rather than ending the process. */
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        rerr = rd_kafka_query_watermark_offsets(cl->rk, cl->topic, partition, &low,
                                                &high, left > 5000 ? 5000 : (int)(left > 0 ? left : 1));
        if (!rerr || !transient(rerr) || clock_mono_ms() >= deadline)
            break;
        log_debug("state topic not ready yet", LOG_S("topic", cl->topic),
                  LOG_I("partition", partition), LOG_S("error", rd_kafka_err2str(rerr)));
        usleep(200 * 1000);
    }
    if (rerr) {
        err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA,
                      "state topic %s [%d]: %s", cl->topic, (int)partition,
                      rd_kafka_err2str(rerr));
        goto out;
    }
    if (high <= low)
        goto out; /* empty: a fresh partition */
    rd_kafka_topic_partition_list_add(parts, cl->topic, partition)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    rerr = rd_kafka_assign(cl->rk, parts);
    if (rerr) {
        err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "assign %s [%d]: %s",
                      cl->topic, (int)partition, rd_kafka_err2str(rerr));
        goto out;
    }
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0) {
            err = qa_errf(errstr, errstr_size, QA_ERR_TIMEOUT,
                          "restoring %s [%d] took over %d ms (%lld records read)",
                          cl->topic, (int)partition, timeout_ms,
                          (long long)*records);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cl->rk, left < 200 ? (int)left : 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            break;
        }
        if (m->err) {
            err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "reading %s [%d]: %s",
                          cl->topic, (int)partition, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            break;
        }
        if (m->key)
            apply(opaque, m->key, m->key_len, m->payload, m->payload ? m->len : 0);
        (*records)++;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(cl->rk, NULL);
out:
    rd_kafka_topic_partition_list_destroy(parts);
    return err;
}
