/*
 * test_schema.c — Parsing Canonical Form and CRC-64-AVRO against the Avro
 * project's own vectors (share/test/data/schema-tests.txt, apache/avro), plus
 * namespace inheritance cases the vectors do not cover.
 *
 * Fingerprints are printed there as Java longs; our uint64 read as int64 is
 * the same number (and its little-endian bytes are the single-object frame's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/schema.h"

#define NO_FP 0, 0
#define FP(x) 1, x##LL

struct vector {
    const char *input;
    const char *canonical;
    int has_fp;
    int64_t fp;
};

static const struct vector vectors[] = {
    { "\"null\"",
      "\"null\"",
      FP(7195948357588979594) },
    { "{\"type\":\"null\"}",
      "\"null\"",
      NO_FP },
    { "\"boolean\"",
      "\"boolean\"",
      FP(-6970731678124411036) },
    { "{\"type\":\"boolean\"}",
      "\"boolean\"",
      NO_FP },
    { "\"int\"",
      "\"int\"",
      FP(8247732601305521295) },
    { "{\"type\":\"int\"}",
      "\"int\"",
      NO_FP },
    { "\"long\"",
      "\"long\"",
      FP(-3434872931120570953) },
    { "{\"type\":\"long\"}",
      "\"long\"",
      NO_FP },
    { "\"float\"",
      "\"float\"",
      FP(5583340709985441680) },
    { "{\"type\":\"float\"}",
      "\"float\"",
      NO_FP },
    { "\"double\"",
      "\"double\"",
      FP(-8181574048448539266) },
    { "{\"type\":\"double\"}",
      "\"double\"",
      NO_FP },
    { "\"bytes\"",
      "\"bytes\"",
      FP(5746618253357095269) },
    { "{\"type\":\"bytes\"}",
      "\"bytes\"",
      NO_FP },
    { "\"string\"",
      "\"string\"",
      FP(-8142146995180207161) },
    { "{\"type\":\"string\"}",
      "\"string\"",
      NO_FP },
    { "[  ]",
      "[]",
      FP(-1241056759729112623) },
    { "[ \"int\"  ]",
      "[\"int\"]",
      FP(-5232228896498058493) },
    { "[ \"int\" , {\"type\":\"boolean\"} ]",
      "[\"int\",\"boolean\"]",
      FP(5392556393470105090) },
    { "{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
      "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}",
      FP(-4824392279771201922) },
    { "{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"namespace\":\"x.y\"}",
      "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}",
      FP(5916914534497305771) },
    { "{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", \"namespace\":\"x.y\"}",
      "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}",
      FP(-4616218487480524110) },
    { "{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"Useful info\"}",
      "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}",
      FP(-4824392279771201922) },
    { "{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"aliases\":[\"foo\",\"bar\"]}",
      "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}",
      FP(-4824392279771201922) },
    { "{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"foo\", \"aliases\":[\"foo\",\"bar\"]}",
      "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}",
      FP(-4824392279771201922) },
    { "{\"fields\":[{\"type\":{\"type\":\"boolean\"}, \"name\":\"f1\"}], \"type\":\"record\", \"name\":\"foo\"}",
      "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"}]}",
      FP(7843277075252814651) },
    { "{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", \"default\":true},\n            {\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\",\"type\":\"int\"}],\n  \"type\":\"record\", \"name\":\"foo\"\n}",
      "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"},{\"name\":\"f2\",\"type\":\"int\"}]}",
      FP(-4860222112080293046) },
    { "{\"type\":\"enum\", \"name\":\"foo\", \"symbols\":[\"A1\"]}",
      "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}",
      FP(-6342190197741309591) },
    { "{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", \"doc\":\"foo bar\", \"symbols\":[\"A1\", \"A2\"]}",
      "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}",
      FP(-4448647247586288245) },
    { "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
      "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
      FP(1756455273707447556) },
    { "{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", \"doc\":\"foo bar\", \"size\":32}",
      "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}",
      FP(-3064184465700546786) },
    { "{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
      "{\"type\":\"array\",\"items\":\"null\"}",
      FP(-589620603366471059) },
    { "{ \"values\":\"string\", \"type\":\"map\"}",
      "{\"type\":\"map\",\"values\":\"string\"}",
      FP(-8732877298790414990) },
    { "  {\"name\":\"PigValue\",\"type\":\"record\",\n   \"fields\":[{\"name\":\"value\", \"type\":[\"null\", \"int\", \"long\", \"PigValue\"]}]}",
      "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\",\"type\":[\"null\",\"int\",\"long\",\"PigValue\"]}]}",
      FP(-1759257747318642341) },
};

/* Not in the Avro file: nested named types inherit the enclosing namespace,
 * a dotted name sets it, references are written as full names, and escapes
 * are replaced by their characters. Fingerprints from an independent
 * implementation of the specification's algorithm. */
