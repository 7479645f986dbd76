/*
 * retry.c — the retry decision (SPEC §7): classify a sink's answer, pick the
 * next retry topic or the dead-letter topic, name the topics, and read the
 * Retry-After header and QALERT_RETRY_DELAYS_MS.
 *
 * Pure: no I/O, no clock (callers pass now_ms), so the delivery loop and the
 * tests see the same decisions. Never answers "drop".
 */
#include "notifier/retry.h"

#include <stdio.h>
#include <string.h>

/* Slack Web API error codes that a later attempt may get past. Everything
 * else (invalid_auth, channel_not_found, invalid_blocks, msg_too_long, ...)
 * fails the same way every time: dead-letter at once, to be redriven after
 * the configuration is fixed. "invalid_response" is ours: a 2xx that was not
 * Slack's JSON (a proxy page), worth another try. */
static const char *const slack_transient[] = {
    "ratelimited", "rate_limited", "internal_error", "fatal_error",
    "service_unavailable", "request_timeout", "team_added_to_org",
    "invalid_response", NULL,
};

int retry_slack_error_is_transient(const char *code)
{
    if (!code)
        return 0;
    for (size_t i = 0; slack_transient[i]; i++)
        if (strcmp(code, slack_transient[i]) == 0)
            return 1;
    return 0;
}

static void put_err(char *err, size_t err_size, const char *fmt_prefix,
                    int status, const char *text)
{
    int n;

    if (!err || err_size == 0)
        return;
    if (status > 0)
        n = snprintf(err, err_size, "%s %d%s%s", fmt_prefix, status,
                     text && *text ? ": " : "", text ? text : "");
    else
        n = snprintf(err, err_size, "%s%s%s", fmt_prefix,
                     text && *text ? ": " : "", text ? text : "");
    if (n < 0)
        err[0] = '\0'; /* truncation is fine: the text is informative only */
}

enum retry_verdict retry_classify(const struct sink_result *r, char *err,
                                  size_t err_size)
{
    int s;

    if (err && err_size)
        err[0] = '\0';
    if (!r) {
        put_err(err, err_size, "no result", 0, NULL);
        return RETRY_AGAIN;
    }
    if (r->transport == SINK_TRANSPORT_TIMEOUT) {
        put_err(err, err_size, "timeout", 0, r->detail);
        return RETRY_AGAIN;
    }
    if (r->transport != SINK_TRANSPORT_OK) {
        put_err(err, err_size, "connection error", 0, r->detail);
        return RETRY_AGAIN;
    }
    s = r->http_status;
    if (s >= 200 && s <= 299) {
        if (r->api_ok != 0)
            return RETRY_DELIVERED;
        /* Slack's Web API reports its failures inside an HTTP 200 */
        put_err(err, err_size, "slack", 0, r->api_error[0] ? r->api_error : "ok:false");
        return retry_slack_error_is_transient(r->api_error) ? RETRY_AGAIN
                                                            : RETRY_DEAD_LETTER;
    }
    put_err(err, err_size, "http", s, r->api_error[0] ? r->api_error : r->detail);
    if (s == 408 || s == 429 || (s >= 500 && s <= 599))
        return RETRY_AGAIN;
    if (s >= 400 && s <= 499)
        return RETRY_DEAD_LETTER;
    /* 1xx/3xx (a redirect we do not follow) or a nonsense status: the sink or
     * a proxy is misbehaving; retrying costs little and the chain still ends
     * in the dead-letter topic, whereas dead-lettering would need a redrive. */
    return RETRY_AGAIN;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    return a + b;
}

