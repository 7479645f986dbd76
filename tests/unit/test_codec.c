/*
 * test_codec.c — qalert.RawEvent and qalert.Alert through Avro and back:
 * every field (absent ones too), binary bodies, a newer writer schema with an
 * added field, unknown fingerprints, Confluent framing, every truncation,
 * hostile lengths, JSON rendering, and concurrent use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <avro.h>
#include <cjson/cJSON.h>

#include "common/codec.h"
#include "common/frame.h"
#include "common/schema.h"
#include "common/schemas.h"

static const uint8_t binary_body[] = { 0x00, 0xff, 0xc3, 0x01, '{', 0x80, 0x00, 'x' };

static void full_event(struct raw_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->event_id = "3b0c8a2e-0000-4000-8000-000000000001";
    ev->received_ms = 1763884845123LL;
    ev->source = RAW_SOURCE_EVENTBRIDGE;
    ev->kind = RAW_QUEUE_STATS;
    ev->event_type = "v2.routing.queues.{id}.conversations";
    ev->queue_id = "2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c";
    ev->queue_name = "Support – Tier 1 ü";
    ev->conversation_id = "c-1";
    ev->media_type = "VOICE";
    ev->event_time_ms = -1; /* negative longs survive zig-zag */
    ev->wait_ms = 45000;
    ev->sla_ms = INT64_MAX;
    ev->acd_outcome = "ABANDON";
    ev->sla_percentage = 72.5;
    ev->target_sla = 80.000000001;
    ev->calls_in_queue = 0; /* present zero is not absent */
    ev->body = (uint8_t *)binary_body;
    ev->body_len = sizeof(binary_body);
}

static void absent_event(struct raw_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->event_id = "e";
    ev->event_type = "";
    ev->received_ms = CODEC_ABSENT; /* required longs carry INT64_MIN as is */
    ev->source = RAW_SOURCE_WEBHOOK;
    ev->kind = RAW_OTHER;
    ev->event_time_ms = 0;
    ev->wait_ms = ev->sla_ms = ev->calls_in_queue = CODEC_ABSENT;
    ev->sla_percentage = ev->target_sla = NAN;
}

static void assert_str_eq_or_null(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_double_same(double a, double b)
{
    if (isnan(a))
        assert_true(isnan(b));
    else
        assert_true(a == b);
}

static void assert_events_equal(const struct raw_event *a, const struct raw_event *b)
{
    assert_string_equal(a->event_id, b->event_id);
    assert_int_equal(a->received_ms, b->received_ms);
    assert_int_equal(a->source, b->source);
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->event_type, b->event_type);
    assert_str_eq_or_null(a->queue_id, b->queue_id);
    assert_str_eq_or_null(a->queue_name, b->queue_name);
    assert_str_eq_or_null(a->conversation_id, b->conversation_id);
    assert_str_eq_or_null(a->media_type, b->media_type);
    assert_int_equal(a->event_time_ms, b->event_time_ms);
    assert_int_equal(a->wait_ms, b->wait_ms);
    assert_int_equal(a->sla_ms, b->sla_ms);
    assert_str_eq_or_null(a->acd_outcome, b->acd_outcome);
    assert_double_same(a->sla_percentage, b->sla_percentage);
    assert_double_same(a->target_sla, b->target_sla);
    assert_int_equal(a->calls_in_queue, b->calls_in_queue);
    assert_int_equal(a->body_len, b->body_len);
    if (a->body_len)
        assert_memory_equal(a->body, b->body, a->body_len);
}

static char *tags3[] = { "wait_sla_breach", "queue:support", "media:voice" };
static char *dkeys[] = { "queueId", "waitMs", "empty" };
static char *dvals[] = { "2b1f8a3c", "45000", "" };

