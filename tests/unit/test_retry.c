/*
 * test_retry.c — the retry decision: classification of every kind of answer,
 * the next destination at each attempt (with Retry-After above and below the
 * delay), topic names, headers round trip and hostile header values,
 * Retry-After forms and QALERT_RETRY_DELAYS_MS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "notifier/retry.h"

static struct sink_result http(int status, const char *body)
{
    struct sink_result r;
    sink_parse_response(SINK_API_OPSGENIE, status, body, body ? strlen(body) : 0,
                        NULL, 0, &r);
    return r;
}

static void test_classify_http(void **state)
{
    static const struct { int status; enum retry_verdict v; } table[] = {
        { 200, RETRY_DELIVERED }, { 202, RETRY_DELIVERED }, { 204, RETRY_DELIVERED },
        { 299, RETRY_DELIVERED }, { 408, RETRY_AGAIN }, { 429, RETRY_AGAIN },
        { 500, RETRY_AGAIN }, { 502, RETRY_AGAIN }, { 503, RETRY_AGAIN },
        { 599, RETRY_AGAIN }, { 400, RETRY_DEAD_LETTER }, { 401, RETRY_DEAD_LETTER },
        { 403, RETRY_DEAD_LETTER }, { 404, RETRY_DEAD_LETTER },
        { 409, RETRY_DEAD_LETTER }, { 410, RETRY_DEAD_LETTER },
        { 413, RETRY_DEAD_LETTER }, { 422, RETRY_DEAD_LETTER },
        { 499, RETRY_DEAD_LETTER }, { 301, RETRY_AGAIN }, { 100, RETRY_AGAIN },
        { 600, RETRY_AGAIN }, { 0, RETRY_AGAIN },
    };
    char err[128];

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct sink_result r = http(table[i].status, NULL);
        if (retry_classify(&r, err, sizeof(err)) != table[i].v)
            fail_msg("status %d: wrong verdict", table[i].status);
    }
    struct sink_result r = http(422, "{\"message\":\"Message can not be empty\",\"took\":0}");
    assert_int_equal(retry_classify(&r, err, sizeof(err)), RETRY_DEAD_LETTER);
    assert_string_equal(err, "http 422: Message can not be empty");
    r = http(202, "{\"result\":\"Request will be processed\",\"requestId\":\"abc-1\"}");
    assert_int_equal(retry_classify(&r, err, sizeof(err)), RETRY_DELIVERED);
    assert_string_equal(r.request_id, "abc-1");
    assert_string_equal(err, "");
    assert_int_equal(retry_classify(NULL, err, sizeof(err)), RETRY_AGAIN);
    /* a tiny or absent error buffer is fine */
    assert_int_equal(retry_classify(&r, NULL, 0), RETRY_DELIVERED);
    r = http(500, "x");
    assert_int_equal(retry_classify(&r, err, 4), RETRY_AGAIN);
    assert_string_equal(err, "htt");
}

static void test_classify_transport(void **state)
{
    struct sink_result r;
    char err[128];

    sink_result_transport(&r, SINK_TRANSPORT_TIMEOUT, "Operation timed out after 10000 ms");
    assert_int_equal(retry_classify(&r, err, sizeof(err)), RETRY_AGAIN);
    assert_string_equal(err, "timeout: Operation timed out after 10000 ms");
    sink_result_transport(&r, SINK_TRANSPORT_CONNECT, "Connection refused\r\n\x01");
    assert_int_equal(retry_classify(&r, err, sizeof(err)), RETRY_AGAIN);
    assert_string_equal(err, "connection error: Connection refused  ?");
    /* OK is not a transport failure: coerced to a connection error */
    sink_result_transport(&r, SINK_TRANSPORT_OK, NULL);
    assert_int_equal(retry_classify(&r, err, sizeof(err)), RETRY_AGAIN);
    assert_string_equal(err, "connection error");
}

static enum retry_verdict slack_web(const char *body, char *err, size_t n)
{
    struct sink_result r;
    sink_parse_response(SINK_API_SLACK_WEB, 200, body, strlen(body), NULL, 0, &r);
    return retry_classify(&r, err, n);
}

