/*
 * test_sla_seen.c — the SLA engine's dedup ids in the changelog
 * (processor/sla_seen.c): one "seenb:<n>" record per drain, not one per id;
 * tombstones when a block's last id goes; rewrites after cap evictions;
 * duplicates still refused after a restore (from the whole log, or from
 * the latest record per key in either order); records "seen:<id>" from
 * before blocks; hostile block values refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor/sla.h"

#define T0 1763884800000LL
#define WINDOW 60000
#define MAXLOG 512

/* ---- a changelog: every record drained, in order ---- */

struct logrec {
    char *key;
    uint8_t *val; /* NULL: tombstone */
    size_t vlen;
};

struct log {
    struct logrec r[MAXLOG];
    size_t n;
    int fail_on_call; /* >0: refuse that call (1-based), once */
};

static enum qa_err log_put(const void *key, size_t klen, const void *value, size_t vlen,
                           void *opaque)
{
    struct log *lg = opaque;

    if (lg->fail_on_call > 0 && --lg->fail_on_call == 0)
        return QA_ERR_KAFKA;
    assert_true(lg->n < MAXLOG);
    lg->r[lg->n].key = strndup(key, klen);
    lg->r[lg->n].val = NULL;
    lg->r[lg->n].vlen = vlen;
    if (value) {
        lg->r[lg->n].val = malloc(vlen ? vlen : 1);
        memcpy(lg->r[lg->n].val, value, vlen);
    }
    lg->n++;
    return QA_OK;
}

static void log_free(struct log *lg)
{
    for (size_t i = 0; i < lg->n; i++) {
        free(lg->r[i].key);
        free(lg->r[i].val);
    }
    free(lg);
}

/* Drains e into lg; returns how many records it wrote. */
static size_t drain(struct sla_engine *e, struct log *lg)
{
    char err[256];
    size_t before = lg->n;

    assert_int_equal(sla_engine_drain_changes(e, log_put, lg, err, sizeof(err)), QA_OK);
    return lg->n - before;
}

/* The first record for key among lg->r[from..], or NULL. */
static const struct logrec *find(const struct log *lg, size_t from, const char *key)
{
    for (size_t i = from; i < lg->n; i++)
        if (strcmp(lg->r[i].key, key) == 0)
            return &lg->r[i];
    return NULL;
}

static void assert_value(const struct log *lg, size_t from, const char *key)
{
    const struct logrec *r = find(lg, from, key);
    if (!r || !r->val)
        fail_msg("no value for %s", key);
}

static void assert_tombstone(const struct log *lg, size_t from, const char *key)
{
    const struct logrec *r = find(lg, from, key);
    if (!r || r->val)
        fail_msg("no tombstone for %s", key);
}

/* The id count at the start of a block value (after the version byte). */
static int64_t block_count(const struct logrec *r)
{
    uint64_t z = 0;
    int shift = 0;

    assert_non_null(r);
    assert_non_null(r->val);
    assert_int_equal(r->val[0], 1);
    for (size_t i = 1; i < r->vlen; i++, shift += 7) {
        z |= (uint64_t)(r->val[i] & 0x7f) << shift;
        if (!(r->val[i] & 0x80))
            return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    }
    fail_msg("bad count");
    return -1;
}

/* ---- restore: a topic not compacted yet, or compacted ---- */

enum mode { FULL_LOG, LATEST, LATEST_REVERSED };

static bool latest(const struct log *lg, size_t i)
{
    for (size_t j = i + 1; j < lg->n; j++)
        if (strcmp(lg->r[j].key, lg->r[i].key) == 0)
            return false;
    return lg->r[i].val != NULL; /* compaction dropped tombstones */
}

static void restore_one(struct sla_engine *e, const struct logrec *r)
{
    char err[256];
    assert_int_equal(sla_engine_restore(e, r->key, strlen(r->key), r->val, r->vlen, err,
                                        sizeof(err)), QA_OK);
}

static struct sla_engine *restored(const struct log *lg, enum mode m, const struct sla_options *o)
{
    struct sla_engine *e = sla_engine_new(NULL, o);
    char err[256];

