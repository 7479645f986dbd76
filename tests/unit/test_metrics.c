/*
 * test_metrics.c — the Prometheus registry: values, the exact exposition
 * text, label escaping, registration rules, histogram bucket boundaries,
 * exact counts under concurrent increments, series removal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"

static int setup(void **state)
{
    metrics_reset();
    return 0;
}

static int teardown(void **state)
{
    metrics_reset();
    log_set_stream(NULL);
    return 0;
}

/* The whole rendered registry; the caller frees. */
static char *render(void)
{
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(metrics_render(&text, &len), QA_OK);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

/* 1 when `line` is one whole line of the rendered text. */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

static void test_counter_and_gauge_values(void **state)
{
    struct metrics_family *c = metrics_register(METRICS_COUNTER, "t_total", "T.", NULL, 0);
    struct metrics_family *g = metrics_register(METRICS_GAUGE, "t_level", "L.", NULL, 0);

    assert_non_null(c);
    assert_non_null(g);
    metrics_inc(c, NULL, 1);
    metrics_inc(c, "", 2.5); /* "" and NULL are the same unlabeled series */
    assert_true(metrics_value(c, NULL) == 3.5);
    metrics_inc(c, NULL, -1); /* counters never go down */
    metrics_inc(c, NULL, NAN);
    assert_true(metrics_value(c, "") == 3.5);
    metrics_inc(c, "k=\"a\"", 1);
    assert_true(metrics_value(c, "k=\"a\"") == 1);
    assert_true(metrics_value(c, "k=\"b\"") == 0);

    metrics_set(g, NULL, 5);
    metrics_inc(g, NULL, -2);
    assert_true(metrics_value(g, NULL) == 3);
    metrics_set(g, NULL, -7.25);
    assert_true(metrics_value(g, NULL) == -7.25);

    /* NULL families are no-ops, not crashes. */
    metrics_inc(NULL, NULL, 1);
    metrics_set(NULL, NULL, 1);
    metrics_observe(NULL, NULL, 1);
    metrics_remove(NULL, NULL);
    assert_true(metrics_value(NULL, NULL) == 0);
}

static void test_render_exact(void **state)
{
    struct metrics_family *c, *g, *h;
    char *text;
    static const char expected[] =
        "# HELP t_requests_total Requests by code.\\nSecond \\\\ line\n"
        "# TYPE t_requests_total counter\n"
        "t_requests_total{code=\"202\"} 3\n"
        "t_requests_total{code=\"401\"} 1\n"
        "# HELP t_up Up.\n"
        "# TYPE t_up gauge\n"
        "t_up 0\n"
        "# HELP t_latency_seconds Latency.\n"
        "# TYPE t_latency_seconds histogram\n"
        "t_latency_seconds_bucket{endpoint=\"genesys\",le=\"0.1\"} 1\n"
        "t_latency_seconds_bucket{endpoint=\"genesys\",le=\"1\"} 2\n"
        "t_latency_seconds_bucket{endpoint=\"genesys\",le=\"+Inf\"} 3\n"
        "t_latency_seconds_sum{endpoint=\"genesys\"} 2.6\n"
        "t_latency_seconds_count{endpoint=\"genesys\"} 3\n"
        "t_latency_seconds_bucket{le=\"0.1\"} 1\n"
        "t_latency_seconds_bucket{le=\"1\"} 1\n"
        "t_latency_seconds_bucket{le=\"+Inf\"} 1\n"
        "t_latency_seconds_sum 0.05\n"
        "t_latency_seconds_count 1\n";

    text = render();
    assert_string_equal(text, ""); /* an empty registry renders nothing */
    free(text);

    c = metrics_register(METRICS_COUNTER, "t_requests_total",
                         "Requests by code.\nSecond \\ line", NULL, 0);
    g = metrics_register(METRICS_GAUGE, "t_up", "Up.", NULL, 0);
    h = metrics_register(METRICS_HISTOGRAM, "t_latency_seconds", "Latency.",
                         (const double[]){ 0.1, 1 }, 2);
    assert_non_null(c);
    assert_non_null(g);
    assert_non_null(h);
    metrics_inc(c, "code=\"202\"", 3);
    metrics_inc(c, "code=\"401\"", 1);
    metrics_observe(h, "endpoint=\"genesys\"", 0.1);
    metrics_observe(h, "endpoint=\"genesys\"", 0.5);
    metrics_observe(h, "endpoint=\"genesys\"", 2);
    metrics_observe(h, NULL, 0.05);
    assert_true(metrics_value(h, "endpoint=\"genesys\"") == 3);

    text = render();
    assert_string_equal(text, expected);
    free(text);

    metrics_set(g, NULL, 1);
    text = render();
    assert_true(has_line(text, "t_up 1"));
    assert_false(has_line(text, "t_up 0"));
    free(text);
}

static void test_number_spelling(void **state)
{
    struct metrics_family *g = metrics_register(METRICS_GAUGE, "t_num", "N.", NULL, 0);
    struct {
        double v;
        const char *want;
    } cases[] = {
        { 0.1, "t_num{c=\"0\"} 0.1" },
        { 1234567, "t_num{c=\"1\"} 1234567" },
        { -3, "t_num{c=\"2\"} -3" },
        { 1.0 / 3.0, "t_num{c=\"3\"} 0.3333333333333333" },
        { 1e20, "t_num{c=\"4\"} 1e+20" },
        { NAN, "t_num{c=\"5\"} NaN" },
        { INFINITY, "t_num{c=\"6\"} +Inf" },
        { -INFINITY, "t_num{c=\"7\"} -Inf" },
        { -0.0, "t_num{c=\"8\"} 0" },
        { 2.5e-7, "t_num{c=\"9\"} 2.5e-07" },
    };
    char labels[32], *text;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char idx[4];
        snprintf(idx, sizeof(idx), "%zu", i);
        metrics_set(g, metrics_labels(labels, sizeof(labels), "c", idx, NULL), cases[i].v);
    }
    text = render();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!has_line(text, cases[i].want))
            fail_msg("missing line %s in\n%s", cases[i].want, text);
    }
    free(text);
}

