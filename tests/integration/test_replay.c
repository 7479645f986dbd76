/*
 * test_replay.c — qalert-replay against a real broker, through its public
 * surface only: records produced here (both framings, headers, timestamps),
 * the binary run as an operator would, its stdout/stderr and exit code, and
 * the topics and committed offsets it leaves behind.
 *
 * Covers: print (decoding RawEvent and Alert, single-object and Confluent
 * framing, undecodable values, --from-time/--to-time, --key, --count,
 * --partition), dry-run over the fixture scenario (exactly the expected
 * alerts), copy (headers and timestamps kept), redrive (moved once, by
 * regex, then the rest; a second run moves nothing), reset-offsets (dry by
 * default, --execute commits, refused while the group has a member), bad
 * arguments (exit 2) and missing topics (exit 1 with a clear message).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/kafka.h"
#include "ingest/recognise.h"
#include "support/support.h"

#define T0 1763884800000LL /* 2025-11-23T08:00:00Z */

static int failures;
static rd_kafka_t *producer;
static const char *brokers;
static char out[1 << 20], err_text[1 << 16];

#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        if (!(cond)) {                                                           \
            failures++;                                                          \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
        }                                                                        \
    } while (0)

/* Runs qalert-replay with args; stdout into out[], stderr into err_text[].
 * Returns the exit code. */
