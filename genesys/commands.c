/*
 * commands.c — see commands.h. Output for people goes to stdout (check's
 * report, a policy without --out/--topic, dry-run requests, the summary);
 * progress goes to the JSON log on stderr. Nothing printed here comes from
 * a secret; strings from Genesys are made printable before they are shown.
 */
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "eventbridge.h"
#include "policy_out.h"
#include "sync_policy.h"

#define PROGRAM "qalert-genesys"

/* A string from the network, bounded and without control bytes. */
static const char *printable(const char *s, char *buf, size_t n)
{
    if (!s)
        return "(none)";
    snprintf(buf, n, "%s", s);
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            *p = '?';
    return buf;
}

static int fail(const char *what, const char *errstr)
{
    fprintf(stderr, "%s: %s: %s\n", PROGRAM, what, errstr);
    return 1;
}

/* --- check -------------------------------------------------------------- */

/* One GET for check; prints "<label>: ok" or the reason, returns 0/1. */
static int probe(const struct gen_cmd_env *env, const char *label, const char *path,
                 const char *permission, cJSON **answer)
{
    char errstr[512];
    long status;
    cJSON *j = NULL;

    if (gen_api_call(env->api, "GET", path, NULL, &status, &j, errstr, sizeof(errstr))) {
        printf("%s: FAILED: %s\n", label, errstr);
        return 1;
    }
    if (status == 403 || status == 401) {
        printf("%s: FAILED: %s (the OAuth client's role needs %s)\n", label, errstr, permission);
        cJSON_Delete(j);
        return 1;
    }
    if (status < 200 || status > 299) {
        printf("%s: FAILED: %s\n", label, errstr);
        cJSON_Delete(j);
        return 1;
    }
    if (answer)
        *answer = j;
    else
        cJSON_Delete(j);
    return 0;
}

int gen_cmd_check(const struct gen_cmd_env *env)
{
    char errstr[512], b1[256], b2[256];
    const char *token;
    cJSON *org = NULL, *info = NULL, *queues = NULL;
    const cJSON *it;
    int failed = 0;

    if (gen_oauth_token(env->oauth, &token, errstr, sizeof(errstr))) {
        printf("token: FAILED: %s\n", errstr);
        return fail("check", errstr);
    }
    printf("token: ok\n");
    if (!probe(env, "organization", "/api/v2/organizations/me", "organization view", &org)) {
        printf("organization: %s (id %s)\n",
               printable(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(org, "name")), b1,
                         sizeof(b1)),
               printable(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(org, "id")), b2,
                         sizeof(b2)));
    } else {
        failed = 1;
    }
    /* The scopes a client-credentials token carries come from its OAuth
     * client; tokens/me lists them. */
    if (!probe(env, "scopes", "/api/v2/tokens/me", "(any)", &info)) {
        printf("scopes:");
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(info, "authorizedScope"))
            printf(" %s", printable(cJSON_GetStringValue(it), b1, sizeof(b1)));
        printf("\n");
    } else {
        failed = 1;
    }
    if (!probe(env, "routing queues", "/api/v2/routing/queues?pageSize=1&pageNumber=1",
               "Routing > Queue > View (scope routing or routing:readonly)", &queues)) {
        const cJSON *total = cJSON_GetObjectItemCaseSensitive(queues, "total");
        printf("routing queues: ok (%.0f queues)\n",
               cJSON_IsNumber(total) ? total->valuedouble : 0.0);
    } else {
        failed = 1;
    }
    if (!probe(env, "integrations", "/api/v2/integrations?pageSize=1&pageNumber=1",
               "Integrations > Integration > View/Add/Edit (scope integrations)", NULL))
        printf("integrations: ok\n");
    else
        failed = 1;
    cJSON_Delete(org);
    cJSON_Delete(info);
    cJSON_Delete(queues);
    if (failed) {
        fprintf(stderr, "%s: check: some checks failed (see above)\n", PROGRAM);
        return 1;
    }
    return 0;
}

/* --- sync-policy -------------------------------------------------------- */

static enum qa_err add_page(const cJSON *page, void *opaque, char *errstr, size_t errstr_size)
{
    return gen_policy_add_page(opaque, page, errstr, errstr_size);
}

