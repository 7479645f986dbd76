/*
 * admin.h — the admin HTTP surface of every daemon: GET /healthz (200 while
 * the process runs), /readyz (200 when the daemon's readiness callback says
 * so, else 503 with the reason) and /metrics (Prometheus text).
 *
 * Processor and notifiers run admin_start() on their own address; ingest
 * serves the same three paths on its listener through admin_try_respond().
 */
#ifndef QALERT_ADMIN_H
#define QALERT_ADMIN_H

#include <microhttpd.h>
#include <netinet/in.h>

#include "common/err.h"

/* Returns 1 when ready; otherwise 0 and a short reason in why. Called from
 * the HTTP thread: it must be cheap and thread-safe. */
typedef int (*admin_ready_fn)(void *opaque, char *why, size_t why_size);

struct admin_server;

/* Listens on addr ("0.0.0.0:9400", ":9401", "127.0.0.1:0"). Returns NULL with
 * errstr on failure. Free with admin_stop(). */
struct admin_server *admin_start(const char *addr, admin_ready_fn ready,
                                 void *opaque, char *errstr, size_t errstr_size);
/* The port actually bound (useful with port 0). */
unsigned short admin_port(const struct admin_server *srv);
void admin_stop(struct admin_server *srv);

/* For a server of the caller's: if url is an admin path, queues the response
 * and returns 1 (with *result set); else returns 0 and touches nothing.
 * Call it on the handler's first call for a request (upload_data NULL):
 * microhttpd refuses a response queued while it hands over upload data.
 * A method other than GET/HEAD on an admin path gets 405 with Allow. */
int admin_try_respond(struct MHD_Connection *conn, const char *method,
                      const char *url, admin_ready_fn ready, void *opaque,
                      enum MHD_Result *result);

/* Parses "host:port" or ":port" (host defaults to 0.0.0.0) into out. The
 * host is an IPv4 literal or "localhost" (no DNS, no IPv6); the port is
 * 0..65535 in decimal digits only. QA_ERR_INVALID with the reason. */
enum qa_err admin_parse_addr(const char *addr, struct sockaddr_in *out,
                             char *errstr, size_t errstr_size);

/* Queues a JSON response `{"error":code,"message":message}` with status. */
enum MHD_Result admin_respond_error(struct MHD_Connection *conn, unsigned status,
                                    const char *code, const char *message);
/* Queues a response with a copy of body and the given content type. */
enum MHD_Result admin_respond(struct MHD_Connection *conn, unsigned status,
                              const char *content_type, const char *body,
                              size_t len);

#endif
