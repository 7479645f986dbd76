/*
 * retry_headers.c — a record's retry history in Kafka headers (SPEC §5):
 * qalert-attempt, -not-before, -error, -original-topic, -original-partition,
 * -original-offset, -first-failure.
 *
 * Headers come back from Kafka, where anyone with produce rights can write
 * them, so every value is hostile: numbers are plain decimal within bounds,
 * text is bounded and made valid UTF-8, topic names must be legal. Pure: no
 * I/O and no allocation.
 */
#include "notifier/retry.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Plain decimal: 1..19 digits, no sign, no space, at most max. */
static int parse_dec(const void *value, size_t len, int64_t max, int64_t *out)
{
    const unsigned char *p = value;
    int64_t acc = 0;

    if (!p || len == 0 || len > 19)
        return 0;
    for (size_t i = 0; i < len; i++) {
        int d;
        if (p[i] < '0' || p[i] > '9')
            return 0;
        d = p[i] - '0';
        if (acc > (max - d) / 10)
            return 0;
        acc = acc * 10 + d;
    }
    *out = acc;
    return 1;
}

enum field { F_ATTEMPT, F_NOT_BEFORE, F_ERROR, F_TOPIC, F_PARTITION, F_OFFSET,
             F_FIRST_FAILURE };

static const char *const names[RETRY_NHEADERS] = {
    RETRY_H_ATTEMPT, RETRY_H_NOT_BEFORE, RETRY_H_ERROR, RETRY_H_ORIGINAL_TOPIC,
    RETRY_H_ORIGINAL_PARTITION, RETRY_H_ORIGINAL_OFFSET, RETRY_H_FIRST_FAILURE,
};

/* Stores one header into h; returns 0 when its value is bad. */
static int set_field(struct retry_headers *h, enum field f, const void *value,
                     size_t len)
{
    int64_t v;

    switch (f) {
    case F_ATTEMPT:
        if (!parse_dec(value, len, RETRY_MAX_ATTEMPT, &v))
            return 0;
        h->attempt = (int)v;
        break;
    case F_NOT_BEFORE:
        if (!parse_dec(value, len, INT64_MAX, &v))
            return 0;
        h->not_before_ms = v;
        break;
    case F_ERROR:
        /* an empty error is allowed; a missing value is not */
        if (!value)
            return 0;
        sink_utf8_sanitize(h->error, sizeof(h->error), value, len,
                           RETRY_ERROR_MAX, 0);
        break;
    case F_TOPIC: {
        char tmp[RETRY_TOPIC_MAX + 1];
        if (!value || len == 0 || len > RETRY_TOPIC_MAX || memchr(value, '\0', len))
            return 0;
        memcpy(tmp, value, len);
        tmp[len] = '\0';
        if (!retry_topic_name_ok(tmp))
            return 0;
        memcpy(h->original_topic, tmp, len + 1);
        break;
    }
    case F_PARTITION:
        if (!parse_dec(value, len, INT32_MAX, &v))
            return 0;
        h->original_partition = (int32_t)v;
        break;
    case F_OFFSET:
        if (!parse_dec(value, len, INT64_MAX, &v))
            return 0;
        h->original_offset = v;
        break;
    case F_FIRST_FAILURE:
        if (!parse_dec(value, len, INT64_MAX, &v))
            return 0;
        h->first_failure_ms = v;
        break;
    }
    return 1;
}

