/*
 * test_genesys_policy.c — qalert-genesys' pure parts: Genesys queue pages ->
 * SLA policy (the fraction carried as a fraction, queues without a usable
 * service level skipped, names kept, hostile values dropped at their exact
 * bounds, duplicates, deterministic output that the processor's loader
 * accepts), and the Retry-After parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "genesys/http.h"
#include "genesys/sync_policy.h"
#include "processor/policy.h"

#define Q1 "2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c"
#define Q2 "7c6d5e4f-3a2b-4c1d-9e8f-7a6b5c4d3e2f"

/* A page shaped as GET /api/v2/routing/queues answers (trimmed). */
static const char page1[] =
    "{\"entities\":["
    "{\"id\":\"" Q1 "\",\"name\":\"Support\",\"division\":{\"id\":\"d\",\"name\":\"Home\"},"
    " \"memberCount\":7,\"acwSettings\":{\"wrapupPrompt\":\"OPTIONAL\",\"timeoutMs\":30000},"
    " \"mediaSettings\":{"
    "  \"call\":{\"alertingTimeoutSeconds\":8,\"enableAutoAnswer\":false,"
    "           \"serviceLevel\":{\"percentage\":0.9,\"durationMs\":30000}},"
    "  \"chat\":{\"alertingTimeoutSeconds\":30,\"serviceLevel\":{\"percentage\":0.85,\"durationMs\":60000}},"
    "  \"videoComm\":{\"serviceLevel\":{\"percentage\":0.5,\"durationMs\":1000}}}},"
    "{\"id\":\"no-media\",\"name\":\"Bare\"},"
    "{\"id\":\"no-sl\",\"name\":\"No service level\",\"mediaSettings\":{\"call\":{\"alertingTimeoutSeconds\":8}}}"
    "],\"pageSize\":3,\"pageNumber\":1,\"total\":4,\"pageCount\":2}";

static const char page2[] =
    "{\"entities\":[{\"id\":\"" Q2 "\",\"name\":\"Billing\",\"mediaSettings\":{"
    "\"call\":{\"serviceLevel\":{\"percentage\":0.8,\"durationMs\":20000}}}}],"
    "\"pageSize\":3,\"pageNumber\":2,\"total\":4,\"pageCount\":2}";

static struct gen_policy *build(const char *const *pages, size_t n)
{
    char err[256];
    struct gen_policy *p = gen_policy_new(20000, 0.8);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        if (gen_policy_add_page_json(p, pages[i], strlen(pages[i]), err, sizeof(err)))
            fail_msg("page refused: %s", err);
    return p;
}

static cJSON *render_json(const struct gen_policy *p)
{
    char *text = gen_policy_render(p, 1);
    cJSON *j;
    assert_non_null(text);
    assert_int_equal(text[strlen(text) - 1], '\n');
    j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

static const cJSON *sl_of(const cJSON *root, const char *id, const char *media)
{
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "queues"), id);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(q, "mediaSettings"), media);
    return cJSON_GetObjectItemCaseSensitive(m, "serviceLevel");
}

