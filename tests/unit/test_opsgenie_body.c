/*
 * test_opsgenie_body.c — the OpsGenie bodies, written as text since they
 * stopped going through a cJSON tree, must stay byte for byte what the cJSON
 * builder produced. That builder is kept in tests/support/opsgenie_ref.c
 * (with the UTF-8 sanitiser it clipped with, as it was, so that a change to
 * the shared one shows here) as the reference; this file compares: the usual alerts, empty and NULL fields,
 * the made-up message, 25 tags, details past their budget, duplicate detail
 * keys, control characters, quotes, backslashes, invalid UTF-8, multibyte
 * characters at every clip boundary, NaN and infinite fractions, and a few
 * thousand random alerts of hostile bytes (fixed seed). Also the helpers
 * underneath: JSON strings against cJSON's printer, clip lengths and the
 * sanitiser against the reference copy.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "support/support.h"
#include "common/sbuf.h"
#include "notifier/sinks/opsgenie.h"
#include "support/opsgenie_ref.h"

#define BASE "https://api.opsgenie.com"
#define KEY "eb243592-faa2-4ba2-a551-1afdf565c889"

/* ---- comparing ---- */

static unsigned long compared;

/* The new request's body must be the reference's text, byte for byte. */
static void expect_same(const struct alert *a)
{
    char alias[SINK_OPSGENIE_ALIAS_MAX + 1], err[256];
    struct sink_request req;
    enum qa_err e = sink_opsgenie_request(a, BASE, KEY, &req, err, sizeof(err));
    char *text;
    size_t i = 0;

    if (sink_opsgenie_alias(a->grouping_key, alias, sizeof(alias), NULL, 0) != QA_OK) {
        assert_int_not_equal(e, QA_OK);
        assert_null(req.body);
        return;
    }
    if (e != QA_OK)
        fail_msg("refused: %s", err);
    text = ts_opsgenie_ref_body(a, alias);
    assert_non_null(text);
    assert_non_null(req.body);
    while (text[i] && text[i] == req.body[i])
        i++;
    if (text[i] != req.body[i])
        fail_msg("bodies differ at byte %zu of %zu/%zu:\n  cJSON: %.80s\n  new:   %.80s", i,
                 strlen(text), req.body_len, text + (i > 20 ? i - 20 : 0),
                 req.body + (i > 20 ? i - 20 : 0));
    assert_int_equal(req.body_len, strlen(text));
    compared++;
    free(text);
    sink_request_clear(&req);
}

static char *tag_store[32];
static char *dk[4] = { "site", "alertId", "team" };
static char *dv[4] = { "Lisbon", "mine", "red \"ops\"" };

static struct alert make_alert(enum alert_status st)
{
    struct alert a;

    memset(&a, 0, sizeof(a));
    a.alert_id = "a1b2c3";
    a.grouping_key = "q-123:wait_sla_breach:VOICE";
    a.status = st;
    a.alarm_type = "wait_sla_breach";
    a.queue_id = "q-123";
    a.queue_name = "Support";
    a.media_type = "VOICE";
    a.priority = "P2";
    a.count = 3;
    a.first_seen_ms = 1700000000000LL;
    a.last_seen_ms = 1700000060000LL;
    a.at_ms = 1700000120000LL;
    a.conversation_id = "conv-9";
    a.wait_ms = 45000;
    a.threshold_ms = 30000;
    a.service_level = 0.8125;
    a.target = 0.9;
    a.samples = 48;
    a.message = "Support VOICE: a conversation waited 45.0 s (SLA 30.0 s)";
    a.description = "Queue Support breached its wait SLA.\nSee the dashboard.";
    tag_store[0] = "qalert";
    tag_store[1] = "wait_sla_breach";
    a.tags = tag_store;
    a.ntags = 2;
    a.detail_keys = dk;
    a.detail_values = dv;
    a.ndetails = 3;
    return a;
}

