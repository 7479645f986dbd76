/*
 * api.c — see api.h. Genesys error bodies look like
 * {"message":"...","code":"missing.permissions","status":403,...}; the
 * message and code are copied (printable, bounded) into errstr so that an
 * operator sees "missing permission routing:queue:view" rather than "403".
 * Listings are {"entities":[...],"pageSize":100,"pageNumber":1,"total":250,
 * "pageCount":3}. Paging stops at pageCount, at an empty page, or after
 * GEN_API_MAX_PAGES, so that a misbehaving server cannot keep it forever.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define GEN_API_MAX_PAGES 10000

struct gen_api {
    struct gen_http *http;
    struct gen_oauth *oauth;
    char *base;
    int max_retries;
    int64_t delay_ms;
    volatile sig_atomic_t *stop;
    int requests;
};

struct gen_api *gen_api_new(struct gen_http *h, struct gen_oauth *oauth,
                            const struct gen_api_opts *o)
{
    struct gen_api *a = calloc(1, sizeof(*a));
    size_t n;

    if (!a)
        return NULL;
    n = strlen(o->api_url);
    while (n > 0 && o->api_url[n - 1] == '/')
        n--;
    a->base = strndup(o->api_url, n);
    if (!a->base) {
        free(a);
        return NULL;
    }
    a->http = h;
    a->oauth = oauth;
    a->max_retries = o->max_retries;
    a->delay_ms = o->request_delay_ms;
    a->stop = o->stop;
    return a;
}

void gen_api_free(struct gen_api *a)
{
    if (!a)
        return;
    free(a->base);
    free(a);
}

int gen_api_requests(const struct gen_api *a)
{
    return a->requests;
}

/* "message (code)" from a Genesys error body, printable and bounded. */
static void genesys_message(const char *body, char *buf, size_t n)
{
    cJSON *j = cJSON_Parse(body ? body : "");
    const char *msg = NULL, *code = NULL;

    snprintf(buf, n, "no message");
    if (j) {
        msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "message"));
        code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "code"));
        if (msg || code)
            snprintf(buf, n, "%.200s%s%.80s%s", msg ? msg : "", code ? " (" : "",
                     code ? code : "", code ? ")" : "");
        cJSON_Delete(j);
    }
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            *p = '?';
}

