/*
 * test_config.c — settings: the priority of sources, value files, validation
 * at exact bounds, flag forms, positional arguments, the Kafka pass-through,
 * and that no secret ever reaches --help or the effective-settings log line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"

#define SECRET_A "s3cr3t-alpha-value"
#define SECRET_B "s3cr3t-bravo-value"
#define KAFKA_PW "kafka-pw-9d8e7f"

static const struct cfg_setting test_settings[] = {
    { "test-int", "QALERT_TEST_INT", CFG_INT, "5", "an int", 0, 1, 100, NULL },
    { "test-bool", "QALERT_TEST_BOOL", CFG_BOOL, "false", "a bool", 0, 0, 0, NULL },
    { "test-secret", "QALERT_TEST_SECRET", CFG_STR, NULL, "a secret",
      CFG_SECRET, 0, 0, NULL },
    { "test-str", "QALERT_TEST_STR", CFG_STR, "dflt", "a string", 0, 0, 0, NULL },
    { "test-sink", "QALERT_TEST_SINK", CFG_STR, NULL, "a choice", 0, 0, 0,
      "slack|opsgenie" },
    CFG_END
};

static const struct cfg_setting required_settings[] = {
    { "test-need", "QALERT_TEST_NEED", CFG_STR, NULL, "required", CFG_REQUIRED,
      0, 0, NULL },
    CFG_END
};

static const struct cfg_setting *const tables[] = {
    cfg_common_settings, cfg_daemon_settings, test_settings, NULL
};

static char errstr[512];

static struct cfg *new_cfg(void)
{
    struct cfg *cfg = cfg_new("qalert-test", "A test binary.", tables);
    assert_non_null(cfg);
    return cfg;
}

/* Parses argv (NULL-terminated, program name first) and env. */
#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)
static enum cfg_parse_result parse(struct cfg *cfg, char **argv, int argc, char **env)
{
    errstr[0] = '\0';
    return cfg_parse(cfg, argc, argv, env, errstr, sizeof(errstr));
}

