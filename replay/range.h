/*
 * range.h — the part of a topic a qalert-replay subcommand reads, and the
 * reader that walks it (print, copy and dry-run share it).
 *
 * A range is, per partition, [start, end): start from --from-offset
 * (negative: that many before the end) or --from-time (offsets-for-times),
 * else the beginning; end from --to-time (offsets-for-times: the first
 * offset whose timestamp is at or past it) and the high watermark captured
 * when the reader opens, so a busy topic still ends. With --follow the end
 * is open (a --to-time still closes a partition at its first record at or
 * past it). The reader uses assign(), never a consumer group: it must never
 * commit an offset or join a group, so it cannot disturb the daemons.
 */
#ifndef QALERT_REPLAY_RANGE_H
#define QALERT_REPLAY_RANGE_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"

#define RANGE_UNSET INT64_MIN
/* Metadata, watermarks and offsets-for-times: one broker round trip each. */
#define RANGE_TIMEOUT_MS 10000

struct range_opts {
    int64_t from_offset;   /* RANGE_UNSET, >= 0 absolute, < 0 from the end */
    const int64_t *from_offsets; /* NULL, or a start for partitions
                                  * 0..from_offsets_n-1 (< 0 or past the
                                  * array: the beginning); wins over
                                  * from_offset and from_time_ms */
    int from_offsets_n;
    int64_t from_time_ms;  /* RANGE_UNSET or epoch ms */
    int64_t to_time_ms;    /* RANGE_UNSET or epoch ms (exclusive) */
    const char *key;       /* NULL: every key; owned by the caller */
    int32_t partition;     /* -1: every partition */
    int64_t count;         /* 0: no limit */
    int follow;
    int read_uncommitted;
};

/* Parses ISO 8601 as clock_parse_iso8601() does ("2025-11-23T08:00:00Z",
 * "...T08:00:00.250+01:00", "2025-11-23" for midnight UTC) or epoch
 * milliseconds ("1763884800000"). QA_ERR_INVALID for anything else, naming
 * nothing: the caller names the argument. */
enum qa_err range_parse_time(const char *s, int64_t *ms);

/* Fills o from the range settings (from-offset, from-time, to-time, key,
 * partition, count, follow, read-uncommitted). QA_ERR_INVALID with errstr
 * naming the argument (e.g. "--from-time: not an ISO 8601 time"). */
enum qa_err range_opts_from_cfg(const struct cfg *cfg, struct range_opts *o,
                                char *errstr, size_t errstr_size);

/* Partition count of topic; QA_ERR_NOT_FOUND with `topic "x" does not
 * exist`, QA_ERR_KAFKA when the cluster does not answer. Asks for every
 * topic's metadata so a broker that auto-creates topics does not. */
enum qa_err range_topic_partitions(rd_kafka_t *rk, const char *topic, int *n,
                                   char *errstr, size_t errstr_size);

/* Per partition: offsets_for_times(ms), with "no record at or after it"
 * mapped to the high watermark. offsets[] has n entries. */
enum qa_err range_offsets_for_time(rd_kafka_t *rk, const char *topic, int n,
                                   int64_t ms, int64_t *offsets, char *errstr,
                                   size_t errstr_size);

struct range_reader;

/* Creates a group-less consumer, resolves the range and assigns it.
 * *out is malloc'd; free with range_reader_close(). */
enum qa_err range_reader_open(const struct cfg *cfg, const char *topic,
                              const struct range_opts *o,
                              struct range_reader **out, char *errstr,
                              size_t errstr_size);

/* The next record of the range that passes the key filter, or *msg NULL
 * once every partition is done, --count is reached or *stop is set
 * (checked every poll). The caller destroys *msg with
 * rd_kafka_message_destroy(). */
enum qa_err range_reader_next(struct range_reader *r, rd_kafka_message_t **msg,
                              const volatile sig_atomic_t *stop, char *errstr,
                              size_t errstr_size);

/* Number of partitions of the topic read. */
int range_reader_partitions(const struct range_reader *r);

void range_reader_close(struct range_reader *r);

#endif
