/*
 * opsgenie_ref.h — the OpsGenie bodies as the cJSON builder made them, kept
 * as the reference the text builder is compared with (see opsgenie_ref.c).
 */
#ifndef QALERT_TEST_OPSGENIE_REF_H
#define QALERT_TEST_OPSGENIE_REF_H

#include <stddef.h>

#include "common/codec.h"

/* sink_utf8_sanitize() as it was. */
size_t ts_opsgenie_ref_sanitize(char *dst, size_t dst_size, const void *src,
                                size_t src_len, size_t max_chars, int keep_newlines);

/* sink_utf8_clip() as it was: a malloc'd copy the caller frees. */
char *ts_opsgenie_ref_clip(const char *s, size_t max_chars);

/* The create (FIRING) or close body for al with that alias, as
 * cJSON_PrintUnformatted() printed it: malloc'd, the caller frees; NULL on
 * allocation failure. */
char *ts_opsgenie_ref_body(const struct alert *al, const char *alias);

#endif
