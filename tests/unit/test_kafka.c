/*
 * test_kafka.c — the Kafka helpers without a real broker: configuration
 * pass-through read back from librdkafka, refused properties named the way
 * the operator wrote them, the producer and consumer guarantees that must
 * hold whatever was passed through, and string headers read back from real
 * messages (librdkafka's mock cluster, since a message's headers cannot be
 * attached to a hand-made rd_kafka_message_t).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/kafka.h"
#include "common/log.h"

static char errstr[512];

static const struct cfg_setting *const tables[] = { cfg_common_settings, NULL };

static struct cfg *parsed(char **argv, int argc, char **env)
{
    struct cfg *cfg = cfg_new("test", "", tables);
    assert_non_null(cfg);
    assert_int_equal(cfg_parse(cfg, argc, argv, env, errstr, sizeof(errstr)),
                     CFG_PARSE_OK);
    return cfg;
}

static void expect_prop(const rd_kafka_conf_t *conf, const char *key, const char *want)
{
    char buf[512];
    size_t n = sizeof(buf);

    assert_int_equal(rd_kafka_conf_get(conf, key, buf, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(buf, want);
}

static void test_conf_passthrough(void **state)
{
    char *env[] = { "QALERT_KAFKA_BROKERS=h1:9092,h2:9093",
                    "QALERT_KAFKA_CLIENT_RACK=rack-1",
                    "QALERT_KAFKA_SOCKET_TIMEOUT_MS=12345", NULL };
    char *argv[] = { "p", "--kafka-message-max-bytes", "200000", NULL };
    struct cfg *cfg = parsed(argv, 3, env);
    rd_kafka_conf_t *conf = kq_conf_new(cfg, "qalert-test", errstr, sizeof(errstr));

    assert_non_null(conf);
    expect_prop(conf, "bootstrap.servers", "h1:9092,h2:9093");
    expect_prop(conf, "client.id", "qalert-test");
    expect_prop(conf, "client.rack", "rack-1");
    expect_prop(conf, "socket.timeout.ms", "12345");
    expect_prop(conf, "message.max.bytes", "200000");
    rd_kafka_conf_destroy(conf);
    cfg_free(cfg);
}

static void test_conf_refused(void **state)
{
    char *env1[] = { "QALERT_KAFKA_NO_SUCH_PROP=1", NULL };
    char *env2[] = { "QALERT_KAFKA_ACKS=maybe", NULL };
    char *argv[] = { "p", NULL };
    struct cfg *cfg = parsed(argv, 1, env1);

    assert_null(kq_conf_new(cfg, "x", errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "QALERT_KAFKA_NO_SUCH_PROP (--kafka-no-such-prop): "));
    assert_non_null(strstr(errstr, "no.such.prop"));
    cfg_free(cfg);

    cfg = parsed(argv, 1, env2);
    assert_null(kq_conf_new(cfg, "x", errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "QALERT_KAFKA_ACKS (--kafka-acks): "));
    assert_non_null(strstr(errstr, "request.required.acks"));
    cfg_free(cfg);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(kq_conf_set(conf, "linger.ms", "-5", errstr, sizeof(errstr)),
                     QA_ERR_INVALID);
    assert_non_null(strstr(errstr, "kafka property linger.ms: "));
    rd_kafka_conf_destroy(conf);
}

static void test_producer_guarantees(void **state)
{
    /* An operator's acks=1 must not weaken idempotence; linger.ms is theirs. */
    char *env[] = { "QALERT_KAFKA_ACKS=1", "QALERT_KAFKA_LINGER_MS=20",
                    "QALERT_KAFKA_LOG_LEVEL=0",
                    "QALERT_KAFKA_ENABLE_IDEMPOTENCE=false", NULL };
    char *argv[] = { "p", NULL };
    struct cfg *cfg = parsed(argv, 1, env);
    rd_kafka_conf_t *conf = kq_conf_new(cfg, "p", errstr, sizeof(errstr));
    rd_kafka_t *rk;

    assert_non_null(conf);
    rk = kq_producer_new(conf, "tx-1", errstr, sizeof(errstr));
    assert_non_null(rk);
    expect_prop(rd_kafka_conf(rk), "enable.idempotence", "true");
    expect_prop(rd_kafka_conf(rk), "acks", "-1");
    expect_prop(rd_kafka_conf(rk), "linger.ms", "20");
    expect_prop(rd_kafka_conf(rk), "transactional.id", "tx-1");
    expect_prop(rd_kafka_conf(rk), "log_level", "0");
    rd_kafka_destroy(rk);
    cfg_free(cfg);

    conf = kq_conf_new(NULL, "p", errstr, sizeof(errstr));
    assert_int_equal(kq_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)), QA_OK);
    rk = kq_producer_new(conf, NULL, errstr, sizeof(errstr));
    assert_non_null(rk);
    expect_prop(rd_kafka_conf(rk), "linger.ms", "5");
    rd_kafka_destroy(rk);
    assert_null(kq_producer_new(NULL, NULL, errstr, sizeof(errstr)));
}

