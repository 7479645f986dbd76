/*
 * sla_map.c — ordered hash map and timer heap for the SLA engine (see
 * sla_map.h). Keys come from the network (event and conversation ids): they
 * are hashed with FNV-1a and compared in full, never trusted for length.
 */
#include "processor/sla_map.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

struct sla_map_entry *sla_map_find(const struct sla_map *m, const char *key)
{
    struct sla_map_entry *en;
    uint64_t h;

    if (!m->nbuckets)
        return NULL;
    h = hash_key(key);
    for (en = m->buckets[h & (m->nbuckets - 1)]; en; en = en->hnext)
        if (en->hash == h && strcmp(en->key, key) == 0)
            return en;
    return NULL;
}

void *sla_map_get(const struct sla_map *m, const char *key)
{
    struct sla_map_entry *en = sla_map_find(m, key);
    return en ? en->value : NULL;
}

static enum qa_err grow(struct sla_map *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 64;
    struct sla_map_entry **b = calloc(n, sizeof(*b));

    if (!b)
        return QA_ERR_NOMEM;
    for (struct sla_map_entry *en = m->head; en; en = en->next) {
        size_t i = en->hash & (n - 1);
        en->hnext = b[i];
        b[i] = en;
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return QA_OK;
}

enum qa_err sla_map_put(struct sla_map *m, const char *key, void *value)
{
    struct sla_map_entry *en;
    size_t i, klen = strlen(key);

    if (m->count + 1 > m->nbuckets && grow(m) != QA_OK)
        return QA_ERR_NOMEM;
    /* Entry and key in one allocation: one malloc per put, one cache line
     * fewer per lookup. */
    if (!(en = malloc(sizeof(*en) + klen + 1)))
        return QA_ERR_NOMEM;
    memset(en, 0, sizeof(*en));
    en->key = (char *)(en + 1);
    memcpy(en->key, key, klen + 1);
    en->hash = hash_key(key);
    en->value = value;
    i = en->hash & (m->nbuckets - 1);
    en->hnext = m->buckets[i];
    m->buckets[i] = en;
    en->prev = m->tail;
    if (m->tail)
        m->tail->next = en;
    else
        m->head = en;
    m->tail = en;
    m->count++;
    return QA_OK;
}

void *sla_map_remove_entry(struct sla_map *m, struct sla_map_entry *en)
{
    struct sla_map_entry **pp = &m->buckets[en->hash & (m->nbuckets - 1)];
    void *value = en->value;

    while (*pp != en)
        pp = &(*pp)->hnext;
    *pp = en->hnext;
    if (en->prev)
        en->prev->next = en->next;
    else
        m->head = en->next;
    if (en->next)
        en->next->prev = en->prev;
    else
        m->tail = en->prev;
    m->count--;
    free(en);
    return value;
}

void *sla_map_remove(struct sla_map *m, const char *key)
{
    struct sla_map_entry *en = sla_map_find(m, key);
    return en ? sla_map_remove_entry(m, en) : NULL;
}

enum qa_err sla_map_sort(struct sla_map *m, int (*cmp)(const void *, const void *))
{
    struct sla_map_entry **v;
    size_t i = 0;

    if (m->count < 2)
        return QA_OK;
    if (!(v = malloc(m->count * sizeof(*v))))
        return QA_ERR_NOMEM;
    for (struct sla_map_entry *en = m->head; en; en = en->next)
        v[i++] = en;
    qsort(v, m->count, sizeof(*v), cmp);
    for (i = 0; i < m->count; i++) {
        v[i]->prev = i ? v[i - 1] : NULL;
        v[i]->next = i + 1 < m->count ? v[i + 1] : NULL;
    }
    m->head = v[0];
    m->tail = v[m->count - 1];
    free(v);
    return QA_OK;
}

void sla_map_clear(struct sla_map *m, void (*free_value)(void *))
{
    struct sla_map_entry *en = m->head, *next;

    for (; en; en = next) {
        next = en->next;
        if (free_value)
            free_value(en->value);
        free(en);
    }
    free(m->buckets);
    memset(m, 0, sizeof(*m));
}

static int timer_cmp(const struct sla_timer *a, const struct sla_timer *b)
{
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    return strcmp(a->key, b->key);
}

enum qa_err sla_heap_push(struct sla_heap *h, int64_t at, int type, const char *key)
{
    struct sla_timer t = { at, type, NULL };
    size_t i;

    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct sla_timer *v = realloc(h->v, cap * sizeof(*v));
        if (!v)
            return QA_ERR_NOMEM;
        h->v = v;
        h->cap = cap;
    }
    if (!(t.key = strdup(key)))
        return QA_ERR_NOMEM;
    for (i = h->n++; i > 0 && timer_cmp(&t, &h->v[(i - 1) / 2]) < 0; i = (i - 1) / 2)
        h->v[i] = h->v[(i - 1) / 2];
    h->v[i] = t;
    return QA_OK;
}

const struct sla_timer *sla_heap_peek(const struct sla_heap *h)
{
    return h->n ? &h->v[0] : NULL;
}

bool sla_heap_pop(struct sla_heap *h, struct sla_timer *out)
{
    struct sla_timer last;
    size_t i = 0;

    if (!h->n)
        return false;
    *out = h->v[0];
    last = h->v[--h->n];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && timer_cmp(&h->v[c + 1], &h->v[c]) < 0)
            c++;
        if (timer_cmp(&last, &h->v[c]) <= 0)
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = last;
    return true;
}

void sla_heap_clear(struct sla_heap *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->v[i].key);
    free(h->v);
    memset(h, 0, sizeof(*h));
}
