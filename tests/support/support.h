/*
 * support.h — helpers shared by unit and integration tests: fixture files,
 * environment, and a unique-name generator for topics and groups.
 */
#ifndef QALERT_TEST_SUPPORT_H
#define QALERT_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Reads tests/fixtures/<name> (QALERT_FIXTURES) into a malloc'd buffer with a
 * NUL after the last byte; aborts the test program when missing. */
char *ts_fixture(const char *name, size_t *len);
/* Reads any file; NULL when missing. Caller frees. */
char *ts_read_file(const char *path, size_t *len);
/* getenv with a default. */
const char *ts_env(const char *name, const char *def);
/* A name unique to this run: "<prefix>-<pid>-<counter>-<ms>" in a static
 * rotating buffer (valid for the next 7 calls). */
const char *ts_unique(const char *prefix);
/* 1 when QALERT_TEST_NO_BROKER=1 (integration tests then exit 77). */
int ts_no_broker(void);
/* A xorshift64 pseudo-random number from a fixed seed: the same sequence
 * on every run of a test program, so a failure repeats. */
uint64_t ts_rand(void);

#endif
