/*
 * soak_check.c — the soak's judge: from what ingest accepted and what Kafka
 * holds, computes the alerts qalert must have produced and compares them
 * with what it did produce and what the sinks received.
 *
 * Why: "no accepted event and no alert is lost or doubled" is only proved
 * by an exact comparison. The expected alerts come from the processor's own
 * pure SLA engine (processor/sla.h), one engine per raw partition fed in
 * raw-topic order, as the processor is. The soak's generator makes the
 * processor's idle advance unable to fire a timer mid-run (see
 * soak_gen.py), so the expectation is exact, not a tolerance.
 *
 * Checks (each a line of the report; any failure exits 1):
 *   every 202'd event id is in the raw topic;
 *   the committed alerts topic holds exactly the expected alert ids, once
 *   each, in the expected order per grouping key;
 *   OpsGenie: one alert per FIRING episode per alias (creates beyond it are
 *   duplicates), closed when its RESOLVED came; every alert delivered;
 *   Slack: every alert delivered (repeats are reported: Slack cannot dedup).
 * It must never read what it judges from the daemons' own logs or metrics.
 */
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/codec.h"
#include "notifier/sinks/opsgenie.h"
#include "notifier/sinks/sink.h"
#include "processor/policy.h"
#include "processor/sla.h"

struct al {
    char *id, *key;
    int status;        /* ALERT_FIRING / ALERT_RESOLVED */
    int64_t at_ms;
    int64_t ts_ms;     /* alerts topic: the record's timestamp */
    int og_ok, sl_ok;  /* sinks: 2xx requests carrying it */
    double og_t, sl_t; /* first 2xx receipt, epoch s */
};

struct alv {
    struct al *v;
    size_t n, cap;
};

struct args {
    const char *brokers, *raw, *alerts, *accepted, *policy, *og_alerts, *og_reqs,
        *sl_reqs, *report;
    struct sla_options o;
    int quiet;
};

static int failures;

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    return d;
}

static struct al *alv_push(struct alv *a)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        struct al *v = realloc(a->v, cap * sizeof(*v));
        if (!v) {
            fputs("out of memory\n", stderr);
            exit(1);
        }
        a->v = v;
        a->cap = cap;
    }
    memset(&a->v[a->n], 0, sizeof(a->v[0]));
    return &a->v[a->n++];
}

static void alv_free(struct alv *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].id);
        free(a->v[i].key);
    }
    free(a->v);
}

static struct al *alv_find(struct alv *a, const char *id)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].id, id) == 0)
            return &a->v[i];
    return NULL;
}

/* --- reading topics ------------------------------------------------------ */

typedef void (*record_fn)(const rd_kafka_message_t *m, void *ctx);

/* Every record of every partition, from the beginning to the end (the last
 * stable offset under read_committed), partition by partition in offset
 * order. -1 when the topic cannot be read; a missing topic is empty. */
static int read_topic(const char *brokers, const char *topic, int committed, record_fn fn,
                      void *ctx)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    int rc = -1, eofs = 0, nparts = 0;
    char group[64];

    snprintf(group, sizeof(group), "soak-check-%d", (int)getpid());
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "isolation.level",
                          committed ? "read_committed" : "read_uncommitted", errstr,
                          sizeof(errstr))) {
        fprintf(stderr, "conf: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr)))) {
        fprintf(stderr, "consumer: %s\n", errstr);
        return -1;
    }
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) || md->topic_cnt != 1) {
        fprintf(stderr, "%s: no metadata\n", topic);
        goto out;
    }
    if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        rc = 0; /* never created: nothing was written to it */
        goto out;
    }
    nparts = md->topics[0].partition_cnt;
    parts = rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++) {
        int64_t lo = 0, hi = 0;
        /* An empty partition may never report its end: count it now. */
        if (rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 10000) == 0 && lo == hi)
            eofs++;
        else
            rd_kafka_topic_partition_list_add(parts, topic, i)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
    }
    if (rd_kafka_assign(rk, parts))
        goto out;
    /* Partition order matters only within a partition; records of several
     * partitions may interleave here, each in its own order. */
    for (int idle = 0; eofs < nparts && idle < 600;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            idle++;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eofs++;
        else if (m->err)
            fprintf(stderr, "%s: %s\n", topic, rd_kafka_message_errstr(m));
        else
            fn(m, ctx);
        rd_kafka_message_destroy(m);
    }
    rc = eofs == nparts ? 0 : -1;
    if (rc)
        fprintf(stderr, "%s: end not reached (%d of %d partitions)\n", topic, eofs, nparts);
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_topic_destroy(t);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* --- raw topic through the engine ----------------------------------------- */

