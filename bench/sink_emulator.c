/*
 * sink_emulator.c — a fast fake OpsGenie Alert API v2 for bench/notifier.sh.
 *
 * Why: the Python emulator (tests/emulators/opsgenie_emulator.py) saturates
 * near 1,100 requests/s, below what qalert-notifier and Alertmanager can
 * send, so a benchmark against it measured the emulator. This program keeps
 * the subset of its contract the benchmark uses and answers in C:
 *
 *   POST /v2/alerts                    202, de-duplicated by alias
 *   POST /v2/alerts/<id>/close         202, closes the alias (identifierType=alias)
 *   POST /v2/alerts/<id>/acknowledge   202, counted only
 *   GET  /_emulator/health             {"ok":true}
 *   GET  /_emulator/stats              requests, creates, dedups, closes, ...
 *   GET  /_emulator/requests           every non-control request, in order:
 *                                      time, method, path, status, json
 *                                      (alias and message only)
 *   PUT|POST /_emulator/faults         [{"delay_ms": N, "count": M}]: the next
 *                                      M requests answer after N ms
 *   POST /_emulator/reset              forget requests, state and faults
 *
 * As in the Python emulator, a request's time is taken when its body is
 * complete, before the emulated delay, and it is recorded (and counted in
 * "requests") once answered. It serves HTTP with bench/lib/mini_http.c: one
 * event-loop thread, answers held for the emulated latency in a timer list,
 * so thousands of delayed answers wait at once for almost no CPU and the
 * cores stay with the senders under test. (It used one thread per
 * connection, then libmicrohttpd with suspended connections; each took a
 * quarter to a third of the machine at 10,000 requests/s.) It never records
 * or prints the API key, and it is a bench tool: it binds where it is told,
 * 127.0.0.1 in bench/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/sbuf.h"
#include "common/utf8.h"
#include "lib/mini_http.h"

#define MAX_BODY (1024 * 1024)
#define DISCARD_LIMIT (1024 * 1024) /* past MAX_BODY + this, cut the sender off */
/* Alertmanager notifies each group from its own goroutine, and Go's client
 * keeps few idle connections: with 40,000 groups it opened over 4,096 at
 * once, and the emulator's refusals then slowed it. */
#define MAX_CONNECTIONS 16384
#define CONTROL "/_emulator/"

/* One answered request. path, alias and message live in text[], each
 * NUL-terminated; alias_off/message_off are 0 when absent (text[0] is the
 * path, never empty). */
struct record {
    double time;
    int status;
    int has_json;
    size_t alias_off, message_off;
    char method[16];
    char text[];
};

struct alias_slot {
    char *alias; /* owned; NULL = empty slot */
    int open;
    long count;
};

/* The emulator's state: one thread (mini_http's loop) reads and writes it. */
static struct {
    struct record **recs;
    size_t nrecs, caprecs;
    struct alias_slot *slots;
    size_t nslots, used;
    long creates, dedups, closes, unmatched_closes, acks, open, rejected;
    long fault_delay_ms, fault_remaining;
} st;

static const char *api_key;
static long base_delay_ms;
static uint64_t id_counter;
static uint64_t id_seed;
static volatile sig_atomic_t stopping;

/* ---- small helpers -------------------------------------------------- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* A uuid4-shaped request id into out (37 bytes). */
static void new_request_id(char out[37])
{
    uint64_t n = id_counter++;
    uint64_t a = splitmix64(id_seed ^ n), b = splitmix64(a ^ n);
    snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
             0x8000 | ((unsigned)(b >> 48) & 0x3fff),
             (unsigned long long)(b & 0xffffffffffffULL));
}

