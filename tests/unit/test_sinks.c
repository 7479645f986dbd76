/*
 * test_sinks.c — the OpsGenie and Slack request builders: URLs, headers,
 * body fields and the APIs' limits (message 130 characters at a UTF-8
 * boundary, 20 tags of 50, alias over 512 hashed, close path encoded), Slack
 * colours and texts, thread_ts in Web API mode, the thread map, and the
 * helpers (UTF-8 clipping, URL encoding, response parsing).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "notifier/sinks/opsgenie.h"
#include "notifier/sinks/slack.h"

#define BASE "https://api.opsgenie.com"
#define KEY "eb243592-faa2-4ba2-a551-1afdf565c889"

static char *tag_store[32];
static char *dk[] = { "site" };
static char *dv[] = { "Lisbon" };

static struct alert make_alert(enum alert_status st)
{
    struct alert a;

    memset(&a, 0, sizeof(a));
    a.alert_id = "a1b2c3";
    a.grouping_key = "q-123:wait_sla_breach:VOICE";
    a.status = st;
    a.alarm_type = "wait_sla_breach";
    a.queue_id = "q-123";
    a.queue_name = "Support";
    a.media_type = "VOICE";
    a.priority = "P2";
    a.count = 3;
    a.first_seen_ms = 1700000000000LL;
    a.last_seen_ms = 1700000060000LL;
    a.at_ms = 1700000120000LL;
    a.conversation_id = "conv-9";
    a.wait_ms = 45000;
    a.threshold_ms = 30000;
    a.service_level = NAN;
    a.target = NAN;
    a.samples = CODEC_ABSENT;
    a.message = "Support VOICE: a conversation waited 45.0 s (SLA 30.0 s)";
    a.description = "Queue Support breached its wait SLA.";
    tag_store[0] = "qalert";
    tag_store[1] = "wait_sla_breach";
    a.tags = tag_store;
    a.ntags = 2;
    a.detail_keys = dk;
    a.detail_values = dv;
    a.ndetails = 1;
    return a;
}

static const char *header(const struct sink_request *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++)
        if (strncmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
            return r->headers[i] + n + 2;
    return NULL;
}

static const char *jstr(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *opsgenie_body(const struct alert *a, struct sink_request *req)
{
    char err[256];
    cJSON *j;

    if (sink_opsgenie_request(a, BASE, KEY, req, err, sizeof(err)) != QA_OK)
        fail_msg("refused: %s", err);
    assert_int_equal(req->body_len, strlen(req->body));
    j = cJSON_Parse(req->body);
    assert_non_null(j);
    assert_null(strstr(req->body, KEY)); /* the key never reaches a body */
    return j;
}

static void test_opsgenie_create(void **state)
{
    struct alert a = make_alert(ALERT_FIRING);
    struct sink_request req;
    cJSON *j = opsgenie_body(&a, &req), *tags, *det;

    assert_string_equal(req.method, "POST");
    assert_string_equal(req.url, BASE "/v2/alerts");
    assert_string_equal(req.what, "opsgenie.create");
    assert_string_equal(header(&req, "Authorization"), "GenieKey " KEY);
    assert_string_equal(header(&req, "Content-Type"), "application/json");
    assert_string_equal(jstr(j, "message"), a.message);
    assert_string_equal(jstr(j, "alias"), "q-123:wait_sla_breach:VOICE");
    assert_string_equal(jstr(j, "description"), a.description);
    assert_string_equal(jstr(j, "priority"), "P2");
    assert_string_equal(jstr(j, "entity"), "Support");
    assert_string_equal(jstr(j, "source"), "qalert");
    tags = cJSON_GetObjectItemCaseSensitive(j, "tags");
    assert_int_equal(cJSON_GetArraySize(tags), 2);
    det = cJSON_GetObjectItemCaseSensitive(j, "details");
    assert_string_equal(jstr(det, "site"), "Lisbon");
    assert_string_equal(jstr(det, "queueId"), "q-123");
    assert_string_equal(jstr(det, "waitMs"), "45000");
    assert_string_equal(jstr(det, "thresholdMs"), "30000");
    assert_string_equal(jstr(det, "firstSeen"), "2023-11-14T22:13:20Z");
    assert_null(jstr(det, "serviceLevel")); /* NAN: left out */
    assert_null(jstr(det, "samples"));
    cJSON_Delete(j);
    sink_request_clear(&req);

    /* a bad priority becomes OpsGenie's default P3; no name: the id */
    a.priority = "P6";
    a.queue_name = NULL;
    j = opsgenie_body(&a, &req);
    assert_string_equal(jstr(j, "priority"), "P3");
    assert_string_equal(jstr(j, "entity"), "q-123");
    cJSON_Delete(j);
    sink_request_clear(&req);
    /* no message: one is made up (it is mandatory) */
    a.message = NULL;
    j = opsgenie_body(&a, &req);
    assert_string_equal(jstr(j, "message"), "wait_sla_breach on queue q-123");
    cJSON_Delete(j);
    sink_request_clear(&req);
}

