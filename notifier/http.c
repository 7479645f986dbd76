/*
 * http.c — see http.h. One CURLM with a connection cache shared by every
 * transfer (keep-alive to the sink), one easy handle per request, answers
 * read into a capped buffer and handed to sink_parse_response(). Finished
 * easy handles are reset and kept for the next request (up to the in-flight
 * limit): a fresh curl_easy_init() per request cost more than the request.
 *
 * Sockets are watched with epoll through curl's socket interface
 * (curl_multi_socket_action): curl_multi_perform() polls every transfer's
 * socket with a syscall of its own on each call, which with hundreds in
 * flight was most of the notifier's CPU.
 *
 * It must never log or report a URL or a request header (secrets), never
 * follow a redirect (a webhook URL must not be bounced elsewhere), and
 * never speak anything but http/https.
 */
#include "notifier/http.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"

struct transfer {
    CURL *easy;
    struct curl_slist *headers;
    char *body;            /* request body (curl copies it, kept for clarity) */
    char *answer;          /* response body, at most HTTP_BODY_MAX bytes */
    size_t answer_len, answer_cap;
    char retry_after[64];
    enum sink_api api;
    void *opaque;
    struct transfer *next; /* list of every transfer in flight */
};

struct http_client {
    CURLM *multi;
    long timeout_ms;
    size_t in_flight;
    struct transfer *list;
    CURL **idle;           /* reset easy handles, ready for reuse */
    size_t nidle, idle_cap;
    int epfd;              /* the sockets curl asked us to watch */
    int64_t timer_mono;    /* curl's next timeout (monotonic ms), -1: none */
};

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl wants, or forget it.
 * socketp holds what is registered (+1, so NULL means nothing yet): curl
 * repeats itself often, and an unchanged registration needs no syscall. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct http_client *c = userp;
    struct epoll_event ev = { 0 };
    intptr_t had = (intptr_t)socketp;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(c->epfd, EPOLL_CTL_DEL, s, NULL); /* may be closed already */
        return 0;
    }
    if (had == what + 1)
        return 0;
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    ev.data.fd = s;
    if (epoll_ctl(c->epfd, had ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) != 0 &&
        epoll_ctl(c->epfd, had ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s, &ev) != 0)
        return -1; /* curl fails the transfer: reported as a transport error */
    curl_multi_assign(c->multi, s, (void *)(intptr_t)(what + 1));
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: when curl wants to be called without activity. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct http_client *c = userp;

    (void)multi;
    c->timer_mono = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
    return 0;
}

struct http_client *http_client_new(long timeout_ms, long max_conns,
                                    char *errstr, size_t errstr_size)
{
    struct http_client *c = calloc(1, sizeof(*c));

    if (!c || !(c->multi = curl_multi_init())) {
        free(c);
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "cannot create an HTTP client");
        return NULL;
    }
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    /* The in-flight limit is the delivery loop's; these keep connections
     * few and reused (no HTTP/2 multiplexing surprises with webhooks). */
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_conns > 0 ? max_conns : 4);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, max_conns > 0 ? max_conns : 4);
    c->idle_cap = max_conns > 0 ? (size_t)max_conns : 4;
    c->timer_mono = -1;
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    if (c->epfd < 0 || !(c->idle = calloc(c->idle_cap, sizeof(*c->idle)))) {
        if (c->epfd >= 0)
            close(c->epfd);
        curl_multi_cleanup(c->multi);
        free(c);
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "cannot create an HTTP client");
        return NULL;
    }
    return c;
}

/* An easy handle for a new request: a kept one (reset: no option, header
 * or callback of its last request survives), else a new one. */
static CURL *easy_get(struct http_client *c)
{
    return c->nidle ? c->idle[--c->nidle] : curl_easy_init();
}

static void transfer_free(struct http_client *c, struct transfer *t)
{
    if (t->easy) {
        curl_multi_remove_handle(c->multi, t->easy);
        if (c->nidle < c->idle_cap) {
            curl_easy_reset(t->easy);
            c->idle[c->nidle++] = t->easy;
        } else {
            curl_easy_cleanup(t->easy);
        }
    }
    curl_slist_free_all(t->headers);
    free(t->body);
    free(t->answer);
    free(t);
}

static void unlink_transfer(struct http_client *c, struct transfer *t)
{
    for (struct transfer **pp = &c->list; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            c->in_flight--;
            return;
        }
    }
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    while (c->list) {
        struct transfer *t = c->list;
        unlink_transfer(c, t);
        transfer_free(c, t);
    }
    while (c->nidle)
        curl_easy_cleanup(c->idle[--c->nidle]);
    free(c->idle);
    curl_multi_cleanup(c->multi);
    close(c->epfd);
    free(c);
}

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

