/*
 * eventbridge.c — see eventbridge.h. The integrations API flow (as the
 * Genesys SDKs and CX as Code do it):
 *   GET  /api/v2/integrations?pageSize=100&pageNumber=N   find by name
 *   POST /api/v2/integrations {"name","integrationType":{"id"}}  create
 *   GET  /api/v2/integrations/{id}/config/current         {"version","properties",...}
 *   PUT  /api/v2/integrations/{id}/config/current         the same with our properties
 *                                                          (version = current: optimistic lock)
 *   PATCH /api/v2/integrations/{id} {"intendedState":"ENABLED"}
 * Ids from the API go into paths, so they are checked to be plain ids first.
 * It must never write when nothing differs.
 */
#include "eventbridge.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

const char *const gen_eb_topic_filters[] = {
    "v2.detail.events.conversation.{id}.acd.start",
    "v2.detail.events.conversation.{id}.acd.end",
    NULL,
};

static int all_chars(const char *s, const char *extra, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return 0;
    return 1;
}

enum qa_err gen_eb_config_check(const struct gen_eb_config *c, char *errstr, size_t errstr_size)
{
    size_t n = c->aws_account_id ? strlen(c->aws_account_id) : 0;

    if (!c->name || !*c->name || strlen(c->name) > 200)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "QALERT_GENESYS_EVENTBRIDGE_NAME (--eventbridge-name): 1 to 200 characters");
    if (n != 12 || !all_chars(c->aws_account_id, "", 12) ||
        strspn(c->aws_account_id, "0123456789") != 12)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "QALERT_GENESYS_AWS_ACCOUNT_ID (--aws-account-id): must be the 12-digit "
                       "AWS account id");
    if (!all_chars(c->aws_region, "-", 32))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "QALERT_GENESYS_AWS_REGION (--aws-region): must be an AWS region such as "
                       "eu-west-1");
    /* It becomes the last part of the partner event bus name. */
    if (!all_chars(c->event_source_suffix, "._-", 64))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "QALERT_GENESYS_EVENT_SOURCE_SUFFIX (--event-source-suffix): letters, "
                       "digits, '.', '_' or '-', at most 64");
    return QA_OK;
}

cJSON *gen_eb_properties(const struct gen_eb_config *c)
{
    cJSON *p = cJSON_CreateObject(), *filters;

    if (!p || !cJSON_AddStringToObject(p, "awsAccountId", c->aws_account_id) ||
        !cJSON_AddStringToObject(p, "awsAccountRegion", c->aws_region) ||
        !cJSON_AddStringToObject(p, "eventSourceSuffix", c->event_source_suffix) ||
        !(filters = cJSON_AddArrayToObject(p, "eventFilter")))
        goto fail;
    for (size_t i = 0; gen_eb_topic_filters[i]; i++) {
        cJSON *s = cJSON_CreateString(gen_eb_topic_filters[i]);
        if (!s)
            goto fail;
        cJSON_AddItemToArray(filters, s);
    }
    return p;
fail:
    cJSON_Delete(p);
    return NULL;
}

static int same_string(const cJSON *a, const cJSON *b, const char *key)
{
    const char *x = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, key));
    const char *y = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, key));
    return x && y && strcmp(x, y) == 0;
}

static int contains(const cJSON *arr, const char *s)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        const char *v = cJSON_GetStringValue(it);
        if (v && strcmp(v, s) == 0)
            return 1;
    }
    return 0;
}

int gen_eb_properties_match(const cJSON *current, const cJSON *wanted)
{
    const cJSON *cf = cJSON_GetObjectItemCaseSensitive(current, "eventFilter");
    const cJSON *wf = cJSON_GetObjectItemCaseSensitive(wanted, "eventFilter");
    const cJSON *it;

    if (!cJSON_IsObject(current) || !cJSON_IsArray(cf) || !cJSON_IsArray(wf))
        return 0;
    if (!same_string(current, wanted, "awsAccountId") ||
        !same_string(current, wanted, "awsAccountRegion") ||
        !same_string(current, wanted, "eventSourceSuffix"))
        return 0;
    /* As sets: Genesys may keep them in its own order. */
    cJSON_ArrayForEach(it, wf)
        if (!cJSON_IsString(it) || !contains(cf, it->valuestring))
            return 0;
    cJSON_ArrayForEach(it, cf)
        if (!cJSON_IsString(it) || !contains(wf, it->valuestring))
            return 0;
    return 1;
}

/* --- the API flow ----------------------------------------------------- */

struct find_ctx {
    const char *name;
    cJSON *found;       /* a copy of the matching integration */
    int clash;          /* same name, another type */
};

static enum qa_err find_page(const cJSON *page, void *opaque, char *errstr, size_t errstr_size)
{
    struct find_ctx *f = opaque;
    const cJSON *it;

    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(page, "entities")) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name"));
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "integrationType");
        const char *tid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(type, "id"));
        if (!name || strcmp(name, f->name) != 0)
            continue;
        if (!tid || strcmp(tid, GEN_EB_TYPE) != 0) {
            f->clash = 1;
            continue;
        }
        if (f->found)
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                           "two %s integrations are named \"%s\": rename or delete one",
                           GEN_EB_TYPE, f->name);
        if (!(f->found = cJSON_Duplicate(it, 1)))
            return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    }
    return QA_OK;
}

/* Sends (or, in a dry run, prints) one write. *answer (may be NULL) gets
 * the parsed answer of a sent request; the caller frees it. */
