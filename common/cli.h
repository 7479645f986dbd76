/*
 * cli.h — the start of every qalert binary's main(): parse settings, answer
 * --help / --version, refuse bad configuration with exit 2 and a one-line
 * reason naming the setting (SPEC §2), set the log level and program name.
 */
#ifndef QALERT_CLI_H
#define QALERT_CLI_H

#include "common/config.h"

/* Returns -1 when the program should go on, else the exit code to return
 * at once (0 after --help/--version, 2 on bad configuration). With
 * QALERT_HELP_FORMAT=markdown, --help prints the README's table rows. */
int cli_start(struct cfg *cfg, const char *program, int argc, char **argv);

/* Loads the Avro schemas, then, when QALERT_SCHEMA_REGISTRY_URL is set,
 * registers them (registry_setup). Returns -1 when ready, else the exit code
 * after logging the reason: 2 for a malformed registry setting, 1 for any
 * other failure. */
int cli_codec_setup(const struct cfg *cfg);

/* Prints "program: SETTING (--flag): reason" on stderr and returns 2, for
 * checks main() makes after parsing (a policy file that does not load). */
int cli_bad_config(const char *program, const char *setting, const char *reason);

/* Routes each signal of the 0-terminated list to handler with sigaction
 * (empty mask, no SA_RESTART, so a blocking call returns EINTR and the main
 * loop notices soon): cli_catch_signals(on_signal, SIGTERM, SIGINT, 0).
 * The handler should only set a volatile sig_atomic_t. */
void cli_catch_signals(void (*handler)(int), ...);

#endif
