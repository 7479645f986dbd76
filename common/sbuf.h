/*
 * sbuf.h — a growable byte/text buffer for output built piece by piece
 * (the Prometheus exposition, Avro canonical forms, changelog values).
 *
 * Appends never fail loudly: the first allocation failure (or a size that
 * would overflow, or a vsnprintf error) sets oom, and every later append is
 * a no-op, so a builder checks once at the end instead of after each piece.
 * The buffer is always NUL-terminated once anything was appended, so text
 * builders can hand it out as a C string; binary builders read p and len.
 */
#ifndef QALERT_SBUF_H
#define QALERT_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf {
    char *p;    /* NULL until the first append; then p[len] == '\0' */
    size_t len; /* bytes appended, the NUL not counted */
    size_t cap; /* bytes allocated at p */
    bool oom;   /* an append failed: the content is incomplete */
};

/* An empty buffer; a zeroed struct sbuf is the same. */
void sbuf_init(struct sbuf *b);

/* Appends s[0..n) (any bytes, NUL included). */
void sbuf_add(struct sbuf *b, const void *s, size_t n);

/* Appends the C string s. */
void sbuf_puts(struct sbuf *b, const char *s);

/* Appends printf-style text. */
void sbuf_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Empties the buffer and keeps its memory for the next use; oom stays. */
void sbuf_reset(struct sbuf *b);

/* Hands the buffer over (the caller frees it) and leaves b empty: "" when
 * nothing was appended, NULL after oom (the partial content is freed).
 * *len, when len is not NULL, gets its length (0 after oom). */
char *sbuf_take(struct sbuf *b, size_t *len);

/* Frees the buffer and leaves b empty (oom cleared), ready for reuse. */
void sbuf_free(struct sbuf *b);

/* For text that must stay within a caller's fixed array buf[size] (a reply
 * with a hard cap, a label set): appends s[0..n) after the *len bytes there
 * when they fit with a NUL after them and returns true; returns false and
 * changes nothing when they do not. */
bool sbuf_fixed_add(char *buf, size_t size, size_t *len, const void *s, size_t n);

#endif
