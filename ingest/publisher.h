/*
 * publisher.h — raw events → the raw topic, one request's events at a time,
 * answering only once Kafka has acknowledged every one of them (SPEC §4, §5).
 *
 * The HTTP thread that submits a job produces its messages (librdkafka only
 * queues them, so it never blocks on Kafka; a full local queue hands the
 * rest to the publisher thread) and is told the outcome through a callback.
 * The callback runs on the publisher thread, which serves the delivery
 * reports, or on the submitting thread inside publisher_submit() when the
 * outcome is known at once (a produce error, or every report already in).
 * A second small thread keeps the readiness answer (metadata reachable)
 * fresh, at most once a second.
 *
 * A job is all or nothing from the client's view: the first failed delivery,
 * or the deadline passing, completes it as failed at once, although some of
 * its events may already be in the topic. That is safe because every event
 * carries a stable id and the processor drops ids it has seen, so the
 * client's retry duplicates nothing downstream.
 */
#ifndef QALERT_INGEST_PUBLISHER_H
#define QALERT_INGEST_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>

#include "common/codec.h"
#include "common/config.h"
#include "common/err.h"

struct publisher;
struct publisher_job;

/* Called once per job, on the publisher thread or inside publisher_submit()
 * (see above). ok: every event delivered; else why says what failed (no
 * secret, no body). The callee must not block. */
typedef void (*publisher_done_fn)(void *opaque, int ok, const char *why);

/* Two producers for `topic` (idempotent, acks=all, message.timeout.ms =
 * timeout_ms, from cfg's brokers and pass-through properties): one with
 * small batches for requests of up to 32 events, one with librdkafka's
 * batching for larger ones (publisher.c says why), and the threads. NULL
 * with errstr. Free with publisher_free(). */
struct publisher *publisher_new(const struct cfg *cfg, const char *topic,
                                int timeout_ms, char *errstr,
                                size_t errstr_size);

/* Creates the topic when missing (partitions, broker-default replication).
 * Waits up to timeout_ms. */
enum qa_err publisher_ensure_topic(struct publisher *p, int partitions,
                                   int timeout_ms, char *errstr,
                                   size_t errstr_size);

/*
 * Encodes the n events (Avro RawEvent; key = queue id, else conversation id,
 * else event id) and hands them to the publisher thread. On QA_OK, done will
 * be called exactly once, within the timeout; on an error nothing was queued
 * and done is never called.
 */
enum qa_err publisher_submit(struct publisher *p, const struct raw_event *evs,
                             size_t n, publisher_done_fn done, void *opaque,
                             char *errstr, size_t errstr_size);

/* The key publisher_submit() uses for ev (owned by ev). */
const char *publisher_key(const struct raw_event *ev);

/* 1 when the last metadata check (at most ~1 s old) reached a broker; for
 * /readyz. Never blocks. */
int publisher_ready(struct publisher *p);

/* Jobs submitted and not yet completed. */
size_t publisher_in_flight(struct publisher *p);

/* Stops the threads once in-flight jobs are done (or timeout_ms passes),
 * flushes the producer within what is left, and frees everything. Returns
 * the number of messages still unflushed (0 = clean). */
int publisher_free(struct publisher *p, int timeout_ms);

#endif
