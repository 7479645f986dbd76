/*
 * sla_seen.c — the event ids the SLA engine remembers for the dedup window,
 * and how they reach the changelog.
 *
 * One changelog record per id (and a tombstone per id when it went) cost
 * about a fifth of the processor's throughput, so ids are written in blocks:
 * the ids first seen between two drains form block n, key "seenb:<n>",
 * written once, when its transaction commits, as (id, at) pairs; the next
 * drain's ids form block n + 1. After that a block's record changes only
 *   - to a tombstone, when its last id has gone (expired or evicted);
 *   - to its remaining ids, when the max_seen_ids cap evicts some of them, so
 *     that a restore does not bring them back.
 * An id that expires leaves its block's record as it is: expiry is a
 * function of its `at` and the watermark, both in the changelog, and the
 * restored engine drops it again before it reads its first event.
 *
 * Restore keeps, for an id found in several blocks, the latest (larger at,
 * then larger block): the earlier ones are ids that went and came back.
 * Records "seen:<id>" written before blocks are still read (sla_state.c):
 * their ids belong to no block and are tombstoned one by one as they go.
 *
 * The seen map is in insertion order, oldest first, which purge and the cap
 * follow: new ids join the newest block, and restore rebuilds the writer's
 * order (blocks ascending, each in its record's order). So each block's ids
 * are contiguous there, which is how a drain finds them (with a full scan as
 * a fallback for a changelog that broke the order).
 */
#include "processor/sla_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sbuf.h"

/* Block numbers count drains from 0: one a millisecond would take 30000
 * years to pass SEEN_BLOCK_MAX, so a restored number above it is refused
 * (and the engine's never come near INT64_MAX). Keys parse up to 18 digits. */
#define SEEN_BLOCK_MAX 1000000000000000LL
#define SEEN_BLOCK_DIGITS 18

/* Stored during restore until restore_finish applies it. */
struct restored_block {
    int64_t n;
    size_t len;
    uint8_t p[]; /* count, then (id, at) pairs: already checked */
};

/* ---- the table of live blocks ---- */

/* Index of block n in v[first..len), or len when absent. */
static size_t block_find(const struct sla_seen_blocks *t, int64_t n)
{
    size_t lo = t->first, hi = t->len;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->v[mid].n < n)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->len && t->v[lo].n == n ? lo : t->len;
}

/* Appends block n, which must be above every block in the table. */
static enum qa_err block_append(struct sla_seen_blocks *t, int64_t n)
{
    if (t->len == t->cap && t->first > 0) {
        memmove(t->v, t->v + t->first, (t->len - t->first) * sizeof(*t->v));
        t->len -= t->first;
        t->first = 0;
    }
    if (t->len == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct sla_seen_block *v = realloc(t->v, cap * sizeof(*v));
        if (!v)
            return QA_ERR_NOMEM;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->len].n = n;
    t->v[t->len].live = 0;
    t->len++;
    return QA_OK;
}

static void block_remove(struct sla_seen_blocks *t, size_t i)
{
    if (i == t->first) {
        t->first++;
    } else {
        memmove(t->v + i, t->v + i + 1, (t->len - i - 1) * sizeof(*t->v));
        t->len--;
    }
    if (t->first == t->len)
        t->first = t->len = 0;
}

static enum qa_err mark_block(struct sla_engine *e, int64_t n)
{
    char num[24];

    snprintf(num, sizeof(num), "%" PRId64, n);
    return sla_mark(e, "seenb", num);
}

/* "<n>" with 1..SEEN_BLOCK_DIGITS digits and no leading zero. */
static bool parse_block(const char *s, int64_t *n)
{
    size_t len = strspn(s, "0123456789");

    if (len == 0 || len > SEEN_BLOCK_DIGITS || s[len] || (s[0] == '0' && len > 1))
        return false;
    *n = 0;
    for (size_t i = 0; i < len; i++)
        *n = *n * 10 + (s[i] - '0');
    return true;
}

/* ---- remembering and forgetting ---- */

/* Forgets a seen id. Its block learns of it: the block's record is
 * tombstoned when it was the last, rewritten when it was evicted (an
 * expired id may stay in the record, a restore drops it by its time). */