/* A JSON string literal; invalid UTF-8 bytes become U+FFFD. */
static void buf_json_string(struct sbuf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, start = 0, k;
    sbuf_add(b, "\"", 1);
    while (i < n) {
        if (p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\') {
            i++;
            continue;
        }
        if (p[i] >= 0x80 && (k = utf8_seq_len(p + i, n - i))) {
            i += k;
            continue;
        }
        sbuf_add(b, s + start, i - start);
        if (p[i] == '"' || p[i] == '\\') {
            char esc[2] = { '\\', (char)p[i] };
            sbuf_add(b, esc, 2);
        } else if (p[i] < 0x20) {
            sbuf_printf(b, "\\u%04x", p[i]);
        } else {
            sbuf_add(b, "\\ufffd", 6);
        }
        start = ++i;
    }
    sbuf_add(b, s + start, i - start);
    sbuf_add(b, "\"", 1);
}

/* ---- alias table (open addressing) ------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int alias_grow(void)
{
    size_t n = st.nslots ? st.nslots * 2 : 1024, i, j;
    struct alias_slot *t = calloc(n, sizeof(*t));
    if (!t)
        return -1;
    for (i = 0; i < st.nslots; i++) {
        if (!st.slots[i].alias)
            continue;
        for (j = hash_str(st.slots[i].alias) & (n - 1); t[j].alias; j = (j + 1) & (n - 1))
            ;
        t[j] = st.slots[i];
    }
    free(st.slots);
    st.slots = t;
    st.nslots = n;
    return 0;
}

/* The slot of alias; with create, a new closed one if absent. NULL when
 * absent (or out of memory). */
static struct alias_slot *alias_find(const char *alias, int create)
{
    size_t i;
    if (create && (st.used + 1) * 2 > st.nslots && alias_grow())
        return NULL;
    if (!st.nslots)
        return NULL;
    for (i = hash_str(alias) & (st.nslots - 1); st.slots[i].alias; i = (i + 1) & (st.nslots - 1))
        if (strcmp(st.slots[i].alias, alias) == 0)
            return &st.slots[i];
    if (!create || !(st.slots[i].alias = strdup(alias)))
        return NULL;
    st.used++;
    return &st.slots[i];
}

static void state_reset(void)
{
    size_t i;
    for (i = 0; i < st.nrecs; i++)
        free(st.recs[i]);
    for (i = 0; i < st.nslots; i++)
        free(st.slots[i].alias);
    free(st.recs);
    free(st.slots);
    st.recs = NULL;
    st.slots = NULL;
    st.nrecs = st.caprecs = st.nslots = st.used = 0;
    st.creates = st.dedups = st.closes = st.unmatched_closes = st.acks = 0;
    st.open = st.rejected = st.fault_delay_ms = st.fault_remaining = 0;
}

/* Appends one record. Out of memory drops it. */
static void record_add(double t, const char *method, const char *path, int status,
                       const cJSON *json)
{
    const char *alias = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "alias"));
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "message"));
    size_t lp = strlen(path) + 1, la = alias ? strlen(alias) + 1 : 0;
    size_t lm = msg ? strlen(msg) + 1 : 0;
    struct record *r;

    if (st.nrecs == st.caprecs) {
        size_t n = st.caprecs ? st.caprecs * 2 : 4096;
        struct record **grown = realloc(st.recs, n * sizeof(*grown));
        if (!grown)
            return;
        st.recs = grown;
        st.caprecs = n;
    }
    if (!(r = malloc(sizeof(*r) + lp + la + lm)))
        return;
    r->time = t;
    r->status = status;
    r->has_json = json != NULL;
    snprintf(r->method, sizeof(r->method), "%s", method);
    memcpy(r->text, path, lp);
    r->alias_off = alias ? lp : 0;
    if (alias)
        memcpy(r->text + lp, alias, la);
    r->message_off = msg ? lp + la : 0;
    if (msg)
        memcpy(r->text + lp + la, msg, lm);
    st.recs[st.nrecs++] = r;
}

/* ---- answers -------------------------------------------------------- */

/* Sets the answer (a copy of text: the caller's buffer may be on its stack). */
static void answer_n(struct mh_answer *a, unsigned status, char *text, size_t len, int owned)
{
    a->status = status;
    a->owned = 1;
    a->text = owned ? text : strndup(text, len);
    a->len = a->text ? len : 0;
    if (!a->text) {
        a->status = 500;
        a->owned = 0;
        a->text = "";
    }
}

