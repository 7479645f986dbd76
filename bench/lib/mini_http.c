/*
 * mini_http.c — see mini_http.h. One event loop: accept, read a request
 * head and its Content-Length body, ask how long to hold it, and answer when
 * due. Held requests wait in a list ordered by due time (equal delays make
 * every insert an append); the loop's epoll_wait timeout is the next due
 * time. Sockets are registered once, edge-triggered for reading and
 * writing, so a request costs recv, send and a share of one epoll_wait.
 */
#define _GNU_SOURCE
#include "mini_http.h"

#include "common/sbuf.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX (64 * 1024)

struct conn {
    int fd;
    char *in;
    size_t in_len, in_cap;
    struct sbuf out;        /* the answer being sent, from out_off */
    size_t out_off;
    int close_after;        /* close once the answer is out */
    int waiting;            /* req is held until due_us */
    int dead;               /* peer gone while held: freed when due */
    int64_t due_us;
    struct mh_request req;  /* owns its strings while held */
    struct conn *tnext;
};

struct loop {
    const struct mh_config *conf;
    int epfd, nconns;
    struct conn *timers, *timers_tail;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void req_clear(struct mh_request *r)
{
    free(r->path);
    free(r->query);
    free(r->authorization);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static void conn_free(struct loop *l, struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd); /* leaves the epoll set with it */
    req_clear(&c->req);
    free(c->in);
    sbuf_free(&c->out);
    free(c);
    l->nconns--;
}

/* Closes the socket at once; a held connection's memory waits for its
 * timer (it is still in the list). */
static void conn_drop(struct loop *l, struct conn *c)
{
    if (!c->waiting) {
        conn_free(l, c);
        return;
    }
    close(c->fd);
    c->fd = -1;
    c->dead = 1;
}

static int reserve(char **p, size_t *cap, size_t need)
{
    size_t n = *cap ? *cap : 4096;
    char *t;
    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    if (!(t = realloc(*p, n)))
        return -1;
    *p = t;
    *cap = n;
    return 0;
}

static const char *reason(unsigned s)
{
    switch (s) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    default: return "Status";
    }
}

/* Sends what is queued; 0 when all is out, 1 when the socket is full (the
 * EPOLLOUT edge resumes it), -1 when the connection is gone. */
static int flush(struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : -1;
    }
    sbuf_reset(&c->out);
    c->out_off = 0;
    return 0;
}

static int queue_answer(struct conn *c, unsigned status, const char *text, size_t len)
{
    sbuf_printf(&c->out,
                "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
                "Content-Length: %zu\r\n%s\r\n",
                status, reason(status), len, c->close_after ? "Connection: close\r\n" : "");
    sbuf_add(&c->out, text, len);
    return c->out.oom ? -1 : 0;
}

static void percent_decode(char *s)
{
    char *w = s;
    for (; *s; s++) {
        if (*s == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
            char hex[3] = { s[1], s[2], 0 };
            *w++ = (char)strtol(hex, NULL, 16);
            s += 2;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
}

enum parse { P_MORE, P_READY, P_ANSWERED };

/* Parses one request from c->in into c->req. P_ANSWERED: refused (an
 * error answer is queued and the connection closes after it). */
static enum parse parse(struct loop *l, struct conn *c)
{
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4), *head = NULL, *line, *save = NULL, *sp;
    size_t head_len, clen = 0;
    int chunked = 0, http10 = 0, keep_alive = 0, close_hdr = 0;
    struct mh_request *r = &c->req;
    enum parse res = P_ANSWERED;

    if (!end) {
        if (c->in_len <= HEAD_MAX)
            return P_MORE;
        c->close_after = 1;
        queue_answer(c, 431, "{\"message\":\"head too large\"}", 28);
        return P_ANSWERED;
    }
    head_len = (size_t)(end - c->in) + 4;
    req_clear(r);
    if (!(head = malloc(head_len)))
        goto bad;
    memcpy(head, c->in, head_len - 4); /* tokenised here, c->in stays whole */
    head[head_len - 4] = '\0';
    line = strtok_r(head, "\r\n", &save);
    if (!line || !(sp = strchr(line, ' ')) || (size_t)(sp - line) >= sizeof(r->method))
        goto bad;
    memcpy(r->method, line, (size_t)(sp - line));
    line = sp + 1;
    if (!(sp = strchr(line, ' ')))
        goto bad;
    *sp = '\0';
    http10 = strcmp(sp + 1, "HTTP/1.0") == 0;
    {
        char *q = strchr(line, '?');
        if (q)
            *q++ = '\0';
        if (!(r->path = strdup(line)) || !(r->query = strdup(q ? q : "")))
            goto bad;
        percent_decode(r->path);
    }
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        char *v = strchr(line, ':');
        if (!v)
            continue;
        *v++ = '\0';
        while (*v == ' ' || *v == '\t')
            v++;
        if (strcasecmp(line, "Content-Length") == 0) {
            clen = (size_t)strtoull(v, NULL, 10);
        } else if (strcasecmp(line, "Authorization") == 0 && !r->authorization) {
            r->authorization = strdup(v);
        } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
            chunked = strcasestr(v, "chunked") != NULL;
        } else if (strcasecmp(line, "Connection") == 0) {
            close_hdr = strcasestr(v, "close") != NULL;
            keep_alive = strcasestr(v, "keep-alive") != NULL;
        }
    }
    if (chunked) {
        c->close_after = 1;
        queue_answer(c, 411, "{\"message\":\"send a Content-Length\"}", 35);
        goto out;
    }
    if (clen > l->conf->max_body) {
        c->close_after = 1; /* the rest is not read */
        r->too_large = 1;
        r->received = wall_s();
        res = P_READY;
        goto out;
    }
    if (c->in_len < head_len + clen) {
        req_clear(r); /* parsed again once the body is in */
        res = reserve(&c->in, &c->in_cap, head_len + clen + 1) ? P_ANSWERED : P_MORE;
        if (res == P_ANSWERED)
            c->close_after = 1;
        goto out;
    }
    if (!(r->body = malloc(clen + 1)))
        goto bad;
    memcpy(r->body, c->in + head_len, clen);
    r->body[clen] = '\0';
    r->len = clen;
    r->received = wall_s();
    c->in_len -= head_len + clen;
    memmove(c->in, c->in + head_len + clen, c->in_len);
    if (close_hdr || (http10 && !keep_alive))
        c->close_after = 1;
    res = P_READY;
    goto out;