static void test_fraction_names_and_skips(void **state)
{
    const char *pages[] = { page1, page2 };
    struct gen_policy *p = build(pages, 2);
    struct gen_policy_counts c;
    cJSON *root = render_json(p);
    const cJSON *sl, *q;

    gen_policy_counts(p, &c);
    assert_int_equal(c.queues, 2);
    assert_int_equal(c.skipped, 2);   /* no mediaSettings; no serviceLevel */
    assert_int_equal(c.duplicates, 0);
    assert_int_equal(c.media, 3);     /* call+chat of Support, call of Billing */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "queues")), 2);
    sl = sl_of(root, Q1, "call");
    /* The fraction stays a fraction: 0.9, not 90. */
    assert_true(cJSON_GetObjectItemCaseSensitive(sl, "percentage")->valuedouble == 0.9);
    assert_true(cJSON_GetObjectItemCaseSensitive(sl, "durationMs")->valuedouble == 30000);
    sl = sl_of(root, Q1, "chat");
    assert_true(cJSON_GetObjectItemCaseSensitive(sl, "percentage")->valuedouble == 0.85);
    /* Media the processor cannot map are not written. */
    assert_null(sl_of(root, Q1, "videoComm"));
    q = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "queues"), Q1);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, "name")),
                        "Support");
    assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "queues"),
                                                 "no-media"));
    assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "queues"),
                                                 "no-sl"));
    sl = cJSON_GetObjectItemCaseSensitive(root, "default");
    assert_true(cJSON_GetObjectItemCaseSensitive(sl, "durationMs")->valuedouble == 20000);
    assert_true(cJSON_GetObjectItemCaseSensitive(sl, "percentage")->valuedouble == 0.8);
    cJSON_Delete(root);
    gen_policy_free(p);
}

/* What the processor makes of it: the synced threshold and target. */
static void test_processor_loads_it(void **state)
{
    const char *pages[] = { page1, page2 };
    struct gen_policy *p = build(pages, 2);
    char *text = gen_policy_render(p, 1), err[256];
    struct policy *pol = NULL;
    struct policy_sla s;

    assert_non_null(text);
    if (policy_load_string(text, &pol, err, sizeof(err)))
        fail_msg("processor refused the synced policy: %s", err);
    assert_int_equal(policy_queue_count(pol), 2);
    policy_lookup(pol, Q1, "VOICE", &s);
    assert_int_equal(s.duration_ms, 30000);
    assert_true(s.target == 0.9);
    assert_string_equal(s.queue_name, "Support");
    policy_lookup(pol, Q1, "CHAT", &s);
    assert_int_equal(s.duration_ms, 60000);
    policy_lookup(pol, Q1, "EMAIL", &s); /* not configured: the default */
    assert_int_equal(s.duration_ms, 20000);
    assert_true(s.target == 0.8);
    policy_lookup(pol, "no-media", "VOICE", &s); /* skipped: default, no name */
    assert_int_equal(s.duration_ms, 20000);
    assert_null(s.queue_name);
    policy_free(pol);
    free(text);
    gen_policy_free(p);
}

/* Each bad value is dropped at its exact bound; the queue keeps what is good. */
static void test_bounds(void **state)
{
    char page[2048];
    struct gen_policy *p;
    cJSON *root;
    const cJSON *sl;
    struct {
        const char *sl;
        int has_duration, has_percentage;
    } cases[] = {
        { "{\"durationMs\":1,\"percentage\":1}", 1, 1 },
        { "{\"durationMs\":31536000000,\"percentage\":100}", 1, 1 },
        { "{\"durationMs\":31536000001,\"percentage\":100.5}", 0, 0 },
        { "{\"durationMs\":0,\"percentage\":0}", 0, 0 },
        { "{\"durationMs\":-5,\"percentage\":-0.1}", 0, 0 },
        { "{\"durationMs\":1500.5,\"percentage\":0.000001}", 0, 1 },
        { "{\"durationMs\":\"20000\",\"percentage\":\"0.8\"}", 0, 0 },
        { "{\"durationMs\":20000}", 1, 0 },
        { "{\"percentage\":0.7}", 0, 1 },
        { "[]", 0, 0 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256];
        snprintf(page, sizeof(page),
                 "{\"entities\":[{\"id\":\"q\",\"mediaSettings\":{\"call\":{\"serviceLevel\":%s}}}]}",
                 cases[i].sl);
        p = gen_policy_new(20000, 0.8);
        assert_int_equal(gen_policy_add_page_json(p, page, strlen(page), err, sizeof(err)), QA_OK);
        root = render_json(p);
        sl = sl_of(root, "q", "call");
        if (!cases[i].has_duration && !cases[i].has_percentage) {
            assert_null(sl); /* nothing usable: the queue is skipped */
        } else {
            assert_int_equal(!!cJSON_GetObjectItemCaseSensitive(sl, "durationMs"),
                             cases[i].has_duration);
            assert_int_equal(!!cJSON_GetObjectItemCaseSensitive(sl, "percentage"),
                             cases[i].has_percentage);
            /* and the processor takes whatever was kept */
            char *text = gen_policy_render(p, 1);
            struct policy *pol = NULL;
            if (policy_load_string(text, &pol, err, sizeof(err)))
                fail_msg("case %zu refused: %s", i, err);
            policy_free(pol);
            free(text);
        }
        cJSON_Delete(root);
        gen_policy_free(p);
    }
}