struct raw_ctx {
    const struct policy *policy;
    const struct sla_options *o;
    struct sla_engine *eng[64];
    struct alv *expected;
    char **ids;
    size_t nids, cap;
    long undecodable, duplicates;
};

static enum qa_err expect_alert(const struct alert *a, void *opaque)
{
    struct al *x = alv_push(opaque);
    x->id = xstrdup(a->alert_id);
    x->key = xstrdup(a->grouping_key);
    x->status = a->status;
    x->at_ms = a->at_ms;
    return QA_OK;
}

static void on_raw(const rd_kafka_message_t *m, void *opaque)
{
    struct raw_ctx *c = opaque;
    struct raw_event ev = { 0 };
    enum sla_outcome out;
    char errstr[256];

    if (m->partition < 0 || m->partition >= 64)
        return;
    if (codec_decode_raw_event(m->payload, m->len, &ev, errstr, sizeof(errstr))) {
        c->undecodable++;
        return;
    }
    if (!c->eng[m->partition] && !(c->eng[m->partition] = sla_engine_new(c->policy, c->o))) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    if (sla_engine_process(c->eng[m->partition], &ev, expect_alert, c->expected, &out, errstr,
                           sizeof(errstr)))
        fprintf(stderr, "engine: %s\n", errstr);
    if (out == SLA_DUPLICATE)
        c->duplicates++;
    if (c->nids == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->ids = realloc(c->ids, c->cap * sizeof(char *));
        if (!c->ids)
            exit(1);
    }
    c->ids[c->nids++] = xstrdup(ev.event_id);
    codec_raw_event_clear(&ev);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --- alerts and dead-letter topics ---------------------------------------- */

static void on_alert(const rd_kafka_message_t *m, void *opaque)
{
    struct alert a = { 0 };
    char errstr[256];
    struct al *x;

    if (codec_decode_alert(m->payload, m->len, &a, errstr, sizeof(errstr))) {
        fprintf(stderr, "alerts: undecodable record at %d/%" PRId64 "\n", m->partition,
                m->offset);
        failures++;
        return;
    }
    x = alv_push(opaque);
    x->id = xstrdup(a.alert_id);
    x->key = xstrdup(a.grouping_key);
    x->status = a.status;
    x->at_ms = a.at_ms;
    x->ts_ms = rd_kafka_message_timestamp(m, NULL);
    codec_alert_clear(&a);
}

struct dlq_ctx {
    long n;
    char reasons[16][160];
    long counts[16];
    int nreasons;
};

static void on_dlq(const rd_kafka_message_t *m, void *opaque)
{
    struct dlq_ctx *d = opaque;
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t vl = 0;
    char why[160] = "no qalert-error header";
    int i;

    d->n++;
    if (!rd_kafka_message_headers(m, &h) &&
        !rd_kafka_header_get_last(h, "qalert-error", &v, &vl) && v)
        snprintf(why, sizeof(why), "%.*s", (int)(vl < 150 ? vl : 150), (const char *)v);
    for (i = 0; i < d->nreasons && strcmp(d->reasons[i], why); i++)
        ;
    if (i == d->nreasons && d->nreasons < 16)
        snprintf(d->reasons[d->nreasons++], sizeof(d->reasons[0]), "%s", why);
    if (i < 16)
        d->counts[i]++;
}

/* --- emulators' records ---------------------------------------------------- */

static cJSON *load_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    cJSON *j = NULL;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        j = cJSON_Parse(buf);
    }
    free(buf);
    fclose(f);
    return j;
}

static int ok2xx(const cJSON *r)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "status");
    return cJSON_IsNumber(s) && s->valueint >= 200 && s->valueint < 300;
}

