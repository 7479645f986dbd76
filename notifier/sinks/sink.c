/*
 * sink.c — helpers shared by the sink request builders: the request struct,
 * reading a sink's answer into a struct sink_result, UTF-8 clipping to an
 * API's character limit, and URL encoding.
 *
 * Pure: no I/O. Answers are hostile bytes: they are bounded and reduced to
 * printable ASCII before they reach a log line or a Kafka header. Nothing
 * here ever copies a URL or a header (they may hold secrets) into a result.
 */
#include "notifier/sinks/sink.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "common/utf8.h"
#include "notifier/retry.h"

void sink_request_clear(struct sink_request *r)
{
    if (!r)
        return;
    free(r->url);
    for (size_t i = 0; i < r->nheaders && i < SINK_MAX_HEADERS; i++)
        free(r->headers[i]);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return 1;
    return 0;
}

enum qa_err sink_request_set_url(struct sink_request *req, const char *base,
                                 const char *path, char *errstr, size_t errstr_size)
{
    size_t blen, plen;

    if (!base || (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "sink URL must start with http:// or https://");
    if (has_control(base) || strchr(base, ' '))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "sink URL holds blanks or control characters");
    blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    plen = path ? strlen(path) : 0;
    free(req->url);
    req->url = malloc(blen + plen + 1);
    if (!req->url)
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    memcpy(req->url, base, blen);
    if (plen)
        memcpy(req->url + blen, path, plen);
    req->url[blen + plen] = '\0';
    return QA_OK;
}

enum qa_err sink_request_add_header(struct sink_request *req, const char *name,
                                    const char *prefix, const char *value,
                                    char *errstr, size_t errstr_size)
{
    size_t nlen, plen, vlen;
    char *h;

    if (!prefix)
        prefix = "";
    if (!value || !*value || has_control(value) || has_control(prefix))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "header %s: empty or holds control characters", name);
    if (req->nheaders >= SINK_MAX_HEADERS)
        return qa_errf(errstr, errstr_size, QA_ERR_FULL, "too many headers");
    nlen = strlen(name);
    plen = strlen(prefix);
    vlen = strlen(value);
    h = malloc(nlen + 2 + plen + vlen + 1);
    if (!h)
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    memcpy(h, name, nlen);
    memcpy(h + nlen, ": ", 2);
    memcpy(h + nlen + 2, prefix, plen);
    memcpy(h + nlen + 2 + plen, value, vlen + 1);
    req->headers[req->nheaders++] = h;
    return QA_OK;
}

void sink_format_time(char *buf, size_t n, int64_t ms)
{
    struct tm tm;
    time_t t;

    if (!buf || n == 0)
        return;
    buf[0] = '\0';
    if (ms <= 0 || ms / 1000 > (int64_t)253402300799LL) /* 0: unset; year 9999 */
        return;
    t = (time_t)(ms / 1000);
    if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        buf[0] = '\0';
}

size_t sink_utf8_sanitize(char *dst, size_t dst_size, const void *src,
                          size_t src_len, size_t max_chars, int keep_newlines)
{
    static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
    const unsigned char *s = src;
    size_t i = 0, o = 0, chars = 0;

    if (!dst || dst_size == 0)
        return 0;
    while (s && i < src_len) {
        unsigned char c = s[i];
        size_t len = utf8_seq_len(s + i, src_len - i);
        size_t units;
        const char *bytes = (const char *)s + i;
        size_t nbytes = len;

        if (len == 0) {
            len = 1;
            bytes = replacement;
            nbytes = 3;
        } else if (len == 1 && (c < 0x20 || c == 0x7F) &&
                   !(keep_newlines && (c == '\n' || c == '\t'))) {
            i++; /* a control character: dropped */
            continue;
        }
        i += len;
        /* Only a 4-byte sequence (U+10000 and up) is two UTF-16 units. */
        units = nbytes == 4 ? 2 : 1;
        if (chars + units > max_chars || o + nbytes >= dst_size)
            break;
        memcpy(dst + o, bytes, nbytes);
        o += nbytes;
        chars += units;
    }
    dst[o] = '\0';
    return o;
}

