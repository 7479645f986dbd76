/*
 * delivery_internal.h — state shared by delivery.c (records: send, judge,
 * forward, finish) and delivery_kafka.c (topics, rebalances, the parked
 * table's rebuild, paused partitions, lag). Not for other modules.
 */
#ifndef QALERT_NOTIFIER_DELIVERY_INTERNAL_H
#define QALERT_NOTIFIER_DELIVERY_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>

#include "common/codec.h"
#include "common/metrics.h"
#include "notifier/delivery.h"
#include "notifier/holds.h"
#include "notifier/http.h"
#include "notifier/order.h"

/* Topic indexes: 0 the alerts topic, 1..ndelays retry.n, ndelays+1 DLQ. */
#define DLV_MAX_TOPICS (RETRY_MAX_DELAYS + 2)
/* Records held in memory (waiting for their key, the rate, a 429) before
 * the consumer is paused: bounds memory when the sink is slow or away. */
#define DLV_MAX_HELD 5000

struct dlv_rec {
    int topic;                  /* index */
    int32_t partition;
    int64_t offset;
    char *key;                  /* the Kafka key (grouping key); NULL: none */
    void *kkey;
    size_t kkey_len;
    void *value;
    size_t value_len;
    rd_kafka_headers_t *headers;  /* copy of the record's headers, or NULL */
    struct retry_headers rh;      /* its retry history (zero from the alerts topic) */
    int64_t orig;                 /* offset on the alerts topic (-1 unknown) */
    int32_t orig_partition;
    struct alert al;
    int decoded;
    char error[RETRY_ERROR_MAX + 1]; /* why it failed, for qalert-error */
    int64_t sent_mono;            /* start of the current request */
    int stage;                    /* Slack Web API RESOLVED: 1 = chat.update */
    char upd_channel[64], upd_ts[32];
    int dest;                     /* being produced to: topic index */
    int64_t dest_not_before;
    int deferred;                 /* produced behind an older record of its key */
    struct dlv_rec *next;         /* send queue */
};

/* A retry-topic record whose older records (of its key) are due elsewhere
 * waits in its partition at most this long for them to clear; then it is
 * deferred behind them (produced again) instead. */
#define DLV_BLOCKED_WAIT_MS 2000

struct dlv_paused {
    int topic;
    int32_t partition;
    int64_t offset;     /* records at or past it are read again on resume */
    int64_t resume_ms;  /* wall clock; 0: held for back-pressure */
    int seek_pending;   /* the seek back timed out: retried, never resumed before */
    int64_t seek_retry_mono;
    char wait_key[256]; /* non-empty: resumed once no older record of it is parked */
    int64_t wait_orig;
};

/* A record read again after waiting DLV_BLOCKED_WAIT_MS for its key: it is
 * deferred on this read, not put back again. */
struct dlv_waited {
    int topic;
    int32_t partition;
    int64_t offset;
};
#define DLV_MAX_WAITED 64

struct delivery {
    struct delivery_config conf;
    char topics[DLV_MAX_TOPICS][RETRY_TOPIC_MAX + 1];
    int partitions[DLV_MAX_TOPICS];
    int ntopics;
    rd_kafka_t *consumer, *producer;
    struct http_client *http;
    struct order_offsets *offsets;
    struct order_keys *keys;
    struct sink_thread_map *threads;
    struct dlv_rec *sendq_head, *sendq_tail;
    /* Records whose key is held after an ambiguous attempt (holds.h):
     * back to the send queue when the hold ends. */
    struct dlv_rec *later_head, *later_tail;
    struct key_holds *holds;
    size_t held, producing;
    struct dlv_paused *paused;
    size_t npaused, cappaused;
    int backpressure;
    struct dlv_waited waited[DLV_MAX_WAITED];
    size_t nwaited;
    int64_t defer_log_mono;     /* rate limit of the "deferred" info line */
    long defer_log_skipped;
    int64_t seek_log_mono;
    double tokens;
    int64_t tokens_mono;
    int64_t sink_paused_until;   /* monotonic ms */
    int draining;
    int stopping;
    int fatal;
    int64_t last_lag_mono;
    /* Keys held until a commit (order_key_hold): a commit is asked for as
     * soon as something new is stored, one at a time. */
    int commit_wanted, commit_in_flight;
    int64_t commit_sent_mono, commit_retry_mono;
    atomic_int joined;
    atomic_llong sink_paused_wall; /* for readiness: wall ms until which paused */
    struct metrics_family *m_deliveries, *m_seconds, *m_in_flight, *m_lag;
};

/* delivery_sendq.c: records ready for the sink, in order. */
void dlv_sendq_add(struct delivery *d, struct dlv_rec *r);
/* Starts queued records while the pace, the concurrency and the sink allow. */
void dlv_pump(struct delivery *d);
/* Moves records whose key is no longer held back to the send queue. */
void dlv_release_later(struct delivery *d);
/* After a timeout or a failed connection, holds r's key (holds.h). */
void dlv_hold_if_ambiguous(struct delivery *d, const struct dlv_rec *r,
                           const struct sink_result *res);
/* Frees every queued and parked record. */
void dlv_sendq_clear(struct delivery *d);

/* delivery.c */
void dlv_on_message(struct delivery *d, rd_kafka_message_t *msg);
void dlv_rec_free(struct delivery *d, struct dlv_rec *r);
/* Sends r now (a place in flight and a token are taken). */
void dlv_start(struct delivery *d, struct dlv_rec *r);
void dlv_on_http(void *ctx, void *opaque, const struct sink_result *res);
void dlv_on_produced(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);
/* Drains what is under way (draining set): requests and produces end or the
 * deadline passes; then forgets every record in memory. */
void dlv_drain(struct delivery *d, int64_t deadline_mono);
/* The group committed (topic, partition) up to next_offset: the keys held
 * on records below it go on to their next record. */
void dlv_on_committed(struct delivery *d, int topic, int32_t partition,
                      int64_t next_offset);

/* delivery_kafka.c */
enum qa_err dlv_kafka_setup(struct delivery *d, char *errstr, size_t errstr_size);
int dlv_topic_index(const struct delivery *d, const char *topic);
/* Pauses (topic, partition) and seeks back to offset, so that the record
 * is read again on resume (resume_ms wall clock; 0 for back-pressure). */
void dlv_put_back(struct delivery *d, int topic, int32_t partition, int64_t offset,
                  int64_t resume_ms);
/* 1 when a retry-topic record must wait in its partition for an older
 * record of its key that is due elsewhere (put back until that one is
 * parked no more, at most DLV_BLOCKED_WAIT_MS): re-producing it behind a due
 * record would have it read again at once, in a loop. */
int dlv_wait_for_key(struct delivery *d, const rd_kafka_message_t *msg, int topic,
                     int64_t orig);
/* 1 when the record must be ignored: its partition was put back before it. */
int dlv_is_put_back(const struct delivery *d, int topic, int32_t partition,
                    int64_t offset);
void dlv_resume_due(struct delivery *d);
void dlv_store_offset(struct delivery *d, int topic, int32_t partition,
                      int64_t next_offset);
void dlv_update_lag(struct delivery *d);
/* Asks for an asynchronous commit when a key waits on one and something new
 * was stored since the last (offset_commit_cb reports the outcome). */
void dlv_commit_for_keys(struct delivery *d);

#endif
