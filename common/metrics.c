/*
 * metrics.c — the process-wide Prometheus registry behind /metrics.
 *
 * Every daemon counts on its hot path (ingest counts each request), so an
 * update is one mutex, one hash probe and an add: a series allocates once,
 * on first use, and never again. Rendering takes the same mutex and writes
 * the text exposition format 0.0.4 in a stable order (families in
 * registration order, series in insertion order) so that scrapes and tests
 * compare byte for byte. This module must never block on I/O while holding
 * its lock, and never let a caller's label cardinality grow without bound.
 */
#include "common/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/sbuf.h"

/* A label set built from request data (a status code, a queue) must not eat
 * the heap; past this many series a family drops new ones with one warning. */
#define METRICS_MAX_SERIES 10000

static const double default_buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10 };

struct series {
    char *labels;      /* "" for the unlabeled series */
    uint32_t hash;
    double value;      /* counters and gauges */
    double sum;        /* histograms */
    uint64_t count;
    uint64_t *buckets; /* per bucket, not cumulative; the last one is +Inf */
};

struct metrics_family {
    enum metrics_type type;
    char *name;
    char *help;
    double *bounds;
    size_t nbounds;
    int labeled;       /* has ever had a labeled series: no implicit `name 0` */
    int warned_full;
    struct series **series; /* insertion order */
    size_t nseries, capseries;
    int32_t *index;    /* open addressing into series[], -1 when empty */
    size_t nindex;     /* a power of two, at least twice capseries */
    struct metrics_family *next;
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_family *families_head, *families_tail;

static uint32_t hash_text(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static int valid_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

static const char *type_name(enum metrics_type t)
{
    switch (t) {
    case METRICS_COUNTER: return "counter";
    case METRICS_GAUGE: return "gauge";
    case METRICS_HISTOGRAM: return "histogram";
    }
    return "untyped";
}

static void series_free(struct series *s)
{
    if (!s)
        return;
    free(s->labels);
    free(s->buckets);
    free(s);
}

static void family_free(struct metrics_family *f)
{
    for (size_t i = 0; i < f->nseries; i++)
        series_free(f->series[i]);
    free(f->series);
    free(f->index);
    free(f->bounds);
    free(f->help);
    free(f->name);
    free(f);
}

/* Rebuilds the hash index for nindex slots; 0 on allocation failure (the
 * old index is then kept). */
static int index_rebuild(struct metrics_family *f, size_t nindex)
{
    int32_t *idx = malloc(nindex * sizeof(*idx));

    if (!idx)
        return 0;
    for (size_t i = 0; i < nindex; i++)
        idx[i] = -1;
    for (size_t i = 0; i < f->nseries; i++) {
        size_t slot = f->series[i]->hash & (nindex - 1);
        while (idx[slot] >= 0)
            slot = (slot + 1) & (nindex - 1);
        idx[slot] = (int32_t)i;
    }
    free(f->index);
    f->index = idx;
    f->nindex = nindex;
    return 1;
}

/* Position of labels in f->series, or -1. */
static long series_find(const struct metrics_family *f, const char *labels, uint32_t h)
{
    if (!f->index)
        return -1;
    for (size_t slot = h & (f->nindex - 1);; slot = (slot + 1) & (f->nindex - 1)) {
        int32_t i = f->index[slot];
        if (i < 0)
            return -1;
        if (f->series[i]->hash == h && strcmp(f->series[i]->labels, labels) == 0)
            return i;
    }
}

/* Finds or creates a series; NULL when the family is full or memory is out. */
static struct series *series_get(struct metrics_family *f, const char *labels)
{
    struct series *s = NULL;
    uint32_t h;
    long pos;

    if (!labels)
        labels = "";
    h = hash_text(labels);
    pos = series_find(f, labels, h);
    if (pos >= 0)
        return f->series[pos];

    if (f->nseries >= METRICS_MAX_SERIES) {
        if (!f->warned_full)
            log_warn("metrics family full, dropping new series", LOG_S("family", f->name),
                     LOG_I("max_series", METRICS_MAX_SERIES));
        f->warned_full = 1;
        return NULL;
    }
    if (f->nseries == f->capseries) {
        size_t cap = f->capseries ? f->capseries * 2 : 8;
        struct series **arr = realloc(f->series, cap * sizeof(*arr));
        if (!arr)
            return NULL;
        f->series = arr;
        f->capseries = cap;
    }
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->labels = strdup(labels);
    if (!s->labels)
        goto fail;
    if (f->type == METRICS_HISTOGRAM) {
        s->buckets = calloc(f->nbounds + 1, sizeof(*s->buckets));
        if (!s->buckets)
            goto fail;
    }
    s->hash = h;
    f->series[f->nseries++] = s;
    if (f->nindex < 2 * f->capseries) {
        if (!index_rebuild(f, 4 * f->capseries)) {
            f->nseries--;
            goto fail;
        }
    } else {
        size_t slot = h & (f->nindex - 1);
        while (f->index[slot] >= 0)
            slot = (slot + 1) & (f->nindex - 1);
        f->index[slot] = (int32_t)(f->nseries - 1);
    }
    if (labels[0])
        f->labeled = 1;
    return s;
fail:
    series_free(s);
    return NULL;
}

static struct metrics_family *family_find(const char *name)
{
    for (struct metrics_family *f = families_head; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

struct metrics_family *metrics_register(enum metrics_type type, const char *name,
                                        const char *help, const double *buckets,
                                        size_t nbuckets)
{
    struct metrics_family *f = NULL;

    if (!valid_name(name)) {
        log_error("metrics: invalid family name", LOG_S("family", name ? name : "(null)"));
        return NULL;
    }
    if (type == METRICS_HISTOGRAM && buckets && nbuckets > 0) {
        for (size_t i = 0; i < nbuckets; i++) {
            if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
                log_error("metrics: histogram buckets must be finite and ascending",
                          LOG_S("family", name));
                return NULL;
            }
        }
    } else {
        buckets = default_buckets;
        nbuckets = sizeof(default_buckets) / sizeof(default_buckets[0]);
    }

    pthread_mutex_lock(&metrics_lock);
    f = family_find(name);
    if (f) {
        if (f->type != type) {
            log_error("metrics: family registered again with another type",
                      LOG_S("family", name), LOG_S("type", type_name(f->type)),
                      LOG_S("requested", type_name(type)));
            f = NULL;
        }
        goto out;
    }
    f = calloc(1, sizeof(*f));
    if (!f)
        goto out;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (!f->name || !f->help)
        goto fail;
    if (type == METRICS_HISTOGRAM) {
        f->bounds = malloc(nbuckets * sizeof(*f->bounds));
        if (!f->bounds)
            goto fail;
        memcpy(f->bounds, buckets, nbuckets * sizeof(*f->bounds));
        f->nbounds = nbuckets;
    }
    if (families_tail)
        families_tail->next = f;
    else
        families_head = f;
    families_tail = f;
    goto out;
fail:
    family_free(f);
    f = NULL;
out:
    pthread_mutex_unlock(&metrics_lock);
    return f;
}

void metrics_inc(struct metrics_family *f, const char *labels, double v)
{
    struct series *s;

    /* Counters only go up: a negative or NaN increment is a caller's bug that
     * would make rate() lie, so it is ignored rather than applied. */
    if (!f || f->type == METRICS_HISTOGRAM || (f->type == METRICS_COUNTER && !(v >= 0)))
        return;
    pthread_mutex_lock(&metrics_lock);
    s = series_get(f, labels);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_set(struct metrics_family *f, const char *labels, double v)
{
    struct series *s;

    /* Set is allowed on counters so that a counter kept elsewhere (librdkafka
     * statistics) can be mirrored. */
    if (!f || f->type == METRICS_HISTOGRAM)
        return;
    pthread_mutex_lock(&metrics_lock);
    s = series_get(f, labels);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_observe(struct metrics_family *f, const char *labels, double v)
{
    struct series *s;
    size_t i = 0;

    if (!f || f->type != METRICS_HISTOGRAM)
        return;
    /* `le` is inclusive: a value equal to a bound counts in that bucket. NaN
     * compares false everywhere and lands in +Inf, as the Go client does. */
    while (i < f->nbounds && !(v <= f->bounds[i]))
        i++;
    pthread_mutex_lock(&metrics_lock);
    s = series_get(f, labels);
    if (s) {
        s->buckets[i]++;
        s->count++;
        s->sum += v;
    }
    pthread_mutex_unlock(&metrics_lock);
}

double metrics_value(struct metrics_family *f, const char *labels)
{
    double v = 0;
    long pos;

    if (!f)
        return 0;
    if (!labels)
        labels = "";
    pthread_mutex_lock(&metrics_lock);
    pos = series_find(f, labels, hash_text(labels));
    if (pos >= 0)
        v = f->type == METRICS_HISTOGRAM ? (double)f->series[pos]->count : f->series[pos]->value;
    pthread_mutex_unlock(&metrics_lock);
    return v;
}

void metrics_remove(struct metrics_family *f, const char *labels)
{
    long pos;

    if (!f)
        return;
    if (!labels)
        labels = "";
    pthread_mutex_lock(&metrics_lock);
    pos = series_find(f, labels, hash_text(labels));
    if (pos >= 0) {
        series_free(f->series[pos]);
        memmove(&f->series[pos], &f->series[pos + 1],
                (f->nseries - (size_t)pos - 1) * sizeof(f->series[0]));
        f->nseries--;
        /* Same size, so the allocation cannot fail on a first index; if it
         * does, an index of stale positions would be worse than none. */
        if (!index_rebuild(f, f->nindex)) {
            free(f->index);
            f->index = NULL;
            f->nindex = 0;
        }
    }
    pthread_mutex_unlock(&metrics_lock);
}

char *metrics_labels(char *buf, size_t n, ...)
{
    va_list ap;
    size_t len = 0;
    const char *k;

    if (!buf || n == 0)
        return buf;
    buf[0] = '\0';
    va_start(ap, n);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        size_t start = len;
        int ok = (len == 0 || sbuf_fixed_add(buf, n, &len, ",", 1)) &&
                 sbuf_fixed_add(buf, n, &len, k, strlen(k)) &&
                 sbuf_fixed_add(buf, n, &len, "=\"", 2);

        for (const char *p = v ? v : ""; ok && *p; p++) {
            if (*p == '\\')
                ok = sbuf_fixed_add(buf, n, &len, "\\\\", 2);
            else if (*p == '"')
                ok = sbuf_fixed_add(buf, n, &len, "\\\"", 2);
            else if (*p == '\n')
                ok = sbuf_fixed_add(buf, n, &len, "\\n", 2);
            else
                ok = sbuf_fixed_add(buf, n, &len, p, 1);
        }
        ok = ok && sbuf_fixed_add(buf, n, &len, "\"", 1);
        if (!ok) {
            /* Never leave half a pair (an open quote would break the whole
             * exposition): drop the pair that did not fit and the rest. */
            len = start;
            buf[len] = '\0';
            break;
        }
    }
    va_end(ap);
    return buf;
}

/* Prometheus spelling: NaN, +Inf, -Inf; integers without a decimal point;
 * otherwise the shortest %g that reads back as the same double. */
static void format_number(char *buf, size_t n, double v)
{
    if (isnan(v)) {
        snprintf(buf, n, "NaN");
    } else if (isinf(v)) {
        snprintf(buf, n, "%s", v > 0 ? "+Inf" : "-Inf");
    } else if (v == 0) {
        snprintf(buf, n, "0"); /* also -0, which %.0f would print as "-0" */
    } else if (v == trunc(v) && fabs(v) < 1e15) {
        snprintf(buf, n, "%.0f", v);
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, n, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    }
}

static void render_number(struct sbuf *b, double v)
{
    char num[64];

    format_number(num, sizeof(num), v);
    sbuf_puts(b, num);
}

/* name + suffix + {labels[,extra]} — braces only when there is a label. */
static void render_sample_name(struct sbuf *b, const char *name, const char *suffix,
                               const char *labels, const char *extra)
{
    int has_labels = labels[0] != '\0';

    sbuf_puts(b, name);
    sbuf_puts(b, suffix);
    if (!has_labels && !extra)
        return;
    sbuf_puts(b, "{");
    sbuf_puts(b, labels);
    if (extra) {
        if (has_labels)
            sbuf_puts(b, ",");
        sbuf_puts(b, extra);
    }
    sbuf_puts(b, "}");
}

static void render_family(struct sbuf *b, const struct metrics_family *f)
{
    sbuf_puts(b, "# HELP ");
    sbuf_puts(b, f->name);
    sbuf_puts(b, " ");
    for (const char *p = f->help; *p; p++) {
        if (*p == '\\')
            sbuf_puts(b, "\\\\");
        else if (*p == '\n')
            sbuf_puts(b, "\\n");
        else
            sbuf_add(b, p, 1);
    }
    sbuf_puts(b, "\n# TYPE ");
    sbuf_puts(b, f->name);
    sbuf_puts(b, " ");
    sbuf_puts(b, type_name(f->type));
    sbuf_puts(b, "\n");

    if (f->type != METRICS_HISTOGRAM) {
        /* Dashboards and alerts see an unlabeled family from the start. */
        if (f->nseries == 0 && !f->labeled) {
            sbuf_puts(b, f->name);
            sbuf_puts(b, " 0\n");
        }
        for (size_t i = 0; i < f->nseries; i++) {
            render_sample_name(b, f->name, "", f->series[i]->labels, NULL);
            sbuf_puts(b, " ");
            render_number(b, f->series[i]->value);
            sbuf_puts(b, "\n");
        }
        return;
    }
    for (size_t i = 0; i < f->nseries; i++) {
        const struct series *s = f->series[i];
        uint64_t cum = 0;
        char le[80], num[64];

        for (size_t j = 0; j <= f->nbounds; j++) {
            cum += s->buckets[j];
            format_number(num, sizeof(num), j < f->nbounds ? f->bounds[j] : INFINITY);
            snprintf(le, sizeof(le), "le=\"%s\"", num);
            render_sample_name(b, f->name, "_bucket", s->labels, le);
            sbuf_puts(b, " ");
            render_number(b, (double)cum);
            sbuf_puts(b, "\n");
        }
        render_sample_name(b, f->name, "_sum", s->labels, NULL);
        sbuf_puts(b, " ");
        render_number(b, s->sum);
        sbuf_puts(b, "\n");
        render_sample_name(b, f->name, "_count", s->labels, NULL);
        sbuf_puts(b, " ");
        render_number(b, (double)s->count);
        sbuf_puts(b, "\n");
    }
}

enum qa_err metrics_render(char **out, size_t *len)
{
    struct sbuf b;

    sbuf_init(&b);
    pthread_mutex_lock(&metrics_lock);
    for (const struct metrics_family *f = families_head; f; f = f->next)
        render_family(&b, f);
    pthread_mutex_unlock(&metrics_lock);
    /* An empty registry still renders a valid empty string. */
    *out = sbuf_take(&b, len);
    return *out ? QA_OK : QA_ERR_NOMEM;
}

void metrics_build_info(const char *program, const char *version)
{
    struct metrics_family *f;
    char labels[256];

    f = metrics_register(METRICS_GAUGE, "qalert_build_info",
                         "Always 1; the labels name the program and its version.", NULL, 0);
    metrics_labels(labels, sizeof(labels), "program", program, "version", version, NULL);
    metrics_set(f, labels, 1);
}

void metrics_reset(void)
{
    struct metrics_family *f, *next;

    pthread_mutex_lock(&metrics_lock);
    for (f = families_head; f; f = next) {
        next = f->next;
        family_free(f);
    }
    families_head = families_tail = NULL;
    pthread_mutex_unlock(&metrics_lock);
}