static void full_alert(struct alert *al)
{
    memset(al, 0, sizeof(*al));
    al->alert_id = "a-0123456789abcdef";
    al->grouping_key = "2b1f8a3c:wait_sla_breach:VOICE";
    al->status = ALERT_RESOLVED;
    al->alarm_type = "wait_sla_breach";
    al->queue_id = "2b1f8a3c";
    al->queue_name = "Support";
    al->media_type = "VOICE";
    al->priority = "P2";
    al->count = 3;
    al->first_seen_ms = 1763884800000LL;
    al->last_seen_ms = 1763884845000LL;
    al->at_ms = 1763884846000LL;
    al->conversation_id = "c-1";
    al->wait_ms = 45000;
    al->threshold_ms = 30000;
    al->service_level = 0.725;
    al->target = 0.8;
    al->samples = 40;
    al->message = "[P2] Support VOICE: wait 45s > 30s";
    al->description = "line one\nline \"two\"";
    al->tags = tags3;
    al->ntags = 3;
    al->detail_keys = dkeys;
    al->detail_values = dvals;
    al->ndetails = 3;
    al->source_event_id = "e-9";
}

static void absent_alert(struct alert *al)
{
    memset(al, 0, sizeof(*al));
    al->alert_id = "a";
    al->grouping_key = "q:service_level_low";
    al->status = ALERT_FIRING;
    al->alarm_type = "service_level_low";
    al->queue_id = "q";
    al->priority = "P5";
    al->message = "m";
    al->wait_ms = al->threshold_ms = al->samples = CODEC_ABSENT;
    al->service_level = al->target = NAN;
}

static void assert_alerts_equal(const struct alert *a, const struct alert *b)
{
    assert_string_equal(a->alert_id, b->alert_id);
    assert_string_equal(a->grouping_key, b->grouping_key);
    assert_int_equal(a->status, b->status);
    assert_string_equal(a->alarm_type, b->alarm_type);
    assert_string_equal(a->queue_id, b->queue_id);
    assert_str_eq_or_null(a->queue_name, b->queue_name);
    assert_str_eq_or_null(a->media_type, b->media_type);
    assert_string_equal(a->priority, b->priority);
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->first_seen_ms, b->first_seen_ms);
    assert_int_equal(a->last_seen_ms, b->last_seen_ms);
    assert_int_equal(a->at_ms, b->at_ms);
    assert_str_eq_or_null(a->conversation_id, b->conversation_id);
    assert_int_equal(a->wait_ms, b->wait_ms);
    assert_int_equal(a->threshold_ms, b->threshold_ms);
    assert_double_same(a->service_level, b->service_level);
    assert_double_same(a->target, b->target);
    assert_int_equal(a->samples, b->samples);
    assert_string_equal(a->message, b->message);
    assert_str_eq_or_null(a->description, b->description);
    assert_int_equal(a->ntags, b->ntags);
    for (size_t i = 0; i < a->ntags; i++)
        assert_string_equal(a->tags[i], b->tags[i]);
    assert_int_equal(a->ndetails, b->ndetails);
    /* A map's order is not the writer's promise: match by key. */
    for (size_t i = 0; i < a->ndetails; i++) {
        size_t j = 0;
        while (j < b->ndetails && strcmp(a->detail_keys[i], b->detail_keys[j]) != 0)
            j++;
        assert_true(j < b->ndetails);
        assert_string_equal(a->detail_values[i], b->detail_values[j]);
    }
    assert_str_eq_or_null(a->source_event_id, b->source_event_id);
}

