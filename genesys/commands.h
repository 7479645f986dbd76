/*
 * commands.h — the subcommands of qalert-genesys (prefix gen_cmd_), each
 * given the parsed settings and a ready API client. main.c only parses,
 * builds the clients and dispatches.
 *
 * Each returns the process exit code: 0 done, 1 runtime failure (bad
 * credentials, a missing permission, an unreachable region; one line on
 * stderr saying which), 2 a bad setting.
 */
#ifndef QALERT_GENESYS_COMMANDS_H
#define QALERT_GENESYS_COMMANDS_H

#include <signal.h>

#include "api.h"
#include "common/config.h"
#include "oauth.h"

struct gen_cmd_env {
    const struct cfg *cfg;
    struct gen_api *api;
    struct gen_oauth *oauth;
    volatile sig_atomic_t *stop;
};

/* Token, organisation, granted scopes, and whether queues and integrations
 * can be read; one line each on stdout. */
int gen_cmd_check(const struct gen_cmd_env *env);

/* All pages of /api/v2/routing/queues -> the SLA policy, to --out, --topic
 * or stdout; --watch SECONDS repeats until SIGTERM/SIGINT. */
int gen_cmd_sync_policy(const struct gen_cmd_env *env);

/* Creates or updates the EventBridge integration; --dry-run prints the
 * writes instead. One JSON summary line on stdout. */
int gen_cmd_subscribe_eventbridge(const struct gen_cmd_env *env);

#endif
