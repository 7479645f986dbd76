/*
 * test_registry.c — the schema registry client: subjects, URL building and
 * percent-encoding at exact buffer sizes, credential redaction, every answer
 * shape (ids at Java int bounds, non-integers, wrong types, hostile nesting,
 * oversized lists, schemaType), error descriptions with non-printable bytes;
 * then, against tests/emulators/registry_emulator.py (skipped without
 * python3), registry_setup end to end: writers frame with the registry's id,
 * a newer writer version already in the subject is decoded by its id, a
 * foreign schema in a subject is skipped, wrong credentials fail without
 * showing the password, hostile bodies from a "registry", URL failover.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/config.h"
#include "common/log.h"
#include "common/registry.h"
#include "common/schemas.h"

static char errstr[512];

/* --- pure parts ----------------------------------------------------------- */

static void test_subject(void **state)
{
    char out[16];
    (void)state;
    assert_int_equal(registry_subject("raw", out, sizeof(out)), QA_OK);
    assert_string_equal(out, "raw-value");
    /* "0123456789-value" is 16 bytes: one short of its NUL, then exact */
    assert_int_equal(registry_subject("0123456789", out, 16), QA_ERR_FULL);
    assert_int_equal(registry_subject("012345678", out, 16), QA_OK);
    assert_string_equal(out, "012345678-value");
    assert_int_equal(registry_subject("", out, sizeof(out)), QA_ERR_INVALID);
    assert_int_equal(registry_subject(NULL, out, sizeof(out)), QA_ERR_INVALID);
}

static void test_build_url(void **state)
{
    char out[128];
    (void)state;
    assert_int_equal(registry_build_url("http://h:8081//", "/subjects/%s/versions", "a.b-c_d~e",
                                        out, sizeof(out)), QA_OK);
    assert_string_equal(out, "http://h:8081/subjects/a.b-c_d~e/versions");
    /* a subject cannot leave its path segment */
    assert_int_equal(registry_build_url("https://r/p", "/subjects/%s/versions", "../x y?z#\xff",
                                        out, sizeof(out)), QA_OK);
    assert_string_equal(out, "https://r/p/subjects/..%2Fx%20y%3Fz%23%FF/versions");
    assert_int_equal(registry_build_url("http://h", "/schemas/ids/7", NULL, out, sizeof(out)),
                     QA_OK);
    assert_string_equal(out, "http://h/schemas/ids/7");
    /* "http://h/a%2F" is 13 bytes: 14 fits, 13 does not (and leaves "") */
    assert_int_equal(registry_build_url("http://h", "/a%s", "/", out, 14), QA_OK);
    assert_string_equal(out, "http://h/a%2F");
    assert_int_equal(registry_build_url("http://h", "/a%s", "/", out, 13), QA_ERR_FULL);
    assert_string_equal(out, "");
    assert_int_equal(registry_build_url("http://h", "", NULL, out, 0), QA_ERR_FULL);
}