static int replay(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int replay(const char *fmt, ...)
{
    char args[2048], cmd[4096], errpath[256];
    va_list ap;
    FILE *p, *f;
    size_t n = 0;
    int st;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(errpath, sizeof(errpath), "/tmp/test_replay_%d.err", (int)getpid());
    snprintf(cmd, sizeof(cmd), "%s/qalert-replay %s 2>%s",
             ts_env("QALERT_BIN_DIR", "build/bin"), args, errpath);
    if (!(p = popen(cmd, "r")))
        abort();
    while (n + 1 < sizeof(out) && (st = (int)fread(out + n, 1, sizeof(out) - 1 - n, p)) > 0)
        n += (size_t)st;
    out[n] = '\0';
    st = pclose(p);
    err_text[0] = '\0';
    if ((f = fopen(errpath, "r"))) {
        size_t m = fread(err_text, 1, sizeof(err_text) - 1, f);
        err_text[m] = '\0';
        fclose(f);
        remove(errpath);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Line i (0-based) of out[] as JSON; NULL when absent. Caller deletes. */
static cJSON *line(int i)
{
    const char *s = out;
    for (; i > 0 && s; i--)
        if ((s = strchr(s, '\n')))
            s++;
    if (!s || !*s)
        return NULL;
    return cJSON_ParseWithOpts(s, NULL, 0);
}

/* j as text in a static buffer (no leak in a CHECK). */
static const char *js(const cJSON *j)
{
    static char buf[1 << 14];
    if (!j || !cJSON_PrintPreallocated((cJSON *)j, buf, (int)sizeof(buf), 0))
        return "(none)";
    return buf;
}

static int nlines(void)
{
    int n = 0;
    for (const char *s = out; *s; s++)
        n += *s == '\n';
    return n;
}

static void create(const char *topic, int partitions)
{
    char errstr[512];
    struct kq_topic t = { topic, partitions, 0 };
    if (kq_create_topics(producer, &t, 1, 1, 30000, errstr, sizeof(errstr))) {
        fprintf(stderr, "create %s: %s\n", topic, errstr);
        exit(1);
    }
}

/* Produces one record (headers: NULL-terminated name, value pairs). */
static void produce(const char *topic, int32_t part, const char *key, const void *val,
                    size_t len, int64_t ts, const char *const *hdrs)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    for (size_t i = 0; hdrs && hdrs[i]; i += 2)
        kq_header_add(h, hdrs[i], hdrs[i + 1]);
    if (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                          RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_TIMESTAMP(ts),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END))
        abort();
    rd_kafka_flush(producer, 10000);
}

static void sample_alert(struct alert *a, const char *id, enum alert_status st)
{
    static char *tags[] = { "qalert", "support" };
    memset(a, 0, sizeof(*a));
    a->alert_id = (char *)id;
    a->grouping_key = "q1:wait_sla_breach:VOICE";
    a->status = st;
    a->alarm_type = "wait_sla_breach";
    a->queue_id = "q1";
    a->media_type = "VOICE";
    a->priority = "P2";
    a->count = 1;
    a->first_seen_ms = a->last_seen_ms = a->at_ms = T0;
    a->wait_ms = 31000;
    a->threshold_ms = 30000;
    a->service_level = a->target = NAN;
    a->samples = CODEC_ABSENT;
    a->message = "Support: a call waited 31 s (SLA 30 s)";
    a->tags = tags;
    a->ntags = 2;
}

static void encode_alert(const struct alert *a, uint8_t **buf, size_t *len)
{
    char errstr[256];
    if (codec_encode_alert(a, buf, len, errstr, sizeof(errstr))) {
        fprintf(stderr, "encode alert: %s\n", errstr);
        exit(1);
    }
}

static void test_bad_arguments(void)
{
    CHECK(replay("%s", "") == 2, "no subcommand: %s", err_text);
    CHECK(replay("frobnicate") == 2, "unknown subcommand");
    CHECK(replay("print") == 2, "print without topic");
    CHECK(replay("print t --from-time yesterday") == 2 && strstr(err_text, "--from-time"),
          "bad time: %s", err_text);
    CHECK(replay("print t --to-time 2025-11-23T25:00:00Z") == 2, "hour 25");
    CHECK(replay("print t --from-offset 3 --from-time 2025-01-01") == 2, "both starts");
    CHECK(replay("print t --sink slack") == 2 && strstr(err_text, "--sink"), "%s", err_text);
    CHECK(replay("print t --count 0") == 2, "count 0");
    CHECK(replay("dry-run") == 2 && strstr(err_text, "--from-time"), "%s", err_text);
    CHECK(replay("dry-run --from-time 2025-01-01 --policy /nonexistent") == 2, "policy");
    CHECK(replay("redrive") == 2 && strstr(err_text, "--sink"), "%s", err_text);
    CHECK(replay("redrive --sink 'a.b'") == 2, "dotted sink");
    CHECK(replay("redrive --sink slack --error '('") == 2 && strstr(err_text, "--error"),
          "%s", err_text);
    CHECK(replay("reset-offsets --topic t --to-time 2025-01-01") == 2 &&
          strstr(err_text, "--group"), "%s", err_text);
    CHECK(replay("copy onlyone") == 2, "copy one topic");
    CHECK(replay("print %s", "no-such-topic-xyz") == 1 &&
          strstr(err_text, "topic \"no-such-topic-xyz\" does not exist"), "%s", err_text);
}

static void test_print_and_copy(void)
{
    const char *topic = ts_unique("replay-print"), *dst;
    char tcopy[128];
    const char *h_raw[] = { "h1", "v1", NULL };
    const char *h_alert[] = { "qalert-status", "FIRING", "qalert-alert-id", "a-1", NULL };
    struct raw_event ev = { 0 };
    struct alert a;
    uint8_t *buf;
    size_t len;
    char errstr[256];
    cJSON *j;

    create(topic, 2);
    ev.event_id = "e-1";
    ev.received_ms = T0;
    ev.kind = RAW_ACD_START;
    ev.event_type = "v2.detail.events.conversation.c1.acd.start";
    ev.queue_id = "q1";
    ev.conversation_id = "c1";
    ev.media_type = "VOICE";
    ev.event_time_ms = T0;
    ev.wait_ms = ev.sla_ms = ev.calls_in_queue = CODEC_ABSENT;
    ev.sla_percentage = ev.target_sla = NAN;
    ev.body = (uint8_t *)"{}";
    ev.body_len = 2;
    if (codec_encode_raw_event(&ev, &buf, &len, errstr, sizeof(errstr))) {
        fprintf(stderr, "encode raw: %s\n", errstr);
        exit(1);
    }
    produce(topic, 0, "q1", buf, len, T0, h_raw);                       /* p0 o0 */
    free(buf);
    sample_alert(&a, "a-1", ALERT_FIRING);
    encode_alert(&a, &buf, &len);
    produce(topic, 0, "q1:wait_sla_breach:VOICE", buf, len, T0 + 1000, h_alert); /* p0 o1 */
    free(buf);
    codec_set_confluent_id(CODEC_ALERT, 4242);
    sample_alert(&a, "a-2", ALERT_RESOLVED);
    encode_alert(&a, &buf, &len);
    codec_set_confluent_id(CODEC_ALERT, 0);
    CHECK(len > 5 && buf[0] == 0, "confluent framing expected");
    produce(topic, 1, "q1:wait_sla_breach:VOICE", buf, len, T0 + 2000, NULL); /* p1 o0 */
    free(buf);
    produce(topic, 1, "junk", "hello\xff", 6, T0 + 3000, NULL);          /* p1 o1 */

    CHECK(replay("print %s", topic) == 0, "print: %s", err_text);
    CHECK(nlines() == 4, "4 records, got %d:\n%s", nlines(), out);
    for (int i = 0; (j = line(i)); i++) {
        int part = cJSON_GetObjectItem(j, "partition")->valueint;
        int off = cJSON_GetObjectItem(j, "offset")->valueint;
        cJSON *v = cJSON_GetObjectItem(j, "value");
        cJSON *h = cJSON_GetObjectItem(j, "headers");
        double ts = cJSON_GetObjectItem(j, "timestamp")->valuedouble;
        CHECK(!strcmp(cJSON_GetObjectItem(j, "topic")->valuestring, topic), "topic");
        if (part == 0 && off == 0) {
            CHECK(ts == (double)T0, "timestamp");
            CHECK(!strcmp(cJSON_GetObjectItem(h, "h1")->valuestring, "v1"), "header");
            CHECK(strstr(js(v), "acd.start") != NULL, "raw decoded");
        } else if (part == 0 && off == 1) {
            CHECK(strstr(js(v), "a-1") != NULL, "alert decoded");
            CHECK(!strcmp(cJSON_GetObjectItem(h, "qalert-status")->valuestring, "FIRING"),
                  "alert header");
        } else if (part == 1 && off == 0) {
            CHECK(strstr(js(v), "a-2") != NULL &&
                  strstr(js(v), "RESOLVED") != NULL,
                  "confluent alert decoded: %s", js(v));
        } else {
            CHECK(cJSON_GetObjectItem(v, "undecodable") != NULL &&
                  !strcmp(cJSON_GetObjectItem(v, "base64")->valuestring, "aGVsbG//"),
                  "undecodable: %s", js(v));
        }
        cJSON_Delete(j);
    }
    /* [T0+1000, T0+3000): p0 o1 and p1 o0. */
    CHECK(replay("print %s --from-time 2025-11-23T08:00:01Z --to-time %lld", topic,
                 T0 + 3000) == 0 && nlines() == 2, "time range: %d\n%s%s", nlines(), out,
          err_text);
    CHECK(replay("print %s --key q1:wait_sla_breach:VOICE", topic) == 0 && nlines() == 2,
          "key: %d", nlines());
    CHECK(replay("print %s --key q1 --partition 0", topic) == 0 && nlines() == 1, "key+part");
    CHECK(replay("print %s --count 3", topic) == 0 && nlines() == 3, "count: %d", nlines());
    CHECK(replay("print %s --partition 1 --from-offset -1", topic) == 0 && nlines() == 1 &&
          strstr(out, "undecodable"), "last of p1: %s", out);
    CHECK(replay("print %s --partition 2", topic) == 2, "partition out of range");

    snprintf(tcopy, sizeof(tcopy), "%s-copy", topic);
    dst = tcopy;
    create(dst, 2);
    CHECK(replay("copy %s %s", topic, dst) == 0 && strstr(out, "\"copied\":4"),
          "copy: %s %s", out, err_text);
    CHECK(replay("print %s --partition 0", dst) == 0 && nlines() == 2, "copied p0");
    j = line(0);
    CHECK(j && !strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "headers"), "h1")
                           ->valuestring, "v1") &&
              cJSON_GetObjectItem(j, "timestamp")->valuedouble == (double)T0 &&
              !strcmp(cJSON_GetObjectItem(j, "key")->valuestring, "q1"),
          "copy keeps key, headers, timestamp: %s", out);
    cJSON_Delete(j);
    CHECK(replay("copy %s no-such-dst-xyz", topic) == 1 && strstr(err_text, "does not exist"),
          "copy to missing: %s", err_text);
}

