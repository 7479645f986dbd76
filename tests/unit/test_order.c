/*
 * test_order.c — the notifier's order and offset bookkeeping: stored offsets
 * never pass an open record whatever order requests finish in; the per-key
 * gate hands the key to waiters in arrival order, and a done record keeps
 * it until a commit passes that record; parked records block only
 * newer records of their key, and nothing is left behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "notifier/order.h"

static void test_offsets_out_of_order(void **state)
{
    struct order_offsets *t = order_offsets_new();

    assert_non_null(t);
    for (int64_t o = 10; o < 14; o++)
        assert_int_equal(order_offsets_begin(t, 0, 2, o), QA_OK);
    assert_int_equal(order_offsets_open(t, 0, 2), 4);
    /* 12 and 11 finish first: nothing may be stored while 10 is open. */
    assert_int_equal(order_offsets_done(t, 0, 2, 12), -1);
    assert_int_equal(order_offsets_done(t, 0, 2, 11), -1);
    /* 10 done: store 13, the lowest still open. */
    assert_int_equal(order_offsets_done(t, 0, 2, 10), 13);
    /* the last one: store 14 (past it). */
    assert_int_equal(order_offsets_done(t, 0, 2, 13), 14);
    assert_int_equal(order_offsets_open(t, 0, 2), 0);
    order_offsets_free(t);
}

static void test_offsets_partitions_apart(void **state)
{
    struct order_offsets *t = order_offsets_new();

    assert_int_equal(order_offsets_begin(t, 0, 0, 5), QA_OK);
    assert_int_equal(order_offsets_begin(t, 1, 0, 5), QA_OK); /* another topic */
    assert_int_equal(order_offsets_begin(t, 0, 1, 7), QA_OK);
    assert_int_equal(order_offsets_done(t, 1, 0, 5), 6);
    assert_int_equal(order_offsets_open(t, 0, 0), 1);
    assert_int_equal(order_offsets_done(t, 0, 1, 7), 8);
    assert_int_equal(order_offsets_done(t, 0, 0, 5), 6);
    order_offsets_free(t);
}

static void test_offsets_refusals(void **state)
{
    struct order_offsets *t = order_offsets_new();

    assert_int_equal(order_offsets_begin(t, 0, 0, -1), QA_ERR_INVALID);
    assert_int_equal(order_offsets_begin(t, 0, 0, 3), QA_OK);
    assert_int_equal(order_offsets_begin(t, 0, 0, 3), QA_ERR_INVALID); /* again */
    assert_int_equal(order_offsets_begin(t, 0, 0, 2), QA_ERR_INVALID); /* back */
    assert_int_equal(order_offsets_done(t, 0, 0, 4), -1);  /* never begun */
    assert_int_equal(order_offsets_done(t, 0, 9, 3), -1);  /* unknown partition */
    assert_int_equal(order_offsets_done(t, 0, 0, 3), 4);
    assert_int_equal(order_offsets_done(t, 0, 0, 3), -1);  /* twice */
    /* gaps (compacted or transactional markers) are fine */
    assert_int_equal(order_offsets_begin(t, 0, 0, 100), QA_OK);
    assert_int_equal(order_offsets_done(t, 0, 0, 100), 101);
    order_offsets_clear(t);
    assert_int_equal(order_offsets_begin(t, 0, 0, 1), QA_OK); /* fresh after clear */
    order_offsets_free(t);
}

static void test_offsets_many(void **state)
{
    struct order_offsets *t = order_offsets_new();
    int64_t stored = -1;

    /* Grows past its first allocation with a sliding head; finish every
     * other record first, then the rest in reverse. */
    for (int64_t o = 0; o < 1000; o++) {
        assert_int_equal(order_offsets_begin(t, 0, 0, o), QA_OK);
        if (o % 3 == 0 && o >= 300) {
            int64_t s = order_offsets_done(t, 0, 0, o - 300);
            if (s >= 0)
                stored = s;
        }
    }
    for (int64_t o = 999; o >= 0; o--) {
        int64_t s = order_offsets_done(t, 0, 0, o);
        /* 0 was done in the first loop; 1 stays open until the end */
        if (o > 1 && s >= 0)
            fail_msg("stored %lld while offset 1 is open", (long long)s);
        if (s >= 0)
            stored = s;
    }
    assert_int_equal(stored, 1000);
    order_offsets_free(t);
}