static double req_time(const cJSON *r)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "time");
    return cJSON_IsNumber(t) ? t->valuedouble : 0;
}

static void mark(int *count, double *first, double t)
{
    if (!(*count)++ || t < *first)
        *first = t;
}

/* OpsGenie: creates carry details.alertId; a close carries the alias in its
 * path and the RESOLVED's time in its note. */
static void og_requests(cJSON *reqs, struct alv *exp)
{
    char want[128], alias[SINK_OPSGENIE_ALIAS_MAX + 1], at[40], err[128];
    const cJSON *r;

    cJSON_ArrayForEach(r, reqs) {
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(r, "path");
        const cJSON *body = cJSON_GetObjectItemCaseSensitive(r, "json");
        if (!ok2xx(r) || !cJSON_IsString(path))
            continue;
        if (strncmp(path->valuestring, "/v2/alerts?", 11) == 0 ||
            strcmp(path->valuestring, "/v2/alerts") == 0) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(body, "details"), "alertId");
            struct al *x = cJSON_IsString(id) ? alv_find(exp, id->valuestring) : NULL;
            if (x)
                mark(&x->og_ok, &x->og_t, req_time(r));
            continue;
        }
        const cJSON *note = cJSON_GetObjectItemCaseSensitive(body, "note");
        if (!strstr(path->valuestring, "/close") || !cJSON_IsString(note))
            continue;
        for (size_t i = 0; i < exp->n; i++) {
            struct al *x = &exp->v[i];
            char *enc;
            if (x->status != ALERT_RESOLVED ||
                sink_opsgenie_alias(x->key, alias, sizeof(alias), err, sizeof(err)) ||
                !(enc = sink_url_encode(alias)))
                continue;
            snprintf(want, sizeof(want), "/v2/alerts/%s/close", enc);
            free(enc);
            sink_format_time(at, sizeof(at), x->at_ms);
            if (strncmp(path->valuestring, want, strlen(want)) == 0 &&
                strstr(note->valuestring, at))
                mark(&x->og_ok, &x->og_t, req_time(r));
        }
    }
}

static void sl_requests(cJSON *reqs, struct alv *exp)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, reqs) {
        const cJSON *body = cJSON_GetObjectItemCaseSensitive(r, "body");
        if (!ok2xx(r) || !cJSON_IsString(body))
            continue;
        for (size_t i = 0; i < exp->n; i++)
            if (strstr(body->valuestring, exp->v[i].id))
                mark(&exp->v[i].sl_ok, &exp->v[i].sl_t, req_time(r));
    }
}

/* One OpsGenie alert instance per FIRING episode of an alias; it is closed
 * exactly when that episode's RESOLVED came. */
static void og_instances(cJSON *alerts, struct alv *exp, long *dup, long *missing,
                         long *bad_close, long *absorbed)
{
    char alias[SINK_OPSGENIE_ALIAS_MAX + 1], err[128];
    for (size_t i = 0; i < exp->n; i++) {
        int seen_before = 0;
        for (size_t j = 0; j < i; j++)
            seen_before |= strcmp(exp->v[j].key, exp->v[i].key) == 0;
        if (seen_before || sink_opsgenie_alias(exp->v[i].key, alias, sizeof(alias), err,
                                               sizeof(err)))
            continue;
        /* episodes of this key, in order: closed or not */
        int ep[4096], nep = 0;
        for (size_t j = i; j < exp->n && nep < 4096; j++) {
            if (strcmp(exp->v[j].key, exp->v[i].key))
                continue;
            if (exp->v[j].status == ALERT_FIRING)
                ep[nep++] = 0;
            else if (nep)
                ep[nep - 1] = 1;
        }
        int k = 0;
        const cJSON *a;
        cJSON_ArrayForEach(a, alerts) {
            const cJSON *al = cJSON_GetObjectItemCaseSensitive(a, "alias");
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(a, "status");
            const cJSON *cr = cJSON_GetObjectItemCaseSensitive(a, "creates");
            if (!cJSON_IsString(al) || strcmp(al->valuestring, alias))
                continue;
            int closed = cJSON_IsString(st) && strcmp(st->valuestring, "closed") == 0;
            if (cJSON_IsNumber(cr) && cr->valueint > 1)
                *absorbed += cr->valueint - 1;
            if (k >= nep)
                (*dup)++;
            else if (closed != ep[k])
                (*bad_close)++;
            k++;
        }
        if (k != nep)
            fprintf(stderr, "OpsGenie: alias %s has %d alerts for %d FIRING episodes\n", alias,
                    k, nep);
        if (k < nep)
            *missing += nep - k;
    }
}

