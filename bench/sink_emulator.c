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
 * "requests") once answered. Event-driven (microhttpd's epoll, two
 * threads): a delayed request's connection is suspended and a timer thread
 * resumes it when due, so thousands of delayed answers wait at once for
 * almost no CPU, leaving the cores to the senders under test. (It used one
 * thread per connection until 2026-11-23; at 256 connections those threads
 * took a third of the machine, as much as the sender.) It never records or
 * prints the API key,
 * and it is a bench tool: it binds where it is told, 127.0.0.1 in bench/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#define MAX_BODY (1024 * 1024)
#define DISCARD_LIMIT (1024 * 1024) /* past MAX_BODY + this, cut the sender off */
#define MAX_CONNECTIONS 4096
#define CONTROL "/_emulator/"

/* One answered request. path, alias and message live in text[], each
 * NUL-terminated; alias_off/message_off are 0 when absent (text[0] is the
 * path, never empty). */
struct record {
    double time;
    int status;
    int has_json;
    size_t alias_off, message_off;
    char method[8];
    char text[];
};

struct alias_slot {
    char *alias; /* owned; NULL = empty slot */
    int open;
    long count;
};

static struct {
    pthread_mutex_t lock;
    struct record **recs;
    size_t nrecs, caprecs;
    struct alias_slot *slots;
    size_t nslots, used;
    long creates, dedups, closes, unmatched_closes, acks, open, rejected;
    long fault_delay_ms, fault_remaining;
} st = { .lock = PTHREAD_MUTEX_INITIALIZER };

static const char *api_key;
static long base_delay_ms;
static atomic_uint_fast64_t id_counter;
static uint64_t id_seed;
static volatile sig_atomic_t stopping;

/* Per-request state, freed by completed(). */
struct request {
    char *body;
    size_t len, cap, seen;
    int too_large;
    double time;
    int phase;               /* 0 reading, 1 waiting (suspended), 2 due */
    int64_t due_ms;          /* monotonic */
    struct MHD_Connection *conn;
    struct request *next;    /* the timer's list */
};

/* Suspended requests by due time (delays are mostly equal, so an insert
 * from the tail is O(1)); the timer thread resumes each when due. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct request *head;
} timers = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL };

/* ---- small helpers -------------------------------------------------- */

static double now_epoch(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

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
    uint64_t n = atomic_fetch_add(&id_counter, 1);
    uint64_t a = splitmix64(id_seed ^ n), b = splitmix64(a ^ n);
    snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
             0x8000 | ((unsigned)(b >> 48) & 0x3fff),
             (unsigned long long)(b & 0xffffffffffffULL));
}

/* A growable text buffer; on allocation failure it sets failed and stops. */
struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        char *t;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        if (!(t = realloc(b->p, ncap))) {
            b->failed = 1;
            return;
        }
        b->p = t;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

