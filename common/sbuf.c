/*
 * sbuf.c — the growable buffer of sbuf.h.
 *
 * Exists because the metrics renderer, the schema canonicaliser and the SLA
 * changelog encoder each had their own realloc loop. It must never write past
 * cap, never let a size computation wrap, and never leave p without its NUL
 * once p is allocated.
 */
#include "common/sbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most outputs are a few hundred bytes; doubling makes larger ones cheap. */
#define SBUF_FIRST_CAP 256

/* Room for n more bytes and the NUL; false (oom set) when there is none. */
static bool reserve(struct sbuf *b, size_t n)
{
    size_t need, cap;
    char *p;

    if (b->oom)
        return false;
    if (n >= SIZE_MAX - b->len) {
        b->oom = true;
        return false;
    }
    need = b->len + n + 1;
    if (need <= b->cap)
        return true;
    cap = b->cap ? b->cap : SBUF_FIRST_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (!(p = realloc(b->p, cap))) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void sbuf_init(struct sbuf *b)
{
    memset(b, 0, sizeof(*b));
}

void sbuf_add(struct sbuf *b, const void *s, size_t n)
{
    if (!reserve(b, n))
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s)
{
    sbuf_add(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n, m;

    if (b->oom)
        return;
    /* Measure, make room, write: two passes, but never a cut text. */
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    m = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (m != n) {
        b->p[b->len] = '\0'; /* drop whatever the second pass wrote */
        b->oom = true;
        return;
    }
    b->len += (size_t)n;
}

void sbuf_reset(struct sbuf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

char *sbuf_take(struct sbuf *b, size_t *len)
{
    char *p;

    if (len)
        *len = 0;
    if (!b->oom && !b->p)
        sbuf_add(b, "", 0); /* nothing appended: still a valid empty string */
    if (b->oom) {
        sbuf_free(b);
        return NULL;
    }
    p = b->p;
    if (len)
        *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void sbuf_free(struct sbuf *b)
{
    free(b->p);
    sbuf_init(b);
}

bool sbuf_fixed_add(char *buf, size_t size, size_t *len, const void *s, size_t n)
{
    if (*len >= size || n >= size - *len)
        return false;
    if (n)
        memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
    return true;
}
