/*
 * test_sla.c — the SLA engine (SPEC §6): the fixture scenario, exact
 * threshold milliseconds, late and duplicate events, out-of-order acd
 * events, flat events, service-level windows, queue statistics, restore
 * from drained state at every split point, caps, determinism.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "processor/policy.h"
#include "processor/sla.h"
#include "support/support.h"

#define SUPPORT "2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c"
#define BILLING "7c6d5e4f-3a2b-4c1d-9e8f-7a6b5c4d3e2f"
#define T0 1763884800000LL
#define MAXREC 256

/* ---- alert collector: one line per alert, the fields tests compare ---- */

struct rec {
    char line[MAXREC][512];
    char id[MAXREC][65];
    char msg[MAXREC][140];
    char prio[MAXREC][4];
    int64_t count[MAXREC];
    size_t n;
};

static enum qa_err collect(const struct alert *al, void *opaque)
{
    struct rec *r = opaque;
    assert_true(r->n < MAXREC);
    assert_true(strlen(al->message) <= 130);
    assert_non_null(al->priority);
    snprintf(r->line[r->n], sizeof(r->line[0]),
             "%s|%s|%" PRId64 "|%s|%" PRId64 "|c%" PRId64 "|f%" PRId64 "|%.4f|%" PRId64,
             al->grouping_key, al->status == ALERT_FIRING ? "FIRING" : "RESOLVED", al->at_ms,
             al->conversation_id ? al->conversation_id : "-",
             al->threshold_ms == CODEC_ABSENT ? -1 : al->threshold_ms, al->count,
             al->first_seen_ms, isnan(al->service_level) ? -1.0 : al->service_level,
             al->samples == CODEC_ABSENT ? -1 : al->samples);
    snprintf(r->id[r->n], sizeof(r->id[0]), "%s", al->alert_id);
    snprintf(r->msg[r->n], sizeof(r->msg[0]), "%s", al->message);
    snprintf(r->prio[r->n], sizeof(r->prio[0]), "%s", al->priority);
    r->count[r->n] = al->count;
    r->n++;
    return QA_OK;
}

static void assert_line_prefix(const struct rec *r, size_t i, const char *prefix)
{
    assert_true(i < r->n);
    if (strncmp(r->line[i], prefix, strlen(prefix)) != 0)
        fail_msg("alert %zu: got %s, want prefix %s", i, r->line[i], prefix);
}

/* ---- events ---- */

static struct raw_event mk(enum raw_kind kind, const char *id, const char *queue,
                           const char *conv, const char *media, int64_t t)
{
    struct raw_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.event_id = (char *)id;
    ev.queue_id = (char *)queue;
    ev.conversation_id = (char *)conv;
    ev.media_type = (char *)media;
    ev.event_time_ms = t;
    ev.received_ms = t;
    ev.wait_ms = CODEC_ABSENT;
    ev.sla_ms = CODEC_ABSENT;
    ev.calls_in_queue = CODEC_ABSENT;
    ev.sla_percentage = NAN;
    ev.target_sla = NAN;
    return ev;
}

static enum sla_outcome feed(struct sla_engine *e, const struct raw_event *ev, struct rec *r)
{
    char err[256];
    enum sla_outcome out;
    assert_int_equal(sla_engine_process(e, ev, collect, r, &out, err, sizeof(err)), QA_OK);
    return out;
}

static void start(struct sla_engine *e, struct rec *r, const char *queue, const char *conv,
                  int64_t t)
{
    char id[128];
    snprintf(id, sizeof(id), "start-%s", conv);
    struct raw_event ev = mk(RAW_ACD_START, id, queue, conv, "VOICE", t);
    feed(e, &ev, r);
}

static void end(struct sla_engine *e, struct rec *r, const char *queue, const char *conv,
                int64_t t, const char *outcome)
{
    char id[128];
    snprintf(id, sizeof(id), "end-%s", conv);
    struct raw_event ev = mk(RAW_ACD_END, id, queue, conv, "VOICE", t);
    ev.acd_outcome = (char *)outcome;
    feed(e, &ev, r);
}

static void advance(struct sla_engine *e, struct rec *r, int64_t wm)
{
    char err[256];
    assert_int_equal(sla_engine_advance(e, wm, collect, r, err, sizeof(err)), QA_OK);
}

/* A Genesys notification event (the fixture lines) as the recogniser would
 * fill it: the test's stand-in for ingest/recognise.c. Strings point into
 * the cJSON tree, which the caller keeps until it is done with ev. */
static struct raw_event from_notification(const cJSON *root)
{
    const char *topic = cJSON_GetStringValue(cJSON_GetObjectItem(root, "topicName"));
    const cJSON *body = cJSON_GetObjectItem(root, "eventBody");
    const cJSON *meta = cJSON_GetObjectItem(root, "metadata");
    enum raw_kind kind = RAW_OTHER;
    size_t tl = topic ? strlen(topic) : 0;

