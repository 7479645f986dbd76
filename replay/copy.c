/*
 * copy.c — `qalert-replay copy SRC DST [range options]`: re-publishes the
 * records of a range unchanged: key, value, headers and timestamp (SPEC §8).
 *
 * It exists to replay a slice of traffic into a scratch topic (to run a test
 * processor on it) or back into a pipeline after an outage. The producer is
 * idempotent (kq_producer_new), so librdkafka's own retries cannot double a
 * record; the delivery reports are the only truth, and the count printed is
 * the count they confirmed. A record keeps its source partition when the
 * destination has that partition (order within a partition is Kafka's only
 * order and qalert's keys rely on it), else the default partitioner places
 * it by key. It never changes a record and never commits a source offset.
 */
#include <string.h>

#include "common/kafka.h"
#include "common/log.h"
#include "range.h"
#include "replay.h"

struct copy_stats {
    long long delivered, failed;
    char first_error[256];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct copy_stats *st = opaque;

    if (!m->err) {
        st->delivered++;
        return;
    }
    if (st->failed++ == 0)
        snprintf(st->first_error, sizeof(st->first_error), "%s", rd_kafka_err2str(m->err));
}

/* Produces one copy; waits for room when the local queue is full. */
static rd_kafka_resp_err_t produce_copy(rd_kafka_t *p, const char *dst, int dst_parts,
                                        const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *src_hdrs = NULL, *hdrs = NULL;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    int32_t part = m->partition < dst_parts ? m->partition : RD_KAFKA_PARTITION_UA;
    rd_kafka_resp_err_t err;

    if (rd_kafka_message_headers((rd_kafka_message_t *)m, &src_hdrs) == 0 && src_hdrs)
        hdrs = rd_kafka_headers_copy(src_hdrs);
    for (;;) {
        err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(dst), RD_KAFKA_V_PARTITION(part),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY(m->key, m->key_len),
                                RD_KAFKA_V_VALUE(m->payload, m->len),
                                RD_KAFKA_V_TIMESTAMP(tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? 0 : ts),
                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(p, 100);
    }
    /* The producer owns the headers only when the produce was accepted. */
    if (err && hdrs)
        rd_kafka_headers_destroy(hdrs);
    return err;
}

static const char *const copy_options[] = {
    "from-offset", "from-time", "to-time", "key", "partition", "count",
    "read-uncommitted", NULL,
};

int replay_copy(const struct cfg *cfg, int argc, char **argv)
{
    struct range_reader *r = NULL;
    struct range_opts o;
    struct copy_stats st = { 0 };
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *p = NULL;
    rd_kafka_message_t *m = NULL;
    char errstr[512];
    long long read = 0;
    int dst_parts = 0, rc = REPLAY_EXIT_OK;
    enum qa_err err;
    rd_kafka_resp_err_t kerr;

    if (replay_only_options(cfg, "copy", copy_options, errstr, sizeof(errstr)))
        return replay_fail(REPLAY_EXIT_USAGE, "%s", errstr);
    if (argc != 3)
        return replay_fail(REPLAY_EXIT_USAGE, "copy: SRC DST: give a source and a "
                                              "destination topic");
    if (range_opts_from_cfg(cfg, &o, errstr, sizeof(errstr)))
        return replay_fail(REPLAY_EXIT_USAGE, "%s", errstr);
    if (!(conf = kq_conf_new(cfg, "qalert-replay-copy", errstr, sizeof(errstr))))
        return replay_fail(REPLAY_EXIT_USAGE, "%s", errstr);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &st);
    if (!(p = kq_producer_new(conf, NULL, errstr, sizeof(errstr)))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "producer: %s", errstr);
        goto out;
    }
    /* Check the destination first: nothing is read before it is known. */
    if ((err = range_topic_partitions(p, argv[2], &dst_parts, errstr, sizeof(errstr))) ||
        (err = range_reader_open(cfg, argv[1], &o, &r, errstr, sizeof(errstr)))) {
        rc = replay_fail(err == QA_ERR_INVALID ? REPLAY_EXIT_USAGE : REPLAY_EXIT_RUNTIME,
                         "%s", errstr);
        goto out;
    }
    for (;;) {
        if ((err = range_reader_next(r, &m, &replay_stop, errstr, sizeof(errstr)))) {
            rc = replay_fail(REPLAY_EXIT_RUNTIME, "%s", errstr);
            goto out;
        }
        if (!m)
            break;
        read++;
        if ((kerr = produce_copy(p, argv[2], dst_parts, m))) {
            rc = replay_fail(REPLAY_EXIT_RUNTIME, "produce to \"%s\": %s", argv[2],
                             rd_kafka_err2str(kerr));
            goto out;
        }
        rd_kafka_message_destroy(m);
        m = NULL;
        rd_kafka_poll(p, 0);
    }
out:
    if (m)
        rd_kafka_message_destroy(m);
    range_reader_close(r);
    if (p) {
        /* Every accepted record gets its report, even after a failure. */
        if (rd_kafka_flush(p, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR && rc == REPLAY_EXIT_OK)
            rc = replay_fail(REPLAY_EXIT_RUNTIME, "copy: %d records still undelivered "
                             "after 60 s", rd_kafka_outq_len(p));
        if (st.failed && rc == REPLAY_EXIT_OK)
            rc = replay_fail(REPLAY_EXIT_RUNTIME, "copy: %lld records not delivered: %s",
                             st.failed, st.first_error);
        printf("{\"copied\":%lld,\"read\":%lld,\"failed\":%lld}\n", st.delivered, read,
               st.failed);
        fflush(stdout);
        log_info("copy done", LOG_S("from", argv[1]), LOG_S("to", argv[2]),
                 LOG_I("read", read), LOG_I("copied", st.delivered), LOG_I("failed", st.failed));
        rd_kafka_destroy(p);
    }
    return rc;
}