static enum qa_err seen_drop(struct sla_engine *e, struct sla_map_entry *en, bool evicted)
{
    const struct sla_seen *s = en->value;
    struct sla_seen_blocks *t = &e->blocks;
    enum qa_err err = QA_OK;
    size_t i;

    if (s->block == SLA_SEEN_LEGACY) {
        err = sla_mark(e, "seen", en->key);
    } else if ((i = block_find(t, s->block)) < t->len) {
        if (t->v[i].live > 0)
            t->v[i].live--;
        if (t->v[i].live == 0 || evicted)
            err = mark_block(e, s->block);
        if (t->v[i].live == 0)
            block_remove(t, i);
    }
    free(sla_map_remove_entry(&e->seen, en));
    return err;
}

enum qa_err sla_seen_remember(struct sla_engine *e, const char *id)
{
    struct sla_seen_blocks *t = &e->blocks;
    struct sla_seen *s = NULL;
    bool fresh;
    enum qa_err err = QA_OK, e2;

    while (e->seen.count >= e->o.max_seen_ids && e->seen.head) {
        if ((e2 = seen_drop(e, e->seen.head, true)) && !err)
            err = e2;
        e->evictions++;
    }
    /* (after the evictions: they may empty the current block) */
    fresh = t->len == t->first || t->v[t->len - 1].n != t->next;
    if (fresh && (e2 = block_append(t, t->next)))
        return e2;
    if (!(s = malloc(sizeof(*s))) || sla_map_put(&e->seen, id, s) != QA_OK) {
        free(s);
        if (fresh)
            block_remove(t, t->len - 1);
        return QA_ERR_NOMEM;
    }
    s->at = e->wm;
    s->block = t->next;
    t->v[t->len - 1].live++;
    if (fresh && (e2 = mark_block(e, t->next)) && !err)
        err = e2;
    return err;
}

enum qa_err sla_seen_purge(struct sla_engine *e)
{
    struct sla_seen_blocks *t = &e->blocks;
    enum qa_err err = QA_OK, e2;

    if (t->sweep) { /* restored blocks whose ids were all superseded */
        size_t w = t->first;
        for (size_t i = t->first; i < t->len; i++) {
            if (t->v[i].live > 0)
                t->v[w++] = t->v[i];
            else if ((e2 = mark_block(e, t->v[i].n)) && !err)
                err = e2;
        }
        t->len = w;
        if (t->first == t->len)
            t->first = t->len = 0;
        t->sweep = false;
    }
    while (e->wm != SLA_NONE && e->seen.head &&
           ((struct sla_seen *)e->seen.head->value)->at + e->o.dedup_window_ms <= e->wm) {
        if ((e2 = seen_drop(e, e->seen.head, false)) && !err)
            err = e2;
    }
    return err;
}

void sla_seen_close_block(struct sla_engine *e)
{
    struct sla_seen_blocks *t = &e->blocks;

    if (t->len > t->first && t->v[t->len - 1].n == t->next)
        t->next++;
}

/* ---- drain ---- */

static int64_t block_of(const struct sla_map_entry *en)
{
    return ((const struct sla_seen *)en->value)->block;
}

/* The first of block n's ids, found from the end it is nearer to: the
 * oldest block (rewritten after evictions) or a recent one (just closed). */
static const struct sla_map_entry *run_start(const struct sla_map *seen, int64_t n)
{
    const struct sla_map_entry *en = seen->tail;

    if (seen->head && block_of(seen->head) == n)
        return seen->head;
    while (en && block_of(en) > n)
        en = en->prev;
    if (!en || block_of(en) != n)
        return NULL;
    while (en->prev && block_of(en->prev) == n)
        en = en->prev;
    return en;
}

static void put_pair(struct sbuf *b, const struct sla_map_entry *en)
{
    sla_put_str(b, en->key);
    sla_put_i64(b, ((const struct sla_seen *)en->value)->at);
}

/* count, then (id, at) for each id of block n, oldest first. */
static void encode_block(const struct sla_engine *e, int64_t n, size_t live, struct sbuf *b)
{
    const struct sla_map_entry *start = run_start(&e->seen, n), *en;
    size_t k = 0;

    for (en = start; en && block_of(en) == n; en = en->next)
        k++;
    if (k == live && start) {
        sla_put_i64(b, (int64_t)k);
        for (en = start; k > 0; en = en->next, k--)
            put_pair(b, en);
        return;
    }
    /* the ids are not where they should be: take them wherever they are */
    k = 0;
    for (en = e->seen.head; en; en = en->next)
        k += block_of(en) == n;
    sla_put_i64(b, (int64_t)k);
    for (en = e->seen.head; en; en = en->next)
        if (block_of(en) == n)
            put_pair(b, en);
}

