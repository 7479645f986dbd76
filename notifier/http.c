/*
 * http.c — see http.h. The caller's side of the notifier's HTTP client:
 * requests are built here, on the delivery loop's thread, and handed to a
 * lane (notifier/http_lane.c: a thread running one curl multi handle with
 * its own connection cache) that sends them and hands each back judged.
 * With one thread the notifier spent two thirds of its core in curl and the
 * kernel's TCP; now the delivery loop and one or two curl threads run side
 * by side (two lanes from HTTP_LANES_FROM requests in flight, which also
 * halves the connection cache curl searches on every request).
 *
 * A transfer (its easy handle, header list and buffers) is kept for the
 * next request, up to the in-flight limit: options that never change are
 * set once, so a request costs four setopt calls and no allocation.
 * Ownership: a transfer is the caller's until submitted, its lane's until
 * done or cancelled, then the caller's again (pool).
 *
 * It must never log or report a URL or a request header (secrets), never
 * follow a redirect (a webhook URL must not be bounced elsewhere), and
 * never speak anything but http/https.
 */
#include "notifier/http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "notifier/http_internal.h"

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb, room;

    room = HTTP_BODY_MAX - t->answer_len;
    if (n > room) /* keep the start, drop the rest: enough to classify */
        n = room;
    if (t->answer_len + n + 1 > t->answer_cap) {
        /* Sinks answer in a few hundred bytes: grow to what arrives. */
        size_t cap = t->answer_cap ? t->answer_cap : 512;
        char *p;
        while (cap < t->answer_len + n + 1)
            cap *= 2;
        if (cap > HTTP_BODY_MAX + 1)
            cap = HTTP_BODY_MAX + 1;
        if (!(p = realloc(t->answer, cap)))
            return 0; /* aborts the transfer: reported as a transport error */
        t->answer = p;
        t->answer_cap = cap;
    }
    memcpy(t->answer + t->answer_len, ptr, n);
    t->answer_len += n;
    t->answer[t->answer_len] = '\0';
    return size * nmemb;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    size_t i, j = 0;

    if (n > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0) {
        for (i = sizeof(name) - 1; i < n && (ptr[i] == ' ' || ptr[i] == '\t'); i++)
            ;
        for (; i < n && ptr[i] != '\r' && ptr[i] != '\n' &&
               j + 1 < sizeof(t->retry_after); i++)
            t->retry_after[j++] = ptr[i];
        t->retry_after[j] = '\0';
    } else if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        t->retry_after[0] = '\0'; /* a new response (after a 100) */
    }
    return n;
}

static void transfer_free(struct transfer *t)
{
    if (!t)
        return;
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    free(t->body);
    free(t->answer);
    free(t);
}

/* A new transfer with the options every request shares. Caller owns it. */
static struct transfer *transfer_new(const struct http_client *c)
{
    struct transfer *t = calloc(1, sizeof(*t));

    if (!t || !(t->easy = curl_easy_init()))
        goto fail;
    if (curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
        goto fail;
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "qalert-notifier/" QALERT_VERSION);
    return t;
fail:
    transfer_free(t);
    return NULL;
}

/* 1 when t's header list is req's headers plus "Expect:" already. */
static int same_headers(const struct transfer *t, const struct sink_request *req)
{
    const struct curl_slist *h = t->headers;

    if (!h || t->nheaders != req->nheaders)
        return 0;
    for (size_t i = 0; i < req->nheaders; i++, h = h->next)
        if (!h || strcmp(h->data, req->headers[i]) != 0)
            return 0;
    return 1;
}

static enum qa_err set_headers(struct transfer *t, const struct sink_request *req)
{
    struct curl_slist *list = NULL, *h;

    if (same_headers(t, req))
        return QA_OK;
    for (size_t i = 0; i < req->nheaders; i++) {
        if (!(h = curl_slist_append(list, req->headers[i])))
            goto fail;
        list = h;
    }
    /* No "Expect: 100-continue" round trip before larger bodies. */
    if (!(h = curl_slist_append(list, "Expect:")))
        goto fail;
    list = h;
    curl_slist_free_all(t->headers);
    t->headers = list;
    t->nheaders = req->nheaders;
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    return QA_OK;
fail:
    curl_slist_free_all(list);
    return QA_ERR_NOMEM;
}

/* ---- the caller's side ---------------------------------------------- */

struct http_client *http_client_new(long timeout_ms, long max_conns,
                                    char *errstr, size_t errstr_size)
{
    struct http_client *c = calloc(1, sizeof(*c));
    pthread_condattr_t ca;
    long per_lane;

    if (!c) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "cannot create an HTTP client");
        return NULL;
    }
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    c->pool_cap = max_conns > 0 ? (size_t)max_conns : 4;
    http_list_init(&c->done);
    http_list_init(&c->cancelled);
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < HTTP_MAX_LANES; i++)
        c->lanes[i].epfd = c->lanes[i].evfd = -1;
    c->nlanes = c->pool_cap >= HTTP_LANES_FROM ? HTTP_MAX_LANES : 1;
    /* requests go to the lane with the fewest in flight: never more than
     * this many in one */
    per_lane = (long)((c->pool_cap + (size_t)c->nlanes - 1) / (size_t)c->nlanes);
    for (int i = 0; i < c->nlanes; i++)
        if (http_lane_open(c, &c->lanes[i], per_lane) != 0)
            goto fail;
    return c;
fail:
    http_client_free(c);
    qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "cannot create an HTTP client");
    return NULL;
}

