/*
 * main.c — qalert-ingest: Genesys webhooks and EventBridge events over HTTP
 * into the raw events topic (SPEC §2–4).
 *
 * Thin on purpose: settings, credentials, then the publisher and the server,
 * and a main loop that only looks at signal flags. Exit codes: 0 clean, 2 bad
 * configuration (one line naming the setting), 1 runtime failure. It must
 * never start without a credential: an open ingest would let anyone inject
 * alerts.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/cli.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "ingest/auth.h"
#include "ingest/publisher.h"
#include "ingest/server.h"


static const struct cfg_setting ingest_settings[] = {
    { "ingest-addr", "QALERT_INGEST_ADDR", CFG_STR, "0.0.0.0:8080",
      "listen address (events, /healthz, /readyz, /metrics)", 0, 0, 0, NULL },
    { "ingest-hmac-secrets", "QALERT_INGEST_HMAC_SECRETS", CFG_STR, NULL,
      "comma-separated HMAC-SHA256 secrets; any one verifies (rotation)",
      CFG_SECRET, 0, 0, NULL },
    { "ingest-hmac-secrets-file", "QALERT_INGEST_HMAC_SECRETS_FILE", CFG_STR,
      NULL, "file of HMAC secrets, one per line, re-read on SIGHUP", 0, 0, 0,
      NULL },
    { "ingest-bearer-tokens", "QALERT_INGEST_BEARER_TOKENS", CFG_STR, NULL,
      "comma-separated accepted `Authorization: Bearer` tokens", CFG_SECRET,
      0, 0, NULL },
    { "ingest-api-key-header", "QALERT_INGEST_API_KEY_HEADER", CFG_STR, NULL,
      "name of a header carrying an API key (EventBridge API destinations)",
      0, 0, 0, NULL },
    { "ingest-api-keys", "QALERT_INGEST_API_KEYS", CFG_STR, NULL,
      "comma-separated accepted values of the API-key header", CFG_SECRET, 0,
      0, NULL },
    { "ingest-max-body", "QALERT_INGEST_MAX_BODY", CFG_INT, "1048576",
      "largest accepted body in bytes; larger is 413", 0, 1, 64 * 1024 * 1024,
      NULL },
    { "ingest-publish-timeout-ms", "QALERT_INGEST_PUBLISH_TIMEOUT_MS", CFG_INT,
      "5000", "time Kafka has to acknowledge a request's events, else 503", 0,
      100, 600000, NULL },
    /* 1: the deployment gives ingest one CPU and scales out by replicas;
     * a second thread on two shared cores cost more per request than it
     * gained (bench/NOTES.md). More for hosts with cores to spare. */
    { "ingest-threads", "QALERT_INGEST_THREADS", CFG_INT, "1",
      "HTTP threads, each listening on the port (SO_REUSEPORT)", 0, 1, 64, NULL },
    { "topic-raw-partitions", "QALERT_TOPIC_RAW_PARTITIONS", CFG_INT, "3",
      "partitions of the raw topic when ingest creates it", 0, 1, 10000, NULL },
    CFG_END
};

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_requested = 1;
    else
        stop_requested = 1;
}

/* The secrets file named by --ingest-hmac-secrets-file, or the one
 * QALERT_INGEST_HMAC_SECRETS_FILE fed to the secret setting. */
static const char *secrets_file(const struct cfg *cfg)
{
    const char *f = cfg_str(cfg, "ingest-hmac-secrets-file");
    return f ? f : cfg_source_file(cfg, "ingest-hmac-secrets");
}

/* Builds a credential set from the settings (and the secrets file, read
 * now). *out is the caller's (auth_creds_release or an auth_store). */
static enum qa_err load_creds(const struct cfg *cfg, struct auth_creds **out,
                              char *errstr, size_t errstr_size)
{
    struct auth_creds *c = auth_creds_new();
    const char *file = secrets_file(cfg), *hdr, *keys;
    char *content = NULL, why[512];
    enum qa_err err = QA_ERR_NOMEM;

    *out = NULL;
    if (!c)
        return qa_errf(errstr, errstr_size, err, "out of memory");
    /* A value that came from the file is read again below, line by line. */
    if (!cfg_source_file(cfg, "ingest-hmac-secrets") &&
        (err = auth_creds_add_list(c, AUTH_HMAC_SECRET,
                                   cfg_str(cfg, "ingest-hmac-secrets"), ',',
                                   why, sizeof(why)))) {
        qa_errf(errstr, errstr_size, err, "--ingest-hmac-secrets: %s", why);
        goto out;
    }
    if (file) {
        if ((err = cfg_read_value_file(file, &content, why, sizeof(why)))) {
            qa_errf(errstr, errstr_size, err, "--ingest-hmac-secrets-file: %s", why);
            goto out;
        }
        if ((err = auth_creds_add_list(c, AUTH_HMAC_SECRET, content, '\n', why,
                                       sizeof(why)))) {
            qa_errf(errstr, errstr_size, err, "--ingest-hmac-secrets-file: %s", why);
            goto out;
        }
        /* Each line is a secret: the logger must redact it, even new ones. */
        for (char *save = NULL, *line = strtok_r(content, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save))
            log_add_secret(line);
    }
    if ((err = auth_creds_add_list(c, AUTH_BEARER_TOKEN,
                                   cfg_str(cfg, "ingest-bearer-tokens"), ',',
                                   why, sizeof(why)))) {
        qa_errf(errstr, errstr_size, err, "--ingest-bearer-tokens: %s", why);
        goto out;
    }
    hdr = cfg_str(cfg, "ingest-api-key-header");
    keys = cfg_str(cfg, "ingest-api-keys");
    err = QA_ERR_INVALID;
    if (!hdr != !keys) {
        qa_errf(errstr, errstr_size, err,
                "--ingest-api-key-header and --ingest-api-keys go together");
        goto out;
    }
    if (hdr && ((err = auth_creds_set_api_key_header(c, hdr, why, sizeof(why))) ||
                (err = auth_creds_add_list(c, AUTH_API_KEY, keys, ',', why,
                                           sizeof(why))))) {
        qa_errf(errstr, errstr_size, err, "--ingest-api-key-header/keys: %s", why);
        goto out;
    }
    if (auth_creds_count(c) == 0) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                      "no credential configured: set --ingest-hmac-secrets "
                      "(QALERT_INGEST_HMAC_SECRETS), --ingest-hmac-secrets-file, "
                      "--ingest-bearer-tokens or --ingest-api-key-header with "
                      "--ingest-api-keys");
        goto out;
    }
    *out = c;
    c = NULL;
    err = QA_OK;