static void test_key_gate(void **state)
{
    struct order_keys *k = order_keys_new();
    int a = 1, b = 2;

    assert_false(order_key_busy(k, "q:wait"));
    assert_int_equal(order_key_wait(k, "q:wait", &a), QA_ERR_INVALID); /* not busy */
    assert_int_equal(order_key_acquire(k, "q:wait"), QA_OK);
    assert_int_equal(order_key_acquire(k, "q:wait"), QA_ERR_INVALID);
    assert_true(order_key_busy(k, "q:wait"));
    assert_false(order_key_busy(k, "q:other"));
    assert_int_equal(order_key_wait(k, "q:wait", &a), QA_OK);
    assert_int_equal(order_key_wait(k, "q:wait", &b), QA_OK);
    assert_int_equal(order_keys_waiting(k), 2);
    /* handed over in arrival order, the key staying busy */
    assert_ptr_equal(order_key_release(k, "q:wait"), &a);
    assert_true(order_key_busy(k, "q:wait"));
    assert_ptr_equal(order_key_release(k, "q:wait"), &b);
    assert_null(order_key_release(k, "q:wait"));
    assert_false(order_key_busy(k, "q:wait"));
    assert_int_equal(order_keys_waiting(k), 0);
    assert_int_equal(order_keys_count(k), 0);
    assert_null(order_key_release(k, "never"));
    assert_int_equal(order_key_acquire(k, NULL), QA_ERR_INVALID);
    order_keys_free(k);
}

static void count_item(void *item, void *ctx)
{
    (void)item;
    (*(int *)ctx)++;
}

static void test_key_clear(void **state)
{
    struct order_keys *k = order_keys_new();
    int x, n = 0;
    char key[32];

    for (int i = 0; i < 300; i++) { /* past the first table size */
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(order_key_acquire(k, key), QA_OK);
        assert_int_equal(order_key_wait(k, key, &x), QA_OK);
        if (i % 2)
            assert_int_equal(order_parked_add(k, key, i, 1, 0), QA_OK);
    }
    assert_int_equal(order_keys_count(k), 300);
    order_keys_clear(k, 0, count_item, &n);
    assert_int_equal(n, 300);
    assert_int_equal(order_keys_count(k), 150); /* the parked ones stay */
    assert_int_equal(order_parked_count(k, NULL), 150);
    assert_int_equal(order_parked_count(k, "k1"), 1);
    assert_false(order_key_busy(k, "k1"));
    order_keys_clear(k, 1, NULL, NULL);
    assert_int_equal(order_keys_count(k), 0);
    order_keys_free(k);
}

/* What the commit handed on, in order. */
static struct {
    void *items[8];
    int n;
    struct order_keys *k;
} handed;

static void take_item(void *item, void *ctx)
{
    (void)ctx;
    handed.items[handed.n++] = item;
    /* the item holds its key now; fn may use the table (it adds a key) */
    assert_int_equal(order_key_acquire(handed.k, "added-in-fn"), QA_OK);
    assert_null(order_key_release(handed.k, "added-in-fn"));
}

/* A key done but not committed stays busy; only a commit past its record
 * (on its own topic and partition) hands it on. */
