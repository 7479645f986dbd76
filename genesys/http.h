/*
 * http.h — one blocking HTTP exchange with libcurl for qalert-genesys
 * (prefix gen_http_). The token client (oauth.c) and the API client (api.c)
 * both go through it, so that the body cap, the Retry-After parsing and the
 * rule "credentials never reach a log" live in one place.
 *
 * It never retries and never logs a header, a body or a URL's query: the
 * callers decide what a status means and what may be printed.
 */
#ifndef QALERT_GENESYS_HTTP_H
#define QALERT_GENESYS_HTTP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Bodies larger than this are refused (a page of 100 queues is ~200 KB). */
#define GEN_HTTP_MAX_BODY (16u * 1024u * 1024u)

struct gen_http;

struct gen_http_request {
    const char *method;               /* "GET", "POST", "PUT", "PATCH" */
    const char *url;
    const char *bearer;               /* Authorization: Bearer; NULL for none */
    const char *basic_user;           /* HTTP Basic (token requests); NULL for none */
    const char *basic_password;
    const char *content_type;         /* with body */
    const char *body;                 /* NULL: no body */
    size_t body_len;
};

struct gen_http_response {
    long status;                      /* 0 when no answer came */
    char *body;                       /* NUL-terminated; owned, freed by _clear */
    size_t len;
    int64_t retry_after_ms;           /* -1 when the answer had none */
};

/* A client reusing one connection. timeout_ms bounds each exchange. NULL
 * when out of memory. Free with gen_http_free(). */
struct gen_http *gen_http_new(long timeout_ms);
void gen_http_free(struct gen_http *h);

/* Sends the request and reads the whole answer into *out (which the caller
 * clears with gen_http_response_clear, also after an error). A status of
 * any value is QA_OK; QA_ERR_IO / QA_ERR_TIMEOUT when there is no answer
 * (errstr names the host, never the credentials), QA_ERR_FULL over
 * GEN_HTTP_MAX_BODY. */
enum qa_err gen_http_do(struct gen_http *h, const struct gen_http_request *rq,
                        struct gen_http_response *out, char *errstr, size_t errstr_size);

void gen_http_response_clear(struct gen_http_response *r);

/* Retry-After as milliseconds from now: delta-seconds or an HTTP date
 * (RFC 9110 §10.2.3); -1 when unreadable. now_epoch_s is the wall clock. */
int64_t gen_http_parse_retry_after(const char *value, int64_t now_epoch_s);

/* Sleeps ms in short slices; returns -1 as soon as *stop (may be NULL)
 * becomes non-zero, so that SIGTERM is not kept waiting by a back-off. */
int gen_http_sleep_ms(int64_t ms, volatile sig_atomic_t *stop);

#endif
