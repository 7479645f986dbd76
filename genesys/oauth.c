/*
 * oauth.c — see oauth.h. Genesys' token endpoint answers
 * {"access_token":"...","token_type":"bearer","expires_in":86399}; errors
 * are {"error":"invalid_client","description":"..."} with 400 or 401.
 * The token goes into an Authorization header, so it is checked to be a
 * plain token (no spaces, no control bytes) before it is ever used.
 */
#include "oauth.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

#define GEN_OAUTH_MAX_TOKEN 8192

struct gen_oauth {
    struct gen_http *http;
    char *url;
    char *client_id;
    char *client_secret;
    int max_retries;
    volatile sig_atomic_t *stop;
    char *token;
    int64_t renew_at_mono;   /* fetch a new one from then on */
    int fetched;
};

struct gen_oauth *gen_oauth_new(struct gen_http *h, const struct gen_oauth_opts *o)
{
    struct gen_oauth *a = calloc(1, sizeof(*a));
    size_t n;

    if (!a)
        return NULL;
    a->http = h;
    n = strlen(o->login_url);
    while (n > 0 && o->login_url[n - 1] == '/')
        n--;
    a->url = malloc(n + sizeof("/oauth/token"));
    a->client_id = strdup(o->client_id ? o->client_id : "");
    a->client_secret = strdup(o->client_secret ? o->client_secret : "");
    if (!a->url || !a->client_id || !a->client_secret) {
        gen_oauth_free(a);
        return NULL;
    }
    memcpy(a->url, o->login_url, n);
    memcpy(a->url + n, "/oauth/token", sizeof("/oauth/token"));
    a->max_retries = o->max_retries;
    a->stop = o->stop;
    return a;
}

static void wipe(char *s)
{
    if (s) {
        /* volatile: a plain memset before free may be optimised away. */
        volatile char *v = s;
        while (*v)
            *v++ = '\0';
    }
}

void gen_oauth_free(struct gen_oauth *o)
{
    if (!o)
        return;
    wipe(o->client_secret);
    wipe(o->token);
    free(o->url);
    free(o->client_id);
    free(o->client_secret);
    free(o->token);
    free(o);
}

void gen_oauth_invalidate(struct gen_oauth *o)
{
    o->renew_at_mono = 0;
}

int gen_oauth_tokens_fetched(const struct gen_oauth *o)
{
    return o->fetched;
}

static int token_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > GEN_OAUTH_MAX_TOKEN)
        return 0;
    for (; *t; t++)
        if (*t <= ' ' || *t > '~')
            return 0;
    return 1;
}

/* The reason in an OAuth error body, printable and short, into buf. */
static void error_reason(const char *body, char *buf, size_t n)
{
    cJSON *j = cJSON_Parse(body);
    const char *code = NULL, *desc = NULL;

    snprintf(buf, n, "no reason given");
    if (j) {
        code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error"));
        desc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error_description"));
        if (!desc)
            desc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "description"));
        if (code || desc)
            snprintf(buf, n, "%s%s%s", code ? code : "", code && desc ? ": " : "",
                     desc ? desc : "");
        cJSON_Delete(j);
    }
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            *p = '?';
}

