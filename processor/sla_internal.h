/*
 * sla_internal.h — the SLA engine's state, shared by its files: sla.c
 * (event and timer logic), sla_level.c (service level), sla_alert.c
 * (turning a transition into a struct alert), sla_seen.c (dedup ids and
 * their changelog blocks) and sla_state.c (changelog drain and restore).
 * Nothing outside processor/sla*.c includes it.
 */
#ifndef QALERT_SLA_INTERNAL_H
#define QALERT_SLA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "processor/sla.h"
#include "processor/sla_map.h"

struct sbuf;

#define SLA_NONE INT64_MIN /* an absent time */
/* Year 9999: later times are garbage, and time sums stay far from overflow. */
#define SLA_MAX_TIME 253402300799999LL
#define SLA_TIME_OK(t) ((t) >= 0 && (t) <= SLA_MAX_TIME)

/* Timer types, in their tie-break order at the same millisecond. */
enum sla_timer_type { SLA_T_BREACH = 1, SLA_T_FLAT, SLA_T_SL_EXPIRE };

/* A conversation: waiting in queue, or ended (remembered for the dedup
 * window so that a late or repeated acd.start starts nothing). Map key: the
 * conversation id; state key "conv:<id>". */
struct sla_conv {
    bool ended;
    int64_t ended_at;       /* watermark when it ended (expiry) */
    /* waiting only */
    char *queue_id;
    char *media;            /* upper case, NULL when none */
    int64_t start_ms;
    int64_t threshold_ms;
    bool breached;
    char *start_event_id;
};

/* An open alert (created by FIRING, dropped by RESOLVED). Map key: the
 * grouping key; state key "alert:<key>". The condition holds while any of
 * breaching > 0, flat_until > watermark, sl_low, qs_low. */
struct sla_alert_state {
    enum policy_alarm alarm;
    char *queue_id;
    char *queue_name;
    char *media;
    int64_t first_seen, last_seen, count, last_at;
    /* evidence at FIRING */
    char *conversation_id;
    int64_t wait_ms, threshold_ms, samples;
    double service_level, target;
    /* what keeps it open */
    int64_t breaching;      /* conversations waiting past their threshold */
    int64_t flat_until;     /* flat events: resolve time, SLA_NONE when none */
    bool sl_low;            /* the sliding window is below target */
    bool qs_low;            /* the last queue statistics reading is below */
};

struct sla_sample {
    int64_t t;
    bool within;
};

/* A service-level window. Map key: the grouping key of service_level_low;
 * state key "slw:<key>". Samples sorted by time. */
struct sla_window {
    char *queue_id;
    char *media;
    struct sla_sample *s;
    size_t n, cap;
};

/* A remembered event id (map key: the id). Its changelog record is the
 * block it joined, "seenb:<block>" (sla_seen.c), or its own "seen:<id>" for
 * an id restored from a changelog written before blocks. */
#define SLA_SEEN_LEGACY (-1)
struct sla_seen {
    int64_t at;             /* watermark when first seen */
    int64_t block;          /* >= 0, or SLA_SEEN_LEGACY */
};

/* A block of seen ids that still holds some: how many. */
struct sla_seen_block {
    int64_t n;
    size_t live;
};

/* The live blocks, ascending by n, in v[first..len) (the oldest go first,
 * so dropping one is first++). */
struct sla_seen_blocks {
    struct sla_seen_block *v;
    size_t first, len, cap;
    int64_t next;           /* the block new ids join; a drain closes it */
    bool sweep;             /* restore left blocks with no live id */
    struct sla_map restored; /* restore only: "<n>" -> checked block value */
};

struct sla_engine {
    const struct policy *policy;
    struct sla_options o;
    int64_t wm;             /* SLA_NONE before the first event */
    struct sla_map waiting; /* struct sla_conv, not ended */
    struct sla_map ended;   /* struct sla_conv, ended; oldest first */
    struct sla_map alerts;  /* struct sla_alert_state */
    struct sla_map windows; /* struct sla_window */
    struct sla_map seen;    /* struct sla_seen; oldest first (so by block) */
    struct sla_seen_blocks blocks;
    struct sla_map dirty;   /* state keys changed since the last drain (values NULL) */
    struct sla_heap timers;
    uint64_t evictions;
    bool restoring;         /* restore does not mark entries dirty */
};