static void answer(struct mh_answer *a, unsigned status, const char *text)
{
    answer_n(a, status, (char *)text, strlen(text), 0);
}

/* OpsGenie's answer shape: {"result"|"message": text, "took", "requestId"}. */
static void opsgenie_body(char *out, size_t n, int ok, const char *text)
{
    char rid[37];
    new_request_id(rid);
    snprintf(out, n, "{\"%s\":\"%s\",\"took\":%s,\"requestId\":\"%s\"}",
             ok ? "result" : "message", text, ok ? "0.001" : "0.0", rid);
}

/* ---- the OpsGenie API (after the delay) ------------------------------ */

/* Status and answer text for one /v2 request (json: its body parsed, NULL
 * when empty or not JSON); updates the alert state. */
static unsigned api_handle(const struct mh_request *r, const cJSON *json, char *out,
                           size_t n)
{
    static const char pre[] = "/v2/alerts/";
    const char *auth = r->authorization, *method = r->method, *url = r->path;
    const char *kind, *msg, *alias;
    char kbuf[16];
    size_t ul = strlen(url), plen = sizeof(pre) - 1;
    int is_create = strcmp(url, "/v2/alerts") == 0 || strcmp(url, "/v2/alerts/") == 0;
    int is_close = 0, is_ack = 0;
    struct alias_slot *slot;
    char id[1024];

    if (!auth || strncmp(auth, "GenieKey ", 9) != 0 || strcmp(auth + 9, api_key) != 0)
        return opsgenie_body(out, n, 0, "Could not authenticate"), 401;
    if (!is_create && strcmp(method, "POST") == 0 && ul > plen && strncmp(url, pre, plen) == 0) {
        is_close = ul > plen + 6 && strcmp(url + ul - 6, "/close") == 0;
        is_ack = ul > plen + 12 && strcmp(url + ul - 12, "/acknowledge") == 0;
    }
    if ((!is_create && !is_close && !is_ack) || strcmp(method, "POST") != 0)
        return opsgenie_body(out, n, 0, "No handler found for the request"), 404;
    if (is_create && !r->len)
        return opsgenie_body(out, n, 0, "Request body is empty"), 400;
    if (r->len && !cJSON_IsObject(json))
        return opsgenie_body(out, n, 0, "Could not parse request body"),
               422;
    if (is_ack) {
        st.acks++;
        return opsgenie_body(out, n, 1, "Request will be processed"), 202;
    }
    if (is_close) {
        size_t il = ul - plen - 6;
        kind = mh_query_arg(r, "identifierType", kbuf, sizeof(kbuf));
        if (kind && strcmp(kind, "alias") && strcmp(kind, "id") && strcmp(kind, "tiny"))
            return opsgenie_body(out, n, 0, "Invalid identifierType"), 400;
        slot = NULL;
        if (kind && strcmp(kind, "alias") == 0 && il < sizeof(id)) {
            memcpy(id, url + plen, il);
            id[il] = '\0';
            slot = alias_find(id, 0);
        }
        if (slot && slot->open) {
            slot->open = 0;
            st.open--;
            st.closes++;
        } else {
            st.unmatched_closes++; /* OpsGenie answers 202 anyway */
        }
        return opsgenie_body(out, n, 1, "Request will be processed"), 202;
    }
    msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "message"));
    if (!msg || !msg[strspn(msg, " \t\r\n")])
        return opsgenie_body(out, n, 0, "Request body is not processable. Please check the errors."),
               422;
    alias = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "alias"));
    slot = alias && *alias ? alias_find(alias, 1) : NULL;
    if (slot && slot->open) {
        slot->count++; /* OpsGenie's de-duplication: one open alert per alias */
        st.dedups++;
    } else {
        if (slot) {
            slot->open = 1;
            slot->count = 1;
        }
        st.creates++;
        st.open++;
    }
    return opsgenie_body(out, n, 1, "Request will be processed"), 202;
}

