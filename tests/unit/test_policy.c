/*
 * test_policy.c — the SLA policy loader: the fixture, fraction vs per cent,
 * media mapping, defaults, priorities, and every refusal naming its path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "processor/policy.h"
#include "support/support.h"

#define SUPPORT "2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c"
#define BILLING "7c6d5e4f-3a2b-4c1d-9e8f-7a6b5c4d3e2f"

static struct policy *load(const char *json)
{
    char err[256];
    struct policy *p = NULL;
    enum qa_err rc = policy_load_string(json, &p, err, sizeof(err));
    if (rc != QA_OK)
        fail_msg("policy refused: %s", err);
    return p;
}

static void test_fixture(void **state)
{
    char *json = ts_fixture("policy.json", NULL);
    struct policy *p = load(json);
    struct policy_sla s;

    assert_int_equal(policy_queue_count(p), 2);
    policy_lookup(p, SUPPORT, "VOICE", &s);
    assert_int_equal(s.duration_ms, 30000);
    assert_true(s.target == 0.9);
    assert_string_equal(s.queue_name, "Support");
    policy_lookup(p, SUPPORT, "chat", &s); /* case-insensitive */
    assert_int_equal(s.duration_ms, 60000);
    assert_true(s.target == 0.8);
    /* Billing's 80 is per cent: stored as the same fraction as 0.8 */
    policy_lookup(p, BILLING, "Voice", &s);
    assert_int_equal(s.duration_ms, 20000);
    assert_true(s.target == 0.8);
    assert_string_equal(s.queue_name, "Billing");
    /* known queue, media it does not configure: default values, its name */
    policy_lookup(p, SUPPORT, "EMAIL", &s);
    assert_int_equal(s.duration_ms, 20000);
    assert_string_equal(s.queue_name, "Support");
    policy_lookup(p, SUPPORT, NULL, &s);
    assert_int_equal(s.duration_ms, 20000);
    /* unknown queue */
    policy_lookup(p, "nope", "VOICE", &s);
    assert_int_equal(s.duration_ms, 20000);
    assert_true(s.target == 0.8);
    assert_null(s.queue_name);
    policy_lookup(p, NULL, NULL, &s);
    assert_int_equal(s.duration_ms, 20000);
    assert_string_equal(policy_priority(p, SUPPORT, POLICY_WAIT_SLA_BREACH), "P2");
    assert_string_equal(policy_priority(p, SUPPORT, POLICY_SERVICE_LEVEL_LOW), "P1");
    policy_free(p);
    free(json);
}

static void test_fixture_file_and_defaults(void **state)
{
    char err[256], path[1024];
    struct policy *p = NULL;
    struct policy_sla s;

    snprintf(path, sizeof(path), "%s/policy.json", ts_env("QALERT_FIXTURES", "tests/fixtures"));
    assert_int_equal(policy_load_file(path, &p, err, sizeof(err)), QA_OK);
    policy_lookup(p, SUPPORT, "VOICE", &s);
    assert_int_equal(s.duration_ms, 30000);
    policy_free(p);

    assert_int_equal(policy_load_file(NULL, &p, err, sizeof(err)), QA_OK);
    policy_lookup(p, SUPPORT, "VOICE", &s);
    assert_int_equal(s.duration_ms, 20000);
    assert_true(s.target == 0.8);
    assert_null(s.queue_name);
    policy_free(p);

    assert_int_equal(policy_load_file("/nonexistent/policy.json", &p, err, sizeof(err)),
                     QA_ERR_IO);
    assert_null(p);
    assert_non_null(strstr(err, "/nonexistent/policy.json"));
}

static void test_media_map(void **state)
{
    assert_string_equal(policy_media_key("VOICE"), "call");
    assert_string_equal(policy_media_key("voice"), "call");
    assert_string_equal(policy_media_key("CALLBACK"), "callback");
    assert_string_equal(policy_media_key("Chat"), "chat");
    assert_string_equal(policy_media_key("EMAIL"), "email");
    assert_string_equal(policy_media_key("MESSAGE"), "message");
    assert_null(policy_media_key("call")); /* a key, not a media type */
    assert_null(policy_media_key("VIDEO"));
    assert_null(policy_media_key(NULL));
}

static void test_percentage_forms(void **state)
{
    struct policy_sla s;
    struct policy *p = load("{\"default\":{\"durationMs\":1000,\"percentage\":95},"
                            "\"queues\":{\"q\":{\"mediaSettings\":{"
                            "\"email\":{\"serviceLevel\":{\"percentage\":1}},"
                            "\"message\":{\"serviceLevel\":{\"percentage\":1.5}},"
                            "\"callback\":{\"serviceLevel\":{\"durationMs\":5}}}}}}");
    policy_lookup(p, "x", "VOICE", &s);
    assert_true(s.target == 0.95);
    assert_int_equal(s.duration_ms, 1000);
    policy_lookup(p, "q", "EMAIL", &s); /* exactly 1 is a fraction: 100 % */
    assert_true(s.target == 1.0);
    assert_int_equal(s.duration_ms, 1000); /* inherited */
    policy_lookup(p, "q", "MESSAGE", &s); /* just above 1 is per cent */
    assert_true(s.target == 0.015);
    policy_lookup(p, "q", "CALLBACK", &s);
    assert_int_equal(s.duration_ms, 5);
    assert_true(s.target == 0.95); /* inherited */
    policy_free(p);
}

