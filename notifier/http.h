/*
 * http.h — the notifier's HTTP transport: libcurl's multi interface driven
 * from the delivery loop's thread, several requests in flight, connections
 * kept alive between requests, a timeout per request.
 *
 * It turns each answer into a struct sink_result (sink_parse_response) and
 * never logs a URL or a header: both may hold secrets (a webhook URL, a
 * GenieKey, a bot token). Answers are hostile: bodies are capped.
 */
#ifndef QALERT_NOTIFIER_HTTP_H
#define QALERT_NOTIFIER_HTTP_H

#include <stddef.h>

#include "common/err.h"
#include "notifier/sinks/sink.h"

#define HTTP_BODY_MAX 65536 /* bytes of an answer kept; the rest is dropped */

struct http_client;

/* timeout_ms bounds each request from start to end; max_conns caps open
 * connections (the in-flight limit). Returns NULL with errstr. Free with
 * http_client_free(). Call curl_global_init() once before. */
struct http_client *http_client_new(long timeout_ms, long max_conns,
                                    char *errstr, size_t errstr_size);
/* Aborts what is in flight (without reporting it) and frees. */
void http_client_free(struct http_client *c);

/* Starts req (copied: the caller may clear it at once). api says how to read
 * the answer; opaque comes back with the result. */
enum qa_err http_submit(struct http_client *c, const struct sink_request *req,
                        enum sink_api api, void *opaque, char *errstr,
                        size_t errstr_size);

/* Called for each finished request. */
typedef void (*http_done_fn)(void *ctx, void *opaque, const struct sink_result *r);

/* Waits up to timeout_ms for network activity (returns at once when
 * something finished), then reports every finished request through done.
 * Returns the number reported. */
int http_poll(struct http_client *c, int timeout_ms, http_done_fn done, void *ctx);

/* Abandons every request in flight without an answer, handing each opaque
 * to gone (a shutdown cut short: the records are read again later). */
void http_cancel_all(struct http_client *c, void (*gone)(void *ctx, void *opaque),
                     void *ctx);

/* Requests started and not yet reported. */
size_t http_in_flight(const struct http_client *c);

#endif
