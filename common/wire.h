/*
 * wire.h — the two binary number forms qalert writes: zig-zag varints (Avro
 * int/long, and the processor's state records) and little-endian IEEE
 * doubles (Avro double, state records). One copy for every writer.
 */
#ifndef QALERT_WIRE_H
#define QALERT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_ZIGZAG_MAX 10 /* bytes of the longest varint */

/* v as a zig-zag varint at p (NULL: only counts); returns its length,
 * 1..WIRE_ZIGZAG_MAX. */
size_t wire_put_zigzag(uint8_t *p, int64_t v);

/* d's 8 bytes, little-endian, at p. */
void wire_put_f64le(uint8_t p[8], double d);

#endif
