/*
 * http_internal.h — what notifier/http.c (the caller's side) and
 * notifier/http_lane.c (the threads that run curl) share. Not for other
 * modules: the interface is notifier/http.h.
 *
 * A lane is one curl multi handle, its connection cache, its epoll set and
 * the thread that drives them. Requests go to the lane with the fewest in
 * flight; each lane hands finished transfers back to the client's one
 * `done` list. Everything the lanes and the caller share is under the
 * client's `lock`.
 */
#ifndef QALERT_NOTIFIER_HTTP_INTERNAL_H
#define QALERT_NOTIFIER_HTTP_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>

#include "notifier/http.h"

/* At most this many lanes (threads running curl): two when the in-flight
 * limit is HTTP_LANES_FROM or more, else one. */
#define HTTP_MAX_LANES 2
#define HTTP_LANES_FROM 64

struct http_lane;

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
    struct http_lane *lane;     /* where it was submitted */
    struct sink_result result;  /* set by the lane when done */
    struct transfer *next, **prev; /* lane thread: every transfer in flight */
    struct transfer *qnext;     /* submitted, done, cancelled or pool lists */
};

struct http_list {
    struct transfer *head, **tail;
};

struct http_lane {
    struct http_client *c;
    /* under c->lock */
    struct http_list submitted;
    int cancel_done;
    /* the caller's thread only */
    size_t in_flight;
    /* the lane's thread only (and setup/teardown) */
    CURLM *multi;
    int epfd, evfd;             /* evfd: the caller's wake-up, watched by epfd */
    int64_t timer_mono;         /* curl's next timeout (monotonic ms), -1: none */
    struct transfer *list;
    pthread_t thread;
    int started;
};

struct http_client {
    long timeout_ms;
    /* the caller's thread only */
    size_t in_flight;           /* submitted and not yet reported */
    struct transfer *pool;
    size_t npool, pool_cap;
    /* shared, under lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* done or cancelled grew, or a lane cancelled */
    struct http_list done, cancelled;
    int waiting;                /* the caller waits on cond */
    int cancel, stop;
    struct http_lane lanes[HTTP_MAX_LANES];
    int nlanes;
};

void http_list_init(struct http_list *l);
void http_list_push(struct http_list *l, struct transfer *t);
/* Moves every element of from to the end of to. */
void http_list_splice(struct http_list *to, struct http_list *from);

/* Sets up the lane (multi handle, epoll, eventfd) with at most max_conns
 * connections and starts its thread. -1 on failure (then
 * http_lane_close() releases what was made). */
int http_lane_open(struct http_client *c, struct http_lane *l, long max_conns);
/* Wakes the lane's thread (its submitted list grew, a cancel or stop). */
void http_lane_wake(struct http_lane *l);
/* Joins the thread (after c->stop is set and the lane woken) and frees
 * the lane's curl, epoll and eventfd; transfers are handed back first. */
void http_lane_close(struct http_lane *l);

#endif
