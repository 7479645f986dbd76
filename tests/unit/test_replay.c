/*
 * test_replay.c — the pure parts of qalert-replay: time arguments, the
 * redrive marks written into commit metadata (read back as hostile input),
 * and the escaping of record bytes into JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replay/range.h"
#include "replay/redrive.h"
#include "replay/replay.h"

static void test_parse_time(void **state)
{
    int64_t ms = 0;

    assert_int_equal(range_parse_time("2025-11-23T08:00:00Z", &ms), QA_OK);
    assert_int_equal(ms, 1763884800000LL);
    assert_int_equal(range_parse_time("1763884800001", &ms), QA_OK);
    assert_int_equal(ms, 1763884800001LL);
    assert_int_equal(range_parse_time("0", &ms), QA_OK);
    assert_int_equal(ms, 0);
    assert_int_equal(range_parse_time("2025-11-23", &ms), QA_OK);
    assert_int_equal(ms, 1763856000000LL);
    assert_int_equal(range_parse_time("", &ms), QA_ERR_INVALID);
    assert_int_equal(range_parse_time("-5", &ms), QA_ERR_INVALID);
    assert_int_equal(range_parse_time("1234567890123456", &ms), QA_ERR_INVALID); /* 16 digits */
    assert_int_equal(range_parse_time("17638848000x", &ms), QA_ERR_INVALID);
    assert_int_equal(range_parse_time("yesterday", &ms), QA_ERR_INVALID);
    assert_int_equal(range_parse_time(NULL, &ms), QA_ERR_INVALID);
}

static void expect_format(const struct redrive_marks *m, const char *want)
{
    char buf[REDRIVE_MARKS_MAX + 1];
    assert_int_equal(redrive_marks_format(m, buf, sizeof(buf)), (int)strlen(want));
    assert_string_equal(buf, want);
}

static void test_marks_add_merge_remove(void **state)
{
    struct redrive_marks m = { 0 };
    int64_t base = 10;

    expect_format(&m, "");
    assert_int_equal(redrive_marks_add(&m, 15), QA_OK);
    assert_int_equal(redrive_marks_add(&m, 17), QA_OK);
    expect_format(&m, "qalert-redrive/1:15,17");
    assert_int_equal(redrive_marks_add(&m, 16), QA_OK); /* joins both sides */
    expect_format(&m, "qalert-redrive/1:15-17");
    assert_int_equal(redrive_marks_add(&m, 16), QA_OK); /* again: no change */
    assert_int_equal(redrive_marks_add(&m, 12), QA_OK);
    expect_format(&m, "qalert-redrive/1:12,15-17");
    assert_true(redrive_marks_has(&m, 12));
    assert_false(redrive_marks_has(&m, 13));
    assert_true(redrive_marks_has(&m, 17));
    assert_false(redrive_marks_has(&m, 18));
    assert_int_equal(redrive_marks_remove(&m, 16), QA_OK); /* splits */
    expect_format(&m, "qalert-redrive/1:12,15,17");
    assert_int_equal(redrive_marks_remove(&m, 12), QA_OK);
    assert_int_equal(redrive_marks_remove(&m, 99), QA_OK);
    expect_format(&m, "qalert-redrive/1:15,17");

    /* The committed offset moves only over a run without a gap. */
    redrive_marks_advance(&m, &base);
    assert_int_equal(base, 10);
    assert_int_equal(redrive_marks_add(&m, 10), QA_OK);
    redrive_marks_advance(&m, &base);
    assert_int_equal(base, 11);
    expect_format(&m, "qalert-redrive/1:15,17");
    for (int64_t o = 11; o < 15; o++)
        assert_int_equal(redrive_marks_add(&m, o), QA_OK);
    redrive_marks_advance(&m, &base);
    assert_int_equal(base, 16);
    expect_format(&m, "qalert-redrive/1:17");
    redrive_marks_clear(&m);
}