static void test_hostile_entities(void **state)
{
    static const char page[] =
        "{\"entities\":["
        "42, null, \"q\", [],"
        "{\"name\":\"no id\",\"mediaSettings\":{\"call\":{\"serviceLevel\":{\"durationMs\":1}}}},"
        "{\"id\":\"\",\"mediaSettings\":{\"call\":{\"serviceLevel\":{\"durationMs\":1}}}},"
        "{\"id\":7,\"mediaSettings\":{\"call\":{\"serviceLevel\":{\"durationMs\":1}}}},"
        "{\"id\":\"a\\u0001b\",\"mediaSettings\":{\"call\":{\"serviceLevel\":{\"durationMs\":1}}}},"
        "{\"id\":\"ok\",\"name\":\"bad\\nname\",\"mediaSettings\":{\"call\":{\"serviceLevel\":{\"durationMs\":5}}}},"
        "{\"id\":\"ms-array\",\"mediaSettings\":[]},"
        "{\"id\":\"call-string\",\"mediaSettings\":{\"call\":\"x\"}}"
        "]}";
    struct gen_policy *p = gen_policy_new(20000, 0.8);
    struct gen_policy_counts c;
    char err[256];
    cJSON *root;
    const cJSON *q;

    assert_int_equal(gen_policy_add_page_json(p, page, strlen(page), err, sizeof(err)), QA_OK);
    gen_policy_counts(p, &c);
    assert_int_equal(c.queues, 1);
    assert_int_equal(c.skipped, 10);
    root = render_json(p);
    q = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "queues"), "ok");
    assert_non_null(q);
    assert_null(cJSON_GetObjectItemCaseSensitive(q, "name")); /* control byte: name dropped */
    cJSON_Delete(root);
    gen_policy_free(p);
}

static void test_malformed_pages(void **state)
{
    struct gen_policy *p = gen_policy_new(20000, 0.8);
    char err[256];

    assert_int_equal(gen_policy_add_page_json(p, "{", 1, err, sizeof(err)), QA_ERR_INVALID);
    assert_int_equal(gen_policy_add_page_json(p, "[]", 2, err, sizeof(err)), QA_ERR_INVALID);
    assert_int_equal(gen_policy_add_page_json(p, "{}", 2, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "entities"));
    assert_int_equal(gen_policy_add_page_json(p, "{\"entities\":{}}", 15, err, sizeof(err)),
                     QA_ERR_INVALID);
    /* an empty page is a page */
    assert_int_equal(gen_policy_add_page_json(p, "{\"entities\":[]}", 15, err, sizeof(err)),
                     QA_OK);
    gen_policy_free(p);
    /* the default is checked too */
    assert_null(gen_policy_new(0, 0.8));
    assert_null(gen_policy_new(GEN_POLICY_MAX_DURATION_MS + 1, 0.8));
    assert_null(gen_policy_new(20000, 0));
    assert_null(gen_policy_new(20000, 100.01));
    p = gen_policy_new(GEN_POLICY_MAX_DURATION_MS, 100);
    assert_non_null(p);
    gen_policy_free(p);
}

