/*
 * test_http.c — the notifier's HTTP transport (notifier/http.c) against a
 * small in-process server: many requests in flight, each reported once with
 * its own opaque and answer; the body and headers of each request as sent
 * (header lists and methods reused across requests must not leak into the
 * next); Retry-After; a timeout; a refused connection; cancel_all handing
 * back every request still under way; freeing with requests in flight.
 *
 * The server (libmicrohttpd, its own threads) answers by path:
 *   /ok         202 {"requestId":"r"} after reading the body
 *   /limit      429 with Retry-After: 3
 *   /hang       never answers (suspended until the test ends)
 * and records the last request's method, body and X-Test header.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <microhttpd.h>
#include <pthread.h>

#include "notifier/http.h"

#define N_MANY 300

static struct {
    struct MHD_Daemon *d;
    unsigned short port;
    pthread_mutex_t lock;
    long requests;
    char method[16], body[512], xtest[64];
    struct MHD_Connection *hung[64];
    int nhung;
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct req_state {
    char body[512];
    size_t len;
    int hung;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *text,
                             const char *hname, const char *hvalue)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                             MHD_RESPMEM_MUST_COPY);
    enum MHD_Result res;
    if (hname)
        MHD_add_response_header(r, hname, hvalue);
    res = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return res;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls)
{
    struct req_state *st = *con_cls;
    const char *x;
    (void)cls;
    (void)version;

    if (!st) {
        if (!(st = calloc(1, sizeof(*st))))
            return MHD_NO;
        *con_cls = st;
        return MHD_YES;
    }
    if (*size) {
        size_t n = *size;
        if (st->len + n >= sizeof(st->body))
            n = sizeof(st->body) - 1 - st->len;
        memcpy(st->body + st->len, data, n);
        st->len += n;
        *size = 0;
        return MHD_YES;
    }
    if (st->hung)
        return MHD_YES; /* resumed at the end: the connection closes */
    x = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");
    pthread_mutex_lock(&srv.lock);
    srv.requests++;
    snprintf(srv.method, sizeof(srv.method), "%s", method);
    snprintf(srv.body, sizeof(srv.body), "%.*s", (int)st->len, st->body);
    snprintf(srv.xtest, sizeof(srv.xtest), "%s", x ? x : "");
    pthread_mutex_unlock(&srv.lock);
    if (strcmp(url, "/limit") == 0)
        return reply(c, 429, "{\"message\":\"slow down\"}", "Retry-After", "3");
    if (strcmp(url, "/hang") == 0) {
        pthread_mutex_lock(&srv.lock);
        if (srv.nhung < (int)(sizeof(srv.hung) / sizeof(srv.hung[0]))) {
            srv.hung[srv.nhung++] = c;
            st->hung = 1;
            MHD_suspend_connection(c);
        }
        pthread_mutex_unlock(&srv.lock);
        return MHD_YES;
    }
    return reply(c, 202, "{\"result\":\"ok\",\"requestId\":\"r\"}", NULL, NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static void release_hung(void)
{
    pthread_mutex_lock(&srv.lock);
    for (int i = 0; i < srv.nhung; i++)
        MHD_resume_connection(srv.hung[i]);
    srv.nhung = 0;
    pthread_mutex_unlock(&srv.lock);
}

static int setup(void **state)
{
    const union MHD_DaemonInfo *info;
    (void)state;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                                 MHD_ALLOW_SUSPEND_RESUME,
                             0, NULL, NULL, handler, NULL,
                             MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                             MHD_OPTION_CONNECTION_LIMIT, 1000u, MHD_OPTION_END);
    if (!srv.d || !(info = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT)))
        return -1;
    srv.port = info->port;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    release_hung();
    MHD_stop_daemon(srv.d);
    curl_global_cleanup();
    return 0;
}

/* What came back for one request. */
struct outcome {
    int reports;
    struct sink_result r;
};

