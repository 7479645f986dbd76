/*
 * auth.c — request authentication for ingest (see auth.h).
 *
 * Why it looks the way it does:
 * - Signatures are decoded to their 32 bytes first and compared with
 *   CRYPTO_memcmp against each secret's HMAC, so timing depends neither on
 *   where the first wrong byte is nor on how the client spelled the value.
 * - Tokens and API keys are stored as SHA-256 digests and the presented value
 *   is hashed too: comparing equal-length digests hides the secret's length.
 * - A credential set is immutable and reference-counted; SIGHUP builds a new
 *   one and swaps the pointer under a mutex held only for the swap.
 * - HMAC-SHA256 is computed here from its definition (RFC 2104) over a
 *   SHA-256 fetched once and a digest context kept per thread: OpenSSL 3's
 *   one-shot HMAC() fetches the algorithms and allocates its contexts on
 *   every call, ~6 % of ingest's CPU under load (bench/NOTES.md). Each
 *   secret keeps only its two padded key blocks.
 *
 * It must never log, return or copy a secret into a reason string.
 */
#include "auth.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/config.h"

#define DIGEST_LEN 32
#define BLOCK_LEN 64 /* SHA-256's block */

/* An HMAC secret as RFC 2104 uses it: the key (or its digest, when longer
 * than a block) zero-padded to a block, XORed with 0x36 and with 0x5c. */
struct secret {
    unsigned char ipad[BLOCK_LEN];
    unsigned char opad[BLOCK_LEN];
};

struct auth_creds {
    atomic_int refs;
    struct secret *hmac;
    size_t nhmac;
    unsigned char (*tokens)[DIGEST_LEN];
    size_t ntokens;
    unsigned char (*keys)[DIGEST_LEN];
    size_t nkeys;
    char *key_header;
};

struct auth_store {
    pthread_mutex_t lock;
    struct auth_creds *cur;
};

struct auth_creds *auth_creds_new(void)
{
    struct auth_creds *c = calloc(1, sizeof(*c));
    if (c)
        atomic_init(&c->refs, 1);
    return c;
}

/* SHA-256, fetched once for the process (an implicit fetch per call is a
 * lookup under a lock); NULL if the provider has none. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md;
}

static void digest(const void *p, size_t len, unsigned char out[DIGEST_LEN])
{
    unsigned int n = 0;
    const EVP_MD *md = sha256();
    if (!md || !EVP_Digest(p, len, out, &n, md, NULL) || n != DIGEST_LEN)
        memset(out, 0, DIGEST_LEN); /* never equal to a stored digest of data */
}

/* This thread's digest context, made on first use and freed when the thread
 * exits; re-initialising it for the same digest allocates nothing. */
static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static int ctx_key_ok;

static void ctx_free(void *p)
{
    EVP_MD_CTX_free(p);
}

static void ctx_key_make(void)
{
    ctx_key_ok = pthread_key_create(&ctx_key, ctx_free) == 0;
}

static EVP_MD_CTX *thread_ctx(void)
{
    EVP_MD_CTX *ctx;

    pthread_once(&ctx_once, ctx_key_make);
    if (!ctx_key_ok)
        return NULL;
    if (!(ctx = pthread_getspecific(ctx_key)) && (ctx = EVP_MD_CTX_new()) &&
        pthread_setspecific(ctx_key, ctx) != 0) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* H(pad || a || b) into out; 0 on success. */
static int digest_padded(EVP_MD_CTX *ctx, const EVP_MD *md,
                         const unsigned char pad[BLOCK_LEN], const void *a,
                         size_t alen, unsigned char out[DIGEST_LEN])
{
    unsigned int n = 0;

    if (!EVP_DigestInit_ex(ctx, md, NULL) ||
        !EVP_DigestUpdate(ctx, pad, BLOCK_LEN) ||
        (alen && !EVP_DigestUpdate(ctx, a, alen)) ||
        !EVP_DigestFinal_ex(ctx, out, &n) || n != DIGEST_LEN)
        return -1;
    return 0;
}

/* HMAC-SHA256(secret, body) = H(opad || H(ipad || body)); 0 on success. */
static int hmac_sha256(const struct secret *k, const void *body, size_t len,
                       unsigned char out[DIGEST_LEN])
{
    EVP_MD_CTX *ctx = thread_ctx();
    const EVP_MD *md = sha256();
    unsigned char inner[DIGEST_LEN];
    int r;

    if (!ctx || !md)
        return -1;
    r = digest_padded(ctx, md, k->ipad, body, len, inner) ||
        digest_padded(ctx, md, k->opad, inner, DIGEST_LEN, out) ? -1 : 0;
    OPENSSL_cleanse(inner, sizeof(inner));
    return r;
}

enum qa_err auth_creds_add_hmac_secret(struct auth_creds *c, const char *secret,
                                       char *errstr, size_t errstr_size)
{
    size_t len = secret ? strlen(secret) : 0;
    unsigned char k0[BLOCK_LEN] = { 0 };
    struct secret *t;

    if (len == 0)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "empty HMAC secret");
    t = realloc(c->hmac, (c->nhmac + 1) * sizeof(*t));
    if (!t)
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    c->hmac = t;
    if (len > BLOCK_LEN)
        digest(secret, len, k0);
    else
        memcpy(k0, secret, len);
    for (size_t i = 0; i < BLOCK_LEN; i++) {
        t[c->nhmac].ipad[i] = k0[i] ^ 0x36;
        t[c->nhmac].opad[i] = k0[i] ^ 0x5c;
    }
    OPENSSL_cleanse(k0, sizeof(k0));
    c->nhmac++;
    return QA_OK;
}

