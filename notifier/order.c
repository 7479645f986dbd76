/*
 * order.c — see order.h. Offsets per partition in a sorted array (records
 * of a partition are begun in offset order, so appending keeps it sorted);
 * keys in a chained hash table of entries that exist only while a key has
 * state, so the table stays the size of the work in progress.
 *
 * It must never report a storable offset past a record still open.
 */
#include "notifier/order.h"

#include <stdlib.h>
#include <string.h>

/* ---- offsets ---- */

struct part {
    int topic;
    int32_t partition;
    int64_t *off;       /* begun offsets, increasing, from index head */
    unsigned char *done;
    size_t head, n, cap;
    int64_t last;       /* last begun, -1 none */
};

struct order_offsets {
    struct part *parts;
    size_t n, cap;
};

struct order_offsets *order_offsets_new(void)
{
    return calloc(1, sizeof(struct order_offsets));
}

void order_offsets_clear(struct order_offsets *t)
{
    for (size_t i = 0; t && i < t->n; i++) {
        free(t->parts[i].off);
        free(t->parts[i].done);
    }
    if (t)
        t->n = 0;
}

void order_offsets_free(struct order_offsets *t)
{
    if (!t)
        return;
    order_offsets_clear(t);
    free(t->parts);
    free(t);
}

static struct part *find_part(const struct order_offsets *t, int topic,
                              int32_t partition)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->parts[i].topic == topic && t->parts[i].partition == partition)
            return &t->parts[i];
    }
    return NULL;
}

enum qa_err order_offsets_begin(struct order_offsets *t, int topic,
                                int32_t partition, int64_t offset)
{
    struct part *p = find_part(t, topic, partition);

    if (offset < 0)
        return QA_ERR_INVALID;
    if (!p) {
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 8;
            struct part *np = realloc(t->parts, cap * sizeof(*np));
            if (!np)
                return QA_ERR_NOMEM;
            t->parts = np;
            t->cap = cap;
        }
        p = &t->parts[t->n++];
        memset(p, 0, sizeof(*p));
        p->topic = topic;
        p->partition = partition;
        p->last = -1;
    }
    if (offset <= p->last)
        return QA_ERR_INVALID;
    if (p->head > 0 && p->head == p->n) {
        p->head = p->n = 0; /* all done: reuse from the start */
    }
    if (p->n == p->cap) {
        if (p->head > 0) { /* slide the open ones down before growing */
            memmove(p->off, p->off + p->head, (p->n - p->head) * sizeof(*p->off));
            memmove(p->done, p->done + p->head, p->n - p->head);
            p->n -= p->head;
            p->head = 0;
        }
        if (p->n == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 16;
            int64_t *no = realloc(p->off, cap * sizeof(*no));
            unsigned char *nd;
            if (!no)
                return QA_ERR_NOMEM;
            p->off = no;
            if (!(nd = realloc(p->done, cap)))
                return QA_ERR_NOMEM;
            p->done = nd;
            p->cap = cap;
        }
    }
    p->off[p->n] = offset;
    p->done[p->n] = 0;
    p->n++;
    p->last = offset;
    return QA_OK;
}

