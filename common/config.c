/*
 * config.c — settings from defaults, the environment, `<VAR>_FILE` and the
 * command line, driven by the tables of config.h (SPEC §3).
 *
 * It exists so that every binary parses, validates and documents its
 * settings the same way: one table feeds parsing, --help and the README.
 * It must never print a secret: secrets are handed to log_add_secret() as
 * soon as they are read, and help, markdown and the effective-settings log
 * line show "(secret)" in their place. Error messages quote values only for
 * settings that are not secret.
 */
#include "common/config.h"
#include "common/config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

const struct cfg_setting cfg_common_settings[] = {
    { "kafka-brokers", "QALERT_KAFKA_BROKERS", CFG_STR, "localhost:9092",
      "Kafka bootstrap servers (host:port,...)", 0, 0, 0, NULL },
    { "topic-raw", "QALERT_TOPIC_RAW", CFG_STR, "genesys.events.raw",
      "raw events topic", 0, 0, 0, NULL },
    { "topic-alerts", "QALERT_TOPIC_ALERTS", CFG_STR, "qalert.alerts",
      "alerts topic", 0, 0, 0, NULL },
    { "log-level", "QALERT_LOG_LEVEL", CFG_STR, "info",
      "least severe level logged", 0, 0, 0, "debug|info|warn|error" },
    { "shutdown-timeout-ms", "QALERT_SHUTDOWN_TIMEOUT_MS", CFG_INT, "10000",
      "on SIGTERM/SIGINT, finish in-flight work and exit within this time",
      0, 0, 3600000, NULL },
    { "schema-registry-url", "QALERT_SCHEMA_REGISTRY_URL", CFG_STR, NULL,
      "when set, records use the Confluent wire format with registry ids",
      0, 0, 0, NULL },
    { "schema-registry-user-info", "QALERT_SCHEMA_REGISTRY_USER_INFO", CFG_STR, NULL,
      "schema registry Basic auth as user:password", CFG_SECRET, 0, 0, NULL },
    CFG_END
};

const struct cfg_setting cfg_daemon_settings[] = {
    { "group-id", "QALERT_GROUP_ID", CFG_STR, NULL, "consumer group",
      0, 0, 0, NULL },
    { "admin-addr", "QALERT_ADMIN_ADDR", CFG_STR, "0.0.0.0:9400",
      "address of /healthz, /readyz and /metrics", 0, 0, 0, NULL },
    CFG_END
};

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

const char *cfg_entry_default(const struct cfg_entry *e)
{
    return e->def ? e->def : e->s->def;
}

static struct cfg_entry *find_entry(const struct cfg *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n; i++) {
        if (strcmp(cfg->entries[i].s->name, name) == 0)
            return &cfg->entries[i];
    }
    return NULL;
}

/* A name unknown to every table is a programming error: say so once. */
static const struct cfg_entry *lookup(const struct cfg *cfg, const char *name)
{
    const struct cfg_entry *e = find_entry(cfg, name);

    if (!e)
        log_error("unknown setting asked for", LOG_S("setting", name));
    return e;
}

struct cfg *cfg_new(const char *program, const char *summary,
                    const struct cfg_setting *const *tables)
{
    struct cfg *cfg = calloc(1, sizeof(*cfg));
    size_t cap = 0;

    if (!cfg)
        return NULL;
    cfg->program = xstrdup(program ? program : "qalert");
    cfg->summary = xstrdup(summary ? summary : "");
    if (!cfg->program || !cfg->summary)
        goto fail;
    for (size_t t = 0; tables && tables[t]; t++) {
        for (const struct cfg_setting *s = tables[t]; s->name; s++)
            cap++;
    }
    cfg->entries = calloc(cap ? cap : 1, sizeof(*cfg->entries));
    if (!cfg->entries)
        goto fail;
    for (size_t t = 0; tables && tables[t]; t++) {
        for (const struct cfg_setting *s = tables[t]; s->name; s++) {
            /* A binary may repeat a common setting; the first table wins. */
            if (!find_entry(cfg, s->name))
                cfg->entries[cfg->n++].s = s;
        }
    }
    return cfg;
fail:
    cfg_free(cfg);
    return NULL;
}

