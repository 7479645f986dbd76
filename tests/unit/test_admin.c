/*
 * test_admin.c — the admin HTTP surface over real sockets with libcurl:
 * /healthz, /readyz in both states, /metrics, 404 and 405 JSON, HEAD,
 * admin_try_respond inside another server, hostile bytes in error messages,
 * address parsing, and a clear error for a port already taken.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/admin.h"
#include "common/metrics.h"

struct reply {
    long status;
    char body[8192];
    size_t len;
    char allow[64];
    char ctype[128];
    char clen[32];
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct reply *r = ud;
    size_t n = size * nmemb;
    size_t room = sizeof(r->body) - 1 - r->len;

    memcpy(r->body + r->len, p, n < room ? n : room);
    r->len += n < room ? n : room;
    r->body[r->len] = '\0';
    return n;
}

/* Copies the value of header `name` (case-insensitive) into dst. */
static void grab_header(const char *line, size_t n, const char *name, char *dst, size_t dn)
{
    size_t k = strlen(name);

    if (n > k + 1 && strncasecmp(line, name, k) == 0 && line[k] == ':') {
        const char *v = line + k + 1;
        size_t vl = n - k - 1;
        while (vl && (*v == ' '))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        snprintf(dst, dn, "%.*s", (int)vl, v);
    }
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct reply *r = ud;
    size_t n = size * nmemb;

    grab_header(p, n, "Allow", r->allow, sizeof(r->allow));
    grab_header(p, n, "Content-Type", r->ctype, sizeof(r->ctype));
    grab_header(p, n, "Content-Length", r->clen, sizeof(r->clen));
    return n;
}

/* One request to 127.0.0.1:port; method is GET, HEAD or POST. */
static void request(unsigned short port, const char *method, const char *path, struct reply *r)
{
    CURL *c = curl_easy_init();
    char url[128];

    assert_non_null(c);
    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"x\":1}");
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
}

struct readiness {
    int ready;
};

static int ready_cb(void *opaque, char *why, size_t why_size)
{
    struct readiness *st = opaque;

    if (st->ready)
        return 1;
    snprintf(why, why_size, "kafka metadata \"unreachable\"");
    return 0;
}