static void test_classify_slack(void **state)
{
    char err[128];
    struct sink_result r;

    assert_int_equal(slack_web("{\"ok\":true,\"channel\":\"C1\",\"ts\":\"1.2\"}", err,
                               sizeof(err)), RETRY_DELIVERED);
    assert_int_equal(slack_web("{\"ok\":false,\"error\":\"invalid_auth\"}", err,
                               sizeof(err)), RETRY_DEAD_LETTER);
    assert_string_equal(err, "slack: invalid_auth");
    assert_int_equal(slack_web("{\"ok\":false,\"error\":\"channel_not_found\"}", err,
                               sizeof(err)), RETRY_DEAD_LETTER);
    assert_int_equal(slack_web("{\"ok\":false,\"error\":\"invalid_blocks\"}", err,
                               sizeof(err)), RETRY_DEAD_LETTER);
    assert_int_equal(slack_web("{\"ok\":false,\"error\":\"ratelimited\"}", err,
                               sizeof(err)), RETRY_AGAIN);
    assert_int_equal(slack_web("{\"ok\":false,\"error\":\"internal_error\"}", err,
                               sizeof(err)), RETRY_AGAIN);
    assert_int_equal(slack_web("{\"ok\":false}", err, sizeof(err)), RETRY_DEAD_LETTER);
    assert_string_equal(err, "slack: unknown_error");
    /* "ok" must be the JSON true, not a truthy string */
    assert_int_equal(slack_web("{\"ok\":\"true\"}", err, sizeof(err)), RETRY_DEAD_LETTER);
    /* a 2xx that is not Slack's JSON (a proxy page) is retried */
    assert_int_equal(slack_web("<html>", err, sizeof(err)), RETRY_AGAIN);
    assert_string_equal(err, "slack: invalid_response");
    /* Web API 429 with Retry-After */
    sink_parse_response(SINK_API_SLACK_WEB, 429, "", 0, "30", 0, &r);
    assert_int_equal(retry_classify(&r, err, sizeof(err)), RETRY_AGAIN);
    assert_int_equal(r.retry_after_ms, 30000);
    /* webhook: text codes with HTTP statuses */
    sink_parse_response(SINK_API_SLACK_WEBHOOK, 200, "ok", 2, NULL, 0, &r);
    assert_int_equal(retry_classify(&r, err, sizeof(err)), RETRY_DELIVERED);
    sink_parse_response(SINK_API_SLACK_WEBHOOK, 400, "invalid_payload", 15, NULL, 0, &r);
    assert_int_equal(retry_classify(&r, err, sizeof(err)), RETRY_DEAD_LETTER);
    assert_string_equal(err, "http 400: invalid_payload");
    sink_parse_response(SINK_API_SLACK_WEBHOOK, 404, "no_service", 10, NULL, 0, &r);
    assert_int_equal(retry_classify(&r, err, sizeof(err)), RETRY_DEAD_LETTER);
    sink_parse_response(SINK_API_SLACK_WEBHOOK, 410, "channel_is_archived", 19, NULL, 0, &r);
    assert_int_equal(retry_classify(&r, err, sizeof(err)), RETRY_DEAD_LETTER);
    sink_parse_response(SINK_API_SLACK_WEBHOOK, 500, "rollup_error", 12, NULL, 0, &r);
    assert_int_equal(retry_classify(&r, err, sizeof(err)), RETRY_AGAIN);
    assert_true(retry_slack_error_is_transient("rate_limited"));
    assert_false(retry_slack_error_is_transient(NULL));
    assert_false(retry_slack_error_is_transient("ratelimitedx"));
}

