/*
 * test_policy_topic.c — the policy topic's pure part: which record becomes
 * the policy (key "policy", a value that loads; the newest valid one wins,
 * anything else is ignored and the pick stays), and policy_reload_text(),
 * which makes such a text current the way SIGHUP does for the file.
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
#include "processor/policy_reload.h"
#include "processor/policy_topic.h"

#define Q "2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c"
#define P(ms) "{\"queues\":{\"" Q "\":{\"mediaSettings\":{\"call\":{\"serviceLevel\":" \
              "{\"durationMs\":" #ms ",\"percentage\":0.9}}}}}}"

static int offer(struct policy_topic_pick *pick, int64_t offset, const char *key,
                 const char *value)
{
    return policy_topic_offer(pick, "t", 0, offset, key, key ? strlen(key) : 0, value,
                              value ? strlen(value) : 0);
}

static void test_valid_record_taken(void **state)
{
    struct policy_topic_pick pick = { 0 };
    (void)state;
    assert_int_equal(offer(&pick, 3, "policy", P(5000)), 1);
    assert_string_equal(pick.text, P(5000));
    assert_int_equal(pick.offset, 3);
    policy_topic_pick_clear(&pick);
    assert_null(pick.text);
}

static void test_newest_valid_wins(void **state)
{
    struct policy_topic_pick pick = { 0 };
    (void)state;
    assert_int_equal(offer(&pick, 0, "policy", P(5000)), 1);
    assert_int_equal(offer(&pick, 1, "policy", P(7000)), 1);
    assert_int_equal(offer(&pick, 2, "policy", "{\"default\":{\"durationMs\":-1}}"), 0);
    assert_int_equal(offer(&pick, 3, "policy", "not json"), 0);
    assert_string_equal(pick.text, P(7000));
    assert_int_equal(pick.offset, 1);
    policy_topic_pick_clear(&pick);
}

static void test_refusals_keep_pick(void **state)
{
    struct policy_topic_pick pick = { 0 };
    const char nul[] = "{\"default\":{}}\0x";
    (void)state;
    assert_int_equal(offer(&pick, 0, "other", P(5000)), 0);
    assert_int_equal(offer(&pick, 1, NULL, P(5000)), 0);
    assert_int_equal(offer(&pick, 2, "policy", NULL), 0);
    assert_int_equal(offer(&pick, 3, "polic", P(5000)), 0);
    assert_int_equal(offer(&pick, 4, "policyx", P(5000)), 0);
    assert_int_equal(policy_topic_offer(&pick, "t", 0, 5, "policy", 6, nul, sizeof(nul) - 1), 0);
    assert_int_equal(offer(&pick, 6, "policy", "[]"), 0);
    assert_null(pick.text);
    /* a value need not be NUL-terminated: only vlen bytes count */
    assert_int_equal(policy_topic_offer(&pick, "t", 0, 7, "policy", 6, P(9000) "garbage",
                                        strlen(P(9000))), 1);
    assert_string_equal(pick.text, P(9000));
    policy_topic_pick_clear(&pick);
}

static void test_reload_text(void **state)
{
    char err[512];
    struct policy *old = NULL;
    struct policy_sla s;
    struct policy_reload *r = policy_reload_open(NULL, err, sizeof(err));
    (void)state;
    assert_non_null(r);
    policy_lookup(policy_reload_current(r), Q, "VOICE", &s);
    assert_int_equal(s.duration_ms, POLICY_DEFAULT_DURATION_MS);

    assert_int_equal(policy_reload_text(r, P(5000), "t", &old, err, sizeof(err)), QA_OK);
    assert_non_null(old);
    policy_free(old);
    policy_lookup(policy_reload_current(r), Q, "VOICE", &s);
    assert_int_equal(s.duration_ms, 5000);

    /* a bad text changes nothing */
    assert_int_not_equal(policy_reload_text(r, "{\"default\":{\"durationMs\":0}}", "t", &old,
                                            err, sizeof(err)),
                         QA_OK);
    assert_null(old);
    assert_non_null(strstr(err, "durationMs"));
    policy_lookup(policy_reload_current(r), Q, "VOICE", &s);
    assert_int_equal(s.duration_ms, 5000);

    /* still no file to reload on SIGHUP */
    assert_int_not_equal(policy_reload_file(r, &old, err, sizeof(err)), QA_OK);
    policy_reload_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_record_taken),
        cmocka_unit_test(test_newest_valid_wins),
        cmocka_unit_test(test_refusals_keep_pick),
        cmocka_unit_test(test_reload_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
