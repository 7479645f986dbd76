/*
 * sla.h — the SLA engine: raw events in, FIRING/RESOLVED alerts out
 * (SPEC §6). Pure: no I/O, no clock, no logging; time is the events' own
 * (the watermark), so qalert-replay dry-run reuses it and a replay of a topic
 * yields the same alerts.
 *
 * One engine per input partition (the raw topic is keyed by queue id, so a
 * queue's events stay on one partition and in order). Not thread-safe.
 *
 *   e = sla_engine_new(policy, &opts);
 *   for each record: sla_engine_process(e, &ev, emit, ctx, &outcome, ...);
 *   when idle:       sla_engine_advance(e, last_event_time + elapsed, ...);
 *   after each batch: sla_engine_drain_changes(e, write_changelog, ctx, ...);
 *   on assignment:   sla_engine_restore(e, k, kl, v, vl, ...) per changelog
 *                    record (latest per key), then sla_engine_restore_finish().
 *
 * Time rules (the tests pin each one):
 *   - the watermark is the newest event time seen; it never moves back;
 *   - a conversation started at t with threshold D breaches when the
 *     watermark reaches t + D (>=), and the FIRING's at is t + D;
 *   - an event is applied before the timers due at its own time fire, so a
 *     conversation answered at exactly t + D is within SLA (wait <= D), as
 *     for the service level; timers strictly before it fire first;
 *   - a sample at t has left the service-level window at t + window;
 *   - a RESOLVED's at is the event or timer time that cleared the condition,
 *     never earlier than its alert's previous transition.
 * An acd.end whose acd.start is unknown is not a service-level sample when
 * ANSWERED: its wait is unknown, and guessing either way would bias the
 * ratio; an ABANDON is one (it is never within, whatever the wait).
 */
#ifndef QALERT_SLA_H
#define QALERT_SLA_H

#include <stddef.h>
#include <stdint.h>

#include "common/codec.h"
#include "common/err.h"
#include "processor/policy.h"

struct sla_engine;

struct sla_options {
    int64_t dedup_window_ms;   /* QALERT_DEDUP_WINDOW_MS, 3600000 */
    int64_t resolve_after_ms;  /* QALERT_RESOLVE_AFTER_MS, 300000 (flat events) */
    int64_t sl_window_ms;      /* QALERT_SL_WINDOW_MS, 900000 */
    int64_t sl_min_samples;    /* QALERT_SL_MIN_SAMPLES, 10 */
    /* Bounds on memory; past one, the oldest entry is evicted and counted. */
    size_t max_conversations;  /* waiting conversations (and as many ended ones) */
    size_t max_seen_ids;       /* event ids remembered for dedup */
    size_t max_keys;           /* open alerts (and as many service-level windows) */
    size_t max_window_samples; /* samples in one service-level window */
};

/* Fills *o with the defaults above (caps 100000 / 1000000 / 10000 / 10000). */
void sla_options_default(struct sla_options *o);

enum sla_outcome {
    SLA_APPLIED = 0, /* the event was used (it may have emitted nothing) */
    SLA_DUPLICATE,   /* its id was seen within the dedup window: nothing changed */
    SLA_IGNORED,     /* a kind or shape the engine does not use (it still moved the watermark) */
};

/* Called for each alert, in emission order. The alert and its strings belong
 * to the engine and live until the callback returns: copy or encode them.
 * A non-QA_OK return is passed back by the engine call once it has finished
 * (its state has moved on: the caller should not commit and should rebuild
 * the partition's engine from the changelog). */
typedef enum qa_err (*sla_emit_fn)(const struct alert *al, void *opaque);

/* One changelog entry: value NULL (vlen 0) is a tombstone. Both buffers are
 * the engine's and live until the callback returns. */
typedef enum qa_err (*sla_change_fn)(const void *key, size_t klen, const void *value,
                                     size_t vlen, void *opaque);

struct sla_stats {
    size_t open_conversations;   /* waiting for an agent */
    size_t ended_conversations;  /* remembered to refuse late or repeated starts */
    size_t open_alerts;
    size_t sl_windows;
    size_t seen_ids;
    size_t pending_changes;      /* state keys changed since the last drain */
    uint64_t evictions;          /* entries dropped by a cap, since creation */
    int64_t watermark_ms;        /* CODEC_ABSENT before the first event */
};

/* A fresh engine. The policy is borrowed and must outlive it; o NULL means
 * the defaults. NULL when out of memory. Free with sla_engine_free(). */
struct sla_engine *sla_engine_new(const struct policy *p, const struct sla_options *o);
void sla_engine_free(struct sla_engine *e);

/* Applies one raw event: dedup by event id, watermark to max(watermark,
 * event time), fire timers before it, apply it, fire timers up to the
 * watermark. *outcome (may be NULL) says what happened. QA_ERR_NOMEM (the
 * engine must then be discarded) or the emit callback's error. */
enum qa_err sla_engine_process(struct sla_engine *e, const struct raw_event *ev,
                               sla_emit_fn emit, void *opaque,
                               enum sla_outcome *outcome, char *errstr,
                               size_t errstr_size);

/* Moves the watermark forward (idle advance: last event time plus the wall
 * time elapsed since it arrived) and fires due timers. A value at or behind
 * the watermark does nothing. */
enum qa_err sla_engine_advance(struct sla_engine *e, int64_t watermark_ms,
                               sla_emit_fn emit, void *opaque, char *errstr,
                               size_t errstr_size);

/* CODEC_ABSENT before any event. */
int64_t sla_engine_watermark(const struct sla_engine *e);

void sla_engine_stats(const struct sla_engine *e, struct sla_stats *out);

/* Hands over every state entry changed since the last drain, once each, as
 * its latest value (or a tombstone): keys "wm", "seenb:<n>" (the event ids
 * first seen between two drains, one record for all of them),
 * "conv:<conversationId>", "alert:<groupingKey>", "slw:<groupingKey>", and
 * tombstones of "seen:<eventId>" (one record per id, as written before
 * blocks; still restored). Written to a compacted topic, the latest record
 * per key is the state. When fn fails, the entries not yet accepted stay
 * pending and its error is returned. */
enum qa_err sla_engine_drain_changes(struct sla_engine *e, sla_change_fn fn,
                                     void *opaque, char *errstr, size_t errstr_size);

/* Applies one changelog entry to a fresh engine (value NULL: delete).
 * Entries may come in any order; call sla_engine_restore_finish() after the
 * last. QA_ERR_INVALID for a key or value it cannot read (the caller logs it
 * and goes on: that entry is lost, not the partition). */
enum qa_err sla_engine_restore(struct sla_engine *e, const void *key, size_t klen,
                               const void *value, size_t vlen, char *errstr,
                               size_t errstr_size);

/* Rebuilds timers and eviction order from the restored entries. After it,
 * the engine behaves as the one that wrote the changelog would have (under
 * cap pressure it may evict different entries among equally old ones). */
enum qa_err sla_engine_restore_finish(struct sla_engine *e, char *errstr,
                                      size_t errstr_size);

#endif