bool sla_seen_encode(const struct sla_engine *e, const char *key, struct sbuf *b)
{
    const struct sla_seen_blocks *t = &e->blocks;
    const struct sla_seen *s;
    int64_t n;
    size_t i;

    if (strncmp(key, "seen:", 5) == 0) {
        /* a legacy id, dirty because it went (or came back in a block) */
        if (!(s = sla_map_get(&e->seen, key + 5)) || s->block != SLA_SEEN_LEGACY)
            return false;
        sla_put_i64(b, s->at);
        return true;
    }
    if (strncmp(key, "seenb:", 6) != 0 || !parse_block(key + 6, &n) ||
        (i = block_find(t, n)) == t->len || t->v[i].live == 0)
        return false;
    encode_block(e, n, t->v[i].live, b);
    return true;
}

/* ---- restore ---- */

/* One (id, at) pair of a block value; the id points into the value and is
 * *idlen bytes, not NUL-terminated. false on hostile bytes. */
static bool get_pair(struct sla_rbuf *b, const char **id, size_t *idlen, int64_t *at)
{
    int64_t n = sla_get_i64(b);

    /* n is length + 1: an id is never NULL nor empty */
    if (b->fail || n < 2 || (uint64_t)(n - 1) > b->n - b->off ||
        memchr(b->p + b->off, '\0', (size_t)(n - 1)))
        return false;
    *id = (const char *)b->p + b->off;
    *idlen = (size_t)(n - 1);
    b->off += (size_t)(n - 1);
    *at = sla_get_i64(b);
    return !b->fail && SLA_TIME_OK(*at);
}

/* Reads a block value (after its version byte) to its last byte; with e,
 * adds each id to e->seen as block n, at the newest end: an id already
 * there keeps the later of the two (larger at, then block). QA_ERR_INVALID
 * on hostile bytes. */
static enum qa_err walk_block(struct sla_rbuf *b, struct sla_engine *e, int64_t n)
{
    char small[256], *id = small;
    size_t cap = sizeof(small), idlen;
    const char *raw;
    int64_t count = sla_get_i64(b), at;
    enum qa_err err = QA_OK;

    /* a pair takes 3 bytes at least: a count beyond that is a lie */
    if (b->fail || count < 0 || (uint64_t)count > (b->n - b->off) / 3)
        return QA_ERR_INVALID;
    for (int64_t i = 0; i < count && !err; i++) {
        struct sla_map_entry *en;
        struct sla_seen *s;
        if (!get_pair(b, &raw, &idlen, &at)) {
            err = QA_ERR_INVALID;
            break;
        }
        if (!e)
            continue;
        if (idlen >= cap) {
            char *bigger = malloc(idlen + 1);
            if (!bigger) {
                err = QA_ERR_NOMEM;
                break;
            }
            if (id != small)
                free(id);
            id = bigger;
            cap = idlen + 1;
        }
        memcpy(id, raw, idlen);
        id[idlen] = '\0';
        if ((en = sla_map_find(&e->seen, id))) {
            s = en->value;
            if (at < s->at || (at == s->at && n <= s->block))
                continue;
            sla_map_remove_entry(&e->seen, en); /* to its place in this block */
        } else if (!(s = malloc(sizeof(*s)))) {
            err = QA_ERR_NOMEM;
            break;
        }
        if (sla_map_put(&e->seen, id, s) != QA_OK) {
            free(s);
            err = QA_ERR_NOMEM;
            break;
        }
        s->at = at;
        s->block = n;
    }
    if (!err && b->off != b->n)
        err = QA_ERR_INVALID;
    if (id != small)
        free(id);
    return err;
}

