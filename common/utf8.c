/*
 * utf8.c — strict UTF-8 validation (see utf8.h).
 *
 * Exists because five modules had each written their own decoder; one copy
 * is tested once at every boundary. Pure: no allocation, no I/O, and it must
 * never read beyond the length it is given (the bytes come from the network).
 */
#include "common/utf8.h"

size_t utf8_seq_len(const uint8_t *p, size_t left)
{
    uint8_t c;
    size_t n;
    uint32_t cp;

    if (left == 0)
        return 0;
    c = p[0];
    if (c < 0x80)
        return 1;
    /* 0x80..0xC1: a continuation byte first, or a lead byte that can only
     * start an overlong 2-byte form; 0xF5..0xFF: past U+10FFFF or unused. */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

int utf8_valid(const void *s, size_t n)
{
    const uint8_t *p = s;
    size_t i = 0;

    while (i < n) {
        size_t k = utf8_seq_len(p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}
