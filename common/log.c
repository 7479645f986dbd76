/*
 * log.c — JSON-lines logger on stderr.
 *
 * Every line is one JSON object, written with a single fwrite under a mutex
 * so lines from threads never interleave. Secrets are redacted here, at the
 * only place text leaves the process for a log, so no caller can forget:
 * each registered secret is replaced by "[redacted]" in the message and in
 * every string field. This module must never print a registered secret.
 */
#include "common/log.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

#define LOG_LINE_MAX 8192
#define LOG_MAX_SECRETS 64

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_level log_level = LOG_INFO;
static char log_program[64] = "qalert";
static FILE *log_stream;
static char *log_secrets[LOG_MAX_SECRETS];
static size_t log_nsecrets;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

struct line {
    char buf[LOG_LINE_MAX];
    size_t len;
    int truncated;
};

/* Room kept for what closes a line: a quote, ,"truncated":true and "}\n". */
#define LOG_RESERVE 64

/* Appends n bytes, or nothing and marks the line truncated when they would
 * eat into the reserve; once truncated, nothing more is appended. */
static int put_raw(struct line *l, const char *s, size_t n)
{
    if (l->truncated || l->len + n > sizeof(l->buf) - LOG_RESERVE) {
        l->truncated = 1;
        return -1;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return 0;
}

static int put_str(struct line *l, const char *s)
{
    return put_raw(l, s, strlen(s));
}

/* Closing text, written into the reserve. */
static void put_close(struct line *l, const char *s)
{
    size_t n = strlen(s);

    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* Finds the earliest registered secret in s[0..n); returns its offset and
 * length through *len, or n when none occurs. Caller holds log_lock. */
static size_t find_secret(const char *s, size_t n, size_t *len)
{
    size_t best = n;

    for (size_t i = 0; i < log_nsecrets; i++) {
        size_t sl = strlen(log_secrets[i]);
        for (size_t off = 0; off + sl <= n && off < best; off++) {
            if (memcmp(s + off, log_secrets[i], sl) == 0) {
                best = off;
                *len = sl;
                break;
            }
        }
    }
    return best;
}

/* Appends s as a JSON string body (no quotes), escaped, secrets redacted.
 * Bytes >= 0x80 are copied as they are (UTF-8 passes through); control
 * characters become \u00XX. Each escape goes in whole or not at all. */
static void put_escaped(struct line *l, const char *s)
{
    size_t n = strlen(s);
    size_t i = 0;

    while (i < n && !l->truncated) {
        size_t slen = 0;
        size_t at = find_secret(s + i, n - i, &slen);
        for (size_t j = 0; j < at && !l->truncated; j++) {
            unsigned char c = (unsigned char)s[i + j];
            char esc[8];
            switch (c) {
            case '"': put_raw(l, "\\\"", 2); break;
            case '\\': put_raw(l, "\\\\", 2); break;
            case '\n': put_raw(l, "\\n", 2); break;
            case '\r': put_raw(l, "\\r", 2); break;
            case '\t': put_raw(l, "\\t", 2); break;
            default:
                if (c < 0x20) {
                    snprintf(esc, sizeof(esc), "\\u%04x", c);
                    put_str(l, esc);
                } else {
                    put_raw(l, (const char *)&c, 1);
                }
            }
        }
        i += at;
        if (i < n) {
            put_str(l, "[redacted]");
            i += slen;
        }
    }
}

/* Appends ,"key": in one piece. Keys are code constants; a quote or
 * backslash in one would still not break the line. */
static int put_key(struct line *l, const char *key, int open_string)
{
    char buf[128];
    size_t k = 0;

    buf[k++] = ',';
    buf[k++] = '"';
    for (const char *p = key; *p && k < sizeof(buf) - 5; p++)
        buf[k++] = (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) ? '_' : *p;
    buf[k++] = '"';
    buf[k++] = ':';
    if (open_string)
        buf[k++] = '"';
    return put_raw(l, buf, k);
}

void log_emit(enum log_level lvl, const char *msg, ...)
{
    struct line *l;
    char ts[32], num[64];
    va_list ap;

    if (!log_enabled(lvl))
        return;
    l = malloc(sizeof(*l));
    if (!l)
        return;
    l->len = 0;
    l->truncated = 0;
    clock_format_iso8601(clock_wall_ms(), ts, sizeof(ts));

    pthread_mutex_lock(&log_lock);
    put_str(l, "{\"ts\":\"");
    put_str(l, ts);
    put_str(l, "\",\"level\":\"");
    put_str(l, level_names[lvl]);
    put_str(l, "\",\"program\":\"");
    put_escaped(l, log_program);
    put_str(l, "\",\"msg\":\"");
    put_escaped(l, msg ? msg : "");
    put_close(l, "\"");
    va_start(ap, msg);
    for (;;) {
        struct log_kv kv = va_arg(ap, struct log_kv);
        if (kv.type == LOG_KV_END || l->truncated)
            break;
        const char *key = kv.key ? kv.key : "?";
        switch (kv.type) {
        case LOG_KV_STR:
            if (!kv.s) {
                if (put_key(l, key, 0) == 0)
                    put_str(l, "null");
                break;
            }
            if (put_key(l, key, 1) == 0) {
                put_escaped(l, kv.s);
                put_close(l, "\"");
            }
            break;
        case LOG_KV_INT:
            snprintf(num, sizeof(num), "%lld", kv.i);
            if (put_key(l, key, 0) == 0)
                put_str(l, num);
            break;
        case LOG_KV_DBL:
            if (isfinite(kv.d))
                snprintf(num, sizeof(num), "%.6g", kv.d);
            else
                snprintf(num, sizeof(num), "null");
            if (put_key(l, key, 0) == 0)
                put_str(l, num);
            break;
        case LOG_KV_BOOL:
            if (put_key(l, key, 0) == 0)
                put_str(l, kv.i ? "true" : "false");
            break;
        case LOG_KV_END:
            break;
        }
    }
    va_end(ap);
    /* A key whose value did not fit leaves `,"k":`: a value makes it valid. */
    if (l->truncated && l->len > 0 && l->buf[l->len - 1] == ':')
        put_close(l, "null");
    if (l->truncated)
        put_close(l, ",\"truncated\":true");
    put_close(l, "}\n");
    fwrite(l->buf, 1, l->len, log_stream ? log_stream : stderr);
    fflush(log_stream ? log_stream : stderr);
    pthread_mutex_unlock(&log_lock);
    free(l);
}

void log_set_program(const char *program)
{
    pthread_mutex_lock(&log_lock);
    snprintf(log_program, sizeof(log_program), "%s", program ? program : "qalert");
    pthread_mutex_unlock(&log_lock);
}

void log_set_level(enum log_level lvl)
{
    __atomic_store_n(&log_level, lvl, __ATOMIC_RELAXED);
}

int log_enabled(enum log_level lvl)
{
    return lvl >= __atomic_load_n(&log_level, __ATOMIC_RELAXED) && lvl <= LOG_ERROR;
}

int log_parse_level(const char *s, enum log_level *out)
{
    for (int i = 0; s && i <= LOG_ERROR; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_add_secret(const char *value)
{
    if (!value || strlen(value) < 4)
        return;
    pthread_mutex_lock(&log_lock);
    for (size_t i = 0; i < log_nsecrets; i++) {
        if (strcmp(log_secrets[i], value) == 0)
            goto out;
    }
    if (log_nsecrets < LOG_MAX_SECRETS) {
        char *copy = strdup(value);
        if (copy)
            log_secrets[log_nsecrets++] = copy;
    }
out:
    pthread_mutex_unlock(&log_lock);
}

void log_set_stream(FILE *stream)
{
    pthread_mutex_lock(&log_lock);
    log_stream = stream;
    pthread_mutex_unlock(&log_lock);
}
