/*
 * opsgenie.h — requests for the OpsGenie Alert API v2 (also served by Jira
 * Service Management's OpsGenie-compatible API), built from a struct alert.
 *
 * FIRING → POST {base}/v2/alerts (create; OpsGenie de-duplicates open alerts
 * by alias, so a re-delivery only raises the count); RESOLVED → POST
 * {base}/v2/alerts/{alias}/close?identifierType=alias. Success is 202 with a
 * requestId: the work is queued on OpsGenie's side.
 *
 * Pure: builds, never sends. The API key goes only into the Authorization
 * header of the request, never into a body or a log.
 */
#ifndef QALERT_SINK_OPSGENIE_H
#define QALERT_SINK_OPSGENIE_H

#include <stddef.h>

#include "common/codec.h"
#include "common/err.h"
#include "notifier/sinks/sink.h"

/* Field limits of the Alert API (docs.opsgenie.com "Alert API", in
 * characters); longer values are refused with 422 or silently cut, so we cut
 * them ourselves at a character boundary. */
#define SINK_OPSGENIE_MESSAGE_MAX 130
#define SINK_OPSGENIE_ALIAS_MAX 512
#define SINK_OPSGENIE_DESCRIPTION_MAX 15000
#define SINK_OPSGENIE_TAGS_MAX 20
#define SINK_OPSGENIE_TAG_MAX 50
#define SINK_OPSGENIE_DETAILS_MAX 8000 /* keys and values together */
#define SINK_OPSGENIE_ENTITY_MAX 512
#define SINK_OPSGENIE_NOTE_MAX 25000
#define SINK_OPSGENIE_SOURCE "qalert"

/* The alias for a grouping key: the key itself, or, when it is longer than
 * 512 bytes, the lower-case hex SHA-256 of it (64 chars), still one alias
 * per key. buf needs SINK_OPSGENIE_ALIAS_MAX + 1 bytes. */
enum qa_err sink_opsgenie_alias(const char *grouping_key, char *buf, size_t n,
                                char *errstr, size_t errstr_size);

/* Builds the create (FIRING) or close (RESOLVED) request. base_url is
 * QALERT_OPSGENIE_API_URL (a trailing '/' is ignored), api_key the GenieKey.
 * On success *req owns malloc'd members: release with sink_request_clear();
 * on failure *req is left cleared. QA_ERR_INVALID for a missing grouping key,
 * a bad URL or a key with control characters. */
enum qa_err sink_opsgenie_request(const struct alert *al, const char *base_url,
                                  const char *api_key, struct sink_request *req,
                                  char *errstr, size_t errstr_size);

#endif
