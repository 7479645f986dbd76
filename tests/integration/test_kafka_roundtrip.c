/*
 * test_kafka_roundtrip.c — the Kafka helpers against a real broker: create a
 * topic with kq_create_topics, produce an Avro qalert.RawEvent with headers
 * through a kq producer (the delivery report is the only truth), read it
 * back through a kq consumer in a fresh group, and compare key, headers and
 * every field after decoding. Then: creating an existing topic succeeds, and
 * asking for a missing topic's partitions fails with a clear message.
 *
 * Needs $QALERT_KAFKA_BROKERS; exits 77 when QALERT_TEST_NO_BROKER=1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/log.h"
#include "support/support.h"

extern char **environ;

static int failures;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, \
                    #cond);                                                 \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
            failures++;                                                     \
            goto out;                                                       \
        }                                                                   \
    } while (0)

static struct {
    int delivered;
    rd_kafka_resp_err_t err;
    int32_t partition;
} dr;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    dr.delivered++;
    dr.err = msg->err;
    dr.partition = msg->partition;
}

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Every field, the body byte for byte. */
static int raw_event_equal(const struct raw_event *a, const struct raw_event *b)
{
    return str_eq(a->event_id, b->event_id) && a->received_ms == b->received_ms &&
           a->source == b->source && a->kind == b->kind &&
           str_eq(a->event_type, b->event_type) && str_eq(a->queue_id, b->queue_id) &&
           str_eq(a->queue_name, b->queue_name) &&
           str_eq(a->conversation_id, b->conversation_id) &&
           str_eq(a->media_type, b->media_type) && a->event_time_ms == b->event_time_ms &&
           a->wait_ms == b->wait_ms && a->sla_ms == b->sla_ms &&
           str_eq(a->acd_outcome, b->acd_outcome) &&
           a->sla_percentage == b->sla_percentage && a->target_sla == b->target_sla &&
           a->calls_in_queue == b->calls_in_queue && a->body_len == b->body_len &&
           memcmp(a->body, b->body, a->body_len) == 0;
}

static rd_kafka_t *new_producer(struct cfg *cfg, char *errstr, size_t n)
{
    rd_kafka_conf_t *conf = kq_conf_new(cfg, "it-roundtrip-producer", errstr, n);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    return kq_producer_new(conf, NULL, errstr, n);
}

