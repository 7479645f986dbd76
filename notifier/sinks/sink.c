/*
 * sink.c — helpers shared by the sink request builders: the request struct,
 * reading a sink's answer into a struct sink_result, UTF-8 clipping to an
 * API's character limit (also written straight into a JSON body, escaped as
 * cJSON escapes, so that a builder needs neither a copy nor a cJSON tree),
 * and URL encoding.
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

#include "common/sbuf.h"
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

/* One character of s[*i..len) as the sanitiser reads it: moves *i past it
 * and returns the UTF-16 units it counts, with *out pointing at the *nout
 * bytes it becomes (its own, or U+FFFD for an invalid byte); returns 0 for
 * an ASCII control character (or NUL), which is dropped, except \n and \t
 * when keep_newlines. */
static inline size_t utf8_step(const unsigned char *s, size_t len, size_t *i,
                               int keep_newlines, const char **out, size_t *nout)
{
    static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
    unsigned char c = s[*i];
    size_t n;

    if (c >= 0x20 && c < 0x7F) { /* printable ASCII: utf8_seq_len() says 1 */
        *out = (const char *)s + *i;
        *nout = 1;
        (*i)++;
        return 1;
    }
    n = utf8_seq_len(s + *i, len - *i);
    if (n == 0) {
        *out = replacement;
        *nout = 3;
        (*i)++;
        return 1;
    }
    if (n == 1 && !(keep_newlines && (c == '\n' || c == '\t'))) {
        (*i)++; /* a control character (c < 0x20 or 0x7F): dropped */
        return 0;
    }
    *out = (const char *)s + *i;
    *nout = n;
    *i += n;
    /* Only a 4-byte sequence (U+10000 and up) is two UTF-16 units. */
    return n == 4 ? 2 : 1;
}

size_t sink_utf8_sanitize(char *dst, size_t dst_size, const void *src,
                          size_t src_len, size_t max_chars, int keep_newlines)
{
    const unsigned char *s = src;
    size_t i = 0, o = 0, chars = 0;

    if (!dst || dst_size == 0)
        return 0;
    while (s && i < src_len) {
        const char *bytes = NULL;
        size_t nbytes = 0, units = utf8_step(s, src_len, &i, keep_newlines, &bytes, &nbytes);

        if (units == 0)
            continue;
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

/* Whether cJSON's print_string_ptr() writes the byte c as it is. */
static inline int json_plain(unsigned char c)
{
    return c > 31 && c != '"' && c != '\\';
}

/* 1 for printable ASCII that needs no escaping (0x20..0x7E but '"' and '\'):
 * one character, kept as it is by the sanitiser and by the escaper alike.
 * A table, as this test runs on nearly every byte of a body. */
static const unsigned char plain_ascii[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70: DEL */
};                                                  /* 0x80..0xFF: 0 */

/* Appends print_string_ptr()'s escape for c, a byte it does not write as it
 * is: the short forms, else sprintf("u%04x") of a byte below 0x20. */
static void json_escape_byte(struct sbuf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF] };
    size_t elen = 2;

    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default: elen = 6; break;
    }
    sbuf_add(b, esc, elen);
}

void sink_json_escape(struct sbuf *b, const char *s)
{
    size_t start = 0, i = 0;

    for (; s && s[i]; i++) {
        if (json_plain((unsigned char)s[i]))
            continue;
        if (i > start)
            sbuf_add(b, s + start, i - start);
        json_escape_byte(b, (unsigned char)s[i]);
        start = i + 1;
    }
    if (i > start)
        sbuf_add(b, s + start, i - start);
}

/* The walk of sink_utf8_clip() (keeping \n and \t), appending the result to
 * b, escaped, when b is not NULL. sink_utf8_clip()'s buffer never stops it
 * early (4 bytes a character at most, and at most one character a source
 * byte), so only max_chars does. Runs of bytes written as they are go to b
 * in one piece. Returns the clipped text's length (before escaping). */
static size_t clip_walk(struct sbuf *b, const char *s, size_t max_chars)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = s ? strlen(s) : 0, i = 0, run = 0, chars = 0, o = 0;

    while (i < len) {
        size_t at, nbytes = 0, units, stop, k = i;
        const char *bytes = NULL;

        /* the common case first: plain ASCII, one unit a byte */
        stop = len - i < max_chars - chars ? len : i + (max_chars - chars);
        while (k < stop && plain_ascii[u[k]])
            k++;
        chars += k - i;
        o += k - i;
        i = k;
        if (i == len || plain_ascii[u[i]])
            break; /* the end, or max_chars reached */
        at = i;
        units = utf8_step(u, len, &i, 1, &bytes, &nbytes);
        if (units && chars + units > max_chars) {
            i = at;
            break;
        }
        chars += units;
        o += units ? nbytes : 0;
        if (units && bytes == s + at && (nbytes > 1 || json_plain(u[at])))
            continue; /* a multibyte character: the run goes on */
        if (b) {      /* dropped, replaced or escaped: the run ends */
            if (at > run)
                sbuf_add(b, s + run, at - run);
            if (units && bytes != s + at)
                sbuf_add(b, bytes, nbytes); /* U+FFFD */
            else if (units)
                json_escape_byte(b, u[at]); /* " \ \n \t */
        }
        run = i;
    }
    if (b && i > run)
        sbuf_add(b, s + run, i - run);
    return o;
}

size_t sink_utf8_clip_len(const char *s, size_t max_chars)
{
    return clip_walk(NULL, s, max_chars);
}

size_t sink_json_escape_clipped(struct sbuf *b, const char *s, size_t max_chars)
{
    return clip_walk(b, s, max_chars);
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