/* --- main ------------------------------------------------------------------ */

static void row(FILE *f, const char *what, const char *value, int ok)
{
    fprintf(f, "| %-52s | %-28s |%s\n", what, value, ok ? "" : " **FAIL**");
    if (!ok)
        failures++;
}

static void rowl(FILE *f, const char *what, long v, int ok)
{
    char b[32];
    snprintf(b, sizeof(b), "%ld", v);
    row(f, what, b, ok);
}

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        { "brokers", 1, 0, 'b' }, { "raw", 1, 0, 'r' }, { "alerts", 1, 0, 'a' },
        { "accepted", 1, 0, 'e' }, { "policy", 1, 0, 'p' }, { "og-alerts", 1, 0, 'O' },
        { "og-requests", 1, 0, 'o' }, { "slack-requests", 1, 0, 's' },
        { "report", 1, 0, 'R' }, { "dedup-window-ms", 1, 0, 'd' },
        { "resolve-after-ms", 1, 0, 'x' }, { "sl-window-ms", 1, 0, 'w' },
        { "sl-min-samples", 1, 0, 'm' }, { "quiet", 0, 0, 'q' }, { 0, 0, 0, 0 },
    };
    int c;
    memset(a, 0, sizeof(*a));
    sla_options_default(&a->o);
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b': a->brokers = optarg; break;
        case 'r': a->raw = optarg; break;
        case 'a': a->alerts = optarg; break;
        case 'e': a->accepted = optarg; break;
        case 'p': a->policy = optarg; break;
        case 'O': a->og_alerts = optarg; break;
        case 'o': a->og_reqs = optarg; break;
        case 's': a->sl_reqs = optarg; break;
        case 'R': a->report = optarg; break;
        case 'd': a->o.dedup_window_ms = strtoll(optarg, NULL, 10); break;
        case 'x': a->o.resolve_after_ms = strtoll(optarg, NULL, 10); break;
        case 'w': a->o.sl_window_ms = strtoll(optarg, NULL, 10); break;
        case 'm': a->o.sl_min_samples = strtoll(optarg, NULL, 10); break;
        case 'q': a->quiet = 1; break;
        default: return -1;
        }
    }
    if (!a->brokers || !a->raw || !a->alerts || !a->accepted || !a->og_alerts ||
        !a->og_reqs || !a->sl_reqs) {
        fputs("usage: soak_check --brokers B --raw T --alerts T --accepted FILE "
              "[--policy FILE] --og-alerts F --og-requests F --slack-requests F "
              "[--report F] [--dedup-window-ms N --resolve-after-ms N --sl-window-ms N "
              "--sl-min-samples N] [--quiet]\n", stderr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct args a;
    struct policy *pol = NULL;
    struct alv exp = { 0 }, got = { 0 };
    struct raw_ctx rc = { 0 };
    struct dlq_ctx dlq[2] = { 0 };
    char errstr[512], topic[512], line[1 << 16], buf[64];
    cJSON *og_alerts = NULL, *og_reqs = NULL, *sl_reqs = NULL;
    long accepted = 0, missing_raw = 0, lost_proc = 0, extra = 0, dupid = 0, order = 0;
    long og_dup = 0, og_missing = 0, og_badclose = 0, og_absorbed = 0;
    long og_lost = 0, sl_lost = 0, sl_repeat = 0, firing = 0;
    double og_wait = 0, sl_wait = 0;
    const struct al *og_slow = NULL, *sl_slow = NULL;
    FILE *out = stdout, *f;

    if (parse_args(argc, argv, &a))
        return 2;
    if (codec_init(errstr, sizeof(errstr)) ||
        policy_load_file(a.policy, &pol, errstr, sizeof(errstr))) {
        fprintf(stderr, "%s\n", errstr);
        return 2;
    }
    rc.policy = pol;
    rc.o = &a.o;
    rc.expected = &exp;
    if (read_topic(a.brokers, a.raw, 0, on_raw, &rc) ||
        read_topic(a.brokers, a.alerts, 1, on_alert, &got))
        return 1;
    for (int i = 0; i < 2; i++) {
        snprintf(topic, sizeof(topic), "%s.%s.dlq", a.alerts, i ? "slack" : "opsgenie");
        if (read_topic(a.brokers, topic, 1, on_dlq, &dlq[i]))
            return 1;
    }
    qsort(rc.ids, rc.nids, sizeof(char *), cmp_str);

    /* every 202'd event is in the raw topic */
    if (!(f = fopen(a.accepted, "r"))) {
        perror(a.accepted);
        return 1;
    }
    while (fgets(line, sizeof(line), f)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        if (cJSON_IsString(id)) {
            const char *k = id->valuestring;
            accepted++;
            if (!bsearch(&k, rc.ids, rc.nids, sizeof(char *), cmp_str)) {
                missing_raw++;
                if (missing_raw <= 5)
                    fprintf(stderr, "accepted event %s is not in %s\n", k, a.raw);
            }
        }
        cJSON_Delete(j);
    }
    fclose(f);

    /* the committed alerts: the expected ids, once each, in order per key */
    for (size_t i = 0; i < exp.n; i++) {
        struct al *g = alv_find(&got, exp.v[i].id);
        firing += exp.v[i].status == ALERT_FIRING;
        if (!g) {
            lost_proc++;
            if (lost_proc <= 5)
                fprintf(stderr, "expected alert %s %s not in %s\n", exp.v[i].key,
                        exp.v[i].id, a.alerts);
        } else {
            exp.v[i].ts_ms = g->ts_ms;
        }
    }
    for (size_t i = 0; i < got.n; i++) {
        if (!alv_find(&exp, got.v[i].id)) {
            extra++;
            if (extra <= 5)
                fprintf(stderr, "unexpected alert %s %s %s\n", got.v[i].key,
                        got.v[i].status == ALERT_FIRING ? "FIRING" : "RESOLVED", got.v[i].id);
        }
        if (alv_find(&got, got.v[i].id) != &got.v[i])
            dupid++;
    }
    for (size_t i = 0; i < got.n; i++) {   /* per key: same sequence */
        size_t ge = 0, gg = 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp(got.v[j].key, got.v[i].key) == 0)
                gg++;
        for (size_t j = 0; j < exp.n; j++)
            if (strcmp(exp.v[j].key, got.v[i].key) == 0 && ge++ == gg &&
                strcmp(exp.v[j].id, got.v[i].id))
                order++;
    }

    og_alerts = load_json(a.og_alerts);
    og_reqs = load_json(a.og_reqs);
    sl_reqs = load_json(a.sl_reqs);
    if (!og_alerts || !og_reqs || !sl_reqs) {
        fputs("cannot read the emulators' records\n", stderr);
        return 1;
    }
    og_requests(og_reqs, &exp);
    sl_requests(sl_reqs, &exp);
    og_instances(og_alerts, &exp, &og_dup, &og_missing, &og_badclose, &og_absorbed);
    for (size_t i = 0; i < exp.n; i++) {
        struct al *x = &exp.v[i];
        if (!x->og_ok && og_lost++ < 5)
            fprintf(stderr, "OpsGenie never got %s %s\n", x->key, x->id);
        if (!x->sl_ok && sl_lost++ < 5)
            fprintf(stderr, "Slack never got %s %s\n", x->key, x->id);
        sl_repeat += x->sl_ok > 1 ? x->sl_ok - 1 : 0;
        if (x->og_ok && x->ts_ms > 0 && x->og_t - (double)x->ts_ms / 1000.0 > og_wait) {
            og_wait = x->og_t - (double)x->ts_ms / 1000.0;
            og_slow = x;
        }
        if (x->sl_ok && x->ts_ms > 0 && x->sl_t - (double)x->ts_ms / 1000.0 > sl_wait) {
            sl_wait = x->sl_t - (double)x->ts_ms / 1000.0;
            sl_slow = x;
        }
    }

    for (int i = 0; i < 2 && !a.quiet; i++) {
        const struct al *x = i ? sl_slow : og_slow;
        if (x)
            fprintf(stderr, "%s: longest wait %.2f s: %s %s, record time %.3f\n",
                    i ? "Slack" : "OpsGenie", i ? sl_wait : og_wait, x->key, x->id,
                    (double)x->ts_ms / 1000.0);
    }
    if (a.quiet)
        out = fopen("/dev/null", "w");
    else if (a.report)
        out = fopen(a.report, "w");
    if (!out)
        out = stdout;
    fprintf(out, "| check | value |\n|---|---|\n");
    rowl(out, "events accepted (202)", accepted, accepted > 0);
    rowl(out, "records in the raw topic", (long)rc.nids, 1);
    rowl(out, "  of which duplicates the engine ignored", rc.duplicates, 1);
    rowl(out, "accepted events missing from the raw topic", missing_raw, missing_raw == 0);
    rowl(out, "alerts expected (FIRING + RESOLVED)", (long)exp.n, exp.n > 0);
    rowl(out, "  FIRING episodes expected", firing, 1);
    rowl(out, "alerts committed to the alerts topic", (long)got.n, 1);
    rowl(out, "expected alerts missing from the alerts topic", lost_proc, lost_proc == 0);
    rowl(out, "unexpected alerts in the alerts topic", extra, extra == 0);
    rowl(out, "alert ids committed twice", dupid, dupid == 0);
    rowl(out, "alerts out of order per grouping key", order, order == 0);
    rowl(out, "OpsGenie: alerts delivered", (long)exp.n - og_lost, 1);
    rowl(out, "OpsGenie: alerts lost", og_lost, og_lost == 0);
    rowl(out, "OpsGenie: FIRING episodes without an alert", og_missing, og_missing == 0);
    rowl(out, "OpsGenie: duplicate creates (extra alerts per alias)", og_dup, og_dup == 0);
    rowl(out, "OpsGenie: alerts open/closed against expectation", og_badclose,
         og_badclose == 0);
    rowl(out, "OpsGenie: repeated creates absorbed by alias dedup", og_absorbed, 1);
    rowl(out, "Slack: alerts delivered", (long)exp.n - sl_lost, 1);
    rowl(out, "Slack: alerts lost", sl_lost, sl_lost == 0);
    rowl(out, "Slack: repeated messages (redelivery)", sl_repeat, 1);
    for (int i = 0; i < 2; i++) {
        snprintf(topic, sizeof(topic), "%s: dead-lettered", i ? "Slack" : "OpsGenie");
        rowl(out, topic, dlq[i].n, 1);
        for (int k = 0; k < dlq[i].nreasons; k++) {
            snprintf(topic, sizeof(topic), "  why: %.40s", dlq[i].reasons[k]);
            rowl(out, topic, dlq[i].counts[k], 1);
        }
    }
    snprintf(buf, sizeof(buf), "%.2f s", og_wait);
    row(out, "OpsGenie: max wait (alert record -> sink receipt)", buf, 1);
    snprintf(buf, sizeof(buf), "%.2f s", sl_wait);
    row(out, "Slack: max wait (alert record -> sink receipt)", buf, 1);
    if (out != stdout)
        fclose(out);
    if (a.report && !a.quiet) {
        if ((f = fopen(a.report, "r"))) {
            while (fgets(line, sizeof(line), f))
                fputs(line, stdout);
            fclose(f);
        }
    }
    for (int i = 0; i < 64; i++)
        sla_engine_free(rc.eng[i]);
    for (size_t i = 0; i < rc.nids; i++)
        free(rc.ids[i]);
    free(rc.ids);
    alv_free(&exp);
    alv_free(&got);
    cJSON_Delete(og_alerts);
    cJSON_Delete(og_reqs);
    cJSON_Delete(sl_reqs);
    policy_free(pol);
    codec_shutdown();
    return failures ? 1 : 0;
}