static int setup(void **state)
{
    char err[256];
    if (codec_init(err, sizeof(err)) != QA_OK) {
        fprintf(stderr, "codec_init: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    codec_shutdown();
    return 0;
}

static void test_raw_event_round_trip(void **state)
{
    struct raw_event in, out;
    uint8_t *buf;
    size_t len;
    char err[256];

    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            full_event(&in);
        else
            absent_event(&in);
        assert_int_equal(codec_encode_raw_event(&in, &buf, &len, err, sizeof(err)), QA_OK);
        assert_true(len > FRAME_SINGLE_OBJECT_HEADER);
        assert_int_equal(buf[0], 0xc3);
        assert_int_equal(buf[1], 0x01);
        uint64_t fp = 0;
        for (int i = 9; i >= 2; i--)
            fp = fp << 8 | buf[i];
        assert_true(fp == codec_fingerprint(CODEC_RAW_EVENT));
        assert_int_equal(codec_decode_raw_event(buf, len, &out, err, sizeof(err)), QA_OK);
        assert_events_equal(&in, &out);
        if (pass == 1)
            assert_null(out.body);
        codec_raw_event_clear(&out);
        free(buf);
    }
}

static void test_alert_round_trip(void **state)
{
    struct alert in, out;
    uint8_t *buf;
    size_t len;
    char err[256];

    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            full_alert(&in);
        else
            absent_alert(&in);
        assert_int_equal(codec_encode_alert(&in, &buf, &len, err, sizeof(err)), QA_OK);
        assert_int_equal(codec_decode_alert(buf, len, &out, err, sizeof(err)), QA_OK);
        assert_alerts_equal(&in, &out);
        codec_alert_clear(&out);
        codec_alert_clear(&out); /* twice is harmless */
        free(buf);
    }
}

static void test_required_fields(void **state)
{
    struct raw_event ev;
    struct alert al;
    uint8_t *buf = (uint8_t *)1;
    size_t len = 1;
    char err[256];

    full_event(&ev);
    ev.event_type = NULL;
    assert_int_equal(codec_encode_raw_event(&ev, &buf, &len, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "eventType"));
    assert_null(buf);
    assert_int_equal(len, 0);
    full_alert(&al);
    al.priority = NULL;
    assert_int_equal(codec_encode_alert(&al, &buf, &len, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "priority"));
    full_alert(&al);
    char *bad_tags[] = { "x", NULL };
    al.tags = bad_tags;
    al.ntags = 2;
    assert_int_equal(codec_encode_alert(&al, &buf, &len, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "tags[1]"));
}

/* Today's schema text with newField added (first or last), as a newer
 * writer would have it. *out is malloc'd. */
static char *newer_schema(const char *name, int first)
{
    const char *json = NULL;
    const char *add = "{\"name\":\"newField\",\"type\":\"string\",\"default\":\"x\"}";
    for (const struct schema_source *s = schema_sources; s->name; s++)
        if (strcmp(s->name, name) == 0)
            json = s->json;
    assert_non_null(json);
    const char *at = first ? strstr(json, "\"fields\": [") : strrchr(json, ']');
    assert_non_null(at);
    if (first)
        at += strlen("\"fields\": [");
    size_t head = (size_t)(at - json);
    char *out = malloc(strlen(json) + strlen(add) + 2);
    assert_non_null(out);
    memcpy(out, json, head);
    snprintf(out + head, strlen(json) + strlen(add) + 2 - head, "%s%s%s%s", first ? add : ",",
             first ? "," : add, "", json + head);
    return out;
}

/* Re-encodes today's framed payload with the newer schema through avro-c
 * directly, newField = "hello", framed with the newer fingerprint (or a
 * Confluent id). *out is malloc'd. */