static void on_done(void *ctx, void *opaque, const struct sink_result *r)
{
    struct outcome *o = opaque;
    (void)ctx;
    o->reports++;
    o->r = *r;
}

static void on_gone(void *ctx, void *opaque)
{
    int *gone = ctx;
    struct outcome *o = opaque;
    o->reports += 100; /* told apart from an answer */
    (*gone)++;
}

static void submit(struct http_client *c, const char *path, const char *method,
                   const char *xtest, const char *body, struct outcome *o)
{
    char url[128], hdr[96], err[256];
    struct sink_request req;

    memset(&req, 0, sizeof(req));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)srv.port, path);
    snprintf(hdr, sizeof(hdr), "X-Test: %s", xtest);
    req.method = method;
    req.what = "test";
    req.url = url;
    req.headers[0] = hdr;
    req.headers[1] = "Content-Type: application/json";
    req.nheaders = 2;
    req.body = (char *)body;
    req.body_len = strlen(body);
    assert_int_equal(http_submit(c, &req, SINK_API_OPSGENIE, o, err, sizeof(err)), QA_OK);
}

/* Polls until nothing is in flight or limit_ms passes. */
static void drain(struct http_client *c, int limit_ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (http_in_flight(c) > 0) {
        http_poll(c, 20, on_done, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > limit_ms)
            break;
    }
}

static void test_many_in_flight(void **state)
{
    char err[256];
    struct http_client *c = http_client_new(5000, 64, err, sizeof(err));
    static struct outcome o[N_MANY];
    long before;
    (void)state;

    assert_non_null(c);
    memset(o, 0, sizeof(o));
    pthread_mutex_lock(&srv.lock);
    before = srv.requests;
    pthread_mutex_unlock(&srv.lock);
    /* in waves of 64, as the delivery loop keeps its cap */
    for (int i = 0; i < N_MANY; i++) {
        while (http_in_flight(c) >= 64)
            http_poll(c, 20, on_done, NULL);
        submit(c, "/ok", "POST", "many", "{\"n\":1}", &o[i]);
    }
    drain(c, 10000);
    assert_int_equal(http_in_flight(c), 0);
    for (int i = 0; i < N_MANY; i++) {
        assert_int_equal(o[i].reports, 1);
        assert_int_equal(o[i].r.transport, SINK_TRANSPORT_OK);
        assert_int_equal(o[i].r.http_status, 202);
        assert_string_equal(o[i].r.request_id, "r");
    }
    pthread_mutex_lock(&srv.lock);
    assert_int_equal(srv.requests - before, N_MANY);
    pthread_mutex_unlock(&srv.lock);
    http_client_free(c);
}

/* A kept transfer must not carry its last request's header, method or body. */
static void test_reuse_sends_each_request_as_given(void **state)
{
    char err[256];
    struct http_client *c = http_client_new(5000, 1, err, sizeof(err));
    struct outcome o[3];
    (void)state;

    assert_non_null(c);
    memset(o, 0, sizeof(o));
    submit(c, "/ok", "PUT", "first", "{\"a\":\"longer body first\"}", &o[0]);
    drain(c, 5000);
    pthread_mutex_lock(&srv.lock);
    assert_string_equal(srv.method, "PUT");
    assert_string_equal(srv.xtest, "first");
    assert_string_equal(srv.body, "{\"a\":\"longer body first\"}");
    pthread_mutex_unlock(&srv.lock);

    submit(c, "/ok", "POST", "second", "{}", &o[1]);
    drain(c, 5000);
    pthread_mutex_lock(&srv.lock);
    assert_string_equal(srv.method, "POST");
    assert_string_equal(srv.xtest, "second");
    assert_string_equal(srv.body, "{}");
    pthread_mutex_unlock(&srv.lock);

    submit(c, "/ok", "POST", "second", "", &o[2]);
    drain(c, 5000);
    pthread_mutex_lock(&srv.lock);
    assert_string_equal(srv.body, "");
    pthread_mutex_unlock(&srv.lock);
    for (int i = 0; i < 3; i++)
        assert_int_equal(o[i].reports, 1);
    http_client_free(c);
}

