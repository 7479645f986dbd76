/*
 * config_sources.c — where settings come from besides defaults and flags:
 * the environment, value files (`<VAR>_FILE`) and the QALERT_KAFKA_<PROP>
 * pass-through to librdkafka; also list splitting.
 *
 * Kept apart from config.c so each reads in one sitting. It must never put a
 * secret's content into an error message: errors name the variable and the
 * path only.
 */
#include "common/config.h"
#include "common/config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Secrets files are a few lines; anything bigger is a wrong path. */
#define CFG_FILE_MAX (1024 * 1024)

/* QALERT_KAFKA_* variables that belong to scripts/kafka.sh (SPEC §10), not
 * to librdkafka: the test harness exports them to every process. */
static const char *const kafka_reserved[] = {
    "PORT", "CONTROLLER_PORT", "STATE", "START_TIMEOUT", NULL
};

const char *cfg_env_get(char **env, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; env && env[i]; i++) {
        if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
            return env[i][n + 1] ? env[i] + n + 1 : NULL;
    }
    return NULL;
}

enum qa_err cfg_read_value_file(const char *path, char **out, char *errstr,
                                size_t errstr_size)
{
    enum qa_err err = QA_OK;
    FILE *f = NULL;
    char *buf = NULL;
    size_t len;

    *out = NULL;
    if (!(f = fopen(path, "rb"))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_IO, "cannot read \"%s\": %s",
                      path, strerror(errno));
        goto out;
    }
    if (!(buf = malloc(CFG_FILE_MAX + 1))) {
        err = QA_ERR_NOMEM;
        goto out;
    }
    len = fread(buf, 1, CFG_FILE_MAX + 1, f);
    if (ferror(f)) {
        err = qa_errf(errstr, errstr_size, QA_ERR_IO, "cannot read \"%s\"", path);
        goto out;
    }
    if (len > CFG_FILE_MAX) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                      "\"%s\" is larger than %d bytes", path, CFG_FILE_MAX);
        goto out;
    }
    if (memchr(buf, '\0', len)) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                      "\"%s\" holds a NUL byte", path);
        goto out;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    *out = buf;
    buf = NULL;
out:
    free(buf);
    if (f)
        fclose(f);
    return err;
}

/* Registers a secret and each of its comma- or line-separated items, so that
 * one of several rotated secrets is redacted when it appears alone. */
void cfg_add_secret(const char *value)
{
    char **items;
    size_t n;

    if (!value)
        return;
    log_add_secret(value);
    for (const char *sep = ",\n"; *sep; sep++) {
        if (cfg_split_list(value, *sep, &items, &n) != QA_OK)
            continue;
        for (size_t i = 0; i < n; i++)
            log_add_secret(items[i]);
        free(items);
    }
}

void cfg_add_url_credentials(const char *value)
{
    for (const char *p = value; p && (p = strstr(p, "://")) != NULL;) {
        const char *auth = p + 3;
        size_t alen = strcspn(auth, "/?#, \n");
        const char *at = NULL;
        for (size_t i = 0; i < alen; i++) {
            if (auth[i] == '@')
                at = auth + i;
        }
        if (at && at > auth) {
            char *userinfo = strndup(auth, (size_t)(at - auth));
            if (userinfo) {
                char *colon = strchr(userinfo, ':');
                log_add_secret(userinfo);
                if (colon)
                    log_add_secret(colon + 1);
                free(userinfo);
            }
        }
        p = auth + alen;
    }
}

static int secret_prop(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") ||
           strcmp(key, "ssl.key.pem") == 0 ||
           strcmp(key, "sasl.oauthbearer.config") == 0;
}

char *cfg_prop_key(const char *s, size_t n)
{
    char *key;

    if (n == 0 || !(key = malloc(n + 1)))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '_' || c == '-' || c == '.')
            key[i] = '.';
        else if (isalnum(c))
            key[i] = (char)tolower(c);
        else {
            free(key);
            return NULL;
        }
    }
    key[n] = '\0';
    /* librdkafka's one string property with an underscore in its name. */
    if (strcmp(key, "log.level") == 0)
        key[3] = '_';
    return key;
}

enum qa_err cfg_put_prop(struct cfg *cfg, char *key, const char *value)
{
    struct cfg_prop *p, *grown;
    size_t flen = strlen(key) + sizeof("kafka.");

