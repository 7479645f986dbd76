/*
 * holds.c — see holds.h. A chained hash of key → until, with expired
 * entries dropped on lookup and, when the table is full, in one sweep.
 */
#include "notifier/holds.h"

#include <stdlib.h>
#include <string.h>

#define NBUCKETS 1024

struct hold {
    struct hold *next;
    int64_t until;
    char key[];
};

struct key_holds {
    struct hold *buckets[NBUCKETS];
    size_t n;
};

static size_t bucket_of(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ULL;
    return (size_t)(h % NBUCKETS);
}

struct key_holds *key_holds_new(void)
{
    return calloc(1, sizeof(struct key_holds));
}

void key_holds_free(struct key_holds *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        while (h->buckets[i]) {
            struct hold *e = h->buckets[i];
            h->buckets[i] = e->next;
            free(e);
        }
    free(h);
}

static void sweep(struct key_holds *h, int64_t now_ms)
{
    for (size_t i = 0; i < NBUCKETS; i++)
        for (struct hold **link = &h->buckets[i], *e; (e = *link);) {
            if (e->until <= now_ms) {
                *link = e->next;
                free(e);
                h->n--;
            } else {
                link = &e->next;
            }
        }
}

enum qa_err key_holds_set(struct key_holds *h, const char *key, int64_t until_ms,
                          int64_t now_ms)
{
    size_t b = bucket_of(key), len = strlen(key);
    struct hold *e;

    for (e = h->buckets[b]; e; e = e->next)
        if (strcmp(e->key, key) == 0) {
            if (until_ms > e->until)
                e->until = until_ms;
            return QA_OK;
        }
    if (h->n >= HOLDS_MAX)
        sweep(h, now_ms);
    if (h->n >= HOLDS_MAX || !(e = malloc(sizeof(*e) + len + 1)))
        return QA_ERR_NOMEM;
    memcpy(e->key, key, len + 1);
    e->until = until_ms;
    e->next = h->buckets[b];
    h->buckets[b] = e;
    h->n++;
    return QA_OK;
}

int64_t key_holds_until(struct key_holds *h, const char *key, int64_t now_ms)
{
    size_t b = bucket_of(key);

    if (!h || h->n == 0)
        return 0;
    for (struct hold **link = &h->buckets[b], *e; (e = *link); link = &e->next) {
        if (strcmp(e->key, key) != 0)
            continue;
        if (e->until > now_ms)
            return e->until;
        *link = e->next;
        free(e);
        h->n--;
        return 0;
    }
    return 0;
}

size_t key_holds_count(const struct key_holds *h)
{
    return h ? h->n : 0;
}