static void test_priorities(void **state)
{
    struct policy *p = load("{\"priorities\":{\"wait_sla_breach\":\"P4\"},"
                            "\"queues\":{\"q\":{\"priorities\":{\"service_level_low\":\"p3\"}}}}");
    assert_string_equal(policy_priority(p, "q", POLICY_WAIT_SLA_BREACH), "P4");
    assert_string_equal(policy_priority(p, "q", POLICY_SERVICE_LEVEL_LOW), "P3");
    assert_string_equal(policy_priority(p, "other", POLICY_SERVICE_LEVEL_LOW), "P1");
    assert_string_equal(policy_alarm_name(POLICY_SERVICE_LEVEL_LOW), "service_level_low");
    policy_free(p);
}

static void test_empty_and_unknown_media(void **state)
{
    struct policy_sla s;
    struct policy *p = load("{}");
    policy_lookup(p, "q", "VOICE", &s);
    assert_int_equal(s.duration_ms, 20000);
    policy_free(p);
    /* a media Genesys may add is checked but unused; extra keys are fine */
    p = load("{\"queues\":{\"q\":{\"name\":\"Q\",\"mediaSettings\":{"
             "\"videoComm\":{\"serviceLevel\":{\"durationMs\":7}},"
             "\"call\":{\"alertingTimeoutSeconds\":8}}}}}");
    policy_lookup(p, "q", "VOICE", &s);
    assert_int_equal(s.duration_ms, 20000);
    policy_free(p);
}

struct bad_case {
    const char *json;
    const char *path; /* must appear in the error */
};

static void test_refusals(void **state)
{
    static const struct bad_case cases[] = {
        { "", "not valid JSON" },
        { "{", "not valid JSON" },
        { "[]", "must be a JSON object" },
        { "{\"default\":3}", "default: must be an object" },
        { "{\"default\":{\"durationMs\":-1}}", "default.durationMs: must be a positive integer" },
        { "{\"default\":{\"durationMs\":0}}", "default.durationMs" },
        { "{\"default\":{\"durationMs\":1.5}}", "default.durationMs" },
        { "{\"default\":{\"durationMs\":\"20000\"}}", "default.durationMs" },
        { "{\"default\":{\"durationMs\":1e300}}", "default.durationMs" },
        { "{\"default\":{\"percentage\":0}}", "default.percentage" },
        { "{\"default\":{\"percentage\":-0.5}}", "default.percentage" },
        { "{\"default\":{\"percentage\":100.01}}", "default.percentage" },
        { "{\"default\":{\"percentage\":null}}", "default.percentage" },
        { "{\"queues\":[]}", "queues: must be an object" },
        { "{\"queues\":{\"7c6d\":5}}", "queues.7c6d: must be an object" },
        { "{\"queues\":{\"7c6d\":{\"name\":5}}}", "queues.7c6d.name: must be a string" },
        { "{\"queues\":{\"7c6d\":{\"mediaSettings\":[]}}}", "queues.7c6d.mediaSettings: must be an object" },
        { "{\"queues\":{\"7c6d\":{\"mediaSettings\":{\"call\":1}}}}", "queues.7c6d.mediaSettings.call: must be an object" },
        { "{\"queues\":{\"7c6d\":{\"mediaSettings\":{\"call\":{\"serviceLevel\":{\"durationMs\":-5}}}}}}",
          "queues.7c6d.mediaSettings.call.serviceLevel.durationMs: must be a positive integer" },
        { "{\"queues\":{\"7c6d\":{\"mediaSettings\":{\"chat\":{\"serviceLevel\":{\"percentage\":101}}}}}}",
          "queues.7c6d.mediaSettings.chat.serviceLevel.percentage" },
        { "{\"queues\":{\"7c6d\":{\"mediaSettings\":{\"chat\":{\"serviceLevel\":true}}}}}",
          "queues.7c6d.mediaSettings.chat.serviceLevel: must be an object" },
        { "{\"priorities\":{\"wait_sla_breach\":\"P6\"}}", "priorities.wait_sla_breach: must be one of P1" },
        { "{\"priorities\":{\"wait_sla_breach\":\"P0\"}}", "priorities.wait_sla_breach" },
        { "{\"priorities\":{\"wait_sla_breach\":2}}", "priorities.wait_sla_breach" },
        { "{\"priorities\":{\"bogus\":\"P1\"}}", "priorities.bogus: unknown alarm type" },
        { "{\"priorities\":[]}", "priorities: must be an object" },
        { "{\"queues\":{\"q\":{\"priorities\":{\"service_level_low\":\"high\"}}}}",
          "queues.q.priorities.service_level_low" },
        { "{\"queues\":{\"\":{}}}", "queue id is empty" },
        { "{\"queues\":{\"q\":{},\"q\":{}}}", "queues.q: listed twice" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        struct policy *p = (struct policy *)&err; /* must be reset to NULL */
        enum qa_err rc = policy_load_string(cases[i].json, &p, err, sizeof(err));
        if (rc != QA_ERR_INVALID || p != NULL || !strstr(err, cases[i].path))
            fail_msg("case %zu (%s): rc %d, err \"%s\", want \"%s\"", i, cases[i].json,
                     (int)rc, err, cases[i].path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_fixture_file_and_defaults),
        cmocka_unit_test(test_media_map),
        cmocka_unit_test(test_percentage_forms),
        cmocka_unit_test(test_priorities),
        cmocka_unit_test(test_empty_and_unknown_media),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