static void test_dry_run(void)
{
    const char *raw = ts_unique("replay-raw");
    char *text = ts_fixture("scenario-wait-breach.jsonl", NULL), *save = NULL, *l;
    char *exp_text = ts_fixture("scenario-wait-breach.expected.jsonl", NULL);
    char errstr[256], policy[4096];
    int n = 0;

    create(raw, 1);
    for (l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        struct recognise_batch b = { 0 };
        enum recognise_code code;
        uint8_t *buf;
        size_t len;
        if (recognise_body(l, strlen(l), RECOGNISE_GENESYS, T0, &b, &code, errstr,
                           sizeof(errstr)) || b.nevents != 1 ||
            codec_encode_raw_event(&b.events[0], &buf, &len, errstr, sizeof(errstr))) {
            fprintf(stderr, "scenario line: %s\n", errstr);
            exit(1);
        }
        produce(raw, 0, b.events[0].queue_id, buf, len, b.events[0].event_time_ms, NULL);
        free(buf);
        recognise_batch_clear(&b);
    }
    snprintf(policy, sizeof(policy), "%s/policy.json", ts_env("QALERT_FIXTURES", "."));
    CHECK(replay("dry-run --topic %s --from-time 2025-11-23T08:00:00Z --policy %s", raw,
                 policy) == 0, "dry-run: %s", err_text);
    save = NULL;
    for (l = strtok_r(exp_text, "\n", &save); l; l = strtok_r(NULL, "\n", &save), n++) {
        cJSON *want = cJSON_Parse(l), *got = line(n), *f;
        CHECK(got != NULL, "alert %d missing:\n%s", n, out);
        for (f = want ? want->child : NULL; got && f; f = f->next) {
            cJSON *g = cJSON_GetObjectItem(got, f->string);
            if (cJSON_IsObject(f)) {
                for (cJSON *e = f->child; e; e = e->next) {
                    cJSON *ge = cJSON_GetObjectItem(g, e->string);
                    CHECK(ge && cJSON_Compare(e, ge, 1), "alert %d %s.%s: %s", n, f->string,
                          e->string, out);
                }
            } else {
                CHECK(g && cJSON_Compare(f, g, 1), "alert %d %s: %s", n, f->string, out);
            }
        }
        cJSON_Delete(want);
        cJSON_Delete(got);
    }
    CHECK(nlines() == n, "exactly %d alerts, got %d:\n%s", n, nlines(), out);
    /* Up to 08:00:31, only the breach (due at 08:00:30) fires. */
    CHECK(replay("dry-run --topic %s --from-time 2025-11-23T08:00:00Z "
                 "--to-time 2025-11-23T08:00:31Z --policy %s", raw, policy) == 0 &&
          nlines() == 1 && strstr(out, "FIRING"), "to-time: %s %s", out, err_text);
    free(text);
    free(exp_text);
}

