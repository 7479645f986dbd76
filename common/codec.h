/*
 * codec.h — qalert's records (qalert.RawEvent, qalert.Alert) in C and their
 * Avro encoding, framed per frame.h.
 *
 * codec_init() loads the compiled-in schemas and computes their fingerprints.
 * Writers frame with single-object encoding (or Confluent when a schema id is
 * configured). Readers resolve the writer's schema from the frame (a known
 * fingerprint: ours or one registered with codec_register_schema(), e.g. a
 * newer version with an added field) into today's reader schema, so newer
 * writers with defaulted fields are read. An unknown fingerprint is
 * QA_ERR_UNSUPPORTED with a clear message.
 *
 * Absent optional values: strings NULL, integers CODEC_ABSENT, doubles NAN.
 *
 * Threads: after codec_init() returns, encode, decode, codec_to_json and
 * codec_fingerprint may be called from any number of threads at once (values
 * are built per call; the schema table is behind a lock).
 * codec_register_schema and codec_set_confluent_id are safe too, but meant for
 * start-up. codec_init/codec_shutdown: once, with no other codec call running.
 *
 * Hostile input: a payload is walked against its writer schema (every
 * length, count, union branch and enum index bounded by the bytes present,
 * no trailing bytes) before avro-c reads it; anything else is QA_ERR_INVALID.
 *
 * Schema evolution is avro-c's resolver: a writer may add fields (skipped) or
 * reorder them; a writer that lacks a field today's reader has is refused at
 * codec_register_schema (avro-c 1.11.1 does not apply reader defaults).
 */
#ifndef QALERT_CODEC_H
#define QALERT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CODEC_ABSENT INT64_MIN

enum raw_kind {
    RAW_ACD_START,   /* Genesys notification ...acd.start */
    RAW_ACD_END,     /* ...acd.end */
    RAW_FLAT_WAIT,   /* the seeds' flat event: waitTime and sla */
    RAW_QUEUE_STATS, /* routing.queue.stats */
    RAW_OTHER,       /* accepted and published; the SLA engine ignores it */
};

enum raw_source { RAW_SOURCE_WEBHOOK, RAW_SOURCE_EVENTBRIDGE };

struct raw_event {
    char *event_id;         /* EventBridge id, CorrelationId, or sha256 hex */
    int64_t received_ms;    /* wall clock at ingest */
    enum raw_source source;
    enum raw_kind kind;
    char *event_type;       /* topicName / eventType / detail-type as sent */
    char *queue_id;         /* NULL when absent */
    char *queue_name;
    char *conversation_id;
    char *media_type;       /* Genesys upper case: VOICE, CHAT, ... */
    int64_t event_time_ms;  /* from the event; received_ms when it has none */
    int64_t wait_ms;        /* flat events, queue stats */
    int64_t sla_ms;         /* flat events: their own threshold */
    char *acd_outcome;      /* acd.end: ANSWERED, ABANDON, ... */
    double sla_percentage;  /* queue stats, per cent */
    double target_sla;      /* queue stats, per cent */
    int64_t calls_in_queue; /* queue stats */
    uint8_t *body;          /* the original bytes of this event, untouched */
    size_t body_len;
};

enum alert_status { ALERT_FIRING, ALERT_RESOLVED };

struct alert {
    char *alert_id;         /* deterministic: same input, same id */
    char *grouping_key;     /* <queueId>:<alarmType>[:<MEDIA>] */
    enum alert_status status;
    char *alarm_type;       /* wait_sla_breach, service_level_low */
    char *queue_id;
    char *queue_name;       /* NULL when unknown */
    char *media_type;       /* NULL when none */
    char *priority;         /* P1..P5 */
    int64_t count;          /* occurrences folded into this open alert */
    int64_t first_seen_ms;
    int64_t last_seen_ms;
    int64_t at_ms;          /* event time of this transition */
    /* evidence */
    char *conversation_id;  /* NULL when not about one conversation */
    int64_t wait_ms;        /* CODEC_ABSENT when n/a */
    int64_t threshold_ms;
    double service_level;   /* fraction 0..1, NAN when n/a */
    double target;          /* fraction 0..1, NAN when n/a */
    int64_t samples;        /* CODEC_ABSENT when n/a */
    char *message;          /* one line, <= 130 chars (OpsGenie's limit) */
    char *description;
    char **tags;
    size_t ntags;
    char **detail_keys;     /* details: a string map */
    char **detail_values;
    size_t ndetails;
    char *source_event_id;  /* the event that caused this transition */
};

enum codec_record { CODEC_RAW_EVENT, CODEC_ALERT };

/* Loads the embedded schemas. Call once before any other codec function. */
enum qa_err codec_init(char *errstr, size_t errstr_size);
void codec_shutdown(void);

/* Registers another writer schema (JSON) for a record type, e.g. a newer
 * version, so readers can resolve records framed with its fingerprint.
 * confluent_id (0 = none) maps a registry id to it. QA_ERR_INVALID when the
 * text is not a record named qalert.RawEvent / qalert.Alert (per rec),
 * QA_ERR_UNSUPPORTED when today's reader cannot resolve it, QA_ERR_FULL past
 * 32 schemas. Registering a known schema again is QA_OK (and may add its id).
 * Confluent frames with an id nobody registered are read as today's schema
 * of the record type the caller decodes. */
enum qa_err codec_register_schema(enum codec_record rec, const char *json,
                                  uint32_t confluent_id, char *errstr,
                                  size_t errstr_size);
/* Writers use the Confluent framing with this id instead (0 turns it off). */
void codec_set_confluent_id(enum codec_record rec, uint32_t id);

/* Fingerprint and canonical form of today's schema. */
uint64_t codec_fingerprint(enum codec_record rec);

/* Encode: *out is malloc'd, framed; the caller frees it with free(). */
enum qa_err codec_encode_raw_event(const struct raw_event *ev, uint8_t **out,
                                   size_t *len, char *errstr, size_t errstr_size);
enum qa_err codec_encode_alert(const struct alert *al, uint8_t **out,
                               size_t *len, char *errstr, size_t errstr_size);

/* Decode: fills *ev with malloc'd members; the caller releases them with
 * codec_raw_event_clear() (also safe on a zeroed or half-filled struct). */
enum qa_err codec_decode_raw_event(const void *buf, size_t len,
                                   struct raw_event *ev, char *errstr,
                                   size_t errstr_size);
enum qa_err codec_decode_alert(const void *buf, size_t len, struct alert *al,
                               char *errstr, size_t errstr_size);
void codec_raw_event_clear(struct raw_event *ev);
void codec_alert_clear(struct alert *al);
/* 1 when a and b hold the same values (NaN equals NaN), else 0. */
int codec_alert_same(const struct alert *a, const struct alert *b);

/* Any framed qalert record as a JSON object text (the writer schema's field
 * names; bytes as a string when valid UTF-8 JSON, else base64), for
 * qalert-replay print. *json is malloc'd; the caller frees it. *rec tells
 * which record it was. */
enum qa_err codec_to_json(const void *buf, size_t len, char **json,
                          enum codec_record *rec, char *errstr,
                          size_t errstr_size);

/* Names used on the wire and in JSON. */
const char *codec_raw_kind_name(enum raw_kind k);
const char *codec_source_name(enum raw_source s);
const char *codec_status_name(enum alert_status s);

#endif