    if (tl > 10 && strcmp(topic + tl - 10, ".acd.start") == 0)
        kind = RAW_ACD_START;
    else if (tl > 8 && strcmp(topic + tl - 8, ".acd.end") == 0)
        kind = RAW_ACD_END;
    struct raw_event ev =
        mk(kind, cJSON_GetStringValue(cJSON_GetObjectItem(meta, "CorrelationId")),
           cJSON_GetStringValue(cJSON_GetObjectItem(body, "queueId")),
           cJSON_GetStringValue(cJSON_GetObjectItem(body, "conversationId")),
           cJSON_GetStringValue(cJSON_GetObjectItem(body, "mediaType")),
           (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(body, "eventTime")));
    ev.event_type = (char *)topic;
    ev.acd_outcome = cJSON_GetStringValue(cJSON_GetObjectItem(body, "acdOutcome"));
    return ev;
}

/* The scenario's lines, parsed; free with cJSON_Delete on each. */
static size_t load_lines(const char *fixture, cJSON **out, size_t max)
{
    char *text = ts_fixture(fixture, NULL), *save = NULL;
    size_t n = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        assert_true(n < max);
        assert_non_null(out[n] = cJSON_Parse(line));
        n++;
    }
    free(text);
    return n;
}

static struct policy *fixture_policy(void)
{
    char *json = ts_fixture("policy.json", NULL), err[256];
    struct policy *p = NULL;
    assert_int_equal(policy_load_string(json, &p, err, sizeof(err)), QA_OK);
    free(json);
    return p;
}

static void run_scenario(struct rec *r)
{
    cJSON *lines[16];
    struct policy *p = fixture_policy();
    struct sla_engine *e = sla_engine_new(p, NULL);
    size_t n = load_lines("scenario-wait-breach.jsonl", lines, 16);

    for (size_t i = 0; i < n; i++) {
        struct raw_event ev = from_notification(lines[i]);
        assert_int_equal(feed(e, &ev, r), SLA_APPLIED);
        cJSON_Delete(lines[i]);
    }
    sla_engine_free(e);
    policy_free(p);
}

static void test_scenario(void **state)
{
    struct rec r = { .n = 0 };
    cJSON *want[8];
    size_t n;

    run_scenario(&r);
    n = load_lines("scenario-wait-breach.expected.jsonl", want, 8);
    assert_int_equal(r.n, n);
    for (size_t i = 0; i < n; i++) {
        char prefix[512];
        const cJSON *evd = cJSON_GetObjectItem(want[i], "evidence");
        snprintf(prefix, sizeof(prefix), "%s|%s|%.0f|",
                 cJSON_GetStringValue(cJSON_GetObjectItem(want[i], "groupingKey")),
                 cJSON_GetStringValue(cJSON_GetObjectItem(want[i], "status")),
                 cJSON_GetNumberValue(cJSON_GetObjectItem(want[i], "at")));
        assert_line_prefix(&r, i, prefix);
        if (evd) {
            char ev_part[256];
            snprintf(ev_part, sizeof(ev_part), "|%s|%.0f|",
                     cJSON_GetStringValue(cJSON_GetObjectItem(evd, "conversationId")),
                     cJSON_GetNumberValue(cJSON_GetObjectItem(evd, "thresholdMs")));
            assert_non_null(strstr(r.line[i], ev_part));
        }
        cJSON_Delete(want[i]);
    }
}

static void test_scenario_message_and_determinism(void **state)
{
    struct rec a = { .n = 0 }, b = { .n = 0 };
    struct policy *p = fixture_policy();
    struct sla_engine *e = sla_engine_new(p, NULL);
    struct rec r = { .n = 0 };

    run_scenario(&a);
    run_scenario(&b);
    assert_int_equal(a.n, 2);
    assert_int_equal(b.n, 2);
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(strlen(a.id[i]), 64);
        assert_string_equal(a.id[i], b.id[i]);
        assert_string_equal(a.line[i], b.line[i]);
    }
    assert_string_not_equal(a.id[0], a.id[1]); /* FIRING and RESOLVED differ */
    /* the message, built from the policy's queue name */
    start(e, &r, SUPPORT, "5ce7a001-aaaa", T0);
    advance(e, &r, T0 + 30000);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.msg[0], "Support VOICE: conversation 5ce7a001 waiting 30.0 s, threshold 30.0 s");
    assert_string_equal(r.prio[0], "P2");
    sla_engine_free(e);
    policy_free(p);
}

static void test_threshold_exact_ms(void **state)
{
    struct policy *p = fixture_policy();
    struct sla_engine *e = sla_engine_new(p, NULL);
    struct rec r = { .n = 0 };

    start(e, &r, SUPPORT, "a", T0);
    advance(e, &r, T0 + 30000 - 1);
    assert_int_equal(r.n, 0);
    advance(e, &r, T0 + 10); /* backwards: nothing */
    assert_int_equal(sla_engine_watermark(e), T0 + 30000 - 1);
    advance(e, &r, T0 + 30000);
    assert_int_equal(r.n, 1);
    assert_line_prefix(&r, 0, SUPPORT ":wait_sla_breach:VOICE|FIRING|1763884830000|a|30000|c1");
    /* an unknown queue uses the default threshold (20 s) */
    start(e, &r, "q-unknown", "b", T0 + 40000);
    advance(e, &r, T0 + 59999);
    assert_int_equal(r.n, 1);
    advance(e, &r, T0 + 60000);
    assert_int_equal(r.n, 2);
    assert_line_prefix(&r, 1, "q-unknown:wait_sla_breach:VOICE|FIRING|1763884860000|b|20000");
    sla_engine_free(e);
    policy_free(p);
}

