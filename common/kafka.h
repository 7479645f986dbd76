/*
 * kafka.h — librdkafka helpers shared by every binary (prefix kq_).
 *
 * - Configuration: bootstrap servers, the QALERT_KAFKA_<PROP> pass-through,
 *   librdkafka's own logs routed into our JSON log.
 * - Producers are idempotent with acks=all; the delivery report callback
 *   set by the caller is the only truth about a produce.
 * - Consumers store offsets by hand (enable.auto.offset.store=false; the
 *   caller stores offset+1 only once a record is fully handled), use the
 *   eager range/roundrobin assignors (librdkafka 2.0.2's cooperative-sticky
 *   has known bugs), and read_committed by default.
 * - Topic creation through the Admin API, tolerant of "already exists".
 */
#ifndef QALERT_KAFKA_H
#define QALERT_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"

/* A new conf with bootstrap.servers, client.id and every pass-through
 * property from cfg. Returns NULL with errstr when a property is refused.
 * The caller owns it (rd_kafka_conf_destroy, or hand it to kq_*_new). */
rd_kafka_conf_t *kq_conf_new(const struct cfg *cfg, const char *client_id,
                             char *errstr, size_t errstr_size);
/* rd_kafka_conf_set with our error shape. */
enum qa_err kq_conf_set(rd_kafka_conf_t *conf, const char *key,
                        const char *value, char *errstr, size_t errstr_size);

/* Sets key to value only while it still holds librdkafka's own default
 * (lib_default), so an operator's QALERT_KAFKA_<PROP> pass-through wins. */
enum qa_err kq_conf_default(rd_kafka_conf_t *conf, const char *key,
                            const char *lib_default, const char *value,
                            char *errstr, size_t errstr_size);

/* Creates an idempotent acks=all producer. transactional_id may be NULL.
 * Takes ownership of conf in every case. Returns NULL with errstr. */
rd_kafka_t *kq_producer_new(rd_kafka_conf_t *conf, const char *transactional_id,
                            char *errstr, size_t errstr_size);

struct kq_consumer_opts {
    const char *group_id;
    int read_uncommitted;   /* default 0: read_committed */
    int auto_commit;        /* commit stored offsets periodically (default 0) */
    const char *offset_reset; /* default "earliest" */
};

/* Creates a consumer with the manual offset-store discipline described above,
 * and redirects the main queue to the consumer queue. Takes ownership of
 * conf. Returns NULL with errstr. */
rd_kafka_t *kq_consumer_new(rd_kafka_conf_t *conf,
                            const struct kq_consumer_opts *opts,
                            char *errstr, size_t errstr_size);

/* An assign()-only reader (read_committed, partition EOF reported, nothing
 * ever committed): client_id doubles as the group id librdkafka requires
 * of a consumer handle. Takes conf (destroyed on failure too; NULL, as
 * from a failed kq_conf_new(), returns NULL and leaves errstr as that call
 * set it); polls its own queue. Returns NULL with errstr. Free with rd_kafka_consumer_close()
 * and rd_kafka_destroy(). */
rd_kafka_t *kq_reader_new(rd_kafka_conf_t *conf, const char *client_id,
                          char *errstr, size_t errstr_size);

/* Subscribes to n topics. */
enum qa_err kq_subscribe(rd_kafka_t *rk, const char *const *topics, size_t n,
                         char *errstr, size_t errstr_size);

struct kq_topic {
    const char *name;
    int partitions;
    int compacted;   /* cleanup.policy=compact */
};

/* Creates the topics that do not exist yet (replication factor 1 unless
 * QALERT_KAFKA_REPLICATION_FACTOR says otherwise is the caller's concern).
 * Waits up to timeout_ms. */
enum qa_err kq_create_topics(rd_kafka_t *rk, const struct kq_topic *topics,
                             size_t n, int replication_factor, int timeout_ms,
                             char *errstr, size_t errstr_size);

/* 1 when the cluster answered a metadata request within timeout_ms. */
int kq_metadata_ok(rd_kafka_t *rk, int timeout_ms);
/* Number of partitions of topic, or -1 with errstr (no such topic, timeout). */
int kq_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
                       char *errstr, size_t errstr_size);

/* Adds a string header (copied). */
enum qa_err kq_header_add(rd_kafka_headers_t *hdrs, const char *name,
                          const char *value);
/* Copies the last value of header `name` into buf as a C string. Returns its
 * length, or -1 when absent or longer than n-1. */
int kq_header_get(const rd_kafka_message_t *msg, const char *name, char *buf,
                  size_t n);

#endif
