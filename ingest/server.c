/*
 * server.c — ingest's HTTP request state machine (see server.h).
 *
 * Order of checks (SPEC §4): method and path, declared size (refused before
 * a byte of body is read), content type, then the body is read with a hard
 * cap, then authentication on the raw bytes, then recognition, then Kafka.
 * Past the cap the body is no longer buffered; microhttpd only lets us queue
 * the 413 once it has handed over the upload, so the rest is read and
 * dropped, and a client that keeps sending far past the cap is disconnected.
 *
 * The connection is suspended while Kafka acknowledges and resumed from the
 * publisher thread. It must never answer 202 before every delivery report of
 * the request is in, and never echo a credential or a body in an answer.
 */
#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "common/admin.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "ingest/recognise.h"

/* Past cap + this, a sender that ignores our 413 is cut off. */
#define DISCARD_LIMIT (1024 * 1024)
#define MAX_CONNECTIONS 1000
/* Each connection's microhttpd pool: the request line and headers live in
 * it (the body is streamed to our own buffer). microhttpd zeroes the whole
 * pool before every keep-alive request; at its 32 KiB default that memset
 * was ~5 % of ingest's CPU (bench/NOTES.md). 8 KiB still holds ~4 KiB of
 * headers, far more than a webhook sends. */
#define CONNECTION_MEMORY (8 * 1024)

#define MAX_DAEMONS 64 /* QALERT_INGEST_THREADS' maximum */

/* One microhttpd daemon per HTTP thread, each with its own listening socket
 * on the same port (SO_REUSEPORT), so the kernel spreads connections over
 * the threads. microhttpd's own thread pool shares one socket, and one
 * worker won nearly every accept: a client's 64 connections all landed on
 * one thread while the other idled (bench/NOTES.md). */
struct server {
    struct MHD_Daemon *daemon[MAX_DAEMONS];
    int listen_fd[MAX_DAEMONS]; /* from MHD_quiesce_daemon; ours to close */
    unsigned ndaemons;
    struct auth_store *auth;
    struct publisher *pub;
    size_t max_body;
    unsigned short port;
    atomic_int under_way;
    /* `{"accepted":1}`, made once and queued on every connection that
     * sends one event (microhttpd counts its users): most requests. */
    struct MHD_Response *accepted_one;
};

static const char ACCEPTED_ONE[] = "{\"accepted\":1}";

enum phase { PH_READING, PH_PUBLISHING, PH_ANSWER };

struct request {
    struct server *srv;
    struct MHD_Connection *conn;
    enum recognise_endpoint endpoint;
    enum phase phase;
    uint8_t *body;
    size_t len, cap, seen;
    int too_large, answered;
    /* Set by the publisher thread before it resumes the connection. */
    int ok;
    size_t accepted;
    char why[256];
    int64_t publish_start;
};

static struct metrics_family *m_requests, *m_events, *m_publish, *m_auth_fail;

void server_register_metrics(void)
{
    m_requests = metrics_register(METRICS_COUNTER, "qalert_ingest_requests_total",
                                  "HTTP requests by endpoint and status code",
                                  NULL, 0);
    m_events = metrics_register(METRICS_COUNTER, "qalert_ingest_events_total",
                                "events acknowledged by Kafka", NULL, 0);
    m_publish = metrics_register(METRICS_HISTOGRAM, "qalert_ingest_publish_seconds",
                                 "time from submit to the last delivery report",
                                 NULL, 0);
    m_auth_fail = metrics_register(METRICS_COUNTER,
                                   "qalert_ingest_auth_failures_total",
                                   "requests refused for a missing or wrong credential",
                                   NULL, 0);
}

static void count(const char *endpoint, unsigned status)
{
    char labels[96], code[8];
    snprintf(code, sizeof(code), "%u", status);
    metrics_inc(m_requests,
                metrics_labels(labels, sizeof(labels), "endpoint", endpoint,
                               "code", code, (const char *)NULL),
                1);
}

/* Queues `{"error":..,"message":..}` (or any JSON body) with optional extra
 * header. cJSON escapes the message, whatever it holds. */
