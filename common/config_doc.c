/*
 * config_doc.c — what the settings table says to people: --help, the
 * README's markdown rows, and the one log line of effective settings at
 * start-up.
 *
 * All three come from the same table as parsing, so they cannot drift from
 * it. None of them may ever show a secret's value: secrets read "(secret)"
 * or nothing.
 */
#include "common/config.h"
#include "common/config_impl.h"

#include <string.h>

#include "common/log.h"

static const char *value_word(enum cfg_type t)
{
    return t == CFG_INT ? " N" : t == CFG_BOOL ? "" : " VALUE";
}

/* What --help shows as the default. */
static const char *help_default(const struct cfg_entry *e)
{
    const char *def = cfg_entry_default(e);

    if (e->s->flags & CFG_SECRET)
        return "(secret)";
    if (def && *def)
        return def;
    return (e->s->flags & CFG_REQUIRED) ? "(required)" : "(none)";
}

void cfg_print_help(const struct cfg *cfg, FILE *out)
{
    int wflag = (int)strlen("--kafka-<prop> VALUE"), wenv = 0;
    char flag[160];

    for (size_t i = 0; i < cfg->n; i++) {
        const struct cfg_setting *s = cfg->entries[i].s;
        int w = (int)(strlen(s->name) + strlen(value_word(s->type))) + 2;
        if (w > wflag)
            wflag = w;
        if ((int)strlen(s->env) > wenv)
            wenv = (int)strlen(s->env);
    }
    fprintf(out, "Usage: %s [OPTIONS]\n%s\n\n", cfg->program, cfg->summary);
    fprintf(out, "Each option can also be set by its environment variable; "
                 "a secret also by <VARIABLE>_FILE (a path to a file holding "
                 "it). Flags win over variables.\n\n");
    for (size_t i = 0; i < cfg->n; i++) {
        const struct cfg_entry *e = &cfg->entries[i];
        const struct cfg_setting *s = e->s;
        snprintf(flag, sizeof(flag), "--%s%s", s->name, value_word(s->type));
        fprintf(out, "  %-*s  %-*s  default: %s  %s", wflag, flag, wenv, s->env,
                help_default(e), s->help ? s->help : "");
        if (s->choices)
            fprintf(out, " (%s)", s->choices);
        if (s->type == CFG_BOOL)
            fprintf(out, " (--no-%s turns it off)", s->name);
        fputc('\n', out);
    }
    fprintf(out, "  %-*s  %-*s  any librdkafka property, e.g. "
                 "QALERT_KAFKA_SECURITY_PROTOCOL=SASL_SSL sets security.protocol\n",
            wflag, "--kafka-<prop> VALUE", wenv, "QALERT_KAFKA_<PROP>");
    fprintf(out, "  %-*s  show this help and exit\n", wflag, "-h, --help");
    fprintf(out, "  %-*s  print the version and exit\n", wflag, "--version");
}

/* Markdown cell text: a '|' would end the cell, a newline the row. */
static void md_text(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else
            fputc(*s == '\n' ? ' ' : *s, out);
    }
}

void cfg_print_markdown(const struct cfg *cfg, FILE *out)
{
    for (size_t i = 0; i < cfg->n; i++) {
        const struct cfg_entry *e = &cfg->entries[i];
        const struct cfg_setting *s = e->s;
        const char *def = cfg_entry_default(e);

        fprintf(out, "| `%s` | `--%s` | ", s->env, s->name);
        if (def && *def && !(s->flags & CFG_SECRET)) {
            fputc('`', out);
            md_text(out, def);
            fputs("` ", out);
        }
        fputs("| ", out);
        md_text(out, s->help);
        if (s->choices) {
            fputs(" (one of `", out);
            for (const char *c = s->choices; *c; c++) {
                if (*c == '|')
                    fputs("`, `", out);
                else
                    fputc(*c, out);
            }
            fputs("`)", out);
        }
        if (s->flags & CFG_SECRET)
            fputs(" (secret; also `<VAR>_FILE`)", out);
        if (s->flags & CFG_REQUIRED)
            fputs(" (required)", out);
        fputs(" |\n", out);
    }
}

/* log_emit() takes its fields as variadic arguments ending with LOG_END; a
 * table's length is known only at run time, so we pass a fixed number of
 * slots, the unused ones LOG_END (extra variadic arguments are ignored). */
#define KV_SLOTS 64
#define KV4(a, i) a[i], a[(i) + 1], a[(i) + 2], a[(i) + 3]
#define KV16(a, i) KV4(a, i), KV4(a, (i) + 4), KV4(a, (i) + 8), KV4(a, (i) + 12)

void cfg_log_effective(const struct cfg *cfg)
{
    struct log_kv kv[KV_SLOTS + 1];
    size_t n = 0, total = cfg->n + cfg->nprops;

    for (size_t i = 0; i <= KV_SLOTS; i++)
        kv[i] = LOG_END;
    for (size_t i = 0; i < cfg->n && n < KV_SLOTS - 1; i++, n++) {
        const struct cfg_entry *e = &cfg->entries[i];
        const char *k = e->s->name;
        if (e->s->flags & CFG_SECRET)
            kv[n] = LOG_S(k, e->value ? "(secret)" : NULL);
        else if (e->s->type == CFG_INT && e->value)
            kv[n] = LOG_I(k, e->num);
        else if (e->s->type == CFG_BOOL && e->value)
            kv[n] = LOG_B(k, e->num);
        else
            kv[n] = LOG_S(k, e->value);
    }
    for (size_t i = 0; i < cfg->nprops && n < KV_SLOTS - 1; i++, n++) {
        const struct cfg_prop *p = &cfg->props[i];
        kv[n] = LOG_S(p->field, p->secret ? "(secret)" : p->value);
    }
    if (n < total)
        kv[n] = LOG_I("settings_not_shown", total - n);
    log_emit(LOG_INFO, "configuration", KV16(kv, 0), KV16(kv, 16), KV16(kv, 32),
             KV16(kv, 48), kv[KV_SLOTS]);
}
