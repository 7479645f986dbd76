/*
 * server.h — ingest's HTTP surface (SPEC §4) on libmicrohttpd: the two event
 * endpoints, plus /healthz, /readyz and /metrics on the same listener.
 *
 * Each request is a small state machine: headers (method, path, declared
 * size, content type), body (read with a hard cap), then authentication,
 * recognition and publishing. While Kafka acknowledges, the connection is
 * suspended, so no HTTP thread ever waits on Kafka.
 */
#ifndef QALERT_INGEST_SERVER_H
#define QALERT_INGEST_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "ingest/auth.h"
#include "ingest/publisher.h"

#define SERVER_CONNECTION_TIMEOUT_S 10 /* slow or half-sent bodies */

struct server_opts {
    const char *addr;        /* "0.0.0.0:8080", "127.0.0.1:0" */
    size_t max_body;         /* bytes; larger → 413 */
    unsigned threads;        /* microhttpd thread pool size */
};

struct server;

/* Listens and serves. auth and pub are borrowed and must outlive the server.
 * NULL with errstr. Stop with server_quiesce/server_drain/server_free. */
struct server *server_start(const struct server_opts *opts,
                            struct auth_store *auth, struct publisher *pub,
                            char *errstr, size_t errstr_size);

/* The port bound (useful with port 0). */
unsigned short server_port(const struct server *s);

/* Stops accepting connections; requests under way continue. */
void server_quiesce(struct server *s);

/* Waits until no request is under way or deadline_mono (clock_mono_ms())
 * passes. Returns the number of requests still under way. */
int server_drain(struct server *s, int64_t deadline_mono);

/* Stops the daemon and frees the server. */
void server_free(struct server *s);

/* Registers the ingest metric families (idempotent); server_start calls it. */
void server_register_metrics(void);

#endif