static void clear_parsed(struct cfg *cfg)
{
    for (size_t i = 0; i < cfg->n; i++) {
        free(cfg->entries[i].value);
        free(cfg->entries[i].file);
        cfg->entries[i].value = NULL;
        cfg->entries[i].file = NULL;
        cfg->entries[i].flag = NULL;
        cfg->entries[i].num = 0;
    }
    for (size_t i = 0; i < cfg->nprops; i++) {
        free(cfg->props[i].key);
        free(cfg->props[i].field);
        free(cfg->props[i].value);
    }
    free(cfg->props);
    cfg->props = NULL;
    cfg->nprops = 0;
    free(cfg->positional);
    cfg->positional = NULL;
    cfg->npositional = 0;
}

void cfg_free(struct cfg *cfg)
{
    if (!cfg)
        return;
    clear_parsed(cfg);
    for (size_t i = 0; i < cfg->n; i++)
        free(cfg->entries[i].def);
    free(cfg->entries);
    free(cfg->program);
    free(cfg->summary);
    free(cfg);
}

enum qa_err cfg_set_default(struct cfg *cfg, const char *name, const char *def)
{
    struct cfg_entry *e = find_entry(cfg, name);
    char *copy = NULL;

    if (!e)
        return QA_ERR_NOT_FOUND;
    if (def && !(copy = strdup(def)))
        return QA_ERR_NOMEM;
    free(e->def);
    e->def = copy;
    /* A NULL default cannot be told from "not overridden": store "" then. */
    if (!def && e->s->def && !(e->def = strdup("")))
        return QA_ERR_NOMEM;
    return QA_OK;
}

/* Replaces *dst with a copy of src (NULL clears). */
enum qa_err cfg_set_str(char **dst, const char *src)
{
    char *copy = NULL;

    if (src && !(copy = strdup(src)))
        return QA_ERR_NOMEM;
    free(*dst);
    *dst = copy;
    return QA_OK;
}

/* Copies s into buf as one printable line fit for an error message, in
 * double quotes when quote is set, cut with "..." when long. */
static const char *printable(const char *s, int quote, char *buf, size_t n)
{
    size_t o = 0, len = strlen(s), max = n - 6; /* quotes, "...", NUL */

    if (n < 8)
        return "";
    if (quote)
        buf[o++] = '"';
    for (size_t i = 0; i < len && i < max; i++)
        buf[o++] = isprint((unsigned char)s[i]) ? s[i] : '?';
    if (len > max) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    if (quote)
        buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

static const char *shown(const struct cfg_entry *e, char *buf, size_t n)
{
    return (e->s->flags & CFG_SECRET) ? "the value" : printable(e->value, 1, buf, n);
}

static int parse_bool(const char *s, long long *out)
{
    static const char *const yes[] = { "1", "true", "yes", "on", NULL };
    static const char *const no[] = { "0", "false", "no", "off", NULL };

    for (size_t i = 0; yes[i]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int in_choices(const char *choices, const char *v)
{
    size_t vlen = strlen(v);

    for (const char *c = choices; c && *c;) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == vlen && strncmp(c, v, len) == 0)
            return 1;
        c = bar ? bar + 1 : c + len;
    }
    return 0;
}

static enum qa_err validate(struct cfg_entry *e, char *errstr, size_t errstr_size)
{
    const struct cfg_setting *s = e->s;
    char q[80], *end;

    if (!e->value) {
        if (s->flags & CFG_REQUIRED)
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                           "%s (--%s) is required", s->env, s->name);
        return QA_OK;
    }
    switch (s->type) {
    case CFG_INT:
        errno = 0;
        e->num = strtoll(e->value, &end, 10);
        if (!(isdigit((unsigned char)e->value[0]) || e->value[0] == '-') ||
            *end || errno == ERANGE)
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                           "%s (--%s): %s is not an integer", s->env, s->name,
                           shown(e, q, sizeof(q)));
        if (s->min < s->max && (e->num < s->min || e->num > s->max))
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                           "%s (--%s): %s is out of range %lld..%lld", s->env,
                           s->name, shown(e, q, sizeof(q)), s->min, s->max);
        break;
    case CFG_BOOL:
        if (parse_bool(e->value, &e->num) != 0)
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                           "%s (--%s): %s is not a boolean (true or false)",
                           s->env, s->name, shown(e, q, sizeof(q)));
        break;
    case CFG_STR:
        break;
    }
    if (s->choices && !in_choices(s->choices, e->value))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "%s (--%s): %s is not one of %s", s->env, s->name,
                       shown(e, q, sizeof(q)), s->choices);
    return QA_OK;
}

