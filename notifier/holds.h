/*
 * holds.h — grouping keys whose next request must wait (pure, no I/O).
 *
 * Why: a request that timed out, or whose connection failed, may still be
 * applied by the sink after we gave up on it. If the key's next request (a
 * retry, then the RESOLVED's close) went at once, a late-applied FIRING
 * create could land after the close and open an alert nobody closes (the
 * soak found one: create sent, timed out at 2 s, retried and closed at
 * 2.6 s, the first create applied at 3 s). So after an ambiguous attempt
 * the key is held for one more HTTP timeout; what the sink still applies
 * then lands while the alert is open and is absorbed by alias
 * de-duplication.
 */
#ifndef QALERT_NOTIFIER_HOLDS_H
#define QALERT_NOTIFIER_HOLDS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define HOLDS_MAX 4096 /* keys held at once; past it, new holds are refused */

struct key_holds;

/* An empty table; NULL when out of memory. Free with key_holds_free(). */
struct key_holds *key_holds_new(void);
void key_holds_free(struct key_holds *h);

/* Holds key until until_ms (monotonic; a later hold of the same key wins).
 * QA_ERR_NOMEM when out of memory or HOLDS_MAX keys are held, even after
 * dropping the expired ones at now_ms. */
enum qa_err key_holds_set(struct key_holds *h, const char *key, int64_t until_ms,
                          int64_t now_ms);

/* When key is held past now_ms, the time it is held until; else 0 (and an
 * expired hold of it is dropped). */
int64_t key_holds_until(struct key_holds *h, const char *key, int64_t now_ms);

/* Keys held (expired ones not yet dropped included). */
size_t key_holds_count(const struct key_holds *h);

#endif