static void test_labels_escaping_and_truncation(void **state)
{
    char buf[64];

    assert_string_equal(metrics_labels(buf, sizeof(buf), NULL), "");
    assert_string_equal(metrics_labels(buf, sizeof(buf), "code", "202", "endpoint", "genesys",
                                       NULL),
                        "code=\"202\",endpoint=\"genesys\"");
    assert_string_equal(metrics_labels(buf, sizeof(buf), "q", "a\\b\"c\nd", NULL),
                        "q=\"a\\\\b\\\"c\\nd\"");
    assert_string_equal(metrics_labels(buf, sizeof(buf), "q", NULL, NULL), "q=\"\"");

    /* `a="1",b="2"` is 11 bytes: it needs 12 with its NUL; one byte less and
     * the second pair is dropped whole rather than cut inside a quote. */
    assert_string_equal(metrics_labels(buf, 12, "a", "1", "b", "2", NULL),
                        "a=\"1\",b=\"2\"");
    assert_string_equal(metrics_labels(buf, 11, "a", "1", "b", "2", NULL), "a=\"1\"");
    assert_string_equal(metrics_labels(buf, 7, "a", "1", "b", "2", NULL), "a=\"1\"");
    assert_string_equal(metrics_labels(buf, 5, "a", "1", "b", "2", NULL), "");
    /* An escape that does not fit is not split. */
    assert_string_equal(metrics_labels(buf, 6, "a", "\"", NULL), "");
    assert_string_equal(metrics_labels(buf, 1, "a", "1", NULL), "");
}