static void test_key_held_until_commit(void **state)
{
    struct order_keys *k = order_keys_new();
    int resolved = 1, later = 2;

    handed.n = 0;
    handed.k = k;
    assert_int_equal(order_key_hold(k, "a", 0, 2, 10), QA_ERR_INVALID); /* not busy */
    assert_int_equal(order_key_acquire(k, "a"), QA_OK);
    assert_int_equal(order_key_hold(k, "a", 0, 2, 10), QA_OK);
    assert_int_equal(order_key_hold(k, "a", 0, 2, 10), QA_ERR_INVALID); /* twice */
    assert_int_equal(order_keys_held(k), 1);
    assert_true(order_key_busy(k, "a"));
    assert_int_equal(order_key_wait(k, "a", &resolved), QA_OK);
    assert_int_equal(order_key_wait(k, "a", &later), QA_OK);
    /* the commit must pass offset 10 on topic 0 partition 2 */
    assert_int_equal(order_keys_committed(k, 0, 2, 10, take_item, NULL), 0);
    assert_int_equal(order_keys_committed(k, 1, 2, 11, take_item, NULL), 0);
    assert_int_equal(order_keys_committed(k, 0, 1, 11, take_item, NULL), 0);
    assert_int_equal(handed.n, 0);
    assert_true(order_key_busy(k, "a"));
    assert_int_equal(order_keys_committed(k, 0, 2, 11, take_item, NULL), 1);
    assert_int_equal(handed.n, 1);
    assert_ptr_equal(handed.items[0], &resolved);
    assert_int_equal(order_keys_held(k), 0);
    assert_true(order_key_busy(k, "a")); /* resolved's now */
    assert_int_equal(order_keys_waiting(k), 1);
    /* a second commit hands nothing on: the key is not held */
    assert_int_equal(order_keys_committed(k, 0, 2, 50, take_item, NULL), 0);
    assert_int_equal(handed.n, 1);
    assert_int_equal(order_key_hold(k, "a", 0, 2, 11), QA_OK);
    assert_int_equal(order_keys_committed(k, 0, 2, 50, take_item, NULL), 1);
    assert_ptr_equal(handed.items[1], &later);
    assert_int_equal(order_key_hold(k, "a", 0, 2, 12), QA_OK);
    assert_int_equal(order_keys_committed(k, 0, 2, 50, NULL, NULL), 1);
    assert_false(order_key_busy(k, "a")); /* nobody waited: free */
    assert_int_equal(order_keys_count(k), 0);
    /* a release (drain) clears the hold too; clear forgets holds */
    assert_int_equal(order_key_acquire(k, "b"), QA_OK);
    assert_int_equal(order_key_hold(k, "b", 3, 0, 5), QA_OK);
    assert_null(order_key_release(k, "b"));
    assert_int_equal(order_keys_held(k), 0);
    assert_int_equal(order_key_acquire(k, "c"), QA_OK);
    assert_int_equal(order_key_hold(k, "c", 3, 0, 5), QA_OK);
    order_keys_clear(k, 1, NULL, NULL);
    assert_int_equal(order_keys_held(k), 0);
    assert_int_equal(order_keys_count(k), 0);
    order_keys_free(k);
}

/* Many keys held on one partition, released by one commit: each waiter is
 * handed on once, whatever the table does meanwhile. */
static void test_keys_committed_many(void **state)
{
    struct order_keys *k = order_keys_new();
    int x[200], n = 0;
    char key[32];

    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "m%d", i);
        assert_int_equal(order_key_acquire(k, key), QA_OK);
        assert_int_equal(order_key_hold(k, key, 0, 0, i), QA_OK);
        if (i % 2)
            assert_int_equal(order_key_wait(k, key, &x[i]), QA_OK);
    }
    assert_int_equal(order_keys_committed(k, 0, 0, 100, count_item, &n), 100);
    assert_int_equal(n, 50);
    assert_int_equal(order_keys_held(k), 100);
    assert_int_equal(order_keys_count(k), 150); /* 50 freed, 50 handed on */
    assert_int_equal(order_keys_committed(k, 0, 0, 200, count_item, &n), 100);
    assert_int_equal(n, 100);
    assert_int_equal(order_keys_held(k), 0);
    order_keys_clear(k, 1, NULL, NULL);
    order_keys_free(k);
}

