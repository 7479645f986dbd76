/*
 * changelog.h — restores a partition's SLA state from the compacted state
 * topic (QALERT_TOPIC_STATE) before the processor consumes that partition.
 *
 * State for raw-topic partition p lives in state-topic partition p, written
 * in the same Kafka transaction as the alerts and the input offsets, so what
 * a read_committed reader finds there is exactly the state as of the
 * committed offset. Restore reads the partition from the beginning to its
 * end (the last stable offset) and hands each record to the callback in
 * order; a NULL value is a tombstone. It never writes.
 */
#ifndef QALERT_CHANGELOG_H
#define QALERT_CHANGELOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"

typedef void (*changelog_apply_fn)(void *opaque, const void *key, size_t klen,
                                   const void *value, size_t vlen);

struct changelog;

/* A reader on topic; owns one librdkafka consumer (no group). Free with
 * changelog_free(). NULL with errstr on failure. */
struct changelog *changelog_new(const struct cfg *cfg, const char *topic,
                                char *errstr, size_t errstr_size);
void changelog_free(struct changelog *cl);

/* Reads partition from its first offset to its end within timeout_ms,
 * calling apply for each record; *records counts them. */
enum qa_err changelog_restore(struct changelog *cl, int32_t partition,
                              int timeout_ms, changelog_apply_fn apply,
                              void *opaque, int64_t *records, char *errstr,
                              size_t errstr_size);

#endif