static void test_marks_parse(void **state)
{
    struct redrive_marks m = { 0 };
    const char *ok = "qalert-redrive/1:3,5-9,12";
    const char *bad[] = { "qalert-redrive/2:3", "junk", "qalert-redrive/1:",
                          "qalert-redrive/1:5,3", "qalert-redrive/1:3,4",
                          "qalert-redrive/1:9-5", "qalert-redrive/1:3,",
                          "qalert-redrive/1:3,,5", "qalert-redrive/1:1234567890123456789",
                          "qalert-redrive/1:-3", "qalert-redrive/1:3 ", NULL };
    char err[128];

    assert_int_equal(redrive_marks_parse(NULL, 0, 0, &m, err, sizeof(err)), QA_OK);
    assert_int_equal(m.n, 0);
    assert_int_equal(redrive_marks_parse(ok, strlen(ok), 0, &m, err, sizeof(err)), QA_OK);
    expect_format(&m, ok);
    redrive_marks_clear(&m);
    /* Marks below the committed offset are already covered by it. */
    assert_int_equal(redrive_marks_parse(ok, strlen(ok), 7, &m, err, sizeof(err)), QA_OK);
    expect_format(&m, "qalert-redrive/1:7-9,12");
    redrive_marks_clear(&m);
    /* Not NUL-terminated: only len bytes count. */
    assert_int_equal(redrive_marks_parse(ok, strlen("qalert-redrive/1:3"), 0, &m, err,
                                         sizeof(err)), QA_OK);
    expect_format(&m, "qalert-redrive/1:3");
    redrive_marks_clear(&m);
    for (int i = 0; bad[i]; i++) {
        assert_int_equal(redrive_marks_parse(bad[i], strlen(bad[i]), 0, &m, err,
                                             sizeof(err)), QA_ERR_INVALID);
        assert_int_equal(m.n, 0);
    }
}

static void test_marks_limit(void **state)
{
    struct redrive_marks m = { 0 };
    char buf[REDRIVE_MARKS_MAX + 1];
    int64_t o = 1000000;
    int added = 0;

    /* Scattered marks (every other offset) until the metadata is full. */
    while (redrive_marks_fit_after_add(&m, o)) {
        assert_int_equal(redrive_marks_add(&m, o), QA_OK);
        o += 2;
        added++;
    }
    assert_true(added > 100);
    assert_true(redrive_marks_format(&m, buf, sizeof(buf)) <= REDRIVE_MARKS_MAX);
    /* Filling a gap never grows the text, so it always fits. */
    assert_true(redrive_marks_fit_after_add(&m, 1000001));
    assert_int_equal(redrive_marks_format(&m, buf, 8), -1);
    redrive_marks_clear(&m);
}

static void test_json_bytes(void **state)
{
    cJSON *j;
    char *s;

    assert_true(replay_utf8_ok("h\xc3\xa9llo", 6));
    assert_false(replay_utf8_ok("\xff", 1));
    assert_false(replay_utf8_ok("\xc0\xaf", 2));          /* overlong '/' */
    assert_false(replay_utf8_ok("\xed\xa0\x80", 3));      /* surrogate */
    assert_false(replay_utf8_ok("\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
    assert_false(replay_utf8_ok("\xe2\x82", 2));          /* truncated */
    assert_false(replay_utf8_ok("a\0b", 3));              /* NUL */
    assert_true(replay_utf8_ok("", 0));

    j = replay_json_bytes("a\"b\n", 4);
    s = cJSON_PrintUnformatted(j);
    assert_string_equal(s, "\"a\\\"b\\n\"");
    cJSON_free(s);
    cJSON_Delete(j);
    j = replay_json_bytes("hello\xff", 6);
    s = cJSON_PrintUnformatted(j);
    assert_string_equal(s, "{\"base64\":\"aGVsbG//\"}");
    cJSON_free(s);
    cJSON_Delete(j);
    j = replay_json_bytes(NULL, 0);
    assert_true(cJSON_IsNull(j));
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_marks_add_merge_remove),
        cmocka_unit_test(test_marks_parse),
        cmocka_unit_test(test_marks_limit),
        cmocka_unit_test(test_json_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
