/*
 * test_frame.c — both framings of a record value (SPEC §5): exact header
 * bytes, every too-short length, foreign magic, and what errors say.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/frame.h"

static void test_single_object_round_trip(void **state)
{
    uint8_t buf[FRAME_SINGLE_OBJECT_HEADER + 3];
    struct frame f;
    char err[128];

    frame_write_single_object(buf, 0x0102030405060708ULL);
    const uint8_t want[] = { 0xc3, 0x01, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01 };
    assert_memory_equal(buf, want, sizeof(want));
    memcpy(buf + FRAME_SINGLE_OBJECT_HEADER, "abc", 3);
    assert_int_equal(frame_parse(buf, sizeof(buf), &f, err, sizeof(err)), QA_OK);
    assert_int_equal(f.kind, FRAME_SINGLE_OBJECT);
    assert_true(f.fingerprint == 0x0102030405060708ULL);
    assert_ptr_equal(f.payload, buf + FRAME_SINGLE_OBJECT_HEADER);
    assert_int_equal(f.payload_len, 3);

    /* All bits set survive, and an empty payload is a frame. */
    frame_write_single_object(buf, UINT64_MAX);
    assert_int_equal(frame_parse(buf, FRAME_SINGLE_OBJECT_HEADER, &f, err, sizeof(err)), QA_OK);
    assert_true(f.fingerprint == UINT64_MAX);
    assert_int_equal(f.payload_len, 0);
}

static void test_confluent_round_trip(void **state)
{
    uint8_t buf[FRAME_CONFLUENT_HEADER + 1];
    struct frame f;
    char err[128];

    frame_write_confluent(buf, 0x01020304);
    const uint8_t want[] = { 0x00, 0x01, 0x02, 0x03, 0x04 };
    assert_memory_equal(buf, want, sizeof(want));
    buf[5] = 0x7f;
    assert_int_equal(frame_parse(buf, sizeof(buf), &f, err, sizeof(err)), QA_OK);
    assert_int_equal(f.kind, FRAME_CONFLUENT);
    assert_int_equal(f.schema_id, 0x01020304);
    assert_ptr_equal(f.payload, buf + 5);
    assert_int_equal(f.payload_len, 1);

    frame_write_confluent(buf, UINT32_MAX);
    assert_int_equal(frame_parse(buf, FRAME_CONFLUENT_HEADER, &f, err, sizeof(err)), QA_OK);
    assert_int_equal(f.schema_id, UINT32_MAX);
    assert_int_equal(f.payload_len, 0);
}

static void test_short_buffers(void **state)
{
    uint8_t so[FRAME_SINGLE_OBJECT_HEADER], cf[FRAME_CONFLUENT_HEADER];
    struct frame f;
    char err[160];

    frame_write_single_object(so, 42);
    frame_write_confluent(cf, 42);
    for (size_t n = 0; n < sizeof(so); n++) {
        err[0] = '\0';
        assert_int_equal(frame_parse(so, n, &f, err, sizeof(err)), QA_ERR_INVALID);
        assert_true(strlen(err) > 0);
    }
    for (size_t n = 0; n < sizeof(cf); n++)
        assert_int_equal(frame_parse(cf, n, &f, err, sizeof(err)), QA_ERR_INVALID);
    assert_int_equal(frame_parse(so, 9, &f, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "c3 01 2a"));
    assert_non_null(strstr(err, "9 of 10"));
    assert_int_equal(frame_parse(NULL, 0, &f, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "empty"));
}

static void test_bad_magic(void **state)
{
    struct frame f;
    char err[160];
    const char *json = "{\"eventType\":\"x\"}";

    assert_int_equal(frame_parse(json, strlen(json), &f, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "7b 22 65 76 65 6e 74 54 ..."));
    const uint8_t wrong_version[] = { 0xc3, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    assert_int_equal(frame_parse(wrong_version, sizeof(wrong_version), &f, err, sizeof(err)),
                     QA_ERR_INVALID);
    assert_non_null(strstr(err, "c3 02"));
    const uint8_t one[] = { 0xc3 };
    assert_int_equal(frame_parse(one, 1, &f, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "c3"));
    /* A tiny error buffer is truncated, not overrun. */
    char tiny[8];
    assert_int_equal(frame_parse(json, strlen(json), &f, tiny, sizeof(tiny)), QA_ERR_INVALID);
    assert_int_equal(strlen(tiny), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_object_round_trip),
        cmocka_unit_test(test_confluent_round_trip),
        cmocka_unit_test(test_short_buffers),
        cmocka_unit_test(test_bad_magic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