enum qa_err gen_api_call(struct gen_api *a, const char *method, const char *path,
                         const char *body, long *status, cJSON **out, char *errstr,
                         size_t errstr_size)
{
    struct gen_http_response r = { 0 };
    enum qa_err err = QA_OK;
    const char *token;
    char *url = NULL, msg[320];
    int refreshed = 0;
    int64_t wait_ms;
    size_t n;

    *out = NULL;
    *status = 0;
    if (strncmp(path, "/api/v2/", 8) != 0)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "not an API path: %s", path);
    n = strlen(a->base) + strlen(path) + 1;
    if (!(url = malloc(n)))
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    snprintf(url, n, "%s%s", a->base, path);
    for (int attempt = 0;; attempt++) {
        if (a->delay_ms > 0 && gen_http_sleep_ms(a->delay_ms, a->stop)) {
            err = qa_errf(errstr, errstr_size, QA_ERR_IO, "stopped");
            goto out;
        }
        if ((err = gen_oauth_token(a->oauth, &token, errstr, errstr_size)))
            goto out;
        struct gen_http_request rq = {
            .method = method, .url = url, .bearer = token,
            .body = body, .body_len = body ? strlen(body) : 0,
            .content_type = "application/json",
        };
        gen_http_response_clear(&r);
        a->requests++;
        err = gen_http_do(a->http, &rq, &r, errstr, errstr_size);
        if (err == QA_ERR_NOMEM || err == QA_ERR_INVALID || err == QA_ERR_FULL)
            goto out;
        if (err) {
            if (attempt >= a->max_retries) {
                char why[300];
                snprintf(why, sizeof(why), "%s", errstr);
                err = qa_errf(errstr, errstr_size, QA_ERR_IO,
                              "cannot reach the Genesys API (is QALERT_GENESYS_REGION right?): %s",
                              why);
                goto out;
            }
            wait_ms = 500LL << (attempt < 6 ? attempt : 6);
            log_warn("genesys API unreachable; retrying", LOG_S("path", path),
                     LOG_S("error", errstr), LOG_I("wait_ms", wait_ms));
        } else if (r.status == 401 && !refreshed) {
            /* A token revoked or expired early: one more try with a new one. */
            refreshed = 1;
            gen_oauth_invalidate(a->oauth);
            log_info("genesys API refused the token; getting a new one", LOG_S("path", path));
            continue;
        } else if ((r.status == 429 || r.status >= 500) && attempt < a->max_retries) {
            wait_ms = r.retry_after_ms >= 0 ? r.retry_after_ms
                                            : 500LL << (attempt < 6 ? attempt : 6);
            log_warn(r.status == 429 ? "genesys API rate limit; waiting Retry-After"
                                     : "genesys API error; backing off",
                     LOG_S("path", path), LOG_I("status", r.status), LOG_I("wait_ms", wait_ms));
        } else {
            *status = r.status;
            if (r.len > 0)
                *out = cJSON_ParseWithLength(r.body, r.len);
            if (r.status < 200 || r.status > 299) {
                genesys_message(r.body, msg, sizeof(msg));
                qa_errf(errstr, errstr_size, QA_ERR_IO, "%s %s: HTTP %ld: %s", method, path,
                        r.status, msg);
            }
            goto out;
        }
        if (gen_http_sleep_ms(wait_ms, a->stop)) {
            err = qa_errf(errstr, errstr_size, QA_ERR_IO, "stopped while waiting to retry");
            goto out;
        }
    }
out:
    gen_http_response_clear(&r);
    free(url);
    return err;
}

enum qa_err gen_api_get_pages(struct gen_api *a, const char *path, int page_size,
                              gen_api_page_fn fn, void *opaque, int *pages,
                              char *errstr, size_t errstr_size)
{
    char p[1024];
    enum qa_err err = QA_OK;
    cJSON *page = NULL;
    long status;
    int w;

    if (pages)
        *pages = 0;
    for (int number = 1; number <= GEN_API_MAX_PAGES; number++) {
        w = snprintf(p, sizeof(p), "%s%cpageSize=%d&pageNumber=%d", path,
                     strchr(path, '?') ? '&' : '?', page_size, number);
        if (w < 0 || (size_t)w >= sizeof(p))
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "path too long: %s", path);
        if ((err = gen_api_call(a, "GET", p, NULL, &status, &page, errstr, errstr_size)))
            goto out;
        if (status < 200 || status > 299) {
            err = QA_ERR_IO; /* errstr holds the status and Genesys' message */
            goto out;
        }
        const cJSON *ents = cJSON_GetObjectItemCaseSensitive(page, "entities");
        const cJSON *count = cJSON_GetObjectItemCaseSensitive(page, "pageCount");
        if (!cJSON_IsObject(page) || !cJSON_IsArray(ents)) {
            err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                          "GET %s: page %d is not a Genesys listing (no entities array)", path,
                          number);
            goto out;
        }
        if ((err = fn(page, opaque, errstr, errstr_size)))
            goto out;
        if (pages)
            (*pages)++;
        /* pageCount is authoritative when present; an empty page ends a
         * listing that has none. */
        if (cJSON_GetArraySize(ents) == 0 ||
            (cJSON_IsNumber(count) && (double)number >= count->valuedouble) ||
            (!cJSON_IsNumber(count) && cJSON_GetArraySize(ents) < page_size))
            goto out;
        cJSON_Delete(page);
        page = NULL;
    }
    err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "GET %s: more than %d pages", path,
                  GEN_API_MAX_PAGES);
out:
    cJSON_Delete(page);
    return err;
}