    assert_non_null(e);
    for (size_t k = 0; k < lg->n; k++) {
        size_t i = m == LATEST_REVERSED ? lg->n - 1 - k : k;
        if (m == FULL_LOG || latest(lg, i))
            restore_one(e, &lg->r[i]);
    }
    assert_int_equal(sla_engine_restore_finish(e, err, sizeof(err)), QA_OK);
    return e;
}

/* ---- events: flat events within SLA change nothing but the seen ids ---- */

static enum qa_err no_alert(const struct alert *al, void *opaque)
{
    fail_msg("unexpected alert %s", al->grouping_key);
    return QA_OK;
}

static enum sla_outcome feed(struct sla_engine *e, const char *id, int64_t t)
{
    struct raw_event ev;
    enum sla_outcome out;
    char err[256];

    memset(&ev, 0, sizeof(ev));
    ev.kind = RAW_FLAT_WAIT;
    ev.event_id = (char *)id;
    ev.queue_id = "q";
    ev.conversation_id = "c";
    ev.event_time_ms = ev.received_ms = t;
    ev.wait_ms = 1000;
    ev.sla_ms = 30000;
    ev.calls_in_queue = CODEC_ABSENT;
    ev.sla_percentage = ev.target_sla = NAN;
    assert_int_equal(sla_engine_process(e, &ev, no_alert, NULL, &out, err, sizeof(err)), QA_OK);
    return out;
}

static void advance(struct sla_engine *e, int64_t wm)
{
    char err[256];
    assert_int_equal(sla_engine_advance(e, wm, no_alert, NULL, err, sizeof(err)), QA_OK);
}

static struct sla_options opts(size_t max_seen)
{
    struct sla_options o;
    sla_options_default(&o);
    o.dedup_window_ms = WINDOW;
    o.max_seen_ids = max_seen;
    return o;
}

static size_t seen_ids(const struct sla_engine *e)
{
    struct sla_stats st;
    sla_engine_stats(e, &st);
    return st.seen_ids;
}

/* ---- hand-built values ---- */

static size_t put_varint(uint8_t *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    do {
        p[n] = (uint8_t)(z & 0x7f);
        z >>= 7;
        if (z)
            p[n] |= 0x80;
        n++;
    } while (z);
    return n;
}

/* version, count, then (id, at) pairs. */
static size_t block_value(uint8_t *p, const char *const *ids, const int64_t *ats, size_t n)
{
    size_t len = 0;
    p[len++] = 1;
    len += put_varint(p + len, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(ids[i]);
        len += put_varint(p + len, (int64_t)l + 1);
        memcpy(p + len, ids[i], l);
        len += l;
        len += put_varint(p + len, ats[i]);
    }
    return len;
}

static void restore_kv(struct sla_engine *e, const char *key, const uint8_t *v, size_t vlen,
                       enum qa_err want)
{
    char err[256];
    if (sla_engine_restore(e, key, strlen(key), v, vlen, err, sizeof(err)) != want)
        fail_msg("restore of %s: want %s (%s)", key, qa_err_name(want), err);
}

static void restore_time(struct sla_engine *e, const char *key, int64_t t)
{
    uint8_t v[16];
    v[0] = 1;
    restore_kv(e, key, v, 1 + put_varint(v + 1, t), QA_OK);
}

/* ---- tests ---- */

