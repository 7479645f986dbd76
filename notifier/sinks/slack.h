/*
 * slack.h — Slack messages for qalert alerts, built from a struct alert:
 * incoming webhook (POST the webhook URL) or Web API (chat.postMessage, and
 * for a RESOLVED a reply in the FIRING message's thread plus a chat.update
 * that turns the original green).
 *
 * Every message has a fallback `text` ("[FIRING] ..." / "[RESOLVED] ...")
 * and one attachment whose colour says which (red / green) holding Block Kit
 * blocks: header, the evidence as fields, the message, a context line.
 *
 * Pure: builds, never sends. The webhook URL and bot token go only into the
 * request's URL and Authorization header, never into a body or a log.
 */
#ifndef QALERT_SINK_SLACK_H
#define QALERT_SINK_SLACK_H

#include <stddef.h>

#include "common/codec.h"
#include "common/err.h"
#include "notifier/sinks/sink.h"

#define SINK_SLACK_COLOR_FIRING "#d00000"
#define SINK_SLACK_COLOR_RESOLVED "#2eb886"
#define SINK_SLACK_DEFAULT_API_URL "https://slack.com/api"

struct sink_slack_config {
    const char *webhook_url; /* QALERT_SLACK_WEBHOOK_URL (secret) */
    const char *api_url;     /* QALERT_SLACK_API_URL; NULL: slack.com */
    const char *bot_token;   /* QALERT_SLACK_BOT_TOKEN (secret) */
    const char *channel;     /* QALERT_SLACK_CHANNEL */
};

/* 1 when cfg selects the Web API (a bot token and a channel), which wins
 * over a webhook URL; 0 for the incoming webhook. */
int sink_slack_use_web_api(const struct sink_slack_config *cfg);

/* The message for al. Webhook mode: POST webhook_url (thread_ts ignored).
 * Web API: POST {api}/chat.postMessage to cfg->channel, as a reply in the
 * thread thread_ts when it is not NULL (the FIRING message's ts, for a
 * RESOLVED). On success *req owns malloc'd members (sink_request_clear());
 * on failure it is left cleared. */
enum qa_err sink_slack_request(const struct alert *al,
                               const struct sink_slack_config *cfg,
                               const char *thread_ts, struct sink_request *req,
                               char *errstr, size_t errstr_size);

/* Web API only: POST {api}/chat.update rewriting the message (channel, ts)
 * — the FIRING one — with al's content (a RESOLVED: green). channel is the
 * id chat.postMessage answered (sink_result.channel); NULL uses
 * cfg->channel. */
enum qa_err sink_slack_update_request(const struct alert *al,
                                      const struct sink_slack_config *cfg,
                                      const char *channel, const char *ts,
                                      struct sink_request *req, char *errstr,
                                      size_t errstr_size);

/* The JSON payload alone (channel, thread_ts, ts may each be NULL: left
 * out). Returns a malloc'd string the caller frees, NULL on allocation
 * failure. */
char *sink_slack_payload(const struct alert *al, const char *channel,
                         const char *thread_ts, const char *ts);

/* Grouping key → (channel, ts) of its FIRING message, so a RESOLVED can
 * reply in its thread. Bounded: when full, the oldest entry is evicted (its
 * RESOLVED then posts unthreaded). Lookups are linear: it holds open alerts,
 * a few thousand at most. Not thread-safe. In memory only: lost on restart,
 * which costs threading, never a message. */
struct sink_thread_map;

/* NULL on allocation failure or capacity 0. Free with sink_thread_map_free(). */
struct sink_thread_map *sink_thread_map_new(size_t capacity);
void sink_thread_map_free(struct sink_thread_map *m);
/* Inserts or replaces; copies everything. QA_ERR_INVALID for an empty key
 * or a ts/channel too long (> 31 / 63 bytes), QA_ERR_NOMEM. */
enum qa_err sink_thread_map_put(struct sink_thread_map *m, const char *key,
                                const char *channel, const char *ts);
/* 1 and pointers valid until the next put/remove when found, else 0. */
int sink_thread_map_get(const struct sink_thread_map *m, const char *key,
                        const char **channel, const char **ts);
void sink_thread_map_remove(struct sink_thread_map *m, const char *key);
size_t sink_thread_map_count(const struct sink_thread_map *m);

#endif
