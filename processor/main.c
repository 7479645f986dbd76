/*
 * qalert-processor — raw Genesys events in, FIRING/RESOLVED alerts out,
 * exactly once (SPEC §6). This file only wires settings, signals, the
 * admin server and the policy's sources (file on SIGHUP, policy topic) around
 * loop.c; the SLA logic is in sla.c (pure).
 */
#include <signal.h>
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
#include "loop.h"
#include "policy.h"
#include "policy_reload.h"
#include "policy_topic.h"

static const struct cfg_setting processor_settings[] = {
    { "topic-state", "QALERT_TOPIC_STATE", CFG_STR, "qalert.processor.state",
      "processor state changelog (compacted)", 0, 0, 0, NULL },
    { "sla-policy-file", "QALERT_SLA_POLICY_FILE", CFG_STR, NULL,
      "JSON SLA policy in Genesys mediaSettings shape (default: 20 s, 80 %); re-read on SIGHUP",
      0, 0, 0, NULL },
    { "sla-policy-topic", "QALERT_SLA_POLICY_TOPIC", CFG_STR, NULL,
      "compacted topic of sync-policy --topic: its newest valid \"policy\" record is read at "
      "start and followed while running, and wins over the file (empty: off)", 0, 0, 0, NULL },
    { "dedup-window-ms", "QALERT_DEDUP_WINDOW_MS", CFG_INT, "3600000",
      "an event id seen within this window is ignored", 0, 0, 604800000, NULL },
    { "idle-advance-ms", "QALERT_IDLE_ADVANCE_MS", CFG_INT, "1000",
      "a partition idle this long moves its watermark with the wall clock", 0, 1, 3600000, NULL },
    { "resolve-after-ms", "QALERT_RESOLVE_AFTER_MS", CFG_INT, "300000",
      "flat-event breaches resolve after this much event time without another", 0, 1, 86400000, NULL },
    { "sl-window-ms", "QALERT_SL_WINDOW_MS", CFG_INT, "900000",
      "service-level sliding window", 0, 1000, 86400000, NULL },
    { "sl-min-samples", "QALERT_SL_MIN_SAMPLES", CFG_INT, "10",
      "fewest samples for a service-level judgement", 0, 1, 1000000, NULL },
    { "transactional-id", "QALERT_TRANSACTIONAL_ID", CFG_STR, NULL,
      "Kafka transactional.id; stable per instance so a restart fences its predecessor "
      "(default qalert-processor-<hostname>)", 0, 0, 0, NULL },
    { "commit-interval-ms", "QALERT_COMMIT_INTERVAL_MS", CFG_INT, "100",
      "how long one transaction gathers work (bounds alert latency)", 0, 10, 60000, NULL },
    { "topic-partitions", "QALERT_TOPIC_PARTITIONS", CFG_INT, "3",
      "partitions of the topics the processor creates when missing", 0, 1, 1024, NULL },
    CFG_END,
};

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;
static unsigned shutdown_timeout_s = 10;

/* First signal: stop taking work and drain. If the drain outlives
 * QALERT_SHUTDOWN_TIMEOUT_MS, SIGALRM ends the process (exit 1): what was
 * not committed is redone by the next owner of the partitions. */
static void on_signal(int sig)
{
    (void)sig;
    if (!stop_flag)
        alarm(shutdown_timeout_s);
    stop_flag = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    reload_flag = 1;
}

/* Records of the policy topic taken per tick (a policy changes rarely). */
#define POLICY_TOPIC_BURST 16

/* What on_tick works on: the current policy and, with
 * QALERT_SLA_POLICY_TOPIC, the topic's reader. */
struct policy_source {
    struct policy_reload *reload;
    struct policy_topic *topic;    /* NULL: no policy topic */
    const char *topic_name;
    int topic_in_force;            /* the running policy came from the topic */
};

/* Makes the policy text from the topic current; 0 on success. */
static int take_topic_policy(struct policy_source *ps, struct proc *proc, const char *text)
{
    struct policy *old = NULL;
    char errstr[512];

    if (policy_reload_text(ps->reload, text, ps->topic_name, &old, errstr, sizeof(errstr))) {
        log_error("policy from the topic refused; the running policy stays",
                  LOG_S("topic", ps->topic_name), LOG_S("error", errstr));
        return -1;
    }
    if (proc)
        proc_swap_policy(proc, policy_reload_current(ps->reload));
    policy_free(old);
    ps->topic_in_force = 1;
    return 0;
}

/* proc_options.on_tick. A new valid record on QALERT_SLA_POLICY_TOPIC, and
 * SIGHUP (re-reads QALERT_SLA_POLICY_FILE), change the policy. What does not
 * load leaves the running policy alone; a good one is swapped into every
 * engine, and the old one is freed only after that (the engines borrow it).
 * The topic wins over the file: once a topic record is in force, SIGHUP is
 * logged and ignored (docs/genesys.md). */
static void on_tick(struct proc *proc, void *opaque)
{
    struct policy_source *ps = opaque;
    struct policy *old = NULL;
    char errstr[512];

    if (ps->topic) {
        char *text = policy_topic_poll(ps->topic, POLICY_TOPIC_BURST);
        if (text)
            take_topic_policy(ps, proc, text);
        free(text);
    }
    if (!reload_flag)
        return;
    reload_flag = 0;
    if (ps->topic_in_force) {
        log_warn("SIGHUP ignored: the policy topic's record is in force, not the file",
                 LOG_S("topic", ps->topic_name));
        return;
    }
    if (policy_reload_file(ps->reload, &old, errstr, sizeof(errstr))) {
        log_error("policy reload failed; the running policy stays", LOG_S("error", errstr));
        return;
    }
    proc_swap_policy(proc, policy_reload_current(ps->reload));
    policy_free(old);
}

