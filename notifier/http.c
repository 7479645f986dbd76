/*
 * http.c — see http.h. One CURLM with a connection cache shared by every
 * transfer (keep-alive to the sink), driven by a thread of its own.
 *
 * Threads: the caller's (the delivery loop) builds each request and hands
 * it over; the HTTP thread runs curl (sockets through curl's socket
 * interface and epoll, the timer, the answers) and judges each answer
 * (sink_parse_response) before handing it back. The two meet only under
 * `lock`, in three lists: submitted, done, and cancelled. With one thread
 * the notifier used one core for everything, curl and the kernel's TCP
 * being about two thirds of it; now the two halves run side by side.
 *
 * A transfer (its easy handle, header list and buffers) is kept for the
 * next request, up to the in-flight limit: options that never change are
 * set once, so a request costs four setopt calls and no allocation.
 * Ownership: a transfer is the caller's until submitted, the HTTP thread's
 * until it is done or cancelled, then the caller's again (pool).
 *
 * It must never log or report a URL or a request header (secrets), never
 * follow a redirect (a webhook URL must not be bounced elsewhere), and
 * never speak anything but http/https.
 */
#include "notifier/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

struct transfer {
    CURL *easy;
    struct curl_slist *headers; /* kept while the next request's are equal */
    size_t nheaders;
    char *body;                 /* request body (CURLOPT_POSTFIELDS does not copy) */
    size_t body_cap;
    char *answer;               /* response body, at most HTTP_BODY_MAX bytes */
    size_t answer_len, answer_cap;
    char retry_after[64];
    enum sink_api api;
    void *opaque;
    struct sink_result result;  /* set by the HTTP thread when done */
    struct transfer *next, **prev; /* HTTP thread: every transfer in flight */
    struct transfer *qnext;     /* submitted, done, cancelled or pool lists */
};

struct list {
    struct transfer *head, **tail;
};

struct http_client {
    long timeout_ms;
    /* the caller's thread only */
    size_t in_flight;           /* submitted and not yet reported */
    struct transfer *pool;
    size_t npool, pool_cap;
    /* shared, under lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* done or cancelled became non-empty */
    struct list submitted, done, cancelled;
    int waiting;                /* the caller waits on cond */
    int cancel, cancel_done, stop;
    /* the HTTP thread only (and setup/teardown) */
    CURLM *multi;
    int epfd, evfd;             /* evfd: the caller's wake-up, watched by epfd */
    int64_t timer_mono;         /* curl's next timeout (monotonic ms), -1: none */
    struct transfer *list;
    pthread_t thread;
    int started;
};

static void list_init(struct list *l)
{
    l->head = NULL;
    l->tail = &l->head;
}

static void list_push(struct list *l, struct transfer *t)
{
    t->qnext = NULL;
    *l->tail = t;
    l->tail = &t->qnext;
}

/* Moves every element of from to the end of to. */
static void list_splice(struct list *to, struct list *from)
{
    if (!from->head)
        return;
    *to->tail = from->head;
    to->tail = from->tail;
    list_init(from);
}

static void wake(struct http_client *c)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(c->evfd, &one, sizeof(one));
    while (n < 0 && errno == EINTR);
}

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

/* ---- the HTTP thread ------------------------------------------------ */

static void link_transfer(struct http_client *c, struct transfer *t)
{
    t->next = c->list;
    t->prev = &c->list;
    if (c->list)
        c->list->prev = &t->next;
    c->list = t;
}

static void unlink_transfer(struct transfer *t)
{
    if (!t->prev)
        return;
    *t->prev = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->next = NULL;
    t->prev = NULL;
}

/* Judges a finished transfer (on the HTTP thread: the parse is pure). */
static void judge(struct transfer *t, CURLcode code)
{
    long status = 0;

    if (code == CURLE_OK) {
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        sink_parse_response(t->api, (int)status, t->answer, t->answer_len,
                            t->retry_after[0] ? t->retry_after : NULL,
                            clock_wall_ms(), &t->result);
    } else {
        /* curl_easy_strerror: a fixed text, never the URL or host. */
        sink_result_transport(&t->result, code == CURLE_OPERATION_TIMEDOUT
                                              ? SINK_TRANSPORT_TIMEOUT
                                              : SINK_TRANSPORT_CONNECT,
                              curl_easy_strerror(code));
    }
}