static void test_equal_times(void **state)
{
    struct policy *p = fixture_policy();
    struct sla_engine *e = sla_engine_new(p, NULL);
    struct rec r = { .n = 0 };

    /* answered at exactly start + D: wait == D is within SLA, no breach */
    start(e, &r, SUPPORT, "a", T0);
    end(e, &r, SUPPORT, "a", T0 + 30000, "ANSWERED");
    advance(e, &r, T0 + 100000);
    assert_int_equal(r.n, 0);
    /* an unrelated event at exactly start + D fires the breach */
    start(e, &r, SUPPORT, "b", T0 + 200000);
    start(e, &r, BILLING, "c", T0 + 230000);
    assert_int_equal(r.n, 1);
    assert_line_prefix(&r, 0, SUPPORT ":wait_sla_breach:VOICE|FIRING|1763885030000|b|");
    sla_engine_free(e);
    policy_free(p);
}

static void test_late_events(void **state)
{
    struct policy *p = fixture_policy();
    struct sla_engine *e = sla_engine_new(p, NULL);
    struct rec r = { .n = 0 };

    advance(e, &r, T0 + 100000);
    /* a start older than the watermark by more than D breaches at once, at start + D */
    start(e, &r, SUPPORT, "late", T0);
    assert_int_equal(r.n, 1);
    assert_line_prefix(&r, 0, SUPPORT ":wait_sla_breach:VOICE|FIRING|1763884830000|late|");
    assert_int_equal(sla_engine_watermark(e), T0 + 100000);
    /* its late end resolves at its own time */
    end(e, &r, SUPPORT, "late", T0 + 45000, "ANSWERED");
    assert_int_equal(r.n, 2);
    assert_line_prefix(&r, 1, SUPPORT ":wait_sla_breach:VOICE|RESOLVED|1763884845000|late|");
    /* a late start whose threshold is still ahead, answered in time: nothing */
    start(e, &r, SUPPORT, "late2", T0 + 90000);
    end(e, &r, SUPPORT, "late2", T0 + 95000, "ANSWERED");
    advance(e, &r, T0 + 200000);
    assert_int_equal(r.n, 2);
    /* a late start already past its threshold fires at once: with nothing
     * newer than the watermark it is, as far as the engine can know, still
     * waiting; its late end then resolves no earlier than the FIRING */
    start(e, &r, SUPPORT, "late3", T0 + 1000);
    assert_int_equal(r.n, 3);
    assert_line_prefix(&r, 2, SUPPORT ":wait_sla_breach:VOICE|FIRING|1763884831000|late3|");
    end(e, &r, SUPPORT, "late3", T0 + 2000, "ANSWERED");
    assert_int_equal(r.n, 4);
    assert_line_prefix(&r, 3, SUPPORT ":wait_sla_breach:VOICE|RESOLVED|1763884831000|late3|");
    sla_engine_free(e);
    policy_free(p);
}

struct kv {
    char *key[4096];
    uint8_t *val[4096];
    size_t vlen[4096];
    size_t n, calls;
};

static enum qa_err kv_put(const void *key, size_t klen, const void *value, size_t vlen,
                          void *opaque)
{
    struct kv *m = opaque;
    size_t i;
    m->calls++;
    for (i = 0; i < m->n; i++)
        if (strlen(m->key[i]) == klen && memcmp(m->key[i], key, klen) == 0)
            break;
    if (i == m->n) {
        if (!value)
            return QA_OK; /* compaction: a tombstone of nothing */
        assert_true(m->n < 4096);
        m->key[i] = strndup(key, klen);
        m->val[i] = NULL;
        m->n++;
    }
    free(m->val[i]);
    m->val[i] = NULL;
    if (!value) { /* tombstone: delete */
        free(m->key[i]);
        m->key[i] = m->key[m->n - 1];
        m->val[i] = m->val[m->n - 1];
        m->vlen[i] = m->vlen[m->n - 1];
        m->n--;
        return QA_OK;
    }
    m->val[i] = malloc(vlen);
    memcpy(m->val[i], value, vlen);
    m->vlen[i] = vlen;
    return QA_OK;
}

static void kv_free(struct kv *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->key[i]);
        free(m->val[i]);
    }
    m->n = 0;
}

static void drain(struct sla_engine *e, struct kv *m)
{
    char err[256];
    assert_int_equal(sla_engine_drain_changes(e, kv_put, m, err, sizeof(err)), QA_OK);
}