static void test_usual(void **state)
{
    struct alert a = make_alert(ALERT_FIRING);

    expect_same(&a);
    a.status = ALERT_RESOLVED;
    expect_same(&a);
    a.at_ms = 0; /* no time: a shorter note */
    expect_same(&a);
    a = make_alert(ALERT_FIRING);
    a.service_level = NAN;
    a.target = INFINITY;
    a.samples = CODEC_ABSENT;
    a.priority = "P6";
    a.queue_name = NULL;
    expect_same(&a);
    a.service_level = -INFINITY;
    a.target = -0.0;
    a.wait_ms = INT64_MAX;
    a.threshold_ms = CODEC_ABSENT + 1;
    a.count = -1;
    expect_same(&a);
    a.service_level = 1e300; /* "%.4f" cut by its 32-byte buffer */
    a.target = 5e-324;
    expect_same(&a);
}

static void test_empty_fields(void **state)
{
    struct alert a;
    char *none[2] = { NULL, NULL };

    memset(&a, 0, sizeof(a));
    a.grouping_key = "k";
    a.service_level = a.target = NAN;
    a.wait_ms = a.threshold_ms = a.samples = CODEC_ABSENT;
    expect_same(&a); /* "alert on queue ?", no entity, empty tags and details */
    a.status = ALERT_RESOLVED;
    expect_same(&a);
    a.status = ALERT_FIRING;
    a.message = a.description = a.queue_name = a.queue_id = a.priority = "";
    a.tags = none;
    a.ntags = 2;
    a.detail_keys = none;
    a.detail_values = none;
    a.ndetails = 2;
    expect_same(&a);
    a.queue_id = "q-1"; /* the fallback and the entity use the id */
    a.alarm_type = "service_level_low";
    expect_same(&a);
    a.queue_name = "Sales \"EMEA\"";
    a.ntags = 5; /* a count with no array behind it is not read */
    a.tags = NULL;
    a.detail_values = NULL;
    a.ndetails = 9;
    expect_same(&a);
    a.grouping_key = ""; /* refused by both */
    expect_same(&a);
    a.grouping_key = NULL;
    expect_same(&a);
}

static void test_fallback_cut(void **state)
{
    struct alert a = make_alert(ALERT_FIRING);
    char type[400];

    /* the made-up message is cut by its 256-byte buffer mid-character */
    for (size_t i = 0; i + 3 < sizeof(type); i += 3)
        memcpy(type + i, "\xe2\x82\xac", 3);
    type[sizeof(type) - 1] = '\0';
    a.message = NULL;
    a.description = NULL;
    a.alarm_type = type;
    for (size_t off = 0; off < 3; off++) {
        a.alarm_type = type + off; /* each byte of the euro sign at the cut */
        expect_same(&a);
    }
}

static void test_tags(void **state)
{
    struct alert a = make_alert(ALERT_FIRING);
    char *tags[25], names[25][8], longtag[80], multi[200];

    memset(longtag, 'T', 60);
    longtag[60] = '\0';
    for (int i = 0; i < 49; i++)
        multi[i] = 'x';
    strcpy(multi + 49, "\xf0\x9f\x9a\xa8\xc3\xa9"); /* 49 + an astral: 51 units */
    for (int i = 0; i < 25; i++) {
        snprintf(names[i], sizeof(names[i]), "t%d", i);
        tags[i] = names[i];
    }
    tags[0] = longtag;
    tags[1] = "";
    tags[2] = NULL;
    tags[3] = "\x01\x02"; /* empty once sanitised */
    tags[4] = multi;
    tags[5] = "q\"uote\\";
    tags[6] = "\xff";
    a.tags = tags;
    a.ntags = 25;
    expect_same(&a);
    a.ntags = 7;
    expect_same(&a);
}