static void test_one_record_per_drain(void **state)
{
    struct sla_options o = opts(1000000);
    struct sla_engine *e = sla_engine_new(NULL, &o);
    struct log *lg = calloc(1, sizeof(*lg));
    struct sla_stats st;
    char id[32];

    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof(id), "e%d", i);
        assert_int_equal(feed(e, id, T0 + i), SLA_APPLIED);
    }
    sla_engine_stats(e, &st);
    assert_int_equal(st.seen_ids, 100);
    assert_int_equal(st.pending_changes, 2); /* "wm" and the block */
    assert_int_equal(drain(e, lg), 2);
    assert_value(lg, 0, "wm");
    assert_int_equal(block_count(find(lg, 0, "seenb:0")), 100);
    /* the next drain's ids form the next block; a duplicate adds nothing */
    for (int i = 100; i < 150; i++) {
        snprintf(id, sizeof(id), "e%d", i);
        assert_int_equal(feed(e, id, T0 + 100), SLA_APPLIED);
    }
    assert_int_equal(feed(e, "e7", T0 + 100), SLA_DUPLICATE);
    assert_int_equal(drain(e, lg), 2);
    assert_int_equal(block_count(find(lg, 2, "seenb:1")), 50);
    assert_int_equal(seen_ids(e), 150);
    /* nothing new: nothing written, and no empty block */
    assert_int_equal(drain(e, lg), 0);
    assert_int_equal(feed(e, "e8", T0 + 100), SLA_DUPLICATE);
    assert_int_equal(drain(e, lg), 0);
    assert_int_equal(feed(e, "x", T0 + 100), SLA_APPLIED);
    assert_int_equal(drain(e, lg), 1);
    assert_int_equal(block_count(find(lg, 4, "seenb:2")), 1);
    sla_engine_free(e);
    log_free(lg);
}

static void test_duplicates_after_restore(void **state)
{
    struct sla_options o = opts(1000000);
    struct sla_engine *e = sla_engine_new(NULL, &o);
    struct log *lg = calloc(1, sizeof(*lg));
    char id[32];

    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "d%d", i);
        feed(e, id, T0 + i * 100);
        if (i % 10 == 9)
            drain(e, lg); /* blocks 0, 1, 2 */
    }
    sla_engine_free(e);
    for (enum mode m = FULL_LOG; m <= LATEST_REVERSED; m++) {
        size_t mark = lg->n;
        e = restored(lg, m, &o);
        assert_int_equal(seen_ids(e), 30);
        assert_int_equal(sla_engine_watermark(e), T0 + 2900);
        for (int i = 0; i < 30; i++) {
            snprintf(id, sizeof(id), "d%d", i);
            assert_int_equal(feed(e, id, T0 + 3000), SLA_DUPLICATE);
        }
        assert_int_equal(drain(e, lg), 0); /* a duplicate changes nothing */
        /* new ids go after the restored blocks */
        assert_int_equal(feed(e, "new", T0 + 3000), SLA_APPLIED);
        assert_int_equal(drain(e, lg), 2);
        assert_value(lg, mark, "wm");
        assert_int_equal(block_count(find(lg, mark, "seenb:3")), 1);
        sla_engine_free(e);
        lg->n = mark; /* forget what this restore wrote */
        for (size_t i = mark; i < mark + 2; i++) {
            free(lg->r[i].key);
            free(lg->r[i].val);
        }
    }
    log_free(lg);
}

static void test_expiry(void **state)
{
    struct sla_options o = opts(1000000);
    struct sla_engine *e = sla_engine_new(NULL, &o), *r;
    struct log *lg = calloc(1, sizeof(*lg));
    size_t mark;

    feed(e, "a", T0);
    feed(e, "b", T0 + 10000);
    assert_int_equal(drain(e, lg), 2);
    assert_int_equal(block_count(find(lg, 0, "seenb:0")), 2);
    /* a expires: its block keeps b, and its record stays as it is */
    advance(e, T0 + WINDOW);
    assert_int_equal(seen_ids(e), 1);
    mark = lg->n;
    assert_int_equal(drain(e, lg), 1);
    assert_value(lg, mark, "wm");
    /* a restore drops a again (by its time), keeps b */
    for (enum mode m = FULL_LOG; m <= LATEST_REVERSED; m++) {
        struct log *scratch = calloc(1, sizeof(*scratch));
        r = restored(lg, m, &o);
        assert_int_equal(feed(r, "a", T0 + WINDOW), SLA_APPLIED);
        assert_int_equal(feed(r, "b", T0 + WINDOW), SLA_DUPLICATE);
        assert_int_equal(seen_ids(r), 2);
        assert_int_equal(drain(r, scratch), 1); /* a's new block only */
        assert_int_equal(block_count(find(scratch, 0, "seenb:1")), 1);
        sla_engine_free(r);
        log_free(scratch);
    }
    /* b expires: its block is empty, so its record goes */
    advance(e, T0 + 10000 + WINDOW);
    assert_int_equal(seen_ids(e), 0);
    mark = lg->n;
    assert_int_equal(drain(e, lg), 2);
    assert_tombstone(lg, mark, "seenb:0");
    for (enum mode m = FULL_LOG; m <= LATEST_REVERSED; m++) {
        r = restored(lg, m, &o);
        assert_int_equal(seen_ids(r), 0);
        assert_int_equal(feed(r, "b", T0 + 10000 + WINDOW), SLA_APPLIED);
        sla_engine_free(r);
    }
    sla_engine_free(e);
    log_free(lg);
}