static void encode_newer(const char *schema_json, const uint8_t *today, size_t today_len,
                         uint32_t confluent_id, uint8_t **out, size_t *out_len)
{
    avro_schema_t old_s, new_s;
    avro_value_iface_t *old_c, *new_c;
    avro_value_t old_v, new_v, field, src;
    avro_reader_t r;
    avro_writer_t w;
    const struct schema_source *s;
    const char *old_json = NULL;
    char *canon, err[256];
    size_t size, hdr = confluent_id ? FRAME_CONFLUENT_HEADER : FRAME_SINGLE_OBJECT_HEADER;

    /* The newer schema's record name picks today's. */
    for (s = schema_sources; s->name; s++) {
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "\"name\": \"%s\"", s->name);
        if (strstr(schema_json, quoted))
            old_json = s->json;
    }
    assert_non_null(old_json);
    assert_int_equal(avro_schema_from_json_length(old_json, strlen(old_json), &old_s), 0);
    assert_int_equal(avro_schema_from_json_length(schema_json, strlen(schema_json), &new_s), 0);
    old_c = avro_generic_class_from_schema(old_s);
    new_c = avro_generic_class_from_schema(new_s);
    assert_int_equal(avro_generic_value_new(old_c, &old_v), 0);
    assert_int_equal(avro_generic_value_new(new_c, &new_v), 0);
    r = avro_reader_memory((const char *)today + FRAME_SINGLE_OBJECT_HEADER,
                           (int64_t)(today_len - FRAME_SINGLE_OBJECT_HEADER));
    assert_int_equal(avro_value_read(r, &old_v), 0);
    avro_reader_free(r);
    size_t n = avro_schema_record_size(old_s);
    for (size_t i = 0; i < n; i++) {
        const char *fname = avro_schema_record_field_name(old_s, (int)i);
        assert_int_equal(avro_value_get_by_index(&old_v, i, &src, NULL), 0);
        assert_int_equal(avro_value_get_by_name(&new_v, fname, &field, NULL), 0);
        assert_int_equal(avro_value_copy(&field, &src), 0);
    }
    assert_int_equal(avro_value_get_by_name(&new_v, "newField", &field, NULL), 0);
    assert_int_equal(avro_value_set_string(&field, "hello"), 0);
    assert_int_equal(avro_value_sizeof(&new_v, &size), 0);
    *out = malloc(hdr + size);
    assert_non_null(*out);
    w = avro_writer_memory((const char *)*out + hdr, (int64_t)size);
    assert_int_equal(avro_value_write(w, &new_v), 0);
    avro_writer_free(w);
    *out_len = hdr + size;
    assert_int_equal(schema_canonical_form(schema_json, &canon, err, sizeof(err)), QA_OK);
    if (confluent_id)
        frame_write_confluent(*out, confluent_id);
    else
        frame_write_single_object(*out, schema_fingerprint64(canon, strlen(canon)));
    free(canon);
    avro_value_decref(&old_v);
    avro_value_decref(&new_v);
    avro_value_iface_decref(old_c);
    avro_value_iface_decref(new_c);
    avro_schema_decref(old_s);
    avro_schema_decref(new_s);
}

static void test_newer_writer_schema(void **state)
{
    char err[256];

    for (int first = 0; first < 2; first++) {
        struct raw_event ev, got;
        struct alert al, gal;
        uint8_t *today, *newer;
        size_t today_len, newer_len;
        char *raw_json = newer_schema("RawEvent", first);
        char *alert_json = newer_schema("Alert", first);

        full_event(&ev);
        assert_int_equal(codec_encode_raw_event(&ev, &today, &today_len, err, sizeof(err)), QA_OK);
        encode_newer(raw_json, today, today_len, 0, &newer, &newer_len);
        if (!first) /* appended: the newer bytes are today's plus "hello" */
            assert_memory_equal(newer + 10, today + 10, today_len - 10);
        /* Not registered yet: refused with the fingerprint named. */
        assert_int_equal(codec_decode_raw_event(newer, newer_len, &got, err, sizeof(err)),
                         QA_ERR_UNSUPPORTED);
        assert_non_null(strstr(err, "unknown schema fingerprint 0x"));
        assert_int_equal(codec_register_schema(CODEC_RAW_EVENT, raw_json, 0, err, sizeof(err)),
                         QA_OK);
        assert_int_equal(codec_decode_raw_event(newer, newer_len, &got, err, sizeof(err)), QA_OK);
        assert_events_equal(&ev, &got);
        codec_raw_event_clear(&got);

        /* JSON shows the writer's fields, newField included. */
        char *json;
        enum codec_record rec = CODEC_ALERT;
        assert_int_equal(codec_to_json(newer, newer_len, &json, &rec, err, sizeof(err)), QA_OK);
        assert_int_equal(rec, CODEC_RAW_EVENT);
        assert_non_null(strstr(json, "\"newField\":\"hello\""));
        free(json);
        free(today);
        free(newer);

        full_alert(&al);
        assert_int_equal(codec_encode_alert(&al, &today, &today_len, err, sizeof(err)), QA_OK);
        encode_newer(alert_json, today, today_len, 900 + (uint32_t)first, &newer, &newer_len);
        assert_int_equal(codec_register_schema(CODEC_ALERT, alert_json, 900 + (uint32_t)first,
                                               err, sizeof(err)), QA_OK);
        /* Registering the same schema again is fine. */
        assert_int_equal(codec_register_schema(CODEC_ALERT, alert_json, 0, err, sizeof(err)),
                         QA_OK);
        assert_int_equal(codec_decode_alert(newer, newer_len, &gal, err, sizeof(err)), QA_OK);
        assert_alerts_equal(&al, &gal);
        codec_alert_clear(&gal);
        free(today);
        free(newer);
        free(raw_json);
        free(alert_json);
    }
}

