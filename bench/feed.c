/*
 * feed — the benchmarks' paced producer: puts records on a topic at a steady
 * rate, with wall-clock times, and prints what it sent so latencies can be
 * computed afterwards against the same clock.
 *
 *   feed raw TOPIC RATE COUNT QUEUES   acd.start events, each a new
 *       conversation, event time = now; QUEUES 0 gives each event its own
 *       queue (so each breach is its own alert), else they cycle over that
 *       many queues. Recognised and Avro-encoded as qalert-ingest does,
 *       key = queue id. Prints "<queueId> <eventTimeMs>" per event.
 *   feed alerts TOPIC RATE COUNT       FIRING alerts, each its own grouping
 *       key, encoded as qalert-processor does (headers included), record
 *       timestamp = now. Prints "<groupingKey> <timestampMs>" per alert.
 *
 *   feed create TOPIC PARTITIONS       creates the topic when missing (the
 *       bench broker does not auto-create), so it can be filled before the
 *       processor starts.
 *
 * RATE is records per second (0: as fast as the producer takes them).
 * Brokers: QALERT_KAFKA_BROKERS. Exit 0 only when every record was acked.
 * It must never pace by busy-waiting: it sleeps until each record's slot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/config.h"
#include "common/kafka.h"
#include "recognise.h"

extern char **environ;

static long long delivered, failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    if (m->err) {
        if (failed++ < 5)
            fprintf(stderr, "feed: delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        delivered++;
    }
}

static void sleep_until_mono(int64_t t)
{
    int64_t now = clock_mono_ms();
    if (t > now) {
        struct timespec ts = { (time_t)((t - now) / 1000), (long)((t - now) % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
}

static int produce(rd_kafka_t *rk, const char *topic, const char *key, uint8_t *buf,
                   size_t len, int64_t ts, rd_kafka_headers_t *h)
{
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                    RD_KAFKA_V_VALUE(buf, len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_HEADERS(h),
                                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(rk, 10);
    if (err) {
        if (h)
            rd_kafka_headers_destroy(h);
        fprintf(stderr, "feed: produce: %s\n", rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_poll(rk, 0);
    return 0;
}

static int feed_raw(rd_kafka_t *rk, const char *topic, long long i, int queues, const char *run)
{
    char body[1024], queue[96], conv[96], errstr[256];
    struct recognise_batch b = { 0 };
    enum recognise_code code;
    int64_t now = clock_wall_ms();
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = -1;

    snprintf(conv, sizeof(conv), "be000000-%s-4000-8000-%012lld", run, i);
    snprintf(queue, sizeof(queue), "bq000000-%s-4000-8000-%012lld", run,
             queues > 0 ? i % queues : i);
    int n = snprintf(body, sizeof(body),
                     "{\"topicName\":\"v2.detail.events.conversation.%s.acd.start\",\"version\":\"2\","
                     "\"eventBody\":{\"eventTime\":%lld,\"conversationId\":\"%s\","
                     "\"mediaType\":\"VOICE\",\"queueId\":\"%s\"},"
                     "\"metadata\":{\"CorrelationId\":\"bench-%s-%lld\"}}",
                     conv, (long long)now, conv, queue, run, i);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    if (recognise_body(body, (size_t)n, RECOGNISE_GENESYS, now, &b, &code, errstr,
                       sizeof(errstr)) || b.nevents != 1) {
        fprintf(stderr, "feed: refused event: %s\n", errstr);
        goto out;
    }
    if (codec_encode_raw_event(&b.events[0], &buf, &len, errstr, sizeof(errstr))) {
        fprintf(stderr, "feed: encode: %s\n", errstr);
        goto out;
    }
    if (produce(rk, topic, queue, buf, len, now, NULL) == 0) {
        printf("%s %lld\n", queue, (long long)now);
        rc = 0;
    }
out:
    free(buf);
    recognise_batch_clear(&b);
    return rc;
}

static int feed_alert(rd_kafka_t *rk, const char *topic, long long i, const char *run)
{
    char key[128], id[160], errstr[256];
    struct alert al;
    uint8_t *buf = NULL;
    size_t len = 0;
    int64_t now = clock_wall_ms();
    rd_kafka_headers_t *h;

    snprintf(key, sizeof(key), "bq-%s-%lld:wait_sla_breach:VOICE", run, i);
    snprintf(id, sizeof(id), "bench-%s-%lld", run, i);
    memset(&al, 0, sizeof(al));
    al.status = ALERT_FIRING;
    al.alert_id = id;
    al.grouping_key = key;
    al.alarm_type = "wait_sla_breach";
    al.queue_id = key;
    al.queue_name = "Support";
    al.media_type = "VOICE";
    al.priority = "P2";
    al.count = 1;
    al.first_seen_ms = al.last_seen_ms = al.at_ms = now;
    al.wait_ms = 45000;
    al.threshold_ms = 30000;
    al.service_level = 0.5;
    al.target = 0.8;
    al.samples = CODEC_ABSENT;
    al.message = "Support: conversation waited 45.0 s, threshold 30 s";
    al.description = "benchmark alert";
    if (codec_encode_alert(&al, &buf, &len, errstr, sizeof(errstr))) {
        fprintf(stderr, "feed: encode: %s\n", errstr);
        return -1;
    }
    h = rd_kafka_headers_new(3);
    kq_header_add(h, "qalert-status", "FIRING");
    kq_header_add(h, "qalert-alarm-type", al.alarm_type);
    kq_header_add(h, "qalert-alert-id", id);
    int rc = produce(rk, topic, key, buf, len, now, h);
    free(buf);
    if (rc == 0)
        printf("%s %lld\n", key, (long long)now);
    return rc;
}

int main(int argc, char **argv)
{
    const struct cfg_setting *const tables[] = { cfg_common_settings, NULL };
    char *fake_argv[] = { argv[0], NULL };
    char errstr[512], run[16];
    struct cfg *cfg = NULL;
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk = NULL;
    int raw, rc = 1, queues = 0;
    long long rate, count;

    if (argc == 4 && strcmp(argv[1], "create") == 0) {
        cfg = cfg_new("feed", "benchmark tool", tables);
        if (!cfg || cfg_parse(cfg, 1, fake_argv, environ, errstr, sizeof(errstr)) ||
            !(conf = kq_conf_new(cfg, "bench-feed", errstr, sizeof(errstr))) ||
            !(rk = kq_producer_new(conf, NULL, errstr, sizeof(errstr))))
            goto fail;
        struct kq_topic t = { argv[2], atoi(argv[3]), 0 };
        if (kq_create_topics(rk, &t, 1, 1, 10000, errstr, sizeof(errstr)))
            goto fail;
        rc = 0;
        goto out;
    }
    if (argc < 5 || (strcmp(argv[1], "raw") != 0 && strcmp(argv[1], "alerts") != 0) ||
        (rate = atoll(argv[3])) < 0 || (count = atoll(argv[4])) <= 0) {
        fprintf(stderr, "usage: feed raw TOPIC RATE COUNT QUEUES | feed alerts TOPIC RATE COUNT"
                        " | feed create TOPIC PARTITIONS\n");
        return 2;
    }
    raw = strcmp(argv[1], "raw") == 0;
    if (raw && argc > 5)
        queues = atoi(argv[5]);
    /* Distinct ids per run, so runs on one broker never share a key. */
    snprintf(run, sizeof(run), "%04x", (unsigned)(clock_wall_ms() ^ getpid()) & 0xffff);
    cfg = cfg_new("feed", "benchmark tool", tables);
    if (!cfg || cfg_parse(cfg, 1, fake_argv, environ, errstr, sizeof(errstr)) ||
        codec_init(errstr, sizeof(errstr)))
        goto fail;
    if (!(conf = kq_conf_new(cfg, "bench-feed", errstr, sizeof(errstr))))
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    /* Paced records go out at once: a latency figure must not include the
     * feeder's own batch wait (librdkafka's linger.ms, 5 ms). */
    if (rate > 0 && kq_conf_set(conf, "linger.ms", "0", errstr, sizeof(errstr))) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    if (!(rk = kq_producer_new(conf, NULL, errstr, sizeof(errstr))))
        goto fail;
    int64_t t0 = clock_mono_ms();
    rc = 0;
    for (long long i = 0; i < count && rc == 0; i++) {
        if (rate > 0)
            sleep_until_mono(t0 + i * 1000 / rate);
        rc = raw ? feed_raw(rk, argv[2], i, queues, run) : feed_alert(rk, argv[2], i, run);
    }
    rd_kafka_flush(rk, 30000);
    fflush(stdout);
    fprintf(stderr, "feed: %lld delivered, %lld failed in %.1f s\n", delivered, failed,
            (double)(clock_mono_ms() - t0) / 1000.0);
    rc = rc == 0 && failed == 0 && delivered == count ? 0 : 1;
    goto out;
fail:
    fprintf(stderr, "feed: %s\n", errstr);
out:
    if (rk)
        rd_kafka_destroy(rk);
    codec_shutdown();
    cfg_free(cfg);
    return rc;
}
