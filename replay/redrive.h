/*
 * redrive.h — the bookkeeping that lets `qalert-replay redrive` run again
 * without resending: which dead-letter offsets of a partition have already
 * been redriven. Pure (no Kafka), so the unit tests pin its edge cases.
 *
 * A partition's state is the group's committed offset (every record below it
 * is handled) plus the commit's metadata string, listing the records at or
 * above it that were redriven too: "qalert-redrive/1:" then ranges
 * "a-b" (inclusive) or "a", ascending, comma-separated.
 */
#ifndef QALERT_REPLAY_REDRIVE_H
#define QALERT_REPLAY_REDRIVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define REDRIVE_MARKS_PREFIX "qalert-redrive/1:"
/* The broker refuses commit metadata over offset.metadata.max.bytes (4096
 * by default); stay below with room to spare. */
#define REDRIVE_MARKS_MAX 4000

struct redrive_range {
    int64_t first, last; /* inclusive */
};

struct redrive_marks {
    struct redrive_range *r; /* sorted, disjoint, never adjacent */
    size_t n, cap;
};

/* Reads metadata (NULL or empty: no marks) into an empty *m. Marks below
 * base are dropped (already covered by the committed offset).
 * QA_ERR_INVALID when it was not written by redrive (wrong prefix, bad
 * number, not ascending); QA_ERR_NOMEM. */
enum qa_err redrive_marks_parse(const char *meta, size_t len, int64_t base,
                                struct redrive_marks *m, char *errstr,
                                size_t errstr_size);

int redrive_marks_has(const struct redrive_marks *m, int64_t offset);
/* Adds an offset (merging neighbours); QA_ERR_NOMEM. */
enum qa_err redrive_marks_add(struct redrive_marks *m, int64_t offset);
/* Removes an offset (a produce that failed); QA_ERR_NOMEM when a split
 * needs room. */
enum qa_err redrive_marks_remove(struct redrive_marks *m, int64_t offset);
/* Moves *base past marks that start at or below it, and drops them: the
 * committed offset grows while the records after it are all handled. */
void redrive_marks_advance(struct redrive_marks *m, int64_t *base);
/* Writes the metadata text; returns its length, or -1 when it does not fit
 * in n bytes (NUL included). No marks: "" (length 0). */
int redrive_marks_format(const struct redrive_marks *m, char *buf, size_t n);
/* 1 when adding offset would still format within REDRIVE_MARKS_MAX bytes. */
int redrive_marks_fit_after_add(const struct redrive_marks *m, int64_t offset);
void redrive_marks_clear(struct redrive_marks *m);

#endif
