/*
 * policy_reload.h — the processor's current SLA policy and its reload from
 * QALERT_SLA_POLICY_FILE (SIGHUP), with a log of what changed: queues
 * added, removed, and each queue and media whose threshold, target or name
 * changed (qalert-genesys sync-policy rewrites that file).
 *
 * The same reload takes a policy's text from the policy topic
 * (processor/policy_topic.h).
 *
 * A file that does not load leaves the current policy in place (an error is
 * logged): a half-edited file must never take thresholds away.
 */
#ifndef QALERT_POLICY_RELOAD_H
#define QALERT_POLICY_RELOAD_H

#include <stddef.h>

#include "common/err.h"
#include "processor/policy.h"

struct policy_reload;

/* Loads path (NULL or "": the defaults). NULL with errstr when it does not
 * load. Free with policy_reload_free(), which frees the current policy. */
struct policy_reload *policy_reload_open(const char *path, char *errstr, size_t errstr_size);
void policy_reload_free(struct policy_reload *r);

/* The current policy; owned by r. */
const struct policy *policy_reload_current(const struct policy_reload *r);

/* Reads the file again. On QA_OK the new policy is current, the changes are
 * logged, and *old is the previous policy: the caller frees it with
 * policy_free() once nothing refers to it (every engine switched). On error
 * nothing changes, *old is NULL and errstr says why. */
enum qa_err policy_reload_file(struct policy_reload *r, struct policy **old, char *errstr,
                               size_t errstr_size);

/* The same from a policy's JSON text, e.g. a record of the policy topic
 * (QALERT_SLA_POLICY_TOPIC; topic names it in the log). Same contract as
 * policy_reload_file(); the file, if any, stays the one SIGHUP re-reads. */
enum qa_err policy_reload_text(struct policy_reload *r, const char *text, const char *topic,
                               struct policy **old, char *errstr, size_t errstr_size);

#endif
