/*
 * sync_policy.h — pages of Genesys queues in, the SLA policy out (SPEC §6)
 * (prefix gen_policy_). Pure: no I/O, no clock, no logging, so that it is
 * unit-tested on JSON alone.
 *
 * A page of GET /api/v2/routing/queues is {"entities":[Queue...],...}; each
 * Queue has "id", "name" and "mediaSettings" with one object per media
 * ("call", "callback", "chat", "email", "message"), each holding
 * "serviceLevel": {"percentage": 0.8, "durationMs": 20000} where percentage
 * is a fraction. The policy carries those values as they are (a fraction
 * stays a fraction), keyed by queue id and sorted, so that the same queues
 * always render the same bytes (a --watch loop rewrites nothing when nothing
 * changed). A queue without one usable service level is skipped: the
 * processor gives it the default anyway.
 */
#ifndef QALERT_GENESYS_SYNC_POLICY_H
#define QALERT_GENESYS_SYNC_POLICY_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* The processor's bound (processor/policy.c): one year. */
#define GEN_POLICY_MAX_DURATION_MS 31536000000LL

struct gen_policy;

struct gen_policy_counts {
    size_t queues;      /* in the policy */
    size_t skipped;     /* entities without an id or without a usable service level */
    size_t duplicates;  /* ids seen twice (a queue moving between pages): last one kept */
    size_t media;       /* media entries written */
};

/* An empty policy with the given default (durationMs > 0, percentage in
 * (0, 1] or (1, 100]). NULL when out of memory or the default is out of
 * range. Free with gen_policy_free(). */
struct gen_policy *gen_policy_new(int64_t default_duration_ms, double default_percentage);
void gen_policy_free(struct gen_policy *p);

/* Adds the queues of one listing page. QA_ERR_INVALID when the page has no
 * "entities" array (errstr says so); bad entities are skipped and counted. */
enum qa_err gen_policy_add_page(struct gen_policy *p, const cJSON *page, char *errstr,
                                size_t errstr_size);
/* Same, from JSON text (tests, files). */
enum qa_err gen_policy_add_page_json(struct gen_policy *p, const char *json, size_t len,
                                     char *errstr, size_t errstr_size);

void gen_policy_counts(const struct gen_policy *p, struct gen_policy_counts *out);

/* The policy as JSON text, queues sorted by id: pretty and ending in a
 * newline (a file people read), or on one line without one (a topic record). NULL when out of
 * memory; the caller frees it with free(). */
char *gen_policy_render(const struct gen_policy *p, int pretty);

#endif