static struct cfg_entry *find_entry_n(const struct cfg *cfg, const char *name,
                                      size_t n)
{
    for (size_t i = 0; i < cfg->n; i++) {
        const char *s = cfg->entries[i].s->name;
        if (strlen(s) == n && strncmp(s, name, n) == 0)
            return &cfg->entries[i];
    }
    return NULL;
}

struct flag_prop {
    char *key;
    const char *value;
};

/* Reads flags into entries' ->flag and *fp (--kafka-<prop>), positional
 * arguments into cfg. Stops at --help or --version. */
static enum cfg_parse_result walk_argv(struct cfg *cfg, int argc, char **argv,
                                       struct flag_prop *fp, size_t *nfp,
                                       char *errstr, size_t errstr_size)
{
    int flags_done = 0;
    char q[80], flag[80];

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *name, *eq, *value;
        struct cfg_entry *e;
        size_t n;
        int negate = 0;

        if (flags_done || a[0] != '-' || a[1] == '\0') {
            cfg->positional[cfg->npositional++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            flags_done = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return CFG_PARSE_HELP;
        if (strcmp(a, "--version") == 0)
            return CFG_PARSE_VERSION;
        if (a[1] != '-')
            goto unknown;
        name = a + 2;
        eq = strchr(name, '=');
        n = eq ? (size_t)(eq - name) : strlen(name);
        e = find_entry_n(cfg, name, n);
        if (!e && !eq && n > 3 && strncmp(name, "no-", 3) == 0) {
            e = find_entry_n(cfg, name + 3, n - 3);
            if (e && e->s->type != CFG_BOOL)
                e = NULL;
            negate = e != NULL;
        }
        if (e) {
            if (negate)
                value = "false";
            else if (eq)
                value = eq + 1;
            else if (e->s->type == CFG_BOOL) {
                long long b;
                /* A bare bool flag takes the next word only when it is one. */
                value = "true";
                if (i + 1 < argc && parse_bool(argv[i + 1], &b) == 0)
                    value = argv[++i];
            } else if (i + 1 < argc)
                value = argv[++i];
            else
                goto missing;
            e->flag = value;
            continue;
        }
        if (n > 6 && strncmp(name, "kafka-", 6) == 0) {
            char *key = cfg_prop_key(name + 6, n - 6);
            if (!key)
                goto unknown;
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                free(key);
                goto missing;
            }
            fp[(*nfp)++] = (struct flag_prop){ key, value };
            continue;
        }
    unknown:
        /* The flag without its "=value": the value could be a secret. */
        snprintf(flag, sizeof(flag), "%.*s", (int)strcspn(a, "="), a);
        qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                "unknown flag %s (see --help)", printable(flag, 0, q, sizeof(q)));
        return CFG_PARSE_ERROR;
    missing:
        qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s needs a value",
                printable(a, 0, q, sizeof(q)));
        return CFG_PARSE_ERROR;
    }
    return CFG_PARSE_OK;
}

static enum qa_err assign(struct cfg_entry *e, const char *value)
{
    if (cfg_set_str(&e->value, value) != QA_OK)
        return QA_ERR_NOMEM;
    if (e->s->flags & CFG_SECRET)
        cfg_add_secret(value);
    else
        cfg_add_url_credentials(value);
    return QA_OK;
}

