/*
 * utf8.h — strict UTF-8 validation (RFC 3629), the one copy every module
 * uses on hostile bytes: request bodies, record payloads, sink answers,
 * text echoed in admin replies.
 *
 * Strict means: no overlong forms, no UTF-16 surrogates (U+D800..U+DFFF),
 * nothing above U+10FFFF, no sequence cut short by the end of the input.
 * NUL and control characters are valid UTF-8 here; callers that must refuse
 * or escape them do so themselves.
 */
#ifndef QALERT_UTF8_H
#define QALERT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the valid sequence starting at p, of which left bytes may
 * be read; 0 when it is invalid or left is 0. Never reads p[left] or past. */
size_t utf8_seq_len(const uint8_t *p, size_t left);

/* 1 when s[0..n) is entirely valid UTF-8 (n == 0 is valid), 0 otherwise. */
int utf8_valid(const void *s, size_t n);

#endif
