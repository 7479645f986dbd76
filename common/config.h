/*
 * config.h — settings: one table drives parsing, validation, --help and the
 * README's table (SPEC §3).
 *
 * Each binary passes a NULL-terminated list of setting tables (the common one
 * first). A value comes from, in rising priority: the default, the
 * environment variable, `<VAR>_FILE` (secrets: a path to a file holding the
 * value, trailing newline stripped), then the `--flag value` /
 * `--flag=value` command line. `QALERT_KAFKA_<PROP>` variables and
 * `--kafka-<prop>` flags that name no setting pass through to librdkafka as
 * `<prop>` in lower case with `_`/`-` turned into `.`.
 * Secret values never leave this module except through cfg_str(); --help and
 * cfg_log_effective() print "(secret)" and log_add_secret() is called on each
 * (and on each of its comma- or line-separated items), so the logger redacts
 * them wherever they appear. Kafka pass-through properties whose name holds
 * "password" or "secret" are treated the same way and may also come from
 * `QALERT_KAFKA_<PROP>_FILE`.
 * An environment variable set to the empty string counts as unset.
 */
#ifndef QALERT_CONFIG_H
#define QALERT_CONFIG_H

#include <stdio.h>

#include "common/err.h"

enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL };

enum cfg_flags {
    CFG_SECRET = 1 << 0,   /* never printed; also read from <VAR>_FILE */
    CFG_REQUIRED = 1 << 1, /* no default: parsing fails when unset */
};

struct cfg_setting {
    const char *name;    /* kebab-case flag without "--": "kafka-brokers" */
    const char *env;     /* "QALERT_KAFKA_BROKERS" */
    enum cfg_type type;
    const char *def;     /* default as text; NULL: unset */
    const char *help;    /* one line */
    unsigned flags;      /* enum cfg_flags */
    long long min, max;  /* CFG_INT bounds, checked when min < max */
    const char *choices; /* "debug|info|warn|error", or NULL for any */
};

/* Terminates a setting table. */
#define CFG_END { 0 }

/* Settings every binary has: kafka-brokers, topic-raw, topic-alerts,
 * log-level, shutdown-timeout-ms, schema-registry-url,
 * schema-registry-user-info (secret). */
extern const struct cfg_setting cfg_common_settings[];
/* Settings of the consumer daemons (processor, notifier): group-id (no
 * default) and admin-addr (0.0.0.0:9400). Binaries override defaults with
 * cfg_set_default(). */
extern const struct cfg_setting cfg_daemon_settings[];

enum cfg_parse_result {
    CFG_PARSE_OK,
    CFG_PARSE_HELP,    /* --help was given: caller prints help, exits 0 */
    CFG_PARSE_VERSION, /* --version was given */
    CFG_PARSE_ERROR,   /* errstr names the setting; caller exits 2 */
};

struct cfg;

/* Creates a configuration for `program` from a NULL-terminated list of tables.
 * Returns NULL on allocation failure. Free with cfg_free(). */
struct cfg *cfg_new(const char *program, const char *summary,
                    const struct cfg_setting *const *tables);
void cfg_free(struct cfg *cfg);

/* Changes a setting's default before cfg_parse() (per-binary defaults such as
 * the group id). Returns QA_ERR_NOT_FOUND for an unknown name. */
enum qa_err cfg_set_default(struct cfg *cfg, const char *name, const char *def);

/* Reads env (a NULL-terminated "K=V" array such as environ) then argv.
 * Arguments that are not flags are kept as positional (cfg_positional()).
 * "--" ends flags. Validates types, bounds, choices and required settings. */
enum cfg_parse_result cfg_parse(struct cfg *cfg, int argc, char **argv,
                                char **env, char *errstr, size_t errstr_size);

/* Values; owned by cfg. cfg_str() returns NULL when unset. */
const char *cfg_str(const struct cfg *cfg, const char *name);
long long cfg_int(const struct cfg *cfg, const char *name);
int cfg_bool(const struct cfg *cfg, const char *name);
int cfg_is_set(const struct cfg *cfg, const char *name);

/* The path of the `<VAR>_FILE` a secret was read from in the last
 * cfg_parse(), or NULL when it came from elsewhere (e.g. to re-read it on
 * SIGHUP with cfg_read_value_file()). Owned by cfg. */
const char *cfg_source_file(const struct cfg *cfg, const char *name);

/* Reads a value file as `<VAR>_FILE` does: at most 1 MiB, no NUL byte,
 * trailing CR/LF stripped. *out is malloc'd; the caller frees it. errstr
 * names the path, never the content. */
enum qa_err cfg_read_value_file(const char *path, char **out, char *errstr,
                                size_t errstr_size);

/* Positional arguments, in order; owned by cfg. */
int cfg_positional(const struct cfg *cfg, char ***argv_out);

/* librdkafka pass-through properties, in the order given; owned by cfg. */
size_t cfg_kafka_prop_count(const struct cfg *cfg);
void cfg_kafka_prop(const struct cfg *cfg, size_t i, const char **key,
                    const char **value);

/* Splits a comma-separated (or, with sep '\n', line-separated) list, trims
 * blanks and drops empty items. *items is one malloc'd block the caller frees
 * with free(); returns QA_ERR_NOMEM or QA_OK. */
enum qa_err cfg_split_list(const char *s, char sep, char ***items, size_t *n);

/* --help text: usage, summary, each flag with its variable and default. */
void cfg_print_help(const struct cfg *cfg, FILE *out);
/* The README's table rows (markdown) for this binary's settings. */
void cfg_print_markdown(const struct cfg *cfg, FILE *out);
/* One JSON object of the effective settings, secrets as "(secret)". */
void cfg_log_effective(const struct cfg *cfg);

#endif
