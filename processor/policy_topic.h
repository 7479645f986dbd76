/*
 * policy_topic.h — the processor's reader of the SLA policy topic
 * (QALERT_SLA_POLICY_TOPIC), where `qalert-genesys sync-policy --topic`
 * publishes the policy as one record: key "policy", value the policy JSON.
 *
 * One librdkafka consumer with no group membership (assign() only, nothing
 * committed), read_committed, on every partition of the topic from the
 * beginning. At start the topic is read to its end, so the first raw events
 * already use its policy; then the loop polls it without blocking on each
 * tick. Only the newest valid record counts: a record with another key, a
 * tombstone or a value that is not a loadable policy is logged with the
 * reason and ignored (the running policy stays). It never writes.
 *
 * A topic that does not exist yet is not an error: a warning is logged and
 * the poll looks for it again every few seconds.
 */
#ifndef QALERT_POLICY_TOPIC_H
#define QALERT_POLICY_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"

/* The record key sync-policy writes. */
#define POLICY_TOPIC_KEY "policy"

/* The newest valid policy text seen so far (pure; no I/O). Zero-initialise;
 * clear with policy_topic_pick_clear(). */
struct policy_topic_pick {
    char *text;        /* NUL-terminated policy JSON, owned; NULL: none yet */
    int32_t partition;
    int64_t offset;
};

/* Offers one record (in the order read) to pick. It becomes the pick when
 * its key is "policy" and its value loads as a policy (policy_load_string);
 * otherwise the reason is logged (topic, partition and offset name the
 * record) and pick stays. Returns 1 when taken, 0 when ignored, -1 when out
 * of memory. */
int policy_topic_offer(struct policy_topic_pick *pick, const char *topic, int32_t partition,
                       int64_t offset, const void *key, size_t klen, const void *value,
                       size_t vlen);
void policy_topic_pick_clear(struct policy_topic_pick *pick);

struct policy_topic;

/* A reader of topic; owns one consumer. NULL with errstr when the consumer
 * cannot be configured. Free with policy_topic_free(). */
struct policy_topic *policy_topic_new(const struct cfg *cfg, const char *topic, char *errstr,
                                      size_t errstr_size);

/* Destroys the consumer (closing it first). NULL is a no-op. */
void policy_topic_free(struct policy_topic *pt);

/* Reads every partition from its beginning to its end (the end as the
 * watermarks say at the call), waiting at most timeout_ms. *text is the
 * newest valid policy text (malloc'd, the caller frees it) or NULL when the
 * topic holds none, does not exist yet (a warning is logged) or was not read
 * to its end in time (a warning is logged; the poll goes on from there). */
void policy_topic_read_to_end(struct policy_topic *pt, int timeout_ms, char **text);

/* Does not wait for records: takes what is already fetched, at most
 * max_records. Returns the newest valid policy text among them (malloc'd,
 * the caller frees it), or NULL when there is none new. While the topic is
 * missing, looks for it every 5 s (one metadata request of at most 500 ms)
 * and, once found, reads it from the beginning. */
char *policy_topic_poll(struct policy_topic *pt, int max_records);

#endif
