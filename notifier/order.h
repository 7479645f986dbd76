/*
 * order.h — the notifier's bookkeeping for SPEC §7, pure and without I/O:
 *
 * - which offsets of each partition are done, so that the stored offset
 *   never passes a record still in flight (offsets_store takes offset+1 of
 *   the lowest record not yet done, whatever order requests finish in);
 * - per grouping key: whether a record of the key is being handled (the
 *   next one waits instead of racing it to the sink) or is done but not yet
 *   committed (held: the next one still waits, so that a crash can replay
 *   only a key's last record), the records waiting behind it, and the key's
 *   records parked in the retry chain, each known by its position on the
 *   alerts topic (qalert-original-offset).
 *
 * The rule it supports (docs/notifier.md): a record goes to the sink only
 * when no parked record of its key is older (smaller original offset);
 * otherwise it is deferred behind the newest-level one in the retry chain.
 * It must never report an offset as storable while an earlier one is open.
 * Not thread-safe: the delivery loop owns it.
 */
#ifndef QALERT_NOTIFIER_ORDER_H
#define QALERT_NOTIFIER_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* ---- offsets per (topic index, partition) ---- */

struct order_offsets;

/* NULL on allocation failure. Free with order_offsets_free(). */
struct order_offsets *order_offsets_new(void);
void order_offsets_free(struct order_offsets *t);

/* A record was taken from (topic, partition) at offset. Offsets of one
 * partition must be begun in increasing order: QA_ERR_INVALID otherwise
 * (the caller re-reads after a seek only what it never began). */
enum qa_err order_offsets_begin(struct order_offsets *t, int topic,
                                int32_t partition, int64_t offset);

/* The record is done (delivered, forwarded or dead-lettered). Returns the
 * offset to store (the next one to read: the lowest still open, or the last
 * done + 1) when it moved forward, else -1 (an earlier record is still
 * open, or offset was never begun). */
int64_t order_offsets_done(struct order_offsets *t, int topic,
                           int32_t partition, int64_t offset);

/* Records begun and not yet done on a partition. */
size_t order_offsets_open(const struct order_offsets *t, int topic,
                          int32_t partition);

/* Forgets everything (after a rebalance). */
void order_offsets_clear(struct order_offsets *t);

/* ---- per-key gate and parked records ---- */

struct order_keys;

/* NULL on allocation failure. Free with order_keys_free(); waiting items are
 * the caller's: take them out first with order_keys_clear(). */
struct order_keys *order_keys_new(void);
void order_keys_free(struct order_keys *k);

/* 1 while a record of key is being handled. */
int order_key_busy(const struct order_keys *k, const char *key);

/* Marks key busy. QA_ERR_INVALID when it already is, QA_ERR_NOMEM. */
enum qa_err order_key_acquire(struct order_keys *k, const char *key);

/* Queues item behind the busy record of key (key must be busy:
 * QA_ERR_INVALID otherwise). */
enum qa_err order_key_wait(struct order_keys *k, const char *key, void *item);

/* The busy record of key is done. Returns the first waiting item, which
 * now holds the key (it stays busy), or NULL when none waited (the key is
 * free). */
void *order_key_release(struct order_keys *k, const char *key);

/* The busy record of key is done but its position (topic, partition,
 * offset) is not yet committed: the key stays busy, and its next record
 * waits, until order_keys_committed() reports a commit past offset
 * (docs/notifier.md, "Order per grouping key"). QA_ERR_INVALID when the key
 * is not busy or already held. */
enum qa_err order_key_hold(struct order_keys *k, const char *key, int topic,
                           int32_t partition, int64_t offset);

/* The group's committed offset of (topic, partition) is now `committed`
 * (the next record to read). Every key held on a record below it is
 * released: its first waiting item is handed to fn (it now holds the key),
 * or the key becomes free. fn is called after the table is updated and may
 * use it. Returns the number of keys released. */
size_t order_keys_committed(struct order_keys *k, int topic, int32_t partition,
                            int64_t committed, void (*fn)(void *item, void *ctx),
                            void *ctx);

/* Keys held until a commit. */
size_t order_keys_held(const struct order_keys *k);

/* Records waiting behind busy keys, over all keys. */
size_t order_keys_waiting(const struct order_keys *k);

/* A record of key sits in the retry chain: original offset orig (-1 when
 * unknown: counts as older than everything), in retry topic `level`, due at
 * not_before_ms. A multiset: the same orig may be added twice (a record
 * re-forwarded after a crash). */
enum qa_err order_parked_add(struct order_keys *k, const char *key, int64_t orig,
                             int level, int64_t not_before_ms);

/* Removes one entry of key with this orig; 0 when there was none. */
int order_parked_remove(struct order_keys *k, const char *key, int64_t orig);

/* 1 when a parked record of key is older than orig (smaller original
 * offset); then *level is the highest level among those older ones and
 * *not_before_ms their latest due time. 0 when the record may go. */
int order_parked_blocker(const struct order_keys *k, const char *key,
                         int64_t orig, int *level, int64_t *not_before_ms);

/* 1 when a parked record of key older than orig sits in retry topic
 * `level` (then, the key's chain being one partition per level, it is in the
 * same partition as a record of key read from that level). */
int order_parked_older_at(const struct order_keys *k, const char *key, int64_t orig,
                          int level);

/* Parked records of key; of every key when key is NULL. */
size_t order_parked_count(const struct order_keys *k, const char *key);

/* Keys with any state (tests: nothing leaks). */
size_t order_keys_count(const struct order_keys *k);

/* Forgets busy flags and waiting items (each handed to fn, which may be
 * NULL) and, when parked too, the parked records. */
void order_keys_clear(struct order_keys *k, int parked,
                      void (*fn)(void *item, void *ctx), void *ctx);

#endif