/* Takes the token out of a 200 answer. */
static enum qa_err take_token(struct gen_oauth *o, const char *body, char *errstr,
                              size_t errstr_size)
{
    cJSON *j = cJSON_Parse(body);
    const cJSON *tok, *exp;
    enum qa_err err = QA_OK;
    int64_t life_ms, margin;

    if (!j) {
        err = qa_errf(errstr, errstr_size, QA_ERR_IO, "token answer is not JSON");
        goto out;
    }
    tok = cJSON_GetObjectItemCaseSensitive(j, "access_token");
    exp = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
    if (!cJSON_IsString(tok) || !token_ok(tok->valuestring)) {
        err = qa_errf(errstr, errstr_size, QA_ERR_IO, "token answer has no usable access_token");
        goto out;
    }
    /* expires_in is seconds; without it, assume a short life rather than
     * hold a token Genesys may drop any moment. */
    life_ms = 60000;
    if (cJSON_IsNumber(exp) && exp->valuedouble >= 1 && exp->valuedouble <= 31536000)
        life_ms = (int64_t)exp->valuedouble * 1000;
    margin = life_ms / 4 < 60000 ? life_ms / 4 : 60000;
    wipe(o->token);
    free(o->token);
    o->token = strdup(tok->valuestring);
    if (!o->token) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto out;
    }
    o->renew_at_mono = clock_mono_ms() + life_ms - margin;
    o->fetched++;
    log_info("genesys token obtained", LOG_I("expires_in_s", life_ms / 1000),
             LOG_I("renew_in_ms", life_ms - margin), LOG_I("tokens", o->fetched));
out:
    cJSON_Delete(j);
    return err;
}

enum qa_err gen_oauth_token(struct gen_oauth *o, const char **token, char *errstr,
                            size_t errstr_size)
{
    static const char form[] = "grant_type=client_credentials";
    struct gen_http_response r = { 0 };
    char reason[256];
    enum qa_err err = QA_OK;
    int64_t wait_ms;

    if (o->token && clock_mono_ms() < o->renew_at_mono) {
        *token = o->token;
        return QA_OK;
    }
    for (int attempt = 0;; attempt++) {
        struct gen_http_request rq = {
            .method = "POST", .url = o->url,
            .basic_user = o->client_id, .basic_password = o->client_secret,
            .content_type = "application/x-www-form-urlencoded",
            .body = form, .body_len = sizeof(form) - 1,
        };
        gen_http_response_clear(&r);
        err = gen_http_do(o->http, &rq, &r, errstr, errstr_size);
        if (err == QA_ERR_NOMEM || err == QA_ERR_INVALID)
            goto out;
        if (err) {
            if (attempt >= o->max_retries) {
                char why[300];
                snprintf(why, sizeof(why), "%s", errstr);
                err = qa_errf(errstr, errstr_size, QA_ERR_IO,
                              "cannot reach the Genesys login service (is QALERT_GENESYS_REGION "
                              "right?): %s", why);
                goto out;
            }
            wait_ms = 500LL << (attempt < 6 ? attempt : 6);
        } else if (r.status == 200) {
            err = take_token(o, r.body, errstr, errstr_size);
            if (!err)
                *token = o->token;
            goto out;
        } else if (r.status == 400 || r.status == 401 || r.status == 403) {
            error_reason(r.body, reason, sizeof(reason));
            err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                          "bad credentials: the Genesys login service refused client id %.64s "
                          "(HTTP %ld, %s); check QALERT_GENESYS_CLIENT_ID, "
                          "QALERT_GENESYS_CLIENT_SECRET, the region, and that the OAuth "
                          "client's grant type is Client Credentials",
                          o->client_id, r.status, reason);
            goto out;
        } else if (r.status == 429 || r.status >= 500) {
            if (attempt >= o->max_retries) {
                err = qa_errf(errstr, errstr_size, QA_ERR_IO,
                              "token request: HTTP %ld after %d attempts", r.status, attempt + 1);
                goto out;
            }
            wait_ms = r.retry_after_ms >= 0 ? r.retry_after_ms
                                            : 500LL << (attempt < 6 ? attempt : 6);
            log_warn("genesys token request throttled or failed; waiting",
                     LOG_I("status", r.status), LOG_I("wait_ms", wait_ms));
        } else {
            err = qa_errf(errstr, errstr_size, QA_ERR_IO, "token request: unexpected HTTP %ld",
                          r.status);
            goto out;
        }
        if (gen_http_sleep_ms(wait_ms, o->stop)) {
            err = qa_errf(errstr, errstr_size, QA_ERR_IO, "stopped while waiting to retry");
            goto out;
        }
    }
out:
    gen_http_response_clear(&r);
    return err;
}
