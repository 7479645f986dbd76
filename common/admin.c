/*
 * admin.c — the small HTTP surface every daemon exposes to Kubernetes and
 * Prometheus: /healthz (liveness), /readyz (readiness, from a callback the
 * daemon owns) and /metrics (the registry of metrics.c).
 *
 * Processor and notifiers run a dedicated microhttpd daemon here; ingest
 * answers the same paths on its own listener through admin_try_respond(), so
 * both speak exactly the same bytes. Responses are queued on the first call
 * of the access handler (before any upload), which microhttpd allows: a body
 * sent to an admin path is discarded and the connection closed. This module
 * must never block a probe on Kafka or a sink: readiness is a cached answer
 * the daemon keeps up to date, and it never echoes request bytes back.
 */
#include "common/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/sbuf.h"
#include "common/utf8.h"

/* Probes and one scraper need a handful; the cap keeps a misbehaving client
 * from taking the process's descriptors. */
#define ADMIN_MAX_CONNECTIONS 64u
/* Kubelet probes time out in 1 s by default; an idle keep-alive connection
 * is dropped after this many seconds. */
#define ADMIN_CONNECTION_TIMEOUT_S 10u

#define JSON_TYPE "application/json"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct admin_server {
    struct MHD_Daemon *daemon;
    admin_ready_fn ready;
    void *opaque;
    unsigned short port;
};

/* The last message microhttpd logged on this thread: MHD_start_daemon logs
 * why it failed (bind, listen) and returns only NULL. */
static _Thread_local char mhd_last_error[256];

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt,
                                                            va_list ap)
{
    char msg[256];
    size_t n;

    (void)cls;
    if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        return;
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    memcpy(mhd_last_error, msg, n + 1);
    log_warn("microhttpd", LOG_S("detail", msg));
}

/* Appends s as a quoted JSON string. Messages may carry bytes a client
 * sent, so control characters are escaped and invalid UTF-8 becomes U+FFFD.
 * When the buffer runs short the text is cut at a character boundary and the
 * string still closed; reserve is kept free for what the caller appends. */
static void put_json_string(char *buf, size_t size, size_t *len, const char *s,
                            size_t reserve)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    const unsigned char *end = p + strlen((const char *)p);
    size_t limit = size > reserve + 1 ? size - reserve - 1 : 0; /* 1 for the quote */

    if (!sbuf_fixed_add(buf, size, len, "\"", 1))
        return;
    while (*p) {
        char esc[8];
        const char *tok = esc;
        size_t n = 0, adv = 1;

        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            n = 2;
        } else if (*p < 0x20 || *p == 0x7F) {
            n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
        } else if (*p < 0x80) {
            tok = (const char *)p;
            n = 1;
        } else if ((adv = utf8_seq_len(p, (size_t)(end - p))) > 0) {
            tok = (const char *)p;
            n = adv;
        } else {
            tok = "\\ufffd";
            n = 6;
            adv = 1;
        }
        if (!sbuf_fixed_add(buf, limit, len, tok, n))
            break;
        p += adv;
    }
    sbuf_fixed_add(buf, size, len, "\"", 1);
}

static enum MHD_Result respond_with(struct MHD_Connection *conn, unsigned status,
                                    const char *content_type, const char *body,
                                    size_t len, const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result ret = MHD_NO;

    resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES)
        goto out;
    /* A probe's answer is now, never from a cache in between. */
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES)
        goto out;
    if (allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)
        goto out;
    ret = MHD_queue_response(conn, status, resp);
out:
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result admin_respond(struct MHD_Connection *conn, unsigned status,
                              const char *content_type, const char *body, size_t len)
{
    return respond_with(conn, status, content_type, body ? body : "", body ? len : 0, NULL);
}

static enum MHD_Result respond_error_allow(struct MHD_Connection *conn, unsigned status,
                                           const char *code, const char *message,
                                           const char *allow)
{
    char body[1024];
    size_t len = 0;

    sbuf_fixed_add(body, sizeof(body), &len, "{\"error\":", 9);
    put_json_string(body, sizeof(body), &len, code, 16);
    sbuf_fixed_add(body, sizeof(body), &len, ",\"message\":", 11);
    put_json_string(body, sizeof(body), &len, message, 2);
    sbuf_fixed_add(body, sizeof(body), &len, "}", 1);
    return respond_with(conn, status, JSON_TYPE, body, len, allow);
}

enum MHD_Result admin_respond_error(struct MHD_Connection *conn, unsigned status,
                                    const char *code, const char *message)
{
    return respond_error_allow(conn, status, code, message, NULL);
}

static enum MHD_Result respond_ready(struct MHD_Connection *conn, admin_ready_fn ready,
                                     void *opaque)
{
    char why[256] = "";
    char body[512];
    size_t len = 0;
    static const char ok[] = "{\"status\":\"ready\"}";

    if (!ready || ready(opaque, why, sizeof(why)))
        return respond_with(conn, MHD_HTTP_OK, JSON_TYPE, ok, sizeof(ok) - 1, NULL);
    why[sizeof(why) - 1] = '\0'; /* the callback is the daemon's; trust it less */
    sbuf_fixed_add(body, sizeof(body), &len, "{\"status\":\"not_ready\",\"reason\":", 31);
    put_json_string(body, sizeof(body), &len, why[0] ? why : "not ready", 2);
    sbuf_fixed_add(body, sizeof(body), &len, "}", 1);
    return respond_with(conn, MHD_HTTP_SERVICE_UNAVAILABLE, JSON_TYPE, body, len, NULL);
}