static char *write_temp(const char *content)
{
    char *path = strdup("/tmp/qalert-test-cfg-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

static void test_priority(void **state)
{
    struct cfg *cfg = new_cfg();
    char *file = write_temp("from-file-value\r\n");
    char envfile[256];
    char *argv0[] = { "p", NULL };
    char *argv1[] = { "p", "--test-str", "from-flag", "--test-secret=flag-secret", NULL };
    snprintf(envfile, sizeof(envfile), "QALERT_TEST_SECRET_FILE=%s", file);
    char *env_none[] = { NULL };
    char *env[] = { "QALERT_TEST_STR=from-env", "QALERT_TEST_SECRET=env-secret",
                    envfile, NULL };

    assert_int_equal(parse(cfg, argv0, ARGC(argv0), env_none), CFG_PARSE_OK);
    assert_string_equal(cfg_str(cfg, "test-str"), "dflt");
    assert_null(cfg_str(cfg, "test-secret"));
    assert_false(cfg_is_set(cfg, "test-secret"));
    assert_string_equal(cfg_str(cfg, "kafka-brokers"), "localhost:9092");
    assert_int_equal(cfg_int(cfg, "shutdown-timeout-ms"), 10000);

    /* env over default; the file over env, CR/LF stripped */
    assert_int_equal(parse(cfg, argv0, ARGC(argv0), env), CFG_PARSE_OK);
    assert_string_equal(cfg_str(cfg, "test-str"), "from-env");
    assert_string_equal(cfg_str(cfg, "test-secret"), "from-file-value");
    assert_string_equal(cfg_source_file(cfg, "test-secret"), file);

    /* flags over everything */
    assert_int_equal(parse(cfg, argv1, ARGC(argv1), env), CFG_PARSE_OK);
    assert_string_equal(cfg_str(cfg, "test-str"), "from-flag");
    assert_string_equal(cfg_str(cfg, "test-secret"), "flag-secret");
    assert_null(cfg_source_file(cfg, "test-secret"));

    /* an empty variable counts as unset */
    char *env_empty[] = { "QALERT_TEST_STR=", NULL };
    assert_int_equal(parse(cfg, argv0, ARGC(argv0), env_empty), CFG_PARSE_OK);
    assert_string_equal(cfg_str(cfg, "test-str"), "dflt");

    unlink(file);
    free(file);
    cfg_free(cfg);
}

static void test_file_keeps_inner_lines(void **state)
{
    struct cfg *cfg = new_cfg();
    char *file = write_temp("one\ntwo\n\n");
    char envfile[256];
    char *argv[] = { "p", NULL };
    snprintf(envfile, sizeof(envfile), "QALERT_TEST_SECRET_FILE=%s", file);
    char *env[] = { envfile, NULL };

    assert_int_equal(parse(cfg, argv, ARGC(argv), env), CFG_PARSE_OK);
    assert_string_equal(cfg_str(cfg, "test-secret"), "one\ntwo");
    unlink(file);
    free(file);
    cfg_free(cfg);
}

static void test_unreadable_file(void **state)
{
    struct cfg *cfg = new_cfg();
    char *argv[] = { "p", NULL };
    char *env[] = { "QALERT_TEST_SECRET_FILE=/nonexistent/qalert/secret", NULL };

    assert_int_equal(parse(cfg, argv, ARGC(argv), env), CFG_PARSE_ERROR);
    assert_non_null(strstr(errstr, "QALERT_TEST_SECRET_FILE"));
    assert_non_null(strstr(errstr, "--test-secret"));
    assert_non_null(strstr(errstr, "/nonexistent/qalert/secret"));
    assert_null(strchr(errstr, '\n'));
    cfg_free(cfg);
}

static void expect_int(const char *value, enum cfg_parse_result want, long long got)
{
    struct cfg *cfg = new_cfg();
    char arg[128];
    snprintf(arg, sizeof(arg), "--test-int=%s", value);
    char *argv[] = { "p", arg, NULL };
    char *env[] = { NULL };

    assert_int_equal(parse(cfg, argv, ARGC(argv), env), want);
    if (want == CFG_PARSE_OK)
        assert_int_equal(cfg_int(cfg, "test-int"), got);
    else
        assert_non_null(strstr(errstr, "QALERT_TEST_INT (--test-int): "));
    cfg_free(cfg);
}

static void test_int_bounds(void **state)
{
    expect_int("1", CFG_PARSE_OK, 1);
    expect_int("100", CFG_PARSE_OK, 100);
    expect_int("0", CFG_PARSE_ERROR, 0);
    assert_string_equal(errstr, "QALERT_TEST_INT (--test-int): \"0\" is out of range 1..100");
    expect_int("101", CFG_PARSE_ERROR, 0);
    expect_int("-1", CFG_PARSE_ERROR, 0);
    expect_int("abc", CFG_PARSE_ERROR, 0);
    assert_string_equal(errstr, "QALERT_TEST_INT (--test-int): \"abc\" is not an integer");
    expect_int("12abc", CFG_PARSE_ERROR, 0);
    expect_int("", CFG_PARSE_ERROR, 0);
    expect_int(" 5", CFG_PARSE_ERROR, 0);
    expect_int("99999999999999999999", CFG_PARSE_ERROR, 0);
    expect_int("5\nx", CFG_PARSE_ERROR, 0);
    assert_null(strchr(errstr, '\n'));
}

static void test_int_from_env_names_variable(void **state)
{
    struct cfg *cfg = new_cfg();
    char *argv[] = { "p", NULL };
    char *env[] = { "QALERT_SHUTDOWN_TIMEOUT_MS=soon", NULL };

    assert_int_equal(parse(cfg, argv, ARGC(argv), env), CFG_PARSE_ERROR);
    assert_string_equal(errstr, "QALERT_SHUTDOWN_TIMEOUT_MS (--shutdown-timeout-ms): "
                                "\"soon\" is not an integer");
    cfg_free(cfg);
}

static void test_choices(void **state)
{
    struct cfg *cfg = new_cfg();
    char *ok[] = { "p", "--test-sink", "opsgenie", "--log-level=warn", NULL };
    char *bad[] = { "p", "--test-sink", "slac", NULL };
    char *bad2[] = { "p", "--log-level", "WARN", NULL };
    char *env[] = { NULL };

    assert_int_equal(parse(cfg, ok, ARGC(ok), env), CFG_PARSE_OK);
    assert_string_equal(cfg_str(cfg, "test-sink"), "opsgenie");
    assert_string_equal(cfg_str(cfg, "log-level"), "warn");
    assert_int_equal(parse(cfg, bad, ARGC(bad), env), CFG_PARSE_ERROR);
    assert_string_equal(errstr, "QALERT_TEST_SINK (--test-sink): \"slac\" is not one of "
                                "slack|opsgenie");
    assert_int_equal(parse(cfg, bad2, ARGC(bad2), env), CFG_PARSE_ERROR);
    assert_non_null(strstr(errstr, "QALERT_LOG_LEVEL (--log-level)"));
    cfg_free(cfg);
}

static void expect_bool(char **argv, int argc, char **env, int want)
{
    struct cfg *cfg = new_cfg();
    assert_int_equal(parse(cfg, argv, argc, env), CFG_PARSE_OK);
    assert_int_equal(cfg_bool(cfg, "test-bool"), want);
    cfg_free(cfg);
}

static void test_bool_forms(void **state)
{
    static const char *const yes[] = { "1", "true", "yes", "on", "TRUE", "On" };
    static const char *const no[] = { "0", "false", "no", "off", "FALSE" };
    char *env0[] = { NULL };
    char var[64], arg[64];

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        snprintf(var, sizeof(var), "QALERT_TEST_BOOL=%s", yes[i]);
        char *env[] = { var, NULL };
        char *argv[] = { "p", NULL };
        expect_bool(argv, 1, env, 1);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        snprintf(arg, sizeof(arg), "--test-bool=%s", no[i]);
        char *env[] = { "QALERT_TEST_BOOL=true", NULL };
        char *argv[] = { "p", arg, NULL };
        expect_bool(argv, 2, env, 0);
    }
    char *bare[] = { "p", "--test-bool", NULL };
    expect_bool(bare, 1 + 1, env0, 1);
    char *neg[] = { "p", "--no-test-bool", NULL };
    char *envt[] = { "QALERT_TEST_BOOL=yes", NULL };
    expect_bool(neg, 2, envt, 0);
    char *sep[] = { "p", "--test-bool", "off", NULL };
    expect_bool(sep, 3, envt, 0);

    /* A bare bool flag does not swallow a following positional argument. */
    struct cfg *cfg = new_cfg();
    char *pos[] = { "p", "--test-bool", "TOPIC", NULL };
    char **args;
    assert_int_equal(parse(cfg, pos, ARGC(pos), env0), CFG_PARSE_OK);
    assert_true(cfg_bool(cfg, "test-bool"));
    assert_int_equal(cfg_positional(cfg, &args), 1);
    assert_string_equal(args[0], "TOPIC");

    char *envbad[] = { "QALERT_TEST_BOOL=maybe", NULL };
    char *argv[] = { "p", NULL };
    assert_int_equal(parse(cfg, argv, ARGC(argv), envbad), CFG_PARSE_ERROR);
    assert_string_equal(errstr, "QALERT_TEST_BOOL (--test-bool): \"maybe\" is not a "
                                "boolean (true or false)");
    /* --no- only for booleans */
    char *noint[] = { "p", "--no-test-int", NULL };
    assert_int_equal(parse(cfg, noint, ARGC(noint), env0), CFG_PARSE_ERROR);
    assert_string_equal(errstr, "unknown flag --no-test-int (see --help)");
    cfg_free(cfg);
}

static void test_unknown_and_missing(void **state)
{
    struct cfg *cfg = new_cfg();
    char *env[] = { NULL };
    char *a1[] = { "p", "--nope=" SECRET_A, NULL };
    char *a2[] = { "p", "-x", NULL };
    char *a3[] = { "p", "--test-str", NULL };
    char *a4[] = { "p", "--kafka-", "x", NULL };

    assert_int_equal(parse(cfg, a1, ARGC(a1), env), CFG_PARSE_ERROR);
    assert_string_equal(errstr, "unknown flag --nope (see --help)");
    assert_int_equal(parse(cfg, a2, ARGC(a2), env), CFG_PARSE_ERROR);
    assert_string_equal(errstr, "unknown flag -x (see --help)");
    assert_int_equal(parse(cfg, a3, ARGC(a3), env), CFG_PARSE_ERROR);
    assert_string_equal(errstr, "--test-str needs a value");
    assert_int_equal(parse(cfg, a4, ARGC(a4), env), CFG_PARSE_ERROR);
    cfg_free(cfg);
}

static void test_help_and_version(void **state)
{
    struct cfg *cfg = new_cfg();
    /* --help wins even when the environment would not validate. */
    char *env[] = { "QALERT_TEST_INT=bad", "QALERT_TEST_SECRET_FILE=/nonexistent", NULL };
    char *h1[] = { "p", "--test-str", "x", "--help", NULL };
    char *h2[] = { "p", "-h", NULL };
    char *v[] = { "p", "--version", NULL };
    char *after[] = { "p", "--", "--help", NULL };

    assert_int_equal(parse(cfg, h1, ARGC(h1), env), CFG_PARSE_HELP);
    assert_int_equal(parse(cfg, h2, ARGC(h2), env), CFG_PARSE_HELP);
    assert_int_equal(parse(cfg, v, ARGC(v), env), CFG_PARSE_VERSION);
    char *env0[] = { NULL };
    assert_int_equal(parse(cfg, after, ARGC(after), env0), CFG_PARSE_OK);
    cfg_free(cfg);
}

static void test_positional(void **state)
{
    struct cfg *cfg = new_cfg();
    char *env[] = { NULL };
    char *argv[] = { "p", "print", "--test-int", "7", "TOPIC", "-", "--",
                     "--test-int", "-y", NULL };
    char **args;

    assert_int_equal(parse(cfg, argv, ARGC(argv), env), CFG_PARSE_OK);
    assert_int_equal(cfg_int(cfg, "test-int"), 7);
    assert_int_equal(cfg_positional(cfg, &args), 5);
    assert_string_equal(args[0], "print");
    assert_string_equal(args[1], "TOPIC");
    assert_string_equal(args[2], "-");
    assert_string_equal(args[3], "--test-int");
    assert_string_equal(args[4], "-y");
    assert_null(args[5]);
    cfg_free(cfg);
}

static const char *prop(const struct cfg *cfg, const char *key)
{
    const char *k, *v;
    for (size_t i = 0; i < cfg_kafka_prop_count(cfg); i++) {
        cfg_kafka_prop(cfg, i, &k, &v);
        if (strcmp(k, key) == 0)
            return v;
    }
    return NULL;
}

static void test_kafka_passthrough(void **state)
{
    struct cfg *cfg = new_cfg();
    char *file = write_temp(KAFKA_PW "\n");
    char pwfile[256];
    snprintf(pwfile, sizeof(pwfile), "QALERT_KAFKA_SASL_PASSWORD_FILE=%s", file);
    char *env[] = { "QALERT_KAFKA_SECURITY_PROTOCOL=SASL_SSL",
                    "QALERT_KAFKA_BROKERS=b1:9092",
                    "QALERT_KAFKA_PORT=19092", "QALERT_KAFKA_STATE=/tmp/x",
                    "QALERT_KAFKA_SASL_MECHANISM=PLAIN",
                    pwfile, "QALERT_KAFKA_SASL_PASSWORD=overridden-by-file",
                    "QALERT_KAFKA_EMPTY=", "QALERT_TOPIC_RAW=raw",
                    "QALERT_KAFKA_LOG_LEVEL=3", NULL };
    char *argv[] = { "p", "--kafka-client-rack=r1", "--kafka-sasl-mechanism",
                     "SCRAM-SHA-512", "--kafka-linger.ms", "10", NULL };

    assert_int_equal(parse(cfg, argv, ARGC(argv), env), CFG_PARSE_OK);
    assert_string_equal(cfg_str(cfg, "kafka-brokers"), "b1:9092");
    assert_string_equal(prop(cfg, "security.protocol"), "SASL_SSL");
    assert_string_equal(prop(cfg, "sasl.mechanism"), "SCRAM-SHA-512");
    assert_string_equal(prop(cfg, "sasl.password"), KAFKA_PW);
    assert_string_equal(prop(cfg, "client.rack"), "r1");
    assert_string_equal(prop(cfg, "linger.ms"), "10");
    assert_null(prop(cfg, "brokers"));
    assert_null(prop(cfg, "port"));
    assert_null(prop(cfg, "state"));
    assert_null(prop(cfg, "empty"));
    assert_string_equal(prop(cfg, "log_level"), "3"); /* not "log.level" */
    assert_int_equal(cfg_kafka_prop_count(cfg), 6);

    /* order: environment first, in its order, then flags */
    const char *k, *v;
    cfg_kafka_prop(cfg, 0, &k, &v);
    assert_string_equal(k, "security.protocol");
    cfg_kafka_prop(cfg, 5, &k, &v);
    assert_string_equal(k, "linger.ms");

    char *bad[] = { "p", NULL };
    char *envbad[] = { "QALERT_KAFKA_SSL_KEY_PASSWORD_FILE=/nonexistent/pw", NULL };
    assert_int_equal(parse(cfg, bad, ARGC(bad), envbad), CFG_PARSE_ERROR);
    assert_non_null(strstr(errstr, "QALERT_KAFKA_SSL_KEY_PASSWORD_FILE"));
    unlink(file);
    free(file);
    cfg_free(cfg);
}

static void test_secrets_never_shown(void **state)
{
    struct cfg *cfg = new_cfg();
    char *text = NULL;
    size_t len = 0;
    FILE *out;
    char secret_env[] = "QALERT_TEST_SECRET=" SECRET_A "," SECRET_B;
    char *env[] = { secret_env, "QALERT_KAFKA_SASL_PASSWORD=" KAFKA_PW, NULL };
    char *argv[] = { "p", NULL };

    assert_int_equal(cfg_set_default(cfg, "test-str", "other-default"), QA_OK);
    assert_int_equal(cfg_set_default(cfg, "no-such", "x"), QA_ERR_NOT_FOUND);
    assert_int_equal(parse(cfg, argv, ARGC(argv), env), CFG_PARSE_OK);

    out = open_memstream(&text, &len);
    cfg_print_help(cfg, out);
    cfg_print_markdown(cfg, out);
    fclose(out);
    assert_null(strstr(text, SECRET_A));
    assert_null(strstr(text, SECRET_B));
    assert_null(strstr(text, KAFKA_PW));
    assert_non_null(strstr(text, "Usage: qalert-test"));
    assert_non_null(strstr(text, "A test binary."));
    assert_non_null(strstr(text, "QALERT_KAFKA_BROKERS"));
    assert_non_null(strstr(text, "default: other-default"));
    const char *line = strstr(text, "--test-secret VALUE");
    assert_non_null(line);
    assert_true(strstr(line, "default: (secret)") < strchr(line, '\n'));
    assert_non_null(strstr(text, "| `QALERT_TEST_INT` | `--test-int` | `5` | an int |\n"));
    assert_non_null(strstr(text, "| `QALERT_TEST_SECRET` | `--test-secret` | | a secret"));
    assert_non_null(strstr(text, "one of `slack`, `opsgenie`"));
    free(text);

    text = NULL;
    out = open_memstream(&text, &len);
    log_set_stream(out);
    cfg_log_effective(cfg);
    /* The logger redacts registered secrets and each comma-separated item. */
    log_info("leak test", LOG_S("a", SECRET_B));
    log_set_stream(NULL);
    fclose(out);
    assert_null(strstr(text, SECRET_A));
    assert_null(strstr(text, SECRET_B));
    assert_null(strstr(text, KAFKA_PW));
    cJSON *o = cJSON_ParseWithLength(text, (size_t)(strchr(text, '\n') - text));
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "msg")->valuestring, "configuration");
    assert_string_equal(cJSON_GetObjectItem(o, "test-secret")->valuestring, "(secret)");
    assert_string_equal(cJSON_GetObjectItem(o, "kafka.sasl.password")->valuestring,
                        "(secret)");
    assert_string_equal(cJSON_GetObjectItem(o, "test-str")->valuestring, "other-default");
    assert_int_equal(cJSON_GetObjectItem(o, "test-int")->valueint, 5);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "test-bool")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "group-id")));
    cJSON_Delete(o);
    free(text);

    /* A bad secret value is not echoed in the error. */
    char *env2[] = { NULL };
    char *argv2[] = { "p", "--test-secret", SECRET_A, "--test-int", SECRET_B, NULL };
    assert_int_equal(parse(cfg, argv2, ARGC(argv2), env2), CFG_PARSE_ERROR);
    assert_non_null(strstr(errstr, "QALERT_TEST_INT"));
    cfg_free(cfg);
}

