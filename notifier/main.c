/*
 * main.c — qalert-notifier --sink slack|opsgenie: alerts topic → one sink,
 * with a retry chain and a dead-letter topic per sink (SPEC §3, §5, §7).
 *
 * Thin on purpose: settings (with per-sink defaults for the group, the
 * admin address and the pace), credential checks, the admin server, then
 * delivery_run() until SIGTERM/SIGINT. Exit 0 clean, 2 bad configuration
 * (naming the setting), 1 runtime failure. It must never print a secret or
 * a webhook URL, and never start without the chosen sink's credentials.
 */
#include <curl/curl.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/admin.h"
#include "common/cli.h"
#include "common/codec.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "notifier/delivery.h"

static const char program[] = "qalert-notifier";

static const struct cfg_setting notifier_settings[] = {
    { "sink", "QALERT_SINK", CFG_STR, NULL, "where alerts go: slack or opsgenie",
      CFG_REQUIRED, 0, 0, "slack|opsgenie" },
    { "slack-webhook-url", "QALERT_SLACK_WEBHOOK_URL", CFG_STR, NULL,
      "Slack incoming webhook URL (a secret)", CFG_SECRET, 0, 0, NULL },
    { "slack-api-url", "QALERT_SLACK_API_URL", CFG_STR, "https://slack.com/api",
      "Slack Web API base URL (Web API mode)", 0, 0, 0, NULL },
    { "slack-bot-token", "QALERT_SLACK_BOT_TOKEN", CFG_STR, NULL,
      "Slack bot token; with a channel, Web API mode threads RESOLVED under FIRING",
      CFG_SECRET, 0, 0, NULL },
    { "slack-channel", "QALERT_SLACK_CHANNEL", CFG_STR, NULL,
      "Slack channel (Web API mode)", 0, 0, 0, NULL },
    { "opsgenie-api-url", "QALERT_OPSGENIE_API_URL", CFG_STR, "https://api.opsgenie.com",
      "OpsGenie API base URL (https://api.eu.opsgenie.com for EU)", 0, 0, 0, NULL },
    { "opsgenie-api-key", "QALERT_OPSGENIE_API_KEY", CFG_STR, NULL,
      "OpsGenie API key, sent as Authorization: GenieKey <key>", CFG_SECRET, 0, 0, NULL },
    { "retry-delays-ms", "QALERT_RETRY_DELAYS_MS", CFG_STR, "10000,60000,600000",
      "delay before each retry, one retry topic per delay", 0, 0, 0, NULL },
    { "http-timeout-ms", "QALERT_HTTP_TIMEOUT_MS", CFG_INT, "10000",
      "timeout of one request to the sink", 0, 100, 600000, NULL },
    { "sink-rate", "QALERT_SINK_RATE", CFG_INT, NULL,
      "requests per second to the sink (default: 1 for slack, 10 for opsgenie)",
      0, 1, 1000000, NULL },
    { "notifier-concurrency", "QALERT_NOTIFIER_CONCURRENCY", CFG_INT, "4",
      "requests to the sink in flight at once (one connection each)", 0, 1, 2048, NULL },
    CFG_END
};

static volatile sig_atomic_t stop_requested;
static unsigned watchdog_seconds = 10;

/* The first signal starts the drain and arms the watchdog (alarm() is
 * async-signal-safe): the process is gone within QALERT_SHUTDOWN_TIMEOUT_MS. */
static void on_signal(int sig)
{
    (void)sig;
    if (!stop_requested)
        alarm(watchdog_seconds);
    stop_requested = 1;
}

/* The shutdown watchdog: a drain that outlives its budget is cut here; the
 * records not yet committed are read again by the next consumer. */
static void on_alarm(int sig)
{
    static const char msg[] = "{\"level\":\"error\",\"program\":\"qalert-notifier\","
                              "\"msg\":\"shutdown timeout; exiting\"}\n";
    (void)sig;
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(1);
}

/* The sink named before parsing (flag or variable), so that the per-sink
 * defaults are in place when the settings are read and printed by --help. */
static const char *early_sink(int argc, char **argv)
{
    const char *s = getenv("QALERT_SINK");

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--sink") == 0 && i + 1 < argc)
            s = argv[i + 1];
        else if (strncmp(argv[i], "--sink=", 7) == 0)
            s = argv[i] + 7;
    }
    return s;
}

static int sink_defaults(struct cfg *cfg, const char *sink)
{
    int slack = sink && strcmp(sink, "slack") == 0;
    int opsgenie = sink && strcmp(sink, "opsgenie") == 0;

    if (!slack && !opsgenie)
        return 0;
    return cfg_set_default(cfg, "group-id", slack ? "qalert-notifier-slack"
                                                  : "qalert-notifier-opsgenie") ||
           cfg_set_default(cfg, "admin-addr", slack ? "0.0.0.0:9401" : "0.0.0.0:9402") ||
           cfg_set_default(cfg, "sink-rate", slack ? "1" : "10");
}

static int check_credentials(const struct cfg *cfg, struct delivery_config *dc)
{
    if (dc->sink == DELIVERY_OPSGENIE) {
        if (!cfg_str(cfg, "opsgenie-api-key"))
            return cli_bad_config(program, "QALERT_OPSGENIE_API_KEY (--opsgenie-api-key)",
                                  "required with --sink opsgenie");
        return -1;
    }
    if (!dc->slack.webhook_url && !sink_slack_use_web_api(&dc->slack)) {
        if (dc->slack.bot_token || dc->slack.channel)
            return cli_bad_config(program, dc->slack.bot_token
                                  ? "QALERT_SLACK_CHANNEL (--slack-channel)"
                                  : "QALERT_SLACK_BOT_TOKEN (--slack-bot-token)",
                                  "Web API mode needs both a bot token and a channel");
        return cli_bad_config(program, "QALERT_SLACK_WEBHOOK_URL (--slack-webhook-url)",
                              "required with --sink slack (or QALERT_SLACK_BOT_TOKEN "
                              "with QALERT_SLACK_CHANNEL)");
    }
    return -1;
}