/* An id that expired and came back is in two blocks: the later one wins,
 * and the earlier block is tombstoned once its other ids go. */
static void test_id_back_in_a_later_block(void **state)
{
    struct sla_options o = opts(1000000);
    struct sla_engine *e = sla_engine_new(NULL, &o), *r;
    struct log *lg = calloc(1, sizeof(*lg));
    struct log *out = calloc(1, sizeof(*out));

    feed(e, "x", T0);
    feed(e, "y", T0 + 30000);
    drain(e, lg); /* seenb:0 = x, y */
    advance(e, T0 + WINDOW);
    assert_int_equal(feed(e, "x", T0 + WINDOW + 1000), SLA_APPLIED);
    drain(e, lg); /* seenb:1 = x */
    assert_int_equal(block_count(find(lg, 0, "seenb:1")), 1);
    for (enum mode m = FULL_LOG; m <= LATEST_REVERSED; m++) {
        size_t mark = out->n;
        r = restored(lg, m, &o);
        assert_int_equal(seen_ids(r), 2);
        assert_int_equal(feed(r, "x", T0 + WINDOW + 2000), SLA_DUPLICATE);
        assert_int_equal(feed(r, "y", T0 + WINDOW + 2000), SLA_DUPLICATE);
        /* y goes: block 0 is empty (x counts in block 1 now) */
        advance(r, T0 + 30000 + WINDOW);
        drain(r, out);
        assert_tombstone(out, mark, "seenb:0");
        assert_null(find(out, mark, "seenb:1"));
        assert_int_equal(feed(r, "x", T0 + 30000 + WINDOW), SLA_DUPLICATE);
        advance(r, T0 + 2 * WINDOW + 1000);
        mark = out->n;
        drain(r, out);
        assert_tombstone(out, mark, "seenb:1");
        assert_int_equal(feed(r, "x", T0 + 2 * WINDOW + 1000), SLA_APPLIED);
        sla_engine_free(r);
    }
    sla_engine_free(e);
    log_free(lg);
    log_free(out);
}