static void test_consumer_settings(void **state)
{
    struct kq_consumer_opts none = { 0 };
    struct kq_consumer_opts opts = { .group_id = "g1" };
    struct kq_consumer_opts opts2 = { .group_id = "g2", .read_uncommitted = 1,
                                      .auto_commit = 1, .offset_reset = "latest" };
    struct kq_consumer_opts bad = { .group_id = "g3", .offset_reset = "sometime" };
    rd_kafka_t *rk;

    /* conf is owned (and freed) in every case: ASan checks it. */
    assert_null(kq_consumer_new(kq_conf_new(NULL, "c", errstr, sizeof(errstr)), &none,
                                errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "QALERT_GROUP_ID"));
    assert_null(kq_consumer_new(kq_conf_new(NULL, "c", errstr, sizeof(errstr)), &bad,
                                errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "auto.offset.reset"));

    rk = kq_consumer_new(kq_conf_new(NULL, "c", errstr, sizeof(errstr)), &opts, errstr,
                         sizeof(errstr));
    assert_non_null(rk);
    expect_prop(rd_kafka_conf(rk), "group.id", "g1");
    expect_prop(rd_kafka_conf(rk), "enable.auto.offset.store", "false");
    expect_prop(rd_kafka_conf(rk), "enable.auto.commit", "false");
    expect_prop(rd_kafka_conf(rk), "isolation.level", "read_committed");
    expect_prop(rd_kafka_conf(rk), "auto.offset.reset", "smallest");
    expect_prop(rd_kafka_conf(rk), "partition.assignment.strategy", "range,roundrobin");
    expect_prop(rd_kafka_conf(rk), "enable.partition.eof", "false");
    /* a killed member must not stall the group 45 s (2.0.2's default) */
    expect_prop(rd_kafka_conf(rk), "session.timeout.ms", "10000");
    expect_prop(rd_kafka_conf(rk), "heartbeat.interval.ms", "3000");
    rd_kafka_destroy(rk);

    rk = kq_consumer_new(kq_conf_new(NULL, "c", errstr, sizeof(errstr)), &opts2, errstr,
                         sizeof(errstr));
    assert_non_null(rk);
    expect_prop(rd_kafka_conf(rk), "isolation.level", "read_uncommitted");
    expect_prop(rd_kafka_conf(rk), "enable.auto.commit", "true");
    expect_prop(rd_kafka_conf(rk), "auto.offset.reset", "largest");
    rd_kafka_destroy(rk);

    /* the operator's own session timeout and heartbeat are kept */
    {
        char *env[] = { "QALERT_KAFKA_SESSION_TIMEOUT_MS=30000",
                        "QALERT_KAFKA_HEARTBEAT_INTERVAL_MS=2000", NULL };
        char *argv[] = { "p", NULL };
        struct cfg *cfg = parsed(argv, 1, env);

        rk = kq_consumer_new(kq_conf_new(cfg, "c", errstr, sizeof(errstr)), &opts, errstr,
                             sizeof(errstr));
        assert_non_null(rk);
        expect_prop(rd_kafka_conf(rk), "session.timeout.ms", "30000");
        expect_prop(rd_kafka_conf(rk), "heartbeat.interval.ms", "2000");
        rd_kafka_destroy(rk);
        cfg_free(cfg);
    }
}