/* Per call: where alerts go and the first error met. */
struct sla_ctx {
    struct sla_engine *e;
    sla_emit_fn emit;
    void *opaque;
    enum qa_err err;
    const char *event_id;   /* the event being processed, NULL for timers */
};

/* The evidence of one transition. */
struct sla_evidence {
    const char *conversation_id;
    int64_t wait_ms, threshold_ms, samples;
    double service_level, target;
    const char *source_event_id;
};

void sla_evidence_init(struct sla_evidence *ev);

/* Builds the alert of a transition of the open alert `st` (key `gkey`) and
 * hands it to ctx->emit; records the first failure in ctx->err. */
void sla_alert_emit(struct sla_ctx *ctx, const char *gkey, const struct sla_alert_state *st,
                    enum alert_status status, int64_t at, const struct sla_evidence *ev);

/* Records that a state key changed ("conv:", "alert:", "slw:", "seen:" + id,
 * "seenb:" + block number, or "wm"). */
enum qa_err sla_mark(struct sla_engine *e, const char *prefix, const char *id);

/* The changelog value codec (sla_state.c): zigzag varints, strings as
 * length + 1 (0: NULL) then bytes. Reads from hostile bytes set fail
 * instead of going past n. */
struct sla_rbuf {
    const uint8_t *p;
    size_t n, off;
    bool fail;
};
void sla_put_i64(struct sbuf *b, int64_t v);
void sla_put_str(struct sbuf *b, const char *s);
int64_t sla_get_i64(struct sla_rbuf *b);

/* Seen ids (sla_seen.c). remember: the id joins the current block (the
 * caller checked that it is not seen). purge: forgets the ids past the
 * dedup window. close_block: a drain is writing the current block; later
 * ids start the next one. */
enum qa_err sla_seen_remember(struct sla_engine *e, const char *id);
enum qa_err sla_seen_purge(struct sla_engine *e);
void sla_seen_close_block(struct sla_engine *e);
/* Encodes the value of a "seen:" or "seenb:" key after the version byte;
 * false when it has none (a tombstone) or is no seen key. */
bool sla_seen_encode(const struct sla_engine *e, const char *key, struct sbuf *b);
/* Restore of "seenb:<num>" (value at b's offset, or tombstone): checked
 * now, applied by sla_seen_restore_finish(). QA_ERR_INVALID or _NOMEM. */
enum qa_err sla_seen_restore_block(struct sla_engine *e, const char *num,
                                   struct sla_rbuf *b, bool tombstone);
/* Part of sla_engine_restore_finish(): the seen map in the writer's order,
 * the block table. QA_ERR_NOMEM only. */
enum qa_err sla_seen_restore_finish(struct sla_engine *e);
void sla_seen_free(struct sla_engine *e);

/* Shared by sla.c and sla_level.c. */
void sla_note(struct sla_ctx *ctx, enum qa_err err);
/* "<queueId>:<alarmType>[:<MEDIA>]"; caller frees; NULL when out of memory. */
char *sla_grouping_key(const char *queue_id, enum policy_alarm alarm, const char *media);
/* A new occurrence of the alarm at `at`: FIRING when no alert is open for
 * the key, else count and last-seen only. NULL when out of memory. */
struct sla_alert_state *sla_observe(struct sla_ctx *ctx, const char *gkey,
                                    enum policy_alarm alarm, const char *queue_id,
                                    const char *event_queue_name, const char *media,
                                    int64_t at, const struct sla_evidence *evd);
/* RESOLVED (and dropped) once nothing holds the alert open. */
void sla_maybe_resolve(struct sla_ctx *ctx, const char *gkey, struct sla_alert_state *st,
                       int64_t at, const struct sla_evidence *evd);
/* An acd.end sample at t for a queue and media. */
void sla_add_sample(struct sla_ctx *ctx, const char *queue_id, const char *media, int64_t t,
                    bool within);
void sla_on_expire_timer(struct sla_ctx *ctx, const char *gkey, int64_t at);
void sla_on_stats(struct sla_ctx *ctx, const struct raw_event *ev, const char *media, int64_t t);

void sla_conv_free(void *p);
void sla_alert_state_free(void *p);
void sla_window_free(void *p);

#endif
