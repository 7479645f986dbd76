/*
 * test_codec_fast.c — the alert read straight from its bytes
 * (common/codec_alert_fast.c) against the avro-c path it replaces for
 * today's schema: random alerts, every mutation of their bytes, duplicate
 * map keys and NUL bytes inside strings. Both paths must accept or refuse
 * together and give the same values. And the raw event written straight to
 * bytes (common/codec_raw_fast.c) against avro-c's writer: the same bytes
 * for random events, absent fields and extreme values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/codec.h"
#include "common/codec_internal.h"
#include "common/frame.h"
#include "support/support.h"

/* Random non-empty text of bytes 1..255 (any byte but NUL, valid UTF-8 or
 * not) in buf. */
static char *text(char *buf, size_t cap)
{
    size_t n = 1 + ts_rand() % (cap - 1);
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(1 + ts_rand() % 255);
    buf[n] = '\0';
    return buf;
}

#define NSTR 40
struct pool {
    char s[NSTR][48];
    char *tags[25], *keys[30], *vals[30];
};

static void random_alert(struct alert *al, struct pool *p)
{
    int k = 0;

    memset(al, 0, sizeof(*al));
    al->alert_id = text(p->s[k++], 48);
    al->grouping_key = text(p->s[k++], 48);
    al->status = ts_rand() % 2 ? ALERT_RESOLVED : ALERT_FIRING;
    al->alarm_type = text(p->s[k++], 48);
    al->queue_id = text(p->s[k++], 48);
    al->queue_name = ts_rand() % 2 ? text(p->s[k++], 48) : NULL;
    al->media_type = ts_rand() % 2 ? text(p->s[k++], 48) : NULL;
    al->priority = text(p->s[k++], 8);
    al->count = (int64_t)ts_rand();
    al->first_seen_ms = (int64_t)(ts_rand() >> (ts_rand() % 64));
    al->last_seen_ms = -(int64_t)(ts_rand() % 1000);
    al->at_ms = (int64_t)ts_rand();
    al->conversation_id = ts_rand() % 2 ? text(p->s[k++], 48) : NULL;
    al->wait_ms = ts_rand() % 2 ? (int64_t)(ts_rand() % 100000) : CODEC_ABSENT;
    al->threshold_ms = ts_rand() % 2 ? INT64_MAX : CODEC_ABSENT;
    al->service_level = ts_rand() % 2 ? (double)(ts_rand() % 1000) / 999.0 : NAN;
    al->target = ts_rand() % 3 ? -0.0 : NAN;
    al->samples = ts_rand() % 2 ? 0 : CODEC_ABSENT;
    al->message = text(p->s[k++], 48);
    al->description = ts_rand() % 2 ? text(p->s[k++], 48) : NULL;
    al->source_event_id = ts_rand() % 2 ? text(p->s[k++], 48) : NULL;
    al->ntags = ts_rand() % 26;
    for (size_t i = 0; i < al->ntags; i++)
        p->tags[i] = p->s[ts_rand() % k];
    al->tags = al->ntags ? p->tags : NULL;
    al->ndetails = ts_rand() % 31;
    for (size_t i = 0; i < al->ndetails; i++) {
        p->keys[i] = p->s[ts_rand() % k];
        p->vals[i] = p->s[ts_rand() % k];
    }
    al->detail_keys = al->ndetails ? p->keys : NULL;
    al->detail_values = al->ndetails ? p->vals : NULL;
}

/* Decodes buf both ways; both accept with the same values or both refuse.
 * Returns 1 when accepted. */
static int both(const uint8_t *buf, size_t len)
{
    struct alert fast, slow;
    char err[256];
    enum qa_err ef = codec_decode_alert(buf, len, &fast, err, sizeof(err));
    enum qa_err es = codec_decode_alert_avro(buf, len, &slow, err, sizeof(err));

    assert_int_equal(ef == QA_OK, es == QA_OK);
    if (ef == QA_OK)
        assert_true(codec_alert_same(&fast, &slow));
    codec_alert_clear(&fast);
    codec_alert_clear(&slow);
    return ef == QA_OK;
}

static int setup(void **state)
{
    char err[256];
    (void)state;
    return codec_init(err, sizeof(err)) == QA_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    codec_shutdown();
    return 0;
}

static void random_alerts_read_the_same(void **state)
{
    struct pool p;
    struct alert al;
    uint8_t *buf;
    size_t len;
    char err[256];
    (void)state;

    for (int i = 0; i < 2000; i++) {
        random_alert(&al, &p);
        assert_int_equal(codec_encode_alert(&al, &buf, &len, err, sizeof(err)), QA_OK);
        assert_true(both(buf, len));
        free(buf);
    }
}