static void test_register_rejects(void **state)
{
    char err[256];
    const char *other = "{\"type\":\"record\",\"name\":\"Other\",\"namespace\":\"qalert\","
                        "\"fields\":[]}";
    /* A reader field the writer lacks: avro-c's resolver has no defaults. */
    const char *older = "{\"type\":\"record\",\"name\":\"Alert\",\"namespace\":\"qalert\","
                        "\"fields\":[{\"name\":\"alertId\",\"type\":\"string\"}]}";
    assert_int_equal(codec_register_schema(CODEC_ALERT, other, 0, err, sizeof(err)),
                     QA_ERR_INVALID);
    assert_non_null(strstr(err, "qalert.Other"));
    assert_int_equal(codec_register_schema(CODEC_ALERT, "\"string\"", 0, err, sizeof(err)),
                     QA_ERR_INVALID);
    assert_int_equal(codec_register_schema(CODEC_ALERT, "{", 0, err, sizeof(err)),
                     QA_ERR_INVALID);
    assert_int_equal(codec_register_schema(CODEC_ALERT, older, 0, err, sizeof(err)),
                     QA_ERR_UNSUPPORTED);
}

static void test_unknown_and_wrong_record(void **state)
{
    struct raw_event ev;
    struct alert al;
    uint8_t *buf;
    size_t len;
    char err[256], *json = NULL;

    full_alert(&al);
    assert_int_equal(codec_encode_alert(&al, &buf, &len, err, sizeof(err)), QA_OK);
    assert_int_equal(codec_decode_raw_event(buf, len, &ev, err, sizeof(err)), QA_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "qalert.Alert"));
    buf[5] ^= 0x40;
    assert_int_equal(codec_decode_alert(buf, len, &al, err, sizeof(err)), QA_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "unknown schema fingerprint 0x"));
    assert_non_null(strstr(err, "not qalert.RawEvent or qalert.Alert of a known version"));
    assert_int_equal(codec_to_json(buf, len, &json, NULL, err, sizeof(err)), QA_ERR_UNSUPPORTED);
    assert_null(json);
    free(buf);
}