out:
    free(content);
    auth_creds_release(c);
    return err;
}

static void reload(const struct cfg *cfg, struct auth_store *store)
{
    struct auth_creds *c;
    char err[512];

    if (load_creds(cfg, &c, err, sizeof(err))) {
        log_error("credentials not reloaded; keeping the current ones",
                  LOG_S("reason", err));
        return;
    }
    log_info("credentials reloaded", LOG_I("hmac_secrets", auth_creds_hmac_count(c)),
             LOG_I("credentials", auth_creds_count(c)));
    auth_store_replace(store, c);
}

static int run(struct cfg *cfg)
{
    struct auth_creds *creds = NULL;
    struct auth_store *store = NULL;
    struct publisher *pub = NULL;
    struct server *srv = NULL;
    struct server_opts so;
    char err[512];
    int rc = 1, left;
    int64_t deadline;
    struct timespec tick = { 0, 100 * 1000 * 1000 };

    if (load_creds(cfg, &creds, err, sizeof(err))) {
        fprintf(stderr, "qalert-ingest: %s\n", err);
        return 2;
    }
    if (!(store = auth_store_new(creds))) {
        fprintf(stderr, "qalert-ingest: out of memory\n");
        return 1;
    }
    cfg_log_effective(cfg);
    if ((rc = cli_codec_setup(cfg)) >= 0)
        goto out;
    rc = 1;
    metrics_build_info("qalert-ingest", QALERT_VERSION);
    pub = publisher_new(cfg, cfg_str(cfg, "topic-raw"),
                        (int)cfg_int(cfg, "ingest-publish-timeout-ms"), err,
                        sizeof(err));
    if (!pub) {
        fprintf(stderr, "qalert-ingest: %s\n", err);
        rc = 2; /* a refused Kafka property: configuration */
        goto out;
    }
    so.addr = cfg_str(cfg, "ingest-addr");
    so.max_body = (size_t)cfg_int(cfg, "ingest-max-body");
    so.threads = (unsigned)cfg_int(cfg, "ingest-threads");
    if (!(srv = server_start(&so, store, pub, err, sizeof(err)))) {
        fprintf(stderr, "qalert-ingest: --ingest-addr: %s\n", err);
        rc = strstr(err, "cannot listen") ? 1 : 2;
        goto out;
    }
    cli_catch_signals(on_signal, SIGTERM, SIGINT, SIGHUP, 0);
    signal(SIGPIPE, SIG_IGN);
    log_info("listening", LOG_S("addr", so.addr), LOG_I("port", server_port(srv)),
             LOG_S("topic", cfg_str(cfg, "topic-raw")));
    /* After listening, so /healthz answers while a slow broker is asked;
     * /readyz says 503 until metadata is reachable anyway. */
    if (publisher_ensure_topic(pub, (int)cfg_int(cfg, "topic-raw-partitions"),
                               10000, err, sizeof(err)))
        log_warn("raw topic not created; continuing", LOG_S("reason", err));

    while (!stop_requested) {
        nanosleep(&tick, NULL);
        if (reload_requested) {
            reload_requested = 0;
            reload(cfg, store);
        }
    }

    /* Stop taking requests, let those under way finish, then flush. */
    deadline = clock_mono_ms() + cfg_int(cfg, "shutdown-timeout-ms");
    log_info("shutting down", LOG_I("under_way", publisher_in_flight(pub)));
    server_quiesce(srv);
    left = server_drain(srv, deadline - 1000);
    left = publisher_free(pub, (int)(deadline - clock_mono_ms() - 200));
    pub = NULL;
    server_drain(srv, clock_mono_ms() + 200); /* answers the cut-short ones */
    log_info("stopped", LOG_I("unflushed", left));
    rc = 0;
out:
    server_free(srv);
    publisher_free(pub, 1000);
    auth_store_free(store);
    codec_shutdown();
    return rc;
}

int main(int argc, char **argv)
{
    const struct cfg_setting *const tables[] = { cfg_common_settings,
                                                 ingest_settings, NULL };
    struct cfg *cfg;
    int rc;

    log_set_program("qalert-ingest");
    cfg = cfg_new("qalert-ingest",
                  "receives Genesys Cloud events over HTTP (webhooks, EventBridge) "
                  "and publishes them to the raw events topic",
                  tables);
    if (!cfg) {
        fprintf(stderr, "qalert-ingest: out of memory\n");
        return 1;
    }
    if ((rc = cli_start(cfg, "qalert-ingest", argc, argv)) >= 0)
        goto out;
    rc = run(cfg);
out:
    cfg_free(cfg);
    return rc;
}