static void test_register_rules(void **state)
{
    struct metrics_family *a, *b;
    char *logged = NULL;
    size_t loglen = 0;
    FILE *logf = open_memstream(&logged, &loglen);

    assert_non_null(logf);
    log_set_stream(logf);
    a = metrics_register(METRICS_COUNTER, "t_same_total", "First.", NULL, 0);
    b = metrics_register(METRICS_COUNTER, "t_same_total", "Second.", NULL, 0);
    assert_non_null(a);
    assert_ptr_equal(a, b);
    metrics_inc(a, NULL, 1);
    metrics_inc(b, NULL, 1);
    assert_true(metrics_value(a, NULL) == 2);

    assert_null(metrics_register(METRICS_GAUGE, "t_same_total", "Clash.", NULL, 0));
    assert_null(metrics_register(METRICS_COUNTER, "9starts_with_digit", "Bad.", NULL, 0));
    assert_null(metrics_register(METRICS_COUNTER, "has-dash", "Bad.", NULL, 0));
    assert_null(metrics_register(METRICS_COUNTER, "", "Bad.", NULL, 0));
    assert_null(metrics_register(METRICS_HISTOGRAM, "t_h", "Unordered.",
                                 (const double[]){ 1, 0.5 }, 2));
    assert_null(metrics_register(METRICS_HISTOGRAM, "t_h", "Equal bounds.",
                                 (const double[]){ 1, 1 }, 2));
    assert_null(metrics_register(METRICS_HISTOGRAM, "t_h", "Infinite.",
                                 (const double[]){ 1, INFINITY }, 2));
    log_set_stream(NULL);
    fclose(logf);
    assert_non_null(strstr(logged, "another type"));
    assert_non_null(strstr(logged, "t_same_total"));
    free(logged);

    /* The clash left the original family intact and first in the text. */
    char *text = render();
    assert_true(has_line(text, "# TYPE t_same_total counter"));
    assert_true(has_line(text, "t_same_total 2"));
    assert_null(strstr(text, "t_h"));
    free(text);
}

static void test_bucket_boundaries(void **state)
{
    struct metrics_family *h = metrics_register(METRICS_HISTOGRAM, "t_b_seconds", "B.", NULL, 0);
    char *text;

    metrics_observe(h, NULL, 0.005);     /* exactly a bound: counted in le="0.005" */
    metrics_observe(h, NULL, 0.0005);    /* the first bound */
    metrics_observe(h, NULL, 10);        /* the last bound */
    metrics_observe(h, NULL, 10.000001); /* just over: +Inf only */
    metrics_observe(h, NULL, 0);
    text = render();
    assert_true(has_line(text, "t_b_seconds_bucket{le=\"0.0005\"} 2"));
    assert_true(has_line(text, "t_b_seconds_bucket{le=\"0.001\"} 2"));
    assert_true(has_line(text, "t_b_seconds_bucket{le=\"0.0025\"} 2"));
    assert_true(has_line(text, "t_b_seconds_bucket{le=\"0.005\"} 3"));
    assert_true(has_line(text, "t_b_seconds_bucket{le=\"5\"} 3"));
    assert_true(has_line(text, "t_b_seconds_bucket{le=\"10\"} 4"));
    assert_true(has_line(text, "t_b_seconds_bucket{le=\"+Inf\"} 5"));
    assert_true(has_line(text, "t_b_seconds_count 5"));
    /* 14 default bounds plus +Inf. */
    size_t buckets = 0;
    for (const char *p = text; (p = strstr(p, "t_b_seconds_bucket{")) != NULL; p++)
        buckets++;
    assert_int_equal(buckets, 15);
    free(text);

    /* An empty histogram renders no samples, only its HELP and TYPE. */
    metrics_register(METRICS_HISTOGRAM, "t_empty_seconds", "E.", NULL, 0);
    text = render();
    assert_true(has_line(text, "# TYPE t_empty_seconds histogram"));
    assert_null(strstr(text, "t_empty_seconds_"));
    free(text);
}

#define THREADS 4
#define PER_THREAD 50000

struct worker {
    struct metrics_family *c, *h;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < PER_THREAD; i++) {
        metrics_inc(w->c, "endpoint=\"genesys\"", 1);
        metrics_observe(w->h, NULL, 0.001);
    }
    return NULL;
}

