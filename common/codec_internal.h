/*
 * codec_internal.h — what the codec's files share: the table of known writer
 * schemas and reading a framed payload into an avro-c value. Not for use
 * outside common/codec*.c.
 */
#ifndef QALERT_CODEC_INTERNAL_H
#define QALERT_CODEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <avro.h>

#include "common/codec.h"
#include "common/frame.h"

/* A known writer schema. Entries live from codec_init/codec_register_schema
 * until codec_shutdown and are never changed after they are published, so a
 * pointer to one may be used without a lock. */
struct codec_schema {
    enum codec_record rec;
    uint64_t fingerprint;
    uint32_t confluent_id;        /* 0 = none */
    avro_schema_t schema;
    avro_value_iface_t *cls;      /* generic class of this schema */
    avro_value_iface_t *resolver; /* this -> today's reader; NULL for today's */
    char *canonical;
};

/* A payload read with its writer schema; view is reader-shaped (the resolved
 * reader when the writer is not today's schema, else the writer value). */
struct codec_read {
    const struct codec_schema *writer;
    avro_value_t value;
    avro_value_t view;
    bool has_value, has_view;
};

/* Today's schema of rec (after codec_init). */
const struct codec_schema *codec_today(enum codec_record rec);
/* The Confluent id writers use for rec, 0 for single-object framing. */
uint32_t codec_writer_confluent_id(enum codec_record rec);

/* Parses the frame, finds the writer schema and reads the payload. expected
 * is the record type the caller wants, or -1 for any (codec_to_json). When
 * resolve is set, r->view is shaped by today's reader schema of expected.
 * On success the caller releases r with codec_read_release(). */
enum qa_err codec_read_framed(const void *buf, size_t len, int expected,
                              bool resolve, struct codec_read *r, char *errstr,
                              size_t errstr_size);
void codec_read_release(struct codec_read *r);

/* The first half of codec_read_framed: parses the frame, finds the writer
 * schema and checks the payload against it (codec_check_payload), without
 * reading it. *payload points into buf. */
enum qa_err codec_find_framed(const void *buf, size_t len, int expected,
                              const struct codec_schema **writer, const uint8_t **payload,
                              size_t *payload_len, char *errstr, size_t errstr_size);

/* Today's qalert.Alert payload (checked by codec_check_payload) read
 * straight from its bytes (codec_alert_fast.c); the same struct as
 * codec_decode_alert_avro gives. On error *al holds nothing. */
enum qa_err codec_decode_alert_fast(const uint8_t *payload, size_t len, struct alert *al,
                                    char *errstr, size_t errstr_size);
/* A framed alert of any known writer schema, through an avro-c value:
 * what codec_decode_alert does for writers other than today's. */
enum qa_err codec_decode_alert_avro(const void *buf, size_t len, struct alert *al,
                                    char *errstr, size_t errstr_size);

/* Today's qalert.RawEvent written through an avro-c value: the reference
 * codec_encode_raw_event (codec_raw_fast.c) must match byte for byte. */
enum qa_err codec_encode_raw_event_avro(const struct raw_event *ev, uint8_t **out,
                                        size_t *len, char *errstr, size_t errstr_size);

/* Checks that payload is exactly one value of schema, every length and index
 * within bounds, before avro-c (which trusts lengths) reads it. */
enum qa_err codec_check_payload(avro_schema_t schema, const uint8_t *p,
                                size_t len, char *errstr, size_t errstr_size);

/* errstr = "<what>: <avro_strerror()>", copied under a lock because avro-c's
 * error text is one global buffer in Debian's build. Returns err. */
enum qa_err codec_avro_error(char *errstr, size_t errstr_size, enum qa_err err,
                             const char *what);

const char *codec_record_name(enum codec_record rec);

#endif
