/*
 * config_impl.h — the inside of struct cfg, shared by config.c (parsing) and
 * config_doc.c (help, README rows, the effective-settings log line) only.
 * Nothing else may include it.
 */
#ifndef QALERT_CONFIG_IMPL_H
#define QALERT_CONFIG_IMPL_H

#include "common/config.h"

struct cfg_entry {
    const struct cfg_setting *s;
    char *def;          /* cfg_set_default() override, or NULL */
    char *value;        /* effective value, or NULL when unset */
    char *file;         /* the <VAR>_FILE path it came from, or NULL */
    const char *flag;   /* value from argv during cfg_parse() */
    long long num;      /* CFG_INT / CFG_BOOL, once validated */
};

struct cfg_prop {
    char *key;          /* librdkafka name: "security.protocol" */
    char *field;        /* log field: "kafka.security.protocol" */
    char *value;
    int secret;
};

struct cfg {
    char *program;
    char *summary;
    struct cfg_entry *entries;
    size_t n;
    struct cfg_prop *props;
    size_t nprops;
    char **positional;  /* NULL-terminated */
    int npositional;
};

/* The default in force: the override, else the table's. */
const char *cfg_entry_default(const struct cfg_entry *e);
/* Replaces *dst with a copy of src (NULL clears). */
enum qa_err cfg_set_str(char **dst, const char *src);

/* config_sources.c */

/* The value of NAME in a "K=V" array; NULL when absent or empty. */
const char *cfg_env_get(char **env, const char *name);
/* log_add_secret() on value and on each of its ','- or line-separated items. */
void cfg_add_secret(const char *value);
/* Registers the user:password of any URL in value (scheme://user:pw@host)
 * as a secret, so a URL setting that is not itself secret never logs them. */
void cfg_add_url_credentials(const char *value);
/* "SECURITY_PROTOCOL" or "security-protocol" (n bytes) → "security.protocol",
 * malloc'd (caller frees); NULL when empty or holding other characters. */
char *cfg_prop_key(const char *s, size_t n);
/* Adds or replaces a pass-through property; takes ownership of key. */
enum qa_err cfg_put_prop(struct cfg *cfg, char *key, const char *value);
/* QALERT_KAFKA_<PROP> variables (files = 0) or the secret properties'
 * QALERT_KAFKA_<PROP>_FILE ones (files = 1) into cfg's properties. */
enum qa_err cfg_env_props(struct cfg *cfg, char **env, int files,
                          char *errstr, size_t errstr_size);

#endif