static void test_opsgenie_limits(void **state)
{
    struct alert a = make_alert(ALERT_FIRING);
    struct sink_request req;
    char msg[300], longtag[80], key[600];
    char *tags[25];
    char names[25][8];
    cJSON *j, *t;

    /* 129 ASCII + "€€" (3 bytes each): 130 characters keep one euro sign */
    memset(msg, 'm', 129);
    strcpy(msg + 129, "\xe2\x82\xac\xe2\x82\xac");
    a.message = msg;
    j = opsgenie_body(&a, &req);
    assert_int_equal(strlen(jstr(j, "message")), 132);
    assert_memory_equal(jstr(j, "message") + 129, "\xe2\x82\xac", 3);
    cJSON_Delete(j);
    sink_request_clear(&req);
    /* exactly 130 kept whole; 131 cut to 130 */
    memset(msg, 'm', 131);
    msg[130] = '\0';
    j = opsgenie_body(&a, &req);
    assert_int_equal(strlen(jstr(j, "message")), 130);
    cJSON_Delete(j);
    sink_request_clear(&req);
    msg[130] = 'z';
    msg[131] = '\0';
    j = opsgenie_body(&a, &req);
    assert_int_equal(strlen(jstr(j, "message")), 130);
    assert_int_equal(jstr(j, "message")[129], 'm');
    cJSON_Delete(j);
    sink_request_clear(&req);
    /* an astral character counts 2 (UTF-16), so 129 + U+1F6A8 does not fit */
    memset(msg, 'm', 129);
    strcpy(msg + 129, "\xf0\x9f\x9a\xa8");
    j = opsgenie_body(&a, &req);
    assert_int_equal(strlen(jstr(j, "message")), 129);
    cJSON_Delete(j);
    sink_request_clear(&req);

    /* 25 tags → 20; a 60-character tag → 50; an empty tag skipped */
    a.message = "m";
    memset(longtag, 'T', 60);
    longtag[60] = '\0';
    for (int i = 0; i < 25; i++) {
        snprintf(names[i], sizeof(names[i]), "t%d", i);
        tags[i] = names[i];
    }
    tags[0] = longtag;
    tags[1] = "";
    a.tags = tags;
    a.ntags = 25;
    j = opsgenie_body(&a, &req);
    t = cJSON_GetObjectItemCaseSensitive(j, "tags");
    assert_int_equal(cJSON_GetArraySize(t), 20);
    assert_int_equal(strlen(cJSON_GetArrayItem(t, 0)->valuestring), 50);
    assert_string_equal(cJSON_GetArrayItem(t, 1)->valuestring, "t2");
    assert_string_equal(cJSON_GetArrayItem(t, 19)->valuestring, "t20");
    cJSON_Delete(j);
    sink_request_clear(&req);

    /* alias: 512 bytes kept, 513 hashed to sha256 hex */
    memset(key, 'k', 512);
    key[512] = '\0';
    a.grouping_key = key;
    j = opsgenie_body(&a, &req);
    assert_int_equal(strlen(jstr(j, "alias")), 512);
    cJSON_Delete(j);
    sink_request_clear(&req);
    key[512] = 'k';
    key[513] = '\0';
    j = opsgenie_body(&a, &req);
    assert_int_equal(strlen(jstr(j, "alias")), 64);
    /* python3 -c "import hashlib;print(hashlib.sha256(b'k'*513).hexdigest())" */
    char alias[SINK_OPSGENIE_ALIAS_MAX + 1];
    assert_int_equal(sink_opsgenie_alias(key, alias, sizeof(alias), NULL, 0), QA_OK);
    assert_string_equal(jstr(j, "alias"), alias);
    assert_string_equal(alias, "45a7c7ef95c3417e800362f5672aba16da807261fe7121f3a81b0a0fb6b9a05c");
    cJSON_Delete(j);
    sink_request_clear(&req);

    /* a description over 15000 characters is cut */
    char *desc = malloc(16001);
    memset(desc, 'd', 16000);
    desc[16000] = '\0';
    a.grouping_key = "k";
    a.description = desc;
    j = opsgenie_body(&a, &req);
    assert_int_equal(strlen(jstr(j, "description")), 15000);
    cJSON_Delete(j);
    sink_request_clear(&req);
    free(desc);
}

