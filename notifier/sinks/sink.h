/*
 * sink.h — what the notifier sends to a sink and what it got back, shared by
 * the Slack and OpsGenie request builders and the retry router.
 *
 * Builders are pure: they turn a struct alert into a struct sink_request
 * (method, URL, headers, JSON body) and never touch the network, so they are
 * tested without a sink. sink_parse_response() turns an HTTP answer into a
 * struct sink_result that retry_classify() judges.
 *
 * A request's URL and headers may hold secrets (a Slack webhook URL, a
 * GenieKey, a bot token): never log them; log sink_request.what instead.
 * Bodies never hold secrets.
 */
#ifndef QALERT_SINK_H
#define QALERT_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SINK_MAX_HEADERS 4

/* One HTTP request ready for curl. Every pointer member is malloc'd and
 * owned by the struct: release with sink_request_clear(). */
struct sink_request {
    const char *method;                /* static: "POST" */
    const char *what;                  /* static, loggable: "opsgenie.create" ... */
    char *url;                         /* may hold a secret: never log */
    char *headers[SINK_MAX_HEADERS];   /* "Name: value"; may hold a secret */
    size_t nheaders;
    char *body;                        /* JSON text, no secrets */
    size_t body_len;
};

/* Frees the members of r and zeroes it; safe on a zeroed struct. */
void sink_request_clear(struct sink_request *r);

/* req->url = base (less trailing '/') + path. QA_ERR_INVALID when base is
 * not http:// or https:// or holds blanks or control characters; the error
 * never quotes the URL (a webhook URL is a secret). */
enum qa_err sink_request_set_url(struct sink_request *req, const char *base,
                                 const char *path, char *errstr, size_t errstr_size);

/* Appends the header "name: <prefix><value>". QA_ERR_INVALID when value is
 * empty or holds a control character (header injection), QA_ERR_FULL past
 * SINK_MAX_HEADERS. The error names the header, never the value. */
enum qa_err sink_request_add_header(struct sink_request *req, const char *name,
                                    const char *prefix, const char *value,
                                    char *errstr, size_t errstr_size);

/* Epoch ms → "2024-05-01T12:00:00Z" (UTC); "" when ms is 0 (unset),
 * negative (CODEC_ABSENT) or past the year 9999. */
void sink_format_time(char *buf, size_t n, int64_t ms);

/* Which API answered: the body of a success means different things. */
enum sink_api {
    SINK_API_SLACK_WEBHOOK, /* 200 "ok" text; errors are 4xx with a text code */
    SINK_API_SLACK_WEB,     /* HTTP 200 {"ok":false,"error":"..."} is a failure */
    SINK_API_OPSGENIE,      /* 202 {"result":...,"requestId":...} */
};

enum sink_transport {
    SINK_TRANSPORT_OK = 0,  /* an HTTP answer arrived (any status) */
    SINK_TRANSPORT_CONNECT, /* DNS, refused, reset, TLS: no answer */
    SINK_TRANSPORT_TIMEOUT, /* QALERT_HTTP_TIMEOUT_MS elapsed */
};

/* The outcome of one request, with fixed buffers so it needs no cleanup.
 * Every text member is printable ASCII (hostile bytes become '?'). */
struct sink_result {
    enum sink_transport transport;
    int http_status;        /* 0 when there was no answer */
    int api_ok;             /* Slack Web API "ok": 1 or 0; -1 for other APIs */
    char api_error[64];     /* Slack Web API "error" when api_ok == 0 */
    char detail[256];       /* body excerpt, OpsGenie "message", curl text */
    char ts[32];            /* Slack Web API "ts" of the posted message */
    char channel[64];       /* Slack Web API "channel" (an id, for chat.update) */
    char request_id[64];    /* OpsGenie "requestId" */
    int64_t retry_after_ms; /* from Retry-After (capped); 0 when none */
};

/* Fills *r from an HTTP answer. body may be NULL (len 0) and is hostile;
 * retry_after is the raw Retry-After header value or NULL. now_ms is the
 * wall clock, for an HTTP-date Retry-After. Never fails: what cannot be
 * parsed is described in r->detail (and for the Slack Web API a 2xx body
 * that is not JSON becomes api_ok = 0, api_error "invalid_response"). */
void sink_parse_response(enum sink_api api, int http_status, const char *body,
                         size_t len, const char *retry_after, int64_t now_ms,
                         struct sink_result *r);

/* Fills *r for a request that got no answer; detail is copied (sanitised). */
void sink_result_transport(struct sink_result *r, enum sink_transport t,
                           const char *detail);

/* Writes src[0..src_len) into dst (dst_size >= 1, always NUL-terminated) as
 * valid UTF-8: at most max_chars characters (counted in UTF-16 units, as
 * Java-based APIs such as OpsGenie count them, so the result also fits a
 * limit in code points), never splitting a character, stopping early when
 * dst is full. Invalid bytes become U+FFFD; ASCII control characters (and a
 * NUL) are dropped, except \n and \t when keep_newlines. Returns the bytes
 * written, not counting the NUL. */
size_t sink_utf8_sanitize(char *dst, size_t dst_size, const void *src,
                          size_t src_len, size_t max_chars, int keep_newlines);

/* Copies at most max_chars characters of s as sink_utf8_sanitize() does
 * (keeping \n and \t). s may be NULL (treated as ""). Returns a malloc'd
 * string the caller frees, NULL on allocation failure. */
char *sink_utf8_clip(const char *s, size_t max_chars);

/* strlen(sink_utf8_clip(s, max_chars)), without the copy. */
size_t sink_utf8_clip_len(const char *s, size_t max_chars);

struct sbuf;

/* Appends s (NULL: nothing) to b escaped byte for byte as
 * cJSON_PrintUnformatted() escapes a string, without the quotes around it:
 * " \ \b \f \n \r \t in their short forms, other bytes below 0x20 as
 * \u00xx (lower-case hex), everything else, bytes >= 0x80 included, as it
 * is. */
void sink_json_escape(struct sbuf *b, const char *s);

/* Appends sink_utf8_clip(s, max_chars) escaped as sink_json_escape() does,
 * without the copy. Returns sink_utf8_clip_len(s, max_chars). */
size_t sink_json_escape_clipped(struct sbuf *b, const char *s, size_t max_chars);

/* Percent-encodes s for a URL path segment (RFC 3986 unreserved kept).
 * Returns a malloc'd string the caller frees, NULL on allocation failure. */
char *sink_url_encode(const char *s);

#endif