__attribute__((format(printf, 2, 3)))
static void buf_printf(struct buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        b->failed = 1;
    else
        buf_add(b, tmp, (size_t)n);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len, i;
    if (s[0] < 0xc2 || s[0] > 0xf4)
        return 0;
    len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    if (len > n)
        return 0;
    for (i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

/* A JSON string literal; invalid UTF-8 bytes become U+FFFD. */
static void buf_json_string(struct buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, start = 0, k;
    buf_add(b, "\"", 1);
    while (i < n) {
        if (p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\') {
            i++;
            continue;
        }
        if (p[i] >= 0x80 && (k = utf8_len(p + i, n - i))) {
            i += k;
            continue;
        }
        buf_add(b, s + start, i - start);
        if (p[i] == '"' || p[i] == '\\') {
            char esc[2] = { '\\', (char)p[i] };
            buf_add(b, esc, 2);
        } else if (p[i] < 0x20) {
            buf_printf(b, "\\u%04x", p[i]);
        } else {
            buf_add(b, "\\ufffd", 6);
        }
        start = ++i;
    }
    buf_add(b, s + start, i - start);
    buf_add(b, "\"", 1);
}

/* ---- alias table (open addressing, caller holds st.lock) ------------ */

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

/* Appends one record; caller holds st.lock. Out of memory drops it. */
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

/* Queues len bytes of text as a JSON answer; with MHD_RESPMEM_MUST_FREE it
 * takes ownership of text (also on failure). */
static enum MHD_Result answer_n(struct MHD_Connection *conn, unsigned status, char *text,
                                size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, mode);
    enum MHD_Result r;
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return answer_n(conn, status, (char *)text, strlen(text), MHD_RESPMEM_MUST_COPY);
}

/* OpsGenie's answer shape: {"result"|"message": text, "took", "requestId"}. */
static void opsgenie_body(char *out, size_t n, int ok, const char *text)
{
    char rid[37];
    new_request_id(rid);
    snprintf(out, n, "{\"%s\":\"%s\",\"took\":%s,\"requestId\":\"%s\"}",
             ok ? "result" : "message", text, ok ? "0.001" : "0.0", rid);
}

/* ---- the OpsGenie API (after the delay; takes st.lock) -------------- */

/* Status and answer text for one /v2 request (json: its body parsed, NULL
 * when empty or not JSON); updates the alert state. Caller holds st.lock. */
static unsigned api_handle(struct MHD_Connection *conn, const char *method, const char *url,
                           const struct request *r, const cJSON *json, char *out, size_t n)
{
    static const char pre[] = "/v2/alerts/";
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    const char *kind, *msg, *alias;
    size_t ul = strlen(url), plen = sizeof(pre) - 1;
    int is_create = strcmp(url, "/v2/alerts") == 0 || strcmp(url, "/v2/alerts/") == 0;
    int is_close = 0, is_ack = 0;
    struct alias_slot *slot;
    char id[1024];

    if (!auth || strncmp(auth, "GenieKey ", 9) != 0 || strcmp(auth + 9, api_key) != 0)
        return opsgenie_body(out, n, 0, "Could not authenticate"), MHD_HTTP_UNAUTHORIZED;
    if (!is_create && strcmp(method, "POST") == 0 && ul > plen && strncmp(url, pre, plen) == 0) {
        is_close = ul > plen + 6 && strcmp(url + ul - 6, "/close") == 0;
        is_ack = ul > plen + 12 && strcmp(url + ul - 12, "/acknowledge") == 0;
    }
    if ((!is_create && !is_close && !is_ack) || strcmp(method, "POST") != 0)
        return opsgenie_body(out, n, 0, "No handler found for the request"), MHD_HTTP_NOT_FOUND;
    if (is_create && !r->len)
        return opsgenie_body(out, n, 0, "Request body is empty"), MHD_HTTP_BAD_REQUEST;
    if (r->len && !cJSON_IsObject(json))
        return opsgenie_body(out, n, 0, "Could not parse request body"),
               MHD_HTTP_UNPROCESSABLE_CONTENT;
    if (is_ack) {
        st.acks++;
        return opsgenie_body(out, n, 1, "Request will be processed"), MHD_HTTP_ACCEPTED;
    }
    if (is_close) {
        size_t il = ul - plen - 6;
        kind = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "identifierType");
        if (kind && strcmp(kind, "alias") && strcmp(kind, "id") && strcmp(kind, "tiny"))
            return opsgenie_body(out, n, 0, "Invalid identifierType"), MHD_HTTP_BAD_REQUEST;
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
        return opsgenie_body(out, n, 1, "Request will be processed"), MHD_HTTP_ACCEPTED;
    }
    msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "message"));
    if (!msg || !msg[strspn(msg, " \t\r\n")])
        return opsgenie_body(out, n, 0, "Request body is not processable. Please check the errors."),
               MHD_HTTP_UNPROCESSABLE_CONTENT;
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
    return opsgenie_body(out, n, 1, "Request will be processed"), MHD_HTTP_ACCEPTED;
}

/* The emulated delay of the next API request (a fault first). */
static long next_delay(void)
{
    long delay;

    pthread_mutex_lock(&st.lock);
    if (st.fault_remaining > 0) {
        delay = st.fault_delay_ms;
        st.fault_remaining--;
    } else {
        delay = base_delay_ms;
    }
    pthread_mutex_unlock(&st.lock);
    return delay;
}

/* Suspends r's connection until now + delay (the timer thread resumes it). */
static void wait_for(struct request *r, long delay)
{
    struct request **link;

    r->phase = 1;
    r->due_ms = mono_ms() + delay;
    MHD_suspend_connection(r->conn);
    pthread_mutex_lock(&timers.lock);
    for (link = &timers.head; *link && (*link)->due_ms <= r->due_ms; link = &(*link)->next)
        ;
    r->next = *link;
    *link = r;
    pthread_cond_signal(&timers.cond);
    pthread_mutex_unlock(&timers.lock);
}

