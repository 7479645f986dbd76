/*
 * codec_raw_fast.c — writes today's qalert.RawEvent straight to Avro binary,
 * without building an avro-c value.
 *
 * Exists because ingest encodes every event it accepts, and the generic path
 * (an avro-c value with a copy of every string, a sizing walk, a writing
 * walk, then freeing it all) was ~5 % of ingest's CPU under load. It writes
 * the very bytes that path (codec_encode_raw_event_avro) writes for every
 * event: strings up to their first NUL, nullable fields as union branch 0
 * (null) or 1, enums and longs zig-zag encoded, doubles little-endian.
 * tests/unit/test_codec_fast.c compares the two byte for byte.
 */
#include "common/codec_internal.h"
#include "common/wire.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t put_long(uint8_t *p, int64_t v)
{
    return wire_put_zigzag(p, v);
}

static size_t put_bytes(uint8_t *p, const void *b, size_t len)
{
    size_t n = put_long(p, (int64_t)len);
    if (p && len)
        memcpy(p + n, b, len);
    return n + len;
}

static size_t put_str(uint8_t *p, const char *s)
{
    return put_bytes(p, s, strlen(s));
}

/* ["null", "string"]: branch 0 for NULL, else 1 and the string. */
static size_t put_opt_str(uint8_t *p, const char *s)
{
    size_t n = put_long(p, s ? 1 : 0);
    return s ? n + put_str(p ? p + n : NULL, s) : n;
}

static size_t put_opt_long(uint8_t *p, int64_t v)
{
    size_t n = put_long(p, v != CODEC_ABSENT ? 1 : 0);
    return v != CODEC_ABSENT ? n + put_long(p ? p + n : NULL, v) : n;
}

static size_t put_opt_double(uint8_t *p, double d)
{
    size_t n = put_long(p, isnan(d) ? 0 : 1);

    if (isnan(d))
        return n;
    if (p)
        wire_put_f64le(p + n, d);
    return n + 8;
}

/* The payload at p (NULL: only its length); returns the length. Field
 * order is the schema's (schemas/RawEvent.avsc). */
static size_t put_raw_event(uint8_t *p, const struct raw_event *ev)
{
    size_t n = 0;
    int kind = (unsigned)ev->kind <= RAW_OTHER ? (int)ev->kind : RAW_OTHER;
#define AT (p ? p + n : NULL)
    n += put_str(AT, ev->event_id);
    n += put_long(AT, ev->received_ms);
    n += put_long(AT, ev->source == RAW_SOURCE_EVENTBRIDGE ? 1 : 0);
    n += put_long(AT, kind);
    n += put_str(AT, ev->event_type);
    n += put_opt_str(AT, ev->queue_id);
    n += put_opt_str(AT, ev->queue_name);
    n += put_opt_str(AT, ev->conversation_id);
    n += put_opt_str(AT, ev->media_type);
    n += put_long(AT, ev->event_time_ms);
    n += put_opt_long(AT, ev->wait_ms);
    n += put_opt_long(AT, ev->sla_ms);
    n += put_opt_str(AT, ev->acd_outcome);
    n += put_opt_double(AT, ev->sla_percentage);
    n += put_opt_double(AT, ev->target_sla);
    n += put_opt_long(AT, ev->calls_in_queue);
    n += put_bytes(AT, ev->body ? ev->body : (const uint8_t *)"", ev->body ? ev->body_len : 0);
#undef AT
    return n;
}

enum qa_err codec_encode_raw_event(const struct raw_event *ev, uint8_t **out,
                                   size_t *len, char *errstr, size_t errstr_size)
{
    const struct codec_schema *s = codec_today(CODEC_RAW_EVENT);
    uint32_t id = codec_writer_confluent_id(CODEC_RAW_EVENT);
    size_t hdr = id ? FRAME_CONFLUENT_HEADER : FRAME_SINGLE_OBJECT_HEADER, size;
    uint8_t *buf;

    *out = NULL;
    *len = 0;
    if (!s)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "codec: codec_init not called");
    if (!ev->event_id || !ev->event_type)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "codec: qalert.RawEvent.%s is required",
                       ev->event_id ? "eventType" : "eventId");
    size = put_raw_event(NULL, ev);
    if (!(buf = malloc(hdr + size)))
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "codec: out of memory");
    if (id)
        frame_write_confluent(buf, id);
    else
        frame_write_single_object(buf, s->fingerprint);
    put_raw_event(buf + hdr, ev);
    *out = buf;
    *len = hdr + size;
    return QA_OK;
}