static void mutated_bytes_read_the_same(void **state)
{
    struct pool p;
    struct alert al;
    uint8_t *buf, *m;
    size_t len;
    char err[256];
    int accepted = 0, refused = 0;
    (void)state;

    for (int i = 0; i < 300; i++) {
        random_alert(&al, &p);
        assert_int_equal(codec_encode_alert(&al, &buf, &len, err, sizeof(err)), QA_OK);
        m = malloc(len + 1);
        assert_non_null(m);
        for (size_t cut = 0; cut < len; cut++) /* every truncation */
            refused += !both(buf, cut);
        for (int j = 0; j < 50; j++) { /* bytes changed past the 10-byte frame */
            memcpy(m, buf, len);
            for (int f = 0, nf = 1 + (int)(ts_rand() % 3); f < nf; f++)
                m[10 + ts_rand() % (len - 10)] = (uint8_t)ts_rand();
            if (both(m, len))
                accepted++;
            else
                refused++;
        }
        free(m);
        free(buf);
    }
    assert_true(accepted > 0 && refused > 0); /* both outcomes were compared */
}

/* A payload of today's Alert schema, hand-written, framed with today's
 * fingerprint. */
static size_t put_long(uint8_t *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z > 0x7f) {
        p[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (uint8_t)z;
    return n;
}

static size_t put_str(uint8_t *p, const char *s, size_t len)
{
    size_t n = put_long(p, (int64_t)len);
    memcpy(p + n, s, len);
    return n + len;
}

static void duplicate_keys_and_nul_bytes(void **state)
{
    uint8_t buf[512];
    size_t n = FRAME_SINGLE_OBJECT_HEADER;
    struct alert al;
    char err[256];
    (void)state;

    frame_write_single_object(buf, codec_fingerprint(CODEC_ALERT));
    n += put_str(buf + n, "a\0hidden", 8);                 /* alertId */
    n += put_str(buf + n, "q1:wait_sla_breach", 18);       /* groupingKey */
    n += put_long(buf + n, 1);                             /* RESOLVED */
    n += put_str(buf + n, "wait_sla_breach", 15);
    n += put_str(buf + n, "q1", 2);
    n += put_long(buf + n, 0);                             /* queueName null */
    n += put_long(buf + n, 1);
    n += put_str(buf + n, "VOICE", 5);
    n += put_str(buf + n, "P2", 2);
    for (int i = 0; i < 4; i++)                            /* count .. atMs */
        n += put_long(buf + n, -i);
    for (int i = 0; i < 6; i++)                            /* evidence: all null */
        n += put_long(buf + n, 0);
    n += put_str(buf + n, "m", 1);
    n += put_long(buf + n, 0);                             /* description null */
    n += put_long(buf + n, -2);                            /* tags: 2, sized block */
    n += put_long(buf + n, 4);
    n += put_str(buf + n, "t", 1);
    n += put_str(buf + n, "u", 1);
    n += put_long(buf + n, 0);
    n += put_long(buf + n, 3);                             /* details: 3 entries */
    n += put_str(buf + n, "k", 1);
    n += put_str(buf + n, "first", 5);
    n += put_str(buf + n, "j", 1);
    n += put_str(buf + n, "other", 5);
    n += put_str(buf + n, "k\0x", 3);                      /* "k" again, after its NUL */
    n += put_str(buf + n, "last", 4);
    n += put_long(buf + n, 1);                             /* a second block */
    n += put_str(buf + n, "j", 1);
    n += put_str(buf + n, "again", 5);
    n += put_long(buf + n, 0);
    n += put_long(buf + n, 0);                             /* sourceEventId null */

    assert_true(both(buf, n));
    assert_int_equal(codec_decode_alert(buf, n, &al, err, sizeof(err)), QA_OK);
    assert_string_equal(al.alert_id, "a");
    assert_int_equal(al.status, ALERT_RESOLVED);
    assert_null(al.queue_name);
    assert_string_equal(al.media_type, "VOICE");
    assert_int_equal(al.last_seen_ms, -2);
    assert_true(isnan(al.service_level));
    assert_int_equal(al.wait_ms, CODEC_ABSENT);
    assert_int_equal(al.ntags, 2);
    assert_string_equal(al.tags[1], "u");
    assert_int_equal(al.ndetails, 2); /* first place, last value */
    assert_string_equal(al.detail_keys[0], "k");
    assert_string_equal(al.detail_values[0], "last");
    assert_string_equal(al.detail_keys[1], "j");
    assert_string_equal(al.detail_values[1], "again");
    codec_alert_clear(&al);

    buf[n++] = 0; /* a byte after the record */
    assert_false(both(buf, n));
}

static void random_raw_event(struct raw_event *ev, struct pool *p, uint8_t *body, size_t cap)
{
    static const int64_t longs[] = { 0, 1, -1, 63, 64, -64, -65, INT64_MAX, INT64_MIN,
                                     1700000000000, CODEC_ABSENT + 1 };
    static const double doubles[] = { 0.0, -0.0, 100.0, 99.5, 1e-300, -1e300, INFINITY };
    static char empty[1]; /* an empty event id */
    int k = 0;
#define OPT_STR(cap) (ts_rand() % 3 ? text(p->s[k++], cap) : NULL)
#define OPT_LONG() (ts_rand() % 3 ? longs[ts_rand() % 11] : CODEC_ABSENT)
#define OPT_DOUBLE() (ts_rand() % 3 ? doubles[ts_rand() % 7] : NAN)

    memset(ev, 0, sizeof(*ev));
    ev->event_id = ts_rand() % 10 ? text(p->s[k++], 48) : empty;
    ev->received_ms = longs[ts_rand() % 11];
    ev->source = ts_rand() % 2 ? RAW_SOURCE_EVENTBRIDGE : RAW_SOURCE_WEBHOOK;
    ev->kind = (enum raw_kind)(ts_rand() % 6); /* 5: out of range, written as OTHER */
    ev->event_type = text(p->s[k++], 48);
    ev->queue_id = OPT_STR(48);
    ev->queue_name = OPT_STR(48);
    ev->conversation_id = OPT_STR(48);
    ev->media_type = OPT_STR(8);
    ev->event_time_ms = longs[ts_rand() % 11];
    ev->wait_ms = OPT_LONG();
    ev->sla_ms = OPT_LONG();
    ev->acd_outcome = OPT_STR(16);
    ev->sla_percentage = OPT_DOUBLE();
    ev->target_sla = OPT_DOUBLE();
    ev->calls_in_queue = OPT_LONG();
    if (ts_rand() % 4) {
        ev->body_len = ts_rand() % cap;
        for (size_t i = 0; i < ev->body_len; i++)
            body[i] = (uint8_t)ts_rand(); /* NUL bytes included */
        ev->body = body;
    }
#undef OPT_STR
#undef OPT_LONG
#undef OPT_DOUBLE
}

static void raw_events_write_the_same_bytes(void **state)
{
    struct pool p;
    struct raw_event ev, back;
    static uint8_t body[3000];
    uint8_t *fast, *slow;
    size_t flen, slen;
    char err[256];
    (void)state;

    for (int i = 0; i < 3000; i++) {
        random_raw_event(&ev, &p, body, i % 10 ? 200 : sizeof(body));
        assert_int_equal(codec_encode_raw_event(&ev, &fast, &flen, err, sizeof(err)), QA_OK);
        assert_int_equal(codec_encode_raw_event_avro(&ev, &slow, &slen, err, sizeof(err)),
                         QA_OK);
        assert_int_equal(flen, slen);
        assert_memory_equal(fast, slow, flen);
        /* and it reads back */
        assert_int_equal(codec_decode_raw_event(fast, flen, &back, err, sizeof(err)), QA_OK);
        assert_string_equal(back.event_id, ev.event_id);
        assert_int_equal(back.body_len, ev.body ? ev.body_len : 0);
        assert_int_equal(back.wait_ms, ev.wait_ms);
        codec_raw_event_clear(&back);
        free(fast);
        free(slow);
    }

    /* Required fields: both refuse, with the same message. */
    random_raw_event(&ev, &p, body, 10);
    ev.event_type = NULL;
    assert_int_equal(codec_encode_raw_event(&ev, &fast, &flen, err, sizeof(err)), QA_ERR_INVALID);
    assert_null(fast);
    assert_string_equal(err, "codec: qalert.RawEvent.eventType is required");
    assert_int_equal(codec_encode_raw_event_avro(&ev, &slow, &slen, err, sizeof(err)),
                     QA_ERR_INVALID);
    assert_string_equal(err, "codec: qalert.RawEvent.eventType is required");
    ev.event_id = NULL;
    assert_int_equal(codec_encode_raw_event(&ev, &fast, &flen, err, sizeof(err)), QA_ERR_INVALID);
    assert_string_equal(err, "codec: qalert.RawEvent.eventId is required");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_alerts_read_the_same),
        cmocka_unit_test(mutated_bytes_read_the_same),
        cmocka_unit_test(duplicate_keys_and_nul_bytes),
        cmocka_unit_test(raw_events_write_the_same_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
