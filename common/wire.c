/*
 * wire.c — zig-zag varints and little-endian doubles (see wire.h).
 */
#include "common/wire.h"

#include <string.h>

size_t wire_put_zigzag(uint8_t *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;

    do {
        uint8_t b = (uint8_t)(z & 0x7f);
        z >>= 7;
        if (p)
            p[n] = (uint8_t)(b | (z ? 0x80 : 0));
        n++;
    } while (z);
    return n;
}

void wire_put_f64le(uint8_t p[8], double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof(u));
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(u >> (8 * i));
}