static void *timer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&timers.lock);
    while (!stopping) {
        int64_t now = mono_ms();
        struct request *r = timers.head;
        if (!r) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&timers.cond, &timers.lock, &ts);
            continue;
        }
        if (r->due_ms > now) {
            long wait = (long)(r->due_ms - now);
            pthread_mutex_unlock(&timers.lock);
            sleep_ms(wait < 100 ? wait : 100); /* an earlier insert waits <= its delay */
            pthread_mutex_lock(&timers.lock);
            continue;
        }
        timers.head = r->next;
        r->phase = 2;
        MHD_resume_connection(r->conn);
    }
    pthread_mutex_unlock(&timers.lock);
    return NULL;
}

static enum MHD_Result api_request(struct MHD_Connection *conn, const char *method,
                                   const char *url, struct request *r)
{
    char out[256], path[1100];
    cJSON *json = NULL;
    const char *kind;
    unsigned status;

    if (r->phase == 0) {
        long delay = next_delay();
        if (delay > 0) {
            wait_for(r, delay);
            return MHD_YES;
        }
    } else if (r->phase == 1) {
        return MHD_YES; /* not due yet */
    }

    kind = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "identifierType");
    if (snprintf(path, sizeof(path), "%s%s%s", url, kind ? "?identifierType=" : "",
                 kind ? kind : "") >= (int)sizeof(path))
        path[sizeof(path) - 1] = '\0';
    if (r->len)
        json = cJSON_ParseWithLength(r->body, r->len);
    pthread_mutex_lock(&st.lock);
    status = api_handle(conn, method, url, r, json, out, sizeof(out));
    if (status >= 300)
        st.rejected++;
    record_add(r->time, method, path, (int)status, cJSON_IsObject(json) ? json : NULL);
    pthread_mutex_unlock(&st.lock);
    cJSON_Delete(json);
    return answer(conn, status, out);
}

/* ---- control routes ------------------------------------------------- */

static enum MHD_Result control_requests(struct MHD_Connection *conn)
{
    struct buf b = { 0 };
    size_t i;
    pthread_mutex_lock(&st.lock);
    buf_add(&b, "[", 1);
    for (i = 0; i < st.nrecs && !b.failed; i++) {
        const struct record *r = st.recs[i];
        buf_printf(&b, "%s{\"time\":%.6f,\"method\":", i ? ",\n" : "", r->time);
        buf_json_string(&b, r->method);
        buf_add(&b, ",\"path\":", 8);
        buf_json_string(&b, r->text);
        buf_printf(&b, ",\"status\":%d,\"json\":", r->status);
        if (!r->has_json) {
            buf_add(&b, "null}", 5);
            continue;
        }
        buf_add(&b, "{", 1);
        if (r->alias_off) {
            buf_add(&b, "\"alias\":", 8);
            buf_json_string(&b, r->text + r->alias_off);
        }
        if (r->message_off) {
            buf_add(&b, r->alias_off ? ",\"message\":" : "\"message\":", r->alias_off ? 11 : 10);
            buf_json_string(&b, r->text + r->message_off);
        }
        buf_add(&b, "}}", 2);
    }
    pthread_mutex_unlock(&st.lock);
    buf_add(&b, "]\n", 2);
    if (b.failed) {
        free(b.p);
        return answer(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"message\":\"out of memory\"}");
    }
    return answer_n(conn, MHD_HTTP_OK, b.p, b.len, MHD_RESPMEM_MUST_FREE);
}

/* [{"delay_ms": N, "count": M}, ...] or one object: the first entry with a
 * delay_ms applies; statuses, drops and other keys are accepted and ignored. */
