/*
 * raw_publish — test tool: puts raw events on the raw topic exactly as
 * qalert-ingest would (recognised, Avro-encoded, keyed by queue id), so the
 * processor can be tested without the HTTP layer.
 *
 *   raw_publish TOPIC FILE.jsonl     one Genesys event body per line
 *   raw_publish --gen N TOPIC        N deterministic acd.start/acd.end events
 *   raw_publish --policy TOPIC FILE  one record, key "policy", value FILE's
 *                                    bytes as they are (what sync-policy
 *                                    --topic writes); creates TOPIC
 *                                    (compacted, 1 partition) when missing
 *
 * --gen makes conversations on 3 queues and 2 media types, one starting
 * every 1000 ms of event time from 2025-11-23T08:00:00Z, each waiting
 * (i * 7919) % 61000 ms, so about half of them breach a 30 s threshold;
 * events are emitted in event-time order. Brokers: QALERT_KAFKA_BROKERS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/config.h"
#include "common/kafka.h"
#include "recognise.h"

extern char **environ;

static int delivered, failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    if (m->err) {
        failed++;
        fprintf(stderr, "raw_publish: delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        delivered++;
    }
}

static int publish_body(rd_kafka_t *rk, const char *topic, const char *body, size_t len)
{
    struct recognise_batch b = { 0 };
    enum recognise_code code;
    char errstr[512];

    if (recognise_body(body, len, RECOGNISE_GENESYS, clock_wall_ms(), &b, &code, errstr,
                       sizeof(errstr))) {
        fprintf(stderr, "raw_publish: refused event: %s\n", errstr);
        return -1;
    }
    for (size_t i = 0; i < b.nevents; i++) {
        struct raw_event *ev = &b.events[i];
        uint8_t *buf = NULL;
        size_t blen = 0;
        const char *key = ev->queue_id ? ev->queue_id : ev->conversation_id ? ev->conversation_id : ev->event_id;
        if (codec_encode_raw_event(ev, &buf, &blen, errstr, sizeof(errstr))) {
            fprintf(stderr, "raw_publish: encode: %s\n", errstr);
            recognise_batch_clear(&b);
            return -1;
        }
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                       RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE(buf, blen),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 50);
        free(buf);
        if (err) {
            fprintf(stderr, "raw_publish: produce: %s\n", rd_kafka_err2str(err));
            recognise_batch_clear(&b);
            return -1;
        }
        rd_kafka_poll(rk, 0);
    }
    recognise_batch_clear(&b);
    return 0;
}

static int publish_file(rd_kafka_t *rk, const char *topic, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;

    if (!f) {
        perror(path);
        return -1;
    }
    while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n > 0)
            rc = publish_body(rk, topic, line, (size_t)n);
    }
    free(line);
    fclose(f);
    return rc;
}

struct gen_event {
    int64_t t;
    int conv;
    int end;
};

static int cmp_gen(const void *a, const void *b)
{
    const struct gen_event *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->end != y->end)
        return x->end ? -1 : 1;
    return x->conv - y->conv;
}

static int publish_generated(rd_kafka_t *rk, const char *topic, int n)
{
    static const char *const queues[] = { "2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c",
                                          "7c6d5e4f-3a2b-4c1d-9e8f-7a6b5c4d3e2f",
                                          "9e9e9e9e-0000-4000-8000-000000000001" };
    static const char *const media[] = { "VOICE", "CHAT" };
    const int64_t base = 1763884800000LL;
    int nconv = n / 2;
    struct gen_event *evs = calloc((size_t)nconv * 2, sizeof(*evs));
    char body[1024];
    int rc = 0;

    if (!evs)
        return -1;
    for (int i = 0; i < nconv; i++) {
        int64_t start = base + (int64_t)i * 1000;
        evs[2 * i] = (struct gen_event){ start, i, 0 };
        evs[2 * i + 1] = (struct gen_event){ start + ((int64_t)i * 7919) % 61000, i, 1 };
    }
    qsort(evs, (size_t)nconv * 2, sizeof(*evs), cmp_gen);
    for (int k = 0; k < nconv * 2 && rc == 0; k++) {
        const struct gen_event *g = &evs[k];
        char conv[64];
        snprintf(conv, sizeof(conv), "9e000000-0000-4000-8000-%012d", g->conv);
        int len = snprintf(
            body, sizeof(body),
            "{\"topicName\":\"v2.detail.events.conversation.%s.acd.%s\",\"version\":\"2\","
            "\"eventBody\":{\"eventTime\":%lld,\"conversationId\":\"%s\",\"mediaType\":\"%s\","
            "\"queueId\":\"%s\"%s},\"metadata\":{\"CorrelationId\":\"gen-%d-%s\"}}",
            conv, g->end ? "end" : "start", (long long)g->t, conv, media[g->conv % 2],
            queues[g->conv % 3], g->end ? ",\"acdOutcome\":\"ANSWERED\"" : "", g->conv,
            g->end ? "end" : "start");
        if (len < 0 || (size_t)len >= sizeof(body)) {
            rc = -1;
            break;
        }
        rc = publish_body(rk, topic, body, (size_t)len);
    }
    free(evs);
    return rc;
}

static int publish_policy(rd_kafka_t *rk, const char *topic, const char *path)
{
    const struct kq_topic t = { topic, 1, 1 };
    char errstr[512], *text = NULL;
    size_t cap = 0, len = 0;
    FILE *f = fopen(path, "rb");
    int rc = -1;

    if (!f) {
        perror(path);
        return -1;
    }
    for (;;) {
        if (len + 4096 > cap) {
            char *n = realloc(text, cap = cap * 2 + 4096);
            if (!n)
                goto out;
            text = n;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (kq_create_topics(rk, &t, 1, 1, 30000, errstr, sizeof(errstr))) {
        fprintf(stderr, "raw_publish: create %s: %s\n", topic, errstr);
        goto out;
    }
    if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY("policy", 6),
                          RD_KAFKA_V_VALUE(text, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_END)) {
        fprintf(stderr, "raw_publish: produce to %s failed\n", topic);
        goto out;
    }
    rc = 0;
out:
    free(text);
    fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    const struct cfg_setting *const tables[] = { cfg_common_settings, NULL };
    struct cfg *cfg = cfg_new("raw_publish", "test tool", tables);
    char *fake_argv[] = { argv[0], NULL };
    char errstr[512];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    int rc;

    if (argc < 3 || !cfg || cfg_parse(cfg, 1, fake_argv, environ, errstr, sizeof(errstr)) ||
        codec_init(errstr, sizeof(errstr))) {
        fprintf(stderr, "usage: raw_publish TOPIC FILE.jsonl | raw_publish --gen N TOPIC | "
                        "raw_publish --policy TOPIC FILE\n");
        return 2;
    }
    conf = kq_conf_new(cfg, "raw_publish", errstr, sizeof(errstr));
    if (!conf) {
        fprintf(stderr, "raw_publish: %s\n", errstr);
        return 1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rk = kq_producer_new(conf, NULL, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "raw_publish: %s\n", errstr);
        return 1;
    }
    if (strcmp(argv[1], "--gen") == 0 && argc >= 4)
        rc = publish_generated(rk, argv[3], atoi(argv[2]));
    else if (strcmp(argv[1], "--policy") == 0 && argc >= 4)
        rc = publish_policy(rk, argv[2], argv[3]);
    else
        rc = publish_file(rk, argv[1], argv[2]);
    rd_kafka_flush(rk, 30000);
    rd_kafka_destroy(rk);
    codec_shutdown();
    cfg_free(cfg);
    fprintf(stderr, "raw_publish: %d delivered, %d failed\n", delivered, failed);
    return rc == 0 && failed == 0 ? 0 : 1;
}