/* A queue seen on two pages (it moved while paging): the last one wins, and
 * the output does not depend on the order pages came in. */
static void test_duplicates_and_order(void **state)
{
    static const char again[] =
        "{\"entities\":[{\"id\":\"" Q1 "\",\"name\":\"Support\",\"mediaSettings\":{"
        "\"call\":{\"serviceLevel\":{\"percentage\":0.95,\"durationMs\":45000}}}}]}";
    const char *ab[] = { page1, page2 }, *ba[] = { page2, page1 }, *dup[] = { page1, again };
    struct gen_policy *p1 = build(ab, 2), *p2 = build(ba, 2), *p3 = build(dup, 2);
    char *t1 = gen_policy_render(p1, 1), *t2 = gen_policy_render(p2, 1);
    struct gen_policy_counts c;
    cJSON *root;
    const cJSON *sl;

    assert_string_equal(t1, t2);
    {
        char *c1 = gen_policy_render(p1, 0);
        assert_null(strchr(c1, '\t'));
        assert_null(strchr(c1, '\n')); /* one line, one record */
        free(c1);
    }
    assert_true(strstr(t1, Q1) < strstr(t1, Q2)); /* sorted by id */
    gen_policy_counts(p3, &c);
    assert_int_equal(c.duplicates, 1);
    assert_int_equal(c.queues, 1);
    root = render_json(p3);
    sl = sl_of(root, Q1, "call");
    assert_true(cJSON_GetObjectItemCaseSensitive(sl, "durationMs")->valuedouble == 45000);
    assert_null(sl_of(root, Q1, "chat")); /* replaced whole, not merged */
    cJSON_Delete(root);
    free(t1);
    free(t2);
    gen_policy_free(p1);
    gen_policy_free(p2);
    gen_policy_free(p3);
}

static void test_empty_org(void **state)
{
    struct gen_policy *p = gen_policy_new(15000, 0.75);
    char *text = gen_policy_render(p, 1), err[256];
    struct policy *pol = NULL;
    struct policy_sla s;

    assert_int_equal(policy_load_string(text, &pol, err, sizeof(err)), QA_OK);
    assert_int_equal(policy_queue_count(pol), 0);
    policy_lookup(pol, "any", "VOICE", &s);
    assert_int_equal(s.duration_ms, 15000);
    assert_true(s.target == 0.75);
    policy_free(pol);
    free(text);
    gen_policy_free(p);
}

static void test_retry_after(void **state)
{
    /* Thu, 01 Jan 2026 00:00:00 GMT = 1767225600 */
    assert_int_equal(gen_http_parse_retry_after("3", 0), 3000);
    assert_int_equal(gen_http_parse_retry_after(" 0 \r\n", 0), 0);
    assert_int_equal(gen_http_parse_retry_after("86400", 0), 86400000);
    assert_int_equal(gen_http_parse_retry_after("86401", 0), 86400000); /* capped */
    assert_int_equal(gen_http_parse_retry_after("3x", 0), -1);
    assert_int_equal(gen_http_parse_retry_after("-1", 0), -1);
    assert_int_equal(gen_http_parse_retry_after("", 0), -1);
    assert_int_equal(gen_http_parse_retry_after(NULL, 0), -1);
    assert_int_equal(gen_http_parse_retry_after("Thu, 01 Jan 2026 00:00:05 GMT", 1767225600),
                     5000);
    assert_int_equal(gen_http_parse_retry_after("Thu, 01 Jan 2026 00:00:00 GMT", 1767225605),
                     0); /* in the past: at once */
    assert_int_equal(gen_http_parse_retry_after("not a date", 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fraction_names_and_skips),
        cmocka_unit_test(test_processor_loads_it),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_hostile_entities),
        cmocka_unit_test(test_malformed_pages),
        cmocka_unit_test(test_duplicates_and_order),
        cmocka_unit_test(test_empty_org),
        cmocka_unit_test(test_retry_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
