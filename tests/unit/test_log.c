/*
 * test_log.c — the logger writes one valid JSON object a line, honours the
 * level, and never lets a registered secret through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static char *captured;
static size_t captured_len;
static FILE *stream;

static int setup(void **state)
{
    stream = open_memstream(&captured, &captured_len);
    log_set_stream(stream);
    log_set_level(LOG_DEBUG);
    log_set_program("test");
    return 0;
}

static int teardown(void **state)
{
    log_set_stream(NULL);
    fclose(stream);
    free(captured);
    captured = NULL;
    return 0;
}

static cJSON *last_line(void)
{
    fflush(stream);
    assert_non_null(captured);
    assert_true(captured_len > 0);
    assert_int_equal(captured[captured_len - 1], '\n');
    const char *start = captured;
    for (const char *p = captured; p < captured + captured_len - 1; p++) {
        if (*p == '\n')
            start = p + 1;
    }
    cJSON *obj = cJSON_ParseWithLength(start, (size_t)(captured + captured_len - start));
    assert_non_null(obj);
    return obj;
}

static void test_fields_are_json(void **state)
{
    log_info("published \"quoted\"\n", LOG_S("topic", "a\\b"), LOG_I("partition", -3),
             LOG_D("ratio", 0.5), LOG_B("ok", 1), LOG_S("none", NULL));
    cJSON *o = last_line();
    assert_string_equal(cJSON_GetObjectItem(o, "level")->valuestring, "info");
    assert_string_equal(cJSON_GetObjectItem(o, "program")->valuestring, "test");
    assert_string_equal(cJSON_GetObjectItem(o, "msg")->valuestring, "published \"quoted\"\n");
    assert_string_equal(cJSON_GetObjectItem(o, "topic")->valuestring, "a\\b");
    assert_int_equal(cJSON_GetObjectItem(o, "partition")->valueint, -3);
    assert_true(cJSON_GetObjectItem(o, "ratio")->valuedouble == 0.5);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "ok")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "none")));
    assert_non_null(cJSON_GetObjectItem(o, "ts"));
    cJSON_Delete(o);
}

static void test_control_chars_escaped(void **state)
{
    log_warn("x", LOG_S("bin", "a\x01\x1f" "b"));
    cJSON *o = last_line();
    assert_string_equal(cJSON_GetObjectItem(o, "bin")->valuestring, "a\x01\x1f" "b");
    cJSON_Delete(o);
}

static void test_level_filter(void **state)
{
    log_set_level(LOG_WARN);
    size_t before = captured_len;
    fflush(stream);
    before = captured_len;
    log_info("hidden");
    log_debug("hidden");
    fflush(stream);
    assert_int_equal(captured_len, before);
    log_error("shown");
    fflush(stream);
    assert_true(captured_len > before);
    log_set_level(LOG_DEBUG);
}

static void test_secret_redacted_everywhere(void **state)
{
    log_add_secret("s3cr3t-token");
    log_add_secret("abc"); /* too short: ignored, or it would redact words */
    log_error("auth with s3cr3t-token failed", LOG_S("url", "https://h/x/s3cr3t-tokens3cr3t-token"),
              LOG_S("word", "abcdef"));
    fflush(stream);
    assert_null(strstr(captured, "s3cr3t-token"));
    cJSON *o = last_line();
    assert_string_equal(cJSON_GetObjectItem(o, "msg")->valuestring, "auth with [redacted] failed");
    assert_string_equal(cJSON_GetObjectItem(o, "url")->valuestring,
                        "https://h/x/[redacted][redacted]");
    assert_string_equal(cJSON_GetObjectItem(o, "word")->valuestring, "abcdef");
    cJSON_Delete(o);
}

static void test_long_line_truncated_but_valid(void **state)
{
    char *big = malloc(20000);
    memset(big, 'x', 19999);
    big[19999] = '\0';
    log_info("big", LOG_S("v", big));
    free(big);
    cJSON *o = last_line();
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "truncated")) ||
                cJSON_GetObjectItem(o, "v") == NULL);
    cJSON_Delete(o);
}

static void test_parse_level(void **state)
{
    enum log_level l;
    assert_int_equal(log_parse_level("warn", &l), 0);
    assert_int_equal(l, LOG_WARN);
    assert_int_equal(log_parse_level("WARN", &l), -1);
    assert_int_equal(log_parse_level("verbose", &l), -1);
    assert_int_equal(log_parse_level(NULL, &l), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fields_are_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_chars_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_redacted_everywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line_truncated_but_valid, setup, teardown),
        cmocka_unit_test(test_parse_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