static void test_parked_blocks_newer_only(void **state)
{
    struct order_keys *k = order_keys_new();
    int level = 0;
    int64_t nb = 0;

    /* FIRING at offset 10 failed and sits in retry.1 */
    assert_int_equal(order_parked_add(k, "q:wait", 10, 1, 5000), QA_OK);
    /* its RESOLVED (offset 11) must wait behind it, in retry.1 */
    assert_true(order_parked_blocker(k, "q:wait", 11, &level, &nb));
    assert_int_equal(level, 1);
    assert_int_equal(nb, 5000);
    /* the FIRING itself, read back from retry.1, is not blocked by itself */
    assert_false(order_parked_blocker(k, "q:wait", 10, NULL, NULL));
    /* nor by a newer one parked behind it */
    assert_int_equal(order_parked_add(k, "q:wait", 11, 1, 5000), QA_OK);
    assert_false(order_parked_blocker(k, "q:wait", 10, NULL, NULL));
    /* other keys are never blocked */
    assert_false(order_parked_blocker(k, "q:other", 99, NULL, NULL));
    /* FIRING moves on to retry.2: the RESOLVED follows it there */
    assert_int_equal(order_parked_remove(k, "q:wait", 10), 1);
    assert_int_equal(order_parked_add(k, "q:wait", 10, 2, 9000), QA_OK);
    assert_true(order_parked_blocker(k, "q:wait", 11, &level, &nb));
    assert_int_equal(level, 2);
    assert_int_equal(nb, 9000);
    /* several older ones: the highest level and the latest due time */
    assert_int_equal(order_parked_add(k, "q:wait", 3, 3, 7000), QA_OK);
    assert_true(order_parked_blocker(k, "q:wait", 11, &level, &nb));
    assert_int_equal(level, 3);
    assert_int_equal(nb, 9000);
    assert_int_equal(order_parked_remove(k, "q:wait", 3), 1);
    /* FIRING delivered: the RESOLVED may go */
    assert_int_equal(order_parked_remove(k, "q:wait", 10), 1);
    assert_false(order_parked_blocker(k, "q:wait", 11, NULL, NULL));
    assert_int_equal(order_parked_remove(k, "q:wait", 10), 0); /* not twice */
    assert_int_equal(order_parked_remove(k, "q:wait", 11), 1);
    assert_int_equal(order_keys_count(k), 0);
    order_keys_free(k);
}

/* Where the older parked records sit: only older ones, only that level. */
static void test_parked_older_at(void **state)
{
    struct order_keys *k = order_keys_new();

    assert_int_equal(order_parked_add(k, "q", 10, 2, 0), QA_OK);
    assert_int_equal(order_parked_add(k, "q", 30, 1, 0), QA_OK);
    assert_true(order_parked_older_at(k, "q", 11, 2));
    assert_false(order_parked_older_at(k, "q", 10, 2)); /* not older than itself */
    assert_false(order_parked_older_at(k, "q", 11, 1)); /* 30 is newer */
    assert_true(order_parked_older_at(k, "q", 31, 1));
    assert_false(order_parked_older_at(k, "q", 31, 3));
    assert_false(order_parked_older_at(k, "other", 31, 1));
    assert_false(order_parked_older_at(k, "q", -1, 2)); /* unknown: nothing older */
    order_keys_free(k);
}

static void test_parked_duplicates_and_unknown(void **state)
{
    struct order_keys *k = order_keys_new();

    /* a record forwarded twice (crash before commit) is two entries that do
     * not block each other */
    assert_int_equal(order_parked_add(k, "g", 4, 2, 0), QA_OK);
    assert_int_equal(order_parked_add(k, "g", 4, 2, 0), QA_OK);
    assert_false(order_parked_blocker(k, "g", 4, NULL, NULL));
    assert_true(order_parked_blocker(k, "g", 5, NULL, NULL));
    assert_int_equal(order_parked_remove(k, "g", 4), 1);
    assert_true(order_parked_blocker(k, "g", 5, NULL, NULL));
    assert_int_equal(order_parked_remove(k, "g", 4), 1);
    assert_false(order_parked_blocker(k, "g", 5, NULL, NULL));
    /* unknown origin (-1, any negative) is older than every known one */
    assert_int_equal(order_parked_add(k, "g", -7, 1, 0), QA_OK);
    assert_true(order_parked_blocker(k, "g", 0, NULL, NULL));
    assert_false(order_parked_blocker(k, "g", -1, NULL, NULL));
    assert_int_equal(order_parked_remove(k, "g", -3), 1);
    assert_int_equal(order_parked_add(k, NULL, 1, 1, 0), QA_ERR_INVALID);
    assert_int_equal(order_keys_count(k), 0);
    order_keys_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_out_of_order),
        cmocka_unit_test(test_offsets_partitions_apart),
        cmocka_unit_test(test_offsets_refusals),
        cmocka_unit_test(test_offsets_many),
        cmocka_unit_test(test_key_gate),
        cmocka_unit_test(test_key_clear),
        cmocka_unit_test(test_key_held_until_commit),
        cmocka_unit_test(test_keys_committed_many),
        cmocka_unit_test(test_parked_blocks_newer_only),
        cmocka_unit_test(test_parked_duplicates_and_unknown),
        cmocka_unit_test(test_parked_older_at),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