/* With a policy topic: reads it to its end (at most 10 s) so that the first
 * raw events use its policy; the file (or the defaults) stays otherwise.
 * Logs which policy is in force. 0, or -1 with errstr. */
static int open_policy_topic(const struct cfg *cfg, struct policy_source *ps, char *errstr,
                             size_t errstr_size)
{
    const char *file = cfg_str(cfg, "sla-policy-file");
    char *text = NULL;

    if (ps->topic_name && *ps->topic_name) {
        if (!(ps->topic = policy_topic_new(cfg, ps->topic_name, errstr, errstr_size)))
            return -1;
        policy_topic_read_to_end(ps->topic, 10000, &text);
        if (text)
            take_topic_policy(ps, NULL, text);
        free(text);
    }
    if (ps->topic_in_force)
        log_info("policy in force", LOG_S("source", "topic"), LOG_S("topic", ps->topic_name));
    else if (file && *file)
        log_info("policy in force", LOG_S("source", "file"), LOG_S("file", file));
    else
        log_info("policy in force", LOG_S("source", "defaults"));
    return 0;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "{\"level\":\"error\",\"program\":\"qalert-processor\","
                              "\"msg\":\"shutdown timeout: exiting without a clean drain\"}\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    _exit(1);
}

int main(int argc, char **argv)
{
    const struct cfg_setting *const tables[] = { cfg_common_settings, cfg_daemon_settings,
                                                 processor_settings, NULL };
    char errstr[512], txn_id[300], host[256];
    struct cfg *cfg = cfg_new("qalert-processor",
                              "Computes SLA breaches from raw Genesys events and emits "
                              "FIRING/RESOLVED alerts exactly once.",
                              tables);
    struct policy_reload *policy = NULL;
    struct policy_source source = { 0 };
    struct admin_server *admin = NULL;
    struct proc *proc = NULL;
    int rc = 1;

    if (!cfg)
        return 1;
    cfg_set_default(cfg, "group-id", "qalert-processor");
    cfg_set_default(cfg, "admin-addr", "0.0.0.0:9400");
    if ((rc = cli_start(cfg, "qalert-processor", argc, argv)) >= 0)
        goto out;
    rc = 1;
    if (!(policy = policy_reload_open(cfg_str(cfg, "sla-policy-file"), errstr, sizeof(errstr)))) {
        rc = cli_bad_config("qalert-processor", "QALERT_SLA_POLICY_FILE (--sla-policy-file)",
                            errstr);
        goto out;
    }
    if ((rc = cli_codec_setup(cfg)) >= 0)
        goto out;
    rc = 1;
    cfg_log_effective(cfg);
    metrics_build_info("qalert-processor", QALERT_VERSION);
    source.reload = policy;
    source.topic_name = cfg_str(cfg, "sla-policy-topic");
    if (open_policy_topic(cfg, &source, errstr, sizeof(errstr))) {
        rc = cli_bad_config("qalert-processor", "QALERT_SLA_POLICY_TOPIC (--sla-policy-topic)",
                            errstr);
        goto out;
    }

    if (cfg_str(cfg, "transactional-id")) {
        snprintf(txn_id, sizeof(txn_id), "%s", cfg_str(cfg, "transactional-id"));
    } else {
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "local");
        host[sizeof(host) - 1] = '\0';
        snprintf(txn_id, sizeof(txn_id), "qalert-processor-%s", host);
    }
    struct proc_options o = {
        .topic_raw = cfg_str(cfg, "topic-raw"),
        .topic_alerts = cfg_str(cfg, "topic-alerts"),
        .topic_state = cfg_str(cfg, "topic-state"),
        .group_id = cfg_str(cfg, "group-id"),
        .transactional_id = txn_id,
        .partitions = (int)cfg_int(cfg, "topic-partitions"),
        .idle_advance_ms = cfg_int(cfg, "idle-advance-ms"),
        .commit_interval_ms = (int)cfg_int(cfg, "commit-interval-ms"),
        .restore_timeout_ms = 120000,
        .shutdown_timeout_ms = (int)cfg_int(cfg, "shutdown-timeout-ms"),
        .policy = policy_reload_current(policy),
        .on_tick = on_tick,
        .tick_opaque = &source,
    };
    sla_options_default(&o.sla);
    o.sla.dedup_window_ms = cfg_int(cfg, "dedup-window-ms");
    o.sla.resolve_after_ms = cfg_int(cfg, "resolve-after-ms");
    o.sla.sl_window_ms = cfg_int(cfg, "sl-window-ms");
    o.sla.sl_min_samples = (int)cfg_int(cfg, "sl-min-samples");

    shutdown_timeout_s = (unsigned)((cfg_int(cfg, "shutdown-timeout-ms") + 999) / 1000);
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    proc = proc_new(cfg, &o, errstr, sizeof(errstr));
    if (!proc) {
        log_error("start-up failed", LOG_S("error", errstr));
        goto out;
    }
    admin = admin_start(cfg_str(cfg, "admin-addr"), proc_ready, proc, errstr, sizeof(errstr));
    if (!admin) {
        rc = cli_bad_config("qalert-processor", "QALERT_ADMIN_ADDR (--admin-addr)", errstr);
        goto out;
    }
    log_info("started", LOG_S("transactional_id", txn_id));
    if (proc_run(proc, &stop_flag, errstr, sizeof(errstr))) {
        log_error("stopped on a fatal error", LOG_S("error", errstr));
        goto out;
    }
    log_info("stopped cleanly");
    rc = 0;
out:
    admin_stop(admin);
    proc_free(proc);
    policy_topic_free(source.topic);
    policy_reload_free(policy);
    codec_shutdown();
    cfg_free(cfg);
    return rc;
}
