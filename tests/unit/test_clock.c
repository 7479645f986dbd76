/*
 * test_clock.c — ISO 8601 parsing and formatting (replay time ranges,
 * flat events' timestamps).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/clock.h"

static void test_parse_forms(void **state)
{
    int64_t ms;
    assert_int_equal(clock_parse_iso8601("2025-11-23T08:00:00Z", &ms), 0);
    assert_int_equal(ms, 1763884800000LL);
    assert_int_equal(clock_parse_iso8601("2025-11-23T08:00:45.2Z", &ms), 0);
    assert_int_equal(ms, 1763884845200LL);
    assert_int_equal(clock_parse_iso8601("2025-11-23T09:00:45.123+01:00", &ms), 0);
    assert_int_equal(ms, 1763884845123LL);
    assert_int_equal(clock_parse_iso8601("2025-11-23T08:00", &ms), 0);
    assert_int_equal(ms, 1763884800000LL);
    assert_int_equal(clock_parse_iso8601("2025-11-23", &ms), 0);
    assert_int_equal(ms, 1763856000000LL);
    assert_int_equal(clock_parse_iso8601("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(clock_parse_iso8601("2024-02-29T12:00:00Z", &ms), 0);
    assert_int_equal(ms, 1709208000000LL);
}

static void test_parse_rejects(void **state)
{
    int64_t ms;
    const char *bad[] = { "", "2025", "2025-13-01", "2025-11-23T25:00:00Z",
                          "2025-11-23T08:00:00Zjunk", "2025-11-23T08:00:00.Z",
                          "yesterday", "2025-11-23T08:00:00+0", NULL };
    for (int i = 0; bad[i]; i++)
        assert_int_equal(clock_parse_iso8601(bad[i], &ms), -1);
    assert_int_equal(clock_parse_iso8601(NULL, &ms), -1);
}

static void test_format_round_trip(void **state)
{
    char buf[32];
    int64_t ms;
    clock_format_iso8601(1763884845200LL, buf, sizeof(buf));
    assert_string_equal(buf, "2025-11-23T08:00:45.200Z");
    assert_int_equal(clock_parse_iso8601(buf, &ms), 0);
    assert_int_equal(ms, 1763884845200LL);
}

static void test_clocks_move(void **state)
{
    assert_true(clock_wall_ms() > 1700000000000LL);
    int64_t a = clock_mono_ms();
    assert_true(clock_mono_ms() >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_clocks_move),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
