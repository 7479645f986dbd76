/*
 * main.c — qalert-replay: a kcat-like tool that understands qalert's records
 * (SPEC §8). It parses the settings (common ones from cfg, plus the
 * subcommand options below), then hands over to one subcommand file:
 * print.c, dry_run.c, copy.c, redrive.c, reset_offsets.c.
 *
 * Exit codes: 0 done, 2 bad arguments (one line naming the argument),
 * 1 runtime failure (a topic that does not exist, a broker that does not
 * answer). SIGINT/SIGTERM stop reading; what was sent is still waited for
 * and, for redrive, committed.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/cli.h"
#include "common/codec.h"
#include "common/config.h"
#include "common/log.h"
#include "common/registry.h"
#include "replay.h"

static const char summary[] =
    "Reads, prints, re-publishes, dry-runs and redrives qalert's topics.\n"
    "\n"
    "Subcommands:\n"
    "  print TOPIC [--from-offset N | --from-time T] [--to-time T] [--key K]\n"
    "        [--partition P] [--count N] [--follow] [--read-uncommitted]\n"
    "      one JSON line per record, the Avro value decoded\n"
    "  dry-run --from-time T [--to-time T] [--policy FILE] [--topic RAW]\n"
    "      the alerts the processor's SLA engine would emit; publishes nothing\n"
    "  copy SRC DST [range options]\n"
    "      re-publishes records unchanged (key, value, headers, timestamp)\n"
    "  redrive --sink S [--key K] [--error REGEX] [--group G]\n"
    "      dead-letter topic <alerts>.<sink>.dlq -> <alerts>.<sink>.retry.1, once\n"
    "  reset-offsets --group G --topic T --to-time T [--execute]\n"
    "      shows, and with --execute commits, the offsets for a time\n"
    "\n"
    "Times are ISO 8601 (2025-11-23T08:00:00Z, +01:00 offsets, a bare date is\n"
    "midnight UTC, no zone is UTC) or epoch milliseconds. --to-time is\n"
    "exclusive. Exit: 0 done, 1 runtime failure, 2 bad arguments.";

/* Subcommand options have no default, so "set" means "given". The env
 * variables are QALERT_REPLAY_<OPTION>, apart from the policy and the SLA
 * engine's knobs, which read the processor's own variables so that a
 * dry-run in the processor's environment computes what it would. */