static void test_confluent(void **state)
{
    struct raw_event ev, got;
    uint8_t *buf;
    size_t len;
    char err[256], *json;
    enum codec_record rec;

    full_event(&ev);
    codec_set_confluent_id(CODEC_RAW_EVENT, 77);
    assert_int_equal(codec_encode_raw_event(&ev, &buf, &len, err, sizeof(err)), QA_OK);
    codec_set_confluent_id(CODEC_RAW_EVENT, 0);
    const uint8_t hdr[] = { 0, 0, 0, 0, 77 };
    assert_memory_equal(buf, hdr, sizeof(hdr));
    /* id 77 was never registered: today's schema of the expected record. */
    assert_int_equal(codec_decode_raw_event(buf, len, &got, err, sizeof(err)), QA_OK);
    assert_events_equal(&ev, &got);
    codec_raw_event_clear(&got);
    /* Without an expected record, JSON tries both of today's schemas. */
    assert_int_equal(codec_to_json(buf, len, &json, &rec, err, sizeof(err)), QA_OK);
    assert_int_equal(rec, CODEC_RAW_EVENT);
    free(json);
    /* Id 0 is "no id", never the first table entry: an Alert framed with
     * it is read as today's Alert. */
    struct alert al0, gal0;
    uint8_t *abuf;
    size_t alen;
    full_alert(&al0);
    assert_int_equal(codec_encode_alert(&al0, &abuf, &alen, err, sizeof(err)), QA_OK);
    uint8_t *zero = malloc(alen - 5);
    frame_write_confluent(zero, 0);
    memcpy(zero + 5, abuf + 10, alen - 10);
    assert_int_equal(codec_decode_alert(zero, alen - 5, &gal0, err, sizeof(err)), QA_OK);
    assert_alerts_equal(&al0, &gal0);
    codec_alert_clear(&gal0);
    assert_int_equal(codec_to_json(zero, alen - 5, &json, &rec, err, sizeof(err)), QA_OK);
    assert_int_equal(rec, CODEC_ALERT);
    free(json);
    free(zero);
    free(abuf);
    /* Not an Alert payload under any schema we know. */
    struct alert al;
    assert_int_equal(codec_decode_alert(buf, len, &al, err, sizeof(err)), QA_ERR_INVALID);
    free(buf);
}

static void test_truncated_everywhere(void **state)
{
    struct raw_event ev, got;
    struct alert al, gal;
    uint8_t *buf, *copy;
    size_t len;
    char err[256], *json;

    full_event(&ev);
    assert_int_equal(codec_encode_raw_event(&ev, &buf, &len, err, sizeof(err)), QA_OK);
    for (size_t n = 0; n < len; n++) {
        copy = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
        memcpy(copy, buf, n);
        assert_int_not_equal(codec_decode_raw_event(copy, n, &got, err, sizeof(err)), QA_OK);
        assert_null(got.event_id);
        assert_null(got.body);
        assert_int_not_equal(codec_to_json(copy, n, &json, NULL, err, sizeof(err)), QA_OK);
        free(copy);
    }
    /* One byte too many is not a record either. */
    copy = malloc(len + 1);
    memcpy(copy, buf, len);
    copy[len] = 0;
    assert_int_equal(codec_decode_raw_event(copy, len + 1, &got, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "1 bytes after"));
    free(copy);
    free(buf);

    full_alert(&al);
    assert_int_equal(codec_encode_alert(&al, &buf, &len, err, sizeof(err)), QA_OK);
    for (size_t n = 0; n < len; n++) {
        copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        assert_int_not_equal(codec_decode_alert(copy, n, &gal, err, sizeof(err)), QA_OK);
        assert_null(gal.tags);
        free(copy);
    }
    free(buf);
}