static void test_duplicates(void **state)
{
    struct policy *p = fixture_policy();
    struct sla_options o;
    struct sla_engine *e;
    struct rec r = { .n = 0 };
    struct kv *m = calloc(1, sizeof(*m));
    struct raw_event ev;

    sla_options_default(&o);
    o.dedup_window_ms = 60000;
    e = sla_engine_new(p, &o);
    ev = mk(RAW_ACD_START, "ev-1", SUPPORT, "a", "VOICE", T0);
    assert_int_equal(feed(e, &ev, &r), SLA_APPLIED);
    drain(e, m);
    assert_true(m->calls > 0);
    /* the same id again: changes nothing, not even pending state */
    m->calls = 0;
    assert_int_equal(feed(e, &ev, &r), SLA_DUPLICATE);
    drain(e, m);
    assert_int_equal(m->calls, 0);
    /* a duplicate of an end, with a different body, still changes nothing */
    struct raw_event en = mk(RAW_ACD_END, "ev-2", SUPPORT, "a", "VOICE", T0 + 50000);
    en.acd_outcome = "ANSWERED";
    advance(e, &r, T0 + 40000);
    assert_int_equal(r.n, 1);
    assert_int_equal(feed(e, &en, &r), SLA_APPLIED);
    assert_int_equal(r.n, 2);
    drain(e, m);
    m->calls = 0;
    en.event_time_ms = T0 + 55000;
    assert_int_equal(feed(e, &en, &r), SLA_DUPLICATE);
    assert_int_equal(r.n, 2);
    assert_int_equal(sla_engine_watermark(e), T0 + 50000);
    drain(e, m);
    assert_int_equal(m->calls, 0);
    /* past the dedup window the id is new again (and the conversation is
     * forgotten too, so it starts over) */
    advance(e, &r, T0 + 50000 + 60000);
    ev.event_time_ms = T0 + 200000;
    assert_int_equal(feed(e, &ev, &r), SLA_APPLIED);
    kv_free(m);
    free(m);
    sla_engine_free(e);
    policy_free(p);
}

static void test_scenario_twice_each(void **state)
{
    cJSON *lines[16];
    struct policy *p = fixture_policy();
    struct sla_engine *e = sla_engine_new(p, NULL);
    struct rec r = { .n = 0 }, once = { .n = 0 };
    size_t n = load_lines("scenario-wait-breach.jsonl", lines, 16);

    for (size_t i = 0; i < n; i++) {
        struct raw_event ev = from_notification(lines[i]);
        assert_int_equal(feed(e, &ev, &r), SLA_APPLIED);
        assert_int_equal(feed(e, &ev, &r), SLA_DUPLICATE);
        cJSON_Delete(lines[i]);
    }
    run_scenario(&once);
    assert_int_equal(r.n, once.n);
    for (size_t i = 0; i < r.n; i++)
        assert_string_equal(r.line[i], once.line[i]);
    sla_engine_free(e);
    policy_free(p);
}

static void test_end_before_start(void **state)
{
    struct policy *p = fixture_policy();
    struct sla_engine *e = sla_engine_new(p, NULL);
    struct rec r = { .n = 0 };
    struct sla_stats st;

    end(e, &r, SUPPORT, "x", T0 + 5000, "ANSWERED");
    start(e, &r, SUPPORT, "x", T0);
    advance(e, &r, T0 + 600000);
    assert_int_equal(r.n, 0);
    sla_engine_stats(e, &st);
    assert_int_equal(st.open_conversations, 0);
    /* an answered end with no known start is not a sample: no window */
    assert_int_equal(st.sl_windows, 0);
    /* a repeated start for a conversation that ended: nothing */
    start(e, &r, SUPPORT, "x", T0 + 600001);
    advance(e, &r, T0 + 700000);
    assert_int_equal(r.n, 0);
    sla_engine_free(e);
    policy_free(p);
}

static void test_overlapping(void **state)
{
    struct policy *p = fixture_policy();
    struct sla_engine *e = sla_engine_new(p, NULL);
    struct rec r = { .n = 0 };

    start(e, &r, SUPPORT, "a", T0);
    start(e, &r, SUPPORT, "b", T0 + 1000);
    start(e, &r, SUPPORT, "b", T0 + 1500); /* a repeated start changes nothing */
    advance(e, &r, T0 + 40000);
    assert_int_equal(r.n, 1); /* one alert for both */
    end(e, &r, SUPPORT, "a", T0 + 41000, "ANSWERED");
    assert_int_equal(r.n, 1); /* b still waiting past the threshold */
    end(e, &r, SUPPORT, "b", T0 + 42000, "ABANDON");
    assert_int_equal(r.n, 2);
    assert_line_prefix(&r, 1, SUPPORT ":wait_sla_breach:VOICE|RESOLVED|1763884842000|b|30000|c2|f1763884830000");
    sla_engine_free(e);
    policy_free(p);
}

static struct raw_event flat(const char *id, const char *conv, int64_t t, int64_t wait,
                             int64_t sla)
{
    struct raw_event ev = mk(RAW_FLAT_WAIT, id, SUPPORT, conv, "voice", t);
    ev.queue_name = "Support";
    ev.wait_ms = wait;
    ev.sla_ms = sla;
    return ev;
}