static enum qa_err write_req(struct gen_api *a, int dry_run, FILE *out, const char *method,
                             const char *path, const cJSON *body, cJSON **answer,
                             char *errstr, size_t errstr_size)
{
    char *text = cJSON_PrintUnformatted(body);
    enum qa_err err = QA_OK;
    cJSON *ans = NULL;
    long status;

    if (answer)
        *answer = NULL;
    if (!text)
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    if (dry_run) {
        fprintf(out, "%s %s\n%s\n", method, path, text);
        goto out;
    }
    if ((err = gen_api_call(a, method, path, text, &status, &ans, errstr, errstr_size)))
        goto out;
    if (status < 200 || status > 299) {
        err = QA_ERR_IO; /* errstr has Genesys' message */
        goto out;
    }
    log_info("genesys integration written", LOG_S("method", method), LOG_S("path", path),
             LOG_I("status", status));
    if (answer) {
        *answer = ans;
        ans = NULL;
    }
out:
    cJSON_Delete(ans);
    free(text);
    return err;
}

enum qa_err gen_eb_subscribe(struct gen_api *a, const struct gen_eb_config *c, int dry_run,
                             FILE *out, struct gen_eb_result *res, char *errstr,
                             size_t errstr_size)
{
    struct find_ctx f = { .name = c->name };
    cJSON *wanted = NULL, *body = NULL, *created = NULL, *cfg = NULL;
    const cJSON *v;
    const char *id = NULL, *state;
    char path[256];
    enum qa_err err;
    long status;
    double version = 1;

    memset(res, 0, sizeof(*res));
    if ((err = gen_eb_config_check(c, errstr, errstr_size)))
        return err;
    if (!(wanted = gen_eb_properties(c)))
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    if ((err = gen_api_get_pages(a, "/api/v2/integrations", 100, find_page, &f, NULL, errstr,
                                 errstr_size)))
        goto out;
    if (!f.found && f.clash) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                      "an integration named \"%s\" exists but is not of type %s: choose "
                      "another QALERT_GENESYS_EVENTBRIDGE_NAME", c->name, GEN_EB_TYPE);
        goto out;
    }

    if (!f.found) {
        if (!(body = cJSON_CreateObject()) || !cJSON_AddStringToObject(body, "name", c->name) ||
            !(v = cJSON_AddObjectToObject(body, "integrationType")) ||
            !cJSON_AddStringToObject((cJSON *)v, "id", GEN_EB_TYPE)) {
            err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
            goto out;
        }
        if ((err = write_req(a, dry_run, out, "POST", "/api/v2/integrations", body, &created,
                             errstr, errstr_size)))
            goto out;
        res->created = 1;
        if (!dry_run) {
            id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(created, "id"));
            f.found = created;
            created = NULL;
        }
    } else {
        id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f.found, "id"));
    }
    if (!dry_run || f.found) {
        if (!all_chars(id, "-", 64)) {
            err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                          "the integrations API gave no usable integration id");
            goto out;
        }
        snprintf(res->id, sizeof(res->id), "%s", id);
    }

    /* The current configuration: its version is the lock the PUT must carry. */
    if (res->id[0]) {
        snprintf(path, sizeof(path), "/api/v2/integrations/%s/config/current", res->id);
        if ((err = gen_api_call(a, "GET", path, NULL, &status, &cfg, errstr, errstr_size)))
            goto out;
        if (status < 200 || status > 299) {
            err = QA_ERR_IO;
            goto out;
        }
        v = cJSON_GetObjectItemCaseSensitive(cfg, "version");
        if (cJSON_IsNumber(v))
            version = v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(cfg, "properties");
    const char *cfg_name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "name"));
    if (!gen_eb_properties_match(v, wanted) || !cfg_name || strcmp(cfg_name, c->name) != 0) {
        cJSON_Delete(body);
        body = cJSON_CreateObject();
        const cJSON *adv = cJSON_GetObjectItemCaseSensitive(cfg, "advanced");
        if (!body || !cJSON_AddStringToObject(body, "name", c->name) ||
            !cJSON_AddNumberToObject(body, "version", version) ||
            !cJSON_AddStringToObject(body, "notes",
                                     "Managed by qalert-genesys subscribe-eventbridge") ||
            !cJSON_AddItemToObject(body, "advanced",
                                   cJSON_IsObject(adv) ? cJSON_Duplicate(adv, 1)
                                                       : cJSON_CreateObject()) ||
            !cJSON_AddItemToObject(body, "properties", cJSON_Duplicate(wanted, 1))) {
            err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
            goto out;
        }
        snprintf(path, sizeof(path), "/api/v2/integrations/%s/config/current",
                 res->id[0] ? res->id : "{id}");
        if ((err = write_req(a, dry_run, out, "PUT", path, body, NULL, errstr, errstr_size)))
            goto out;
        res->config_written = 1;
    }

    state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f.found, "intendedState"));
    if (!state || strcmp(state, "ENABLED") != 0) {
        cJSON_Delete(body);
        body = cJSON_CreateObject();
        if (!body || !cJSON_AddStringToObject(body, "intendedState", "ENABLED")) {
            err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
            goto out;
        }
        snprintf(path, sizeof(path), "/api/v2/integrations/%s", res->id[0] ? res->id : "{id}");
        if ((err = write_req(a, dry_run, out, "PATCH", path, body, NULL, errstr, errstr_size)))
            goto out;
        res->enabled = 1;
    }
out:
    cJSON_Delete(f.found);
    cJSON_Delete(created);
    cJSON_Delete(cfg);
    cJSON_Delete(body);
    cJSON_Delete(wanted);
    return err;
}