static const struct vector extra[] = {
    { "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"doc\":\"d\",\"fields\":["
      "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\"]}},"
      "{\"name\":\"e2\",\"type\":\"E\",\"default\":\"X\"},"
      "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"c.F\",\"size\":4}},"
      "{\"name\":\"g\",\"type\":{\"type\":\"record\",\"name\":\"G\",\"fields\":["
      "{\"name\":\"h\",\"type\":{\"type\":\"enum\",\"name\":\"H\",\"symbols\":[\"Y\"]}}]}},"
      "{\"name\":\"k\",\"type\":\"c.F\"}]}",
      "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":["
      "{\"name\":\"e\",\"type\":{\"name\":\"a.b.E\",\"type\":\"enum\",\"symbols\":[\"X\"]}},"
      "{\"name\":\"e2\",\"type\":\"a.b.E\"},"
      "{\"name\":\"f\",\"type\":{\"name\":\"c.F\",\"type\":\"fixed\",\"size\":4}},"
      "{\"name\":\"g\",\"type\":{\"name\":\"a.b.G\",\"type\":\"record\",\"fields\":["
      "{\"name\":\"h\",\"type\":{\"name\":\"a.b.H\",\"type\":\"enum\",\"symbols\":[\"Y\"]}}]}},"
      "{\"name\":\"k\",\"type\":\"c.F\"}]}",
      FP(7001783640717627553) },
    { " { \"fields\" : [ {\"name\":\"z\",\"type\":{\"symbols\":[\"A\"],\"name\":\"Z\",\"type\":\"enum\"}},"
      "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":{\"values\":[\"null\",{\"type\":\"Z\"}],"
      "\"type\":\"map\"}}}], \"name\":\"x.Y\", \"type\":\"record\", \"namespace\":\"ignored\" }",
      "{\"name\":\"x.Y\",\"type\":\"record\",\"fields\":["
      "{\"name\":\"z\",\"type\":{\"name\":\"x.Z\",\"type\":\"enum\",\"symbols\":[\"A\"]}},"
      "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"map\",\"values\":[\"null\",\"x.Z\"]}}}]}",
      FP(2577511644819780695) },
    { "{\"type\":\"enum\",\"name\":\"\\u0066oo\",\"namespace\":\"\",\"symbols\":[\"\\u0041\"]}",
      "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A\"]}", NO_FP },
    { "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}", "\"long\"", NO_FP },
    { "{\"type\":\"array\",\"items\":\"int\",\"doc\":\"x\"}",
      "{\"type\":\"array\",\"items\":\"int\"}", NO_FP },
    { "{\"type\":\"fixed\",\"name\":\"n.f\",\"size\":16.0,\"aliases\":[\"q\"]}",
      "{\"name\":\"n.f\",\"type\":\"fixed\",\"size\":16}", NO_FP },
};

static void check(const struct vector *v, size_t i)
{
    char err[256] = "";
    char *canon = NULL;

    if (schema_canonical_form(v->input, &canon, err, sizeof(err)) != QA_OK)
        fail_msg("vector %zu: %s (%s)", i, err, v->input);
    if (strcmp(canon, v->canonical) != 0)
        fail_msg("vector %zu:\n got  %s\n want %s", i, canon, v->canonical);
    if (v->has_fp) {
        int64_t fp = (int64_t)schema_fingerprint64(canon, strlen(canon));
        if (fp != v->fp)
            fail_msg("vector %zu: fingerprint %lld, want %lld", i, (long long)fp,
                     (long long)v->fp);
    }
    free(canon);
}

static void test_avro_vectors(void **state)
{
    size_t n = sizeof(vectors) / sizeof(vectors[0]);
    assert_int_equal(n, 34);
    for (size_t i = 0; i < n; i++)
        check(&vectors[i], i);
}

static void test_namespaces_and_stripping(void **state)
{
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
        check(&extra[i], i);
}

static void test_fingerprint_examples(void **state)
{
    /* The two examples the brief gives, and the frame's byte order. */
    assert_int_equal((int64_t)schema_fingerprint64("\"int\"", 5), 8247732601305521295LL);
    const char *c = "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}";
    assert_int_equal((int64_t)schema_fingerprint64(c, strlen(c)), 5916914534497305771LL);
    assert_int_equal(schema_fingerprint64("", 0), 0xc15d213aa4d7a795ULL);
}

static void test_rejects(void **state)
{
    const char *bad[] = {
        "", "not json", "{\"type\":\"record\",\"fields\":[]}",          /* no name */
        "{\"type\":\"record\",\"name\":\"r\"}",                          /* no fields */
        "{\"type\":\"enum\",\"name\":\"e\",\"symbols\":[1]}",
        "{\"type\":\"fixed\",\"name\":\"f\",\"size\":-1}",
        "{\"type\":\"fixed\",\"name\":\"f\",\"size\":1.5}",
        "{\"type\":\"array\"}", "{\"type\":\"map\"}", "{\"name\":\"x\"}", "42", "null",
        "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\"}]}",
        NULL,
    };
    char err[256];
    char *out = (char *)1;

    for (int i = 0; bad[i]; i++) {
        err[0] = '\0';
        assert_int_equal(schema_canonical_form(bad[i], &out, err, sizeof(err)), QA_ERR_INVALID);
        assert_null(out);
        assert_true(strlen(err) > 0);
    }
    assert_int_equal(schema_canonical_form(NULL, &out, err, sizeof(err)), QA_ERR_INVALID);
}

static void test_depth_limit(void **state)
{
    /* 200 nested arrays: refused, not a stack overflow. */
    char text[200 * 30 + 16];
    size_t o = 0;
    char err[128], *out = NULL;

    for (int i = 0; i < 200; i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, "{\"type\":\"array\",\"items\":");
    o += (size_t)snprintf(text + o, sizeof(text) - o, "\"int\"");
    for (int i = 0; i < 200; i++)
        text[o++] = '}';
    text[o] = '\0';
    assert_int_equal(schema_canonical_form(text, &out, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "deep"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avro_vectors),
        cmocka_unit_test(test_namespaces_and_stripping),
        cmocka_unit_test(test_fingerprint_examples),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_depth_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
