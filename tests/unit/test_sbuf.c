/*
 * test_sbuf.c — the growable buffer: growth across the first capacity and
 * many doublings, embedded NULs, printf output longer than the room left,
 * the oom flag (an overflowing size sets it without allocating; afterwards
 * every append is a no-op and take gives NULL), take/reset/free, and the
 * bounded append into a fixed array at its exact limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/sbuf.h"

static void test_empty(void **state)
{
    struct sbuf b;
    size_t len = 99;
    char *s;

    (void)state;
    sbuf_init(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    s = sbuf_take(&b, &len);
    assert_non_null(s); /* nothing appended is still a string */
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    assert_null(b.p);
    free(s);

    sbuf_add(&b, "", 0); /* an empty append allocates and terminates */
    assert_non_null(b.p);
    assert_int_equal(b.p[0], '\0');
    sbuf_free(&b);
    assert_null(b.p);
}

static void test_append_and_grow(void **state)
{
    struct sbuf b = { 0 };
    char *want = malloc(10001);
    size_t len;
    char *s;

    (void)state;
    assert_non_null(want);
    sbuf_puts(&b, "ab");
    sbuf_add(&b, "cdef", 2);
    assert_string_equal(b.p, "abcd");
    assert_int_equal(b.len, 4);
    sbuf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    /* One byte at a time, well past the first capacity: every boundary
     * between doublings is crossed, and the NUL must follow each time. */
    for (size_t i = 0; i < 10000; i++) {
        char c = (char)('a' + i % 26);
        want[i] = c;
        sbuf_add(&b, &c, 1);
        assert_int_equal(b.len, i + 1);
        assert_true(b.cap > b.len);
        assert_int_equal(b.p[b.len], '\0');
    }
    want[10000] = '\0';
    s = sbuf_take(&b, &len);
    assert_int_equal(len, 10000);
    assert_string_equal(s, want);
    free(s);
    free(want);
}

static void test_binary(void **state)
{
    struct sbuf b = { 0 };
    static const char bytes[] = { 'x', 0, 'y', 0 };
    size_t len;
    char *s;

    (void)state;
    sbuf_add(&b, bytes, sizeof(bytes));
    sbuf_add(&b, bytes, sizeof(bytes));
    assert_int_equal(b.len, 8);
    s = sbuf_take(&b, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(s, bytes, 4);
    assert_memory_equal(s + 4, bytes, 4);
    assert_int_equal(s[8], '\0');
    free(s);
}

static void test_printf(void **state)
{
    struct sbuf b = { 0 };
    char big[1000], *fill;
    size_t cap;
    char *s;

    (void)state;
    sbuf_printf(&b, "%s=%d", "n", 42);
    assert_string_equal(b.p, "n=42");
    sbuf_printf(&b, "%s", "");
    assert_int_equal(b.len, 4);
    /* Longer than what is left of the first allocation: must grow, not cut. */
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sbuf_printf(&b, "[%s]", big);
    assert_int_equal(b.len, 4 + 2 + 999);
    assert_int_equal(b.p[4], '[');
    assert_int_equal(b.p[5 + 998], 'z');
    assert_int_equal(b.p[b.len - 1], ']');
    assert_int_equal(b.p[b.len], '\0');
    /* Exactly filling the allocation: the NUL still needs its own byte. */
    sbuf_reset(&b);
    cap = b.cap;
    fill = malloc(cap);
    assert_non_null(fill);
    memset(fill, 'q', cap - 1);
    fill[cap - 1] = '\0';
    sbuf_printf(&b, "%s", fill);
    free(fill);
    assert_int_equal(b.len, cap - 1);
    assert_int_equal(b.cap, cap);
    sbuf_printf(&b, "!");
    assert_true(b.cap > cap);
    assert_int_equal(b.p[cap - 1], '!');
    assert_int_equal(b.p[cap], '\0');
    s = sbuf_take(&b, NULL);
    assert_non_null(s);
    free(s);
}

static void test_oom_sticks(void **state)
{
    struct sbuf b = { 0 };
    size_t len = 7;

    (void)state;
    sbuf_puts(&b, "kept");
    /* A size that would wrap len + n + 1 is refused before any allocation. */
    sbuf_add(&b, "x", SIZE_MAX - 2);
    assert_true(b.oom);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.p, "kept");
    sbuf_puts(&b, "more");
    sbuf_add(&b, "more", 4);
    sbuf_printf(&b, "%d", 5);
    assert_int_equal(b.len, 4);
    sbuf_reset(&b);
    assert_true(b.oom); /* reset does not forget a failure */
    assert_null(sbuf_take(&b, &len));
    assert_int_equal(len, 0);
    assert_null(b.p); /* the partial content was freed */
    assert_false(b.oom);

    sbuf_add(&b, "x", SIZE_MAX); /* also from empty */
    assert_true(b.oom);
    assert_null(b.p);
    sbuf_free(&b);
    assert_false(b.oom);
    sbuf_puts(&b, "again");
    assert_string_equal(b.p, "again");
    sbuf_free(&b);
}

static void test_fixed(void **state)
{
    char buf[8];
    size_t len = 0;

    (void)state;
    assert_true(sbuf_fixed_add(buf, sizeof(buf), &len, "abc", 3));
    assert_string_equal(buf, "abc");
    /* 5 more would fill all 8 bytes and leave none for the NUL. */
    assert_false(sbuf_fixed_add(buf, sizeof(buf), &len, "defgh", 5));
    assert_int_equal(len, 3);
    assert_string_equal(buf, "abc");
    assert_true(sbuf_fixed_add(buf, sizeof(buf), &len, "def", 3));
    assert_int_equal(len, 6);
    assert_true(sbuf_fixed_add(buf, sizeof(buf), &len, "g", 1)); /* the last byte is the NUL's */
    assert_string_equal(buf, "abcdefg");
    assert_false(sbuf_fixed_add(buf, sizeof(buf), &len, "h", 1));
    assert_true(sbuf_fixed_add(buf, sizeof(buf), &len, "", 0)); /* nothing always fits */
    assert_int_equal(len, 7);
    len = 8; /* a length already at the end of the array, or past it */
    assert_false(sbuf_fixed_add(buf, sizeof(buf), &len, "", 0));
    len = 9;
    assert_false(sbuf_fixed_add(buf, sizeof(buf), &len, "", 0));
    assert_int_equal(len, 9);
    len = 0;
    assert_false(sbuf_fixed_add(buf, 0, &len, "", 0));
    assert_false(sbuf_fixed_add(buf, sizeof(buf), &len, "x", SIZE_MAX));
    assert_int_equal(len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_append_and_grow),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_oom_sticks),
        cmocka_unit_test(test_fixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
