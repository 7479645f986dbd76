/*
 * test_utf8.c — strict UTF-8 validation: every boundary where a sequence
 * length starts or ends, every class of invalid sequence (stray continuation,
 * overlong, surrogate, past U+10FFFF, truncated, bad continuation). Inputs
 * are copied into exact-size heap blocks so that ASan catches a read past
 * the length given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/utf8.h"

/* bytes[0..n) in a heap block of exactly n bytes (NULL when n is 0), so
 * that a read past the end is an ASan error; the caller frees. */
static uint8_t *exact_copy(const char *bytes, size_t n)
{
    uint8_t *p = n ? malloc(n) : NULL;

    if (n) {
        assert_non_null(p);
        memcpy(p, bytes, n);
    }
    return p;
}

static size_t seq(const char *bytes, size_t n)
{
    uint8_t *p = exact_copy(bytes, n);
    size_t k = utf8_seq_len(p, n);

    free(p);
    return k;
}

static int valid(const char *bytes, size_t n)
{
    uint8_t *p = exact_copy(bytes, n);
    int ok = utf8_valid(p, n);

    free(p);
    return ok;
}

static void test_boundaries(void **state)
{
    (void)state;
    assert_int_equal(seq("\x00", 1), 1);             /* U+0000 */
    assert_int_equal(seq("\x7f", 1), 1);             /* U+007F */
    assert_int_equal(seq("\xc2\x80", 2), 2);         /* U+0080 */
    assert_int_equal(seq("\xdf\xbf", 2), 2);         /* U+07FF */
    assert_int_equal(seq("\xe0\xa0\x80", 3), 3);     /* U+0800 */
    assert_int_equal(seq("\xed\x9f\xbf", 3), 3);     /* U+D7FF */
    assert_int_equal(seq("\xee\x80\x80", 3), 3);     /* U+E000 */
    assert_int_equal(seq("\xef\xbf\xbd", 3), 3);     /* U+FFFD */
    assert_int_equal(seq("\xef\xbf\xbf", 3), 3);     /* U+FFFF */
    assert_int_equal(seq("\xf0\x90\x80\x80", 4), 4); /* U+10000 */
    assert_int_equal(seq("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF */
    /* Only the first sequence counts; what follows is not looked at. */
    assert_int_equal(seq("a\xff", 2), 1);
    assert_int_equal(seq("\xc3\xa9\xff", 3), 2);
}

static void test_overlong(void **state)
{
    (void)state;
    assert_int_equal(seq("\xc0\x80", 2), 0);         /* U+0000 in two bytes */
    assert_int_equal(seq("\xc0\xaf", 2), 0);         /* '/' */
    assert_int_equal(seq("\xc1\xbf", 2), 0);         /* U+007F */
    assert_int_equal(seq("\xe0\x80\x80", 3), 0);     /* U+0000 in three */
    assert_int_equal(seq("\xe0\x9f\xbf", 3), 0);     /* U+07FF in three */
    assert_int_equal(seq("\xf0\x80\x80\x80", 4), 0); /* U+0000 in four */
    assert_int_equal(seq("\xf0\x8f\xbf\xbf", 4), 0); /* U+FFFF in four */
}

static void test_surrogates(void **state)
{
    (void)state;
    assert_int_equal(seq("\xed\xa0\x80", 3), 0); /* U+D800 */
    assert_int_equal(seq("\xed\xaf\xbf", 3), 0); /* U+DBFF */
    assert_int_equal(seq("\xed\xb0\x80", 3), 0); /* U+DC00 */
    assert_int_equal(seq("\xed\xbf\xbf", 3), 0); /* U+DFFF */
    /* A CESU-8 pair (U+1F600 as two surrogates) is not UTF-8 either. */
    assert_int_equal(valid("\xed\xa0\xbd\xed\xb8\x80", 6), 0);
}

static void test_past_last_code_point(void **state)
{
    (void)state;
    assert_int_equal(seq("\xf4\x90\x80\x80", 4), 0); /* U+110000 */
    assert_int_equal(seq("\xf4\xbf\xbf\xbf", 4), 0);
    assert_int_equal(seq("\xf5\x80\x80\x80", 4), 0); /* lead byte past F4 */
    assert_int_equal(seq("\xf7\xbf\xbf\xbf", 4), 0);
    assert_int_equal(seq("\xf8\x88\x80\x80\x80", 5), 0); /* old 5-byte form */
    assert_int_equal(seq("\xfc\x84\x80\x80\x80\x80", 6), 0);
    assert_int_equal(seq("\xfe", 1), 0);
    assert_int_equal(seq("\xff", 1), 0);
}

static void test_bad_continuation(void **state)
{
    (void)state;
    assert_int_equal(seq("\x80", 1), 0); /* continuation byte first */
    assert_int_equal(seq("\xbf", 1), 0);
    assert_int_equal(seq("\xc3\x28", 2), 0);             /* ASCII where a tail goes */
    assert_int_equal(seq("\xc3\xc3", 2), 0);             /* lead where a tail goes */
    assert_int_equal(seq("\xe2\x28\xa1", 3), 0);
    assert_int_equal(seq("\xe2\x82\x28", 3), 0);
    assert_int_equal(seq("\xf0\x90\x28\xbc", 4), 0);
    assert_int_equal(seq("\xf0\x90\x8c\x28", 4), 0);
    assert_int_equal(seq("\xc3\x00", 2), 0);             /* NUL is not a tail */
}

static void test_truncated(void **state)
{
    (void)state;
    assert_int_equal(seq("", 0), 0);
    assert_int_equal(seq("\xc3", 1), 0);
    assert_int_equal(seq("\xe2\x82", 2), 0);
    assert_int_equal(seq("\xe2", 1), 0);
    assert_int_equal(seq("\xf0\x9f\x98", 3), 0);
    assert_int_equal(seq("\xf0\x9f", 2), 0);
    assert_int_equal(seq("\xf0", 1), 0);
}

static void test_valid_strings(void **state)
{
    (void)state;
    assert_true(valid("", 0));
    assert_true(utf8_valid(NULL, 0));
    assert_true(valid("plain ascii", 11));
    assert_true(valid("h\xc3\xa9llo", 6));
    assert_true(valid("\xe2\x82\xac 5", 5));             /* euro sign */
    assert_true(valid("\xf0\x9f\x98\x80", 4));           /* emoji */
    assert_true(valid("a\0b", 3));                       /* NUL is the caller's call */
    assert_true(valid("\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf"
                      "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 19));
}

static void test_invalid_strings(void **state)
{
    (void)state;
    assert_false(valid("\xff", 1));
    assert_false(valid("abc\x80", 4));                   /* bad at the very end */
    assert_false(valid("\x80" "abc", 4));                /* bad at the very start */
    assert_false(valid("h\xc3\xa9llo\xc3", 7));          /* cut at the end */
    assert_false(valid("ok \xe0\x80\xaf ok", 9));        /* overlong in the middle */
    assert_false(valid("ok \xed\xa0\x80", 6));           /* surrogate */
    assert_false(valid("\xf4\x90\x80\x80", 4));          /* U+110000 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_overlong),
        cmocka_unit_test(test_surrogates),
        cmocka_unit_test(test_past_last_code_point),
        cmocka_unit_test(test_bad_continuation),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_valid_strings),
        cmocka_unit_test(test_invalid_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
