/*
 * schema.h — Avro Parsing Canonical Form and the CRC-64-AVRO (Rabin)
 * fingerprint, as the Avro specification defines them. avro-c 1.11.1 has
 * neither; single-object encoding needs both.
 */
#ifndef QALERT_SCHEMA_H
#define QALERT_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Canonical form of a JSON schema text. *out is malloc'd; the caller frees. */
enum qa_err schema_canonical_form(const char *json, char **out, char *errstr,
                                  size_t errstr_size);

/* CRC-64-AVRO of bytes (the canonical form, for a schema fingerprint). */
uint64_t schema_fingerprint64(const void *data, size_t len);

#endif