/* Default, environment variable, then a secret's <VAR>_FILE. */
static enum qa_err read_env(struct cfg *cfg, char **env, char *errstr,
                            size_t errstr_size)
{
    char var[256], why[512];

    for (size_t i = 0; i < cfg->n; i++) {
        struct cfg_entry *e = &cfg->entries[i];
        const char *def = cfg_entry_default(e), *v, *path;
        char *content = NULL;
        enum qa_err err;

        if (assign(e, def && *def ? def : NULL) != QA_OK)
            return QA_ERR_NOMEM;
        if ((v = cfg_env_get(env, e->s->env)) && assign(e, v) != QA_OK)
            return QA_ERR_NOMEM;
        if (!(e->s->flags & CFG_SECRET))
            continue;
        if (snprintf(var, sizeof(var), "%s_FILE", e->s->env) >= (int)sizeof(var))
            continue;
        if (!(path = cfg_env_get(env, var)))
            continue;
        err = cfg_read_value_file(path, &content, why, sizeof(why));
        if (err)
            return qa_errf(errstr, errstr_size, err, "%s (--%s): %s", var,
                           e->s->name, why);
        err = assign(e, content);
        free(content);
        if (err || !(e->file = strdup(path)))
            return QA_ERR_NOMEM;
    }
    return QA_OK;
}

enum cfg_parse_result cfg_parse(struct cfg *cfg, int argc, char **argv,
                                char **env, char *errstr, size_t errstr_size)
{
    enum cfg_parse_result res = CFG_PARSE_ERROR;
    struct flag_prop *fp = NULL;
    size_t nfp = 0, i = 0;
    enum qa_err err = QA_OK;

    clear_parsed(cfg);
    if (argc < 0)
        argc = 0;
    cfg->positional = calloc((size_t)argc + 1, sizeof(*cfg->positional));
    fp = calloc((size_t)argc + 1, sizeof(*fp));
    if (!cfg->positional || !fp)
        goto nomem;
    res = walk_argv(cfg, argc, argv, fp, &nfp, errstr, errstr_size);
    if (res != CFG_PARSE_OK)
        goto out;
    res = CFG_PARSE_ERROR;
    err = read_env(cfg, env, errstr, errstr_size);
    for (i = 0; !err && i < cfg->n; i++) {
        struct cfg_entry *e = &cfg->entries[i];
        if (!e->flag)
            continue;
        free(e->file);
        e->file = NULL;
        err = assign(e, e->flag);
    }
    if (!err)
        err = cfg_env_props(cfg, env, 0, errstr, errstr_size);
    if (!err)
        err = cfg_env_props(cfg, env, 1, errstr, errstr_size);
    for (i = 0; !err && i < nfp; i++) {
        err = cfg_put_prop(cfg, fp[i].key, fp[i].value);
        fp[i].key = NULL;
    }
    if (err == QA_ERR_NOMEM)
        goto nomem;
    if (err)
        goto out;
    for (i = 0; i < cfg->n; i++) {
        if (validate(&cfg->entries[i], errstr, errstr_size) != QA_OK)
            goto out;
    }
    res = CFG_PARSE_OK;
    goto out;
nomem:
    qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory reading settings");
    res = CFG_PARSE_ERROR;
out:
    for (i = 0; fp && i < nfp; i++)
        free(fp[i].key);
    free(fp);
    return res;
}

const char *cfg_str(const struct cfg *cfg, const char *name)
{
    const struct cfg_entry *e = lookup(cfg, name);
    return e ? e->value : NULL;
}

long long cfg_int(const struct cfg *cfg, const char *name)
{
    const struct cfg_entry *e = lookup(cfg, name);
    return e ? e->num : 0;
}

int cfg_bool(const struct cfg *cfg, const char *name)
{
    const struct cfg_entry *e = lookup(cfg, name);
    return e ? e->num != 0 : 0;
}

int cfg_is_set(const struct cfg *cfg, const char *name)
{
    const struct cfg_entry *e = lookup(cfg, name);
    return e && e->value;
}

const char *cfg_source_file(const struct cfg *cfg, const char *name)
{
    const struct cfg_entry *e = lookup(cfg, name);
    return e ? e->file : NULL;
}

int cfg_positional(const struct cfg *cfg, char ***argv_out)
{
    *argv_out = cfg->positional;
    return cfg->npositional;
}

size_t cfg_kafka_prop_count(const struct cfg *cfg)
{
    return cfg->nprops;
}

void cfg_kafka_prop(const struct cfg *cfg, size_t i, const char **key,
                    const char **value)
{
    *key = i < cfg->nprops ? cfg->props[i].key : NULL;
    *value = i < cfg->nprops ? cfg->props[i].value : NULL;
}