static void test_roundtrip(struct cfg *cfg)
{
    static uint8_t body[] = "{\"topicName\":\"v2.detail.events.conversation.q1.acd.end\"}"
                            "\x00\xff\xfe binary tail";
    struct raw_event ev = {
        .event_id = "evt-1234", .received_ms = 1700000000123LL,
        .source = RAW_SOURCE_EVENTBRIDGE, .kind = RAW_QUEUE_STATS,
        .event_type = "routing.queue.stats", .queue_id = "q-42",
        .queue_name = "Billing (EU)", .conversation_id = NULL, .media_type = "VOICE",
        .event_time_ms = 1700000000000LL, .wait_ms = 91234, .sla_ms = CODEC_ABSENT,
        .acd_outcome = "ABANDON", .sla_percentage = 72.5, .target_sla = 80.0,
        .calls_in_queue = 17, .body = body, .body_len = sizeof(body) - 1,
    };
    struct raw_event got = { 0 };
    struct kq_topic topic;
    struct kq_consumer_opts opts = { 0 };
    rd_kafka_t *producer = NULL, *consumer = NULL;
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_message_t *msg = NULL;
    rd_kafka_topic_partition_list_t *offsets = NULL;
    uint8_t *value = NULL;
    size_t value_len = 0;
    char errstr[512], name[128], group[128], buf[64];
    const char *topics[1];
    int64_t deadline;

    snprintf(name, sizeof(name), "%s", ts_unique("it-roundtrip"));
    snprintf(group, sizeof(group), "%s", ts_unique("it-roundtrip-group"));
    topic = (struct kq_topic){ .name = name, .partitions = 3 };
    topics[0] = name;

    producer = new_producer(cfg, errstr, sizeof(errstr));
    CHECK(producer, "%s", errstr);
    CHECK(kq_metadata_ok(producer, 30000), "no metadata from %s",
          cfg_str(cfg, "kafka-brokers"));
    CHECK(kq_create_topics(producer, &topic, 1, 1, 30000, errstr, sizeof(errstr)) == QA_OK,
          "%s", errstr);
    /* no waiting here: kq_create_topics returns once metadata shows them */
    CHECK(kq_partition_count(producer, name, 5000, errstr, sizeof(errstr)) == 3, "%s",
          errstr);

    CHECK(codec_encode_raw_event(&ev, &value, &value_len, errstr, sizeof(errstr)) == QA_OK,
          "%s", errstr);
    hdrs = rd_kafka_headers_new(4);
    CHECK(kq_header_add(hdrs, "qalert-source", "eventbridge") == QA_OK, "header");
    CHECK(kq_header_add(hdrs, "qalert-event-id", ev.event_id) == QA_OK, "header");
    CHECK(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(name),
                            RD_KAFKA_V_KEY(ev.queue_id, strlen(ev.queue_id)),
                            RD_KAFKA_V_VALUE(value, value_len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END) == 0,
          "producev");
    hdrs = NULL; /* owned by the message now */
    CHECK(rd_kafka_flush(producer, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR, "flush timed out");
    CHECK(dr.delivered == 1, "%d delivery reports", dr.delivered);
    CHECK(dr.err == RD_KAFKA_RESP_ERR_NO_ERROR, "delivery: %s", rd_kafka_err2str(dr.err));

    opts.group_id = group;
    consumer = kq_consumer_new(kq_conf_new(cfg, "it-roundtrip-consumer", errstr,
                                           sizeof(errstr)), &opts, errstr, sizeof(errstr));
    CHECK(consumer, "%s", errstr);
    CHECK(kq_subscribe(consumer, topics, 1, errstr, sizeof(errstr)) == QA_OK, "%s", errstr);
    deadline = clock_mono_ms() + 60000;
    while (!msg && clock_mono_ms() < deadline) {
        msg = rd_kafka_consumer_poll(consumer, 500);
        if (msg && msg->err) {
            fprintf(stderr, "consumer: %s\n", rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            msg = NULL;
        }
    }
    CHECK(msg, "no record within 60 s");
    CHECK(msg->partition == dr.partition, "partition %d, delivered to %d",
          (int)msg->partition, (int)dr.partition);
    CHECK(msg->key_len == strlen(ev.queue_id) &&
          memcmp(msg->key, ev.queue_id, msg->key_len) == 0, "key differs");
    CHECK(kq_header_get(msg, "qalert-source", buf, sizeof(buf)) == 11 &&
          strcmp(buf, "eventbridge") == 0, "header qalert-source");
    CHECK(kq_header_get(msg, "qalert-event-id", buf, sizeof(buf)) == 8 &&
          strcmp(buf, "evt-1234") == 0, "header qalert-event-id");
    CHECK(kq_header_get(msg, "qalert-absent", buf, sizeof(buf)) == -1, "absent header");
    CHECK(msg->len == value_len && memcmp(msg->payload, value, value_len) == 0,
          "value bytes differ");
    CHECK(codec_decode_raw_event(msg->payload, msg->len, &got, errstr,
                                 sizeof(errstr)) == QA_OK, "%s", errstr);
    CHECK(raw_event_equal(&ev, &got), "decoded RawEvent differs");
    /* the manual offset discipline: store offset+1, then commit */
    offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, name, msg->partition)->offset =
        msg->offset + 1;
    CHECK(rd_kafka_offsets_store(consumer, offsets) == 0, "offsets_store");
    CHECK(rd_kafka_commit(consumer, NULL, 0) == 0, "commit");
    printf("ok roundtrip: %s partition %d offset %lld\n", name, (int)msg->partition,
           (long long)msg->offset);
out:
    if (offsets)
        rd_kafka_topic_partition_list_destroy(offsets);
    if (msg)
        rd_kafka_message_destroy(msg);
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    if (consumer) {
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
    }
    if (producer)
        rd_kafka_destroy(producer);
    codec_raw_event_clear(&got);
    free(value);
}

static void test_existing_and_missing(struct cfg *cfg)
{
    rd_kafka_t *rk = NULL;
    char errstr[512], name[128], compacted[128], missing[128];
    struct kq_topic topics[2];

    snprintf(name, sizeof(name), "%s", ts_unique("it-existing"));
    snprintf(compacted, sizeof(compacted), "%s", ts_unique("it-compacted"));
    snprintf(missing, sizeof(missing), "%s", ts_unique("it-missing"));
    topics[0] = (struct kq_topic){ .name = name, .partitions = 2 };
    topics[1] = (struct kq_topic){ .name = compacted, .partitions = 1, .compacted = 1 };
    rk = new_producer(cfg, errstr, sizeof(errstr));
    CHECK(rk, "%s", errstr);
    CHECK(kq_create_topics(rk, topics, 2, 1, 30000, errstr, sizeof(errstr)) == QA_OK,
          "%s", errstr);
    /* again: "already exists" is success */
    CHECK(kq_create_topics(rk, topics, 2, 1, 30000, errstr, sizeof(errstr)) == QA_OK,
          "second create: %s", errstr);
    CHECK(kq_partition_count(rk, name, 5000, errstr, sizeof(errstr)) == 2, "%s", errstr);
    CHECK(kq_partition_count(rk, compacted, 5000, errstr, sizeof(errstr)) == 1, "%s",
          errstr);
    errstr[0] = '\0';
    CHECK(kq_partition_count(rk, missing, 5000, errstr, sizeof(errstr)) == -1,
          "missing topic has partitions");
    CHECK(strstr(errstr, missing) && strstr(errstr, "does not exist"), "errstr: %s",
          errstr);
    /* looking did not create it */
    CHECK(kq_partition_count(rk, missing, 5000, errstr, sizeof(errstr)) == -1,
          "the lookup created the topic");
    /* a bad request is an error, not a hang */
    topics[0] = (struct kq_topic){ .name = ts_unique("it-bad"), .partitions = 1 };
    CHECK(kq_create_topics(rk, topics, 1, 3, 30000, errstr, sizeof(errstr)) != QA_OK,
          "replication factor 3 on one broker accepted");
    printf("ok existing/missing: %s\n", errstr);
out:
    if (rk)
        rd_kafka_destroy(rk);
}

int main(int argc, char **argv)
{
    const struct cfg_setting *const tables[] = { cfg_common_settings, NULL };
    struct cfg *cfg = NULL;
    char errstr[512];

    if (ts_no_broker())
        return 77;
    log_set_program("it_kafka_roundtrip");
    log_set_level(LOG_WARN);
    if (codec_init(errstr, sizeof(errstr)) != QA_OK) {
        fprintf(stderr, "codec_init: %s\n", errstr);
        return 1;
    }
    /* The real environment: QALERT_KAFKA_PORT/STATE of the harness are set
     * and must not reach librdkafka. */
    cfg = cfg_new("it_kafka_roundtrip", "", tables);
    if (!cfg || cfg_parse(cfg, argc, argv, environ, errstr, sizeof(errstr)) != CFG_PARSE_OK) {
        fprintf(stderr, "config: %s\n", errstr);
        return 1;
    }
    test_roundtrip(cfg);
    test_existing_and_missing(cfg);
    cfg_free(cfg);
    codec_shutdown();
    return failures ? 1 : 0;
}