static void test_cap_eviction(void **state)
{
    struct sla_options o = opts(3);
    struct sla_engine *e = sla_engine_new(NULL, &o), *r;
    struct log *lg = calloc(1, sizeof(*lg));
    struct sla_stats st;
    size_t mark;

    feed(e, "a", T0);
    feed(e, "b", T0);
    feed(e, "c", T0);
    drain(e, lg);
    /* d evicts a: block 0 is rewritten without it, so a restore does not
     * bring a back */
    feed(e, "d", T0 + 1);
    mark = lg->n;
    assert_int_equal(drain(e, lg), 3);
    assert_int_equal(block_count(find(lg, mark, "seenb:0")), 2);
    assert_int_equal(block_count(find(lg, mark, "seenb:1")), 1);
    for (enum mode m = FULL_LOG; m <= LATEST_REVERSED; m++) {
        r = restored(lg, m, &o);
        assert_int_equal(seen_ids(r), 3);
        assert_int_equal(feed(r, "b", T0 + 1), SLA_DUPLICATE);
        assert_int_equal(feed(r, "d", T0 + 1), SLA_DUPLICATE);
        assert_int_equal(feed(r, "a", T0 + 1), SLA_APPLIED);
        sla_engine_free(r);
    }
    /* e and f evict b and c: block 0 is empty */
    feed(e, "e", T0 + 2);
    feed(e, "f", T0 + 2);
    sla_engine_stats(e, &st);
    assert_int_equal(st.evictions, 3);
    assert_int_equal(st.seen_ids, 3);
    mark = lg->n;
    assert_int_equal(drain(e, lg), 3);
    assert_tombstone(lg, mark, "seenb:0");
    assert_int_equal(block_count(find(lg, mark, "seenb:2")), 2);
    assert_value(lg, mark, "wm");
    /* evictions within the open block: written once, with what is left */
    feed(e, "g", T0 + 3);
    feed(e, "h", T0 + 3);
    feed(e, "i", T0 + 3);
    feed(e, "j", T0 + 3);
    mark = lg->n;
    drain(e, lg);
    assert_tombstone(lg, mark, "seenb:1");
    assert_tombstone(lg, mark, "seenb:2");
    assert_int_equal(block_count(find(lg, mark, "seenb:3")), 3);
    for (enum mode m = FULL_LOG; m <= LATEST_REVERSED; m++) {
        r = restored(lg, m, &o);
        assert_int_equal(seen_ids(r), 3);
        assert_int_equal(feed(r, "h", T0 + 3), SLA_DUPLICATE);
        assert_int_equal(feed(r, "g", T0 + 3), SLA_APPLIED);
        sla_engine_free(r);
    }
    sla_engine_free(e);
    log_free(lg);
}

