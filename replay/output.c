/*
 * output.c — what every qalert-replay subcommand prints: one JSON object a
 * line on stdout, and one plain reason line on stderr when it fails.
 *
 * It exists so that record bytes, which come from the network and may be
 * anything, reach the terminal only through one escaping path (cJSON for
 * strings, base64 for what is not UTF-8). It must never write raw record
 * bytes to stdout or stderr.
 */
#include "replay.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/utf8.h"

volatile sig_atomic_t replay_stop;

int replay_fail(int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap); /* a cut message is still a message */
    va_end(ap);
    fprintf(stderr, "qalert-replay: %s\n", msg);
    log_emit(code == REPLAY_EXIT_USAGE ? LOG_WARN : LOG_ERROR, msg,
             LOG_I("exit", code), LOG_END);
    return code;
}

int replay_utf8_ok(const void *buf, size_t len)
{
    /* A NUL would cut the C string cJSON is handed: such bytes go as base64.
     * len 0 first: memchr must not see a NULL buf, even with a zero length. */
    return len == 0 || (memchr(buf, '\0', len) == NULL && utf8_valid(buf, len));
}

cJSON *replay_json_base64(const void *buf, size_t len)
{
    cJSON *str;
    char *text;

    if (len > (size_t)INT32_MAX / 2)
        return NULL; /* EVP_EncodeBlock takes an int; Kafka caps far below */
    /* 4 output bytes per 3 input bytes, and a NUL. */
    if (!(text = malloc((len + 2) / 3 * 4 + 1)))
        return NULL;
    EVP_EncodeBlock((unsigned char *)text, buf, (int)len);
    str = cJSON_CreateString(text);
    free(text);
    return str;
}

cJSON *replay_json_bytes(const void *buf, size_t len)
{
    cJSON *obj = NULL, *b64;
    char *text;

    if (!buf)
        return cJSON_CreateNull();
    if (replay_utf8_ok(buf, len)) {
        if (!(text = malloc(len + 1)))
            return NULL;
        memcpy(text, buf, len);
        text[len] = '\0';
        obj = cJSON_CreateString(text);
        free(text);
        return obj;
    }
    if (!(b64 = replay_json_base64(buf, len)) || !(obj = cJSON_CreateObject())) {
        cJSON_Delete(b64);
        return NULL;
    }
    cJSON_AddItemToObject(obj, "base64", b64);
    return obj;
}

cJSON *replay_json_headers(const rd_kafka_message_t *msg)
{
    rd_kafka_headers_t *hdrs = NULL;
    cJSON *obj = cJSON_CreateObject();
    const char *name;
    const void *value;
    size_t size;

    if (!obj)
        return NULL;
    /* rd_kafka_message_headers() only parses; it does not modify the record. */
    if (rd_kafka_message_headers((rd_kafka_message_t *)msg, &hdrs) ||
        !hdrs)
        return obj;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
        cJSON *v = replay_json_bytes(value, size);
        if (!v) {
            cJSON_Delete(obj);
            return NULL;
        }
        /* A header name is bytes too; a bad one is shown under a safe name. */
        if (!replay_utf8_ok(name, strlen(name)))
            name = "(invalid header name)";
        cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
        cJSON_AddItemToObject(obj, name, v);
    }
    return obj;
}

int replay_emit_line(FILE *out, const cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    int rc = 0;

    if (!text)
        return -1;
    if (fputs(text, out) == EOF || fputc('\n', out) == EOF || fflush(out) == EOF)
        rc = -1;
    cJSON_free(text);
    return rc;
}

/* Subcommand options; the rest of the table (Kafka, topics, the policy and
 * the SLA engine's knobs) applies to every subcommand. */
static const char *const subcommand_options[] = {
    "from-offset", "from-time", "to-time", "key", "partition", "count", "follow",
    "read-uncommitted", "sink", "error", "group", "topic", "execute", NULL,
};

int replay_only_options(const struct cfg *cfg, const char *cmd,
                        const char *const *allowed, char *errstr,
                        size_t errstr_size)
{
    for (size_t i = 0; subcommand_options[i]; i++) {
        const char *opt = subcommand_options[i];
        int ok = 0;

        if (!cfg_is_set(cfg, opt))
            continue;
        for (size_t k = 0; allowed && allowed[k] && !ok; k++)
            ok = strcmp(allowed[k], opt) == 0;
        if (!ok) {
            qa_errf(errstr, errstr_size, QA_ERR_INVALID, "--%s does not apply to %s",
                    opt, cmd);
            return -1;
        }
    }
    return 0;
}