/* Descriptors beyond the sink's connections: Kafka's sockets (a few per
 * broker and client), the admin server, logs, curl's resolver. */
#define FD_MARGIN 128

/* Every request in flight holds a connection, so the open-file limit must
 * have room for them: the soft limit is raised to what is needed (up to the
 * hard limit). -1 when there is room, else the exit code of a bad setting. */
static int room_for_connections(int concurrency)
{
    rlim_t need = (rlim_t)concurrency + FD_MARGIN;
    struct rlimit rl;
    char why[160];

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur >= need)
        return -1;
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
        rl.rlim_cur = need;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            return -1;
    }
    snprintf(why, sizeof(why),
             "%d connections need an open-file limit of %llu, the hard limit is %llu "
             "(raise it, e.g. ulimit -Hn, or lower the setting)",
             concurrency, (unsigned long long)need, (unsigned long long)rl.rlim_max);
    return cli_bad_config(program, "QALERT_NOTIFIER_CONCURRENCY (--notifier-concurrency)",
                          why);
}

static int run(struct cfg *cfg)
{
    struct delivery_config dc;
    struct delivery *d = NULL;
    struct admin_server *admin = NULL;
    char err[512];
    int rc = 1;

    memset(&dc, 0, sizeof(dc));
    dc.cfg = cfg;
    dc.sink_name = cfg_str(cfg, "sink");
    dc.sink = strcmp(dc.sink_name, "slack") == 0 ? DELIVERY_SLACK : DELIVERY_OPSGENIE;
    dc.alerts_topic = cfg_str(cfg, "topic-alerts");
    dc.group_id = cfg_str(cfg, "group-id");
    dc.http_timeout_ms = (long)cfg_int(cfg, "http-timeout-ms");
    dc.concurrency = (int)cfg_int(cfg, "notifier-concurrency");
    dc.rate = (double)cfg_int(cfg, "sink-rate");
    dc.shutdown_timeout_ms = (long)cfg_int(cfg, "shutdown-timeout-ms");
    dc.slack.webhook_url = cfg_str(cfg, "slack-webhook-url");
    dc.slack.api_url = cfg_str(cfg, "slack-api-url");
    dc.slack.bot_token = cfg_str(cfg, "slack-bot-token");
    dc.slack.channel = cfg_str(cfg, "slack-channel");
    dc.opsgenie_url = cfg_str(cfg, "opsgenie-api-url");
    dc.opsgenie_key = cfg_str(cfg, "opsgenie-api-key");
    if ((rc = check_credentials(cfg, &dc)) >= 0 ||
        (rc = room_for_connections(dc.concurrency)) >= 0)
        return rc;
    rc = 1;
    if (retry_parse_delays(cfg_str(cfg, "retry-delays-ms"), dc.delays, RETRY_MAX_DELAYS,
                           &dc.ndelays, err, sizeof(err)))
        return cli_bad_config(program, "QALERT_RETRY_DELAYS_MS (--retry-delays-ms)", err);
    /* A webhook URL is a secret as a whole (config registers it too). */
    if (dc.slack.webhook_url)
        log_add_secret(dc.slack.webhook_url);
    cfg_log_effective(cfg);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("cannot initialise libcurl");
        return 1;
    }
    if ((rc = cli_codec_setup(cfg)) >= 0)
        goto out;
    rc = 1;
    metrics_build_info(program, QALERT_VERSION);
    if (!(d = delivery_new(&dc, err, sizeof(err)))) {
        log_error("cannot start", LOG_S("reason", err));
        goto out;
    }
    if (!(admin = admin_start(cfg_str(cfg, "admin-addr"), delivery_ready, d, err,
                              sizeof(err)))) {
        log_error("admin server", LOG_S("addr", cfg_str(cfg, "admin-addr")),
                  LOG_S("reason", err));
        goto out;
    }
    watchdog_seconds = (unsigned)((dc.shutdown_timeout_ms + 999) / 1000);
    if (watchdog_seconds < 1)
        watchdog_seconds = 1;
    signal(SIGALRM, on_alarm);
    cli_catch_signals(on_signal, SIGTERM, SIGINT, 0);
    signal(SIGPIPE, SIG_IGN);
    log_info("admin listening", LOG_I("port", admin_port(admin)));
    rc = delivery_run(d, &stop_requested);
out:
    admin_stop(admin);
    delivery_free(d);
    codec_shutdown();
    curl_global_cleanup();
    return rc;
}

int main(int argc, char **argv)
{
    const struct cfg_setting *const tables[] = { cfg_common_settings, cfg_daemon_settings,
                                                 notifier_settings, NULL };
    struct cfg *cfg = cfg_new(program,
                              "delivers alerts from the alerts topic to one sink "
                              "(Slack or OpsGenie), with retry topics and a dead-letter topic",
                              tables);
    int rc;

    if (!cfg) {
        fprintf(stderr, "%s: out of memory\n", program);
        return 1;
    }
    if (sink_defaults(cfg, early_sink(argc, argv))) {
        fprintf(stderr, "%s: out of memory\n", program);
        cfg_free(cfg);
        return 1;
    }
    rc = cli_start(cfg, program, argc, argv);
    if (rc < 0)
        rc = run(cfg);
    cfg_free(cfg);
    return rc;
}