static enum MHD_Result answer_json(struct MHD_Connection *conn, unsigned status,
                                   const char *body, const char *hname,
                                   const char *hvalue)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result r;

    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (hname)
        MHD_add_response_header(resp, hname, hvalue);
    r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result answer_error(struct MHD_Connection *conn,
                                    const char *endpoint, unsigned status,
                                    const char *code, const char *message,
                                    const char *hname, const char *hvalue)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    enum MHD_Result r = MHD_NO;

    if (o && cJSON_AddStringToObject(o, "error", code) &&
        cJSON_AddStringToObject(o, "message", message))
        text = cJSON_PrintUnformatted(o);
    if (text)
        r = answer_json(conn, status, text, hname, hvalue);
    if (r == MHD_YES)
        count(endpoint, status);
    cJSON_free(text);
    cJSON_Delete(o);
    return r;
}

static int endpoint_of(const char *url, enum recognise_endpoint *ep)
{
    if (strcmp(url, "/v1/events/genesys") == 0)
        *ep = RECOGNISE_GENESYS;
    else if (strcmp(url, "/v1/events/eventbridge") == 0)
        *ep = RECOGNISE_EVENTBRIDGE;
    else
        return -1;
    return 0;
}

/* application/json, application/<x>+json, with parameters; or absent. */
static int json_content_type(const char *ct)
{
    char t[128];
    size_t n = 0;

    if (!ct)
        return 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    while (ct[n] && ct[n] != ';' && ct[n] != ' ' && ct[n] != '\t' &&
           n < sizeof(t) - 1) {
        t[n] = ct[n];
        n++;
    }
    t[n] = '\0';
    if (strcasecmp(t, "application/json") == 0)
        return 1;
    return n > 17 && strncasecmp(t, "application/", 12) == 0 &&
           strcasecmp(t + n - 5, "+json") == 0;
}

/* Content-Length above the cap (or unparseable as a size: MHD has already
 * refused malformed values, so anything odd here is just huge). */
static int declared_too_large(struct MHD_Connection *conn, size_t cap)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long v = 0;

    if (!cl)
        return 0;
    for (const char *p = cl; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        if (v > (unsigned long long)cap)
            return 1;
        v = v * 10 + (unsigned)(*p - '0');
    }
    return v > (unsigned long long)cap;
}

static int server_ready(void *opaque, char *why, size_t why_size)
{
    struct server *s = opaque;
    if (publisher_ready(s->pub))
        return 1;
    snprintf(why, why_size, "Kafka metadata not reachable");
    return 0;
}

static const char *header_of(void *opaque, const char *name)
{
    return MHD_lookup_connection_value(opaque, MHD_HEADER_KIND, name);
}

/* Publisher thread: record the outcome, then hand the connection back. The
 * request may be freed by microhttpd as soon as it is resumed. */
static void on_published(void *opaque, int ok, const char *why)
{
    struct request *r = opaque;
    struct MHD_Connection *conn = r->conn;

    r->ok = ok;
    snprintf(r->why, sizeof(r->why), "%s", why ? why : "");
    metrics_observe(m_publish, "",
                    (double)(clock_mono_ms() - r->publish_start) / 1000.0);
    r->phase = PH_ANSWER;
    MHD_resume_connection(conn);
}

static enum MHD_Result body_done(struct request *r)
{
    struct server *s = r->srv;
    const char *ep = recognise_endpoint_name(r->endpoint);
    struct recognise_batch batch = { 0 };
    enum recognise_code code;
    char why[256];
    enum qa_err err;

    if (r->too_large)
        return answer_error(r->conn, ep, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                            "body larger than the configured maximum", NULL, NULL);
    if (auth_store_verify(s->auth, header_of, r->conn, r->body, r->len, why,
                          sizeof(why)) != AUTH_OK) {
        metrics_inc(m_auth_fail, "", 1);
        log_warn("request refused", LOG_S("endpoint", ep), LOG_S("reason", why));
        return answer_error(r->conn, ep, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                            "missing or invalid credential", NULL, NULL);
    }
    err = recognise_body(r->body, r->len, r->endpoint, clock_wall_ms(), &batch,
                         &code, why, sizeof(why));
    if (err == QA_ERR_INVALID) {
        log_info("request refused", LOG_S("endpoint", ep),
                 LOG_S("error", recognise_code_name(code)), LOG_S("reason", why));
        return answer_error(r->conn, ep, MHD_HTTP_BAD_REQUEST,
                            recognise_code_name(code), why, NULL, NULL);
    }
    if (err)
        return answer_error(r->conn, ep, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "unavailable", "out of memory", "Retry-After", "1");

