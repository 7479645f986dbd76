/*
 * test_recognise.c — every fixture shape, every bad body, exact byte spans of
 * batch elements, and the fallback sha256 event id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/recognise.h"
#include "support/support.h"

#define RECEIVED 1763899999000LL

static const char *QUEUE_SUPPORT = "2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c";
static const char *CONV_A = "c0ffee01-1111-4a11-8a11-111111111111";

/* Recognises a fixture; fails the test unless it is accepted. */
static void ok_fixture(const char *name, enum recognise_endpoint ep,
                       struct recognise_batch *b)
{
    size_t len;
    char *body = ts_fixture(name, &len);
    enum recognise_code code;
    char err[256];

    if (recognise_body(body, len, ep, RECEIVED, b, &code, err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", name, err);
        fail();
    }
    assert_int_equal(code, RECOGNISE_OK);
    free(body);
}

static enum recognise_code refused(const void *body, size_t len,
                                   enum recognise_endpoint ep, char *err,
                                   size_t n)
{
    struct recognise_batch b;
    enum recognise_code code;

    assert_int_equal(recognise_body(body, len, ep, RECEIVED, &b, &code, err, n),
                     QA_ERR_INVALID);
    assert_null(b.events);
    assert_int_equal(b.nevents, 0);
    return code;
}

static enum recognise_code refused_str(const char *body, char *err, size_t n)
{
    return refused(body, strlen(body), RECOGNISE_GENESYS, err, n);
}

static void test_flat_breach(void **state)
{
    struct recognise_batch b;
    ok_fixture("webhook-flat-breach.json", RECOGNISE_GENESYS, &b);
    assert_int_equal(b.nevents, 1);
    struct raw_event *e = &b.events[0];
    assert_int_equal(e->kind, RAW_FLAT_WAIT);
    assert_int_equal(e->source, RAW_SOURCE_WEBHOOK);
    assert_string_equal(e->event_type, "routing.queue.conversation");
    assert_string_equal(e->queue_id, QUEUE_SUPPORT);
    assert_string_equal(e->queue_name, "Support");
    assert_string_equal(e->conversation_id, CONV_A);
    assert_string_equal(e->media_type, "VOICE");
    assert_int_equal(e->wait_ms, 45200);
    assert_int_equal(e->sla_ms, 30000);
    assert_int_equal(e->event_time_ms, 1763884845000LL);
    assert_int_equal(e->received_ms, RECEIVED);
    assert_null(e->acd_outcome);
    assert_true(isnan(e->sla_percentage));
    assert_int_equal(e->calls_in_queue, CODEC_ABSENT);
    /* No id in the body: sha256 of the object's bytes (outer blanks trimmed;
     * `python3 -c "...sha256(open(f,'rb').read().strip())"`). */
    assert_string_equal(e->event_id,
        "4d2a6f1d2473d5ac497a248c6f1340819cc83dc0ed06df38cbc23bcb81bd7826");
    assert_int_equal(e->body_len, 286);
    assert_int_equal(e->body[0], '{');
    assert_int_equal(e->body[285], '}');
    recognise_batch_clear(&b);
}

static void test_flat_within(void **state)
{
    struct recognise_batch b;
    ok_fixture("webhook-flat-within.json", RECOGNISE_GENESYS, &b);
    assert_int_equal(b.nevents, 1);
    assert_int_equal(b.events[0].kind, RAW_FLAT_WAIT);
    assert_int_equal(b.events[0].wait_ms, 12000);
    assert_int_equal(b.events[0].event_time_ms, 1763884872000LL);
    recognise_batch_clear(&b);
}

static void test_batch_spans(void **state)
{
    size_t len;
    char *raw = ts_fixture("webhook-batch.json", &len);
    struct recognise_batch b;

    ok_fixture("webhook-batch.json", RECOGNISE_GENESYS, &b);
    assert_int_equal(b.nevents, 2);
    /* Element spans computed independently from the fixture's text. */
    assert_int_equal(b.events[0].body_len, 308 - 4);
    assert_memory_equal(b.events[0].body, raw + 4, 308 - 4);
    assert_int_equal(b.events[1].body_len, 616 - 312);
    assert_memory_equal(b.events[1].body, raw + 312, 616 - 312);
    assert_string_equal(b.events[0].conversation_id, CONV_A);
    assert_string_equal(b.events[1].conversation_id,
                        "c0ffee02-2222-4a22-8a22-222222222222");
    assert_int_equal(b.events[1].wait_ms, 12000);
    /* Two different spans, two different ids. */
    assert_string_not_equal(b.events[0].event_id, b.events[1].event_id);
    assert_int_equal(strlen(b.events[0].event_id), 64);
    recognise_batch_clear(&b);
    free(raw);
}

static void test_compact_batch_spans(void **state)
{
    const char *body = " [ {\"eventType\":\"x\",\"s\":\"a,]}\\\"\"} ,{\"eventType\":\"y\"}]\n";
    struct recognise_batch b;
    enum recognise_code code;
    char err[128];

    assert_int_equal(recognise_body(body, strlen(body), RECOGNISE_GENESYS,
                                    RECEIVED, &b, &code, err, sizeof(err)), QA_OK);
    assert_int_equal(b.nevents, 2);
    assert_int_equal(b.events[0].body_len, strlen("{\"eventType\":\"x\",\"s\":\"a,]}\\\"\"}"));
    assert_memory_equal(b.events[0].body, body + 3, b.events[0].body_len);
    assert_memory_equal(b.events[1].body, "{\"eventType\":\"y\"}", 17);
    assert_int_equal(b.events[1].body_len, 17);
    assert_int_equal(b.events[0].kind, RAW_OTHER);
    assert_null(b.events[0].queue_id);
    /* Without a timestamp the event time is the received time. */
    assert_int_equal(b.events[1].event_time_ms, RECEIVED);
    recognise_batch_clear(&b);
}

static void test_presence_is_other(void **state)
{
    struct recognise_batch b;
    ok_fixture("webhook-user-presence.json", RECOGNISE_GENESYS, &b);
    assert_int_equal(b.nevents, 1);
    assert_int_equal(b.events[0].kind, RAW_OTHER);
    assert_string_equal(b.events[0].event_type, "routing.user.status.update");
    assert_null(b.events[0].queue_id);
    assert_null(b.events[0].conversation_id);
    assert_string_equal(b.events[0].event_id,
        "2fe00233ba7c5435b1429e569b9fff5d2f71d629248702976bb0fa9cb06322cb");
    assert_int_equal(b.events[0].event_time_ms, 1763884800000LL);
    recognise_batch_clear(&b);
}

static void test_queue_stats(void **state)
{
    struct recognise_batch b;
    ok_fixture("webhook-queue-stats-low.json", RECOGNISE_GENESYS, &b);
    struct raw_event *e = &b.events[0];
    assert_int_equal(e->kind, RAW_QUEUE_STATS);
    assert_string_equal(e->queue_id, "7c6d5e4f-3a2b-4c1d-9e8f-7a6b5c4d3e2f");
    assert_string_equal(e->queue_name, "Billing");
    assert_true(e->sla_percentage == 61.5);
    assert_true(e->target_sla == 80.0);
    assert_int_equal(e->wait_ms, 92000);
    assert_int_equal(e->calls_in_queue, 14);
    assert_int_equal(e->event_time_ms, 1763885100000LL);
    recognise_batch_clear(&b);
}

static void check_acd(struct raw_event *e, enum raw_kind kind)
{
    assert_int_equal(e->kind, kind);
    assert_string_equal(e->queue_id, QUEUE_SUPPORT);
    assert_string_equal(e->conversation_id, CONV_A);
    assert_string_equal(e->media_type, "VOICE");
    if (kind == RAW_ACD_END) {
        assert_string_equal(e->acd_outcome, "ANSWERED");
        assert_int_equal(e->event_time_ms, 1763884845200LL);
    } else {
        assert_null(e->acd_outcome);
        assert_int_equal(e->event_time_ms, 1763884800000LL);
    }
}

static void test_notification(void **state)
{
    struct recognise_batch b;
    ok_fixture("notification-acd-start.json", RECOGNISE_GENESYS, &b);
    check_acd(&b.events[0], RAW_ACD_START);
    assert_string_equal(b.events[0].event_id, "corr-c0ffee01-start");
    assert_int_equal(b.events[0].source, RAW_SOURCE_WEBHOOK);
    assert_string_equal(b.events[0].event_type,
        "v2.detail.events.conversation.c0ffee01-1111-4a11-8a11-111111111111.acd.start");
    recognise_batch_clear(&b);
    ok_fixture("notification-acd-end.json", RECOGNISE_GENESYS, &b);
    check_acd(&b.events[0], RAW_ACD_END);
    assert_string_equal(b.events[0].event_id, "corr-c0ffee01-end");
    recognise_batch_clear(&b);
}

static void test_eventbridge(void **state)
{
    struct recognise_batch b;
    size_t len;
    char *raw = ts_fixture("eventbridge-acd-start.json", &len);

    ok_fixture("eventbridge-acd-start.json", RECOGNISE_EVENTBRIDGE, &b);
    assert_int_equal(b.nevents, 1);
    check_acd(&b.events[0], RAW_ACD_START);
    assert_string_equal(b.events[0].event_id, "e-corr-c0ffee01-start");
    assert_int_equal(b.events[0].source, RAW_SOURCE_EVENTBRIDGE);
    /* The whole envelope is kept, byte for byte. */
    assert_int_equal(b.events[0].body_len, len - 1);
    assert_memory_equal(b.events[0].body, raw, len - 1);
    recognise_batch_clear(&b);
    free(raw);

    ok_fixture("eventbridge-acd-end.json", RECOGNISE_EVENTBRIDGE, &b);
    check_acd(&b.events[0], RAW_ACD_END);
    assert_string_equal(b.events[0].event_id, "e-corr-c0ffee01-end");
    recognise_batch_clear(&b);

    /* An array of envelopes is accepted too. */
    raw = ts_fixture("eventbridge-acd-end.json", &len);
    char *arr = malloc(2 * len + 8);
    int n = snprintf(arr, 2 * len + 8, "[%s,%s]", raw, raw);
    enum recognise_code code;
    char err[128];
    assert_int_equal(recognise_body(arr, (size_t)n, RECOGNISE_EVENTBRIDGE,
                                    RECEIVED, &b, &code, err, sizeof(err)), QA_OK);
    assert_int_equal(b.nevents, 2);
    assert_int_equal(b.events[1].body_len, len - 1);
    recognise_batch_clear(&b);
    free(arr);
    free(raw);
}

static void test_eventbridge_needs_envelope(void **state)
{
    size_t len;
    char *raw = ts_fixture("notification-acd-start.json", &len);
    char err[256];
    assert_int_equal(refused(raw, len, RECOGNISE_EVENTBRIDGE, err, sizeof(err)),
                     RECOGNISE_INVALID_EVENT);
    assert_non_null(strstr(err, "EventBridge"));
    free(raw);
}

static void test_bad_fixtures(void **state)
{
    static const struct {
        const char *file;
        enum recognise_code code;
        const char *says;
    } cases[] = {
        { "bad/deep-nesting.json", RECOGNISE_INVALID_JSON, "nesting" },
        { "bad/empty-batch.json", RECOGNISE_INVALID_EVENT, "empty batch" },
        { "bad/invalid-utf8.json", RECOGNISE_INVALID_JSON, "UTF-8" },
        { "bad/not-an-object.json", RECOGNISE_INVALID_EVENT, "object" },
        { "bad/not-json.txt", RECOGNISE_INVALID_JSON, "JSON" },
        { "bad/truncated.json", RECOGNISE_INVALID_JSON, "JSON" },
        { "bad/unknown-shape.json", RECOGNISE_INVALID_EVENT, "unknown" },
        { "bad/wrong-types.json", RECOGNISE_INVALID_EVENT, "conversationId" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        char *body = ts_fixture(cases[i].file, &len);
        char err[256];
        for (int ep = 0; ep < 2; ep++) {
            enum recognise_code code = refused(body, len, ep, err, sizeof(err));
            if (ep == RECOGNISE_GENESYS || code == RECOGNISE_INVALID_JSON) {
                if (code != cases[i].code || !strstr(err, cases[i].says)) {
                    fprintf(stderr, "%s: %s %s\n", cases[i].file,
                            recognise_code_name(code), err);
                    fail();
                }
            }
        }
        free(body);
    }
}

static void test_wrong_types_name_field(void **state)
{
    char err[256];
    const struct { const char *body; const char *field; } cases[] = {
        { "{\"eventType\":\"e\",\"queueId\":[\"x\"]}", "queueId" },
        { "{\"eventType\":\"e\",\"queueId\":\"q\",\"waitTime\":\"long\",\"sla\":1}", "waitTime" },
        { "{\"eventType\":\"e\",\"queueId\":\"q\",\"waitTime\":1,\"sla\":-1}", "sla" },
        { "{\"eventType\":\"e\",\"queueId\":\"q\",\"waitTime\":1e999,\"sla\":1}", "waitTime" },
        { "{\"eventType\":\"e\",\"timestamp\":\"yesterday\"}", "timestamp" },
        { "{\"eventType\":7}", "eventType" },
        { "{\"eventType\":\"\"}", "eventType" },
        { "{\"eventType\":\"e\",\"waitTime\":1,\"sla\":2}", "queueId" },
        { "{\"eventType\":\"routing.queue.stats\",\"queueId\":\"q\",\"slaPercentage\":101,\"targetSla\":80}", "slaPercentage" },
        { "{\"eventType\":\"routing.queue.stats\",\"queueId\":\"q\",\"slaPercentage\":50}", "targetSla" },
        { "{\"topicName\":\"v2.x.acd.start\",\"eventBody\":{\"queueId\":\"q\",\"eventTime\":1}}", "conversationId" },
        { "{\"topicName\":\"v2.x.acd.end\",\"eventBody\":{\"queueId\":\"q\",\"conversationId\":\"c\"}}", "eventTime" },
        { "{\"topicName\":\"v2.x.acd.end\",\"eventBody\":[]}", "eventBody" },
        { "{\"topicName\":5,\"eventBody\":{}}", "topicName" },
        { "{\"detail-type\":\"x\"}", "detail" },
        { "{\"detail-type\":\"x\",\"detail\":{},\"time\":\"nope\"}", "time" },
        { "[{\"eventType\":\"ok\"},{\"eventType\":\"e\",\"conversationId\":7}]", "event 1: conversationId" },
        { "[{\"eventType\":\"ok\"},[]]", "event 1: expected a JSON object" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum recognise_code code = refused_str(cases[i].body, err, sizeof(err));
        if (code != RECOGNISE_INVALID_EVENT || !strstr(err, cases[i].field)) {
            fprintf(stderr, "%s -> %s %s\n", cases[i].body,
                    recognise_code_name(code), err);
            fail();
        }
    }
}

static void test_invalid_json_edges(void **state)
{
    char err[256];
    const char *cases[] = { "", "   ", "{} {}", "{\"a\":1}x",
                            "{\"a\":\"\xed\xa0\x80\"}",      /* surrogate */
                            "{\"a\":\"\xc0\xaf\"}",          /* overlong */
                            "{\"a\":\"\xf4\x90\x80\x80\"}",  /* > U+10FFFF */
                            "{\"a\":\"x\ty\"}",              /* raw tab */
                            "[{\"eventType\":\"e\"},]" };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (refused_str(cases[i], err, sizeof(err)) != RECOGNISE_INVALID_JSON) {
            fprintf(stderr, "case %zu: %s\n", i, err);
            fail();
        }
    }
    /* A NUL byte inside the length. */
    assert_int_equal(refused("{\"a\":1}\0", 8, RECOGNISE_GENESYS, err, sizeof(err)),
                     RECOGNISE_INVALID_JSON);
    /* Valid multi-byte UTF-8 passes. */
    struct recognise_batch b;
    enum recognise_code code;
    const char *u = "{\"eventType\":\"e\",\"queueName\":\"Caf\xc3\xa9 \xf0\x9f\x93\x9e\"}";
    assert_int_equal(recognise_body(u, strlen(u), RECOGNISE_GENESYS, RECEIVED,
                                    &b, &code, err, sizeof(err)), QA_OK);
    assert_string_equal(b.events[0].queue_name, "Caf\xc3\xa9 \xf0\x9f\x93\x9e");
    recognise_batch_clear(&b);
}

static void test_depth_boundary(void **state)
{
    char body[128];
    char err[256];
    struct recognise_batch b;
    enum recognise_code code;
    int d;

    /* An object at depth 32 is fine (as an unknown field); 33 is refused. */
    for (int depth = RECOGNISE_MAX_DEPTH; depth <= RECOGNISE_MAX_DEPTH + 1; depth++) {
        size_t n = 0;
        n += (size_t)snprintf(body + n, sizeof(body) - n, "{\"eventType\":\"e\",\"x\":");
        for (d = 1; d < depth; d++)
            body[n++] = '[';
        for (d = 1; d < depth; d++)
            body[n++] = ']';
        body[n++] = '}';
        body[n] = '\0';
        enum qa_err e = recognise_body(body, n, RECOGNISE_GENESYS, RECEIVED, &b,
                                       &code, err, sizeof(err));
        if (depth == RECOGNISE_MAX_DEPTH) {
            assert_int_equal(e, QA_OK);
            recognise_batch_clear(&b);
        } else {
            assert_int_equal(e, QA_ERR_INVALID);
            assert_int_equal(code, RECOGNISE_INVALID_JSON);
        }
    }
}

static void test_sha_id_stable(void **state)
{
    const char *body = "{\"eventType\":\"routing.user.status.update\",\"userId\":\"u\"}";
    struct recognise_batch a, b;
    enum recognise_code code;
    char err[64];

    assert_int_equal(recognise_body(body, strlen(body), RECOGNISE_GENESYS, 1,
                                    &a, &code, err, sizeof(err)), QA_OK);
    assert_int_equal(recognise_body(body, strlen(body), RECOGNISE_GENESYS, 2,
                                    &b, &code, err, sizeof(err)), QA_OK);
    assert_string_equal(a.events[0].event_id, b.events[0].event_id);
    /* echo -n '<body>' | sha256sum */
    assert_string_equal(a.events[0].event_id,
        "362a8c447acb7627ed6104f9f84af672f53931e0fc82cd88df92df41362432b6");
    recognise_batch_clear(&a);
    recognise_batch_clear(&b);
}

static void test_other_notification_lenient(void **state)
{
    const char *body = "{\"topicName\":\"v2.users.u1.presence\",\"version\":\"2\","
                       "\"eventBody\":{\"queueId\":{\"odd\":1},\"eventTime\":\"x\"},"
                       "\"metadata\":{\"CorrelationId\":\"c-1\"}}";
    struct recognise_batch b;
    enum recognise_code code;
    char err[128];

    assert_int_equal(recognise_body(body, strlen(body), RECOGNISE_GENESYS,
                                    RECEIVED, &b, &code, err, sizeof(err)), QA_OK);
    assert_int_equal(b.events[0].kind, RAW_OTHER);
    assert_null(b.events[0].queue_id);
    assert_string_equal(b.events[0].event_id, "c-1");
    assert_int_equal(b.events[0].event_time_ms, RECEIVED);
    recognise_batch_clear(&b);
}

static void test_long_field(void **state)
{
    size_t n = RECOGNISE_MAX_FIELD + 64;
    char *body = malloc(n + 64);
    char err[128];
    int k = snprintf(body, n + 64, "{\"eventType\":\"e\",\"queueId\":\"");
    memset(body + k, 'q', RECOGNISE_MAX_FIELD + 1);
    k += RECOGNISE_MAX_FIELD + 1;
    snprintf(body + k, 64, "\"}");
    assert_int_equal(refused_str(body, err, sizeof(err)), RECOGNISE_INVALID_EVENT);
    assert_non_null(strstr(err, "queueId"));
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_breach),
        cmocka_unit_test(test_flat_within),
        cmocka_unit_test(test_batch_spans),
        cmocka_unit_test(test_compact_batch_spans),
        cmocka_unit_test(test_presence_is_other),
        cmocka_unit_test(test_queue_stats),
        cmocka_unit_test(test_notification),
        cmocka_unit_test(test_eventbridge),
        cmocka_unit_test(test_eventbridge_needs_envelope),
        cmocka_unit_test(test_bad_fixtures),
        cmocka_unit_test(test_wrong_types_name_field),
        cmocka_unit_test(test_invalid_json_edges),
        cmocka_unit_test(test_depth_boundary),
        cmocka_unit_test(test_sha_id_stable),
        cmocka_unit_test(test_other_notification_lenient),
        cmocka_unit_test(test_long_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