static void test_legacy_records(void **state)
{
    struct sla_options o = opts(1000000);
    struct sla_engine *e = sla_engine_new(NULL, &o);
    struct log *lg = calloc(1, sizeof(*lg));
    char err[256], longkey[400];
    uint8_t v[64];
    const char *ids[] = { "x" };
    const int64_t ats[] = { T0 + 5000 };

    memset(longkey, 'L', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    memcpy(longkey, "seen:", 5);
    restore_time(e, "seen:old1", T0);
    restore_time(e, "seen:old2", T0 + 10000);
    restore_time(e, longkey, T0 + 10000);
    restore_time(e, "seen:gone", T0);
    restore_kv(e, "seen:gone", NULL, 0, QA_OK);
    restore_time(e, "seen:x", T0); /* and x came back in a block */
    restore_kv(e, "seenb:3", v, block_value(v, ids, ats, 1), QA_OK);
    restore_time(e, "wm", T0 + 20000);
    assert_int_equal(sla_engine_restore_finish(e, err, sizeof(err)), QA_OK);
    assert_int_equal(seen_ids(e), 4);
    assert_int_equal(feed(e, "old1", T0 + 20000), SLA_DUPLICATE);
    assert_int_equal(feed(e, longkey + 5, T0 + 20000), SLA_DUPLICATE);
    assert_int_equal(feed(e, "gone", T0 + 20000), SLA_APPLIED);
    assert_int_equal(drain(e, lg), 1);
    assert_int_equal(block_count(find(lg, 0, "seenb:4")), 1);
    /* legacy ids go one by one, as before blocks */
    advance(e, T0 + WINDOW);
    drain(e, lg);
    assert_tombstone(lg, 1, "seen:old1");
    assert_null(find(lg, 1, "seen:old2"));
    assert_null(find(lg, 1, "seen:x"));
    assert_int_equal(feed(e, "x", T0 + WINDOW), SLA_DUPLICATE); /* block 3's at */
    advance(e, T0 + 10000 + WINDOW);
    size_t mark = lg->n;
    drain(e, lg);
    assert_tombstone(lg, mark, "seen:old2");
    assert_tombstone(lg, mark, longkey);
    assert_tombstone(lg, mark, "seenb:3");
    assert_null(find(lg, mark, "seen:x"));
    assert_int_equal(seen_ids(e), 1); /* gone, in block 4 */
    sla_engine_free(e);
    log_free(lg);
}

static void test_restore_block_records(void **state)
{
    struct sla_options o = opts(1000000);
    struct sla_engine *e = sla_engine_new(NULL, &o);
    struct log *lg = calloc(1, sizeof(*lg));
    char err[256];
    uint8_t v[128];
    const char *ac[] = { "a", "c" }, *c[] = { "c" }, *b[] = { "b" };
    const int64_t ats[] = { T0, T0 };

    restore_kv(e, "seenb:5", v, block_value(v, ac, ats, 2), QA_OK);
    restore_kv(e, "seenb:7", v, block_value(v, b, ats, 1), QA_OK);
    restore_kv(e, "seenb:7", NULL, 0, QA_OK);     /* b's block went */
    restore_kv(e, "seenb:5", v, block_value(v, c, ats, 1), QA_OK); /* a was evicted */
    restore_kv(e, "seenb:9", NULL, 0, QA_OK);     /* a tombstone of nothing */
    restore_time(e, "wm", T0);
    assert_int_equal(sla_engine_restore_finish(e, err, sizeof(err)), QA_OK);
    assert_int_equal(seen_ids(e), 1);
    assert_int_equal(feed(e, "c", T0), SLA_DUPLICATE);
    assert_int_equal(feed(e, "a", T0), SLA_APPLIED);
    assert_int_equal(feed(e, "b", T0), SLA_APPLIED);
    assert_int_equal(drain(e, lg), 1);
    assert_int_equal(block_count(find(lg, 0, "seenb:10")), 2);
    sla_engine_free(e);
    log_free(lg);
}

/* A block whose every id is newer in another block (a changelog the engine
 * would not write) is tombstoned at the first event after the restore. */
static void test_restore_superseded_block(void **state)
{
    struct sla_options o = opts(1000000);
    struct sla_engine *e = sla_engine_new(NULL, &o);
    struct log *lg = calloc(1, sizeof(*lg));
    char err[256];
    uint8_t v[128];
    const char *a[] = { "a" };
    const int64_t old[] = { T0 }, newer[] = { T0 + 1 };

    restore_kv(e, "seenb:1", v, block_value(v, a, old, 1), QA_OK);
    restore_kv(e, "seenb:2", v, block_value(v, a, newer, 1), QA_OK);
    restore_time(e, "wm", T0 + 1);
    assert_int_equal(sla_engine_restore_finish(e, err, sizeof(err)), QA_OK);
    assert_int_equal(feed(e, "a", T0 + 1), SLA_DUPLICATE);
    drain(e, lg);
    assert_tombstone(lg, 0, "seenb:1");
    assert_null(find(lg, 0, "seenb:2"));
    sla_engine_free(e);
    log_free(lg);
}

static void test_hostile_blocks(void **state)
{
    struct sla_options o = opts(1000000);
    struct sla_engine *e = sla_engine_new(NULL, &o);
    struct log *lg = calloc(1, sizeof(*lg));
    char err[256];
    uint8_t v[128], w[128];
    size_t n;
    const char *ab[] = { "a", "b" }, *empty[] = { "" }, *one[] = { "z" };
    const int64_t ats[] = { T0, T0 + 1 }, neg[] = { -1 }, far[] = { 253402300800000LL };
    const uint8_t absurd[] = { 1, 0xfe, 0xff, 0xff, 0xff, 0x0f, 2, 'a', 0 };
    const uint8_t negcount[] = { 1, 1 };
    const uint8_t nullid[] = { 1, 2, 0, 0, 0 };
    const uint8_t nul_in_id[] = { 1, 2, 6, 'a', 0, 0 };
    const uint8_t bad_version[] = { 2, 0 };
    const uint8_t lie[] = { 1, 6, 4, 'a', 0, 4, 'b', 0, 4, 'c' }; /* 3 pairs, last cut */
    const char *bad_keys[] = { "seenb:", "seenb:-1", "seenb:01", "seenb:1x", "seenb:+1",
                               "seenb:1000000000000001", "seenb:12345678901234567890",
                               "seenb: 1" };

    n = block_value(v, ab, ats, 2);
    restore_kv(e, "seenb:4", v, n, QA_OK);
    for (size_t cut = 0; cut < n; cut++) /* every truncation */
        restore_kv(e, "seenb:4", v, cut, QA_ERR_INVALID);
    memcpy(w, v, n);
    w[n] = 0; /* a byte too many */
    restore_kv(e, "seenb:4", w, n + 1, QA_ERR_INVALID);
    restore_kv(e, "seenb:4", absurd, sizeof(absurd), QA_ERR_INVALID);
    restore_kv(e, "seenb:4", negcount, sizeof(negcount), QA_ERR_INVALID);
    restore_kv(e, "seenb:4", nullid, sizeof(nullid), QA_ERR_INVALID);
    restore_kv(e, "seenb:4", nul_in_id, sizeof(nul_in_id), QA_ERR_INVALID);
    restore_kv(e, "seenb:4", bad_version, sizeof(bad_version), QA_ERR_INVALID);
    restore_kv(e, "seenb:4", lie, sizeof(lie), QA_ERR_INVALID);
    restore_kv(e, "seenb:4", v, block_value(v, empty, ats, 1), QA_ERR_INVALID);
    restore_kv(e, "seenb:4", v, block_value(v, one, neg, 1), QA_ERR_INVALID);
    restore_kv(e, "seenb:4", v, block_value(v, one, far, 1), QA_ERR_INVALID);
    for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        restore_kv(e, bad_keys[i], NULL, 0, QA_ERR_INVALID);
        restore_kv(e, bad_keys[i], w, n, QA_ERR_INVALID);
    }
    /* the largest block number is fine, and the next one still fits */
    restore_kv(e, "seenb:999999999999999", NULL, 0, QA_OK);
    restore_time(e, "wm", T0 + 1);
    assert_int_equal(sla_engine_restore_finish(e, err, sizeof(err)), QA_OK);
    /* what was refused changed nothing: block 4 is still a, b */
    assert_int_equal(seen_ids(e), 2);
    assert_int_equal(feed(e, "a", T0 + 1), SLA_DUPLICATE);
    assert_int_equal(feed(e, "b", T0 + 1), SLA_DUPLICATE);
    assert_int_equal(feed(e, "z", T0 + 1), SLA_APPLIED);
    assert_int_equal(drain(e, lg), 1);
    assert_int_equal(block_count(find(lg, 0, "seenb:1000000000000000")), 1);
    sla_engine_free(e);
    log_free(lg);
}