    /* Suspend before submitting: the answer may come back at once. */
    r->accepted = batch.nevents;
    r->phase = PH_PUBLISHING;
    r->publish_start = clock_mono_ms();
    MHD_suspend_connection(r->conn);
    err = publisher_submit(s->pub, batch.events, batch.nevents, on_published, r,
                           why, sizeof(why));
    recognise_batch_clear(&batch);
    if (err) {
        r->ok = 0;
        snprintf(r->why, sizeof(r->why), "%s", why);
        r->phase = PH_ANSWER;
        MHD_resume_connection(r->conn);
    }
    return MHD_YES;
}

static enum MHD_Result answer_published(struct request *r)
{
    const char *ep = recognise_endpoint_name(r->endpoint);
    char body[64];

    if (!r->ok) {
        log_warn("publish failed", LOG_S("endpoint", ep), LOG_S("reason", r->why),
                 LOG_I("events", r->accepted));
        return answer_error(r->conn, ep, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "unavailable", "Kafka did not take the events in time",
                            "Retry-After", "1");
    }
    metrics_inc(m_events, "", (double)r->accepted);
    count(ep, MHD_HTTP_ACCEPTED);
    if (r->accepted == 1) /* server_start made it, or failed */
        return MHD_queue_response(r->conn, MHD_HTTP_ACCEPTED, r->srv->accepted_one);
    snprintf(body, sizeof(body), "{\"accepted\":%zu}", r->accepted);
    return answer_json(r->conn, MHD_HTTP_ACCEPTED, body, NULL, NULL);
}

/* A new request: everything decided from the headers alone. */
static enum MHD_Result first_call(struct server *s, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  void **con_cls)
{
    enum recognise_endpoint endpoint;
    struct request *r;
    enum MHD_Result res;
    const char *ep;

