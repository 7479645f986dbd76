/*
 * mini_http.h — the smallest HTTP/1.1 server the bench's sink emulator
 * needs: one thread, epoll (edge-triggered), keep-alive, Content-Length
 * bodies, and answers held back for an emulated sink latency without a
 * thread or a syscall of their own.
 *
 * Why not libmicrohttpd, as ingest uses: the emulator stands in for a
 * remote sink, so its CPU is not part of what is measured, yet it shares the
 * bench's two cores with the sender under test. With microhttpd, holding an
 * answer means suspending and resuming the connection (epoll_ctl twice and a
 * cross-thread wake per request); at 10,000 requests/s that took a quarter
 * of the machine. Here a held request costs nothing until it is due.
 *
 * Bench tool only: it trusts its clients for anything but sizes (request
 * heads over 64 KiB and bodies over max_body are refused), knows no
 * chunked uploads (411), and never prints a header.
 */
#ifndef QALERT_BENCH_MINI_HTTP_H
#define QALERT_BENCH_MINI_HTTP_H

#include <signal.h>
#include <stddef.h>
#include <netinet/in.h>

struct mh_request {
    char method[16];
    char *path;            /* percent-decoded, without the query */
    char *query;           /* raw, without '?'; "" when none */
    char *authorization;   /* the header's value, or NULL */
    char *body;            /* NUL-terminated */
    size_t len;
    int too_large;         /* the body was over max_body (not kept) */
    double received;       /* wall clock (s) when the body was complete */
};

/* What the handler answers: status and a JSON text. text is copied unless
 * owned is set, in which case it is malloc'd and mini_http frees it. */
struct mh_answer {
    unsigned status;
    const char *text;
    size_t len;
    int owned;
};

/* Milliseconds to hold req before it is handled (0: at once). */
typedef long (*mh_delay_fn)(const struct mh_request *req, void *ctx);
typedef void (*mh_handle_fn)(const struct mh_request *req, struct mh_answer *a, void *ctx);

struct mh_config {
    struct sockaddr_in addr;
    size_t max_body;
    int max_connections;
    mh_delay_fn delay;
    mh_handle_fn handle;
    void *ctx;
};

/* Binds and listens; returns the listening socket, or -1 (errno set). The
 * bound port is written to *port. */
int mh_listen(const struct mh_config *conf, unsigned short *port);

/* Serves on fd until *stop is set (checked at least every 100 ms). Returns 0,
 * or -1 when the event loop cannot start. Closes fd. */
int mh_serve(int fd, const struct mh_config *conf, volatile sig_atomic_t *stop);

/* The value of name in req's query (not decoded) into buf, or NULL. */
const char *mh_query_arg(const struct mh_request *req, const char *name, char *buf,
                         size_t n);

#endif