static void test_hostile_lengths(void **state)
{
    uint8_t buf[32];
    struct raw_event got;
    struct alert gal;
    char err[256];

    frame_write_single_object(buf, codec_fingerprint(CODEC_RAW_EVENT));
    /* eventId length 2^62: zig-zag varint ff ff ff ff ff ff ff ff 7f */
    memset(buf + 10, 0xff, 8);
    buf[18] = 0x7f;
    assert_int_equal(codec_decode_raw_event(buf, 19, &got, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "string length"));
    /* A varint that never ends. */
    memset(buf + 10, 0x80, 22);
    assert_int_equal(codec_decode_raw_event(buf, 32, &got, err, sizeof(err)), QA_ERR_INVALID);
    /* Negative string length. */
    buf[10] = 0x01;
    assert_int_equal(codec_decode_raw_event(buf, 11, &got, err, sizeof(err)), QA_ERR_INVALID);

    /* An Alert whose tags block claims a billion items. */
    struct alert al;
    uint8_t *enc;
    size_t len;
    absent_alert(&al);
    assert_int_equal(codec_encode_alert(&al, &enc, &len, err, sizeof(err)), QA_OK);
    /* absent alert tail: description null(0) tags(0) details(0) sourceEventId null(0) */
    assert_int_equal(enc[len - 3], 0x00);
    uint8_t *big = malloc(len + 4);
    memcpy(big, enc, len - 3);
    const uint8_t lie[] = { 0x80, 0xa8, 0xd6, 0xb9, 0x07 }; /* zig-zag 1e9 */
    memcpy(big + len - 3, lie, sizeof(lie));
    memcpy(big + len + 2, "\0\0", 2);
    assert_int_equal(codec_decode_alert(big, len + 4, &gal, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "block count"));
    /* Union branch 5 of a two-branch union (description). */
    memcpy(big, enc, len);
    big[len - 4] = 0x0a;
    assert_int_equal(codec_decode_alert(big, len, &gal, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "union"));
    free(big);
    free(enc);
}

static void test_to_json(void **state)
{
    struct raw_event ev;
    struct alert al;
    uint8_t *buf;
    size_t len;
    char err[256], *json;
    enum codec_record rec;
    cJSON *j;

    full_event(&ev);
    assert_int_equal(codec_encode_raw_event(&ev, &buf, &len, err, sizeof(err)), QA_OK);
    assert_int_equal(codec_to_json(buf, len, &json, &rec, err, sizeof(err)), QA_OK);
    assert_int_equal(rec, CODEC_RAW_EVENT);
    j = cJSON_Parse(json);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "eventId")->valuestring, ev.event_id);
    assert_non_null(strstr(json, "\"receivedMs\":1763884845123,"));
    assert_non_null(strstr(json, "\"slaMs\":9223372036854775807,")); /* exact, not a double */
    assert_string_equal(cJSON_GetObjectItem(j, "source")->valuestring, "eventbridge");
    assert_string_equal(cJSON_GetObjectItem(j, "kind")->valuestring, "QUEUE_STATS");
    assert_string_equal(cJSON_GetObjectItem(j, "queueName")->valuestring, ev.queue_name);
    assert_true(cJSON_GetObjectItem(j, "slaPercentage")->valuedouble == 72.5);
    cJSON *body = cJSON_GetObjectItem(j, "body");
    assert_true(cJSON_IsObject(body));
    assert_string_equal(cJSON_GetObjectItem(body, "base64")->valuestring, "AP/DAXuAAHg=");
    cJSON_Delete(j);
    free(json);
    free(buf);

    /* A string field that is not UTF-8 (a hostile writer) stays valid JSON. */
    absent_event(&ev);
    ev.queue_name = "bad\xff\xfe";
    ev.media_type = "\xed\xa0\x80"; /* an encoded surrogate */
    assert_int_equal(codec_encode_raw_event(&ev, &buf, &len, err, sizeof(err)), QA_OK);
    assert_int_equal(codec_to_json(buf, len, &json, &rec, err, sizeof(err)), QA_OK);
    j = cJSON_Parse(json);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "queueName"), "base64")
                            ->valuestring, "YmFk//4=");
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(j, "mediaType")));
    cJSON_Delete(j);
    free(json);
    free(buf);

    absent_event(&ev);
    ev.body = (uint8_t *)"{\"a\":\"é\"}";
    ev.body_len = strlen((char *)ev.body);
    assert_int_equal(codec_encode_raw_event(&ev, &buf, &len, err, sizeof(err)), QA_OK);
    assert_int_equal(codec_to_json(buf, len, &json, &rec, err, sizeof(err)), QA_OK);
    j = cJSON_Parse(json);
    assert_non_null(j);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "queueId")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "waitMs")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "targetSla")));
    assert_string_equal(cJSON_GetObjectItem(j, "body")->valuestring, "{\"a\":\"é\"}");
    assert_string_equal(cJSON_GetObjectItem(j, "kind")->valuestring, "OTHER");
    cJSON_Delete(j);
    free(json);
    free(buf);

    full_alert(&al);
    assert_int_equal(codec_encode_alert(&al, &buf, &len, err, sizeof(err)), QA_OK);
    assert_int_equal(codec_to_json(buf, len, &json, &rec, err, sizeof(err)), QA_OK);
    assert_int_equal(rec, CODEC_ALERT);
    j = cJSON_Parse(json);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "status")->valuestring, "RESOLVED");
    cJSON *evd = cJSON_GetObjectItem(j, "evidence");
    assert_int_equal(cJSON_GetObjectItem(evd, "waitMs")->valueint, 45000);
    assert_true(cJSON_GetObjectItem(evd, "serviceLevel")->valuedouble == 0.725);
    assert_string_equal(cJSON_GetObjectItem(evd, "conversationId")->valuestring, "c-1");
    cJSON *tags = cJSON_GetObjectItem(j, "tags");
    assert_int_equal(cJSON_GetArraySize(tags), 3);
    assert_string_equal(cJSON_GetArrayItem(tags, 2)->valuestring, "media:voice");
    cJSON *details = cJSON_GetObjectItem(j, "details");
    assert_string_equal(cJSON_GetObjectItem(details, "waitMs")->valuestring, "45000");
    assert_string_equal(cJSON_GetObjectItem(details, "empty")->valuestring, "");
    assert_string_equal(cJSON_GetObjectItem(j, "description")->valuestring, al.description);
    cJSON_Delete(j);
    free(json);
    free(buf);
}