static void test_details(void **state)
{
    struct alert a = make_alert(ALERT_FIRING);
    char *keys[40], *vals[40], big[1200], longkey[200];

    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    /* the budget: 1000-character values; the ninth passes 8000 */
    for (int i = 0; i < 12; i++) {
        static char names[12][8];
        snprintf(names[i], sizeof(names[i]), "k%d", i);
        keys[i] = names[i];
        vals[i] = big;
    }
    keys[10] = "short";
    vals[10] = "fits"; /* a small one after a big one left out still gets in */
    a.detail_keys = keys;
    a.detail_values = vals;
    a.ndetails = 12;
    expect_same(&a);

    /* duplicates: first wins; raw keys are compared with clipped names */
    keys[0] = "site";     vals[0] = "one";
    keys[1] = "site";     vals[1] = "two";
    keys[2] = "a\x01";    vals[2] = "clipped to a";
    keys[3] = "a";        vals[3] = "a duplicate of the clipped name";
    keys[4] = "a\x01";    vals[4] = "not equal to \"a\": in again";
    keys[5] = "alertId";  vals[5] = "the alert's own wins";
    keys[6] = longkey;    vals[6] = "clipped to 128";
    keys[7] = longkey;    vals[7] = "same raw key";
    keys[8] = "\x01\x02"; vals[8] = "empty name: left out";
    keys[9] = "q\"\\\n\t"; vals[9] = "\x01"; /* empty value once clipped: kept */
    keys[10] = "q\"\\\n\t"; vals[10] = "dup";
    keys[11] = "\xff";    vals[11] = "\xfe\xff";
    keys[12] = "\xef\xbf\xbd"; vals[12] = "U+FFFD spelt out: equals the clipped \\xff";
    keys[13] = NULL;      vals[13] = "x";
    keys[14] = "nullval"; vals[14] = NULL;
    keys[15] = "";        vals[15] = "x";
    keys[16] = "emptyval"; vals[16] = "";
    keys[17] = "queueId"; vals[17] = "q-own";
    a.ndetails = 18;
    expect_same(&a);
    longkey[128] = '\0'; /* exactly 128: equal to the clipped one above */
    keys[8] = longkey;
    expect_same(&a);
}

static void test_many_details(void **state)
{
    struct alert a = make_alert(ALERT_FIRING);
    char *keys[300], *vals[300], names[150][16];
    static const char *odd[] = { "q\"", "b\\", "n\n", "t\t", "\xff", "x\x01" };

    /* past the first 64 entries, duplicates are found by reading the map:
     * names and values with quotes and backslashes there too */
    for (int i = 0; i < 150; i++)
        snprintf(names[i], sizeof(names[i]), "%s%d", i % 23 ? "k" : odd[(i / 23) % 6], i);
    for (int i = 0; i < 300; i++) {
        keys[i] = names[i % 150];
        vals[i] = i % 7 ? (i % 5 ? "v" : "a \"quoted\\\" v\\") : "\x01";
    }
    keys[100] = "slash\\"; /* a name ending in an escaped backslash... */
    vals[100] = "v";
    keys[120] = "slashY";
    keys[270] = "slashY"; /* ...read past on the way to this duplicate */
    keys[299] = "alertId";
    keys[298] = "lastSeen";
    a.detail_keys = keys;
    a.detail_values = vals;
    a.ndetails = 300;
    expect_same(&a);
    a.ndetails = 64; /* the last indexed entry, and the first one after */
    expect_same(&a);
    a.ndetails = 65;
    expect_same(&a);
}

static void test_hostile_text(void **state)
{
    struct alert a = make_alert(ALERT_FIRING);
    char ctl[64], msg[400];
    static const char *pieces[] = { "\xe2\x82\xac", "\xc3\xa9", "\xf0\x9f\x9a\xa8", "\xff",
                                    "\xed\xa0\x80", "\xe2\x82", "\x01", "\"", "\\" };

    for (int i = 1; i < 32; i++)
        ctl[i - 1] = (char)i;
    strcpy(ctl + 31, "\x7f\"\\/\xc2\x80\xff end");
    a.message = ctl;
    a.description = ctl;
    a.queue_name = ctl;
    a.alarm_type = ctl;
    a.conversation_id = ctl;
    a.grouping_key = ctl; /* the alias is not sanitised: every escape shows */
    expect_same(&a);
    a.status = ALERT_RESOLVED;
    expect_same(&a);
    a.status = ALERT_FIRING;
    /* each kind of character straddling the 130 limit, at each offset */
    for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
        for (size_t n = 125; n <= 131; n++) {
            size_t o = 0;
            memset(msg, 'm', n);
            o = n;
            for (int r = 0; r < 3; r++) {
                memcpy(msg + o, pieces[p], strlen(pieces[p]));
                o += strlen(pieces[p]);
            }
            msg[o] = '\0';
            a.message = msg;
            a.description = NULL;
            expect_same(&a);
        }
    }
}

