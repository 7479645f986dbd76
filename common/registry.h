/*
 * registry.h — a Confluent Schema Registry client, just enough for qalert's
 * two record types (SPEC §5: the Confluent wire format when
 * QALERT_SCHEMA_REGISTRY_URL is set).
 *
 * Every binary calls registry_setup() right after codec_init(). With no URL
 * it does nothing. Otherwise, for qalert.RawEvent (subject
 * "<topic-raw>-value") and qalert.Alert ("<topic-alerts>-value": the retry
 * and dead-letter topics carry the same bytes, hence the same id), it
 * registers today's schema (the registry answers the same id for the same
 * schema, so every start and every binary agrees), makes writers frame with
 * that id, and teaches readers every version already in the subject, so
 * records of older or newer writers resolve by id.
 *
 * Credentials (QALERT_SCHEMA_REGISTRY_USER_INFO, or user:password@ in the
 * URL) never appear in an error message or a log line: URLs are shown
 * without their user info.
 *
 * The client functions block (libcurl easy API, per-request timeouts); they
 * are meant for start-up, one thread per client.
 */
#ifndef QALERT_REGISTRY_H
#define QALERT_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"

/* Bounds on what a registry may send us. */
#define REGISTRY_MAX_RESPONSE (1024 * 1024) /* bytes of one response body */
#define REGISTRY_MAX_VERSIONS 10000         /* entries of a versions list */
#define REGISTRY_CONNECT_TIMEOUT_MS 5000L
#define REGISTRY_TIMEOUT_MS 10000L          /* whole request */

/* Start-up entry point for every binary (see above). QA_OK when the URL is
 * unset. QA_ERR_INVALID when a setting is malformed (errstr names it; the
 * caller exits 2); any other error is the registry failing (unreachable,
 * refusing, answering nonsense: errstr names the URL without credentials
 * and the reason; the caller exits 1). */
enum qa_err registry_setup(const struct cfg *cfg, char *errstr, size_t errstr_size);

/* --- the client ---------------------------------------------------------- */

struct registry;

/* url: one base URL, or several separated by commas (tried in order when one
 * cannot be reached). user_info: "user:password" for Basic auth, or NULL.
 * Returns NULL with errstr on a malformed URL or no memory. Free with
 * registry_free(). */
struct registry *registry_new(const char *url, const char *user_info,
                              char *errstr, size_t errstr_size);
void registry_free(struct registry *r);

/* POST /subjects/{subject}/versions: registers an Avro schema (JSON text) and
 * gives its global id. */
enum qa_err registry_register(struct registry *r, const char *subject,
                              const char *schema_json, uint32_t *id,
                              char *errstr, size_t errstr_size);

/* GET /subjects/{subject}/versions. *versions is malloc'd (the caller frees
 * it), ascending as sent. QA_ERR_NOT_FOUND when the subject does not exist. */
enum qa_err registry_list_versions(struct registry *r, const char *subject,
                                   int **versions, size_t *n, char *errstr,
                                   size_t errstr_size);

/* GET /subjects/{subject}/versions/{version}: the schema text and its id.
 * *schema is malloc'd; the caller frees it. QA_ERR_UNSUPPORTED when the
 * schema is not Avro (schemaType PROTOBUF or JSON). */
enum qa_err registry_get_version(struct registry *r, const char *subject,
                                 int version, char **schema, uint32_t *id,
                                 char *errstr, size_t errstr_size);

/* GET /schemas/ids/{id}: the schema text. *schema is malloc'd; the caller
 * frees it. QA_ERR_NOT_FOUND for an unknown id. */
enum qa_err registry_get_schema(struct registry *r, uint32_t id, char **schema,
                                char *errstr, size_t errstr_size);

/* --- pure parts, exposed for the unit tests -------------------------------- */

/* "<topic>-value" (TopicNameStrategy). QA_ERR_INVALID for an empty topic,
 * QA_ERR_FULL when out is too small. */
enum qa_err registry_subject(const char *topic, char *out, size_t out_size);

/* base (trailing '/' dropped) + path, where each "%s" in path is replaced by
 * the next argument percent-encoded (all but A-Z a-z 0-9 - . _ ~), so a
 * subject cannot escape its path segment. QA_ERR_FULL when out is too small. */
enum qa_err registry_build_url(const char *base, const char *path, const char *arg,
                               char *out, size_t out_size);

/* url without "user:password@" (for messages). Never fails: truncates. */
void registry_redact_url(const char *url, char *out, size_t out_size);

/* Response bodies. Each treats the body as hostile: length given, any JSON
 * shape, numbers that are not integers in range are QA_ERR_INVALID. */
enum qa_err registry_parse_id(const char *body, size_t len, uint32_t *id,
                              char *errstr, size_t errstr_size);
enum qa_err registry_parse_versions(const char *body, size_t len, int **versions,
                                    size_t *n, char *errstr, size_t errstr_size);
/* {"schema": ..., "id": N, "schemaType"?: "AVRO"}; id may be NULL (for
 * /schemas/ids/{id}, which has no id). *schema is malloc'd; caller frees. */
enum qa_err registry_parse_schema(const char *body, size_t len, char **schema,
                                  uint32_t *id, char *errstr, size_t errstr_size);
/* An error answer as one printable line: `HTTP 404 (error_code 40401):
 * Subject 'x-value' not found.` The message is cut to 200 bytes and every
 * non-printable byte is replaced by '?'. Returns the qa_err the status maps
 * to: QA_ERR_NOT_FOUND for 404, QA_ERR_INVALID for other 4xx, QA_ERR_IO. */
enum qa_err registry_describe_error(long status, const char *body, size_t len,
                                    char *out, size_t out_size);

#endif
