/*
 * policy_out.h — where `qalert-genesys sync-policy` puts the policy (prefix
 * gen_out_): a file replaced atomically, or one record on a compacted topic.
 *
 * A reader (the processor on SIGHUP) must never see half a file: the text
 * goes to a temporary file in the same directory, is flushed to disk, then
 * renamed over the old one. A file already holding the same bytes is left
 * alone, so its mtime says when the policy last changed.
 */
#ifndef QALERT_GENESYS_POLICY_OUT_H
#define QALERT_GENESYS_POLICY_OUT_H

#include <stddef.h>

#include "common/config.h"
#include "common/err.h"

/* Key of the policy record on a policy topic. */
#define GEN_OUT_POLICY_KEY "policy"

/* Writes text to path atomically (temp + fsync + rename). *changed (may be
 * NULL) is 0 when the file already held exactly text (nothing written). */
enum qa_err gen_out_write_file(const char *path, const char *text, int *changed,
                               char *errstr, size_t errstr_size);

/* Produces text as one record with key "policy" to topic (created compacted
 * with one partition when missing) and waits for its delivery report. */
enum qa_err gen_out_publish(const struct cfg *cfg, const char *topic, const char *text,
                            char *errstr, size_t errstr_size);

#endif