static void test_redact_url(void **state)
{
    char out[64];
    (void)state;
    registry_redact_url("https://user:pw@reg.example:8081/p?q=1", out, sizeof(out));
    assert_string_equal(out, "https://reg.example:8081/p?q=1");
    registry_redact_url("http://u:p@ss@host/x@y", out, sizeof(out)); /* '@' in password */
    assert_string_equal(out, "http://host/x@y");
    registry_redact_url("http://host/a@b", out, sizeof(out)); /* '@' after the host */
    assert_string_equal(out, "http://host/a@b");
    registry_redact_url("user:pw@host", out, sizeof(out));
    assert_string_equal(out, "host");
    registry_redact_url("http://user:pw@0123456789", out, 12);
    assert_string_equal(out, "http://0123");
    registry_redact_url(NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

#define S(lit) lit, sizeof(lit) - 1

static void test_parse_id(void **state)
{
    uint32_t id = 0;
    (void)state;
    assert_int_equal(registry_parse_id(S("{\"id\":1}"), &id, errstr, sizeof(errstr)), QA_OK);
    assert_int_equal(id, 1);
    assert_int_equal(registry_parse_id(S("{\"id\":2147483647}"), &id, errstr, sizeof(errstr)),
                     QA_OK);
    assert_int_equal(id, 2147483647u);
    assert_int_equal(registry_parse_id(S("{\"id\":1e3}"), &id, errstr, sizeof(errstr)), QA_OK);
    assert_int_equal(id, 1000);
    const char *bad[] = {
        "{\"id\":0}", "{\"id\":-1}", "{\"id\":1.5}", "{\"id\":2147483648}", "{\"id\":1e400}",
        "{\"id\":\"5\"}", "{\"id\":null}", "{}", "[1]", "5", "null", "{\"id\":1", "",
        "{\"ID\":5}", "\xff\xfe",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        id = 77;
        assert_int_equal(registry_parse_id(bad[i], strlen(bad[i]), &id, errstr,
                                           sizeof(errstr)), QA_ERR_INVALID);
        assert_int_equal(id, 77);
    }
    /* the length given wins over the NUL: "{\"id\":12}" cut before '}' */
    assert_int_equal(registry_parse_id("{\"id\":12}", 8, &id, errstr, sizeof(errstr)),
                     QA_ERR_INVALID);
    assert_int_equal(registry_parse_id(NULL, 0, &id, errstr, sizeof(errstr)), QA_ERR_INVALID);
}

static void test_parse_versions(void **state)
{
    int *v = NULL;
    size_t n = 99;
    (void)state;
    assert_int_equal(registry_parse_versions(S("[1, 2,3]"), &v, &n, errstr, sizeof(errstr)),
                     QA_OK);
    assert_int_equal(n, 3);
    assert_int_equal(v[0], 1);
    assert_int_equal(v[2], 3);
    free(v);
    assert_int_equal(registry_parse_versions(S("[]"), &v, &n, errstr, sizeof(errstr)), QA_OK);
    assert_int_equal(n, 0);
    assert_null(v);
    const char *bad[] = { "[1,\"2\"]", "[0]", "[1,-3]", "{\"a\":1}", "[1.5]", "[[1]]", "[1,]" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(registry_parse_versions(bad[i], strlen(bad[i]), &v, &n, errstr,
                                                 sizeof(errstr)), QA_ERR_INVALID);
        assert_null(v);
        assert_int_equal(n, 0);
    }

    /* nesting far past any sane depth: refused, not a stack overflow */
    size_t depth = 100000;
    char *deep = malloc(2 * depth);
    assert_non_null(deep);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    assert_int_equal(registry_parse_versions(deep, 2 * depth, &v, &n, errstr, sizeof(errstr)),
                     QA_ERR_INVALID);
    free(deep);

    /* exactly REGISTRY_MAX_VERSIONS entries, then one more */
    char *list = malloc(8 * (REGISTRY_MAX_VERSIONS + 2));
    assert_non_null(list);
    for (int extra = 0; extra <= 1; extra++) {
        size_t o = 0;
        list[o++] = '[';
        for (int i = 1; i <= REGISTRY_MAX_VERSIONS + extra; i++)
            o += (size_t)snprintf(list + o, 8, "%s%d", i > 1 ? "," : "", i);
        list[o++] = ']';
        enum qa_err err = registry_parse_versions(list, o, &v, &n, errstr, sizeof(errstr));
        if (!extra) {
            assert_int_equal(err, QA_OK);
            assert_int_equal(n, REGISTRY_MAX_VERSIONS);
            assert_int_equal(v[REGISTRY_MAX_VERSIONS - 1], REGISTRY_MAX_VERSIONS);
            free(v);
        } else {
            assert_int_equal(err, QA_ERR_INVALID);
            assert_non_null(strstr(errstr, "more than"));
        }
    }
    free(list);
}

static void test_parse_schema(void **state)
{
    char *s = NULL;
    uint32_t id = 0;
    (void)state;
    assert_int_equal(registry_parse_schema(S("{\"subject\":\"x-value\",\"version\":2,\"id\":9,"
                                             "\"schema\":\"\\\"int\\\"\"}"),
                                           &s, &id, errstr, sizeof(errstr)), QA_OK);
    assert_string_equal(s, "\"int\"");
    assert_int_equal(id, 9);
    free(s);
    assert_int_equal(registry_parse_schema(S("{\"schema\":\"{}\",\"schemaType\":\"AVRO\"}"),
                                           &s, NULL, errstr, sizeof(errstr)), QA_OK);
    assert_string_equal(s, "{}");
    free(s);
    assert_int_equal(registry_parse_schema(S("{\"schema\":\"x\",\"id\":1,"
                                             "\"schemaType\":\"PROTOBUF\"}"),
                                           &s, &id, errstr, sizeof(errstr)), QA_ERR_UNSUPPORTED);
    assert_null(s);
    assert_int_equal(registry_parse_schema(S("{\"schema\":\"x\",\"schemaType\":7}"), &s, NULL,
                                           errstr, sizeof(errstr)), QA_ERR_UNSUPPORTED);
    const char *bad[] = { "{\"schema\":\"\",\"id\":1}", "{\"schema\":{},\"id\":1}",
                          "{\"id\":1}", "{\"schema\":\"x\"}", "{\"schema\":\"x\",\"id\":0}",
                          "[\"x\"]", "\"x\"" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(registry_parse_schema(bad[i], strlen(bad[i]), &s, &id, errstr,
                                               sizeof(errstr)), QA_ERR_INVALID);
        assert_null(s);
    }
}

static void test_describe_error(void **state)
{
    char out[512], big[600];
    (void)state;
    assert_int_equal(registry_describe_error(404, S("{\"error_code\":40401,\"message\":"
                                                    "\"Subject 'x' not found.\"}"),
                                             out, sizeof(out)), QA_ERR_NOT_FOUND);
    assert_string_equal(out, "HTTP 404 (error_code 40401): Subject 'x' not found.");
    assert_int_equal(registry_describe_error(401, S("{\"error_code\":401,\"message\":"
                                                    "\"Unauthorized\"}"), out, sizeof(out)),
                     QA_ERR_INVALID);
    assert_int_equal(registry_describe_error(429, NULL, 0, out, sizeof(out)), QA_ERR_IO);
    assert_string_equal(out, "HTTP 429: no message");
    assert_int_equal(registry_describe_error(408, NULL, 0, out, sizeof(out)), QA_ERR_IO);
    assert_int_equal(registry_describe_error(503, S("<html>\n\tdown\x01</html>"), out,
                                             sizeof(out)), QA_ERR_IO);
    assert_string_equal(out, "HTTP 503: <html>??down?</html>");
    /* a message with a newline and an error_code that is no integer */
    assert_int_equal(registry_describe_error(422, S("{\"error_code\":\"x\",\"message\":"
                                                    "\"a\\nb\"}"), out, sizeof(out)),
                     QA_ERR_INVALID);
    assert_string_equal(out, "HTTP 422: a?b");
    /* a long body is cut at 200 bytes */
    memset(big, 'A', sizeof(big));
    registry_describe_error(500, big, sizeof(big), out, sizeof(out));
    assert_int_equal(strlen(out), strlen("HTTP 500: ") + 200);
    /* a small output buffer is truncated, NUL-terminated */
    registry_describe_error(500, big, sizeof(big), out, 8);
    assert_int_equal(strlen(out), 7);
}

/* --- the client and registry_setup, against the emulator -------------------- */

#define PASSWORD "pa55-w0rd-registry"
#define USER_INFO "qa-user:" PASSWORD

static pid_t emu_pid = -1;
static char emu_url[64];

/* Starts the emulator on a free port; 0 when it listens, -1 to skip. */
static int emu_start(const char *user_info)
{
    const char *src = getenv("QALERT_SOURCE_DIR");
    char path[1024], line[128];
    int fd[2], port = 0;
    FILE *f;

    if (!src || access("/usr/bin/python3", X_OK) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/tests/emulators/registry_emulator.py", src);
    if (pipe(fd) != 0)
        return -1;
    emu_pid = fork();
    if (emu_pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execl("/usr/bin/python3", "python3", path, "--host", "127.0.0.1", "--port", "0",
              user_info ? "--user-info" : (char *)NULL, user_info, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    f = fdopen(fd[0], "r");
    if (f && fgets(line, sizeof(line), f))
        sscanf(line, "LISTENING %d", &port);
    if (f)
        fclose(f);
    else
        close(fd[0]);
    assert_true(port > 0);
    snprintf(emu_url, sizeof(emu_url), "http://127.0.0.1:%d", port);
    return 0;
}

static void emu_stop(void)
{
    if (emu_pid > 0) {
        kill(emu_pid, SIGTERM);
        waitpid(emu_pid, NULL, 0);
    }
    emu_pid = -1;
}

static size_t discard(char *p, size_t size, size_t n, void *opaque)
{
    (void)p;
    (void)opaque;
    return size * n;
}

/* A failed assertion skips the test's own emu_stop(): never leave it running. */
static int teardown_emu(void **state)
{
    (void)state;
    emu_stop();
    return 0;
}

/* POSTs a fault list to the emulator's control API. */
static void emu_fault(const char *json)
{
    char url[128];
    CURL *c = curl_easy_init();
    long status = 0;

    assert_non_null(c);
    snprintf(url, sizeof(url), "%s/_emulator/faults", emu_url);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    curl_easy_cleanup(c);
}

static struct cfg *registry_cfg(const char *url, const char *user_info, const char *raw,
                                const char *alerts)
{
    static const struct cfg_setting *const tables[] = { cfg_common_settings, NULL };
    char e_url[256], e_ui[128], e_raw[128], e_al[128];
    char *env[5] = { NULL };
    char *argv[] = { "qalert-test", NULL };
    struct cfg *cfg = cfg_new("qalert-test", "test", tables);
    int k = 0;

    assert_non_null(cfg);
    snprintf(e_raw, sizeof(e_raw), "QALERT_TOPIC_RAW=%s", raw);
    snprintf(e_al, sizeof(e_al), "QALERT_TOPIC_ALERTS=%s", alerts);
    env[k++] = e_raw;
    env[k++] = e_al;
    if (url) {
        snprintf(e_url, sizeof(e_url), "QALERT_SCHEMA_REGISTRY_URL=%s", url);
        env[k++] = e_url;
    }
    if (user_info) {
        snprintf(e_ui, sizeof(e_ui), "QALERT_SCHEMA_REGISTRY_USER_INFO=%s", user_info);
        env[k++] = e_ui;
    }
    assert_int_equal(cfg_parse(cfg, 1, argv, env, errstr, sizeof(errstr)), CFG_PARSE_OK);
    return cfg;
}

static const char *compiled(const char *name)
{
    for (const struct schema_source *s = schema_sources; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s->json;
    fail_msg("schema %s not compiled in", name);
    return NULL;
}

/* Today's Alert with one more string field at the end (a newer writer). */
static char *newer_alert_schema(void)
{
    cJSON *j = cJSON_Parse(compiled("Alert"));
    cJSON *f = cJSON_CreateObject();
    char *out;

    assert_non_null(j);
    cJSON_AddStringToObject(f, "name", "addedLater");
    cJSON_AddStringToObject(f, "type", "string");
    cJSON_AddStringToObject(f, "default", "");
    cJSON_AddItemToArray(cJSON_GetObjectItem(j, "fields"), f);
    out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return out;
}

static void sample_alert(struct alert *al)
{
    memset(al, 0, sizeof(*al));
    al->alert_id = "a-1";
    al->grouping_key = "q:wait_sla_breach:VOICE";
    al->alarm_type = "wait_sla_breach";
    al->queue_id = "q";
    al->priority = "P3";
    al->message = "m";
    al->wait_ms = al->threshold_ms = al->samples = CODEC_ABSENT;
    al->service_level = al->target = NAN;
}

static uint32_t frame_id(const uint8_t *b)
{
    return (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
}

static char *read_stream(FILE *f)
{
    long n;
    char *s;
    fflush(f);
    n = ftell(f);
    s = calloc(1, (size_t)n + 1);
    assert_non_null(s);
    rewind(f);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    return s;
}

static void test_setup_against_emulator(void **state)
{
    struct registry *r;
    struct cfg *cfg;
    struct alert al, got;
    uint8_t *enc = NULL, *newer_frame;
    size_t len = 0;
    uint32_t newer_id = 0, today_id = 0, raw_id = 0, other_id = 0;
    char *newer = newer_alert_schema(), *text = NULL, *logs;
    FILE *logf = tmpfile();
    int *versions = NULL;
    size_t nv = 0;
    (void)state;

    if (emu_start(USER_INFO))
        skip();
    assert_non_null(logf);
    log_set_stream(logf);
    assert_int_equal(codec_init(errstr, sizeof(errstr)), QA_OK);

    /* Before qalert starts: a newer Alert writer is already in the alerts
     * subject, and a foreign schema in the raw one. */
    r = registry_new(emu_url, USER_INFO, errstr, sizeof(errstr));
    assert_non_null(r);
    assert_int_equal(registry_register(r, "al-value", newer, &newer_id, errstr,
                                       sizeof(errstr)), QA_OK);
    assert_int_equal(registry_register(r, "raw-value", "\"string\"", &other_id, errstr,
                                       sizeof(errstr)), QA_OK);
    assert_int_not_equal(newer_id, other_id);
    assert_int_equal(registry_list_versions(r, "nope-value", &versions, &nv, errstr,
                                            sizeof(errstr)), QA_ERR_NOT_FOUND);
    assert_non_null(strstr(errstr, "40401"));

    /* A record by the newer writer: today's payload plus "x" for the added
     * field, framed with the newer id. Unknown id: read as today's, refused. */
    sample_alert(&al);
    codec_set_confluent_id(CODEC_ALERT, 999);
    assert_int_equal(codec_encode_alert(&al, &enc, &len, errstr, sizeof(errstr)), QA_OK);
    newer_frame = malloc(len + 2);
    assert_non_null(newer_frame);
    memcpy(newer_frame, enc, len);
    newer_frame[1] = (uint8_t)(newer_id >> 24);
    newer_frame[2] = (uint8_t)(newer_id >> 16);
    newer_frame[3] = (uint8_t)(newer_id >> 8);
    newer_frame[4] = (uint8_t)newer_id;
    newer_frame[len] = 0x02; /* zigzag length 1 */
    newer_frame[len + 1] = 'x';
    free(enc);
    assert_int_not_equal(codec_decode_alert(newer_frame, len + 2, &got, errstr,
                                            sizeof(errstr)), QA_OK);
    codec_alert_clear(&got);

    cfg = registry_cfg(emu_url, USER_INFO, "raw", "al");
    assert_int_equal(registry_setup(cfg, errstr, sizeof(errstr)), QA_OK);

    /* today's schemas got ids; writers frame with them */
    assert_int_equal(registry_list_versions(r, "al-value", &versions, &nv, errstr,
                                            sizeof(errstr)), QA_OK);
    assert_int_equal(nv, 2);
    free(versions);
    assert_int_equal(registry_get_version(r, "al-value", 2, &text, &today_id, errstr,
                                          sizeof(errstr)), QA_OK);
    free(text);
    assert_int_equal(registry_get_version(r, "raw-value", 2, &text, &raw_id, errstr,
                                          sizeof(errstr)), QA_OK);
    free(text);
    assert_int_equal(registry_get_schema(r, today_id, &text, errstr, sizeof(errstr)), QA_OK);
    assert_non_null(strstr(text, "\"qalert\""));
    free(text);
    assert_int_equal(registry_get_schema(r, 4242, &text, errstr, sizeof(errstr)),
                     QA_ERR_NOT_FOUND);
    assert_non_null(strstr(errstr, "40403"));
    assert_int_equal(codec_encode_alert(&al, &enc, &len, errstr, sizeof(errstr)), QA_OK);
    assert_int_equal(enc[0], 0);
    assert_int_equal(frame_id(enc), today_id);
    assert_int_equal(codec_decode_alert(enc, len, &got, errstr, sizeof(errstr)), QA_OK);
    codec_alert_clear(&got);
    free(enc);

    /* the newer writer's record now resolves by its id */
    assert_int_equal(codec_decode_alert(newer_frame, len + 2, &got, errstr, sizeof(errstr)),
                     QA_OK);
    assert_string_equal(got.grouping_key, al.grouping_key);
    codec_alert_clear(&got);

    /* registering again (a restart) gives the same ids, no new versions */
    codec_set_confluent_id(CODEC_ALERT, 0);
    assert_int_equal(registry_setup(cfg, errstr, sizeof(errstr)), QA_OK);
    assert_int_equal(codec_encode_alert(&al, &enc, &len, errstr, sizeof(errstr)), QA_OK);
    assert_int_equal(frame_id(enc), today_id);
    free(enc);
    assert_int_equal(registry_list_versions(r, "raw-value", &versions, &nv, errstr,
                                            sizeof(errstr)), QA_OK);
    assert_int_equal(nv, 2);
    free(versions);
    cfg_free(cfg);

    logs = read_stream(logf);
    assert_non_null(strstr(logs, "schema registered"));
    assert_non_null(strstr(logs, "schema version not readable")); /* the "string" one */
    assert_null(strstr(logs, PASSWORD));
    free(logs);

    log_set_stream(NULL);
    fclose(logf);
    registry_free(r);
    free(newer_frame);
    cJSON_free(newer);
    codec_shutdown();
    emu_stop();
}

static void test_setup_failures(void **state)
{
    struct cfg *cfg;
    char url[160];
    (void)state;

    /* no URL: nothing happens, writers keep single-object encoding */
    assert_int_equal(codec_init(errstr, sizeof(errstr)), QA_OK);
    cfg = registry_cfg(NULL, NULL, "raw", "al");
    assert_int_equal(registry_setup(cfg, errstr, sizeof(errstr)), QA_OK);
    cfg_free(cfg);
    /* malformed settings: QA_ERR_INVALID naming the setting */
    cfg = registry_cfg("ftp://h", NULL, "raw", "al");
    assert_int_equal(registry_setup(cfg, errstr, sizeof(errstr)), QA_ERR_INVALID);
    assert_non_null(strstr(errstr, "QALERT_SCHEMA_REGISTRY_URL"));
    cfg_free(cfg);
    cfg = registry_cfg("http://127.0.0.1:1", "no-colon-here", "raw", "al");
    assert_int_equal(registry_setup(cfg, errstr, sizeof(errstr)), QA_ERR_INVALID);
    assert_non_null(strstr(errstr, "QALERT_SCHEMA_REGISTRY_USER_INFO"));
    assert_null(strstr(errstr, "no-colon-here"));
    cfg_free(cfg);
    /* nothing listens: a runtime failure naming the URL, not the password */
    cfg = registry_cfg("http://qa:" PASSWORD "@127.0.0.1:1/", NULL, "raw", "al");
    assert_int_equal(registry_setup(cfg, errstr, sizeof(errstr)), QA_ERR_IO);
    assert_non_null(strstr(errstr, "http://127.0.0.1:1/subjects/raw-value/versions"));
    assert_null(strstr(errstr, PASSWORD));
    cfg_free(cfg);

    if (emu_start(USER_INFO)) {
        codec_shutdown();
        skip();
    }
    /* wrong password: 401, said so, password not shown */
    cfg = registry_cfg(emu_url, "qa-user:wrong-" PASSWORD, "raw", "al");
    assert_int_not_equal(registry_setup(cfg, errstr, sizeof(errstr)), QA_OK);
    assert_non_null(strstr(errstr, "HTTP 401"));
    assert_null(strstr(errstr, PASSWORD));
    cfg_free(cfg);
    /* the first URL is down, the second answers */
    snprintf(url, sizeof(url), "http://127.0.0.1:1,%s", emu_url);
    cfg = registry_cfg(url, USER_INFO, "raw2", "al2");
    assert_int_equal(registry_setup(cfg, errstr, sizeof(errstr)), QA_OK);
    cfg_free(cfg);
    codec_set_confluent_id(CODEC_RAW_EVENT, 0);
    codec_set_confluent_id(CODEC_ALERT, 0);
    codec_shutdown();
    emu_stop();
}

static void test_hostile_registry(void **state)
{
    struct registry *r;
    uint32_t id = 5;
    int *v = NULL;
    size_t n = 0, big = REGISTRY_MAX_RESPONSE + 16;
    char *fault, *body, loc[256];
    (void)state;

    if (emu_start(NULL))
        skip();
    r = registry_new(emu_url, NULL, errstr, sizeof(errstr));
    assert_non_null(r);
    emu_fault("{\"status\":200,\"body\":\"{\\\"id\\\":0}\"}");
    assert_int_equal(registry_register(r, "s", "\"int\"", &id, errstr, sizeof(errstr)),
                     QA_ERR_INVALID);
    assert_int_equal(id, 5);
    emu_fault("{\"status\":200,\"body\":\"[1,{}]\"}");
    assert_int_equal(registry_list_versions(r, "s", &v, &n, errstr, sizeof(errstr)),
                     QA_ERR_INVALID);
    assert_null(v);
    emu_fault("{\"status\":502,\"body\":\"<html>bad gateway</html>\"}");
    assert_int_equal(registry_register(r, "s", "\"int\"", &id, errstr, sizeof(errstr)),
                     QA_ERR_IO);
    assert_non_null(strstr(errstr, "HTTP 502: <html>bad gateway</html>"));
    /* a 307 to the registry itself would register if followed: it is not */
    snprintf(loc, sizeof(loc), "{\"status\":307,\"body\":\"\",\"headers\":"
             "{\"Location\":\"%s/subjects/s/versions\"}}", emu_url);
    emu_fault(loc);
    assert_int_equal(registry_register(r, "s", "\"int\"", &id, errstr, sizeof(errstr)),
                     QA_ERR_IO);
    assert_non_null(strstr(errstr, "HTTP 307"));
    /* twice: libcurl retries once when a reused connection dies unanswered */
    emu_fault("{\"drop\":true,\"count\":2}");
    assert_int_equal(registry_register(r, "s", "\"int\"", &id, errstr, sizeof(errstr)),
                     QA_ERR_IO);
    /* an answer over the cap is cut off, not buffered */
    body = malloc(big + 1);
    fault = malloc(big + 64);
    assert_non_null(body);
    assert_non_null(fault);
    memset(body, ' ', big);
    body[big] = '\0';
    body[0] = '[';
    body[big - 1] = ']';
    snprintf(fault, big + 64, "{\"status\":200,\"body\":\"%s\"}", body);
    emu_fault(fault);
    assert_int_equal(registry_list_versions(r, "s", &v, &n, errstr, sizeof(errstr)),
                     QA_ERR_INVALID);
    assert_non_null(strstr(errstr, "answer over"));
    free(body);
    free(fault);
    /* after all that, a normal answer */
    assert_int_equal(registry_register(r, "s", "\"int\"", &id, errstr, sizeof(errstr)), QA_OK);
    assert_int_equal(id, 1);
    registry_free(r);
    emu_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subject),
        cmocka_unit_test(test_build_url),
        cmocka_unit_test(test_redact_url),
        cmocka_unit_test(test_parse_id),
        cmocka_unit_test(test_parse_versions),
        cmocka_unit_test(test_parse_schema),
        cmocka_unit_test(test_describe_error),
        cmocka_unit_test_teardown(test_setup_against_emulator, teardown_emu),
        cmocka_unit_test_teardown(test_setup_failures, teardown_emu),
        cmocka_unit_test_teardown(test_hostile_registry, teardown_emu),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