static void test_opsgenie_close(void **state)
{
    struct alert a = make_alert(ALERT_RESOLVED);
    struct sink_request req;
    char err[256];
    cJSON *j;

    j = opsgenie_body(&a, &req);
    assert_string_equal(req.url, BASE "/v2/alerts/q-123%3Await_sla_breach%3AVOICE"
                                      "/close?identifierType=alias");
    assert_string_equal(req.what, "opsgenie.close");
    assert_string_equal(jstr(j, "source"), "qalert");
    assert_string_equal(jstr(j, "note"), "Resolved by qalert at 2023-11-14T22:15:20Z");
    assert_null(jstr(j, "message"));
    cJSON_Delete(j);
    sink_request_clear(&req);
    /* spaces, slashes and non-ASCII are encoded; a trailing / on base ignored */
    a.grouping_key = "q 1/x?\xc3\xa9";
    assert_int_equal(sink_opsgenie_request(&a, BASE "/", KEY, &req, err, sizeof(err)), QA_OK);
    assert_string_equal(req.url, BASE "/v2/alerts/q%201%2Fx%3F%C3%A9/close?identifierType=alias");
    sink_request_clear(&req);

    /* refusals leave the request cleared */
    a.grouping_key = NULL;
    assert_int_equal(sink_opsgenie_request(&a, BASE, KEY, &req, err, sizeof(err)), QA_ERR_INVALID);
    assert_null(req.url);
    a.grouping_key = "k";
    assert_int_equal(sink_opsgenie_request(&a, "ftp://x", KEY, &req, err, sizeof(err)), QA_ERR_INVALID);
    assert_int_equal(sink_opsgenie_request(&a, BASE, "", &req, err, sizeof(err)), QA_ERR_INVALID);
    assert_int_equal(sink_opsgenie_request(&a, BASE, "k\r\nX-Evil: 1", &req, err, sizeof(err)),
                     QA_ERR_INVALID);
    assert_null(strstr(err, "Evil")); /* the key is never quoted */
    assert_null(req.body);
}

static cJSON *slack_body(const struct sink_request *req)
{
    cJSON *j = cJSON_Parse(req->body);
    assert_non_null(j);
    return j;
}

static const cJSON *attachment(const cJSON *j)
{
    const cJSON *atts = cJSON_GetObjectItemCaseSensitive(j, "attachments");
    assert_int_equal(cJSON_GetArraySize(atts), 1);
    return cJSON_GetArrayItem(atts, 0);
}