/* A URL setting that is not secret still never logs its user:password. */
static void test_url_credentials_redacted(void **state)
{
    struct cfg *cfg = new_cfg();
    char *text = NULL;
    size_t len = 0;
    FILE *out;
    char url_env[] = "QALERT_SCHEMA_REGISTRY_URL=https://reg-user:url-pw-4242@registry:8081/x";
    char *env[] = { url_env, NULL };
    char *argv[] = { "p", NULL };

    assert_int_equal(parse(cfg, argv, ARGC(argv), env), CFG_PARSE_OK);
    out = open_memstream(&text, &len);
    log_set_stream(out);
    cfg_log_effective(cfg);
    log_info("later", LOG_S("password_alone", "url-pw-4242"));
    log_set_stream(NULL);
    fclose(out);
    assert_null(strstr(text, "url-pw-4242"));
    assert_null(strstr(text, "reg-user:"));
    assert_non_null(strstr(text, "@registry:8081/x"));
    free(text);
    cfg_free(cfg);
}

static void test_required(void **state)
{
    const struct cfg_setting *const t[] = { cfg_common_settings, required_settings, NULL };
    struct cfg *cfg = cfg_new("p", "s", t);
    char *env0[] = { NULL };
    char *env1[] = { "QALERT_TEST_NEED=x", NULL };
    char *argv[] = { "p", NULL };

    assert_int_equal(parse(cfg, argv, ARGC(argv), env0), CFG_PARSE_ERROR);
    assert_string_equal(errstr, "QALERT_TEST_NEED (--test-need) is required");
    assert_int_equal(parse(cfg, argv, ARGC(argv), env1), CFG_PARSE_OK);
    assert_string_equal(cfg_str(cfg, "test-need"), "x");
    cfg_free(cfg);
}

