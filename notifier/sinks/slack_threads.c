/*
 * slack_threads.c — grouping key → (channel, ts) of the FIRING Slack message,
 * so that the RESOLVED replies in its thread (Web API mode).
 *
 * Bounded and in memory: when full the oldest entry goes, which costs a
 * RESOLVED its threading, never the message itself. Never grows without
 * bound on hostile keys.
 */
#include "notifier/sinks/slack.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct thread_entry {
    char *key; /* NULL: free slot */
    char channel[64];
    char ts[32];
    uint64_t seq; /* insertion order, for eviction */
};

struct sink_thread_map {
    struct thread_entry *e;
    size_t cap, count;
    uint64_t next_seq;
};

struct sink_thread_map *sink_thread_map_new(size_t capacity)
{
    struct sink_thread_map *m;

    if (capacity == 0 || capacity > SIZE_MAX / sizeof(struct thread_entry))
        return NULL;
    m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->e = calloc(capacity, sizeof(*m->e));
    if (!m->e) {
        free(m);
        return NULL;
    }
    m->cap = capacity;
    return m;
}

void sink_thread_map_free(struct sink_thread_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        free(m->e[i].key);
    free(m->e);
    free(m);
}

static struct thread_entry *find(const struct sink_thread_map *m, const char *key)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->e[i].key && strcmp(m->e[i].key, key) == 0)
            return &m->e[i];
    return NULL;
}

enum qa_err sink_thread_map_put(struct sink_thread_map *m, const char *key,
                                const char *channel, const char *ts)
{
    struct thread_entry *slot;
    size_t clen = channel ? strlen(channel) : 0;
    size_t tlen = ts ? strlen(ts) : 0;

    if (!m || !key || !*key || tlen == 0 || tlen >= sizeof(slot->ts) ||
        clen >= sizeof(slot->channel))
        return QA_ERR_INVALID;
    slot = find(m, key);
    if (!slot) {
        char *k = strdup(key);
        if (!k)
            return QA_ERR_NOMEM;
        if (m->count == m->cap) { /* evict the oldest */
            slot = &m->e[0];
            for (size_t i = 1; i < m->cap; i++)
                if (m->e[i].seq < slot->seq)
                    slot = &m->e[i];
            free(slot->key);
            m->count--;
        } else {
            for (size_t i = 0; i < m->cap; i++)
                if (!m->e[i].key) {
                    slot = &m->e[i];
                    break;
                }
        }
        slot->key = k;
        m->count++;
    }
    memcpy(slot->channel, channel ? channel : "", clen + 1);
    memcpy(slot->ts, ts, tlen + 1);
    slot->seq = m->next_seq++;
    return QA_OK;
}

int sink_thread_map_get(const struct sink_thread_map *m, const char *key,
                        const char **channel, const char **ts)
{
    const struct thread_entry *e = m && key ? find(m, key) : NULL;

    if (!e)
        return 0;
    if (channel)
        *channel = e->channel;
    if (ts)
        *ts = e->ts;
    return 1;
}

void sink_thread_map_remove(struct sink_thread_map *m, const char *key)
{
    struct thread_entry *e = m && key ? find(m, key) : NULL;

    if (!e)
        return;
    free(e->key);
    memset(e, 0, sizeof(*e));
    m->count--;
}

size_t sink_thread_map_count(const struct sink_thread_map *m)
{
    return m ? m->count : 0;
}