    if (admin_try_respond(conn, method, url, server_ready, s, &res))
        return res;
    if (endpoint_of(url, &endpoint) != 0)
        return answer_error(conn, "other", MHD_HTTP_NOT_FOUND, "not_found",
                            "no such path", NULL, NULL);
    ep = recognise_endpoint_name(endpoint);
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return answer_error(conn, ep, MHD_HTTP_METHOD_NOT_ALLOWED,
                            "method_not_allowed", "use POST", "Allow", "POST");
    if (declared_too_large(conn, s->max_body))
        return answer_error(conn, ep, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                            "Content-Length over the configured maximum",
                            NULL, NULL);
    if (!json_content_type(MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
        return answer_error(conn, ep, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                            "unsupported_media_type",
                            "Content-Type must be application/json", NULL, NULL);
    if (!(r = calloc(1, sizeof(*r))))
        return MHD_NO;
    r->srv = s;
    r->conn = conn;
    r->endpoint = endpoint;
    r->phase = PH_READING;
    atomic_fetch_add(&s->under_way, 1);
    *con_cls = r;
    return MHD_YES;
}

static enum MHD_Result upload(struct request *r, const char *data, size_t *size)
{
    size_t n = *size, cap = r->srv->max_body;

    r->seen += n;
    if (!r->too_large && r->len + n > cap) {
        r->too_large = 1; /* drop what we hold; buffer nothing more */
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
    }
    if (r->too_large) {
        if (r->seen > cap + DISCARD_LIMIT)
            return MHD_NO; /* it will not stop: close the connection */
        *size = 0;
        return MHD_YES;
    }
    if (r->len + n > r->cap) {
        size_t ncap = r->cap ? r->cap : 4096;
        uint8_t *t;
        while (ncap < r->len + n)
            ncap *= 2;
        if (ncap > cap)
            ncap = cap;
        if (!(t = realloc(r->body, ncap)))
            return MHD_NO;
        r->body = t;
        r->cap = ncap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    *size = 0;
    return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct server *s = cls;
    struct request *r = *con_cls;

    if (!r)
        return first_call(s, conn, url, method, con_cls);
    switch (r->phase) {
    case PH_READING:
        if (*upload_data_size)
            return upload(r, upload_data, upload_data_size);
        return body_done(r);
    case PH_PUBLISHING:
        return MHD_YES; /* resumed spuriously: still waiting */
    case PH_ANSWER:
        if (r->answered)
            return MHD_YES;
        r->answered = 1;
        return answer_published(r);
    }
    return MHD_NO;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct request *r = *con_cls;

    if (!r)
        return;
    free(r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->under_way, 1);
}

__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_debug("microhttpd", LOG_S("detail", msg));
}

/* 1 when something listens on sa's port already. SO_REUSEPORT would let
 * our daemons share it silently with another process of this user (a
 * second ingest by mistake); a plain bind, which any holder refuses, is
 * tried first. errno tells why. */
static int port_taken(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, taken;

    if (fd < 0)
        return 1;
    /* like microhttpd: sockets in TIME_WAIT do not count */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    taken = bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0;
    {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return taken;
}

struct server *server_start(const struct server_opts *opts,
                            struct auth_store *auth, struct publisher *pub,
                            char *errstr, size_t errstr_size)
{
    struct server *s = calloc(1, sizeof(*s));
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;
    unsigned n;

    if (!s) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (admin_parse_addr(opts->addr, &sa, errstr, errstr_size))
        goto fail;
    server_register_metrics();
    s->auth = auth;
    s->pub = pub;
    s->max_body = opts->max_body;
    for (unsigned i = 0; i < MAX_DAEMONS; i++)
        s->listen_fd[i] = -1;
    atomic_init(&s->under_way, 0);
    s->accepted_one = MHD_create_response_from_buffer(
        sizeof(ACCEPTED_ONE) - 1, (void *)ACCEPTED_ONE, MHD_RESPMEM_PERSISTENT);
    if (!s->accepted_one ||
        MHD_add_response_header(s->accepted_one, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json") != MHD_YES) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto fail;
    }
    n = opts->threads ? opts->threads : 1;
    if (n > MAX_DAEMONS)
        n = MAX_DAEMONS;
    if (n > 1 && sa.sin_port && port_taken(&sa)) {
        qa_errf(errstr, errstr_size, QA_ERR_IO, "cannot listen on %s: %s", opts->addr,
                strerror(errno));
        goto fail;
    }
    for (s->ndaemons = 0; s->ndaemons < n; s->ndaemons++) {
        /* poll(), not epoll: with microhttpd 0.9.75's epoll loop, ~128 or
         * more busy keep-alive connections on one thread stalled for
         * seconds at a time under load (wrk, 128 connections: 1,000-11,000
         * req/s with the machine idle, against 33,000-67,000 with poll;
         * bench/NOTES.md). poll() also saves the two epoll_ctl calls each
         * suspend and resume made. Its cost grows with the connections a
         * thread holds, which MAX_CONNECTIONS bounds. */
        struct MHD_Daemon *d = MHD_start_daemon(
            MHD_USE_POLL | MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                MHD_USE_ERROR_LOG,
            0, NULL, NULL, handle, s,
            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)(n > 1),
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVER_CONNECTION_TIMEOUT_S,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)(MAX_CONNECTIONS / n + 1),
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
            MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
        if (!d) {
            qa_errf(errstr, errstr_size, QA_ERR_IO, "cannot listen on %s", opts->addr);
            goto fail;
        }
        s->daemon[s->ndaemons] = d;
        if (s->ndaemons == 0) { /* port 0: the others bind the one it got */
            info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
            s->port = info && info->port ? info->port : ntohs(sa.sin_port);
            sa.sin_port = htons(s->port);
        }
    }
    return s;
fail:
    server_free(s);
    return NULL;
}

unsigned short server_port(const struct server *s)
{
    return s->port;
}

void server_quiesce(struct server *s)
{
    for (unsigned i = 0; s && i < s->ndaemons; i++)
        if (s->listen_fd[i] < 0)
            s->listen_fd[i] = MHD_quiesce_daemon(s->daemon[i]);
}

int server_drain(struct server *s, int64_t deadline_mono)
{
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    int n;

    while ((n = atomic_load(&s->under_way)) > 0 && clock_mono_ms() < deadline_mono)
        nanosleep(&ts, NULL);
    return n;
}

void server_free(struct server *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->ndaemons; i++)
        MHD_stop_daemon(s->daemon[i]);
    for (unsigned i = 0; i < s->ndaemons; i++)
        if (s->listen_fd[i] >= 0)
            close(s->listen_fd[i]); /* only after the daemons' threads are gone */
    if (s->accepted_one)
        MHD_destroy_response(s->accepted_one);
    free(s);
}
