/*
 * slack.c — builds Slack messages (incoming webhook or Web API) for an alert:
 * a fallback text saying FIRING or RESOLVED and an attachment coloured red or
 * green holding Block Kit blocks with the evidence.
 *
 * Pure: no I/O. Alert strings are clipped to Block Kit's limits and escaped
 * for mrkdwn (&, <, > — otherwise "<!channel>" in a queue name would ping a
 * whole channel); JSON escaping is cJSON's. Never puts a secret in a body.
 */
#include "notifier/sinks/slack.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Block Kit limits (api.slack.com/reference/block-kit/blocks), characters */
#define HEADER_MAX 150
#define FIELD_MAX 2000
#define SECTION_MAX 3000
#define CONTEXT_MAX 3000
#define VALUE_MAX 300 /* a field value: a queue name, an id */

int sink_slack_use_web_api(const struct sink_slack_config *cfg)
{
    return cfg && cfg->bot_token && *cfg->bot_token && cfg->channel && *cfg->channel;
}

/* Clips s to max characters, then escapes it for mrkdwn. Caller frees. */
static char *mrkdwn(const char *s, size_t max)
{
    char *c = sink_utf8_clip(s, max), *out;
    size_t n = 0, o = 0;

    if (!c)
        return NULL;
    for (size_t i = 0; c[i]; i++)
        n += c[i] == '&' ? 5 : (c[i] == '<' || c[i] == '>') ? 4 : 1;
    out = malloc(n + 1);
    if (out) {
        for (size_t i = 0; c[i]; i++) {
            const char *rep = c[i] == '&' ? "&amp;" : c[i] == '<' ? "&lt;"
                            : c[i] == '>' ? "&gt;" : NULL;
            if (rep) {
                memcpy(out + o, rep, strlen(rep));
                o += strlen(rep);
            } else {
                out[o++] = c[i];
            }
        }
        out[o] = '\0';
    }
    free(c);
    return out;
}

static const char *alarm_label(const char *t)
{
    if (t && strcmp(t, "wait_sla_breach") == 0)
        return "Wait SLA breach";
    if (t && strcmp(t, "service_level_low") == 0)
        return "Service level low";
    return t && *t ? t : "Alert";
}

static void fmt_duration(char *buf, size_t n, int64_t ms)
{
    int r = ms < 120000 ? snprintf(buf, n, "%.1f s", (double)ms / 1000.0)
                        : snprintf(buf, n, "%.1f min", (double)ms / 60000.0);
    if (r < 0)
        buf[0] = '\0';
}

/* Adds {"type":"mrkdwn","text":"*label*\nvalue"} with value escaped. */
static int add_field(cJSON *fields, const char *label, const char *value)
{
    char *v = mrkdwn(value, VALUE_MAX), *t = NULL;
    cJSON *f = NULL;
    size_t n;
    int ok = 0;

    if (!v)
        return 0;
    n = strlen(label) + strlen(v) + 8;
    t = malloc(n);
    if (!t || snprintf(t, n, "*%s*\n%s", label, v) < 0)
        goto out;
    f = cJSON_CreateObject();
    if (!f || !cJSON_AddStringToObject(f, "type", "mrkdwn") ||
        !cJSON_AddStringToObject(f, "text", t) || !cJSON_AddItemToArray(fields, f))
        goto out;
    f = NULL;
    ok = 1;
out:
    cJSON_Delete(f);
    free(v);
    free(t);
    return ok;
}

/* {"type":type,"text":{"type":ttype,"text":text}} appended to blocks */
static int add_text_block(cJSON *blocks, const char *type, const char *ttype,
                          const char *text)
{
    cJSON *b = cJSON_CreateObject(), *t;

    if (!b || !cJSON_AddStringToObject(b, "type", type) ||
        !(t = cJSON_AddObjectToObject(b, "text")) ||
        !cJSON_AddStringToObject(t, "type", ttype) ||
        !cJSON_AddStringToObject(t, "text", text) || !cJSON_AddItemToArray(blocks, b)) {
        cJSON_Delete(b);
        return 0;
    }
    return 1;
}

