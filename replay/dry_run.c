/*
 * dry_run.c — `qalert-replay dry-run --from-time T [--to-time T] [--policy F]
 * [--topic RAW]`: the alerts the processor would emit for a range of raw
 * events, computed by the processor's own SLA engine (SPEC §8).
 *
 * Why it can be trusted: it links processor/sla.c itself and drives it as the
 * processor does, one fresh engine per raw-topic partition, records in
 * offset order, so a policy change or a suspected engine bug can be tried on
 * real traffic before it reaches Slack or OpsGenie. Time is event time, so
 * the answer does not depend on when the tool runs; the only wall-clock
 * input of the processor (the idle advance) is replaced by one explicit
 * advance to --to-time at the end, so breaches due by then fire.
 * It must never publish anything: it has no producer.
 */
#include <math.h>
#include <stdlib.h>

#include "common/codec.h"
#include "common/log.h"
#include "processor/policy.h"
#include "processor/sla.h"
#include "range.h"
#include "replay.h"

struct dry_run {
    int32_t partition;      /* of the record being applied */
    int64_t offset;         /* -1 during the final advance */
    long long alerts;
    int write_failed;
};

static void add_str(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
}

static void add_int(cJSON *o, const char *k, int64_t v)
{
    if (v != CODEC_ABSENT)
        cJSON_AddNumberToObject(o, k, (double)v);
}

static void add_dbl(cJSON *o, const char *k, double v)
{
    if (!isnan(v))
        cJSON_AddNumberToObject(o, k, v);
}

/* The alert as one JSON line; field names follow the Alert schema's, as in
 * tests/fixtures/scenario-*.expected.jsonl. NULL when out of memory. */
static cJSON *alert_json(const struct alert *al, const struct dry_run *d)
{
    cJSON *o = cJSON_CreateObject(), *ev, *tags;

    if (!o)
        return NULL;
    add_str(o, "groupingKey", al->grouping_key);
    add_str(o, "status", codec_status_name(al->status));
    add_int(o, "at", al->at_ms);
    add_str(o, "alertId", al->alert_id);
    add_str(o, "alarmType", al->alarm_type);
    add_str(o, "queueId", al->queue_id);
    add_str(o, "queueName", al->queue_name);
    add_str(o, "mediaType", al->media_type);
    add_str(o, "priority", al->priority);
    add_int(o, "count", al->count);
    add_int(o, "firstSeen", al->first_seen_ms);
    add_int(o, "lastSeen", al->last_seen_ms);
    if ((ev = cJSON_AddObjectToObject(o, "evidence"))) {
        add_str(ev, "conversationId", al->conversation_id);
        add_int(ev, "waitMs", al->wait_ms);
        add_int(ev, "thresholdMs", al->threshold_ms);
        add_dbl(ev, "serviceLevel", al->service_level);
        add_dbl(ev, "target", al->target);
        add_int(ev, "samples", al->samples);
    }
    add_str(o, "message", al->message);
    if (al->ntags && (tags = cJSON_AddArrayToObject(o, "tags"))) {
        for (size_t i = 0; i < al->ntags; i++)
            cJSON_AddItemToArray(tags, cJSON_CreateString(al->tags[i] ? al->tags[i] : ""));
    }
    add_str(o, "sourceEventId", al->source_event_id);
    cJSON_AddNumberToObject(o, "partition", d->partition);
    if (d->offset >= 0)
        cJSON_AddNumberToObject(o, "offset", (double)d->offset);
    else
        cJSON_AddNullToObject(o, "offset"); /* fired by the advance to --to-time */
    return o;
}

static enum qa_err emit(const struct alert *al, void *opaque)
{
    struct dry_run *d = opaque;
    cJSON *line = alert_json(al, d);

    d->alerts++;
    if (!line || replay_emit_line(stdout, line))
        d->write_failed = 1; /* the engine goes on; the run fails at the end */
    cJSON_Delete(line);
    return QA_OK;
}

/* The processor's knobs, from the same variables as the processor's. */
static void engine_options(const struct cfg *cfg, struct sla_options *so)
{
    sla_options_default(so);
    if (cfg_is_set(cfg, "dedup-window-ms"))
        so->dedup_window_ms = cfg_int(cfg, "dedup-window-ms");
    if (cfg_is_set(cfg, "resolve-after-ms"))
        so->resolve_after_ms = cfg_int(cfg, "resolve-after-ms");
    if (cfg_is_set(cfg, "sl-window-ms"))
        so->sl_window_ms = cfg_int(cfg, "sl-window-ms");
    if (cfg_is_set(cfg, "sl-min-samples"))
        so->sl_min_samples = cfg_int(cfg, "sl-min-samples");
}

static const char *const dry_run_options[] = {
    "from-time", "to-time", "partition", "read-uncommitted", "topic", NULL,
};

