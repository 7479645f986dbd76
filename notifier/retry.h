/*
 * retry.h — the notifier's retry decision, pure and without I/O (SPEC §5, §7).
 *
 * After each delivery attempt the delivery loop asks: was it delivered, should
 * the record go to the next retry topic, or to the dead-letter topic? This
 * module answers from a struct sink_result alone, names the topics, and
 * carries the record's retry history in Kafka headers, so that the same logic
 * serves the notifier, `qalert-replay redrive` and the unit tests.
 *
 * It must never decide to drop a record: every outcome is "delivered",
 * "forward to a retry topic" or "dead-letter", and header values read back
 * from Kafka are treated as hostile (validated numbers, bounded lengths).
 */
#ifndef QALERT_RETRY_H
#define QALERT_RETRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "notifier/sinks/sink.h"

/* Header names (SPEC §5). */
#define RETRY_H_ATTEMPT "qalert-attempt"
#define RETRY_H_NOT_BEFORE "qalert-not-before"
#define RETRY_H_ERROR "qalert-error"
#define RETRY_H_ORIGINAL_TOPIC "qalert-original-topic"
#define RETRY_H_ORIGINAL_PARTITION "qalert-original-partition"
#define RETRY_H_ORIGINAL_OFFSET "qalert-original-offset"
#define RETRY_H_FIRST_FAILURE "qalert-first-failure"
#define RETRY_NHEADERS 7

#define RETRY_MAX_DELAYS 16        /* retry topics per sink */
#define RETRY_MAX_DELAY_MS 604800000LL /* a week: Kafka's default retention */
#define RETRY_AFTER_MAX_MS 3600000LL   /* a sink asking for more is capped at 1 h */
#define RETRY_ERROR_MAX 512        /* bytes of qalert-error kept */
#define RETRY_TOPIC_MAX 249        /* Kafka's limit on a topic name */
#define RETRY_MAX_ATTEMPT 1000     /* a larger qalert-attempt is hostile */

enum retry_verdict {
    RETRY_DELIVERED,   /* 2xx (and Slack Web API ok:true) */
    RETRY_AGAIN,       /* 408, 429, 5xx, no answer, transient Slack errors */
    RETRY_DEAD_LETTER, /* other 4xx, Slack errors a retry cannot fix */
};

/* Judges one delivery. Writes the text for qalert-error into err (may be
 * NULL), e.g. "http 404: no_service", "slack: invalid_auth", "timeout". */
enum retry_verdict retry_classify(const struct sink_result *r, char *err,
                                  size_t err_size);

/* 1 when a Slack Web API error code is worth retrying (ratelimited,
 * internal_error, service_unavailable, ...), 0 otherwise. */
int retry_slack_error_is_transient(const char *code);

enum retry_dest_kind { RETRY_DEST_RETRY, RETRY_DEST_DLQ };

struct retry_dest {
    enum retry_dest_kind kind;
    int attempt;           /* failures so far, after this one: the new qalert-attempt */
    int64_t not_before_ms; /* epoch ms; for the DLQ: now_ms */
};

/* Where a record goes after a retryable failure. `attempt` is its current
 * qalert-attempt (0 when read from the alerts topic, n from retry.n).
 * attempt + 1 <= ndelays: retry topic attempt + 1, not before now +
 * max(delays[attempt], retry_after_ms); otherwise the dead-letter topic.
 * Negative inputs count as 0; sums saturate instead of overflowing. */
void retry_next(int attempt, const int64_t *delays, size_t ndelays,
                int64_t now_ms, int64_t retry_after_ms, struct retry_dest *out);

/* "<alerts>.<sink>.retry.<attempt>" (attempt >= 1) and "<alerts>.<sink>.dlq".
 * QA_ERR_INVALID when an argument is missing or bad, the name is not a legal
 * Kafka topic name (over 249 bytes, a byte outside [A-Za-z0-9._-]) or does
 * not fit buf. */