static enum qa_err add_digest(unsigned char (**arr)[DIGEST_LEN], size_t *n,
                              const char *value, const char *what,
                              char *errstr, size_t errstr_size)
{
    unsigned char (*t)[DIGEST_LEN];

    if (!value || !*value)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "empty %s", what);
    t = realloc(*arr, (*n + 1) * sizeof(*t));
    if (!t)
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    *arr = t;
    digest(value, strlen(value), t[*n]);
    (*n)++;
    return QA_OK;
}

enum qa_err auth_creds_add_bearer_token(struct auth_creds *c, const char *token,
                                        char *errstr, size_t errstr_size)
{
    return add_digest(&c->tokens, &c->ntokens, token, "bearer token", errstr,
                      errstr_size);
}

enum qa_err auth_creds_add_api_key(struct auth_creds *c, const char *key,
                                   char *errstr, size_t errstr_size)
{
    return add_digest(&c->keys, &c->nkeys, key, "API key", errstr, errstr_size);
}

enum qa_err auth_creds_set_api_key_header(struct auth_creds *c, const char *name,
                                          char *errstr, size_t errstr_size)
{
    char *dup;

    if (!name || !*name || strpbrk(name, ": \t\r\n"))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "API key header name must be a non-empty header name");
    dup = strdup(name);
    if (!dup)
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    free(c->key_header);
    c->key_header = dup;
    return QA_OK;
}

enum qa_err auth_creds_add_list(struct auth_creds *c, enum auth_kind kind,
                                const char *list, char sep, char *errstr,
                                size_t errstr_size)
{
    char **items = NULL;
    size_t n = 0;
    enum qa_err err;

    if (!list)
        return QA_OK;
    err = cfg_split_list(list, sep, &items, &n);
    if (err)
        return qa_errf(errstr, errstr_size, err, "out of memory");
    for (size_t i = 0; i < n && !err; i++) {
        if (kind == AUTH_HMAC_SECRET)
            err = auth_creds_add_hmac_secret(c, items[i], errstr, errstr_size);
        else if (kind == AUTH_BEARER_TOKEN)
            err = auth_creds_add_bearer_token(c, items[i], errstr, errstr_size);
        else
            err = auth_creds_add_api_key(c, items[i], errstr, errstr_size);
    }
    free(items);
    return err;
}

size_t auth_creds_count(const struct auth_creds *c)
{
    return c ? c->nhmac + c->ntokens + (c->key_header ? c->nkeys : 0) : 0;
}

size_t auth_creds_hmac_count(const struct auth_creds *c)
{
    return c ? c->nhmac : 0;
}

struct auth_creds *auth_creds_retain(struct auth_creds *c)
{
    if (c)
        atomic_fetch_add(&c->refs, 1);
    return c;
}

void auth_creds_release(struct auth_creds *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    if (c->hmac)
        OPENSSL_cleanse(c->hmac, c->nhmac * sizeof(*c->hmac));
    free(c->hmac);
    if (c->tokens)
        OPENSSL_cleanse(c->tokens, c->ntokens * DIGEST_LEN);
    free(c->tokens);
    if (c->keys)
        OPENSSL_cleanse(c->keys, c->nkeys * DIGEST_LEN);
    free(c->keys);
    free(c->key_header);
    free(c);
}

struct auth_store *auth_store_new(struct auth_creds *initial)
{
    struct auth_store *s = calloc(1, sizeof(*s));

    if (!s || pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        auth_creds_release(initial);
        return NULL;
    }
    s->cur = initial;
    return s;
}

void auth_store_replace(struct auth_store *s, struct auth_creds *next)
{
    struct auth_creds *old;

    pthread_mutex_lock(&s->lock);
    old = s->cur;
    s->cur = next;
    pthread_mutex_unlock(&s->lock);
    auth_creds_release(old); /* freed here or by the last request using it */
}