/* What the delivery report saw through kq_header_get. */
static struct {
    int delivered;
    rd_kafka_resp_err_t err;
    int status_len, last_len, empty_len, absent_len, exact_len, short_len, nul_len;
    char status[32], last[32], exact[8];
} seen;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    char buf[32], small[5];

    seen.delivered++;
    seen.err = msg->err;
    seen.status_len = kq_header_get(msg, "qalert-status", seen.status, sizeof(seen.status));
    seen.last_len = kq_header_get(msg, "dup", seen.last, sizeof(seen.last));
    seen.empty_len = kq_header_get(msg, "empty", buf, sizeof(buf));
    seen.absent_len = kq_header_get(msg, "absent", buf, sizeof(buf));
    /* "12345" fits 6 bytes exactly and not 5 */
    seen.exact_len = kq_header_get(msg, "five", seen.exact, 6);
    seen.short_len = kq_header_get(msg, "five", small, sizeof(small));
    seen.nul_len = kq_header_get(msg, "nul", buf, sizeof(buf));
}

static void test_headers_roundtrip_mock(void **state)
{
    rd_kafka_conf_t *conf = kq_conf_new(NULL, "hdr", errstr, sizeof(errstr));
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(8);
    rd_kafka_t *rk;

    assert_non_null(conf);
    assert_int_equal(kq_conf_set(conf, "test.mock.num.brokers", "1", errstr,
                                 sizeof(errstr)), QA_OK);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rk = kq_producer_new(conf, NULL, errstr, sizeof(errstr));
    assert_non_null(rk);
    assert_true(kq_metadata_ok(rk, 5000));

    assert_int_equal(kq_header_add(hdrs, "qalert-status", "FIRING"), QA_OK);
    assert_int_equal(kq_header_add(hdrs, "dup", "first"), QA_OK);
    assert_int_equal(kq_header_add(hdrs, "dup", "second"), QA_OK);
    assert_int_equal(kq_header_add(hdrs, "empty", ""), QA_OK);
    assert_int_equal(kq_header_add(hdrs, "five", "12345"), QA_OK);
    assert_int_equal(rd_kafka_header_add(hdrs, "nul", -1, "a\0b", 3), 0);
    assert_int_equal(kq_header_add(hdrs, NULL, "x"), QA_ERR_INVALID);
    assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("hdr-topic"),
                                       RD_KAFKA_V_VALUE("v", 1),
                                       RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(seen.delivered, 1);
    assert_int_equal(seen.err, RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(seen.status_len, 6);
    assert_string_equal(seen.status, "FIRING");
    assert_int_equal(seen.last_len, 6);
    assert_string_equal(seen.last, "second");
    assert_int_equal(seen.empty_len, 0);
    assert_int_equal(seen.absent_len, -1);
    assert_int_equal(seen.exact_len, 5);
    assert_string_equal(seen.exact, "12345");
    assert_int_equal(seen.short_len, -1);
    assert_int_equal(seen.nul_len, -1);

    /* the mock broker created hdr-topic on first use; no such other topic */
    assert_true(kq_partition_count(rk, "hdr-topic", 5000, errstr, sizeof(errstr)) > 0);
    assert_int_equal(kq_partition_count(rk, "no-such-topic", 5000, errstr,
                                        sizeof(errstr)), -1);
    assert_string_equal(errstr, "topic no-such-topic does not exist (create it, or "
                                "check QALERT_TOPIC_*)");
    rd_kafka_destroy(rk);
}

static void test_metadata_unreachable(void **state)
{
    rd_kafka_conf_t *conf = kq_conf_new(NULL, "down", errstr, sizeof(errstr));
    rd_kafka_t *rk;

    /* A port nothing listens on: no answer, a clear error, no hang. */
    assert_int_equal(kq_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", errstr,
                                 sizeof(errstr)), QA_OK);
    assert_int_equal(kq_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)), QA_OK);
    rk = kq_producer_new(conf, NULL, errstr, sizeof(errstr));
    assert_non_null(rk);
    assert_false(kq_metadata_ok(rk, 300));
    assert_int_equal(kq_partition_count(rk, "t", 300, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "metadata for topic t: "));
    rd_kafka_destroy(rk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_passthrough),
        cmocka_unit_test(test_conf_refused),
        cmocka_unit_test(test_producer_guarantees),
        cmocka_unit_test(test_consumer_settings),
        cmocka_unit_test(test_headers_roundtrip_mock),
        cmocka_unit_test(test_metadata_unreachable),
    };
    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
