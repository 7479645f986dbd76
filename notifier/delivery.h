/*
 * delivery.h — the notifier's delivery loop (SPEC §5, §7): consume the
 * alerts topic and the sink's retry topics, send each alert to the sink,
 * forward failures to the next retry topic or the dead-letter topic, keep
 * order per grouping key, pace the sink, and store each record's offset
 * only once it is done. docs/notifier.md describes the rules.
 */
#ifndef QALERT_NOTIFIER_DELIVERY_H
#define QALERT_NOTIFIER_DELIVERY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"
#include "notifier/retry.h"
#include "notifier/sinks/slack.h"

enum delivery_sink { DELIVERY_SLACK, DELIVERY_OPSGENIE };

struct delivery_config {
    const struct cfg *cfg;          /* Kafka settings and pass-through */
    enum delivery_sink sink;
    const char *sink_name;          /* "slack" / "opsgenie": topic names, metrics */
    const char *alerts_topic;
    const char *group_id;
    int64_t delays[RETRY_MAX_DELAYS];
    size_t ndelays;
    long http_timeout_ms;
    int concurrency;                /* requests in flight */
    double rate;                    /* requests per second */
    long shutdown_timeout_ms;
    struct sink_slack_config slack;
    const char *opsgenie_url;
    const char *opsgenie_key;       /* secret */
};

struct delivery;

/* Creates the Kafka handles and topics (retry and dead-letter ones when
 * missing). The config's strings must outlive the delivery. Returns NULL
 * with errstr. Free with delivery_free(). */
struct delivery *delivery_new(const struct delivery_config *conf, char *errstr,
                              size_t errstr_size);

/* Runs until *stop becomes non-zero, then drains: finishes requests in
 * flight (bounded by the HTTP timeout), stores and commits offsets and
 * closes the consumer. Returns 0 after a clean stop, 1 on a fatal error. */
int delivery_run(struct delivery *d, volatile sig_atomic_t *stop);

void delivery_free(struct delivery *d);

/* admin_ready_fn: ready once the consumer has joined its group and the sink
 * is not paused by a 429. Thread-safe. */
int delivery_ready(void *opaque, char *why, size_t why_size);

#endif