enum qa_err retry_topic_for_attempt(char *buf, size_t n, const char *alerts_topic,
                                    const char *sink, int attempt);
enum qa_err retry_dlq_topic(char *buf, size_t n, const char *alerts_topic,
                            const char *sink);
/* 1 when s is a legal Kafka topic name. */
int retry_topic_name_ok(const char *s);

/* The retry history of a record. Fixed buffers: no cleanup. */
enum retry_header_bit {
    RETRY_HAS_ATTEMPT = 1 << 0,
    RETRY_HAS_NOT_BEFORE = 1 << 1,
    RETRY_HAS_ERROR = 1 << 2,
    RETRY_HAS_ORIGINAL_TOPIC = 1 << 3,
    RETRY_HAS_ORIGINAL_PARTITION = 1 << 4,
    RETRY_HAS_ORIGINAL_OFFSET = 1 << 5,
    RETRY_HAS_FIRST_FAILURE = 1 << 6,
};

struct retry_headers {
    unsigned present;            /* enum retry_header_bit */
    int attempt;                 /* 0..RETRY_MAX_ATTEMPT */
    int64_t not_before_ms;       /* >= 0 */
    char error[RETRY_ERROR_MAX + 1];          /* valid UTF-8, no controls */
    char original_topic[RETRY_TOPIC_MAX + 1]; /* a legal topic name */
    int32_t original_partition;  /* >= 0 */
    int64_t original_offset;     /* >= 0 */
    int64_t first_failure_ms;    /* >= 0 */
};

/* A Kafka header as librdkafka hands it out: value may be NULL (a header
 * without value) and is not NUL-terminated. */
struct retry_header_kv {
    const char *name;
    const void *value;
    size_t value_len;
};

/* Reads the qalert-* headers among kv[0..n) (others are ignored; the last of
 * duplicates wins, as rd_kafka_header_get_last). *out is always filled with
 * every value that is valid. Returns QA_ERR_INVALID naming the first bad
 * header (non-numeric, negative, overflowing, too long, illegal topic name,
 * missing value); a bad header is left out of out->present. */
enum qa_err retry_headers_parse(const struct retry_header_kv *kv, size_t n,
                                struct retry_headers *out, char *errstr,
                                size_t errstr_size);

/* Encoded headers ready for rd_kafka_header_add(). The kv values point into
 * num[] and into the struct retry_headers given to retry_headers_build():
 * both must outlive the use of kv. */
struct retry_header_set {
    struct retry_header_kv kv[RETRY_NHEADERS];
    size_t n;
    char num[RETRY_NHEADERS][24];
};

/* Encodes every present field of h, in the order of SPEC §5. */
void retry_headers_build(const struct retry_headers *h, struct retry_header_set *out);

/* Updates h (the record's history, zeroed for a first failure) after a
 * failure routed to d: attempt and not-before from d, the error text, and
 * the origin (topic, partition, offset) and first-failure time only when
 * not already present, so that they keep describing the first failure. */
void retry_headers_on_failure(struct retry_headers *h, const struct retry_dest *d,
                              const char *error, const char *topic,
                              int32_t partition, int64_t offset, int64_t now_ms);

/* Retry-After as seconds ("120") or an HTTP-date (IMF-fixdate, RFC 850 or
 * asctime) → milliseconds from now_ms, capped at RETRY_AFTER_MAX_MS; 0 when
 * absent, malformed or in the past. */
int64_t retry_parse_retry_after(const char *value, int64_t now_ms);

/* QALERT_RETRY_DELAYS_MS: "10000,60000,600000" → delays (ms, 0 to
 * RETRY_MAX_DELAY_MS each, spaces around items allowed). Refuses an empty
 * list, an empty item, a non-number, an out-of-range value or more than cap
 * items, naming the item. */
enum qa_err retry_parse_delays(const char *s, int64_t *delays, size_t cap,
                               size_t *ndelays, char *errstr, size_t errstr_size);

#endif