static void test_names(void **state)
{
    assert_string_equal(codec_raw_kind_name(RAW_ACD_START), "ACD_START");
    assert_string_equal(codec_raw_kind_name(RAW_FLAT_WAIT), "FLAT_WAIT");
    assert_string_equal(codec_raw_kind_name((enum raw_kind)99), "OTHER");
    assert_string_equal(codec_source_name(RAW_SOURCE_WEBHOOK), "webhook");
    assert_string_equal(codec_source_name(RAW_SOURCE_EVENTBRIDGE), "eventbridge");
    assert_string_equal(codec_status_name(ALERT_FIRING), "FIRING");
    assert_string_equal(codec_status_name(ALERT_RESOLVED), "RESOLVED");
    assert_true(codec_fingerprint(CODEC_RAW_EVENT) != codec_fingerprint(CODEC_ALERT));
}

/* Ingest encodes from several threads; each round trip must stand alone. */
static void *worker(void *arg)
{
    for (int i = 0; i < 200; i++) {
        struct raw_event ev, got;
        uint8_t *buf;
        size_t len;
        char err[256];
        full_event(&ev);
        ev.wait_ms = i;
        if (codec_encode_raw_event(&ev, &buf, &len, err, sizeof(err)) ||
            codec_decode_raw_event(buf, len, &got, err, sizeof(err)) || got.wait_ms != i)
            return (void *)1;
        /* and a failing decode, which touches avro-c's error path */
        struct alert al;
        (void)codec_decode_alert(buf, len - 1, &al, err, sizeof(err));
        codec_raw_event_clear(&got);
        free(buf);
    }
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t t[4];
    void *rv;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, NULL), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], &rv), 0);
        assert_null(rv);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_event_round_trip),
        cmocka_unit_test(test_alert_round_trip),
        cmocka_unit_test(test_required_fields),
        cmocka_unit_test(test_newer_writer_schema),
        cmocka_unit_test(test_register_rejects),
        cmocka_unit_test(test_unknown_and_wrong_record),
        cmocka_unit_test(test_confluent),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_hostile_lengths),
        cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
