/*
 * jarena.h — a bump allocator for cJSON while one request body is parsed.
 *
 * A Genesys event parses into ~100 small cJSON allocations (a node, its key,
 * its string), each malloc'd and freed again within the same call; under
 * load that was a few per cent of ingest's CPU in malloc and free alone.
 * Between jarena_begin and jarena_end, cJSON allocations on this thread come
 * from the caller's buffer (usually on its stack), and frees of them cost
 * nothing; what does not fit, and every other thread's cJSON use, goes to
 * malloc and free as before.
 *
 * It must never hand out memory past the buffer, and every cJSON value made
 * between begin and end must be deleted before end: after end, a free of
 * arena memory would reach free(). Under AddressSanitizer the unused part of
 * the buffer and a gap after each allocation are poisoned, so an overrun
 * inside cJSON is still caught.
 */
#ifndef QALERT_INGEST_JARENA_H
#define QALERT_INGEST_JARENA_H

#include <stddef.h>
#include <stdint.h>

struct jarena {
    uint8_t *base;
    size_t cap, used;
    size_t allocs, fallbacks; /* served from the buffer, and by malloc */
};

/* Installs the cJSON hooks (once per process) and makes a, over buf[0..cap),
 * this thread's arena. */
void jarena_begin(struct jarena *a, void *buf, size_t cap);

/* This thread has no arena any more; buf is the caller's again. */
void jarena_end(struct jarena *a);

#endif