static void test_retry_after(void **state)
{
    char err[256];
    struct http_client *c = http_client_new(5000, 4, err, sizeof(err));
    struct outcome o = { 0 };
    (void)state;

    assert_non_null(c);
    submit(c, "/limit", "POST", "limit", "{}", &o);
    drain(c, 5000);
    assert_int_equal(o.reports, 1);
    assert_int_equal(o.r.http_status, 429);
    assert_int_equal(o.r.retry_after_ms, 3000);
    http_client_free(c);
}

static void test_timeout(void **state)
{
    char err[256];
    struct http_client *c = http_client_new(300, 4, err, sizeof(err));
    struct outcome o = { 0 };
    (void)state;

    assert_non_null(c);
    submit(c, "/hang", "POST", "hang", "{}", &o);
    drain(c, 5000);
    assert_int_equal(o.reports, 1);
    assert_int_equal(o.r.transport, SINK_TRANSPORT_TIMEOUT);
    assert_int_equal(o.r.http_status, 0);
    http_client_free(c);
}

static void test_refused(void **state)
{
    char err[256], url[64];
    struct http_client *c = http_client_new(2000, 4, err, sizeof(err));
    struct outcome o = { 0 };
    struct sink_request req;
    (void)state;

    assert_non_null(c);
    memset(&req, 0, sizeof(req));
    snprintf(url, sizeof(url), "http://127.0.0.1:1/x"); /* nothing listens on port 1 */
    req.method = "POST";
    req.url = url;
    req.body = "{}";
    req.body_len = 2;
    assert_int_equal(http_submit(c, &req, SINK_API_OPSGENIE, &o, err, sizeof(err)), QA_OK);
    drain(c, 5000);
    assert_int_equal(o.reports, 1);
    assert_int_equal(o.r.transport, SINK_TRANSPORT_CONNECT);
    http_client_free(c);
}

static void test_cancel_all_then_reuse(void **state)
{
    char err[256];
    struct http_client *c = http_client_new(20000, 64, err, sizeof(err)); /* two lanes */
    struct outcome o[10], after = { 0 };
    int gone = 0;
    (void)state;

    assert_non_null(c);
    memset(o, 0, sizeof(o));
    for (int i = 0; i < 10; i++)
        submit(c, "/hang", "POST", "hang", "{}", &o[i]);
    http_poll(c, 200, on_done, NULL); /* let them reach the server */
    http_cancel_all(c, on_gone, &gone);
    assert_int_equal(gone, 10);
    assert_int_equal(http_in_flight(c), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(o[i].reports, 100);
    release_hung();
    /* the client still works after a cancel */
    submit(c, "/ok", "POST", "after", "{}", &after);
    drain(c, 5000);
    assert_int_equal(after.reports, 1);
    assert_int_equal(after.r.http_status, 202);
    http_client_free(c);
}

/* Freed with requests under way: nothing reported, nothing leaked (ASan). */
static void test_free_in_flight(void **state)
{
    char err[256];
    struct http_client *c = http_client_new(20000, 64, err, sizeof(err)); /* two lanes */
    struct outcome o[5];
    (void)state;

    assert_non_null(c);
    memset(o, 0, sizeof(o));
    for (int i = 0; i < 5; i++)
        submit(c, i % 2 ? "/hang" : "/ok", "POST", "free", "{}", &o[i]);
    http_client_free(c);
    release_hung();
    for (int i = 0; i < 5; i++)
        assert_int_equal(o[i].reports, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_in_flight),
        cmocka_unit_test(test_reuse_sends_each_request_as_given),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_cancel_all_then_reuse),
        cmocka_unit_test(test_free_in_flight),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
