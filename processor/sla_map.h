/*
 * sla_map.h — the SLA engine's two containers: a string-keyed hash map that
 * remembers insertion order (so caps evict the oldest entry in O(1)), and a
 * min-heap of timers ordered by (time, type, key).
 *
 * The timer order does not depend on insertion history, so an engine
 * restored from its changelog fires same-time timers in the same order as
 * the one that never stopped. Timers are never cancelled: the engine checks
 * on pop that the timer still means something.
 */
#ifndef QALERT_SLA_MAP_H
#define QALERT_SLA_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct sla_map_entry {
    char *key;     /* points into the entry's own allocation */
    uint64_t hash; /* of key: spares re-hashing and most strcmps */
    void *value;
    struct sla_map_entry *hnext;       /* bucket chain */
    struct sla_map_entry *prev, *next; /* insertion order, oldest first */
};

struct sla_map {
    struct sla_map_entry **buckets;
    size_t nbuckets;
    size_t count;
    struct sla_map_entry *head, *tail;
};

/* A zeroed struct sla_map is an empty map. */
struct sla_map_entry *sla_map_find(const struct sla_map *m, const char *key);
void *sla_map_get(const struct sla_map *m, const char *key);
/* Adds key (copied) at the newest end; the key must not be present. The map
 * owns value only in the sense that sla_map_clear() hands it to free_value. */
enum qa_err sla_map_put(struct sla_map *m, const char *key, void *value);
/* Unlinks and frees the entry; returns its value for the caller to free. */
void *sla_map_remove_entry(struct sla_map *m, struct sla_map_entry *en);
void *sla_map_remove(struct sla_map *m, const char *key);
/* Reorders the insertion list by cmp (restore: oldest by time), a qsort
 * comparator over `struct sla_map_entry *const *`. */
enum qa_err sla_map_sort(struct sla_map *m, int (*cmp)(const void *, const void *));
/* Empties the map, calling free_value (may be NULL) on each value. */
void sla_map_clear(struct sla_map *m, void (*free_value)(void *));

struct sla_timer {
    int64_t at;
    int type;
    char *key;
};

struct sla_heap {
    struct sla_timer *v;
    size_t n, cap;
};

/* key is copied. */
enum qa_err sla_heap_push(struct sla_heap *h, int64_t at, int type, const char *key);
/* The earliest timer, or NULL. */
const struct sla_timer *sla_heap_peek(const struct sla_heap *h);
/* Removes the earliest timer into *out; out->key is malloc'd and the caller
 * frees it. false when empty. */
bool sla_heap_pop(struct sla_heap *h, struct sla_timer *out);
void sla_heap_clear(struct sla_heap *h);

#endif