static const struct cfg_setting replay_settings[] = {
    { "from-offset", "QALERT_REPLAY_FROM_OFFSET", CFG_INT, NULL,
      "print/copy: first offset per partition (negative: that many before the end)",
      0, -1000000000000LL, 1000000000000000LL, NULL },
    { "from-time", "QALERT_REPLAY_FROM_TIME", CFG_STR, NULL,
      "first record time (offsets-for-times), ISO 8601 or epoch ms", 0, 0, 0, NULL },
    { "to-time", "QALERT_REPLAY_TO_TIME", CFG_STR, NULL,
      "end time, exclusive; reset-offsets: the time to reset to", 0, 0, 0, NULL },
    { "key", "QALERT_REPLAY_KEY", CFG_STR, NULL, "only records with this key", 0, 0, 0,
      NULL },
    { "partition", "QALERT_REPLAY_PARTITION", CFG_INT, NULL, "only this partition",
      0, 0, 1000000, NULL },
    { "count", "QALERT_REPLAY_COUNT", CFG_INT, NULL, "stop after this many records",
      0, 1, 1000000000000LL, NULL },
    { "follow", "QALERT_REPLAY_FOLLOW", CFG_BOOL, NULL,
      "print: keep waiting for new records at the end", 0, 0, 0, NULL },
    { "read-uncommitted", "QALERT_REPLAY_READ_UNCOMMITTED", CFG_BOOL, NULL,
      "also read records of aborted or open transactions", 0, 0, 0, NULL },
    { "policy", "QALERT_SLA_POLICY_FILE", CFG_STR, NULL,
      "dry-run: SLA policy file (default: 20000 ms / 0.8 for every queue)", 0, 0, 0, NULL },
    { "dedup-window-ms", "QALERT_DEDUP_WINDOW_MS", CFG_INT, "3600000",
      "dry-run: event ids seen within this window are ignored", 0, 0, 604800000LL, NULL },
    { "resolve-after-ms", "QALERT_RESOLVE_AFTER_MS", CFG_INT, "300000",
      "dry-run: flat-event breaches resolve after this much event time", 0, 1,
      604800000LL, NULL },
    { "sl-window-ms", "QALERT_SL_WINDOW_MS", CFG_INT, "900000",
      "dry-run: service-level sliding window", 0, 1, 604800000LL, NULL },
    { "sl-min-samples", "QALERT_SL_MIN_SAMPLES", CFG_INT, "10",
      "dry-run: fewest samples for a service-level alert", 0, 1, 1000000, NULL },
    { "topic", "QALERT_REPLAY_TOPIC", CFG_STR, NULL,
      "reset-offsets: the topic; dry-run: the raw topic (default QALERT_TOPIC_RAW)",
      0, 0, 0, NULL },
    { "sink", "QALERT_REPLAY_SINK", CFG_STR, NULL, "redrive: slack or opsgenie", 0, 0, 0,
      NULL },
    { "error", "QALERT_REPLAY_ERROR", CFG_STR, NULL,
      "redrive: only records whose qalert-error header matches this extended regex",
      0, 0, 0, NULL },
    { "group", "QALERT_REPLAY_GROUP", CFG_STR, NULL,
      "reset-offsets: the group; redrive: its group (default qalert-redrive-<sink>)",
      0, 0, 0, NULL },
    { "execute", "QALERT_REPLAY_EXECUTE", CFG_BOOL, NULL,
      "reset-offsets: commit the new offsets (without it, only show them)", 0, 0, 0, NULL },
    CFG_END
};

static void on_signal(int sig)
{
    (void)sig;
    replay_stop = 1;
}

struct subcommand {
    const char *name;
    int (*run)(const struct cfg *cfg, int argc, char **argv);
};

static const struct subcommand subcommands[] = {
    { "print", replay_print },
    { "dry-run", replay_dry_run },
    { "copy", replay_copy },
    { "redrive", replay_redrive },
    { "reset-offsets", replay_reset_offsets },
    { NULL, NULL },
};

int main(int argc, char **argv)
{
    const struct cfg_setting *const tables[] = { cfg_common_settings, replay_settings, NULL };
    struct cfg *cfg = cfg_new("qalert-replay", summary, tables);
    char errstr[512], **pos = NULL;
    int npos, rc;

    if (!cfg) {
        fprintf(stderr, "qalert-replay: out of memory\n");
        return 1;
    }
    if ((rc = cli_start(cfg, "qalert-replay", argc, argv)) >= 0)
        goto out;
    npos = cfg_positional(cfg, &pos);
    if (npos < 1) {
        rc = replay_fail(REPLAY_EXIT_USAGE, "a subcommand is required: print, dry-run, "
                                            "copy, redrive or reset-offsets (see --help)");
        goto out;
    }
    cli_catch_signals(on_signal, SIGINT, SIGTERM, 0);
    if (codec_init(errstr, sizeof(errstr))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "codec: %s", errstr);
        goto out;
    }
    if ((rc = registry_setup(cfg, errstr, sizeof(errstr))) != QA_OK) {
        rc = replay_fail(rc == QA_ERR_INVALID ? REPLAY_EXIT_USAGE : REPLAY_EXIT_RUNTIME,
                         "%s", errstr);
        codec_shutdown();
        goto out;
    }
    rc = -1;
    for (const struct subcommand *s = subcommands; s->name; s++) {
        if (strcmp(s->name, pos[0]) == 0) {
            rc = s->run(cfg, npos, pos);
            break;
        }
    }
    if (rc < 0)
        rc = replay_fail(REPLAY_EXIT_USAGE, "unknown subcommand \"%.64s\" (print, dry-run, "
                                            "copy, redrive, reset-offsets)", pos[0]);
    codec_shutdown();
out:
    cfg_free(cfg);
    return rc;
}
