/*
 * log.h — JSON-lines logging on stderr: one object a line with "ts", "level",
 * "program", "msg" and fields.
 *
 *     log_info("published", LOG_S("topic", t), LOG_I("partition", p));
 *
 * Secrets are redacted by construction: every string registered with
 * log_add_secret() (config does it for each secret setting) is replaced by
 * "[redacted]" wherever it appears in a message or a field. Thread-safe.
 */
#ifndef QALERT_LOG_H
#define QALERT_LOG_H

#include <stdio.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

enum log_kv_type { LOG_KV_END = 0, LOG_KV_STR, LOG_KV_INT, LOG_KV_DBL, LOG_KV_BOOL };

struct log_kv {
    enum log_kv_type type;
    const char *key;
    const char *s;
    long long i;
    double d;
};

#define LOG_S(k, v) ((struct log_kv){ .type = LOG_KV_STR, .key = (k), .s = (v) })
#define LOG_I(k, v) ((struct log_kv){ .type = LOG_KV_INT, .key = (k), .i = (long long)(v) })
#define LOG_D(k, v) ((struct log_kv){ .type = LOG_KV_DBL, .key = (k), .d = (double)(v) })
#define LOG_B(k, v) ((struct log_kv){ .type = LOG_KV_BOOL, .key = (k), .i = !!(v) })
#define LOG_END ((struct log_kv){ .type = LOG_KV_END })

/* Emits one line when lvl >= the current level. The variadic arguments are
 * struct log_kv values ending with LOG_END (the macros below add it). */
void log_emit(enum log_level lvl, const char *msg, ...);

#define log_debug(...) log_emit(LOG_DEBUG, __VA_ARGS__, LOG_END)
#define log_info(...) log_emit(LOG_INFO, __VA_ARGS__, LOG_END)
#define log_warn(...) log_emit(LOG_WARN, __VA_ARGS__, LOG_END)
#define log_error(...) log_emit(LOG_ERROR, __VA_ARGS__, LOG_END)

void log_set_program(const char *program);
void log_set_level(enum log_level lvl);
int log_enabled(enum log_level lvl);
/* "debug", "info", "warn", "error" → level; returns -1 when unknown. */
int log_parse_level(const char *s, enum log_level *out);
/* Registers a value to redact (copied; values shorter than 4 bytes are
 * ignored, so that they cannot redact ordinary words). */
void log_add_secret(const char *value);
/* Redirects output (tests); NULL restores stderr. */
void log_set_stream(FILE *stream);

#endif