static void test_next(void **state)
{
    const int64_t delays[] = { 10000, 60000, 600000 };
    const int64_t now = 1700000000000LL;
    struct retry_dest d;

    retry_next(0, delays, 3, now, 0, &d);
    assert_int_equal(d.kind, RETRY_DEST_RETRY);
    assert_int_equal(d.attempt, 1);
    assert_int_equal(d.not_before_ms, now + 10000);
    retry_next(1, delays, 3, now, 0, &d);
    assert_int_equal(d.kind, RETRY_DEST_RETRY);
    assert_int_equal(d.attempt, 2);
    assert_int_equal(d.not_before_ms, now + 60000);
    retry_next(2, delays, 3, now, 0, &d);
    assert_int_equal(d.kind, RETRY_DEST_RETRY);
    assert_int_equal(d.attempt, 3);
    assert_int_equal(d.not_before_ms, now + 600000);
    retry_next(3, delays, 3, now, 0, &d);
    assert_int_equal(d.kind, RETRY_DEST_DLQ);
    assert_int_equal(d.attempt, 4);
    assert_int_equal(d.not_before_ms, now);
    retry_next(999999, delays, 3, now, 0, &d);
    assert_int_equal(d.kind, RETRY_DEST_DLQ);
    /* Retry-After larger than the delay wins; smaller does not shorten it */
    retry_next(0, delays, 3, now, 30000, &d);
    assert_int_equal(d.not_before_ms, now + 30000);
    retry_next(0, delays, 3, now, 9999, &d);
    assert_int_equal(d.not_before_ms, now + 10000);
    retry_next(1, delays, 3, now, 60001, &d);
    assert_int_equal(d.not_before_ms, now + 60001);
    /* negative attempt and retry-after count as 0 */
    retry_next(-5, delays, 3, now, -1, &d);
    assert_int_equal(d.attempt, 1);
    assert_int_equal(d.not_before_ms, now + 10000);
    /* no delays: straight to the DLQ */
    retry_next(0, NULL, 0, now, 0, &d);
    assert_int_equal(d.kind, RETRY_DEST_DLQ);
    /* saturates instead of overflowing */
    const int64_t big[] = { INT64_MAX };
    retry_next(0, big, 1, now, 0, &d);
    assert_true(d.not_before_ms == INT64_MAX);
}

static void test_topics(void **state)
{
    char buf[300];

    assert_int_equal(retry_topic_for_attempt(buf, sizeof(buf), "qalert.alerts", "slack", 1), QA_OK);
    assert_string_equal(buf, "qalert.alerts.slack.retry.1");
    assert_int_equal(retry_topic_for_attempt(buf, sizeof(buf), "qalert.alerts", "opsgenie", 3), QA_OK);
    assert_string_equal(buf, "qalert.alerts.opsgenie.retry.3");
    assert_int_equal(retry_dlq_topic(buf, sizeof(buf), "qalert.alerts", "opsgenie"), QA_OK);
    assert_string_equal(buf, "qalert.alerts.opsgenie.dlq");
    assert_int_equal(retry_topic_for_attempt(buf, sizeof(buf), "a", "s", 0), QA_ERR_INVALID);
    assert_string_equal(buf, "");
    assert_int_equal(retry_topic_for_attempt(buf, sizeof(buf), "a", "s", -1), QA_ERR_INVALID);
    assert_int_equal(retry_topic_for_attempt(buf, sizeof(buf), NULL, "s", 1), QA_ERR_INVALID);
    assert_int_equal(retry_topic_for_attempt(buf, sizeof(buf), "a", "", 1), QA_ERR_INVALID);
    assert_int_equal(retry_topic_for_attempt(buf, sizeof(buf), "a", "sl/ack", 1), QA_ERR_INVALID);
    assert_int_equal(retry_dlq_topic(buf, sizeof(buf), "a b", "s"), QA_ERR_INVALID);
    /* exactly fits, then one byte short */
    assert_int_equal(retry_dlq_topic(buf, 8, "a", "s"), QA_OK);
    assert_string_equal(buf, "a.s.dlq");
    assert_int_equal(retry_dlq_topic(buf, 7, "a", "s"), QA_ERR_INVALID);
    assert_string_equal(buf, "");
    /* Kafka's 249-byte limit on the whole name */
    char longt[250];
    memset(longt, 'x', 241);
    longt[241] = '\0'; /* + ".s.dlq" = 247 */
    assert_int_equal(retry_dlq_topic(buf, sizeof(buf), longt, "s"), QA_OK);
    longt[241] = 'x';
    longt[242] = 'x';
    longt[243] = 'x';
    longt[244] = '\0'; /* + ".s.dlq" = 250 */
    assert_int_equal(retry_dlq_topic(buf, sizeof(buf), longt, "s"), QA_ERR_INVALID);
}