/* A refused write leaves the block pending; ids seen meanwhile start the
 * next block, and both are written by the next drain. */
static void test_drain_refused(void **state)
{
    struct sla_options o = opts(1000000);
    struct sla_engine *e = sla_engine_new(NULL, &o);
    struct log *lg = calloc(1, sizeof(*lg));
    char err[256];

    feed(e, "a", T0);
    lg->fail_on_call = 2;
    assert_int_equal(sla_engine_drain_changes(e, log_put, lg, err, sizeof(err)), QA_ERR_KAFKA);
    feed(e, "b", T0);
    assert_int_equal(drain(e, lg), 2);
    assert_int_equal(block_count(find(lg, 0, "seenb:0")), 1);
    assert_int_equal(block_count(find(lg, 0, "seenb:1")), 1);
    sla_engine_free(e);
    log_free(lg);
}

/* The restored ids are in the writer's order, which the cap evicts by: an
 * id back in a later block takes its place there, not its old one. */
static void test_restore_keeps_order(void **state)
{
    struct sla_options o = opts(3);
    struct sla_engine *e, *r;
    struct log *lg = calloc(1, sizeof(*lg));

    o.dedup_window_ms = 100;
    e = sla_engine_new(NULL, &o);
    feed(e, "x", T0);
    feed(e, "keep", T0 + 50);
    drain(e, lg);
    advance(e, T0 + 100); /* x expires, keep does not */
    feed(e, "z", T0 + 100);
    assert_int_equal(feed(e, "x", T0 + 100), SLA_APPLIED);
    drain(e, lg); /* block 1: z, then x, at the same time */
    for (enum mode m = FULL_LOG; m <= LATEST_REVERSED + 1; m++) {
        r = m <= LATEST_REVERSED ? restored(lg, m, &o) : e;
        assert_int_equal(feed(r, "w", T0 + 101), SLA_APPLIED); /* evicts keep */
        assert_int_equal(feed(r, "v", T0 + 101), SLA_APPLIED); /* evicts z */
        assert_int_equal(feed(r, "x", T0 + 101), SLA_DUPLICATE);
        assert_int_equal(feed(r, "z", T0 + 101), SLA_APPLIED);
        sla_engine_free(r);
    }
    log_free(lg);
}