static void expect_split(const char *s, char sep, size_t want_n, const char *const *want)
{
    char **items;
    size_t n = 99;

    assert_int_equal(cfg_split_list(s, sep, &items, &n), QA_OK);
    assert_int_equal(n, want_n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(items[i], want[i]);
    assert_null(items[n]);
    free(items);
}

static void test_split_list(void **state)
{
    const char *const abc[] = { "a", "b b", "c" };
    const char *const xy[] = { "x", "y, z" };
    const char *const one[] = { "one" };

    expect_split(" a , b b,,c ,", ',', 3, abc);
    expect_split("x\r\n\n  \ny, z\n", '\n', 2, xy);
    expect_split("one", ',', 1, one);
    expect_split("", ',', 0, NULL);
    expect_split(" , ,\t", ',', 0, NULL);
    expect_split(NULL, ',', 0, NULL);
}

static void test_read_value_file(void **state)
{
    char *file = write_temp("abc\r\n\r\n");
    char *out;

    assert_int_equal(cfg_read_value_file(file, &out, errstr, sizeof(errstr)), QA_OK);
    assert_string_equal(out, "abc");
    free(out);
    unlink(file);
    free(file);
    file = write_temp("");
    assert_int_equal(cfg_read_value_file(file, &out, errstr, sizeof(errstr)), QA_OK);
    assert_string_equal(out, "");
    free(out);
    unlink(file);
    free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priority),
        cmocka_unit_test(test_file_keeps_inner_lines),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_int_bounds),
        cmocka_unit_test(test_int_from_env_names_variable),
        cmocka_unit_test(test_choices),
        cmocka_unit_test(test_bool_forms),
        cmocka_unit_test(test_unknown_and_missing),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_positional),
        cmocka_unit_test(test_kafka_passthrough),
        cmocka_unit_test(test_secrets_never_shown),
        cmocka_unit_test(test_url_credentials_redacted),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_split_list),
        cmocka_unit_test(test_read_value_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