    for (size_t i = 0; i < cfg->nprops; i++) {
        if (strcmp(cfg->props[i].key, key) == 0) {
            free(key);
            if (cfg->props[i].secret)
                cfg_add_secret(value);
            return cfg_set_str(&cfg->props[i].value, value);
        }
    }
    grown = realloc(cfg->props, (cfg->nprops + 1) * sizeof(*grown));
    if (!grown) {
        free(key);
        return QA_ERR_NOMEM;
    }
    cfg->props = grown;
    p = &cfg->props[cfg->nprops];
    memset(p, 0, sizeof(*p));
    p->key = key;
    p->secret = secret_prop(key);
    p->field = malloc(flen);
    p->value = strdup(value);
    cfg->nprops++;
    if (!p->field || !p->value)
        return QA_ERR_NOMEM;
    snprintf(p->field, flen, "kafka.%s", key);
    if (p->secret)
        cfg_add_secret(value);
    return QA_OK;
}

/* Is NAME (n bytes) a setting's variable, or a secret's <VAR>_FILE? */
static int is_setting_var(const struct cfg *cfg, const char *name, size_t n)
{
    for (size_t i = 0; i < cfg->n; i++) {
        const struct cfg_setting *s = cfg->entries[i].s;
        size_t len = strlen(s->env);
        if (len == n && strncmp(s->env, name, n) == 0)
            return 1;
        if ((s->flags & CFG_SECRET) && n == len + 5 &&
            strncmp(s->env, name, len) == 0 && strncmp(name + len, "_FILE", 5) == 0)
            return 1;
    }
    return 0;
}

/* QALERT_KAFKA_<PROP>=value → <prop>, in the environment's order; with
 * files set, only the QALERT_KAFKA_<PROP>_FILE of secret properties (read
 * after the plain ones, so that they win as for settings). */
enum qa_err cfg_env_props(struct cfg *cfg, char **env, int files,
                          char *errstr, size_t errstr_size)
{
    static const char prefix[] = "QALERT_KAFKA_";
    const size_t plen = sizeof(prefix) - 1;

    for (size_t i = 0; env && env[i]; i++) {
        const char *var = env[i], *eq = strchr(var, '=');
        const char *name = var + plen, *value;
        char *key, *content = NULL, why[512];
        int reserved = 0, is_file = 0;
        enum qa_err err;
        size_t n;

        if (!eq || strncmp(var, prefix, plen) != 0 || !eq[1] ||
            is_setting_var(cfg, var, (size_t)(eq - var)))
            continue;
        n = (size_t)(eq - name);
        for (size_t r = 0; kafka_reserved[r]; r++) {
            if (strlen(kafka_reserved[r]) == n && strncmp(name, kafka_reserved[r], n) == 0)
                reserved = 1;
        }
        if (reserved || !(key = cfg_prop_key(name, n)))
            continue;
        /* "sasl.password.file" names the file of "sasl.password"; no real
         * librdkafka property ends in ".file". */
        if (n > 5 && strcmp(key + n - 5, ".file") == 0) {
            key[n - 5] = '\0';
            if (secret_prop(key))
                is_file = 1;
            else
                key[n - 5] = '.';
        }
        if (is_file != files) {
            free(key);
            continue;
        }
        value = eq + 1;
        if (is_file) {
            err = cfg_read_value_file(value, &content, why, sizeof(why));
            if (err) {
                free(key);
                return qa_errf(errstr, errstr_size, err, "%.*s: %s",
                               (int)(eq - var), var, why);
            }
            value = content;
        }
        err = cfg_put_prop(cfg, key, value);
        free(content);
        if (err)
            return qa_errf(errstr, errstr_size, err, "out of memory");
    }
    return QA_OK;
}

/* The next item of a list with its blanks trimmed, skipping empty ones;
 * 0 when none is left. */
static int next_item(const char **p, char sep, const char **start, size_t *len)
{
    while (**p) {
        const char *b = *p, *e = strchr(b, sep);
        if (!e)
            e = b + strlen(b);
        *p = *e ? e + 1 : e;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b) {
            *start = b;
            *len = (size_t)(e - b);
            return 1;
        }
    }
    return 0;
}

enum qa_err cfg_split_list(const char *s, char sep, char ***items, size_t *n)
{
    const char *p = s ? s : "", *start;
    size_t count = 0, bytes = 0, len;
    char **list, *text;

    *items = NULL;
    *n = 0;
    while (next_item(&p, sep, &start, &len)) {
        count++;
        bytes += len + 1;
    }
    list = malloc((count + 1) * sizeof(*list) + bytes);
    if (!list)
        return QA_ERR_NOMEM;
    text = (char *)(list + count + 1);
    p = s ? s : "";
    for (size_t i = 0; next_item(&p, sep, &start, &len); i++) {
        memcpy(text, start, len);
        text[len] = '\0';
        list[i] = text;
        text += len + 1;
    }
    list[count] = NULL;
    *items = list;
    *n = count;
    return QA_OK;
}
