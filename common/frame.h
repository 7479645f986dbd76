/*
 * frame.h — the framing around an Avro record value on a topic (SPEC §5):
 * single-object encoding `C3 01` + 8-byte little-endian CRC-64-AVRO
 * fingerprint, or the Confluent wire format `00` + 4-byte big-endian schema
 * id. Readers accept both. Every byte is from the network: lengths are
 * checked before any read.
 */
#ifndef QALERT_FRAME_H
#define QALERT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define FRAME_SINGLE_OBJECT_HEADER 10
#define FRAME_CONFLUENT_HEADER 5

enum frame_kind { FRAME_SINGLE_OBJECT, FRAME_CONFLUENT };

struct frame {
    enum frame_kind kind;
    uint64_t fingerprint;   /* FRAME_SINGLE_OBJECT */
    uint32_t schema_id;     /* FRAME_CONFLUENT */
    const uint8_t *payload; /* points into the input */
    size_t payload_len;
};

/* Parses the header. QA_ERR_INVALID with errstr for anything else. */
enum qa_err frame_parse(const void *buf, size_t len, struct frame *out,
                        char *errstr, size_t errstr_size);

/* Writes the 10-byte single-object header for fingerprint fp. */
void frame_write_single_object(uint8_t out[FRAME_SINGLE_OBJECT_HEADER], uint64_t fp);
/* Writes the 5-byte Confluent header for schema id. */
void frame_write_confluent(uint8_t out[FRAME_CONFLUENT_HEADER], uint32_t id);

#endif