int replay_dry_run(const struct cfg *cfg, int argc, char **argv)
{
    struct range_reader *r = NULL;
    struct range_opts o;
    struct policy *pol = NULL;
    struct sla_engine **engines = NULL;
    struct sla_options so;
    struct dry_run d = { 0 };
    rd_kafka_message_t *m = NULL;
    struct raw_event ev = { 0 };
    const char *topic = cfg_str(cfg, "topic") ? cfg_str(cfg, "topic")
                                                : cfg_str(cfg, "topic-raw");
    char errstr[512];
    long long records = 0, undecodable = 0, duplicates = 0;
    int nparts = 0, rc = REPLAY_EXIT_OK;
    enum sla_outcome outcome;
    enum qa_err err;

    if (replay_only_options(cfg, "dry-run", dry_run_options, errstr, sizeof(errstr)))
        return replay_fail(REPLAY_EXIT_USAGE, "%s", errstr);
    if (argc != 1)
        return replay_fail(REPLAY_EXIT_USAGE, "dry-run: unexpected argument \"%.64s\"",
                           argv[1]);
    if (range_opts_from_cfg(cfg, &o, errstr, sizeof(errstr)))
        return replay_fail(REPLAY_EXIT_USAGE, "%s", errstr);
    if (o.from_time_ms == RANGE_UNSET)
        return replay_fail(REPLAY_EXIT_USAGE, "--from-time: required by dry-run");
    if (policy_load_file(cfg_str(cfg, "policy"), &pol, errstr, sizeof(errstr)))
        return replay_fail(REPLAY_EXIT_USAGE, "--policy: %s", errstr);
    engine_options(cfg, &so);
    if ((err = range_reader_open(cfg, topic, &o, &r, errstr, sizeof(errstr)))) {
        rc = replay_fail(err == QA_ERR_INVALID ? REPLAY_EXIT_USAGE : REPLAY_EXIT_RUNTIME,
                         "%s", errstr);
        goto out;
    }
    nparts = range_reader_partitions(r);
    if (!(engines = calloc((size_t)nparts, sizeof(*engines)))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "out of memory");
        goto out;
    }
    for (;;) {
        struct sla_engine **e;

        if ((err = range_reader_next(r, &m, &replay_stop, errstr, sizeof(errstr)))) {
            rc = replay_fail(REPLAY_EXIT_RUNTIME, "%s", errstr);
            goto out;
        }
        if (!m)
            break;
        records++;
        if (!m->payload ||
            codec_decode_raw_event(m->payload, m->len, &ev, errstr, sizeof(errstr))) {
            /* The processor cannot use it either; say so and go on. */
            log_warn("undecodable raw event skipped", LOG_I("partition", m->partition),
                     LOG_I("offset", m->offset), LOG_S("error", m->payload ? errstr : "null value"));
            undecodable++;
            goto next;
        }
        e = &engines[m->partition];
        if (!*e && !(*e = sla_engine_new(pol, &so))) {
            rc = replay_fail(REPLAY_EXIT_RUNTIME, "out of memory");
            goto out;
        }
        d.partition = m->partition;
        d.offset = m->offset;
        if ((err = sla_engine_process(*e, &ev, emit, &d, &outcome, errstr, sizeof(errstr)))) {
            rc = replay_fail(REPLAY_EXIT_RUNTIME, "SLA engine at partition %d offset %lld: %s",
                             (int)m->partition, (long long)m->offset, errstr);
            goto out;
        }
        duplicates += outcome == SLA_DUPLICATE;
    next:
        codec_raw_event_clear(&ev);
        rd_kafka_message_destroy(m);
        m = NULL;
    }
    for (int p = 0; o.to_time_ms != RANGE_UNSET && !replay_stop && p < nparts; p++) {
        if (!engines[p])
            continue;
        d.partition = p;
        d.offset = -1;
        if ((err = sla_engine_advance(engines[p], o.to_time_ms, emit, &d, errstr,
                                      sizeof(errstr)))) {
            rc = replay_fail(REPLAY_EXIT_RUNTIME, "SLA engine advance on partition %d: %s",
                             p, errstr);
            goto out;
        }
    }
    if (d.write_failed)
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "dry-run: cannot write to stdout");
    log_info("dry-run done", LOG_S("topic", topic), LOG_I("records", records),
             LOG_I("undecodable", undecodable), LOG_I("duplicates", duplicates),
             LOG_I("alerts", d.alerts));
out:
    codec_raw_event_clear(&ev);
    if (m)
        rd_kafka_message_destroy(m);
    for (int p = 0; engines && p < nparts; p++)
        sla_engine_free(engines[p]);
    free(engines);
    range_reader_close(r);
    policy_free(pol);
    return rc;
}
