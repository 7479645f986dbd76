/*
 * replay.h — qalert-replay's subcommands (SPEC §8) and the JSON output they
 * share. main.c parses the settings and calls one replay_<subcommand>();
 * each returns the process exit code: 0 done, 1 runtime failure (a one-line
 * reason already logged and printed on stderr), 2 bad arguments.
 *
 * Output on stdout is one JSON object a line, built with cJSON so that no
 * byte from a topic can break the framing: keys and header values that are
 * not valid UTF-8 come out as {"base64":"..."}.
 */
#ifndef QALERT_REPLAY_H
#define QALERT_REPLAY_H

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "common/config.h"

#define REPLAY_EXIT_OK 0
#define REPLAY_EXIT_RUNTIME 1
#define REPLAY_EXIT_USAGE 2

/* Set by main's SIGINT/SIGTERM handler; every loop checks it. */
extern volatile sig_atomic_t replay_stop;

int replay_print(const struct cfg *cfg, int argc, char **argv);
int replay_dry_run(const struct cfg *cfg, int argc, char **argv);
int replay_copy(const struct cfg *cfg, int argc, char **argv);
int replay_redrive(const struct cfg *cfg, int argc, char **argv);
int replay_reset_offsets(const struct cfg *cfg, int argc, char **argv);

/* Prints "qalert-replay: <msg>" on stderr (the one line an operator reads)
 * and logs it; returns code so `return replay_fail(2, ...)` reads. */
int replay_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 1 when buf[0..len) is valid UTF-8 without NUL (so it can be a JSON string
 * that reads back the same). */
int replay_utf8_ok(const void *buf, size_t len);

/* A JSON value for untrusted bytes: null when buf is NULL, a string when
 * valid UTF-8, else {"base64":"..."}. NULL when out of memory. */
cJSON *replay_json_bytes(const void *buf, size_t len);

/* A JSON string of the base64 of buf[0..len). NULL when out of memory. */
cJSON *replay_json_base64(const void *buf, size_t len);

/* The record's headers as an object (the last of duplicates wins, as
 * rd_kafka_header_get_last); an empty object when it has none. */
cJSON *replay_json_headers(const rd_kafka_message_t *msg);

/* Prints obj unformatted and a newline on out, flushes (a pipe reader sees
 * each record at once). QA-style: 0 ok, -1 out of memory or write error. */
int replay_emit_line(FILE *out, const cJSON *obj);

/* Checks that only the settings named in allowed (NULL-terminated) among
 * the subcommand options are set; writes "--x does not apply to <cmd>" to
 * errstr and returns -1 otherwise. */
int replay_only_options(const struct cfg *cfg, const char *cmd,
                        const char *const *allowed, char *errstr,
                        size_t errstr_size);

#endif