static void test_paths(void **state)
{
    struct readiness st = { 0 };
    char err[256] = "";
    struct admin_server *srv = admin_start("127.0.0.1:0", ready_cb, &st, err, sizeof(err));
    struct metrics_family *c;
    struct reply r;
    unsigned short port;

    assert_non_null(srv);
    port = admin_port(srv);
    assert_true(port > 0);

    request(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    assert_string_equal(r.ctype, "application/json");

    request(port, "GET", "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body,
                        "{\"status\":\"not_ready\",\"reason\":\"kafka metadata \\\"unreachable\\\"\"}");
    st.ready = 1;
    request(port, "GET", "/readyz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ready\"}");

    metrics_reset();
    c = metrics_register(METRICS_COUNTER, "t_admin_requests_total", "Requests.", NULL, 0);
    metrics_inc(c, "code=\"202\"", 7);
    request(port, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r.body, "# TYPE t_admin_requests_total counter\n"));
    assert_non_null(strstr(r.body, "\nt_admin_requests_total{code=\"202\"} 7\n"));

    request(port, "GET", "/nope", &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.ctype, "application/json");
    assert_non_null(strstr(r.body, "{\"error\":\"not_found\",\"message\":\""));
    request(port, "GET", "/healthz/", &r); /* exact paths only */
    assert_int_equal(r.status, 404);
    request(port, "POST", "/nope", &r);
    assert_int_equal(r.status, 404);

    request(port, "POST", "/healthz", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    assert_non_null(strstr(r.body, "{\"error\":\"method_not_allowed\",\"message\":\""));
    request(port, "DELETE", "/metrics", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");

    request(port, "HEAD", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_string_equal(r.clen, "15"); /* strlen({"status":"ok"}) */
    st.ready = 0;
    request(port, "HEAD", "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_int_equal(r.len, 0);

    admin_stop(srv);
    metrics_reset();
}

/* Another server's handler, as ingest's: admin paths first, then its own. */
static enum MHD_Result other_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **con_cls)
{
    enum MHD_Result r = MHD_NO;

    if (admin_try_respond(conn, method, url, NULL, NULL, &r))
        return r;
    if (strcmp(url, "/hostile") == 0)
        return admin_respond_error(conn, 400, "invalid_json",
                                   "near \"\x01\xff\xc3\xa9\xed\xa0\x80\\ end");
    return admin_respond(conn, 418, "text/plain", "teapot", 6);
}

static void test_try_respond_in_other_server(void **state)
{
    struct sockaddr_in sa;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    struct reply r;

    assert_int_equal(admin_parse_addr("127.0.0.1:0", &sa, NULL, 0), QA_OK);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, other_handler, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    assert_non_null(d);
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);

    request(info->port, "GET", "/readyz", &r); /* no callback: ready */
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ready\"}");
    request(info->port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    request(info->port, "POST", "/metrics", &r);
    assert_int_equal(r.status, 405);
    request(info->port, "GET", "/v1/events/genesys", &r);
    assert_int_equal(r.status, 418);
    assert_string_equal(r.body, "teapot");

    /* Control bytes escaped, invalid UTF-8 (a lone 0xff, an encoded
     * surrogate) replaced, valid UTF-8 (é) kept. */
    request(info->port, "GET", "/hostile", &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":\"invalid_json\",\"message\":"
                                "\"near \\\"\\u0001\\ufffd\xc3\xa9\\ufffd\\ufffd\\ufffd\\\\ end\"}");
    MHD_stop_daemon(d);
}

static void test_parse_addr(void **state)
{
    struct sockaddr_in sa;
    char err[256];
    const char *bad[] = { "",           "9400",          "host:",        ":65536",
                          ":-1",        ":+80",          ":80x",         ":123456",
                          "example.com:80", "1.2.3:80",  "256.1.1.1:80", "[::1]:80",
                          " 127.0.0.1:80", "127.0.0.1: 80", NULL };

    assert_int_equal(admin_parse_addr("0.0.0.0:9400", &sa, err, sizeof(err)), QA_OK);
    assert_int_equal(sa.sin_family, AF_INET);
    assert_int_equal(ntohs(sa.sin_port), 9400);
    assert_int_equal(sa.sin_addr.s_addr, htonl(INADDR_ANY));

    assert_int_equal(admin_parse_addr(":9401", &sa, err, sizeof(err)), QA_OK);
    assert_int_equal(ntohs(sa.sin_port), 9401);
    assert_int_equal(sa.sin_addr.s_addr, htonl(INADDR_ANY));

    assert_int_equal(admin_parse_addr("localhost:65535", &sa, err, sizeof(err)), QA_OK);
    assert_int_equal(ntohs(sa.sin_port), 65535);
    assert_int_equal(sa.sin_addr.s_addr, htonl(INADDR_LOOPBACK));

    assert_int_equal(admin_parse_addr("10.1.2.3:0", &sa, err, sizeof(err)), QA_OK);
    assert_int_equal(ntohs(sa.sin_port), 0);
    assert_int_equal(sa.sin_addr.s_addr, htonl(0x0A010203));

    for (int i = 0; bad[i]; i++) {
        err[0] = '\0';
        if (admin_parse_addr(bad[i], &sa, err, sizeof(err)) != QA_ERR_INVALID)
            fail_msg("accepted bad address \"%s\"", bad[i]);
        assert_true(strlen(err) > 0);
    }
    assert_int_equal(admin_parse_addr(NULL, &sa, err, sizeof(err)), QA_ERR_INVALID);
    assert_int_equal(admin_parse_addr("example.com:80", &sa, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "IPv4"));
    assert_int_equal(admin_parse_addr(":65536", &sa, err, sizeof(err)), QA_ERR_INVALID);
    assert_non_null(strstr(err, "port"));
}

static void test_start_failures(void **state)
{
    char err[256] = "", addr[32];
    struct admin_server *a = admin_start("127.0.0.1:0", NULL, NULL, err, sizeof(err));
    struct admin_server *b;

    assert_non_null(a);
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", admin_port(a));
    b = admin_start(addr, NULL, NULL, err, sizeof(err));
    assert_null(b);
    if (!strstr(err, "in use") || !strstr(err, addr))
        fail_msg("unclear error: %s", err);
    admin_stop(a);

    err[0] = '\0';
    assert_null(admin_start("nohost:1", NULL, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "IPv4"));
    assert_int_equal(admin_port(NULL), 0);
    admin_stop(NULL);
}

static int setup(void **state)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_try_respond_in_other_server),
        cmocka_unit_test(test_parse_addr),
        cmocka_unit_test(test_start_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
