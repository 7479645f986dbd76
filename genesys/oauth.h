/*
 * oauth.h — Genesys Cloud client-credentials tokens (prefix gen_oauth_).
 *
 * POST <login>/oauth/token with HTTP Basic (client id, secret) and
 * grant_type=client_credentials. The token is cached and fetched again
 * before expires_in runs out (a quarter of its lifetime early, at most one
 * minute), or at once after the API refused it (gen_oauth_invalidate).
 * A 429 waits its Retry-After; a 5xx backs off; bad credentials are an
 * error at once, with the reason Genesys gave.
 * Never logs or returns in an error the secret or a token.
 */
#ifndef QALERT_GENESYS_OAUTH_H
#define QALERT_GENESYS_OAUTH_H

#include <signal.h>
#include <stdint.h>

#include "common/err.h"
#include "http.h"

struct gen_oauth_opts {
    const char *login_url;      /* "https://login.mypurecloud.com" */
    const char *client_id;
    const char *client_secret;
    int max_retries;            /* 429/5xx retries per token request */
    volatile sig_atomic_t *stop;/* may be NULL */
};

struct gen_oauth;

/* Borrows h and copies the options' strings. NULL when out of memory.
 * Free with gen_oauth_free(). */
struct gen_oauth *gen_oauth_new(struct gen_http *h, const struct gen_oauth_opts *o);
void gen_oauth_free(struct gen_oauth *o);

/* A token valid for a while yet: the cached one, or a new one. *token is
 * owned by o and valid until the next call. QA_ERR_INVALID for refused
 * credentials (errstr says so and why), QA_ERR_IO for the rest. */
enum qa_err gen_oauth_token(struct gen_oauth *o, const char **token, char *errstr,
                            size_t errstr_size);

/* Forgets the cached token (the API answered 401 with it). */
void gen_oauth_invalidate(struct gen_oauth *o);

/* Tokens obtained so far (logs, tests). */
int gen_oauth_tokens_fetched(const struct gen_oauth *o);

#endif