static int count_records(const char *topic)
{
    return replay("print %s", topic) == 0 ? nlines() : -1;
}

static void test_redrive(void)
{
    char alerts[128], dlq[160], r1[160];
    const char *hA[] = { "qalert-attempt", "3", "qalert-error", "http 404: no_service",
                         "qalert-original-topic", "x", "qalert-not-before", "5", NULL };
    const char *hB[] = { "qalert-attempt", "3", "qalert-error", "http 500", NULL };
    const char *hC[] = { "qalert-attempt", "3", "qalert-error", "http 404: gone", NULL };
    cJSON *j, *h;

    snprintf(alerts, sizeof(alerts), "%s", ts_unique("replay-alerts"));
    snprintf(dlq, sizeof(dlq), "%s.slack.dlq", alerts);
    snprintf(r1, sizeof(r1), "%s.slack.retry.1", alerts);
    CHECK(replay("redrive --sink slack --topic-alerts %s", alerts) == 1 &&
          strstr(err_text, "does not exist"), "missing dlq: %s", err_text);
    create(dlq, 1);
    create(r1, 1);
    produce(dlq, 0, "kA", "A", 1, T0, hA);
    produce(dlq, 0, "kB", "B", 1, T0, hB);
    produce(dlq, 0, "kC", "C", 1, T0, hC);
    CHECK(replay("redrive --sink slack --topic-alerts %s --error '^http 404'", alerts) == 0 &&
          strstr(out, "\"redriven\":2"), "404s: %s %s", out, err_text);
    CHECK(count_records(r1) == 2, "retry.1 has 2");
    j = line(0);
    h = j ? cJSON_GetObjectItem(j, "headers") : NULL;
    CHECK(h && !strcmp(cJSON_GetObjectItem(h, "qalert-attempt")->valuestring, "1") &&
              !strcmp(cJSON_GetObjectItem(h, "qalert-original-topic")->valuestring, "x") &&
              strcmp(cJSON_GetObjectItem(h, "qalert-not-before")->valuestring, "5") != 0 &&
              !strcmp(cJSON_GetObjectItem(j, "key")->valuestring, "kA"),
          "redriven headers: %s", out);
    cJSON_Delete(j);
    CHECK(replay("redrive --sink slack --topic-alerts %s --error '^http 404'", alerts) == 0 &&
          strstr(out, "\"redriven\":0"), "second run: %s", out);
    CHECK(replay("redrive --sink slack --topic-alerts %s --key kA", alerts) == 0 &&
          strstr(out, "\"redriven\":0"), "kA already: %s", out);
    CHECK(replay("redrive --sink slack --topic-alerts %s", alerts) == 0 &&
          strstr(out, "\"redriven\":1"), "the rest: %s", out);
    CHECK(replay("redrive --sink slack --topic-alerts %s", alerts) == 0 &&
          strstr(out, "\"redriven\":0"), "nothing left: %s", out);
    CHECK(count_records(r1) == 3, "retry.1 has 3");
}

