/*
 * frame.c — the header in front of every Avro record value on our topics:
 * single-object encoding (`C3 01` + little-endian fingerprint) or the
 * Confluent wire format (`00` + big-endian schema id).
 *
 * Exists so that every reader tells the two apart the same way. It only looks
 * at the header; it must never read a byte past len, and it must say what it
 * saw when it refuses (operators see these lines for foreign records).
 */
#include "common/frame.h"

#include <stdio.h>

/* "c3 01 7f ..." of the first bytes, for error messages. */
static void hex_prefix(const uint8_t *p, size_t len, char *out, size_t out_size)
{
    size_t n = len < 8 ? len : 8, used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out + used, out_size - used, "%s%02x", i ? " " : "", p[i]);
        if (w < 0 || (size_t)w >= out_size - used)
            return;
        used += (size_t)w;
    }
    if (len > n && out_size - used > 4)
        snprintf(out + used, out_size - used, " ...");
}

enum qa_err frame_parse(const void *buf, size_t len, struct frame *out,
                        char *errstr, size_t errstr_size)
{
    const uint8_t *p = buf;
    char seen[40];

    if (!p && len)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "frame: no buffer");
    if (len >= 2 && p[0] == 0xc3 && p[1] == 0x01) {
        if (len < FRAME_SINGLE_OBJECT_HEADER) {
            hex_prefix(p, len, seen, sizeof(seen));
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                           "frame: single-object header cut short at %zu of %d "
                           "bytes (%s)", len, FRAME_SINGLE_OBJECT_HEADER, seen);
        }
        uint64_t fp = 0;
        for (int i = 9; i >= 2; i--)
            fp = (fp << 8) | p[i];
        out->kind = FRAME_SINGLE_OBJECT;
        out->fingerprint = fp;
        out->schema_id = 0;
        out->payload = p + FRAME_SINGLE_OBJECT_HEADER;
        out->payload_len = len - FRAME_SINGLE_OBJECT_HEADER;
        return QA_OK;
    }
    if (len >= 1 && p[0] == 0x00) {
        if (len < FRAME_CONFLUENT_HEADER) {
            hex_prefix(p, len, seen, sizeof(seen));
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                           "frame: Confluent header cut short at %zu of %d "
                           "bytes (%s)", len, FRAME_CONFLUENT_HEADER, seen);
        }
        out->kind = FRAME_CONFLUENT;
        out->fingerprint = 0;
        out->schema_id = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
                         (uint32_t)p[3] << 8 | (uint32_t)p[4];
        out->payload = p + FRAME_CONFLUENT_HEADER;
        out->payload_len = len - FRAME_CONFLUENT_HEADER;
        return QA_OK;
    }
    if (len == 0)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "frame: empty value (expected C3 01 single-object or 00 "
                       "Confluent header)");
    hex_prefix(p, len, seen, sizeof(seen));
    return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                   "frame: not an Avro single-object (C3 01) or Confluent (00) "
                   "header; %zu bytes starting %s", len, seen);
}

void frame_write_single_object(uint8_t out[FRAME_SINGLE_OBJECT_HEADER], uint64_t fp)
{
    out[0] = 0xc3;
    out[1] = 0x01;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(fp >> (8 * i));
}

void frame_write_confluent(uint8_t out[FRAME_CONFLUENT_HEADER], uint32_t id)
{
    out[0] = 0x00;
    out[1] = (uint8_t)(id >> 24);
    out[2] = (uint8_t)(id >> 16);
    out[3] = (uint8_t)(id >> 8);
    out[4] = (uint8_t)id;
}