static int add_evidence(cJSON *fields, const struct alert *al)
{
    char a[64], b[64], v[160];
    const char *queue = al->queue_name && *al->queue_name ? al->queue_name
                      : al->queue_id && *al->queue_id ? al->queue_id : "unknown";

    if (!add_field(fields, "Queue", queue) ||
        !add_field(fields, "Media", al->media_type && *al->media_type ? al->media_type
                                                                       : "all"))
        return 0;
    if (al->wait_ms != CODEC_ABSENT) {
        fmt_duration(a, sizeof(a), al->wait_ms);
        if (al->threshold_ms != CODEC_ABSENT) {
            fmt_duration(b, sizeof(b), al->threshold_ms);
            if (snprintf(v, sizeof(v), "%s (threshold %s)", a, b) < 0)
                return 0;
        } else if (snprintf(v, sizeof(v), "%s", a) < 0) {
            return 0;
        }
        if (!add_field(fields, "Wait", v))
            return 0;
    }
    if (!isnan(al->service_level) && !isinf(al->service_level)) {
        int r = !isnan(al->target) && !isinf(al->target)
                    ? snprintf(v, sizeof(v), "%.1f%% (target %.1f%%)",
                               al->service_level * 100.0, al->target * 100.0)
                    : snprintf(v, sizeof(v), "%.1f%%", al->service_level * 100.0);
        if (r < 0 || !add_field(fields, "Service level", v))
            return 0;
    }
    if (al->samples != CODEC_ABSENT) {
        if (snprintf(v, sizeof(v), "%" PRId64, al->samples) < 0 ||
            !add_field(fields, "Samples", v))
            return 0;
    }
    if (snprintf(v, sizeof(v), "%" PRId64, al->count) < 0 || !add_field(fields, "Count", v))
        return 0;
    sink_format_time(a, sizeof(a), al->first_seen_ms);
    if (a[0] && !add_field(fields, "First seen", a))
        return 0;
    if (al->status == ALERT_RESOLVED) {
        sink_format_time(a, sizeof(a), al->at_ms);
        if (a[0] && !add_field(fields, "Resolved at", a))
            return 0;
    }
    return 1;
}

static cJSON *build(const struct alert *al, const char *channel,
                    const char *thread_ts, const char *ts)
{
    const char *word = al->status == ALERT_FIRING ? "FIRING" : "RESOLVED";
    const char *queue = al->queue_name && *al->queue_name ? al->queue_name
                      : al->queue_id && *al->queue_id ? al->queue_id : "unknown";
    cJSON *root = cJSON_CreateObject(), *atts, *att, *blocks, *sec, *fields, *ctx,
          *els, *el;
    char *msg = NULL, *text = NULL, *hdr = NULL, *raw = NULL, *ctxt = NULL;
    size_t n;

    if (!root)
        return NULL;
    msg = mrkdwn(al->message && *al->message ? al->message : alarm_label(al->alarm_type),
                 SECTION_MAX - 16);
    if (!msg)
        goto fail;
    n = strlen(msg) + 16;
    text = malloc(n);
    if (!text || snprintf(text, n, "[%s] %s", word, msg) < 0)
        goto fail;
    n = strlen(queue) + 64;
    raw = malloc(n);
    if (!raw || snprintf(raw, n, "%s: %s on %s", word, alarm_label(al->alarm_type),
                         queue) < 0)
        goto fail;
    hdr = sink_utf8_clip(raw, HEADER_MAX); /* plain_text: no mrkdwn escaping */
    if (!hdr)
        goto fail;
    free(raw);
    n = (al->alert_id ? strlen(al->alert_id) : 0) +
        (al->grouping_key ? strlen(al->grouping_key) : 0) + 64;
    raw = malloc(n);
    if (!raw || snprintf(raw, n, "qalert · %s · key %s · alert %s",
                         al->priority && *al->priority ? al->priority : "P3",
                         al->grouping_key ? al->grouping_key : "?",
                         al->alert_id ? al->alert_id : "?") < 0)
        goto fail;
    ctxt = mrkdwn(raw, CONTEXT_MAX - 100);
    if (!ctxt)
        goto fail;

    if (channel && !cJSON_AddStringToObject(root, "channel", channel))
        goto fail;
    if (ts && !cJSON_AddStringToObject(root, "ts", ts))
        goto fail;
    if (thread_ts && !cJSON_AddStringToObject(root, "thread_ts", thread_ts))
        goto fail;
    if (!cJSON_AddStringToObject(root, "text", text) ||
        !(atts = cJSON_AddArrayToObject(root, "attachments")) ||
        !(att = cJSON_CreateObject()) || !cJSON_AddItemToArray(atts, att) ||
        !cJSON_AddStringToObject(att, "color", al->status == ALERT_FIRING
                                                   ? SINK_SLACK_COLOR_FIRING
                                                   : SINK_SLACK_COLOR_RESOLVED) ||
        !cJSON_AddStringToObject(att, "fallback", text) ||
        !(blocks = cJSON_AddArrayToObject(att, "blocks")))
        goto fail;
    if (!add_text_block(blocks, "header", "plain_text", hdr) ||
        !(sec = cJSON_CreateObject()) || !cJSON_AddItemToArray(blocks, sec) ||
        !cJSON_AddStringToObject(sec, "type", "section") ||
        !(fields = cJSON_AddArrayToObject(sec, "fields")) || !add_evidence(fields, al) ||
        !add_text_block(blocks, "section", "mrkdwn", msg) ||
        !(ctx = cJSON_CreateObject()) || !cJSON_AddItemToArray(blocks, ctx) ||
        !cJSON_AddStringToObject(ctx, "type", "context") ||
        !(els = cJSON_AddArrayToObject(ctx, "elements")) ||
        !(el = cJSON_CreateObject()) || !cJSON_AddItemToArray(els, el) ||
        !cJSON_AddStringToObject(el, "type", "mrkdwn") ||
        !cJSON_AddStringToObject(el, "text", ctxt))
        goto fail;
    free(msg);
    free(text);
    free(hdr);
    free(raw);
    free(ctxt);
    return root;
fail:
    cJSON_Delete(root);
    free(msg);
    free(text);
    free(hdr);
    free(raw);
    free(ctxt);
    return NULL;
}