/* One sync. *text gets the rendered policy (the caller frees it). */
static enum qa_err sync_once(const struct gen_cmd_env *env, char **text, char *errstr,
                             size_t errstr_size)
{
    const struct cfg *cfg = env->cfg;
    const char *pct_s = cfg_str(cfg, "default-percentage");
    struct gen_policy_counts c;
    struct gen_policy *p;
    enum qa_err err;
    char *end;
    double pct = strtod(pct_s, &end);
    int pages = 0;

    *text = NULL;
    p = gen_policy_new(cfg_int(cfg, "default-duration-ms"), *end ? -1 : pct);
    if (!p)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "QALERT_GENESYS_DEFAULT_PERCENTAGE (--default-percentage): must be a "
                       "number in (0, 1] or (1, 100]");
    err = gen_api_get_pages(env->api, "/api/v2/routing/queues", (int)cfg_int(cfg, "page-size"),
                            add_page, p, &pages, errstr, errstr_size);
    if (!err && !(*text = gen_policy_render(p, !cfg_str(cfg, "topic"))))
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    if (!err) {
        gen_policy_counts(p, &c);
        log_info("queues read", LOG_I("pages", pages), LOG_I("queues", c.queues),
                 LOG_I("skipped", c.skipped), LOG_I("duplicates", c.duplicates),
                 LOG_I("media_entries", c.media), LOG_I("api_requests", gen_api_requests(env->api)),
                 LOG_I("tokens", gen_oauth_tokens_fetched(env->oauth)));
    }
    gen_policy_free(p);
    return err;
}

int gen_cmd_sync_policy(const struct gen_cmd_env *env)
{
    const struct cfg *cfg = env->cfg;
    const char *out = cfg_str(cfg, "out"), *topic = cfg_str(cfg, "topic");
    long long watch = cfg_int(cfg, "watch");
    char errstr[512], *text = NULL, *last = NULL;
    int rc = 0, changed;

    if (out && topic) {
        fprintf(stderr, "%s: --out (QALERT_GENESYS_POLICY_OUT) and --topic "
                        "(QALERT_GENESYS_POLICY_TOPIC): give one of them\n", PROGRAM);
        return 2;
    }
    for (;;) {
        if (sync_once(env, &text, errstr, sizeof(errstr))) {
            if (!watch)
                return fail("sync-policy", errstr);
            log_error("policy sync failed; the previous policy stays", LOG_S("error", errstr));
            rc = 1;
        } else if (out) {
            if (gen_out_write_file(out, text, &changed, errstr, sizeof(errstr))) {
                if (!watch) {
                    free(text);
                    return fail("sync-policy", errstr);
                }
                log_error("policy write failed", LOG_S("error", errstr));
                rc = 1;
            } else {
                log_info(changed ? "policy written" : "policy unchanged", LOG_S("file", out));
                rc = 0;
            }
        } else if (topic) {
            /* Same text as last round: the compacted topic has it already. */
            if (last && strcmp(last, text) == 0) {
                log_info("policy unchanged", LOG_S("topic", topic));
                rc = 0;
            } else if (gen_out_publish(cfg, topic, text, errstr, sizeof(errstr))) {
                if (!watch) {
                    free(text);
                    return fail("sync-policy", errstr);
                }
                log_error("policy publish failed", LOG_S("error", errstr));
                rc = 1;
            } else {
                free(last);
                last = text;
                text = NULL;
                rc = 0;
            }
        } else {
            fputs(text, stdout);
            fflush(stdout);
        }
        free(text);
        text = NULL;
        if (!watch || gen_http_sleep_ms(watch * 1000, env->stop))
            break;
    }
    free(last);
    /* A watch stopped by a signal is a clean stop. */
    return watch ? 0 : rc;
}

/* --- subscribe-eventbridge ---------------------------------------------- */

int gen_cmd_subscribe_eventbridge(const struct gen_cmd_env *env)
{
    const struct cfg *cfg = env->cfg;
    struct gen_eb_config c = {
        .name = cfg_str(cfg, "eventbridge-name"),
        .aws_account_id = cfg_str(cfg, "aws-account-id"),
        .aws_region = cfg_str(cfg, "aws-region"),
        .event_source_suffix = cfg_str(cfg, "event-source-suffix"),
    };
    struct gen_eb_result res;
    int dry = cfg_bool(cfg, "dry-run");
    char errstr[512];

    if (gen_eb_config_check(&c, errstr, sizeof(errstr))) {
        fprintf(stderr, "%s: %s\n", PROGRAM, errstr);
        return 2;
    }
    if (gen_eb_subscribe(env->api, &c, dry, stdout, &res, errstr, sizeof(errstr)))
        return fail("subscribe-eventbridge", errstr);
    printf("{\"integration\":\"%s\",\"created\":%s,\"configWritten\":%s,\"enabled\":%s,"
           "\"dryRun\":%s}\n",
           res.id, res.created ? "true" : "false", res.config_written ? "true" : "false",
           res.enabled ? "true" : "false", dry ? "true" : "false");
    log_info(res.created || res.config_written || res.enabled
                 ? (dry ? "eventbridge integration would change" : "eventbridge integration set up")
                 : "eventbridge integration already up to date",
             LOG_S("integration", res.id), LOG_B("dry_run", dry));
    return 0;
}