static enum MHD_Result respond_metrics(struct MHD_Connection *conn)
{
    char *text = NULL;
    size_t len = 0;
    enum MHD_Result ret;

    if (metrics_render(&text, &len) != QA_OK)
        return admin_respond_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                   "out of memory while rendering metrics");
    ret = respond_with(conn, MHD_HTTP_OK, METRICS_TYPE, text, len, NULL);
    free(text);
    return ret;
}

int admin_try_respond(struct MHD_Connection *conn, const char *method, const char *url,
                      admin_ready_fn ready, void *opaque, enum MHD_Result *result)
{
    static const char healthy[] = "{\"status\":\"ok\"}";
    enum MHD_Result r;

    if (!url || (strcmp(url, "/healthz") != 0 && strcmp(url, "/readyz") != 0 &&
                 strcmp(url, "/metrics") != 0))
        return 0;
    if (!method || (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
                    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0))
        r = respond_error_allow(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                                "this path answers GET and HEAD only", "GET, HEAD");
    else if (strcmp(url, "/healthz") == 0)
        r = respond_with(conn, MHD_HTTP_OK, JSON_TYPE, healthy, sizeof(healthy) - 1, NULL);
    else if (strcmp(url, "/readyz") == 0)
        r = respond_ready(conn, ready, opaque);
    else
        r = respond_metrics(conn);
    if (result)
        *result = r;
    return 1;
}

static enum MHD_Result admin_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **con_cls)
{
    struct admin_server *srv = cls;
    enum MHD_Result r;

    (void)version;
    (void)con_cls;
    /* Every answer is queued on the first call; a later call with upload
     * data cannot happen, but if it did, queueing would be refused. */
    if (upload_data && *upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (admin_try_respond(conn, method, url, srv->ready, srv->opaque, &r))
        return r;
    return admin_respond_error(conn, MHD_HTTP_NOT_FOUND, "not_found",
                               "no such path; this server answers /healthz, /readyz and /metrics");
}

enum qa_err admin_parse_addr(const char *addr, struct sockaddr_in *out, char *errstr,
                             size_t errstr_size)
{
    const char *colon, *p;
    char host[64];
    size_t hostlen;
    unsigned long port = 0;

    if (!addr || !*addr)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "admin address is empty; expected host:port or :port");
    colon = strrchr(addr, ':');
    if (!colon)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "admin address \"%.64s\" has no port; expected host:port or :port",
                       addr);
    hostlen = (size_t)(colon - addr);
    if (hostlen >= sizeof(host))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "admin address \"%.64s...\" has a host that is too long", addr);
    memcpy(host, addr, hostlen);
    host[hostlen] = '\0';

    p = colon + 1;
    if (!*p || strlen(p) > 5)
        goto bad_port;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            goto bad_port;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port > 65535)
        goto bad_port;

    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((unsigned short)port);
    if (hostlen == 0)
        out->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        out->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "admin address \"%.64s\": host must be an IPv4 address or localhost",
                       addr);
    return QA_OK;

bad_port:
    return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                   "admin address \"%.64s\": port must be a number from 0 to 65535", addr);
}

/* Why a bind to sa fails, found by trying it: microhttpd may have been built
 * without messages, and then says nothing. Empty when the bind succeeds. */
static void probe_bind(const struct sockaddr_in *sa, char *why, size_t n)
{
    int one = 1, fd;

    why[0] = '\0';
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, n, "socket: errno %d", errno);
        return;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0) {
        int e = errno;
        char msg[128];
        if (strerror_r(e, msg, sizeof(msg)) != 0)
            snprintf(msg, sizeof(msg), "errno %d", e);
        snprintf(why, n, "%s", msg);
    }
    close(fd);
}

struct admin_server *admin_start(const char *addr, admin_ready_fn ready, void *opaque,
                                 char *errstr, size_t errstr_size)
{
    struct admin_server *srv = NULL;
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;
    char why[256];

    if (admin_parse_addr(addr, &sa, errstr, errstr_size) != QA_OK)
        return NULL;
    srv = calloc(1, sizeof(*srv));
    if (!srv) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        return NULL;
    }
    srv->ready = ready;
    srv->opaque = opaque;

    mhd_last_error[0] = '\0';
    /* The logger goes first: microhttpd uses it only for options after it. */
    srv->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, ntohs(sa.sin_port), NULL, NULL,
        admin_handler, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, ADMIN_MAX_CONNECTIONS,
        MHD_OPTION_CONNECTION_TIMEOUT, ADMIN_CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    if (!srv->daemon) {
        probe_bind(&sa, why, sizeof(why));
        if (!why[0])
            snprintf(why, sizeof(why), "%s",
                     mhd_last_error[0] ? mhd_last_error : "microhttpd could not start");
        qa_errf(errstr, errstr_size, QA_ERR_IO, "cannot listen on %.64s: %s", addr, why);
        free(srv);
        return NULL;
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info && info->port ? info->port : ntohs(sa.sin_port);
    log_info("admin server listening", LOG_S("addr", addr), LOG_I("port", srv->port));
    return srv;
}

unsigned short admin_port(const struct admin_server *srv)
{
    return srv ? srv->port : 0;
}

void admin_stop(struct admin_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->daemon);
    free(srv);
}