/* ---- random alerts ---- */


static size_t pick(size_t n)
{
    return (size_t)(ts_rand() % n);
}

/* Strings of the random alerts, freed after each one. */
static char *arena[256];
static size_t narena;

/* A hostile string of about chars characters: ASCII, escapes, controls,
 * multibyte, astral, invalid and cut sequences. */
static char *random_text(size_t chars)
{
    static const char *pieces[] = {
        "a", "Z", "7", " ", "\"", "\\", "/", "\n", "\t", "\r", "\b", "\f", "\x01", "\x1f",
        "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x9a\xa8", "\x80", "\xbf", "\xc0\xaf",
        "\xc1", "\xf5", "\xff", "\xed\xa0\x80", "\xe2\x82", "\xf0\x9f\x9a", "\xef\xbf\xbd",
        "\\u0041", "\xf4\x90\x80\x80",
    };
    size_t n = sizeof(pieces) / sizeof(pieces[0]);
    char *s = malloc(chars * 6 + 1); /* the longest piece: 6 bytes */
    size_t o = 0;
    int plain = pick(3) == 0; /* some strings mostly ASCII */

    assert_non_null(s);
    for (size_t i = 0; i < chars; i++) {
        const char *p = plain && pick(8) ? "x" : pieces[pick(n)];
        memcpy(s + o, p, strlen(p));
        o += strlen(p);
    }
    s[o] = '\0';
    assert_true(narena < sizeof(arena) / sizeof(arena[0]));
    arena[narena++] = s;
    return s;
}

/* NULL, "", short, or around limit characters. */
static char *random_field(size_t limit)
{
    switch (pick(6)) {
    case 0: return NULL;
    case 1: return "";
    case 2: return random_text(pick(12));
    case 3: return random_text(limit + 4 > 8 ? limit - 4 + pick(9) : pick(9));
    default: return random_text(1 + pick(40));
    }
}

static int64_t random_int(void)
{
    static const int64_t v[] = { CODEC_ABSENT, 0, -1, 1, INT64_MAX, CODEC_ABSENT + 1,
                                 1700000000000LL, 253402300799999LL, 253402300800000LL };
    return pick(3) ? v[pick(sizeof(v) / sizeof(v[0]))] : (int64_t)ts_rand();
}

static double random_frac(void)
{
    static const double v[] = { 0.0, -0.0, 0.95, 1.0, 0.99995, 0.00005, 1e300, -1e300,
                                5e-324, 123456789.123456789 };
    switch (pick(5)) {
    case 0: return NAN;
    case 1: return pick(2) ? INFINITY : -INFINITY;
    case 2: return v[pick(sizeof(v) / sizeof(v[0]))];
    default: return (double)(ts_rand() % 2000001) / 1e6 - 1.0;
    }
}