struct auth_creds *auth_store_acquire(struct auth_store *s)
{
    struct auth_creds *c;

    pthread_mutex_lock(&s->lock);
    c = auth_creds_retain(s->cur);
    pthread_mutex_unlock(&s->lock);
    return c;
}

void auth_store_free(struct auth_store *s)
{
    if (!s)
        return;
    auth_creds_release(s->cur);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* --- signature header -------------------------------------------------- */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Exactly 32 bytes of standard base64: 43 symbols (+ one '=' optionally),
 * the unused low bits of the last symbol zero (the canonical spelling). */
static int b64_decode32(const unsigned char *s, size_t len,
                        uint8_t out[AUTH_SIG_LEN])
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    if (len == 44 && s[43] == '=')
        len = 43;
    if (len != 43)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int v = b64val(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return o == AUTH_SIG_LEN && acc == 0 ? 0 : -1;
}

int auth_parse_signature(const char *value, size_t len,
                         uint8_t out[AUTH_SIG_LEN])
{
    const unsigned char *s = (const unsigned char *)value;

    if (!s)
        return -1;
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= 7 && strncasecmp((const char *)s, "sha256=", 7) == 0) {
        s += 7;
        len -= 7;
    }
    if (len == 2 * AUTH_SIG_LEN) {
        for (size_t i = 0; i < AUTH_SIG_LEN; i++) {
            int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            out[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
    }
    return b64_decode32(s, len, out);
}

/* --- verification ------------------------------------------------------ */

static int check_signature(const struct auth_creds *c, const char *value,
                           const void *body, size_t len)
{
    uint8_t want[AUTH_SIG_LEN], got[DIGEST_LEN];
    int match = 0;

    if (auth_parse_signature(value, strlen(value), want) != 0)
        return -1;
    for (size_t i = 0; i < c->nhmac; i++) {
        if (hmac_sha256(&c->hmac[i], body, len, got) != 0)
            continue;
        /* No early exit: every secret is tried, so timing does not say which
         * one (or whether an older one) matched. */
        match |= CRYPTO_memcmp(want, got, AUTH_SIG_LEN) == 0;
    }
    OPENSSL_cleanse(got, sizeof(got));
    return match ? 1 : 0;
}

static int check_digest_list(unsigned char (*list)[DIGEST_LEN], size_t n,
                             const char *value, size_t vlen)
{
    unsigned char d[DIGEST_LEN];
    int match = 0;

    digest(value, vlen, d);
    for (size_t i = 0; i < n; i++)
        match |= CRYPTO_memcmp(d, list[i], DIGEST_LEN) == 0;
    return match;
}

static void trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

static void say(char *reason, size_t n, const char *what)
{
    if (reason && n)
        snprintf(reason, n, "%s", what);
}

enum auth_result auth_verify(const struct auth_creds *c, auth_header_fn header,
                             void *opaque, const void *body, size_t len,
                             char *reason, size_t reason_size)
{
    const char *sig, *authz, *key;
    const char *why = "no credential presented";

    if (!c || auth_creds_count(c) == 0) {
        say(reason, reason_size, "no credential configured");
        return AUTH_UNAUTHORIZED;
    }
    sig = header(opaque, "X-Genesys-Signature");
    if (!sig)
        sig = header(opaque, "X-Hub-Signature-256");
    if (sig && c->nhmac) {
        int r = check_signature(c, sig, body, len);
        if (r == 1)
            return AUTH_OK;
        why = r < 0 ? "malformed signature header" : "signature mismatch";
    } else if (sig) {
        why = "signature presented but no HMAC secret configured";
    }

    authz = header(opaque, "Authorization");
    if (authz && c->ntokens && strncasecmp(authz, "Bearer ", 7) == 0) {
        const char *tok = authz + 7;
        size_t tlen = strlen(tok);
        trim(&tok, &tlen);
        if (tlen && check_digest_list(c->tokens, c->ntokens, tok, tlen))
            return AUTH_OK;
        why = "bearer token mismatch";
    }

    if (c->key_header && c->nkeys && (key = header(opaque, c->key_header))) {
        size_t klen = strlen(key);
        trim(&key, &klen);
        if (klen && check_digest_list(c->keys, c->nkeys, key, klen))
            return AUTH_OK;
        why = "API key mismatch";
    }
    say(reason, reason_size, why);
    return AUTH_UNAUTHORIZED;
}

enum auth_result auth_store_verify(struct auth_store *s, auth_header_fn header,
                                   void *opaque, const void *body, size_t len,
                                   char *reason, size_t reason_size)
{
    struct auth_creds *c = auth_store_acquire(s);
    enum auth_result r = auth_verify(c, header, opaque, body, len, reason,
                                     reason_size);
    auth_creds_release(c);
    return r;
}