/* The emulated delay of the next API request (a fault first). */
static long next_delay(void)
{
    long delay;

    if (st.fault_remaining > 0) {
        delay = st.fault_delay_ms;
        st.fault_remaining--;
    } else {
        delay = base_delay_ms;
    }
    return delay;
}

static void api_request(const struct mh_request *r, struct mh_answer *a)
{
    char out[256], path[1100], kbuf[16];
    cJSON *json = NULL;
    const char *kind;
    unsigned status;

    kind = mh_query_arg(r, "identifierType", kbuf, sizeof(kbuf));
    if (snprintf(path, sizeof(path), "%s%s%s", r->path, kind ? "?identifierType=" : "",
                 kind ? kind : "") >= (int)sizeof(path))
        path[sizeof(path) - 1] = '\0';
    if (r->len)
        json = cJSON_ParseWithLength(r->body, r->len);
    status = api_handle(r, json, out, sizeof(out));
    if (status >= 300)
        st.rejected++;
    record_add(r->received, r->method, path, (int)status, cJSON_IsObject(json) ? json : NULL);
    cJSON_Delete(json);
    answer(a, status, out);
}

/* ---- control routes ------------------------------------------------- */

static void control_requests(struct mh_answer *a)
{
    struct sbuf b = { 0 };
    size_t i;
    sbuf_add(&b, "[", 1);
    for (i = 0; i < st.nrecs && !b.oom; i++) {
        const struct record *r = st.recs[i];
        sbuf_printf(&b, "%s{\"time\":%.6f,\"method\":", i ? ",\n" : "", r->time);
        buf_json_string(&b, r->method);
        sbuf_add(&b, ",\"path\":", 8);
        buf_json_string(&b, r->text);
        sbuf_printf(&b, ",\"status\":%d,\"json\":", r->status);
        if (!r->has_json) {
            sbuf_add(&b, "null}", 5);
            continue;
        }
        sbuf_add(&b, "{", 1);
        if (r->alias_off) {
            sbuf_add(&b, "\"alias\":", 8);
            buf_json_string(&b, r->text + r->alias_off);
        }
        if (r->message_off) {
            sbuf_add(&b, r->alias_off ? ",\"message\":" : "\"message\":", r->alias_off ? 11 : 10);
            buf_json_string(&b, r->text + r->message_off);
        }
        sbuf_add(&b, "}}", 2);
    }
    sbuf_add(&b, "]\n", 2);
    if (b.oom) {
        sbuf_free(&b);
        answer(a, 500, "{\"message\":\"out of memory\"}");
        return;
    }
    answer_n(a, 200, b.p, b.len, 1);
}

/* [{"delay_ms": N, "count": M}, ...] or one object: the first entry with a
 * delay_ms applies; statuses, drops and other keys are accepted and ignored. */
static void control_faults(const struct mh_request *r, struct mh_answer *a)
{
    cJSON *spec = cJSON_ParseWithLength(r->body ? r->body : "", r->len), *e;
    long delay = -1, count = 1;
    const char *method = r->method;
    char out[64];

    if (!cJSON_IsArray(spec) && !cJSON_IsObject(spec)) {
        answer(a, 400, "{\"error\":\"send a JSON list of faults\"}");
        goto out;
    }
    for (e = cJSON_IsArray(spec) ? spec->child : spec; e; e = cJSON_IsArray(spec) ? e->next : NULL) {
        cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "delay_ms");
        cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "count");
        if (cJSON_IsNumber(d) && d->valuedouble >= 0) {
            delay = (long)d->valuedouble;
            count = cJSON_IsNumber(c) && c->valuedouble >= 1 ? (long)c->valuedouble : 1;
            break;
        }
    }
    if (strcmp(method, "PUT") == 0 || delay >= 0) {
        st.fault_remaining = delay >= 0 ? count : 0;
        st.fault_delay_ms = delay >= 0 ? delay : 0;
    }
    snprintf(out, sizeof(out), "{\"ok\":true,\"pending\":%d}", st.fault_remaining > 0);
    answer(a, 200, out);