/* Runs curl on what is due: the sockets epoll reports, then the timer. */
static void drive(struct http_client *c)
{
    struct epoll_event ev[64];
    int running = 0, n, wait = 1000;
    int64_t now = clock_mono_ms();

    if (c->timer_mono >= 0) {
        int64_t left = c->timer_mono - now;
        if (left < wait)
            wait = left > 0 ? (int)left : 0;
    }
    n = epoll_wait(c->epfd, ev, (int)(sizeof(ev) / sizeof(ev[0])), wait);
    for (int i = 0; i < n; i++) {
        int bits;
        if (ev[i].data.fd == c->evfd) {
            uint64_t v;
            if (read(c->evfd, &v, sizeof(v)) < 0) { /* EAGAIN: already read */
            }
            continue;
        }
        bits = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
               (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
               (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(c->multi, ev[i].data.fd, bits, &running);
    }
    if (c->timer_mono >= 0 && clock_mono_ms() >= c->timer_mono) {
        c->timer_mono = -1; /* curl sets the next one from inside */
        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

static void *http_main(void *arg)
{
    struct http_client *c = arg;
    struct list in, out, gone;

    list_init(&in);
    list_init(&out);
    list_init(&gone);
    for (;;) {
        struct transfer *t;
        CURLMsg *m;
        int left = 0, cancel, stop;

        pthread_mutex_lock(&c->lock);
        list_splice(&in, &c->submitted);
        cancel = c->cancel && !c->cancel_done;
        stop = c->stop;
        pthread_mutex_unlock(&c->lock);
        while ((t = in.head)) {
            in.head = t->qnext;
            if (curl_multi_add_handle(c->multi, t->easy) != CURLM_OK) {
                judge(t, CURLE_FAILED_INIT);
                list_push(&out, t);
            } else {
                link_transfer(c, t);
            }
        }
        list_init(&in);
        if (cancel || stop) {
            while ((t = c->list)) {
                unlink_transfer(t);
                curl_multi_remove_handle(c->multi, t->easy);
                list_push(&gone, t);
            }
            list_splice(&gone, &out);
        } else {
            drive(c);
            while ((m = curl_multi_info_read(c->multi, &left))) {
                void *p = NULL;
                CURLcode code;
                if (m->msg != CURLMSG_DONE)
                    continue;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&p);
                if (!(t = p))
                    continue;
                code = m->data.result; /* m is invalid once the handle is removed */
                unlink_transfer(t);
                curl_multi_remove_handle(c->multi, t->easy);
                judge(t, code);
                list_push(&out, t);
            }
        }
        if (out.head || gone.head || cancel) {
            pthread_mutex_lock(&c->lock);
            list_splice(&c->done, &out);
            list_splice(&c->cancelled, &gone);
            if (cancel)
                c->cancel_done = 1;
            if (c->waiting)
                pthread_cond_broadcast(&c->cond);
            pthread_mutex_unlock(&c->lock);
        }
        if (stop)
            break;
    }
    return NULL;
}

/* ---- the caller's side ---------------------------------------------- */

struct http_client *http_client_new(long timeout_ms, long max_conns,
                                    char *errstr, size_t errstr_size)
{
    struct http_client *c = calloc(1, sizeof(*c));
    struct epoll_event ev = { .events = EPOLLIN };
    pthread_condattr_t ca;

    if (!c) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "cannot create an HTTP client");
        return NULL;
    }
    c->epfd = c->evfd = -1;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    c->pool_cap = max_conns > 0 ? (size_t)max_conns : 4;
    c->timer_mono = -1;
    list_init(&c->submitted);
    list_init(&c->done);
    list_init(&c->cancelled);
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (!(c->multi = curl_multi_init()) ||
        (c->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (c->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        goto fail;
    ev.data.fd = c->evfd;
    if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->evfd, &ev) != 0)
        goto fail;
    /* The in-flight limit is the delivery loop's; these keep connections
     * few and reused (no HTTP/2 multiplexing surprises with webhooks). */
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->pool_cap);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->pool_cap);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    if (pthread_create(&c->thread, NULL, http_main, c) != 0)
        goto fail;
    c->started = 1;
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
    if (c->started) {
        pthread_mutex_lock(&c->lock);
        c->stop = 1;
        pthread_mutex_unlock(&c->lock);
        wake(c);
        pthread_join(c->thread, NULL); /* it hands back what was in flight */
    }
    free_list(c->submitted.head);
    free_list(c->done.head);
    free_list(c->cancelled.head);
    free_list(c->pool);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    if (c->epfd >= 0)
        close(c->epfd);
    if (c->evfd >= 0)
        close(c->evfd);
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
    int was_empty;

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

    pthread_mutex_lock(&c->lock);
    was_empty = c->submitted.head == NULL;
    list_push(&c->submitted, t);
    pthread_mutex_unlock(&c->lock);
    if (was_empty) /* else the thread is already told */
        wake(c);
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
    list_init(&c->done);
    pthread_mutex_unlock(&c->lock);
    while (t) {
        struct transfer *next = t->qnext;
        c->in_flight--;
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

    if (!c || c->in_flight == 0)
        return;
    pthread_mutex_lock(&c->lock);
    c->cancel = 1;
    c->cancel_done = 0;
    pthread_mutex_unlock(&c->lock);
    wake(c);
    pthread_mutex_lock(&c->lock);
    c->waiting = 1;
    while (!c->cancel_done)
        pthread_cond_wait(&c->cond, &c->lock);
    c->waiting = 0;
    c->cancel = 0;
    c->cancel_done = 0;
    /* Answered but not reported counts as abandoned too. */
    d = c->done.head;
    list_init(&c->done);
    t = c->cancelled.head;
    list_init(&c->cancelled);
    pthread_mutex_unlock(&c->lock);
    for (struct transfer *l[2] = { d, t }, **p = l; p < l + 2; p++) {
        while (*p) {
            struct transfer *next = (*p)->qnext;
            c->in_flight--;
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