/* ---- a restore at any point answers as the engine that never stopped ---- */

struct op {
    bool advance;
    int64_t t;
    char id[8];
};

/* Ids from a small pool (so they repeat, within the window and after it),
 * times that often tie, advances now and then. */
static void random_ops(struct op *ops, size_t n, uint32_t seed)
{
    int64_t t = T0;

    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        ops[i].advance = seed % 10 == 0;
        if (ops[i].advance)
            t += 1 + seed / 10 % 25000;
        else if (seed / 10 % 3 == 0)
            t += seed / 30 % 3000;
        ops[i].t = t;
        snprintf(ops[i].id, sizeof(ops[i].id), "i%u", (unsigned)(seed / 100 % 24));
    }
}

static enum sla_outcome apply(struct sla_engine *e, const struct op *op)
{
    if (!op->advance)
        return feed(e, op->id, op->t);
    advance(e, op->t);
    return SLA_IGNORED;
}

static void test_restore_anywhere(void **state)
{
    enum { N = 300 };
    static struct op ops[N];
    static enum sla_outcome want[N];
    static size_t want_seen[N];
    struct sla_options o = opts(8);
    struct sla_engine *e;
    uint64_t evictions;
    size_t blocks = 0;

    o.dedup_window_ms = 20000;
    for (uint32_t seed = 1; seed <= 8; seed++) {
        struct sla_stats st;
        random_ops(ops, N, seed * 2654435761u);
        e = sla_engine_new(NULL, &o);
        for (size_t i = 0; i < N; i++) {
            want[i] = apply(e, &ops[i]);
            want_seen[i] = seen_ids(e);
        }
        sla_engine_stats(e, &st);
        evictions = st.evictions;
        assert_true(evictions > 10); /* the cap is hit */
        sla_engine_free(e);
        for (size_t k = 0; k <= N; k++) {
            struct log *lg = calloc(1, sizeof(*lg));
            e = sla_engine_new(NULL, &o);
            for (size_t i = 0; i < k; i++) {
                apply(e, &ops[i]);
                if (i % 6 == 5 || i + 1 == k)
                    drain(e, lg);
            }
            sla_engine_free(e);
            for (size_t i = 0; i < lg->n; i++)
                blocks += strncmp(lg->r[i].key, "seenb:", 6) == 0;
            e = restored(lg, (enum mode)(k % 3), &o);
            for (size_t i = k; i < N; i++) {
                enum sla_outcome got = apply(e, &ops[i]);
                if (got != want[i] || seen_ids(e) != want_seen[i])
                    fail_msg("seed %u, restored after %zu: op %zu (%s at %lld) gave %d with %zu "
                             "ids, want %d with %zu", (unsigned)seed, k, i, ops[i].id,
                             (long long)(ops[i].t - T0), (int)got, seen_ids(e), (int)want[i],
                             want_seen[i]);
            }
            sla_engine_free(e);
            log_free(lg);
        }
    }
    assert_true(blocks > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_record_per_drain),
        cmocka_unit_test(test_duplicates_after_restore),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_id_back_in_a_later_block),
        cmocka_unit_test(test_cap_eviction),
        cmocka_unit_test(test_legacy_records),
        cmocka_unit_test(test_restore_block_records),
        cmocka_unit_test(test_restore_superseded_block),
        cmocka_unit_test(test_hostile_blocks),
        cmocka_unit_test(test_drain_refused),
        cmocka_unit_test(test_restore_keeps_order),
        cmocka_unit_test(test_restore_anywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