static void test_slack_webhook(void **state)
{
    struct alert a = make_alert(ALERT_FIRING);
    struct sink_slack_config cfg = { .webhook_url = "https://hooks.slack.com/services/T0/B0/secret" };
    struct sink_request req;
    char err[256];
    cJSON *j;
    const cJSON *att, *blocks;

    assert_false(sink_slack_use_web_api(&cfg));
    assert_int_equal(sink_slack_request(&a, &cfg, "1.2", &req, err, sizeof(err)), QA_OK);
    assert_string_equal(req.url, cfg.webhook_url);
    assert_string_equal(req.what, "slack.webhook");
    assert_null(header(&req, "Authorization"));
    assert_null(strstr(req.body, "secret"));
    j = slack_body(&req);
    assert_string_equal(jstr(j, "text"), "[FIRING] Support VOICE: a conversation waited 45.0 s (SLA 30.0 s)");
    assert_null(jstr(j, "thread_ts")); /* webhooks cannot thread */
    assert_null(jstr(j, "channel"));
    att = attachment(j);
    assert_string_equal(jstr(att, "color"), "#d00000");
    blocks = cJSON_GetObjectItemCaseSensitive(att, "blocks");
    assert_string_equal(jstr(cJSON_GetArrayItem(blocks, 0), "type"), "header");
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(blocks, 0), "text"), "text"),
                        "FIRING: Wait SLA breach on Support");
    assert_non_null(strstr(req.body, "*Wait*\\n45.0 s (threshold 30.0 s)"));
    assert_non_null(strstr(req.body, "*First seen*\\n2023-11-14T22:13:20Z"));
    cJSON_Delete(j);
    sink_request_clear(&req);

    /* RESOLVED: green, its own text; mrkdwn specials escaped */
    a = make_alert(ALERT_RESOLVED);
    a.message = "<!channel> & co";
    a.wait_ms = CODEC_ABSENT;
    a.service_level = 0.72;
    a.target = 0.8;
    assert_int_equal(sink_slack_request(&a, &cfg, NULL, &req, err, sizeof(err)), QA_OK);
    j = slack_body(&req);
    assert_string_equal(jstr(j, "text"), "[RESOLVED] &lt;!channel&gt; &amp; co");
    assert_string_equal(jstr(attachment(j), "color"), "#2eb886");
    assert_non_null(strstr(req.body, "*Service level*\\n72.0% (target 80.0%)"));
    assert_non_null(strstr(req.body, "*Resolved at*"));
    assert_null(strstr(req.body, "*Wait*"));
    cJSON_Delete(j);
    sink_request_clear(&req);

    /* nothing configured, a bad URL */
    struct sink_slack_config none = { 0 };
    assert_int_equal(sink_slack_request(&a, &none, NULL, &req, err, sizeof(err)), QA_ERR_INVALID);
    struct sink_slack_config bad = { .webhook_url = "hooks.slack.com/services/x" };
    assert_int_equal(sink_slack_request(&a, &bad, NULL, &req, err, sizeof(err)), QA_ERR_INVALID);
    assert_null(strstr(err, "hooks")); /* the URL is a secret */
    assert_null(req.body);
}

static void test_slack_web_api(void **state)
{
    struct alert a = make_alert(ALERT_RESOLVED);
    struct sink_slack_config cfg = { .webhook_url = "https://hooks.example/x",
                                     .api_url = "http://127.0.0.1:9999/api/",
                                     .bot_token = "xoxb-123-abc",
                                     .channel = "#alerts" };
    struct sink_request req;
    char err[256];
    cJSON *j;

    assert_true(sink_slack_use_web_api(&cfg));
    assert_int_equal(sink_slack_request(&a, &cfg, "1700000000.000100", &req, err,
                                        sizeof(err)), QA_OK);
    assert_string_equal(req.url, "http://127.0.0.1:9999/api/chat.postMessage");
    assert_string_equal(header(&req, "Authorization"), "Bearer xoxb-123-abc");
    assert_string_equal(header(&req, "Content-Type"), "application/json; charset=utf-8");
    assert_null(strstr(req.body, "xoxb"));
    j = slack_body(&req);
    assert_string_equal(jstr(j, "channel"), "#alerts");
    assert_string_equal(jstr(j, "thread_ts"), "1700000000.000100");
    assert_string_equal(jstr(attachment(j), "color"), "#2eb886");
    cJSON_Delete(j);
    sink_request_clear(&req);

    /* FIRING, no thread */
    a.status = ALERT_FIRING;
    assert_int_equal(sink_slack_request(&a, &cfg, NULL, &req, err, sizeof(err)), QA_OK);
    j = slack_body(&req);
    assert_null(jstr(j, "thread_ts"));
    cJSON_Delete(j);
    sink_request_clear(&req);

    /* chat.update of the FIRING message, to the channel id Slack answered */
    a.status = ALERT_RESOLVED;
    assert_int_equal(sink_slack_update_request(&a, &cfg, "C024BE91L", "1700000000.000100",
                                               &req, err, sizeof(err)), QA_OK);
    assert_string_equal(req.url, "http://127.0.0.1:9999/api/chat.update");
    j = slack_body(&req);
    assert_string_equal(jstr(j, "channel"), "C024BE91L");
    assert_string_equal(jstr(j, "ts"), "1700000000.000100");
    assert_null(jstr(j, "thread_ts"));
    assert_string_equal(jstr(attachment(j), "color"), "#2eb886");
    cJSON_Delete(j);
    sink_request_clear(&req);
    assert_int_equal(sink_slack_update_request(&a, &cfg, NULL, NULL, &req, err, sizeof(err)),
                     QA_ERR_INVALID);
    cfg.bot_token = "tok\nX: y";
    assert_int_equal(sink_slack_request(&a, &cfg, NULL, &req, err, sizeof(err)), QA_ERR_INVALID);
    assert_null(req.url);
}