bad:
    c->close_after = 1;
    queue_answer(c, 400, "{\"message\":\"bad request\"}", 25);
out:
    free(head);
    return res;
}

static void timer_add(struct loop *l, struct conn *c)
{
    struct conn **link;
    c->tnext = NULL;
    if (!l->timers || l->timers_tail->due_us <= c->due_us) {
        if (l->timers)
            l->timers_tail->tnext = c;
        else
            l->timers = c;
        l->timers_tail = c;
        return;
    }
    for (link = &l->timers; *link && (*link)->due_us <= c->due_us; link = &(*link)->tnext)
        ;
    c->tnext = *link;
    *link = c;
}

/* Answers the request in c->req; -1 when the connection is gone. */
static int respond(struct loop *l, struct conn *c)
{
    struct mh_answer a = { 0 };
    int rc;

    if (c->req.too_large) {
        a.status = 413;
        a.text = "{\"message\":\"body too large\"}";
        a.len = strlen(a.text);
    } else {
        l->conf->handle(&c->req, &a, l->conf->ctx);
    }
    rc = queue_answer(c, a.status, a.text ? a.text : "", a.text ? a.len : 0);
    if (a.owned)
        free((char *)a.text);
    req_clear(&c->req);
    return rc;
}

/* Reads and answers what c has, until it waits (held, socket full, more
 * bytes needed) or is gone. */
static void serve(struct loop *l, struct conn *c, int readable)
{
    for (;;) {
        int f;
        if (c->waiting)
            return;
        if ((f = flush(c)) != 0) {
            if (f < 0)
                conn_drop(l, c);
            return;
        }
        if (c->close_after) {
            conn_drop(l, c);
            return;
        }
        while (readable) {
            ssize_t n;
            if (reserve(&c->in, &c->in_cap, c->in_len + 4096 + 1)) {
                conn_drop(l, c);
                return;
            }
            n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1, 0);
            if (n > 0) {
                c->in_len += (size_t)n;
                if (c->in_len > HEAD_MAX + l->conf->max_body)
                    break;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                conn_drop(l, c);
                return;
            }
            readable = 0;
        }
        switch (parse(l, c)) {
        case P_MORE:
            return;
        case P_ANSWERED:
            continue;
        case P_READY: {
            long ms = c->req.too_large ? 0 : l->conf->delay(&c->req, l->conf->ctx);
            if (ms > 0) {
                c->waiting = 1;
                c->due_us = mono_us() + (int64_t)ms * 1000;
                timer_add(l, c);
                return;
            }
            if (respond(l, c)) {
                conn_drop(l, c);
                return;
            }
        }
        }
    }
}

static void fire_due(struct loop *l)
{
    int64_t now = mono_us();
    while (l->timers && l->timers->due_us <= now) {
        struct conn *c = l->timers;
        l->timers = c->tnext;
        c->waiting = 0;
        if (c->dead) {
            conn_free(l, c);
            continue;
        }
        if (respond(l, c))
            conn_drop(l, c);
        else
            serve(l, c, 1);
    }
}

static void accept_all(struct loop *l, int fd)
{
    for (;;) {
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
        struct conn *c;
        int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
        if (s < 0)
            return;
        if (l->nconns >= l->conf->max_connections || !(c = calloc(1, sizeof(*c)))) {
            close(s);
            continue;
        }
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = s;
        l->nconns++;
        ev.data.ptr = c;
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, s, &ev) != 0)
            conn_free(l, c);
    }
}

int mh_listen(const struct mh_config *conf, unsigned short *port)
{
    struct sockaddr_in sa = conf->addr;
    socklen_t sl = sizeof(sa);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4096) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

int mh_serve(int fd, const struct mh_config *conf, volatile sig_atomic_t *stop)
{
    struct loop l = { .conf = conf, .epfd = epoll_create1(EPOLL_CLOEXEC) };
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[256];

    if (l.epfd < 0 || epoll_ctl(l.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        return -1;
    }
    while (!*stop) {
        int wait = 100, n;
        if (l.timers) {
            int64_t left = l.timers->due_us - mono_us();
            wait = left <= 0 ? 0 : left >= 100000 ? 100 : (int)((left + 999) / 1000);
        }
        n = epoll_wait(l.epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), wait);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c)
                accept_all(&l, fd);
            else if (c->fd >= 0)
                serve(&l, c, (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
        }
        fire_due(&l);
    }
    close(fd);
    close(l.epfd);
    return 0;
}

const char *mh_query_arg(const struct mh_request *req, const char *name, char *buf,
                         size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = req->query; p && *p;) {
        const char *amp = strchr(p, '&'), *e = amp ? amp : p + strlen(p);
        if ((size_t)(e - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = (size_t)(e - p) - nl - 1;
            if (vl >= n)
                vl = n - 1;
            memcpy(buf, p + nl + 1, vl);
            buf[vl] = '\0';
            return buf;
        }
        p = amp ? amp + 1 : e;
    }
    return NULL;
}
