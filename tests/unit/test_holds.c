/*
 * test_holds.c — the notifier's key holds (notifier/holds.c): a held key
 * reports its time until it passes, a later hold wins over an earlier one,
 * expired holds are dropped, the table is bounded and frees its sweep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "notifier/holds.h"

static void test_hold_and_expiry(void **state)
{
    struct key_holds *h = key_holds_new();
    (void)state;

    assert_non_null(h);
    assert_int_equal(key_holds_until(h, "k", 0), 0);
    assert_int_equal(key_holds_set(h, "k", 2000, 0), QA_OK);
    assert_int_equal(key_holds_until(h, "k", 1999), 2000);
    assert_int_equal(key_holds_until(h, "other", 1999), 0);
    /* a shorter hold does not shorten it; a longer one extends it */
    assert_int_equal(key_holds_set(h, "k", 1500, 1000), QA_OK);
    assert_int_equal(key_holds_until(h, "k", 1999), 2000);
    assert_int_equal(key_holds_set(h, "k", 3000, 1000), QA_OK);
    assert_int_equal(key_holds_until(h, "k", 2500), 3000);
    assert_int_equal(key_holds_count(h), 1);
    /* expired: not held, and dropped */
    assert_int_equal(key_holds_until(h, "k", 3000), 0);
    assert_int_equal(key_holds_count(h), 0);
    key_holds_free(h);
}

static void test_bounded_and_swept(void **state)
{
    struct key_holds *h = key_holds_new();
    char key[32];
    (void)state;

    assert_non_null(h);
    for (int i = 0; i < HOLDS_MAX; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        assert_int_equal(key_holds_set(h, key, 100, 0), QA_OK);
    }
    assert_int_equal(key_holds_count(h), HOLDS_MAX);
    /* full of live holds: refused */
    assert_int_equal(key_holds_set(h, "one-more", 100, 50), QA_ERR_NOMEM);
    /* once they expired, a new hold sweeps them out */
    assert_int_equal(key_holds_set(h, "one-more", 300, 200), QA_OK);
    assert_int_equal(key_holds_count(h), 1);
    assert_int_equal(key_holds_until(h, "one-more", 250), 300);
    assert_int_equal(key_holds_until(h, "key-7", 250), 0);
    key_holds_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hold_and_expiry),
        cmocka_unit_test(test_bounded_and_swept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
