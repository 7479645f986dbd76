/*
 * eventbridge.h — the Genesys Cloud "Amazon EventBridge Source" integration
 * that delivers the conversation events qalert needs (prefix gen_eb_).
 *
 * Integration type "amazon-eventbridge-source"; its configuration
 * properties are {"awsAccountId","awsAccountRegion","eventSourceSuffix",
 * "eventFilter":[topic...]}. Genesys then offers the partner event source
 * aws.partner/genesys.com/cloud/<orgId>/<suffix> in that AWS account.
 *
 * Idempotent: the integration is found by name; it is created only when
 * missing, its configuration written only when it differs from the wanted
 * one, and it is enabled only when it is not. A second run sends no write.
 * With dry_run, writes are printed (method, path, body) and not sent.
 */
#ifndef QALERT_GENESYS_EVENTBRIDGE_H
#define QALERT_GENESYS_EVENTBRIDGE_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "api.h"
#include "common/err.h"

#define GEN_EB_TYPE "amazon-eventbridge-source"

struct gen_eb_config {
    const char *name;                /* integration name */
    const char *aws_account_id;      /* 12 digits */
    const char *aws_region;          /* "eu-west-1" */
    const char *event_source_suffix; /* [A-Za-z0-9._-]+ */
};

/* The notification topics qalert consumes, NULL-terminated. */
extern const char *const gen_eb_topic_filters[];

/* QA_ERR_INVALID with errstr naming the setting when a field is malformed. */
enum qa_err gen_eb_config_check(const struct gen_eb_config *c, char *errstr, size_t errstr_size);

/* The wanted "properties" object; the caller frees it (cJSON_Delete). NULL
 * when out of memory. */
cJSON *gen_eb_properties(const struct gen_eb_config *c);

/* 1 when `current` (a configuration's properties) already says what
 * `wanted` says: same account, region and suffix, and the same topic
 * filters in any order. Keys Genesys adds are ignored. */
int gen_eb_properties_match(const cJSON *current, const cJSON *wanted);

struct gen_eb_result {
    char id[80];          /* the integration's id ("" in a dry run that would create) */
    int created;
    int config_written;
    int enabled;
};

/* Finds, creates, configures and enables the integration (see above). out
 * receives the dry run's requests. */
enum qa_err gen_eb_subscribe(struct gen_api *a, const struct gen_eb_config *c, int dry_run,
                             FILE *out, struct gen_eb_result *res, char *errstr,
                             size_t errstr_size);

#endif
