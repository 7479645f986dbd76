/*
 * auth.h — who may post events to ingest (SPEC §4): HMAC-SHA256 body
 * signatures (Genesys webhooks), bearer tokens and an API-key header
 * (EventBridge API destinations).
 *
 * A credential set is immutable once published to an auth_store; the store
 * swaps in a new set atomically (SIGHUP re-reads the secrets file while
 * requests run) and readers hold a reference for the length of one check.
 *
 * Every comparison is constant-time over fixed-size digests, and no secret
 * ever appears in a reason string, a log or an error.
 */
#ifndef QALERT_INGEST_AUTH_H
#define QALERT_INGEST_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define AUTH_SIG_LEN 32 /* HMAC-SHA256 */

struct auth_creds;
struct auth_store;

/* An empty, unpublished credential set. NULL on allocation failure. The
 * caller frees it with auth_creds_release(), or hands it to an auth_store. */
struct auth_creds *auth_creds_new(void);

/* Adders copy their argument. Empty values are refused (QA_ERR_INVALID): an
 * empty secret or token would let anyone in. Only for sets not yet shared. */
enum qa_err auth_creds_add_hmac_secret(struct auth_creds *c, const char *secret,
                                       char *errstr, size_t errstr_size);
enum qa_err auth_creds_add_bearer_token(struct auth_creds *c, const char *token,
                                        char *errstr, size_t errstr_size);
/* The API-key header name (case-insensitive, e.g. "X-Api-Key") and its
 * accepted values; keys without a header name are an error at check time. */
enum qa_err auth_creds_set_api_key_header(struct auth_creds *c, const char *name,
                                          char *errstr, size_t errstr_size);
enum qa_err auth_creds_add_api_key(struct auth_creds *c, const char *key,
                                   char *errstr, size_t errstr_size);

/* Adds every item of a comma-separated (sep ',') or line-separated (sep '\n')
 * list through the adder for `kind`. */
enum auth_kind { AUTH_HMAC_SECRET, AUTH_BEARER_TOKEN, AUTH_API_KEY };
enum qa_err auth_creds_add_list(struct auth_creds *c, enum auth_kind kind,
                                const char *list, char sep, char *errstr,
                                size_t errstr_size);

/* Number of credentials of any kind (0: ingest must refuse to start). */
size_t auth_creds_count(const struct auth_creds *c);
/* Number of HMAC secrets (for logs: how many the secrets file gave). */
size_t auth_creds_hmac_count(const struct auth_creds *c);

/* Takes one more reference / drops one; the last drop wipes and frees. */
struct auth_creds *auth_creds_retain(struct auth_creds *c);
void auth_creds_release(struct auth_creds *c);

/* A store holding `initial` (ownership taken). NULL on allocation failure
 * (initial is released then). Free with auth_store_free(). */
struct auth_store *auth_store_new(struct auth_creds *initial);
/* Publishes `next` (ownership taken); requests already checking keep the old
 * set until they finish. */
void auth_store_replace(struct auth_store *s, struct auth_creds *next);
/* The current set with a reference taken: release with auth_creds_release(). */
struct auth_creds *auth_store_acquire(struct auth_store *s);
void auth_store_free(struct auth_store *s);

/* Looks up a request header by name, case-insensitively; NULL when absent. */
typedef const char *(*auth_header_fn)(void *opaque, const char *name);

enum auth_result { AUTH_OK = 0, AUTH_UNAUTHORIZED };

/*
 * Checks a request: a valid signature header (X-Genesys-Signature or
 * X-Hub-Signature-256) over the raw body, a valid bearer token or a valid API
 * key; any one suffices. On AUTH_UNAUTHORIZED, reason says why in words fit
 * for a log line (which header was missing or wrong), never a secret.
 */
enum auth_result auth_verify(const struct auth_creds *c, auth_header_fn header,
                             void *opaque, const void *body, size_t len,
                             char *reason, size_t reason_size);

/* auth_verify against the store's current set. */
enum auth_result auth_store_verify(struct auth_store *s, auth_header_fn header,
                                   void *opaque, const void *body, size_t len,
                                   char *reason, size_t reason_size);

/*
 * Decodes a signature header value: optional blanks, optional "sha256="
 * prefix (any case), then 64 hex digits (either case) or standard base64 of
 * 32 bytes (44 characters with padding, 43 without). Returns 0 and fills
 * out, or -1 for anything else.
 */
int auth_parse_signature(const char *value, size_t len,
                         uint8_t out[AUTH_SIG_LEN]);

#endif
