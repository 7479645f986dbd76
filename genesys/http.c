/*
 * http.c — see http.h. A thin libcurl easy-handle wrapper: one handle per
 * client so that paging through queues reuses the TLS connection, a hard cap
 * on the body while it is read, and the Retry-After header picked out.
 * It must never log: URLs are the caller's to print, headers carry tokens.
 */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"

struct gen_http {
    CURL *easy;
    long timeout_ms;
};

struct exchange {
    struct gen_http_response *out;
    size_t cap;
    int too_large;
};

struct gen_http *gen_http_new(long timeout_ms)
{
    struct gen_http *h = calloc(1, sizeof(*h));

    if (!h)
        return NULL;
    /* Idempotent after the first call; qalert-genesys is single-threaded. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    h->easy = curl_easy_init();
    if (!h->easy) {
        free(h);
        return NULL;
    }
    h->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    return h;
}

void gen_http_free(struct gen_http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->easy);
    free(h);
}

void gen_http_response_clear(struct gen_http_response *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
    r->status = 0;
    r->retry_after_ms = -1;
}

int64_t gen_http_parse_retry_after(const char *value, int64_t now_epoch_s)
{
    char *end;
    long long secs;
    time_t when;

    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (isdigit((unsigned char)*value)) {
        secs = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        /* A day is already absurd for a token or a page; cap the wait. */
        if (*end != '\0' || secs < 0)
            return -1;
        return (secs > 86400 ? 86400 : secs) * 1000;
    }
    when = curl_getdate(value, NULL);
    if (when == (time_t)-1)
        return -1;
    if ((int64_t)when <= now_epoch_s)
        return 0;
    secs = (long long)((int64_t)when - now_epoch_s);
    return (secs > 86400 ? 86400 : secs) * 1000;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    struct exchange *x = opaque;
    size_t n = size * nmemb;
    struct gen_http_response *r = x->out;

    if (n > GEN_HTTP_MAX_BODY - r->len) {
        x->too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (r->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *nb = realloc(r->body, cap);
        if (!nb)
            return 0;
        r->body = nb;
        x->cap = cap;
    }
    memcpy(r->body + r->len, ptr, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *opaque)
{
    struct exchange *x = opaque;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";
    char value[128];

    /* A new status line (after a 100 Continue): forget earlier headers. */
    if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0)
        x->out->retry_after_ms = -1;
    if (n > sizeof(name) - 1 && strncasecmp(buf, name, sizeof(name) - 1) == 0) {
        size_t vlen = n - (sizeof(name) - 1);
        if (vlen >= sizeof(value))
            vlen = sizeof(value) - 1;
        memcpy(value, buf + sizeof(name) - 1, vlen);
        value[vlen] = '\0';
        x->out->retry_after_ms = gen_http_parse_retry_after(value, (int64_t)time(NULL));
    }
    return n;
}

/* "https://host/path?query" -> "https://host" for error messages: a query
 * may one day carry something that must not be printed. */
static void url_origin(const char *url, char *buf, size_t n)
{
    const char *p = strstr(url, "://");
    size_t len;

    p = p ? strchr(p + 3, '/') : NULL;
    len = p ? (size_t)(p - url) : strlen(url);
    if (len >= n)
        len = n - 1;
    memcpy(buf, url, len);
    buf[len] = '\0';
}

enum qa_err gen_http_do(struct gen_http *h, const struct gen_http_request *rq,
                        struct gen_http_response *out, char *errstr, size_t errstr_size)
{
    struct curl_slist *hdrs = NULL, *nh;
    struct exchange x = { .out = out };
    char line[8192], origin[256];
    enum qa_err err = QA_OK;
    CURLcode rc;
    CURL *c = h->easy;

    memset(out, 0, sizeof(*out));
    out->retry_after_ms = -1;
    url_origin(rq->url, origin, sizeof(origin));
    curl_easy_reset(c);
    if (curl_easy_setopt(c, CURLOPT_URL, rq->url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s: not a usable http(s) URL", origin);
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "qalert-genesys/" QALERT_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    if (rq->basic_user) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, rq->basic_user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, rq->basic_password ? rq->basic_password : "");
    }
    if (rq->bearer) {
        int w = snprintf(line, sizeof(line), "Authorization: Bearer %s", rq->bearer);
        if (w < 0 || (size_t)w >= sizeof(line)) {
            err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "access token too long");
            goto out;
        }
        if (!(nh = curl_slist_append(hdrs, line)))
            goto nomem;
        hdrs = nh;
    }
    if (!(nh = curl_slist_append(hdrs, "Accept: application/json")))
        goto nomem;
    hdrs = nh;
    if (rq->body) {
        int w = snprintf(line, sizeof(line), "Content-Type: %s",
                         rq->content_type ? rq->content_type : "application/json");
        if (w < 0 || (size_t)w >= sizeof(line)) {
            err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "content type too long");
            goto out;
        }
        if (!(nh = curl_slist_append(hdrs, line)))
            goto nomem;
        hdrs = nh;
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    }
    if (strcmp(rq->method, "GET") == 0)
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    else if (strcmp(rq->method, "POST") != 0 || !rq->body)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    if (strcmp(rq->method, "POST") == 0 && !rq->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

    rc = curl_easy_perform(c);
    if (x.too_large) {
        err = qa_errf(errstr, errstr_size, QA_ERR_FULL, "%s: answer larger than %u bytes",
                      origin, GEN_HTTP_MAX_BODY);
        goto out;
    }
    if (rc != CURLE_OK) {
        err = qa_errf(errstr, errstr_size,
                      rc == CURLE_OPERATION_TIMEDOUT ? QA_ERR_TIMEOUT : QA_ERR_IO,
                      "%s: %s", origin, curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    if (!out->body) {
        out->body = calloc(1, 1);
        if (!out->body)
            goto nomem;
    }
    goto out;
nomem:
    err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
out:
    /* The easy handle keeps pointers to the header list and the body:
     * detach them before they go. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_PASSWORD, "");
    curl_slist_free_all(hdrs);
    return err;
}

int gen_http_sleep_ms(int64_t ms, volatile sig_atomic_t *stop)
{
    int64_t until = clock_mono_ms() + ms;

    for (;;) {
        int64_t left = until - clock_mono_ms();
        if (stop && *stop)
            return -1;
        if (left <= 0)
            return 0;
        if (left > 100)
            left = 100;
        struct timespec ts = { 0, (long)left * 1000000L };
        nanosleep(&ts, NULL);
    }
}