out:
    cJSON_Delete(spec);
}

static void control(const struct mh_request *r, struct mh_answer *a)
{
    const char *method = r->method, *route = r->path + sizeof(CONTROL) - 1;
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    char out[512];

    if (get && strcmp(route, "health") == 0)
        return answer(a, 200, "{\"ok\":true}");
    if (get && strcmp(route, "requests") == 0)
        return control_requests(a);
    if (get && strcmp(route, "stats") == 0) {
        snprintf(out, sizeof(out),
                 "{\"requests\":%zu,\"creates\":%ld,\"dedups\":%ld,\"closes\":%ld,"
                 "\"unmatched_closes\":%ld,\"acks\":%ld,\"alerts\":%ld,\"open\":%ld,"
                 "\"rejected\":%ld,\"delay_ms\":%ld}",
                 st.nrecs, st.creates, st.dedups, st.closes, st.unmatched_closes, st.acks,
                 st.creates, st.open, st.rejected,
                 st.fault_remaining > 0 ? st.fault_delay_ms : base_delay_ms);
        return answer(a, 200, out);
    }
    if ((post || strcmp(method, "PUT") == 0) && strcmp(route, "faults") == 0)
        return control_faults(r, a);
    if (post && strcmp(route, "reset") == 0) {
        state_reset();
        return answer(a, 200, "{\"ok\":true}");
    }
    answer(a, 404, "{\"error\":\"unknown control route\"}");
}

/* ---- mini_http callbacks -------------------------------------------- */

static int is_control(const struct mh_request *r)
{
    return strncmp(r->path, CONTROL, sizeof(CONTROL) - 1) == 0;
}

static long delay_of(const struct mh_request *r, void *ctx)
{
    (void)ctx;
    return is_control(r) ? 0 : next_delay();
}

static void handle(const struct mh_request *r, struct mh_answer *a, void *ctx)
{
    (void)ctx;
    if (is_control(r))
        control(r, a);
    else
        api_request(r, a);
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--host ADDR] [--port N] --api-key KEY [--delay-ms D]\n"
                    "A fast fake OpsGenie Alert API v2 for bench/notifier.sh; port 0 picks a\n"
                    "free one, printed as LISTENING <port> on the first stdout line.\n", argv0);
    return 2;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = 0;
    struct sockaddr_in sa = { .sin_family = AF_INET };
    struct mh_config conf = { .max_body = MAX_BODY, .max_connections = MAX_CONNECTIONS,
                              .delay = delay_of, .handle = handle };
    unsigned short bound = 0;
    int fd;
    struct sigaction act = { .sa_handler = on_signal };
    struct rlimit rl;
    int i;

    for (i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!v)
            return usage(argv[0]);
        if (strcmp(argv[i], "--host") == 0)
            host = v;
        else if (strcmp(argv[i], "--api-key") == 0)
            api_key = v;
        else if (strcmp(argv[i], "--port") == 0)
            port = strtol(v, &end, 10);
        else if (strcmp(argv[i], "--delay-ms") == 0)
            base_delay_ms = strtol(v, &end, 10);
        else
            return usage(argv[0]);
        if (end && (*end || port < 0 || port > 65535 || base_delay_ms < 0))
            return usage(argv[0]);
        i++;
    }
    if (!api_key || !*api_key || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return usage(argv[0]);
    sa.sin_port = htons((unsigned short)port);

    /* a connection is a descriptor: room for MAX_CONNECTIONS */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    id_seed = splitmix64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    signal(SIGPIPE, SIG_IGN);

    conf.addr = sa;
    if ((fd = mh_listen(&conf, &bound)) < 0) {
        fprintf(stderr, "sink_emulator: cannot listen on %s:%ld\n", host, port);
        return 1;
    }
    printf("LISTENING %u\n", (unsigned)bound);
    fflush(stdout);
    if (mh_serve(fd, &conf, &stopping) != 0) {
        fprintf(stderr, "sink_emulator: cannot start the event loop\n");
        return 1;
    }
    state_reset();
    return 0;
}