static void test_flat(void **state)
{
    struct sla_engine *e = sla_engine_new(NULL, NULL); /* no policy: defaults */
    struct rec r = { .n = 0 };
    struct sla_stats st;
    struct raw_event ev = flat("f1", "c0ffee01", T0, 45200, 30000);

    assert_int_equal(feed(e, &ev, &r), SLA_APPLIED);
    assert_int_equal(r.n, 1);
    assert_line_prefix(&r, 0, SUPPORT ":wait_sla_breach:VOICE|FIRING|1763884800000|c0ffee01|30000|c1");
    assert_string_equal(r.msg[0], "Support VOICE: conversation c0ffee01 waiting 45.2 s, threshold 30.0 s");
    advance(e, &r, T0 + 300000 - 1);
    assert_int_equal(r.n, 1);
    advance(e, &r, T0 + 300000);
    assert_int_equal(r.n, 2);
    assert_line_prefix(&r, 1, SUPPORT ":wait_sla_breach:VOICE|RESOLVED|1763885100000|");
    /* a second breach inside the period pushes the resolve out */
    ev = flat("f2", "c2", T0 + 400000, 31000, 30000);
    feed(e, &ev, &r);
    ev = flat("f3", "c3", T0 + 500000, 30001, 30000);
    feed(e, &ev, &r);
    assert_int_equal(r.n, 3);
    advance(e, &r, T0 + 700000);
    assert_int_equal(r.n, 3);
    advance(e, &r, T0 + 800000);
    assert_int_equal(r.n, 4);
    assert_line_prefix(&r, 3, SUPPORT ":wait_sla_breach:VOICE|RESOLVED|1763885600000|-|30000|c2|f1763885200000");
    /* within SLA (equal is within): nothing, and never a service-level sample */
    ev = flat("f4", "c4", T0 + 900000, 30000, 30000);
    assert_int_equal(feed(e, &ev, &r), SLA_APPLIED);
    advance(e, &r, T0 + 2000000);
    assert_int_equal(r.n, 4);
    sla_engine_stats(e, &st);
    assert_int_equal(st.sl_windows, 0);
    assert_int_equal(st.open_alerts, 0);
    /* no queue id: not usable */
    ev = flat("f5", "c5", T0 + 2000001, 90000, 30000);
    ev.queue_id = NULL;
    assert_int_equal(feed(e, &ev, &r), SLA_IGNORED);
    sla_engine_free(e);
}

/* One service-level sample: a conversation that waited `wait` and ended at t. */
static void sample(struct sla_engine *e, struct rec *r, const char *queue, const char *conv,
                   int64_t t, int64_t wait, const char *outcome)
{
    start(e, r, queue, conv, t - wait);
    end(e, r, queue, conv, t, outcome);
}

/* Only the service-level alerts (the samples' waits may breach too). */
static void only_sl(const struct rec *all, struct rec *out)
{
    out->n = 0;
    for (size_t i = 0; i < all->n; i++)
        if (strstr(all->line[i], ":service_level_low"))
            memcpy(out->line[out->n++], all->line[i], sizeof(all->line[0]));
}

static void test_service_level_window(void **state)
{
    struct policy *p = fixture_policy();
    struct sla_options o;
    struct sla_engine *e;
    struct rec r = { .n = 0 }, sl;
    const int64_t W = 900000;

    sla_options_default(&o);
    o.sl_min_samples = 4;
    e = sla_engine_new(p, &o);
    /* Billing VOICE: 20 s, 80 (per cent in the policy) */
    sample(e, &r, BILLING, "a", T0, 1000, "ANSWERED");
    sample(e, &r, BILLING, "b", T0 + 1000, 20000, "ANSWERED"); /* == D: within */
    sample(e, &r, BILLING, "t", T0 + 1500, 1000, "TRANSFER");  /* not a sample */
    sample(e, &r, BILLING, "c", T0 + 2000, 2000, "ANSWERED");
    only_sl(&r, &sl);
    assert_int_equal(sl.n, 0); /* three samples < minimum */
    sample(e, &r, BILLING, "d", T0 + 3000, 1000, "ABANDON");
    only_sl(&r, &sl);
    assert_int_equal(sl.n, 1); /* 3/4 = 0.75 < 0.8 */
    assert_line_prefix(&sl, 0, BILLING ":service_level_low:VOICE|FIRING|1763884803000|-|20000|c1|f1763884803000|0.7500|4");
    sample(e, &r, BILLING, "e", T0 + 4000, 1000, "ANSWERED");
    only_sl(&r, &sl);
    assert_int_equal(sl.n, 2); /* 4/5 = 0.8: at the target is not low */
    assert_line_prefix(&sl, 1, BILLING ":service_level_low:VOICE|RESOLVED|1763884804000|-|20000|c1|f1763884803000|0.8000|5");
    sample(e, &r, BILLING, "f", T0 + 5000, 25000, "ANSWERED"); /* over D */
    only_sl(&r, &sl);
    assert_int_equal(sl.n, 3); /* 4/6 */
    assert_line_prefix(&sl, 2, BILLING ":service_level_low:VOICE|FIRING|1763884805000|");
    sample(e, &r, BILLING, "g", T0 + 6000, 30000, "ABANDON"); /* still low: folded */
    only_sl(&r, &sl);
    assert_int_equal(sl.n, 3);
    /* samples leave at exactly t + window */
    advance(e, &r, T0 + W - 1);
    advance(e, &r, T0 + W);            /* a leaves: 3/6 */
    advance(e, &r, T0 + 1000 + W);     /* b leaves: 2/5 */
    advance(e, &r, T0 + 2000 + W);     /* c leaves: 1/4 */
    only_sl(&r, &sl);
    assert_int_equal(sl.n, 3);
    advance(e, &r, T0 + 3000 + W - 1);
    only_sl(&r, &sl);
    assert_int_equal(sl.n, 3);
    advance(e, &r, T0 + 3000 + W);     /* d leaves: 3 samples < minimum */
    only_sl(&r, &sl);
    assert_int_equal(sl.n, 4);
    assert_line_prefix(&sl, 3, BILLING ":service_level_low:VOICE|RESOLVED|1763885703000|-|20000|c2|f1763884805000|0.3333|3");
    sla_engine_free(e);
    policy_free(p);
}

