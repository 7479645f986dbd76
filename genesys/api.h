/*
 * api.h — calls to the Genesys Cloud Platform API (prefix gen_api_):
 * https://api.<region>/api/v2/..., with the client-credentials token.
 *
 * Each call takes a token from oauth.c (renewed there before it expires);
 * a 401 drops the token and tries once more with a new one; a 429 waits its
 * Retry-After (Genesys' per-client rate limit); a 5xx or no answer backs
 * off 0.5 s, 1 s, 2 s... up to max_retries. Other statuses are returned to
 * the caller with Genesys' own message (a 403 names the missing permission).
 * Never logs a token, a body or a secret.
 */
#ifndef QALERT_GENESYS_API_H
#define QALERT_GENESYS_API_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdint.h>

#include "common/err.h"
#include "http.h"
#include "oauth.h"

struct gen_api_opts {
    const char *api_url;        /* "https://api.mypurecloud.com" */
    int max_retries;            /* 429/5xx/transport retries per call */
    int64_t request_delay_ms;   /* pause before each call (gentle paging); 0 none */
    volatile sig_atomic_t *stop;/* may be NULL */
};

struct gen_api;

/* Borrows h and oauth. NULL when out of memory. Free with gen_api_free(). */
struct gen_api *gen_api_new(struct gen_http *h, struct gen_oauth *oauth,
                            const struct gen_api_opts *o);
void gen_api_free(struct gen_api *a);

/* One call. path starts with "/api/v2/". body: JSON text or NULL.
 * On QA_OK, *status is the final HTTP status (any) and *out the parsed JSON
 * answer or NULL when it was empty or not JSON (the caller frees it with
 * cJSON_Delete). errstr then holds Genesys' message for a non-2xx status.
 * An error return means no usable answer (transport, retries exhausted,
 * credentials refused: QA_ERR_INVALID). */
enum qa_err gen_api_call(struct gen_api *a, const char *method, const char *path,
                         const char *body, long *status, cJSON **out, char *errstr,
                         size_t errstr_size);

/* Called once per page of a listing, with the parsed page. */
typedef enum qa_err (*gen_api_page_fn)(const cJSON *page, void *opaque, char *errstr,
                                       size_t errstr_size);

/* GETs path?pageSize=N&pageNumber=1.. (path may carry its own query) until
 * pageCount is reached or a page is empty. Any non-2xx is an error naming the
 * status and Genesys' message. *pages (may be NULL) counts pages read. */
enum qa_err gen_api_get_pages(struct gen_api *a, const char *path, int page_size,
                              gen_api_page_fn fn, void *opaque, int *pages,
                              char *errstr, size_t errstr_size);

/* Requests sent so far (including retries). */
int gen_api_requests(const struct gen_api *a);

#endif