#define KV(n, v) { (n), (v), sizeof(v) - 1 }

static void test_headers_round_trip(void **state)
{
    struct retry_headers h = { 0 }, back;
    struct retry_header_set set;
    struct retry_dest d = { RETRY_DEST_RETRY, 1, 1700000010000LL };
    char err[128];

    retry_headers_on_failure(&h, &d, "http 503: down", "qalert.alerts", 4, 12345,
                             1700000000000LL);
    retry_headers_build(&h, &set);
    assert_int_equal(set.n, RETRY_NHEADERS);
    assert_string_equal(set.kv[0].name, "qalert-attempt");
    assert_int_equal(set.kv[0].value_len, 1);
    assert_memory_equal(set.kv[0].value, "1", 1);
    assert_string_equal(set.kv[1].name, "qalert-not-before");
    assert_memory_equal(set.kv[1].value, "1700000010000", 13);
    assert_string_equal(set.kv[6].name, "qalert-first-failure");
    assert_int_equal(retry_headers_parse(set.kv, set.n, &back, err, sizeof(err)), QA_OK);
    assert_int_equal(back.present, 0x7f);
    assert_int_equal(back.attempt, 1);
    assert_true(back.not_before_ms == 1700000010000LL);
    assert_string_equal(back.error, "http 503: down");
    assert_string_equal(back.original_topic, "qalert.alerts");
    assert_int_equal(back.original_partition, 4);
    assert_true(back.original_offset == 12345);
    assert_true(back.first_failure_ms == 1700000000000LL);

    /* a second failure read from retry.1 keeps the origin and first failure */
    struct retry_dest d2 = { RETRY_DEST_RETRY, 2, 1700000100000LL };
    retry_headers_on_failure(&back, &d2, "timeout", "qalert.alerts.slack.retry.1", 0, 7,
                             1700000090000LL);
    assert_int_equal(back.attempt, 2);
    assert_string_equal(back.error, "timeout");
    assert_string_equal(back.original_topic, "qalert.alerts");
    assert_int_equal(back.original_partition, 4);
    assert_true(back.original_offset == 12345);
    assert_true(back.first_failure_ms == 1700000000000LL);

    /* an empty set parses to nothing present */
    assert_int_equal(retry_headers_parse(NULL, 0, &back, err, sizeof(err)), QA_OK);
    assert_int_equal(back.present, 0);
    assert_int_equal(back.original_partition, -1);
    retry_headers_build(&back, &set);
    assert_int_equal(set.n, 0);
}