/* The same samples against 0.75 written as a fraction and as per cent. */
static void run_target(const char *policy_json, struct rec *r)
{
    char err[256];
    struct policy *p = NULL;
    struct sla_options o;
    struct sla_engine *e;

    assert_int_equal(policy_load_string(policy_json, &p, err, sizeof(err)), QA_OK);
    sla_options_default(&o);
    o.sl_min_samples = 4;
    e = sla_engine_new(p, &o);
    sample(e, r, "q", "a", T0, 100, "ANSWERED");
    sample(e, r, "q", "b", T0 + 1, 100, "ANSWERED");
    sample(e, r, "q", "c", T0 + 2, 100, "ANSWERED");
    sample(e, r, "q", "d", T0 + 3, 100, "ABANDON");  /* 3/4 = 0.75: not low */
    sample(e, r, "q", "e", T0 + 4, 100, "ABANDON");  /* 3/5: low */
    sla_engine_free(e);
    policy_free(p);
}

static void test_percentage_forms(void **state)
{
    struct rec a = { .n = 0 }, b = { .n = 0 };
    run_target("{\"default\":{\"percentage\":0.75}}", &a);
    run_target("{\"default\":{\"percentage\":75}}", &b);
    assert_int_equal(a.n, 1);
    assert_line_prefix(&a, 0, "q:service_level_low:VOICE|FIRING|1763884800004|");
    assert_int_equal(b.n, 1);
    assert_string_equal(a.line[0], b.line[0]);
}

static struct raw_event stats(const char *id, int64_t t, double pct, double target)
{
    struct raw_event ev = mk(RAW_QUEUE_STATS, id, BILLING, NULL, NULL, t);
    ev.queue_name = "Billing";
    ev.sla_percentage = pct;
    ev.target_sla = target;
    ev.wait_ms = 92000;
    return ev;
}

static void test_queue_stats(void **state)
{
    struct policy *p = fixture_policy();
    struct sla_engine *e = sla_engine_new(p, NULL);
    struct rec r = { .n = 0 };
    struct raw_event ev = stats("s1", T0, 61.5, 80);

    feed(e, &ev, &r);
    assert_int_equal(r.n, 1);
    assert_line_prefix(&r, 0, BILLING ":service_level_low|FIRING|1763884800000|-|-1|c1|f1763884800000|0.6150|-1");
    assert_string_equal(r.msg[0], "Billing: service level 61.5% below target 80.0%");
    assert_string_equal(r.prio[0], "P1");
    ev = stats("s2", T0 + 60000, 70, 80); /* still low: not sent again */
    feed(e, &ev, &r);
    assert_int_equal(r.n, 1);
    ev = stats("s3", T0 + 120000, 80, 80); /* at the target: resolved */
    feed(e, &ev, &r);
    assert_int_equal(r.n, 2);
    assert_line_prefix(&r, 1, BILLING ":service_level_low|RESOLVED|1763884920000|-|-1|c2|f1763884800000|0.8000");
    ev = stats("s4", T0 + 180000, 90, 80);
    feed(e, &ev, &r);
    assert_int_equal(r.n, 2);
    ev = stats("s5", T0 + 240000, NAN, 80);
    assert_int_equal(feed(e, &ev, &r), SLA_IGNORED);
    sla_engine_free(e);
    policy_free(p);
}

/* ---- restore equivalence ---- */

struct op {
    bool is_advance;
    int64_t wm;
    struct raw_event ev;
};