enum qa_err sla_seen_restore_block(struct sla_engine *e, const char *num, struct sla_rbuf *b,
                                   bool tombstone)
{
    struct sla_seen_blocks *t = &e->blocks;
    struct sla_map_entry *en;
    struct restored_block *rb = NULL;
    struct sla_rbuf check = *b;
    int64_t n;
    enum qa_err err;

    if (!parse_block(num, &n) || n > SEEN_BLOCK_MAX)
        return QA_ERR_INVALID;
    if (!tombstone) {
        if ((err = walk_block(&check, NULL, n)))
            return err;
        if (!(rb = malloc(sizeof(*rb) + (b->n - b->off))))
            return QA_ERR_NOMEM;
        rb->n = n;
        rb->len = b->n - b->off;
        memcpy(rb->p, b->p + b->off, rb->len);
    }
    /* the latest record of a block replaces what the earlier ones said */
    if ((en = sla_map_find(&t->restored, num)))
        free(sla_map_remove_entry(&t->restored, en));
    if (rb && sla_map_put(&t->restored, num, rb) != QA_OK) {
        free(rb);
        return QA_ERR_NOMEM;
    }
    if (n >= t->next)
        t->next = n + 1;
    return QA_OK;
}

static int cmp_restored(const void *a, const void *b)
{
    const struct restored_block *x = *(const struct restored_block *const *)a,
                                *y = *(const struct restored_block *const *)b;
    return x->n < y->n ? -1 : x->n > y->n;
}

static int64_t at_of(const struct sla_map_entry *en)
{
    return ((const struct sla_seen *)en->value)->at;
}

/* By time, then block, then id: the writer's order up to the order of ids
 * with the same time in one block (used only when nothing better is known). */
static int cmp_seen(const void *a, const void *b)
{
    const struct sla_map_entry *x = *(struct sla_map_entry *const *)a,
                               *y = *(struct sla_map_entry *const *)b;

    if (at_of(x) != at_of(y))
        return at_of(x) < at_of(y) ? -1 : 1;
    if (block_of(x) != block_of(y))
        return block_of(x) < block_of(y) ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* Rebuilds the seen map in the writer's order (which purge and eviction
 * follow): the legacy ids oldest first, then each block's ids in ascending
 * block order, each block in its record's order. Then counts the blocks. */
enum qa_err sla_seen_restore_finish(struct sla_engine *e)
{
    struct sla_seen_blocks *t = &e->blocks;
    const struct restored_block **rbs = NULL;
    struct sla_map_entry *en;
    size_t nb = t->restored.count, i = 0;
    enum qa_err err;

    free(t->v);
    t->v = NULL;
    t->first = t->len = t->cap = 0;
    if ((err = sla_map_sort(&e->seen, cmp_seen)))
        goto out;
    if (nb && (!(rbs = malloc(nb * sizeof(*rbs))) || !(t->v = malloc(nb * sizeof(*t->v))))) {
        err = QA_ERR_NOMEM;
        goto out;
    }
    t->cap = nb;
    for (en = t->restored.head; en; en = en->next)
        rbs[i++] = en->value;
    if (nb)
        qsort(rbs, nb, sizeof(*rbs), cmp_restored);
    for (i = 0; i < nb; i++) {
        struct sla_rbuf b = { rbs[i]->p, rbs[i]->len, 0, false };
        /* checked when restored: only memory can fail */
        if ((err = walk_block(&b, e, rbs[i]->n)) == QA_ERR_NOMEM)
            goto out;
        err = QA_OK;
        t->v[i].n = rbs[i]->n;
        t->v[i].live = 0;
    }
    t->len = nb;
    /* times go up with blocks in what the engine writes; purge needs them
     * in order whatever the changelog says */
    for (en = e->seen.head; en && en->next; en = en->next)
        if (at_of(en->next) < at_of(en)) {
            if ((err = sla_map_sort(&e->seen, cmp_seen)))
                goto out;
            break;
        }
    for (en = e->seen.head; en; en = en->next)
        if (block_of(en) != SLA_SEEN_LEGACY && (i = block_find(t, block_of(en))) < t->len)
            t->v[i].live++;
    for (i = 0; i < t->len; i++)
        t->sweep |= t->v[i].live == 0;
out:
    free(rbs);
    sla_map_clear(&t->restored, free);
    return err;
}

void sla_seen_free(struct sla_engine *e)
{
    free(e->blocks.v);
    sla_map_clear(&e->blocks.restored, free);
    memset(&e->blocks, 0, sizeof(e->blocks));
}
