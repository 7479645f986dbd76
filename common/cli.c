/*
 * cli.c — see cli.h. Shared so the four binaries answer --help, --version
 * and bad settings identically, and install their signal handlers alike.
 */
#include "common/cli.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/log.h"
#include "common/registry.h"

extern char **environ;

int cli_start(struct cfg *cfg, const char *program, int argc, char **argv)
{
    char errstr[512];
    const char *fmt;
    enum log_level lvl = LOG_INFO;

    log_set_program(program);
    switch (cfg_parse(cfg, argc, argv, environ, errstr, sizeof(errstr))) {
    case CFG_PARSE_HELP:
        fmt = getenv("QALERT_HELP_FORMAT");
        if (fmt && strcmp(fmt, "markdown") == 0)
            cfg_print_markdown(cfg, stdout);
        else
            cfg_print_help(cfg, stdout);
        return 0;
    case CFG_PARSE_VERSION:
        printf("%s %s\n", program, QALERT_VERSION);
        return 0;
    case CFG_PARSE_ERROR:
        fprintf(stderr, "%s: %s\n", program, errstr);
        return 2;
    case CFG_PARSE_OK:
        break;
    }
    if (log_parse_level(cfg_str(cfg, "log-level"), &lvl) == 0)
        log_set_level(lvl);
    return -1;
}

int cli_bad_config(const char *program, const char *setting, const char *reason)
{
    fprintf(stderr, "%s: %s: %s\n", program, setting, reason);
    return 2;
}

void cli_catch_signals(void (*handler)(int), ...)
{
    struct sigaction sa;
    va_list ap;
    int sig;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    va_start(ap, handler);
    while ((sig = va_arg(ap, int)) != 0)
        sigaction(sig, &sa, NULL);
    va_end(ap);
}

int cli_codec_setup(const struct cfg *cfg)
{
    char errstr[512];
    enum qa_err err;

    if (codec_init(errstr, sizeof(errstr))) {
        log_error("codec", LOG_S("reason", errstr));
        return 1;
    }
    if ((err = registry_setup(cfg, errstr, sizeof(errstr))) != QA_OK) {
        log_error("schema registry", LOG_S("reason", errstr));
        return err == QA_ERR_INVALID ? 2 : 1;
    }
    return -1;
}