static size_t build_ops(struct op *ops, cJSON **lines, size_t *nlines)
{
    size_t n = 0;
    static char conv[40][16], sid[40][24], eid[40][24];

    *nlines = load_lines("scenario-wait-breach.jsonl", lines, 16);
    for (size_t i = 0; i < *nlines; i++)
        ops[n++] = (struct op){ .ev = from_notification(lines[i]) };
    ops[n++] = (struct op){ .ev = from_notification(lines[0]) }; /* a duplicate */
    ops[n++] = (struct op){ .ev = flat("f1", "c0ffee01", T0 + 60000, 45200, 30000) };
    ops[n++] = (struct op){ .is_advance = true, .wm = T0 + 200000 };
    ops[n++] = (struct op){ .ev = flat("f2", "c0ffee02", T0 + 210000, 45200, 30000) };
    ops[n++] = (struct op){ .ev = stats("s1", T0 + 220000, 61.5, 80) };
    /* Billing samples: every third over the threshold, some abandoned */
    for (int i = 0; i < 12; i++) {
        int64_t t = T0 + 230000 + i * 20000, wait = i % 3 == 0 ? 25000 : 5000;
        snprintf(conv[i], sizeof(conv[i]), "b%02d", i);
        snprintf(sid[i], sizeof(sid[i]), "bs%02d", i);
        snprintf(eid[i], sizeof(eid[i]), "be%02d", i);
        ops[n++] = (struct op){ .ev = mk(RAW_ACD_START, sid[i], BILLING, conv[i], "VOICE", t - wait) };
        ops[n] = (struct op){ .ev = mk(RAW_ACD_END, eid[i], BILLING, conv[i], "VOICE", t) };
        ops[n++].ev.acd_outcome = i % 4 == 1 ? "ABANDON" : "ANSWERED";
    }
    ops[n++] = (struct op){ .ev = stats("s2", T0 + 500000, 85, 80) };
    ops[n++] = (struct op){ .ev = mk(RAW_ACD_END, "early-end", BILLING, "z", "VOICE", T0 + 510000) };
    ops[n - 1].ev.acd_outcome = "ANSWERED";
    ops[n++] = (struct op){ .ev = mk(RAW_ACD_START, "late-start", BILLING, "z", "VOICE", T0 + 505000) };
    ops[n++] = (struct op){ .ev = mk(RAW_ACD_START, "w1", BILLING, "w", "VOICE", T0 + 520000) };
    ops[n++] = (struct op){ .is_advance = true, .wm = T0 + 1200000 };
    ops[n++] = (struct op){ .ev = stats("s1", T0 + 1300000, 10, 80) }; /* duplicate id */
    ops[n++] = (struct op){ .is_advance = true, .wm = T0 + 5000000 };
    ops[n++] = (struct op){ .ev = flat("f1", "c0ffee01", T0 + 5000001, 45200, 30000) };
    return n;
}

static void apply_op(struct sla_engine *e, const struct op *op, struct rec *r)
{
    if (op->is_advance)
        advance(e, r, op->wm);
    else
        feed(e, &op->ev, r);
}

static struct sla_engine *new_engine(const struct policy *p)
{
    struct sla_options o;
    sla_options_default(&o);
    o.sl_min_samples = 5;
    return sla_engine_new(p, &o);
}

static void test_restore_equivalence(void **state)
{
    static struct op ops[128];
    cJSON *lines[16];
    size_t nlines, n = build_ops(ops, lines, &nlines);
    struct policy *p = fixture_policy();
    struct rec *full = calloc(1, sizeof(*full)), *split = calloc(1, sizeof(*split));
    struct kv *m = calloc(1, sizeof(*m));
    struct sla_engine *e;

    e = new_engine(p);
    for (size_t i = 0; i < n; i++)
        apply_op(e, &ops[i], full);
    sla_engine_free(e);
    assert_true(full->n >= 8); /* the sequence exercises every alarm */

    for (size_t k = 0; k <= n; k++) {
        char err[256];
        split->n = 0;
        e = new_engine(p);
        for (size_t i = 0; i < k; i++) {
            apply_op(e, &ops[i], split);
            if (i % 3 == 2 || i + 1 == k) /* batches of three */
                drain(e, m);
        }
        sla_engine_free(e);
        e = new_engine(p);
        for (size_t i = 0; i < m->n; i++)
            assert_int_equal(sla_engine_restore(e, m->key[i], strlen(m->key[i]), m->val[i],
                                                m->vlen[i], err, sizeof(err)), QA_OK);
        assert_int_equal(sla_engine_restore_finish(e, err, sizeof(err)), QA_OK);
        for (size_t i = k; i < n; i++)
            apply_op(e, &ops[i], split);
        sla_engine_free(e);
        kv_free(m);
        if (split->n != full->n)
            fail_msg("split at %zu: %zu alerts, uninterrupted %zu", k, split->n, full->n);
        for (size_t i = 0; i < full->n; i++) {
            if (strcmp(split->line[i], full->line[i]) != 0 || strcmp(split->id[i], full->id[i]))
                fail_msg("split at %zu, alert %zu: %s != %s", k, i, split->line[i], full->line[i]);
        }
    }
    for (size_t i = 0; i < nlines; i++)
        cJSON_Delete(lines[i]);
    free(full);
    free(split);
    free(m);
    policy_free(p);
}