static enum MHD_Result control_faults(struct MHD_Connection *conn, const char *method,
                                      const struct request *r)
{
    cJSON *spec = cJSON_ParseWithLength(r->body ? r->body : "", r->len), *e;
    long delay = -1, count = 1;
    char out[64];
    enum MHD_Result res;

    if (!cJSON_IsArray(spec) && !cJSON_IsObject(spec)) {
        res = answer(conn, MHD_HTTP_BAD_REQUEST, "{\"error\":\"send a JSON list of faults\"}");
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
    pthread_mutex_lock(&st.lock);
    if (strcmp(method, "PUT") == 0 || delay >= 0) {
        st.fault_remaining = delay >= 0 ? count : 0;
        st.fault_delay_ms = delay >= 0 ? delay : 0;
    }
    snprintf(out, sizeof(out), "{\"ok\":true,\"pending\":%d}", st.fault_remaining > 0);
    pthread_mutex_unlock(&st.lock);
    res = answer(conn, MHD_HTTP_OK, out);
out:
    cJSON_Delete(spec);
    return res;
}

static enum MHD_Result control(struct MHD_Connection *conn, const char *method,
                               const char *url, const struct request *r)
{
    const char *route = url + sizeof(CONTROL) - 1;
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    char out[512];

    if (get && strcmp(route, "health") == 0)
        return answer(conn, MHD_HTTP_OK, "{\"ok\":true}");
    if (get && strcmp(route, "requests") == 0)
        return control_requests(conn);
    if (get && strcmp(route, "stats") == 0) {
        pthread_mutex_lock(&st.lock);
        snprintf(out, sizeof(out),
                 "{\"requests\":%zu,\"creates\":%ld,\"dedups\":%ld,\"closes\":%ld,"
                 "\"unmatched_closes\":%ld,\"acks\":%ld,\"alerts\":%ld,\"open\":%ld,"
                 "\"rejected\":%ld,\"delay_ms\":%ld}",
                 st.nrecs, st.creates, st.dedups, st.closes, st.unmatched_closes, st.acks,
                 st.creates, st.open, st.rejected,
                 st.fault_remaining > 0 ? st.fault_delay_ms : base_delay_ms);
        pthread_mutex_unlock(&st.lock);
        return answer(conn, MHD_HTTP_OK, out);
    }
    if ((post || strcmp(method, "PUT") == 0) && strcmp(route, "faults") == 0)
        return control_faults(conn, method, r);
    if (post && strcmp(route, "reset") == 0) {
        pthread_mutex_lock(&st.lock);
        state_reset();
        pthread_mutex_unlock(&st.lock);
        return answer(conn, MHD_HTTP_OK, "{\"ok\":true}");
    }
    return answer(conn, MHD_HTTP_NOT_FOUND, "{\"error\":\"unknown control route\"}");
}

/* ---- microhttpd callbacks ------------------------------------------- */

static enum MHD_Result upload(struct request *r, const char *data, size_t *size)
{
    size_t n = *size;
    r->seen += n;
    *size = 0;
    if (r->too_large || r->len + n > MAX_BODY) {
        r->too_large = 1;
        return r->seen > MAX_BODY + DISCARD_LIMIT ? MHD_NO : MHD_YES;
    }
    if (r->len + n > r->cap) {
        size_t ncap = r->cap ? r->cap : 1024;
        char *t;
        while (ncap < r->len + n)
            ncap *= 2;
        if (!(t = realloc(r->body, ncap)))
            return MHD_NO;
        r->body = t;
        r->cap = ncap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version,
                              const char *upload_data, size_t *upload_data_size,
                              void **con_cls)
{
    struct request *r = *con_cls;
    (void)cls;
    (void)version;

    if (!r) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > MAX_BODY)
            return answer(conn, MHD_HTTP_CONTENT_TOO_LARGE, "{\"message\":\"body too large\"}");
        if (!(r = calloc(1, sizeof(*r))))
            return MHD_NO;
        r->conn = conn;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size)
        return upload(r, upload_data, upload_data_size);
    if (r->phase)
        return api_request(conn, method, url, r); /* resumed */
    if (r->too_large)
        return answer(conn, MHD_HTTP_CONTENT_TOO_LARGE, "{\"message\":\"body too large\"}");
    r->time = now_epoch();
    if (strncmp(url, CONTROL, sizeof(CONTROL) - 1) == 0)
        return control(conn, method, url, r);
    return api_request(conn, method, url, r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct request *r = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (!r)
        return;
    free(r->body);
    free(r);
    *con_cls = NULL;
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
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    struct sigaction act = { .sa_handler = on_signal };
    struct rlimit rl;
    pthread_t timer;
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

    if (pthread_create(&timer, NULL, timer_main, NULL) != 0) {
        fprintf(stderr, "sink_emulator: cannot start the timer thread\n");
        return 1;
    }
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                             MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
                         0, NULL, NULL, handle, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0u,
                         MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 120u,
                         MHD_OPTION_THREAD_POOL_SIZE, 2u,
                         MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "sink_emulator: cannot listen on %s:%ld\n", host, port);
        stopping = 1;
        pthread_join(timer, NULL);
        return 1;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("LISTENING %u\n", info ? (unsigned)info->port : (unsigned)port);
    fflush(stdout);
    while (!stopping)
        sleep_ms(100);
    /* Resume what still waits, so that the daemon can close it. */
    pthread_join(timer, NULL);
    pthread_mutex_lock(&timers.lock);
    for (struct request *r = timers.head; r; r = r->next)
        MHD_resume_connection(r->conn);
    timers.head = NULL;
    pthread_mutex_unlock(&timers.lock);
    MHD_stop_daemon(d);
    pthread_mutex_lock(&st.lock);
    state_reset();
    pthread_mutex_unlock(&st.lock);
    return 0;
}
