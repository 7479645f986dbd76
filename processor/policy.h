/*
 * policy.h — the SLA policy: per queue and media type, the wait threshold
 * (durationMs) and the target service level (a fraction), plus the priority
 * of each alarm type. Loaded once from QALERT_SLA_POLICY_FILE (SPEC §6).
 *
 * The file mirrors Genesys queue settings:
 *   {"default":{"durationMs":20000,"percentage":0.8},
 *    "priorities":{"wait_sla_breach":"P2","service_level_low":"P1"},
 *    "queues":{"<queueId>":{"name":"Support","priorities":{...},
 *      "mediaSettings":{"call":{"serviceLevel":{"durationMs":30000,"percentage":0.9}}}}}}
 * A percentage <= 1 is a fraction, above 1 per cent (80 -> 0.8); fractions
 * are stored. A field left out inherits the default. A loaded policy is
 * immutable, so engines of several partitions may share one.
 */
#ifndef QALERT_POLICY_H
#define QALERT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define POLICY_DEFAULT_DURATION_MS 20000
#define POLICY_DEFAULT_TARGET 0.8

struct policy;

enum policy_alarm { POLICY_WAIT_SLA_BREACH = 0, POLICY_SERVICE_LEVEL_LOW, POLICY_NALARMS };

struct policy_sla {
    int64_t duration_ms;    /* > 0 */
    double target;          /* fraction in (0, 1] */
    const char *queue_name; /* owned by the policy; NULL when unknown */
};

/* Parses a policy from JSON text. *out is malloc'd; the caller frees it with
 * policy_free(). On error *out is NULL and errstr names the JSON path, e.g.
 * "queues.7c6d.mediaSettings.call.serviceLevel.durationMs: must be a
 * positive integer". */
enum qa_err policy_load_string(const char *json, struct policy **out,
                               char *errstr, size_t errstr_size);

/* Same, from a file; path NULL or "" gives the defaults (20000 ms / 0.8,
 * P2 / P1). The caller frees *out with policy_free(). */
enum qa_err policy_load_file(const char *path, struct policy **out,
                             char *errstr, size_t errstr_size);

/* Reads a policy file into a NUL-terminated malloc'd text the caller frees
 * (at most 16 MiB, no NUL byte inside). */
enum qa_err policy_read_text(const char *path, char **out, char *errstr,
                             size_t errstr_size);

/* The defaults alone; NULL when out of memory. Free with policy_free(). */
struct policy *policy_new_default(void);

void policy_free(struct policy *p);

/* Threshold and target for a queue and a Genesys media type (VOICE, CHAT,
 * ..., any case; NULL allowed); an unknown queue or media gives the default.
 * queue_name is the policy's name for a known queue even then. */
void policy_lookup(const struct policy *p, const char *queue_id,
                   const char *media_type, struct policy_sla *out);

/* "P1".."P5" for an alarm type on a queue (queue override, else top level,
 * else P2 for wait_sla_breach and P1 for service_level_low). Never NULL. */
const char *policy_priority(const struct policy *p, const char *queue_id,
                            enum policy_alarm alarm);

/* The alarm type's wire name: "wait_sla_breach", "service_level_low". */
const char *policy_alarm_name(enum policy_alarm alarm);

/* The mediaSettings key for a Genesys media type (VOICE -> "call", CALLBACK
 * -> "callback", CHAT -> "chat", EMAIL -> "email", MESSAGE -> "message"),
 * case-insensitive; NULL when it is none of them. */
const char *policy_media_key(const char *media_type);

/* Number of queues configured (logs). */
size_t policy_queue_count(const struct policy *p);

#endif
