/*
 * http_lane.c — a lane of the notifier's HTTP client (see http_internal.h):
 * a thread that runs one curl multi handle. It takes submitted transfers,
 * drives curl on the sockets epoll reports and on curl's timer, judges each
 * answer (sink_parse_response, pure) and hands the transfer back on the
 * client's done list; on cancel or stop it hands back, unanswered, every
 * transfer it holds. It never logs: URLs and headers may hold secrets.
 */
#include "notifier/http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"

void http_list_init(struct http_list *l)
{
    l->head = NULL;
    l->tail = &l->head;
}

void http_list_push(struct http_list *l, struct transfer *t)
{
    t->qnext = NULL;
    *l->tail = t;
    l->tail = &t->qnext;
}

void http_list_splice(struct http_list *to, struct http_list *from)
{
    if (!from->head)
        return;
    *to->tail = from->head;
    to->tail = from->tail;
    http_list_init(from);
}

void http_lane_wake(struct http_lane *l)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(l->evfd, &one, sizeof(one));
    while (n < 0 && errno == EINTR);
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl wants, or forget it.
 * socketp holds what is registered (+1, so NULL means nothing yet): curl
 * repeats itself often, and an unchanged registration needs no syscall. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct http_lane *l = userp;
    struct epoll_event ev = { 0 };
    intptr_t had = (intptr_t)socketp;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, s, NULL); /* may be closed already */
        return 0;
    }
    if (had == what + 1)
        return 0;
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    ev.data.fd = s;
    if (epoll_ctl(l->epfd, had ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) != 0 &&
        epoll_ctl(l->epfd, had ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s, &ev) != 0)
        return -1; /* curl fails the transfer: reported as a transport error */
    curl_multi_assign(l->multi, s, (void *)(intptr_t)(what + 1));
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: when curl wants to be called without activity. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct http_lane *l = userp;

    (void)multi;
    l->timer_mono = timeout_ms < 0 ? -1 : clock_mono_ms() + timeout_ms;
    return 0;
}

static void link_transfer(struct http_lane *l, struct transfer *t)
{
    t->next = l->list;
    t->prev = &l->list;
    if (l->list)
        l->list->prev = &t->next;
    l->list = t;
}

/* O(1): with a thousand requests in flight a search of the list was 7 %
 * of the machine in a profile. */
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

/* Judges a finished transfer (here, off the caller's thread: it is pure). */
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
static void drive(struct http_lane *l)
{
    struct epoll_event ev[64];
    int running = 0, n, wait = 1000;
    int64_t now = clock_mono_ms();

    if (l->timer_mono >= 0) {
        int64_t left = l->timer_mono - now;
        if (left < wait)
            wait = left > 0 ? (int)left : 0;
    }
    n = epoll_wait(l->epfd, ev, (int)(sizeof(ev) / sizeof(ev[0])), wait);
    for (int i = 0; i < n; i++) {
        int bits;
        if (ev[i].data.fd == l->evfd) {
            uint64_t v;
            if (read(l->evfd, &v, sizeof(v)) < 0) { /* EAGAIN: already read */
            }
            continue;
        }
        bits = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
               (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
               (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(l->multi, ev[i].data.fd, bits, &running);
    }
    if (l->timer_mono >= 0 && clock_mono_ms() >= l->timer_mono) {
        l->timer_mono = -1; /* curl sets the next one from inside */
        curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

/* Finished transfers, judged, onto out. */
static void collect(struct http_lane *l, struct http_list *out)
{
    CURLMsg *m;
    int left = 0;

    while ((m = curl_multi_info_read(l->multi, &left))) {
        struct transfer *t;
        void *p = NULL;
        CURLcode code;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&p);
        if (!(t = p))
            continue;
        code = m->data.result; /* m is invalid once the handle is removed */
        unlink_transfer(t);
        curl_multi_remove_handle(l->multi, t->easy);
        judge(t, code);
        http_list_push(out, t);
    }
}

static void *lane_main(void *arg)
{
    struct http_lane *l = arg;
    struct http_client *c = l->c;
    struct http_list in, out, gone;

    http_list_init(&in);
    http_list_init(&out);
    http_list_init(&gone);
    for (;;) {
        struct transfer *t;
        int cancel, stop;

        pthread_mutex_lock(&c->lock);
        http_list_splice(&in, &l->submitted);
        cancel = c->cancel && !l->cancel_done;
        stop = c->stop;
        pthread_mutex_unlock(&c->lock);
        while ((t = in.head)) {
            in.head = t->qnext;
            if (curl_multi_add_handle(l->multi, t->easy) != CURLM_OK) {
                judge(t, CURLE_FAILED_INIT);
                http_list_push(&out, t);
            } else {
                link_transfer(l, t);
            }
        }
        http_list_init(&in);
        if (cancel || stop) {
            while ((t = l->list)) {
                unlink_transfer(t);
                curl_multi_remove_handle(l->multi, t->easy);
                http_list_push(&gone, t);
            }
            http_list_splice(&gone, &out);
        } else {
            drive(l);
            collect(l, &out);
        }
        if (out.head || gone.head || cancel) {
            pthread_mutex_lock(&c->lock);
            http_list_splice(&c->done, &out);
            http_list_splice(&c->cancelled, &gone);
            if (cancel)
                l->cancel_done = 1;
            if (c->waiting)
                pthread_cond_broadcast(&c->cond);
            pthread_mutex_unlock(&c->lock);
        }
        if (stop)
            break;
    }
    return NULL;
}

int http_lane_open(struct http_client *c, struct http_lane *l, long max_conns)
{
    struct epoll_event ev = { .events = EPOLLIN };

    l->c = c;
    l->epfd = l->evfd = -1;
    l->timer_mono = -1;
    http_list_init(&l->submitted);
    if (!(l->multi = curl_multi_init()) ||
        (l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (l->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return -1;
    ev.data.fd = l->evfd;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) != 0)
        return -1;
    /* The in-flight limit is the delivery loop's; these keep connections
     * few and reused (no HTTP/2 multiplexing surprises with webhooks). */
    curl_multi_setopt(l->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_conns);
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, max_conns);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
    if (pthread_create(&l->thread, NULL, lane_main, l) != 0)
        return -1;
    l->started = 1;
    return 0;
}

void http_lane_close(struct http_lane *l)
{
    if (l->started)
        pthread_join(l->thread, NULL); /* it handed back what was in flight */
    l->started = 0;
    if (l->multi)
        curl_multi_cleanup(l->multi);
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->evfd >= 0)
        close(l->evfd);
    l->multi = NULL;
    l->epfd = l->evfd = -1;
}