static void test_restore_refuses_garbage(void **state)
{
    struct sla_engine *e = sla_engine_new(NULL, NULL);
    char err[256];
    const uint8_t bad_version[] = { 2, 0 };
    const uint8_t truncated[] = { 1, 0, 9, 'q' };
    const uint8_t huge_window[] = { 1, 2, 'q', 0, 0xfe, 0xff, 0xff, 0xff, 0x0f };
    const uint8_t junk[] = { 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

    assert_int_equal(sla_engine_restore(e, "bogus:x", 7, junk, sizeof(junk), err, sizeof(err)),
                     QA_ERR_INVALID);
    assert_int_equal(sla_engine_restore(e, "wm", 2, bad_version, 2, err, sizeof(err)),
                     QA_ERR_INVALID);
    assert_int_equal(sla_engine_restore(e, "conv:a", 6, truncated, sizeof(truncated), err,
                                        sizeof(err)), QA_ERR_INVALID);
    assert_int_equal(sla_engine_restore(e, "slw:k", 5, huge_window, sizeof(huge_window), err,
                                        sizeof(err)), QA_ERR_INVALID);
    assert_int_equal(sla_engine_restore(e, "alert:k", 7, junk, sizeof(junk), err, sizeof(err)),
                     QA_ERR_INVALID);
    assert_int_equal(sla_engine_restore(e, "seen:k", 6, junk, sizeof(junk), err, sizeof(err)),
                     QA_ERR_INVALID);
    assert_int_equal(sla_engine_restore(e, "a\0b", 3, NULL, 0, err, sizeof(err)), QA_ERR_INVALID);
    /* a tombstone for something never seen is fine */
    assert_int_equal(sla_engine_restore(e, "conv:zz", 7, NULL, 0, err, sizeof(err)), QA_OK);
    assert_int_equal(sla_engine_restore_finish(e, err, sizeof(err)), QA_OK);
    sla_engine_free(e);
}

static void test_caps(void **state)
{
    struct policy *p = fixture_policy();
    struct sla_options o;
    struct sla_engine *e;
    struct rec r = { .n = 0 };
    struct sla_stats st;
    struct raw_event ev;

    sla_options_default(&o);
    o.max_conversations = 2;
    o.max_seen_ids = 3;
    o.max_keys = 1;
    e = sla_engine_new(p, &o);
    start(e, &r, SUPPORT, "a", T0);
    start(e, &r, SUPPORT, "b", T0 + 1);
    start(e, &r, SUPPORT, "c", T0 + 2); /* evicts a */
    sla_engine_stats(e, &st);
    assert_int_equal(st.open_conversations, 2);
    assert_int_equal(st.seen_ids, 3);
    assert_int_equal(st.evictions, 1);
    advance(e, &r, T0 + 30001);
    assert_int_equal(r.n, 1); /* b's breach; a was forgotten */
    assert_line_prefix(&r, 0, SUPPORT ":wait_sla_breach:VOICE|FIRING|1763884830001|b|");
    /* evicting a breaching conversation resolves what it held open */
    start(e, &r, SUPPORT, "d", T0 + 30001);
    assert_int_equal(r.n, 2);
    assert_line_prefix(&r, 1, SUPPORT ":wait_sla_breach:VOICE|RESOLVED|1763884830001|b|");
    /* seen ids: the oldest is forgotten, so its id is new again */
    sla_engine_stats(e, &st);
    assert_int_equal(st.seen_ids, 3);
    ev = mk(RAW_ACD_END, "start-a", SUPPORT, "zz", "VOICE", T0 + 30001);
    assert_int_equal(feed(e, &ev, &r), SLA_APPLIED);
    /* keys: one open alert at most */
    ev = flat("f1", "x", T0 + 40000, 50000, 1000);
    feed(e, &ev, &r);
    ev = flat("f2", "y", T0 + 40001, 50000, 1000);
    ev.queue_id = BILLING;
    feed(e, &ev, &r);
    sla_engine_stats(e, &st);
    assert_int_equal(st.open_alerts, 1);
    assert_true(st.evictions >= 5);
    sla_engine_free(e);
    policy_free(p);
}

static void test_ignored(void **state)
{
    struct sla_engine *e = sla_engine_new(NULL, NULL);
    struct rec r = { .n = 0 };
    struct raw_event ev = mk(RAW_OTHER, "o1", SUPPORT, NULL, NULL, T0);

    assert_int_equal(feed(e, &ev, &r), SLA_IGNORED);
    assert_int_equal(sla_engine_watermark(e), T0); /* still moves the clock */
    ev = mk(RAW_ACD_START, "s1", SUPPORT, NULL, "VOICE", T0 + 1); /* no conversation */
    assert_int_equal(feed(e, &ev, &r), SLA_IGNORED);
    ev = mk(RAW_ACD_START, "s2", SUPPORT, "c", "VOICE", CODEC_ABSENT);
    ev.received_ms = CODEC_ABSENT;
    assert_int_equal(feed(e, &ev, &r), SLA_IGNORED);
    ev = mk(RAW_ACD_START, "s3", SUPPORT, "c", "VOICE", INT64_MAX);
    assert_int_equal(feed(e, &ev, &r), SLA_IGNORED);
    ev = mk(RAW_ACD_START, NULL, SUPPORT, "c", NULL, T0 + 2); /* no id, no media: fine */
    assert_int_equal(feed(e, &ev, &r), SLA_APPLIED);
    advance(e, &r, T0 + 20002);
    assert_int_equal(r.n, 1);
    assert_line_prefix(&r, 0, SUPPORT ":wait_sla_breach|FIRING|1763884820002|c|20000");
    assert_int_equal(sla_engine_watermark(e), T0 + 20002);
    sla_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenario),
        cmocka_unit_test(test_scenario_message_and_determinism),
        cmocka_unit_test(test_threshold_exact_ms),
        cmocka_unit_test(test_equal_times),
        cmocka_unit_test(test_late_events),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_scenario_twice_each),
        cmocka_unit_test(test_end_before_start),
        cmocka_unit_test(test_overlapping),
        cmocka_unit_test(test_flat),
        cmocka_unit_test(test_service_level_window),
        cmocka_unit_test(test_percentage_forms),
        cmocka_unit_test(test_queue_stats),
        cmocka_unit_test(test_restore_equivalence),
        cmocka_unit_test(test_restore_refuses_garbage),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
