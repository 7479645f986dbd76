/*
 * qalert-genesys — sets Genesys Cloud up for qalert and keeps the SLA
 * policy in step with the queues' own settings. This file parses settings,
 * builds the HTTP, token and API clients, and hands over to commands.c.
 * It never prints or logs the client secret or a token.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "commands.h"
#include "common/cli.h"
#include "common/config.h"
#include "common/log.h"
#include "http.h"
#include "oauth.h"

#define PROGRAM "qalert-genesys"

static const char summary[] =
    "Sets Genesys Cloud up for qalert: checks credentials, syncs the SLA policy from\n"
    "the queues' service levels, creates the Amazon EventBridge integration.\n"
    "\n"
    "Subcommands:\n"
    "  check                      token, organisation, scopes, queue and integration access\n"
    "  sync-policy [--out FILE | --topic T] [--watch SECONDS]\n"
    "                             every queue's mediaSettings.<media>.serviceLevel -> the\n"
    "                             policy (stdout without --out/--topic); the processor\n"
    "                             reloads a file on SIGHUP\n"
    "  subscribe-eventbridge [--dry-run]\n"
    "                             creates or updates the EventBridge integration with the\n"
    "                             acd.start/acd.end topics; a second run changes nothing\n"
    "\n"
    "Exit: 0 done, 1 runtime failure (bad credentials, missing permission), 2 bad settings.";

static const struct cfg_setting genesys_settings[] = {
    { "region", "QALERT_GENESYS_REGION", CFG_STR, "mypurecloud.com",
      "Genesys Cloud region domain (mypurecloud.com, mypurecloud.ie, euw2.pure.cloud, ...)",
      0, 0, 0, NULL },
    { "client-id", "QALERT_GENESYS_CLIENT_ID", CFG_STR, NULL,
      "OAuth client id (grant type Client Credentials)", 0, 0, 0, NULL },
    { "client-secret", "QALERT_GENESYS_CLIENT_SECRET", CFG_STR, NULL,
      "OAuth client secret", CFG_SECRET, 0, 0, NULL },
    { "login-url", "QALERT_GENESYS_LOGIN_URL", CFG_STR, NULL,
      "token service base URL (default https://login.<region>)", 0, 0, 0, NULL },
    { "api-url", "QALERT_GENESYS_API_URL", CFG_STR, NULL,
      "Platform API base URL (default https://api.<region>)", 0, 0, 0, NULL },
    { "genesys-timeout-ms", "QALERT_GENESYS_TIMEOUT_MS", CFG_INT, "10000",
      "per Genesys HTTP request", 0, 100, 600000, NULL },
    { "max-retries", "QALERT_GENESYS_MAX_RETRIES", CFG_INT, "5",
      "retries of one request after 429 (Retry-After), 5xx or no answer", 0, 0, 100, NULL },
    { "request-delay-ms", "QALERT_GENESYS_REQUEST_DELAY_MS", CFG_INT, "0",
      "pause before each API request (stay well under the org's rate limit)", 0, 0, 60000,
      NULL },
    { "page-size", "QALERT_GENESYS_PAGE_SIZE", CFG_INT, "100",
      "sync-policy: queues per page", 0, 1, 500, NULL },
    { "out", "QALERT_GENESYS_POLICY_OUT", CFG_STR, NULL,
      "sync-policy: write the policy to this file (atomically)", 0, 0, 0, NULL },
    { "topic", "QALERT_GENESYS_POLICY_TOPIC", CFG_STR, NULL,
      "sync-policy: publish the policy (key \"policy\") to this compacted topic", 0, 0, 0,
      NULL },
    { "watch", "QALERT_GENESYS_WATCH", CFG_INT, "0",
      "sync-policy: repeat every this many seconds (0: once)", 0, 0, 604800, NULL },
    { "default-duration-ms", "QALERT_GENESYS_DEFAULT_DURATION_MS", CFG_INT, "20000",
      "sync-policy: the policy's default threshold", 0, 1, 31536000000LL, NULL },
    { "default-percentage", "QALERT_GENESYS_DEFAULT_PERCENTAGE", CFG_STR, "0.8",
      "sync-policy: the policy's default target (fraction)", 0, 0, 0, NULL },
    { "eventbridge-name", "QALERT_GENESYS_EVENTBRIDGE_NAME", CFG_STR, "qalert",
      "subscribe-eventbridge: the integration's name (how it is found again)", 0, 0, 0, NULL },
    { "aws-account-id", "QALERT_GENESYS_AWS_ACCOUNT_ID", CFG_STR, NULL,
      "subscribe-eventbridge: AWS account that receives the partner event source", 0, 0, 0,
      NULL },
    { "aws-region", "QALERT_GENESYS_AWS_REGION", CFG_STR, NULL,
      "subscribe-eventbridge: AWS region of the event source (e.g. eu-west-1)", 0, 0, 0, NULL },
    { "event-source-suffix", "QALERT_GENESYS_EVENT_SOURCE_SUFFIX", CFG_STR, "qalert",
      "subscribe-eventbridge: last part of aws.partner/genesys.com/cloud/<org>/<suffix>", 0, 0,
      0, NULL },
    { "dry-run", "QALERT_GENESYS_DRY_RUN", CFG_BOOL, NULL,
      "subscribe-eventbridge: print the writes instead of sending them", 0, 0, 0, NULL },
    CFG_END,
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* The region goes into host names: a plain domain only. */
static int region_ok(const char *r)
{
    if (!r || !*r || strlen(r) > 100 || *r == '.' || *r == '-')
        return 0;
    for (; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '.' || *r == '-'))
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    const struct cfg_setting *const tables[] = { cfg_common_settings, genesys_settings, NULL };
    struct cfg *cfg = cfg_new(PROGRAM, summary, tables);
    struct gen_http *http = NULL;
    struct gen_oauth *oauth = NULL;
    struct gen_api *api = NULL;
    char login[256], apiurl[256], **pos = NULL;
    const char *region, *cmd;
    struct sigaction sa;
    int npos, rc;

    if (!cfg) {
        fprintf(stderr, "%s: out of memory\n", PROGRAM);
        return 1;
    }
    if ((rc = cli_start(cfg, PROGRAM, argc, argv)) >= 0)
        goto out;
    npos = cfg_positional(cfg, &pos);
    cmd = npos >= 1 ? pos[0] : NULL;
    if (!cmd || (strcmp(cmd, "check") != 0 && strcmp(cmd, "sync-policy") != 0 &&
                 strcmp(cmd, "subscribe-eventbridge") != 0) || npos > 1) {
        fprintf(stderr, "%s: one subcommand is required: check, sync-policy or "
                        "subscribe-eventbridge (see --help)\n", PROGRAM);
        rc = 2;
        goto out;
    }
    region = cfg_str(cfg, "region");
    if (!region_ok(region)) {
        rc = cli_bad_config(PROGRAM, "QALERT_GENESYS_REGION (--region)",
                            "must be a domain such as mypurecloud.com or euw2.pure.cloud");
        goto out;
    }
    if (!cfg_str(cfg, "client-id")) {
        rc = cli_bad_config(PROGRAM, "QALERT_GENESYS_CLIENT_ID (--client-id)", "required");
        goto out;
    }
    if (!cfg_str(cfg, "client-secret")) {
        rc = cli_bad_config(PROGRAM, "QALERT_GENESYS_CLIENT_SECRET (--client-secret)",
                            "required (or QALERT_GENESYS_CLIENT_SECRET_FILE)");
        goto out;
    }
    snprintf(login, sizeof(login), "%s",
             cfg_str(cfg, "login-url") ? cfg_str(cfg, "login-url") : "");
    snprintf(apiurl, sizeof(apiurl), "%s", cfg_str(cfg, "api-url") ? cfg_str(cfg, "api-url") : "");
    if (!login[0])
        snprintf(login, sizeof(login), "https://login.%s", region);
    if (!apiurl[0])
        snprintf(apiurl, sizeof(apiurl), "https://api.%s", region);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    cfg_log_effective(cfg);

    rc = 1;
    struct gen_oauth_opts oo = {
        .login_url = login,
        .client_id = cfg_str(cfg, "client-id"),
        .client_secret = cfg_str(cfg, "client-secret"),
        .max_retries = (int)cfg_int(cfg, "max-retries"),
        .stop = &stop_flag,
    };
    struct gen_api_opts ao = {
        .api_url = apiurl,
        .max_retries = (int)cfg_int(cfg, "max-retries"),
        .request_delay_ms = cfg_int(cfg, "request-delay-ms"),
        .stop = &stop_flag,
    };
    if (!(http = gen_http_new((long)cfg_int(cfg, "genesys-timeout-ms"))) ||
        !(oauth = gen_oauth_new(http, &oo)) || !(api = gen_api_new(http, oauth, &ao))) {
        fprintf(stderr, "%s: out of memory\n", PROGRAM);
        goto out;
    }
    struct gen_cmd_env env = { .cfg = cfg, .api = api, .oauth = oauth, .stop = &stop_flag };
    if (strcmp(cmd, "check") == 0)
        rc = gen_cmd_check(&env);
    else if (strcmp(cmd, "sync-policy") == 0)
        rc = gen_cmd_sync_policy(&env);
    else
        rc = gen_cmd_subscribe_eventbridge(&env);
out:
    gen_api_free(api);
    gen_oauth_free(oauth);
    gen_http_free(http);
    cfg_free(cfg);
    return rc;
}