static void test_thread_map(void **state)
{
    struct sink_thread_map *m = sink_thread_map_new(2);
    const char *ch, *ts;

    assert_non_null(m);
    assert_int_equal(sink_thread_map_put(m, "k1", "C1", "1.1"), QA_OK);
    assert_int_equal(sink_thread_map_put(m, "k2", "C1", "2.2"), QA_OK);
    assert_int_equal(sink_thread_map_put(m, "k1", "C1", "1.5"), QA_OK); /* replace */
    assert_int_equal(sink_thread_map_count(m), 2);
    assert_true(sink_thread_map_get(m, "k1", &ch, &ts));
    assert_string_equal(ts, "1.5");
    assert_string_equal(ch, "C1");
    /* full: k2 is now the oldest and goes */
    assert_int_equal(sink_thread_map_put(m, "k3", NULL, "3.3"), QA_OK);
    assert_false(sink_thread_map_get(m, "k2", &ch, &ts));
    assert_true(sink_thread_map_get(m, "k3", &ch, &ts));
    assert_string_equal(ch, "");
    sink_thread_map_remove(m, "k1");
    assert_int_equal(sink_thread_map_count(m), 1);
    assert_false(sink_thread_map_get(m, "k1", NULL, NULL));
    assert_int_equal(sink_thread_map_put(m, "", "C", "1"), QA_ERR_INVALID);
    assert_int_equal(sink_thread_map_put(m, "k", "C", ""), QA_ERR_INVALID);
    assert_int_equal(sink_thread_map_put(m, "k", "C", "12345678901234567890123456789012"),
                     QA_ERR_INVALID);
    sink_thread_map_free(m);
    assert_null(sink_thread_map_new(0));
}

static void test_helpers(void **state)
{
    char buf[16];
    char *s;
    struct sink_result r;

    s = sink_utf8_clip("a\x01" "b\nc\xff", 10);
    assert_string_equal(s, "ab\nc\xef\xbf\xbd");
    free(s);
    s = sink_utf8_clip(NULL, 10);
    assert_string_equal(s, "");
    free(s);
    /* overlong, surrogate, truncated sequences are invalid */
    s = sink_utf8_clip("\xc0\xaf\xed\xa0\x80\xe2\x82", 100);
    assert_int_equal(strlen(s), 7 * 3);
    free(s);
    /* a small buffer never splits a character */
    assert_int_equal(sink_utf8_sanitize(buf, 5, "ab\xe2\x82\xac", 5, 100, 0), 2);
    assert_string_equal(buf, "ab");
    s = sink_url_encode("a-b_c.d~e f:/%");
    assert_string_equal(s, "a-b_c.d~e%20f%3A%2F%25");
    free(s);
    sink_format_time(buf, sizeof(buf), CODEC_ABSENT);
    assert_string_equal(buf, "");
    /* hostile bodies: bounded, printable */
    char big[1000];
    memset(big, 'x', sizeof(big));
    big[3] = '\x07';
    sink_parse_response(SINK_API_SLACK_WEBHOOK, 400, big, sizeof(big), NULL, 0, &r);
    assert_int_equal(strlen(r.detail), sizeof(r.detail) - 1);
    assert_int_equal(r.detail[3], '?');
    const char *okbody = "{\"ok\":true,\"channel\":\"C1\",\"ts\":\"1.2\"}";
    sink_parse_response(SINK_API_SLACK_WEB, 200, okbody, strlen(okbody), NULL, 0, &r);
    assert_int_equal(r.api_ok, 1);
    assert_string_equal(r.channel, "C1");
    assert_string_equal(r.ts, "1.2");
    sink_parse_response(SINK_API_OPSGENIE, 401,
                        "{\"message\":\"Could not authenticate\",\"took\":0.0}",
                        strlen("{\"message\":\"Could not authenticate\",\"took\":0.0}"),
                        NULL, 0, &r);
    assert_string_equal(r.detail, "Could not authenticate");
    sink_parse_response(SINK_API_OPSGENIE, 202, NULL, 5, "7", 0, &r);
    assert_int_equal(r.retry_after_ms, 7000);
    assert_int_equal(r.api_ok, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opsgenie_create),
        cmocka_unit_test(test_opsgenie_limits),
        cmocka_unit_test(test_opsgenie_close),
        cmocka_unit_test(test_slack_webhook),
        cmocka_unit_test(test_slack_web_api),
        cmocka_unit_test(test_thread_map),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