static void test_random(void **state)
{
    static const char *prios[] = { "P1", "P2", "P3", "P4", "P5", "P0", "P6", "p1", "P1 ",
                                   "P", "" };
    static const char *keypool[] = { "site", "alertId", "a", "a\x01", "\x01", "", "k\"",
                                     "k\\", "queueId", "waitMs", "firstSeen", "\xff",
                                     "\xef\xbf\xbd", "team\n" };
    char *tags[30], *keys[160], *vals[160];
    unsigned long before = compared;

    for (int n = 0; n < 3000; n++) {
        struct alert a;

        memset(&a, 0, sizeof(a));
        narena = 0;
        a.status = pick(4) ? ALERT_FIRING : ALERT_RESOLVED;
        a.grouping_key = pick(30) ? random_text(1 + pick(pick(10) ? 40 : 600)) : random_field(8);
        a.alert_id = random_field(20);
        a.alarm_type = random_field(pick(4) ? 20 : 300);
        a.queue_id = random_field(20);
        a.queue_name = random_field(pick(4) ? 30 : SINK_OPSGENIE_ENTITY_MAX);
        a.media_type = random_field(6);
        a.priority = pick(8) ? (char *)prios[pick(sizeof(prios) / sizeof(prios[0]))] : NULL;
        a.conversation_id = random_field(36);
        a.message = random_field(SINK_OPSGENIE_MESSAGE_MAX);
        a.description = pick(40) ? random_field(200) : random_text(15000 - 20 + pick(40));
        a.count = random_int();
        a.first_seen_ms = random_int();
        a.last_seen_ms = random_int();
        a.at_ms = random_int();
        a.wait_ms = random_int();
        a.threshold_ms = random_int();
        a.samples = random_int();
        a.service_level = random_frac();
        a.target = random_frac();
        a.ntags = pick(27);
        for (size_t i = 0; i < a.ntags; i++)
            tags[i] = pick(5) ? random_field(SINK_OPSGENIE_TAG_MAX)
                              : (char *)keypool[pick(sizeof(keypool) / sizeof(keypool[0]))];
        a.tags = pick(20) ? tags : NULL;
        a.ndetails = pick(pick(4) ? 8 : pick(2) ? 40 : 160);
        for (size_t i = 0; i < a.ndetails; i++) {
            keys[i] = pick(2) ? (char *)keypool[pick(sizeof(keypool) / sizeof(keypool[0]))]
                              : random_field(pick(4) ? 10 : 128);
            vals[i] = random_field(pick(3) || a.ndetails > 40 ? 30 : 1000);
        }
        a.detail_keys = pick(20) ? keys : NULL;
        a.detail_values = pick(20) ? vals : NULL;
        expect_same(&a);
        for (size_t i = 0; i < narena; i++)
            free(arena[i]);
    }
    assert_true(compared - before > 2500); /* most were compared, not refused */
}

/* ---- the helpers underneath ---- */

static void test_helpers(void **state)
{
    char s[64], buf[64], ref[64];
    struct sbuf b = { 0 };

    /* every byte alone, and in a run, against cJSON's printer */
    for (int c = 1; c < 256; c++) {
        cJSON *j;
        char *text;

        snprintf(s, sizeof(s), "x%cy%c%c", c, c, c);
        j = cJSON_CreateString(s);
        text = cJSON_PrintUnformatted(j);
        sbuf_reset(&b);
        sbuf_add(&b, "\"", 1);
        sink_json_escape(&b, s);
        sbuf_add(&b, "\"", 1);
        assert_false(b.oom);
        assert_string_equal(b.p, text);
        free(text);
        cJSON_Delete(j);
    }
    sbuf_reset(&b);
    sink_json_escape(&b, NULL);
    assert_string_equal(b.p, "");
    assert_int_equal(sink_json_escape_clipped(&b, "a\x01" "b\n\"\xff", 4), 4);
    assert_string_equal(b.p, "ab\\n\\\"");
    sbuf_free(&b);

    /* clip lengths and the sanitiser at every small buffer and limit */
    for (int n = 0; n < 2000; n++) {
        char *t, *c, *clipped;
        size_t max = pick(40), size = 1 + pick(sizeof(buf) - 1);
        int keep = (int)pick(2);

        narena = 0;
        t = random_text(pick(30));
        c = ts_opsgenie_ref_clip(t, max);
        assert_int_equal(sink_utf8_clip_len(t, max), strlen(c));
        clipped = sink_utf8_clip(t, max);
        assert_string_equal(clipped, c);
        free(clipped);
        assert_int_equal(ts_opsgenie_ref_sanitize(ref, size, t, strlen(t), max, keep),
                         sink_utf8_sanitize(buf, size, t, strlen(t), max, keep));
        assert_string_equal(buf, ref);
        free(c);
        free(t);
    }
    assert_int_equal(sink_utf8_clip_len(NULL, 10), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usual),
        cmocka_unit_test(test_empty_fields),
        cmocka_unit_test(test_fallback_cut),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_details),
        cmocka_unit_test(test_many_details),
        cmocka_unit_test(test_hostile_text),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