enum qa_err retry_headers_parse(const struct retry_header_kv *kv, size_t n,
                                struct retry_headers *out, char *errstr,
                                size_t errstr_size)
{
    /* the last of duplicates wins: find it per field, then parse only it */
    long last[RETRY_NHEADERS];
    enum qa_err err = QA_OK;

    memset(out, 0, sizeof(*out));
    out->original_partition = -1;
    out->original_offset = -1;
    for (int f = 0; f < RETRY_NHEADERS; f++)
        last[f] = -1;
    for (size_t i = 0; kv && i < n; i++) {
        if (!kv[i].name)
            continue;
        for (int f = 0; f < RETRY_NHEADERS; f++)
            if (strcmp(kv[i].name, names[f]) == 0)
                last[f] = (long)i;
    }
    for (int f = 0; f < RETRY_NHEADERS; f++) {
        if (last[f] < 0)
            continue;
        if (set_field(out, (enum field)f, kv[last[f]].value, kv[last[f]].value_len)) {
            out->present |= 1u << f;
        } else if (err == QA_OK) {
            err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                          "header %s: bad value (%zu bytes)", names[f],
                          kv[last[f]].value ? kv[last[f]].value_len : 0);
        }
    }
    return err;
}

static void add(struct retry_header_set *out, enum field f, const char *value)
{
    out->kv[out->n].name = names[f];
    out->kv[out->n].value = value;
    out->kv[out->n].value_len = strlen(value);
    out->n++;
}

static void add_num(struct retry_header_set *out, enum field f, int64_t v)
{
    char *buf = out->num[f];
    /* 24 bytes hold any int64: the result cannot be truncated */
    if (snprintf(buf, sizeof(out->num[f]), "%" PRId64, v) < 0)
        buf[0] = '\0';
    add(out, f, buf);
}

void retry_headers_build(const struct retry_headers *h, struct retry_header_set *out)
{
    memset(out, 0, sizeof(*out));
    if (h->present & RETRY_HAS_ATTEMPT)
        add_num(out, F_ATTEMPT, h->attempt);
    if (h->present & RETRY_HAS_NOT_BEFORE)
        add_num(out, F_NOT_BEFORE, h->not_before_ms);
    if (h->present & RETRY_HAS_ERROR)
        add(out, F_ERROR, h->error);
    if (h->present & RETRY_HAS_ORIGINAL_TOPIC)
        add(out, F_TOPIC, h->original_topic);
    if (h->present & RETRY_HAS_ORIGINAL_PARTITION)
        add_num(out, F_PARTITION, h->original_partition);
    if (h->present & RETRY_HAS_ORIGINAL_OFFSET)
        add_num(out, F_OFFSET, h->original_offset);
    if (h->present & RETRY_HAS_FIRST_FAILURE)
        add_num(out, F_FIRST_FAILURE, h->first_failure_ms);
}

void retry_headers_on_failure(struct retry_headers *h, const struct retry_dest *d,
                              const char *error, const char *topic,
                              int32_t partition, int64_t offset, int64_t now_ms)
{
    h->attempt = d->attempt;
    h->not_before_ms = d->not_before_ms > 0 ? d->not_before_ms : 0;
    h->present |= RETRY_HAS_ATTEMPT | RETRY_HAS_NOT_BEFORE | RETRY_HAS_ERROR;
    sink_utf8_sanitize(h->error, sizeof(h->error), error ? error : "",
                       error ? strlen(error) : 0, RETRY_ERROR_MAX, 0);
    /* the origin describes where the alert was first read, so that a
     * redrive or an operator can find it after several hops */
    if (!(h->present & RETRY_HAS_ORIGINAL_TOPIC) && topic &&
        strlen(topic) <= RETRY_TOPIC_MAX && retry_topic_name_ok(topic)) {
        memcpy(h->original_topic, topic, strlen(topic) + 1);
        h->present |= RETRY_HAS_ORIGINAL_TOPIC;
    }
    if (!(h->present & RETRY_HAS_ORIGINAL_PARTITION) && partition >= 0) {
        h->original_partition = partition;
        h->present |= RETRY_HAS_ORIGINAL_PARTITION;
    }
    if (!(h->present & RETRY_HAS_ORIGINAL_OFFSET) && offset >= 0) {
        h->original_offset = offset;
        h->present |= RETRY_HAS_ORIGINAL_OFFSET;
    }
    if (!(h->present & RETRY_HAS_FIRST_FAILURE) && now_ms >= 0) {
        h->first_failure_ms = now_ms;
        h->present |= RETRY_HAS_FIRST_FAILURE;
    }
}
