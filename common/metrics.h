/*
 * metrics.h — a small Prometheus registry: counters, gauges and histograms,
 * each family with optional labels, rendered in the text exposition format
 * (version 0.0.4) by the admin server's /metrics.
 *
 * One process-wide registry; every call is thread-safe. Families are created
 * once (metrics_register is idempotent by name) and series appear on first
 * use. Label sets are given as already-formatted text, `code="202",endpoint="genesys"`,
 * built with metrics_labels() which escapes values.
 */
#ifndef QALERT_METRICS_H
#define QALERT_METRICS_H

#include <stddef.h>

#include "common/err.h"

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics_family;

/* Registers (or finds) a family. Histograms take bucket upper bounds in
 * ascending order (+Inf is implicit); NULL/0 gives the default latency
 * buckets (0.5 ms .. 10 s, in seconds). Returns NULL on allocation failure
 * and on a programming error (logged): an invalid name, unordered buckets,
 * or a name already registered with another type. Every metrics_* call
 * accepts NULL as a no-op. Owned by the registry. A counter or gauge family
 * that has never had a labeled series renders `name 0` until first used. */
struct metrics_family *metrics_register(enum metrics_type type, const char *name,
                                        const char *help, const double *buckets,
                                        size_t nbuckets);

/* labels NULL or "" is the unlabeled series. A counter ignores a negative
 * or NaN increment; inc/set do nothing on a histogram, observe only works
 * on one. */
void metrics_inc(struct metrics_family *f, const char *labels, double v);
void metrics_set(struct metrics_family *f, const char *labels, double v);
void metrics_observe(struct metrics_family *f, const char *labels, double v);
/* Current value of a counter or gauge series (tests, readiness), the
 * observation count of a histogram series; 0 if absent. */
double metrics_value(struct metrics_family *f, const char *labels);
/* Removes a series (a gauge for a partition no longer assigned). */
void metrics_remove(struct metrics_family *f, const char *labels);

/* Formats `k1="v1",k2="v2"` from NULL-terminated key/value pairs, escaping
 * `\`, `"` and newlines. Returns buf; truncates safely. */
char *metrics_labels(char *buf, size_t n, ...);

/* Renders every family. *out is malloc'd; the caller frees it. */
enum qa_err metrics_render(char **out, size_t *len);

/* Sets qalert_build_info{program,version} 1. */
void metrics_build_info(const char *program, const char *version);

/* Drops every family (tests). */
void metrics_reset(void);

#endif