void retry_next(int attempt, const int64_t *delays, size_t ndelays,
                int64_t now_ms, int64_t retry_after_ms, struct retry_dest *out)
{
    int64_t wait;

    if (attempt < 0)
        attempt = 0;
    if (attempt > RETRY_MAX_ATTEMPT)
        attempt = RETRY_MAX_ATTEMPT;
    if (retry_after_ms < 0)
        retry_after_ms = 0;
    if (now_ms < 0)
        now_ms = 0;
    out->attempt = attempt + 1;
    if (!delays || (size_t)attempt >= ndelays) {
        out->kind = RETRY_DEST_DLQ;
        out->not_before_ms = now_ms;
        return;
    }
    wait = delays[attempt] > 0 ? delays[attempt] : 0;
    /* a 429's Retry-After is a floor, never a shortcut past our own delay */
    if (retry_after_ms > wait)
        wait = retry_after_ms;
    out->kind = RETRY_DEST_RETRY;
    out->not_before_ms = sat_add(now_ms, wait);
}

int retry_topic_name_ok(const char *s)
{
    size_t n;

    if (!s || !*s)
        return 0;
    n = strlen(s);
    if (n > RETRY_TOPIC_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static enum qa_err topic_check(char *buf, size_t n, int written)
{
    if (written < 0 || (size_t)written >= n) {
        buf[0] = '\0';
        return QA_ERR_INVALID;
    }
    if (!retry_topic_name_ok(buf)) {
        buf[0] = '\0';
        return QA_ERR_INVALID;
    }
    return QA_OK;
}

enum qa_err retry_topic_for_attempt(char *buf, size_t n, const char *alerts_topic,
                                    const char *sink, int attempt)
{
    if (!buf || n == 0)
        return QA_ERR_INVALID;
    buf[0] = '\0';
    if (!alerts_topic || !*alerts_topic || !sink || !*sink || attempt < 1 ||
        attempt > RETRY_MAX_DELAYS)
        return QA_ERR_INVALID;
    return topic_check(buf, n, snprintf(buf, n, "%s.%s.retry.%d", alerts_topic,
                                        sink, attempt));
}

enum qa_err retry_dlq_topic(char *buf, size_t n, const char *alerts_topic,
                            const char *sink)
{
    if (!buf || n == 0)
        return QA_ERR_INVALID;
    buf[0] = '\0';
    if (!alerts_topic || !*alerts_topic || !sink || !*sink)
        return QA_ERR_INVALID;
    return topic_check(buf, n, snprintf(buf, n, "%s.%s.dlq", alerts_topic, sink));
}

/* Reads 1..maxd decimal digits at *p into *v without overflow; advances *p.
 * Returns 0 when there is no digit or the value exceeds limit. */
static int read_uint(const char **p, int maxd, int64_t limit, int64_t *v)
{
    const char *s = *p;
    int64_t acc = 0;
    int d = 0;

    while (*s >= '0' && *s <= '9') {
        if (++d > maxd)
            return 0;
        if (acc > (limit - (*s - '0')) / 10)
            return 0;
        acc = acc * 10 + (*s - '0');
        s++;
    }
    if (d == 0)
        return 0;
    *p = s;
    *v = acc;
    return 1;
}

static const char *skip_sp(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static int read_month(const char **p)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *s = *p;

    for (int m = 0; m < 12; m++)
        if (strncmp(s, months + 3 * m, 3) == 0) {
            *p = s + 3;
            return m + 1;
        }
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so no timegm() and no TZ dependence. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int read_clock(const char **p, int64_t *secs)
{
    int64_t h, mi, se;
    const char *s = *p;

    if (!read_uint(&s, 2, 23, &h) || *s++ != ':' || !read_uint(&s, 2, 59, &mi) ||
        *s++ != ':' || !read_uint(&s, 2, 60, &se))
        return 0;
    *secs = h * 3600 + mi * 60 + se;
    *p = s;
    return 1;
}

/* The three HTTP-date forms of RFC 9110 §5.6.7 → epoch seconds, or -1. */
static int64_t parse_http_date(const char *s)
{
    int64_t day, year, secs;
    int mon;

    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
        s++; /* weekday, not checked against the date */
    if (*s == ',')
        s++;
    s = skip_sp(s);
    if (*s >= '0' && *s <= '9') {
        /* IMF-fixdate "06 Nov 1994 08:49:37 GMT" or RFC 850 "06-Nov-94 ..." */
        int rfc850;
        const char *y0;
        if (!read_uint(&s, 2, 31, &day))
            return -1;
        rfc850 = *s == '-';
        if (*s != ' ' && *s != '-')
            return -1;
        s++;
        if (!(mon = read_month(&s)))
            return -1;
        if (*s != (rfc850 ? '-' : ' '))
            return -1;
        s++;
        y0 = s;
        if (!read_uint(&s, 4, 9999, &year))
            return -1;
        if (rfc850 && s - y0 == 2)
            year += year < 70 ? 2000 : 1900; /* RFC 9110: 50 years ahead at most */
        else if (s - y0 != 4)
            return -1;
        if (*s++ != ' ' || !read_clock(&s, &secs))
            return -1;
        s = skip_sp(s);
        if (strcmp(s, "GMT") != 0)
            return -1;
    } else {
        /* asctime "Nov  6 08:49:37 1994" */
        if (!(mon = read_month(&s)))
            return -1;
        s = skip_sp(s);
        if (!read_uint(&s, 2, 31, &day) || *s++ != ' ' || !read_clock(&s, &secs))
            return -1;
        s = skip_sp(s);
        if (!read_uint(&s, 4, 9999, &year) || *s != '\0')
            return -1;
    }
    if (day < 1 || year < 1970)
        return -1;
    return days_from_civil(year, mon, day) * 86400 + secs;
}

int64_t retry_parse_retry_after(const char *value, int64_t now_ms)
{
    const char *s;
    int64_t v, ms;

    if (!value)
        return 0;
    s = skip_sp(value);
    if (*s >= '0' && *s <= '9') {
        /* delay-seconds; anything larger than the cap is the cap */
        const char *q = s;
        size_t nd;
        while (*q == '0')
            q++;
        nd = strspn(q, "0123456789");
        if (*skip_sp(q + nd) != '\0' || nd == 0)
            return 0; /* trailing junk, or zero seconds */
        if (nd > 9)
            return RETRY_AFTER_MAX_MS;
        if (!read_uint(&q, 9, INT64_MAX, &v))
            return 0;
        ms = v * 1000;
    } else {
        char tmp[64];
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n == 0 || n >= sizeof(tmp))
            return 0;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        v = parse_http_date(tmp);
        if (v < 0 || v > INT64_MAX / 1000)
            return 0;
        ms = v * 1000 - now_ms;
    }
    if (ms <= 0)
        return 0;
    return ms > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : ms;
}

enum qa_err retry_parse_delays(const char *s, int64_t *delays, size_t cap,
                               size_t *ndelays, char *errstr, size_t errstr_size)
{
    size_t n = 0;
    const char *p = s;

    if (ndelays)
        *ndelays = 0;
    if (!s || !delays || !ndelays)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "QALERT_RETRY_DELAYS_MS: missing");
    if (*skip_sp(s) == '\0')
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "QALERT_RETRY_DELAYS_MS: empty list");
    for (;;) {
        int64_t v;
        p = skip_sp(p);
        if (n >= cap)
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                           "QALERT_RETRY_DELAYS_MS: more than %zu delays", cap);
        if (!read_uint(&p, 19, RETRY_MAX_DELAY_MS, &v))
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                           "QALERT_RETRY_DELAYS_MS: item %zu is not a number of "
                           "milliseconds from 0 to %lld", n + 1,
                           (long long)RETRY_MAX_DELAY_MS);
        p = skip_sp(p);
        if (*p != ',' && *p != '\0')
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                           "QALERT_RETRY_DELAYS_MS: item %zu is not a number of "
                           "milliseconds", n + 1);
        delays[n++] = v;
        if (*p == '\0')
            break;
        p++;
    }
    *ndelays = n;
    return QA_OK;
}