char *sink_slack_payload(const struct alert *al, const char *channel,
                         const char *thread_ts, const char *ts)
{
    cJSON *j;
    char *s;

    if (!al)
        return NULL;
    j = build(al, channel, thread_ts, ts);
    if (!j)
        return NULL;
    s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* Common tail: body, Content-Type, and the bearer token in Web API mode. */
static enum qa_err finish(struct sink_request *req, const struct alert *al,
                          const struct sink_slack_config *cfg, const char *channel,
                          const char *thread_ts, const char *ts, char *errstr,
                          size_t errstr_size)
{
    enum qa_err err;
    int web = channel != NULL;

    req->method = "POST";
    req->body = sink_slack_payload(al, channel, thread_ts, ts);
    if (!req->body)
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    req->body_len = strlen(req->body);
    /* Web API JSON bodies need the charset, or Slack warns and may misread */
    if ((err = sink_request_add_header(req, "Content-Type", NULL,
                                       web ? "application/json; charset=utf-8"
                                           : "application/json",
                                       errstr, errstr_size)))
        return err;
    if (web)
        return sink_request_add_header(req, "Authorization", "Bearer ", cfg->bot_token,
                                       errstr, errstr_size);
    return QA_OK;
}

enum qa_err sink_slack_request(const struct alert *al,
                               const struct sink_slack_config *cfg,
                               const char *thread_ts, struct sink_request *req,
                               char *errstr, size_t errstr_size)
{
    enum qa_err err;

    memset(req, 0, sizeof(*req));
    if (!al || !cfg)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "no alert or config");
    if (sink_slack_use_web_api(cfg)) {
        req->what = "slack.chat.postMessage";
        err = sink_request_set_url(req, cfg->api_url && *cfg->api_url
                                            ? cfg->api_url : SINK_SLACK_DEFAULT_API_URL,
                                   "/chat.postMessage", errstr, errstr_size);
        if (!err)
            err = finish(req, al, cfg, cfg->channel,
                         thread_ts && *thread_ts ? thread_ts : NULL, NULL, errstr,
                         errstr_size);
    } else if (cfg->webhook_url && *cfg->webhook_url) {
        req->what = "slack.webhook";
        err = sink_request_set_url(req, cfg->webhook_url, "", errstr, errstr_size);
        if (!err)
            err = finish(req, al, cfg, NULL, NULL, NULL, errstr, errstr_size);
    } else {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                      "set QALERT_SLACK_WEBHOOK_URL, or QALERT_SLACK_BOT_TOKEN and "
                      "QALERT_SLACK_CHANNEL");
    }
    if (err)
        sink_request_clear(req);
    return err;
}

enum qa_err sink_slack_update_request(const struct alert *al,
                                      const struct sink_slack_config *cfg,
                                      const char *channel, const char *ts,
                                      struct sink_request *req, char *errstr,
                                      size_t errstr_size)
{
    enum qa_err err;

    memset(req, 0, sizeof(*req));
    if (!al || !sink_slack_use_web_api(cfg) || !ts || !*ts)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "chat.update needs the Web API (bot token, channel) and a ts");
    req->what = "slack.chat.update";
    err = sink_request_set_url(req, cfg->api_url && *cfg->api_url
                                        ? cfg->api_url : SINK_SLACK_DEFAULT_API_URL,
                               "/chat.update", errstr, errstr_size);
    if (!err)
        err = finish(req, al, cfg, channel && *channel ? channel : cfg->channel, NULL,
                     ts, errstr, errstr_size);
    if (err)
        sink_request_clear(req);
    return err;
}