enum qa_err http_submit(struct http_client *c, const struct sink_request *req,
                        enum sink_api api, void *opaque, char *errstr,
                        size_t errstr_size)
{
    struct transfer *t = calloc(1, sizeof(*t));
    struct curl_slist *h;
    enum qa_err err = QA_ERR_NOMEM;

    if (!t)
        return qa_errf(errstr, errstr_size, err, "out of memory");
    t->api = api;
    t->opaque = opaque;
    if (!(t->easy = easy_get(c)))
        goto fail;
    for (size_t i = 0; i < req->nheaders; i++) {
        if (!(h = curl_slist_append(t->headers, req->headers[i])))
            goto fail;
        t->headers = h;
    }
    /* No "Expect: 100-continue" round trip before larger bodies. */
    if (!(h = curl_slist_append(t->headers, "Expect:")))
        goto fail;
    t->headers = h;
    if (req->body && !(t->body = malloc(req->body_len + 1)))
        goto fail;
    if (req->body) {
        memcpy(t->body, req->body, req->body_len);
        t->body[req->body_len] = '\0';
    }
    err = QA_ERR_INVALID;
    if (curl_easy_setopt(t->easy, CURLOPT_URL, req->url) != CURLE_OK ||
        curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
        goto fail;
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body ? t->body : "");
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)(t->body ? req->body_len : 0));
    if (req->method && strcmp(req->method, "POST") != 0)
        curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "qalert-notifier/" QALERT_VERSION);
    if (curl_multi_add_handle(c->multi, t->easy) != CURLM_OK) {
        err = QA_ERR_IO;
        goto fail;
    }
    t->next = c->list;
    c->list = t;
    c->in_flight++;
    return QA_OK;
fail:
    if (t->easy) {
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    }
    transfer_free(c, t);
    /* Never the URL: it may be a webhook (a secret). */
    return qa_errf(errstr, errstr_size, err, "cannot start the %s request",
                   req->what ? req->what : "HTTP");
}

static void report(struct http_client *c, struct transfer *t, CURLcode code,
                   http_done_fn done, void *ctx)
{
    struct sink_result r;
    long status = 0;

    if (code == CURLE_OK) {
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        sink_parse_response(t->api, (int)status, t->answer, t->answer_len,
                            t->retry_after[0] ? t->retry_after : NULL,
                            clock_wall_ms(), &r);
    } else {
        /* curl_easy_strerror: a fixed text, never the URL or host. */
        sink_result_transport(&r, code == CURLE_OPERATION_TIMEDOUT
                                      ? SINK_TRANSPORT_TIMEOUT
                                      : SINK_TRANSPORT_CONNECT,
                              curl_easy_strerror(code));
    }
    done(ctx, t->opaque, &r);
}

/* Runs curl on what is due: the sockets epoll reports, then the timer. */
static void drive(struct http_client *c, int timeout_ms)
{
    struct epoll_event ev[64];
    int running = 0, n, wait = timeout_ms > 0 ? timeout_ms : 0;
    int64_t now = clock_mono_ms();

    if (c->timer_mono >= 0) {
        int64_t left = c->timer_mono - now;
        if (left < wait)
            wait = left > 0 ? (int)left : 0;
    }
    if (c->in_flight == 0)
        wait = 0;
    n = epoll_wait(c->epfd, ev, (int)(sizeof(ev) / sizeof(ev[0])), wait);
    for (int i = 0; i < n; i++) {
        int bits = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                   (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                   (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(c->multi, ev[i].data.fd, bits, &running);
    }
    if (c->timer_mono >= 0 && clock_mono_ms() >= c->timer_mono) {
        c->timer_mono = -1; /* curl sets the next one from inside */
        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

int http_poll(struct http_client *c, int timeout_ms, http_done_fn done, void *ctx)
{
    int left = 0, n = 0;
    CURLMsg *m;

    drive(c, timeout_ms);
    while ((m = curl_multi_info_read(c->multi, &left))) {
        struct transfer *t = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (!t)
            continue;
        CURLcode code = m->data.result; /* m is invalid once the handle is removed */
        unlink_transfer(c, t);
        report(c, t, code, done, ctx);
        transfer_free(c, t);
        n++;
    }
    return n;
}

void http_cancel_all(struct http_client *c, void (*gone)(void *ctx, void *opaque),
                     void *ctx)
{
    while (c && c->list) {
        struct transfer *t = c->list;
        unlink_transfer(c, t);
        if (gone)
            gone(ctx, t->opaque);
        transfer_free(c, t);
    }
}

size_t http_in_flight(const struct http_client *c)
{
    return c ? c->in_flight : 0;
}