static void test_headers_hostile(void **state)
{
    struct retry_headers h;
    char err[128];

    /* other headers are ignored; the last duplicate wins */
    const struct retry_header_kv ok[] = {
        KV("qalert-status", "FIRING"), KV("qalert-attempt", "9"),
        KV("qalert-attempt", "2"), KV("qalert-attempt-x", "x"),
    };
    assert_int_equal(retry_headers_parse(ok, 4, &h, err, sizeof(err)), QA_OK);
    assert_int_equal(h.attempt, 2);
    assert_int_equal(h.present, RETRY_HAS_ATTEMPT);

    const char *bad_numbers[] = { "", "x", "-1", "+1", " 1", "1 ", "1.5", "0x10",
                                  "1001", "99999999999999999999",
                                  "9223372036854775808" };
    for (size_t i = 0; i < sizeof(bad_numbers) / sizeof(bad_numbers[0]); i++) {
        struct retry_header_kv kv = { "qalert-attempt", bad_numbers[i],
                                      strlen(bad_numbers[i]) };
        if (retry_headers_parse(&kv, 1, &h, err, sizeof(err)) != QA_ERR_INVALID)
            fail_msg("attempt \"%s\" accepted", bad_numbers[i]);
        assert_int_equal(h.present, 0);
        assert_non_null(strstr(err, "qalert-attempt"));
    }
    /* exact bounds */
    struct retry_header_kv kv = KV("qalert-attempt", "1000");
    assert_int_equal(retry_headers_parse(&kv, 1, &h, err, sizeof(err)), QA_OK);
    assert_int_equal(h.attempt, 1000);
    kv = (struct retry_header_kv)KV("qalert-not-before", "9223372036854775807");
    assert_int_equal(retry_headers_parse(&kv, 1, &h, err, sizeof(err)), QA_OK);
    assert_true(h.not_before_ms == INT64_MAX);
    kv = (struct retry_header_kv)KV("qalert-original-partition", "2147483647");
    assert_int_equal(retry_headers_parse(&kv, 1, &h, err, sizeof(err)), QA_OK);
    assert_int_equal(h.original_partition, INT32_MAX);
    kv = (struct retry_header_kv)KV("qalert-original-partition", "2147483648");
    assert_int_equal(retry_headers_parse(&kv, 1, &h, err, sizeof(err)), QA_ERR_INVALID);
    assert_int_equal(h.original_partition, -1);
    kv = (struct retry_header_kv)KV("qalert-original-offset", "-5");
    assert_int_equal(retry_headers_parse(&kv, 1, &h, err, sizeof(err)), QA_ERR_INVALID);
    /* a header without value (NULL) */
    kv = (struct retry_header_kv){ "qalert-first-failure", NULL, 0 };
    assert_int_equal(retry_headers_parse(&kv, 1, &h, err, sizeof(err)), QA_ERR_INVALID);
    kv = (struct retry_header_kv){ "qalert-error", NULL, 0 };
    assert_int_equal(retry_headers_parse(&kv, 1, &h, err, sizeof(err)), QA_ERR_INVALID);
    /* a NUL inside a number: not a number */
    kv = (struct retry_header_kv){ "qalert-attempt", "1\0002", 3 };
    assert_int_equal(retry_headers_parse(&kv, 1, &h, err, sizeof(err)), QA_ERR_INVALID);

    /* topics: illegal characters, too long */
    kv = (struct retry_header_kv)KV("qalert-original-topic", "a/b");
    assert_int_equal(retry_headers_parse(&kv, 1, &h, err, sizeof(err)), QA_ERR_INVALID);
    char longt[300];
    memset(longt, 't', sizeof(longt));
    kv = (struct retry_header_kv){ "qalert-original-topic", longt, 250 };
    assert_int_equal(retry_headers_parse(&kv, 1, &h, err, sizeof(err)), QA_ERR_INVALID);
    kv = (struct retry_header_kv){ "qalert-original-topic", longt, 249 };
    assert_int_equal(retry_headers_parse(&kv, 1, &h, err, sizeof(err)), QA_OK);
    assert_int_equal(strlen(h.original_topic), 249);

    /* error text: bounded, valid UTF-8, no control characters */
    char big[2000];
    memset(big, 'e', sizeof(big));
    kv = (struct retry_header_kv){ "qalert-error", big, sizeof(big) };
    assert_int_equal(retry_headers_parse(&kv, 1, &h, err, sizeof(err)), QA_OK);
    assert_int_equal(strlen(h.error), RETRY_ERROR_MAX);
    kv = (struct retry_header_kv)KV("qalert-error", "a\r\nb\xff\xc3");
    assert_int_equal(retry_headers_parse(&kv, 1, &h, err, sizeof(err)), QA_OK);
    assert_string_equal(h.error, "ab\xef\xbf\xbd\xef\xbf\xbd");

    /* one bad header does not hide the good ones */
    const struct retry_header_kv mixed[] = {
        KV("qalert-attempt", "3"), KV("qalert-not-before", "soon"),
        KV("qalert-original-offset", "42"),
    };
    assert_int_equal(retry_headers_parse(mixed, 3, &h, err, sizeof(err)), QA_ERR_INVALID);
    assert_int_equal(h.present, RETRY_HAS_ATTEMPT | RETRY_HAS_ORIGINAL_OFFSET);
    assert_int_equal(h.attempt, 3);
    assert_non_null(strstr(err, "qalert-not-before"));
}