int64_t order_offsets_done(struct order_offsets *t, int topic,
                           int32_t partition, int64_t offset)
{
    struct part *p = find_part(t, topic, partition);
    size_t lo, hi;
    int moved = 0;
    int64_t last_done = -1;

    if (!p || p->head == p->n)
        return -1;
    lo = p->head;
    hi = p->n;
    while (lo < hi) { /* binary search: offsets are sorted */
        size_t mid = lo + (hi - lo) / 2;
        if (p->off[mid] < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->n || p->off[lo] != offset || p->done[lo])
        return -1;
    p->done[lo] = 1;
    while (p->head < p->n && p->done[p->head]) {
        last_done = p->off[p->head++];
        moved = 1;
    }
    if (!moved)
        return -1;
    /* The next record to read: the lowest still open, else past the last. */
    return p->head < p->n ? p->off[p->head] : last_done + 1;
}

size_t order_offsets_open(const struct order_offsets *t, int topic,
                          int32_t partition)
{
    const struct part *p = find_part(t, topic, partition);
    size_t open = 0;

    for (size_t i = p ? p->head : 0; p && i < p->n; i++)
        open += !p->done[i];
    return open;
}

/* ---- keys ---- */

struct parked {
    int64_t orig;
    int level;
    int64_t not_before;
};

struct waiter {
    void *item;
    struct waiter *next;
};

struct entry {
    char *key;
    unsigned hash;
    int busy;
    int held;                   /* busy until (htopic, hpart) is committed past hoff */
    int htopic;
    int32_t hpart;
    int64_t hoff;
    struct waiter *wait_head, *wait_tail;
    struct parked *parked;
    size_t nparked, capparked;
    struct entry *next;
};

struct order_keys {
    struct entry **buckets;
    size_t nbuckets, count, waiting, parked, held;
};

static unsigned fnv1a(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

struct order_keys *order_keys_new(void)
{
    struct order_keys *k = calloc(1, sizeof(*k));

    if (!k)
        return NULL;
    k->nbuckets = 64;
    if (!(k->buckets = calloc(k->nbuckets, sizeof(*k->buckets)))) {
        free(k);
        return NULL;
    }
    return k;
}

static struct entry *lookup(const struct order_keys *k, const char *key)
{
    unsigned h;

    if (!key)
        return NULL;
    h = fnv1a(key);
    for (struct entry *e = k->buckets[h % k->nbuckets]; e; e = e->next) {
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

static void grow(struct order_keys *k)
{
    size_t nb = k->nbuckets * 2;
    struct entry **b = calloc(nb, sizeof(*b));

    if (!b)
        return; /* a fuller table is slower, not wrong */
    for (size_t i = 0; i < k->nbuckets; i++) {
        for (struct entry *e = k->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash % nb];
            b[e->hash % nb] = e;
        }
    }
    free(k->buckets);
    k->buckets = b;
    k->nbuckets = nb;
}

static struct entry *get_or_add(struct order_keys *k, const char *key)
{
    struct entry *e = lookup(k, key);

    if (e || !key)
        return e;
    if (k->count >= k->nbuckets)
        grow(k);
    if (!(e = calloc(1, sizeof(*e))) || !(e->key = strdup(key))) {
        free(e);
        return NULL;
    }
    e->hash = fnv1a(key);
    e->next = k->buckets[e->hash % k->nbuckets];
    k->buckets[e->hash % k->nbuckets] = e;
    k->count++;
    return e;
}

static void free_entry(struct entry *e)
{
    struct waiter *w = e->wait_head;

    while (w) {
        struct waiter *next = w->next;
        free(w);
        w = next;
    }
    free(e->parked);
    free(e->key);
    free(e);
}

/* Drops e when it holds no state any more. */
static void maybe_drop(struct order_keys *k, struct entry *e)
{
    struct entry **pp;

    if (e->busy || e->wait_head || e->nparked)
        return;
    for (pp = &k->buckets[e->hash % k->nbuckets]; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            k->count--;
            free_entry(e);
            return;
        }
    }
}

void order_keys_clear(struct order_keys *k, int parked,
                      void (*fn)(void *item, void *ctx), void *ctx)
{
    for (size_t i = 0; k && i < k->nbuckets; i++) {
        for (struct entry *e = k->buckets[i], *next; e; e = next) {
            next = e->next;
            while (e->wait_head) {
                struct waiter *w = e->wait_head;
                e->wait_head = w->next;
                if (fn)
                    fn(w->item, ctx);
                free(w);
            }
            e->wait_tail = NULL;
            e->busy = 0;
            e->held = 0;
            if (parked) {
                k->parked -= e->nparked;
                e->nparked = 0;
            }
            maybe_drop(k, e);
        }
    }
    if (k)
        k->waiting = k->held = 0;
}

void order_keys_free(struct order_keys *k)
{
    if (!k)
        return;
    order_keys_clear(k, 1, NULL, NULL);
    free(k->buckets);
    free(k);
}

int order_key_busy(const struct order_keys *k, const char *key)
{
    const struct entry *e = lookup(k, key);
    return e && e->busy;
}

enum qa_err order_key_acquire(struct order_keys *k, const char *key)
{
    struct entry *e = get_or_add(k, key);

    if (!e)
        return key ? QA_ERR_NOMEM : QA_ERR_INVALID;
    if (e->busy)
        return QA_ERR_INVALID;
    e->busy = 1;
    return QA_OK;
}

enum qa_err order_key_wait(struct order_keys *k, const char *key, void *item)
{
    struct entry *e = lookup(k, key);
    struct waiter *w;

    if (!e || !e->busy)
        return QA_ERR_INVALID;
    if (!(w = calloc(1, sizeof(*w))))
        return QA_ERR_NOMEM;
    w->item = item;
    if (e->wait_tail)
        e->wait_tail->next = w;
    else
        e->wait_head = w;
    e->wait_tail = w;
    k->waiting++;
    return QA_OK;
}

void *order_key_release(struct order_keys *k, const char *key)
{
    struct entry *e = lookup(k, key);
    struct waiter *w;
    void *item;

    if (!e)
        return NULL;
    if (e->held) {
        e->held = 0;
        k->held--;
    }
    if (!(w = e->wait_head)) {
        e->busy = 0;
        maybe_drop(k, e);
        return NULL;
    }
    e->wait_head = w->next;
    if (!e->wait_head)
        e->wait_tail = NULL;
    item = w->item;
    free(w);
    k->waiting--;
    return item; /* the key stays busy: it is this item's now */
}

enum qa_err order_key_hold(struct order_keys *k, const char *key, int topic,
                           int32_t partition, int64_t offset)
{
    struct entry *e = lookup(k, key);

    if (!e || !e->busy || e->held)
        return QA_ERR_INVALID;
    e->held = 1;
    e->htopic = topic;
    e->hpart = partition;
    e->hoff = offset;
    k->held++;
    return QA_OK;
}

size_t order_keys_committed(struct order_keys *k, int topic, int32_t partition,
                            int64_t committed, void (*fn)(void *item, void *ctx),
                            void *ctx)
{
    struct waiter *handed = NULL, **tail = &handed;
    size_t released = 0;

    /* Items are collected first (in their own waiter nodes) and handed out
     * after the walk: fn may add keys, and a table growing under the walk
     * would lose entries. */
    for (size_t i = 0; k && k->held && i < k->nbuckets; i++) {
        for (struct entry *e = k->buckets[i], *next; e; e = next) {
            struct waiter *w;

            next = e->next;
            if (!e->held || e->htopic != topic || e->hpart != partition ||
                e->hoff >= committed)
                continue;
            e->held = 0;
            k->held--;
            released++;
            if (!(w = e->wait_head)) {
                e->busy = 0;
                maybe_drop(k, e);
                continue;
            }
            e->wait_head = w->next; /* the key stays busy: it is w's item's now */
            if (!e->wait_head)
                e->wait_tail = NULL;
            k->waiting--;
            w->next = NULL;
            *tail = w;
            tail = &w->next;
        }
    }
    while (handed) {
        struct waiter *w = handed;
        handed = w->next;
        if (fn)
            fn(w->item, ctx);
        free(w);
    }
    return released;
}

size_t order_keys_held(const struct order_keys *k)
{
    return k ? k->held : 0;
}

size_t order_keys_waiting(const struct order_keys *k)
{
    return k ? k->waiting : 0;
}

enum qa_err order_parked_add(struct order_keys *k, const char *key, int64_t orig,
                             int level, int64_t not_before_ms)
{
    struct entry *e = get_or_add(k, key);

    if (!e)
        return key ? QA_ERR_NOMEM : QA_ERR_INVALID;
    if (e->nparked == e->capparked) {
        size_t cap = e->capparked ? e->capparked * 2 : 2;
        struct parked *np = realloc(e->parked, cap * sizeof(*np));
        if (!np) {
            maybe_drop(k, e);
            return QA_ERR_NOMEM;
        }
        e->parked = np;
        e->capparked = cap;
    }
    e->parked[e->nparked].orig = orig < 0 ? -1 : orig;
    e->parked[e->nparked].level = level;
    e->parked[e->nparked].not_before = not_before_ms;
    e->nparked++;
    k->parked++;
    return QA_OK;
}

int order_parked_remove(struct order_keys *k, const char *key, int64_t orig)
{
    struct entry *e = lookup(k, key);

    if (orig < 0)
        orig = -1;
    for (size_t i = 0; e && i < e->nparked; i++) {
        if (e->parked[i].orig != orig)
            continue;
        e->parked[i] = e->parked[e->nparked - 1];
        e->nparked--;
        k->parked--;
        maybe_drop(k, e);
        return 1;
    }
    return 0;
}

int order_parked_blocker(const struct order_keys *k, const char *key,
                         int64_t orig, int *level, int64_t *not_before_ms)
{
    const struct entry *e = lookup(k, key);
    int found = 0, lv = 0;
    int64_t nb = 0;

    if (orig < 0)
        orig = -1; /* unknown position: only unknown ones tie with it */
    for (size_t i = 0; e && i < e->nparked; i++) {
        const struct parked *p = &e->parked[i];
        if (p->orig >= orig)
            continue;
        if (!found || p->level > lv)
            lv = p->level;
        if (!found || p->not_before > nb)
            nb = p->not_before;
        found = 1;
    }
    if (found && level)
        *level = lv;
    if (found && not_before_ms)
        *not_before_ms = nb;
    return found;
}

int order_parked_older_at(const struct order_keys *k, const char *key, int64_t orig,
                          int level)
{
    const struct entry *e = lookup(k, key);

    if (orig < 0)
        orig = -1;
    for (size_t i = 0; e && i < e->nparked; i++) {
        if (e->parked[i].orig < orig && e->parked[i].level == level)
            return 1;
    }
    return 0;
}

size_t order_parked_count(const struct order_keys *k, const char *key)
{
    const struct entry *e;

    if (!k)
        return 0;
    if (!key)
        return k->parked;
    e = lookup(k, key);
    return e ? e->nparked : 0;
}

size_t order_keys_count(const struct order_keys *k)
{
    return k ? k->count : 0;
}