static void free_list(struct transfer *t)
{
    while (t) {
        struct transfer *next = t->qnext;
        transfer_free(t);
        t = next;
    }
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_mutex_unlock(&c->lock);
    for (int i = 0; i < HTTP_MAX_LANES; i++)
        if (c->lanes[i].started)
            http_lane_wake(&c->lanes[i]);
    for (int i = 0; i < HTTP_MAX_LANES; i++) {
        http_lane_close(&c->lanes[i]);
        free_list(c->lanes[i].submitted.head);
    }
    free_list(c->done.head);
    free_list(c->cancelled.head);
    free_list(c->pool);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Back to the pool for the next request, or freed past the in-flight cap. */
static void recycle(struct http_client *c, struct transfer *t)
{
    if (c->npool >= c->pool_cap) {
        transfer_free(t);
        return;
    }
    t->qnext = c->pool;
    c->pool = t;
    c->npool++;
}

enum qa_err http_submit(struct http_client *c, const struct sink_request *req,
                        enum sink_api api, void *opaque, char *errstr,
                        size_t errstr_size)
{
    struct transfer *t = c->pool;
    enum qa_err err = QA_ERR_NOMEM;
    size_t blen = req->body ? req->body_len : 0;
    struct http_lane *lane = &c->lanes[0];
    int was_empty;

    for (int i = 1; i < c->nlanes; i++)
        if (c->lanes[i].in_flight < lane->in_flight)
            lane = &c->lanes[i];
    if (t) {
        c->pool = t->qnext;
        c->npool--;
    } else if (!(t = transfer_new(c))) {
        goto fail;
    }
    t->api = api;
    t->opaque = opaque;
    t->answer_len = 0;
    t->retry_after[0] = '\0';
    memset(&t->result, 0, sizeof(t->result));
    if (set_headers(t, req))
        goto fail;
    if (blen + 1 > t->body_cap) {
        char *b = realloc(t->body, blen + 1);
        if (!b)
            goto fail;
        t->body = b;
        t->body_cap = blen + 1;
    }
    if (blen)
        memcpy(t->body, req->body, blen);
    t->body[blen] = '\0';
    err = QA_ERR_INVALID;
    if (curl_easy_setopt(t->easy, CURLOPT_URL, req->url) != CURLE_OK)
        goto fail;
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST,
                     req->method && strcmp(req->method, "POST") != 0 ? req->method : NULL);

    t->lane = lane;
    pthread_mutex_lock(&c->lock);
    was_empty = lane->submitted.head == NULL;
    http_list_push(&lane->submitted, t);
    pthread_mutex_unlock(&c->lock);
    if (was_empty) /* else the lane is already told */
        http_lane_wake(lane);
    lane->in_flight++;
    c->in_flight++;
    return QA_OK;
fail:
    if (t)
        recycle(c, t);
    /* Never the URL: it may be a webhook (a secret). */
    return qa_errf(errstr, errstr_size, err, "cannot start the %s request",
                   req->what ? req->what : "HTTP");
}

int http_poll(struct http_client *c, int timeout_ms, http_done_fn done, void *ctx)
{
    struct transfer *t;
    int n = 0;

    if (c->in_flight == 0)
        return 0;
    pthread_mutex_lock(&c->lock);
    if (!c->done.head && timeout_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        c->waiting = 1;
        while (!c->done.head &&
               pthread_cond_timedwait(&c->cond, &c->lock, &ts) != ETIMEDOUT)
            ;
        c->waiting = 0;
    }
    t = c->done.head;
    http_list_init(&c->done);
    pthread_mutex_unlock(&c->lock);
    while (t) {
        struct transfer *next = t->qnext;
        c->in_flight--;
        t->lane->in_flight--;
        done(ctx, t->opaque, &t->result);
        recycle(c, t);
        t = next;
        n++;
    }
    return n;
}

void http_cancel_all(struct http_client *c, void (*gone)(void *ctx, void *opaque),
                     void *ctx)
{
    struct transfer *t, *d;
    int all;

    if (!c || c->in_flight == 0)
        return;
    pthread_mutex_lock(&c->lock);
    c->cancel = 1;
    for (int i = 0; i < c->nlanes; i++)
        c->lanes[i].cancel_done = 0;
    pthread_mutex_unlock(&c->lock);
    for (int i = 0; i < c->nlanes; i++)
        http_lane_wake(&c->lanes[i]);
    pthread_mutex_lock(&c->lock);
    c->waiting = 1;
    do {
        all = 1;
        for (int i = 0; i < c->nlanes; i++)
            all &= c->lanes[i].cancel_done;
        if (!all)
            pthread_cond_wait(&c->cond, &c->lock);
    } while (!all);
    c->waiting = 0;
    c->cancel = 0;
    /* Answered but not reported counts as abandoned too. */
    d = c->done.head;
    http_list_init(&c->done);
    t = c->cancelled.head;
    http_list_init(&c->cancelled);
    pthread_mutex_unlock(&c->lock);
    for (struct transfer *l[2] = { d, t }, **p = l; p < l + 2; p++) {
        while (*p) {
            struct transfer *next = (*p)->qnext;
            c->in_flight--;
            (*p)->lane->in_flight--;
            if (gone)
                gone(ctx, (*p)->opaque);
            recycle(c, *p);
            *p = next;
        }
    }
}

size_t http_in_flight(const struct http_client *c)
{
    return c ? c->in_flight : 0;
}