static void test_retry_after(void **state)
{
    /* 1994-11-06T08:49:37Z */
    const int64_t t = 784111777000LL;

    assert_int_equal(retry_parse_retry_after(NULL, t), 0);
    assert_int_equal(retry_parse_retry_after("", t), 0);
    assert_int_equal(retry_parse_retry_after("120", t), 120000);
    assert_int_equal(retry_parse_retry_after(" 3 ", t), 3000);
    assert_int_equal(retry_parse_retry_after("0", t), 0);
    assert_int_equal(retry_parse_retry_after("0003", t), 3000);
    assert_int_equal(retry_parse_retry_after("3600", t), 3600000);
    assert_int_equal(retry_parse_retry_after("3601", t), RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_parse_retry_after("99999999999999999999999", t), RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_parse_retry_after("-5", t), 0);
    assert_int_equal(retry_parse_retry_after("1.5", t), 0);
    assert_int_equal(retry_parse_retry_after("5s", t), 0);
    /* the three HTTP-date forms, 60 s ahead */
    assert_int_equal(retry_parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", t), 60000);
    assert_int_equal(retry_parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", t), 60000);
    assert_int_equal(retry_parse_retry_after("Sun Nov  6 08:50:37 1994", t), 60000);
    /* in the past, far future (capped), malformed */
    assert_int_equal(retry_parse_retry_after("Sun, 06 Nov 1994 08:49:36 GMT", t), 0);
    assert_int_equal(retry_parse_retry_after("Sun, 06 Nov 2094 08:49:37 GMT", t), RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_parse_retry_after("Sun, 06 Nov 1994 08:50:37 PST", t), 0);
    assert_int_equal(retry_parse_retry_after("Sun, 06 Foo 1994 08:50:37 GMT", t), 0);
    assert_int_equal(retry_parse_retry_after("Sun, 06 Nov 1994 24:00:00 GMT", t), 0);
    assert_int_equal(retry_parse_retry_after("Sun, 32 Nov 1994 08:50:37 GMT", t), 0);
    assert_int_equal(retry_parse_retry_after("Sun, 06 Nov 19940 08:50:37 GMT", t), 0);
    assert_int_equal(retry_parse_retry_after("Sun, 06 Nov", t), 0);
    assert_int_equal(retry_parse_retry_after("Sun,", t), 0);
    /* 2024-02-29 (a leap day) 00:00:10Z from 00:00:00Z */
    assert_int_equal(retry_parse_retry_after("Thu, 29 Feb 2024 00:00:10 GMT",
                                             1709164800000LL), 10000);
}

static void test_delays(void **state)
{
    int64_t d[RETRY_MAX_DELAYS];
    size_t n = 99;
    char err[200];

    assert_int_equal(retry_parse_delays("10000,60000,600000", d, RETRY_MAX_DELAYS, &n,
                                        err, sizeof(err)), QA_OK);
    assert_int_equal(n, 3);
    assert_int_equal(d[0], 10000);
    assert_int_equal(d[1], 60000);
    assert_int_equal(d[2], 600000);
    assert_int_equal(retry_parse_delays(" 5 , 0 ", d, 4, &n, err, sizeof(err)), QA_OK);
    assert_int_equal(n, 2);
    assert_int_equal(d[1], 0);
    assert_int_equal(retry_parse_delays("604800000", d, 4, &n, err, sizeof(err)), QA_OK);

    const char *bad[] = { "", "  ", ",", "1,", ",1", "1,,2", "a", "1;2", "-1",
                          "1.5", "604800001", "99999999999999999999", "1 2" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = 99;
        if (retry_parse_delays(bad[i], d, 4, &n, err, sizeof(err)) != QA_ERR_INVALID)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_int_equal(n, 0);
        assert_non_null(strstr(err, "QALERT_RETRY_DELAYS_MS"));
    }
    assert_int_equal(retry_parse_delays("1,2,3", d, 2, &n, err, sizeof(err)), QA_ERR_INVALID);
    assert_int_equal(retry_parse_delays("1,2", d, 2, &n, err, sizeof(err)), QA_OK);
    assert_int_equal(retry_parse_delays(NULL, d, 2, &n, err, sizeof(err)), QA_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_http),
        cmocka_unit_test(test_classify_transport),
        cmocka_unit_test(test_classify_slack),
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_headers_round_trip),
        cmocka_unit_test(test_headers_hostile),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_delays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