char *sink_utf8_clip(const char *s, size_t max_chars)
{
    size_t len = s ? strlen(s) : 0;
    /* worst case: every byte invalid, each becoming a 3-byte U+FFFD */
    size_t cap = (len < max_chars ? len : max_chars) * 4 + 1;
    char *out = malloc(cap);

    if (!out)
        return NULL;
    sink_utf8_sanitize(out, cap, s, len, max_chars, 1);
    return out;
}

char *sink_url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = s ? strlen(s) : 0, o = 0;
    char *out;

    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xF];
        }
    }
    out[o] = '\0';
    return out;
}

/* Copies hostile text into a fixed buffer as printable ASCII. */
static void ascii_copy(char *dst, size_t dst_size, const char *src, size_t len)
{
    size_t o = 0;

    if (dst_size == 0)
        return;
    for (size_t i = 0; src && i < len && o + 1 < dst_size; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
        dst[o++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    while (o > 0 && dst[o - 1] == ' ')
        o--;
    dst[o] = '\0';
}

static void copy_json_string(char *dst, size_t dst_size, const cJSON *obj,
                             const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (cJSON_IsString(v) && v->valuestring)
        ascii_copy(dst, dst_size, v->valuestring, strlen(v->valuestring));
}

void sink_result_transport(struct sink_result *r, enum sink_transport t,
                           const char *detail)
{
    memset(r, 0, sizeof(*r));
    r->transport = t == SINK_TRANSPORT_OK ? SINK_TRANSPORT_CONNECT : t;
    r->api_ok = -1;
    if (detail)
        ascii_copy(r->detail, sizeof(r->detail), detail, strlen(detail));
}

/* Only an answer's first bytes matter; a huge one is not worth parsing. */
#define SINK_PARSE_MAX 65536

static cJSON *parse_body(const char *body, size_t len)
{
    if (!body || len == 0 || len > SINK_PARSE_MAX)
        return NULL;
    return cJSON_ParseWithLength(body, len);
}

void sink_parse_response(enum sink_api api, int http_status, const char *body,
                         size_t len, const char *retry_after, int64_t now_ms,
                         struct sink_result *r)
{
    cJSON *j = NULL;
    int ok2xx = http_status >= 200 && http_status <= 299;

    memset(r, 0, sizeof(*r));
    r->transport = SINK_TRANSPORT_OK;
    r->http_status = http_status;
    r->api_ok = -1;
    r->retry_after_ms = retry_parse_retry_after(retry_after, now_ms);
    if (!body)
        len = 0;

    switch (api) {
    case SINK_API_SLACK_WEB:
        j = parse_body(body, len);
        if (cJSON_IsObject(j)) {
            const cJSON *okv = cJSON_GetObjectItemCaseSensitive(j, "ok");
            r->api_ok = cJSON_IsTrue(okv) ? 1 : 0;
            copy_json_string(r->api_error, sizeof(r->api_error), j, "error");
            copy_json_string(r->ts, sizeof(r->ts), j, "ts");
            copy_json_string(r->channel, sizeof(r->channel), j, "channel");
            if (r->api_ok == 0 && !r->api_error[0])
                ascii_copy(r->api_error, sizeof(r->api_error), "unknown_error", 13);
        } else if (ok2xx) {
            r->api_ok = 0;
            ascii_copy(r->api_error, sizeof(r->api_error), "invalid_response", 16);
        }
        if (!cJSON_IsObject(j) || r->api_ok == 0)
            ascii_copy(r->detail, sizeof(r->detail), body, len);
        break;
    case SINK_API_OPSGENIE:
        j = parse_body(body, len);
        if (cJSON_IsObject(j)) {
            copy_json_string(r->request_id, sizeof(r->request_id), j, "requestId");
            if (!ok2xx)
                copy_json_string(r->detail, sizeof(r->detail), j, "message");
        }
        if (!ok2xx && !r->detail[0])
            ascii_copy(r->detail, sizeof(r->detail), body, len);
        break;
    case SINK_API_SLACK_WEBHOOK:
        /* "ok" on success; a short code such as "invalid_payload" otherwise */
        if (!ok2xx)
            ascii_copy(r->detail, sizeof(r->detail), body, len);
        break;
    }
    cJSON_Delete(j);
}
