/*
 * print.c — `qalert-replay print TOPIC [range options]`: every record of the
 * range as one JSON line, its Avro value decoded (SPEC §8).
 *
 * It exists so that an operator can read qalert's topics, whose values are
 * binary Avro, as easily as kcat reads text topics. A value it cannot decode
 * (an unknown schema, a foreign producer, corruption) is printed as
 * {"undecodable":"<reason>","base64":"..."} rather than skipped: a debugging
 * tool that hides the odd record hides the bug. It never commits, never
 * joins a group, and never writes a record byte unescaped.
 */
#include <stdlib.h>

#include "common/codec.h"
#include "common/log.h"
#include "range.h"
#include "replay.h"

/* The decoded value, {"undecodable":..,"base64":..}, or null (tombstone). */
static cJSON *value_json(const rd_kafka_message_t *m)
{
    enum codec_record rec;
    char why[256], *json = NULL;
    cJSON *v = NULL, *b64;

    if (!m->payload)
        return cJSON_CreateNull();
    if (codec_to_json(m->payload, m->len, &json, &rec, why, sizeof(why)) == QA_OK &&
        json) {
        v = cJSON_CreateRaw(json);
        free(json);
        return v;
    }
    free(json);
    if (!(b64 = replay_json_base64(m->payload, m->len)) || !(v = cJSON_CreateObject())) {
        cJSON_Delete(b64);
        return NULL;
    }
    cJSON_AddStringToObject(v, "undecodable", why);
    cJSON_AddItemToObject(v, "base64", b64);
    return v;
}

/* One record as the line print writes. NULL when out of memory. */
static cJSON *record_json(const rd_kafka_message_t *m)
{
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    cJSON *o = cJSON_CreateObject(), *key, *hdrs, *value;

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "topic", rd_kafka_topic_name(m->rkt));
    cJSON_AddNumberToObject(o, "partition", m->partition);
    cJSON_AddNumberToObject(o, "offset", (double)m->offset);
    if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
        cJSON_AddNullToObject(o, "timestamp");
    else
        cJSON_AddNumberToObject(o, "timestamp", (double)ts); /* exact below 2^53 */
    key = replay_json_bytes(m->key, m->key_len);
    hdrs = replay_json_headers(m);
    value = value_json(m);
    if (!key || !hdrs || !value) {
        cJSON_Delete(key);
        cJSON_Delete(hdrs);
        cJSON_Delete(value);
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddItemToObject(o, "key", key);
    cJSON_AddItemToObject(o, "headers", hdrs);
    cJSON_AddItemToObject(o, "value", value);
    return o;
}

static const char *const print_options[] = {
    "from-offset", "from-time", "to-time", "key", "partition", "count", "follow",
    "read-uncommitted", NULL,
};

int replay_print(const struct cfg *cfg, int argc, char **argv)
{
    struct range_reader *r = NULL;
    struct range_opts o;
    rd_kafka_message_t *m = NULL;
    char errstr[512];
    long long n = 0;
    int rc = REPLAY_EXIT_OK;
    enum qa_err err;

    if (replay_only_options(cfg, "print", print_options, errstr, sizeof(errstr)))
        return replay_fail(REPLAY_EXIT_USAGE, "%s", errstr);
    if (argc != 2)
        return replay_fail(REPLAY_EXIT_USAGE, "print: TOPIC: give exactly one topic");
    if (range_opts_from_cfg(cfg, &o, errstr, sizeof(errstr)))
        return replay_fail(REPLAY_EXIT_USAGE, "%s", errstr);
    if ((err = range_reader_open(cfg, argv[1], &o, &r, errstr, sizeof(errstr)))) {
        rc = replay_fail(err == QA_ERR_INVALID ? REPLAY_EXIT_USAGE : REPLAY_EXIT_RUNTIME,
                         "%s", errstr);
        goto out;
    }
    for (;;) {
        cJSON *line;

        if ((err = range_reader_next(r, &m, &replay_stop, errstr, sizeof(errstr)))) {
            rc = replay_fail(REPLAY_EXIT_RUNTIME, "%s", errstr);
            goto out;
        }
        if (!m)
            break;
        line = record_json(m);
        rd_kafka_message_destroy(m);
        m = NULL;
        if (!line || replay_emit_line(stdout, line)) {
            cJSON_Delete(line);
            rc = replay_fail(REPLAY_EXIT_RUNTIME, "print: cannot write to stdout");
            goto out;
        }
        cJSON_Delete(line);
        n++;
    }
    log_info("print done", LOG_S("topic", argv[1]), LOG_I("records", n));
out:
    range_reader_close(r);
    return rc;
}