static int64_t committed(const char *group, const char *topic)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    struct kq_consumer_opts o = { .group_id = group };
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_t *c;
    int64_t off = -2;
    char errstr[256];

    kq_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr));
    if (!(c = kq_consumer_new(conf, &o, errstr, sizeof(errstr))))
        abort();
    rd_kafka_topic_partition_list_add(l, topic, 0);
    if (!rd_kafka_committed(c, l, 10000))
        off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return off;
}

static void test_reset_offsets(void)
{
    const char *topic = ts_unique("replay-reset"), *group = ts_unique("replay-group");
    char t[128], g[128], errstr[256];
    struct kq_consumer_opts o = { 0 };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *c;
    const char *topics[1];

    snprintf(t, sizeof(t), "%s", topic);
    snprintf(g, sizeof(g), "%s", group);
    create(t, 1);
    for (int i = 0; i < 5; i++)
        produce(t, 0, "k", "v", 1, T0 + i * 1000, NULL);
    CHECK(replay("reset-offsets --group %s --topic %s --to-time %lld", g, t, T0 + 2000) == 0,
          "show: %s", err_text);
    CHECK(strstr(out, "PARTITION") && strstr(out, " 2\n"), "table: %s", out);
    CHECK(committed(g, t) < 0, "nothing committed without --execute");
    CHECK(replay("reset-offsets --group %s --topic %s --to-time %lld --execute", g, t,
                 T0 + 2000) == 0, "execute: %s", err_text);
    CHECK(committed(g, t) == 2, "committed 2, got %lld", (long long)committed(g, t));
    CHECK(replay("reset-offsets --group %s --topic %s --to-time 2030-01-01 --execute", g,
                 t) == 0 && committed(g, t) == 5, "past the end: the high watermark");

    /* A live member: refused, offsets unchanged. */
    o.group_id = g;
    kq_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr));
    c = kq_consumer_new(conf, &o, errstr, sizeof(errstr));
    topics[0] = t;
    kq_subscribe(c, topics, 1, errstr, sizeof(errstr));
    for (int i = 0; i < 50; i++) {
        rd_kafka_topic_partition_list_t *a = NULL;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (m)
            rd_kafka_message_destroy(m);
        if (!rd_kafka_assignment(c, &a) && a && a->cnt > 0) {
            rd_kafka_topic_partition_list_destroy(a);
            break;
        }
        if (a)
            rd_kafka_topic_partition_list_destroy(a);
    }
    CHECK(replay("reset-offsets --group %s --topic %s --to-time %lld --execute", g, t, T0) ==
              1 && strstr(err_text, "active member"), "refused: %s", err_text);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
}

int main(void)
{
    char errstr[512];
    rd_kafka_conf_t *conf;

    if (ts_no_broker())
        return 77;
    brokers = ts_env("QALERT_KAFKA_BROKERS", "127.0.0.1:19092");
    setenv("QALERT_LOG_LEVEL", "warn", 1);
    if (codec_init(errstr, sizeof(errstr))) {
        fprintf(stderr, "codec: %s\n", errstr);
        return 1;
    }
    conf = rd_kafka_conf_new();
    kq_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr));
    if (!(producer = kq_producer_new(conf, NULL, errstr, sizeof(errstr)))) {
        fprintf(stderr, "producer: %s\n", errstr);
        return 1;
    }
    test_bad_arguments();
    test_print_and_copy();
    test_dry_run();
    test_redrive();
    test_reset_offsets();
    rd_kafka_destroy(producer);
    codec_shutdown();
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
