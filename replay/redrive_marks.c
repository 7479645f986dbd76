/*
 * redrive_marks.c — the set of dead-letter offsets already redriven, kept
 * as ranges and written into the consumer group's commit metadata (see
 * redrive.h for the format and redrive.c for why).
 *
 * The metadata is read back from the broker, so it is parsed as hostile:
 * bounded numbers, strictly ascending ranges, nothing else accepted.
 */
#include "redrive.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum qa_err grow(struct redrive_marks *m)
{
    struct redrive_range *r;
    size_t cap = m->cap ? m->cap * 2 : 8;

    if (m->n < m->cap)
        return QA_OK;
    if (!(r = realloc(m->r, cap * sizeof(*r))))
        return QA_ERR_NOMEM;
    m->r = r;
    m->cap = cap;
    return QA_OK;
}

/* A non-negative decimal below 2^62 at *p; advances *p. */
static int number(const char **p, const char *end, int64_t *v)
{
    int n = 0;

    *v = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        if (++n > 18)
            return -1;
        *v = *v * 10 + (**p - '0');
        (*p)++;
    }
    return n > 0 ? 0 : -1;
}

enum qa_err redrive_marks_parse(const char *meta, size_t len, int64_t base,
                                struct redrive_marks *m, char *errstr,
                                size_t errstr_size)
{
    const char *p = meta, *end = meta + len;
    size_t plen = strlen(REDRIVE_MARKS_PREFIX);
    int64_t prev = -1;

    if (!meta || len == 0)
        return QA_OK;
    if (len < plen || memcmp(meta, REDRIVE_MARKS_PREFIX, plen) != 0)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "commit metadata was not written by qalert-replay redrive");
    p += plen;
    if (p == end)
        goto bad; /* format() writes "" for no marks, never a bare prefix */
    while (p < end) {
        struct redrive_range rg;

        if (number(&p, end, &rg.first))
            goto bad;
        rg.last = rg.first;
        if (p < end && *p == '-') {
            p++;
            if (number(&p, end, &rg.last) || rg.last < rg.first)
                goto bad;
        }
        /* Ascending with a gap: what format() writes, nothing looser. */
        if (rg.first <= prev + 1 && prev >= 0)
            goto bad;
        prev = rg.last;
        if (p < end && *p++ != ',')
            goto bad;
        if (p == end && end[-1] == ',')
            goto bad;
        if (rg.last < base)
            continue;
        if (rg.first < base)
            rg.first = base;
        if (grow(m))
            return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        m->r[m->n++] = rg;
    }
    return QA_OK;
bad:
    redrive_marks_clear(m);
    return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                   "commit metadata: malformed redrive marks at byte %zu",
                   (size_t)(p - meta));
}

/* Index of the first range whose last >= offset (n when none). */
static size_t lower(const struct redrive_marks *m, int64_t offset)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->r[mid].last < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int redrive_marks_has(const struct redrive_marks *m, int64_t offset)
{
    size_t i = lower(m, offset);
    return i < m->n && m->r[i].first <= offset;
}

enum qa_err redrive_marks_add(struct redrive_marks *m, int64_t offset)
{
    size_t i = lower(m, offset);
    int left, right;

    if (i < m->n && m->r[i].first <= offset)
        return QA_OK;
    left = i > 0 && m->r[i - 1].last + 1 == offset;
    right = i < m->n && m->r[i].first - 1 == offset;
    if (left && right) {
        m->r[i - 1].last = m->r[i].last;
        memmove(&m->r[i], &m->r[i + 1], (m->n - i - 1) * sizeof(*m->r));
        m->n--;
    } else if (left) {
        m->r[i - 1].last = offset;
    } else if (right) {
        m->r[i].first = offset;
    } else {
        if (grow(m))
            return QA_ERR_NOMEM;
        memmove(&m->r[i + 1], &m->r[i], (m->n - i) * sizeof(*m->r));
        m->r[i] = (struct redrive_range){ offset, offset };
        m->n++;
    }
    return QA_OK;
}

enum qa_err redrive_marks_remove(struct redrive_marks *m, int64_t offset)
{
    size_t i = lower(m, offset);
    struct redrive_range *rg;

    if (i >= m->n || m->r[i].first > offset)
        return QA_OK;
    rg = &m->r[i];
    if (rg->first == offset && rg->last == offset) {
        memmove(&m->r[i], &m->r[i + 1], (m->n - i - 1) * sizeof(*m->r));
        m->n--;
    } else if (rg->first == offset) {
        rg->first++;
    } else if (rg->last == offset) {
        rg->last--;
    } else {
        if (grow(m))
            return QA_ERR_NOMEM;
        memmove(&m->r[i + 1], &m->r[i], (m->n - i) * sizeof(*m->r));
        m->r[i].last = offset - 1;
        m->r[i + 1].first = offset + 1;
        m->n++;
    }
    return QA_OK;
}

void redrive_marks_advance(struct redrive_marks *m, int64_t *base)
{
    size_t drop = 0;

    while (drop < m->n && m->r[drop].first <= *base) {
        if (m->r[drop].last + 1 > *base)
            *base = m->r[drop].last + 1;
        drop++;
    }
    memmove(m->r, m->r + drop, (m->n - drop) * sizeof(*m->r));
    m->n -= drop;
}

int redrive_marks_format(const struct redrive_marks *m, char *buf, size_t n)
{
    size_t len = 0;
    int w;

    if (n == 0)
        return -1;
    buf[0] = '\0';
    if (m->n == 0)
        return 0;
    w = snprintf(buf, n, "%s", REDRIVE_MARKS_PREFIX);
    if (w < 0 || (size_t)w >= n)
        return -1;
    len = (size_t)w;
    for (size_t i = 0; i < m->n; i++) {
        const struct redrive_range *rg = &m->r[i];
        if (rg->first == rg->last)
            w = snprintf(buf + len, n - len, "%s%" PRId64, i ? "," : "", rg->first);
        else
            w = snprintf(buf + len, n - len, "%s%" PRId64 "-%" PRId64, i ? "," : "",
                         rg->first, rg->last);
        if (w < 0 || (size_t)w >= n - len)
            return -1;
        len += (size_t)w;
    }
    return (int)len;
}

int redrive_marks_fit_after_add(const struct redrive_marks *m, int64_t offset)
{
    struct redrive_marks copy = { 0 };
    char buf[REDRIVE_MARKS_MAX + 1];
    int fits = 0;

    if (redrive_marks_has(m, offset))
        return 1;
    if (m->n > 0 && !(copy.r = malloc(m->n * sizeof(*m->r))))
        return 0;
    if (m->n > 0)
        memcpy(copy.r, m->r, m->n * sizeof(*m->r));
    copy.n = copy.cap = m->n;
    if (redrive_marks_add(&copy, offset) == QA_OK)
        fits = redrive_marks_format(&copy, buf, sizeof(buf)) >= 0;
    redrive_marks_clear(&copy);
    return fits;
}

void redrive_marks_clear(struct redrive_marks *m)
{
    free(m->r);
    *m = (struct redrive_marks){ 0 };
}