static void test_concurrent_increments(void **state)
{
    struct worker w = {
        metrics_register(METRICS_COUNTER, "t_hits_total", "H.", NULL, 0),
        metrics_register(METRICS_HISTOGRAM, "t_hit_seconds", "S.", NULL, 0),
    };
    pthread_t th[THREADS];
    char *text, line[128];

    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_true(metrics_value(w.c, "endpoint=\"genesys\"") == THREADS * PER_THREAD);
    assert_true(metrics_value(w.h, NULL) == THREADS * PER_THREAD);
    text = render();
    snprintf(line, sizeof(line), "t_hit_seconds_bucket{le=\"0.001\"} %d", THREADS * PER_THREAD);
    assert_true(has_line(text, line));
    free(text);
}

static void test_remove(void **state)
{
    struct metrics_family *g = metrics_register(METRICS_GAUGE, "t_lag", "Lag.", NULL, 0);
    char labels[64], *text;

    /* Enough series to grow the index several times. */
    for (int p = 0; p < 100; p++) {
        char part[8];
        snprintf(part, sizeof(part), "%d", p);
        metrics_set(g, metrics_labels(labels, sizeof(labels), "partition", part, NULL), p);
    }
    for (int p = 0; p < 100; p += 2) {
        char part[8];
        snprintf(part, sizeof(part), "%d", p);
        metrics_remove(g, metrics_labels(labels, sizeof(labels), "partition", part, NULL));
    }
    metrics_remove(g, "partition=\"absent\""); /* no-op */
    for (int p = 0; p < 100; p++) {
        char part[8];
        snprintf(part, sizeof(part), "%d", p);
        double want = p % 2 ? p : 0;
        assert_true(metrics_value(g, metrics_labels(labels, sizeof(labels), "partition", part,
                                                    NULL)) == want);
    }
    text = render();
    assert_false(has_line(text, "t_lag{partition=\"2\"} 2"));
    assert_true(has_line(text, "t_lag{partition=\"3\"} 3"));
    /* Insertion order survives removals. */
    assert_true(strstr(text, "partition=\"3\"") < strstr(text, "partition=\"99\""));
    free(text);

    for (int p = 1; p < 100; p += 2) {
        char part[8];
        snprintf(part, sizeof(part), "%d", p);
        metrics_remove(g, metrics_labels(labels, sizeof(labels), "partition", part, NULL));
    }
    /* A labeled family emptied by removals does not fall back to `t_lag 0`. */
    text = render();
    assert_true(has_line(text, "# TYPE t_lag gauge"));
    assert_false(has_line(text, "t_lag 0"));
    assert_null(strstr(text, "t_lag{"));
    free(text);

    metrics_set(g, "partition=\"7\"", 42); /* comes back after removal */
    assert_true(metrics_value(g, "partition=\"7\"") == 42);
}

static void test_series_cap(void **state)
{
    struct metrics_family *c = metrics_register(METRICS_COUNTER, "t_many_total", "M.", NULL, 0);
    char labels[32];
    FILE *devnull = fopen("/dev/null", "w");

    assert_non_null(devnull);
    log_set_stream(devnull);
    for (int i = 0; i <= 10000; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", i);
        metrics_inc(c, metrics_labels(labels, sizeof(labels), "id", id, NULL), 1);
    }
    assert_true(metrics_value(c, "id=\"9999\"") == 1);
    assert_true(metrics_value(c, "id=\"10000\"") == 0); /* the 10001st is dropped */
    log_set_stream(NULL);
    fclose(devnull);
}

static void test_build_info(void **state)
{
    char *text;

    metrics_build_info("qalert-test", "1.2.\"3\"");
    metrics_build_info("qalert-test", "1.2.\"3\""); /* idempotent */
    text = render();
    assert_string_equal(text,
                        "# HELP qalert_build_info Always 1; the labels name the program and "
                        "its version.\n"
                        "# TYPE qalert_build_info gauge\n"
                        "qalert_build_info{program=\"qalert-test\",version=\"1.2.\\\"3\\\"\"} 1\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counter_and_gauge_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_render_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_number_spelling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_labels_escaping_and_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bucket_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_increments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_series_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_info, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
