/*
 * test_auth.c — signatures checked against signatures.txt (an independent
 * signer: openssl dgst), every spelling SPEC §4 allows, every near miss, key
 * rotation, bearer tokens, API keys, and the atomic swap of a credential set.
 * auth.c computes HMAC-SHA256 itself (RFC 2104): RFC 4231's vectors and
 * OpenSSL's HMAC() over every key length around the block size check it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ingest/auth.h"
#include "support/support.h"

#define SECRET "qalert-fixture-secret"

/* A request's headers for auth_verify. */
struct req {
    const char *names[4];
    const char *values[4];
};

static const char *lookup(void *opaque, const char *name)
{
    struct req *r = opaque;
    for (int i = 0; i < 4 && r->names[i]; i++)
        if (strcasecmp(r->names[i], name) == 0)
            return r->values[i];
    return NULL;
}

static struct auth_creds *creds_with(const char *secrets, const char *tokens,
                                     const char *key_header, const char *keys)
{
    struct auth_creds *c = auth_creds_new();
    char err[128];
    assert_non_null(c);
    assert_int_equal(auth_creds_add_list(c, AUTH_HMAC_SECRET, secrets, ',', err,
                                         sizeof(err)), QA_OK);
    assert_int_equal(auth_creds_add_list(c, AUTH_BEARER_TOKEN, tokens, ',', err,
                                         sizeof(err)), QA_OK);
    if (key_header)
        assert_int_equal(auth_creds_set_api_key_header(c, key_header, err,
                                                       sizeof(err)), QA_OK);
    assert_int_equal(auth_creds_add_list(c, AUTH_API_KEY, keys, ',', err,
                                         sizeof(err)), QA_OK);
    return c;
}

static enum auth_result verify1(const struct auth_creds *c, const char *hname,
                                const char *hvalue, const void *body, size_t len,
                                char *reason, size_t n)
{
    struct req r = { { hname }, { hvalue } };
    return auth_verify(c, lookup, &r, body, len, reason, n);
}

static void b64(const uint8_t *in, size_t n, char *out, size_t outn)
{
    assert_true(outn >= 4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static void hex_to_bytes(const char *hex, uint8_t *out)
{
    for (int i = 0; i < 32; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void test_every_fixture_signature(void **state)
{
    size_t slen;
    char *sigs = ts_fixture("signatures.txt", &slen);
    struct auth_creds *c = creds_with(SECRET, NULL, NULL, NULL);
    char reason[128];
    int checked = 0;

    for (char *line = strtok(sigs, "\n"); line; line = strtok(NULL, "\n")) {
        char hex[65], name[256], upper[65], b64s[64], pref[80];
        uint8_t raw[32];
        size_t blen;
        assert_int_equal(sscanf(line, "%64s %255s", hex, name), 2);
        char *body = ts_fixture(name, &blen);

        assert_int_equal(verify1(c, "X-Genesys-Signature", hex, body, blen,
                                 reason, sizeof(reason)), AUTH_OK);
        for (int i = 0; i < 65; i++)
            upper[i] = (char)toupper((unsigned char)hex[i]);
        assert_int_equal(verify1(c, "x-genesys-signature", upper, body, blen,
                                 reason, sizeof(reason)), AUTH_OK);
        hex_to_bytes(hex, raw);
        b64(raw, 32, b64s, sizeof(b64s));
        assert_int_equal(verify1(c, "X-Hub-Signature-256", b64s, body, blen,
                                 reason, sizeof(reason)), AUTH_OK);
        snprintf(pref, sizeof(pref), "sha256=%s", hex);
        assert_int_equal(verify1(c, "X-Hub-Signature-256", pref, body, blen,
                                 reason, sizeof(reason)), AUTH_OK);
        /* One byte of body more: mismatch. */
        if (blen > 0)
            assert_int_equal(verify1(c, "X-Genesys-Signature", hex, body,
                                     blen - 1, reason, sizeof(reason)),
                             AUTH_UNAUTHORIZED);
        free(body);
        checked++;
    }
    assert_true(checked >= 20);
    auth_creds_release(c);
    free(sigs);
}

static void hex_of(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* RFC 4231, test cases 1, 2, 6 and 7: a short key, a key shorter than the
 * data, and keys longer than SHA-256's 64-byte block (hashed first). */
static void test_rfc4231_vectors(void **state)
{
    static const struct {
        unsigned char key_byte; /* 0: the key is "Jefe" */
        size_t key_len;
        const char *data, *mac;
    } v[] = {
        { 0x0b, 20, "Hi There",
          "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
        { 0, 4, "what do ya want for nothing?",
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
        { 0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
          "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
        { 0xaa, 131,
          "This is a test using a larger than block-size key and a larger than "
          "block-size data. The key needs to be hashed before being used by the "
          "HMAC algorithm.",
          "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
    };
    char key[200], reason[128];

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct auth_creds *c = auth_creds_new();
        char err[128];
        if (v[i].key_byte)
            memset(key, v[i].key_byte, v[i].key_len);
        else
            memcpy(key, "Jefe", 4);
        key[v[i].key_len] = '\0';
        assert_int_equal(auth_creds_add_hmac_secret(c, key, err, sizeof(err)), QA_OK);
        assert_int_equal(verify1(c, "X-Genesys-Signature", v[i].mac, v[i].data,
                                 strlen(v[i].data), reason, sizeof(reason)), AUTH_OK);
        auth_creds_release(c);
    }
}

/* Every key length from 1 to 130 bytes (both sides of the block size) and
 * bodies of 0 to 300 bytes, against OpenSSL's own HMAC(). */
static void test_hmac_matches_openssl(void **state)
{
    char key[131], body[301], hex[65], reason[128], err[128];
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int mlen;

    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)(ts_rand() & 0xff);
    for (size_t klen = 1; klen < sizeof(key); klen++) {
        struct auth_creds *c = auth_creds_new();
        size_t blen = (klen * 7) % sizeof(body);
        for (size_t i = 0; i < klen; i++)
            key[i] = (char)('!' + ts_rand() % 90);
        key[klen] = '\0';
        assert_int_equal(auth_creds_add_hmac_secret(c, key, err, sizeof(err)), QA_OK);
        assert_non_null(HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)body,
                             blen, mac, &mlen));
        hex_of(mac, 32, hex);
        assert_int_equal(verify1(c, "X-Genesys-Signature", hex, body, blen, reason,
                                 sizeof(reason)), AUTH_OK);
        /* the same key one byte shorter is a different secret */
        if (klen > 1) {
            struct auth_creds *d = auth_creds_new();
            key[klen - 1] = '\0';
            assert_int_equal(auth_creds_add_hmac_secret(d, key, err, sizeof(err)), QA_OK);
            assert_int_equal(verify1(d, "X-Genesys-Signature", hex, body, blen,
                                     reason, sizeof(reason)), AUTH_UNAUTHORIZED);
            auth_creds_release(d);
        }
        auth_creds_release(c);
    }
}

static void test_near_misses(void **state)
{
    size_t blen;
    char *body = ts_fixture("webhook-flat-breach.json", &blen);
    const char *good = "6bdce7a18a27d3fc998b718bd6d353d617493536a383a69a7f2f35cc6e7530e8";
    struct auth_creds *c = creds_with(SECRET, NULL, NULL, NULL);
    struct auth_creds *wrong = creds_with("not-the-secret", NULL, NULL, NULL);
    char reason[128], v[80];

    assert_int_equal(verify1(c, "X-Genesys-Signature", good, body, blen, reason,
                             sizeof(reason)), AUTH_OK);
    assert_int_equal(verify1(wrong, "X-Genesys-Signature", good, body, blen,
                             reason, sizeof(reason)), AUTH_UNAUTHORIZED);
    assert_string_equal(reason, "signature mismatch");
    assert_null(strstr(reason, "not-the-secret"));

    /* One flipped bit in the signature, and in the body. */
    snprintf(v, sizeof(v), "%s", good);
    v[63] = v[63] == '8' ? '9' : '8';
    assert_int_equal(verify1(c, "X-Genesys-Signature", v, body, blen, reason,
                             sizeof(reason)), AUTH_UNAUTHORIZED);
    body[10] ^= 1;
    assert_int_equal(verify1(c, "X-Genesys-Signature", good, body, blen, reason,
                             sizeof(reason)), AUTH_UNAUTHORIZED);
    body[10] ^= 1;

    /* Truncated, empty, absent. */
    snprintf(v, sizeof(v), "%.62s", good);
    assert_int_equal(verify1(c, "X-Genesys-Signature", v, body, blen, reason,
                             sizeof(reason)), AUTH_UNAUTHORIZED);
    assert_string_equal(reason, "malformed signature header");
    assert_int_equal(verify1(c, "X-Genesys-Signature", "", body, blen, reason,
                             sizeof(reason)), AUTH_UNAUTHORIZED);
    assert_int_equal(verify1(c, "X-Other", good, body, blen, reason,
                             sizeof(reason)), AUTH_UNAUTHORIZED);
    assert_string_equal(reason, "no credential presented");
    auth_creds_release(c);
    auth_creds_release(wrong);
    free(body);
}

static void test_rotation(void **state)
{
    size_t blen;
    char *body = ts_fixture("webhook-batch.json", &blen);
    const char *sig = "166de81a86b38348d67d9c8bf36d70cd080d2eb3d07081cda4ddeb790dbec0c0";
    char reason[128];
    struct auth_creds *old_first = creds_with(SECRET ",new-secret-2", NULL, NULL, NULL);
    struct auth_creds *new_first = creds_with("new-secret-2, " SECRET, NULL, NULL, NULL);

    assert_int_equal(auth_creds_hmac_count(old_first), 2);
    assert_int_equal(verify1(old_first, "X-Genesys-Signature", sig, body, blen,
                             reason, sizeof(reason)), AUTH_OK);
    assert_int_equal(verify1(new_first, "X-Genesys-Signature", sig, body, blen,
                             reason, sizeof(reason)), AUTH_OK);
    auth_creds_release(old_first);
    auth_creds_release(new_first);
    free(body);
}

static void test_bearer_and_api_key(void **state)
{
    struct auth_creds *c = creds_with(NULL, "tok-one,tok-two", "X-Api-Key", "key-1234");
    char reason[128];
    struct req both = { { "Authorization", "x-api-key" }, { "Bearer nope", "key-1234" } };

    assert_int_equal(auth_creds_count(c), 3);
    assert_int_equal(verify1(c, "Authorization", "Bearer tok-two", "b", 1,
                             reason, sizeof(reason)), AUTH_OK);
    assert_int_equal(verify1(c, "Authorization", "bearer  tok-one ", "b", 1,
                             reason, sizeof(reason)), AUTH_OK);
    assert_int_equal(verify1(c, "Authorization", "Bearer tok-three", "b", 1,
                             reason, sizeof(reason)), AUTH_UNAUTHORIZED);
    assert_string_equal(reason, "bearer token mismatch");
    assert_int_equal(verify1(c, "Authorization", "Bearer tok-on", "b", 1,
                             reason, sizeof(reason)), AUTH_UNAUTHORIZED);
    assert_int_equal(verify1(c, "Authorization", "Bearer ", "b", 1,
                             reason, sizeof(reason)), AUTH_UNAUTHORIZED);
    assert_int_equal(verify1(c, "Authorization", "", "b", 1,
                             reason, sizeof(reason)), AUTH_UNAUTHORIZED);
    assert_int_equal(verify1(c, "Authorization", "Basic tok-one", "b", 1,
                             reason, sizeof(reason)), AUTH_UNAUTHORIZED);
    assert_int_equal(verify1(c, "X-API-KEY", "key-1234", "b", 1,
                             reason, sizeof(reason)), AUTH_OK);
    assert_int_equal(verify1(c, "X-API-KEY", "key-12345", "b", 1,
                             reason, sizeof(reason)), AUTH_UNAUTHORIZED);
    assert_string_equal(reason, "API key mismatch");
    /* Any one valid credential suffices. */
    assert_int_equal(auth_verify(c, lookup, &both, "b", 1, reason, sizeof(reason)),
                     AUTH_OK);
    /* A signature is no use without a secret configured. */
    assert_int_equal(verify1(c, "X-Genesys-Signature",
        "166de81a86b38348d67d9c8bf36d70cd080d2eb3d07081cda4ddeb790dbec0c0", "b", 1,
        reason, sizeof(reason)), AUTH_UNAUTHORIZED);
    auth_creds_release(c);
}

static void test_empty_values_refused(void **state)
{
    struct auth_creds *c = auth_creds_new();
    char err[128];
    assert_int_equal(auth_creds_add_hmac_secret(c, "", err, sizeof(err)), QA_ERR_INVALID);
    assert_int_equal(auth_creds_add_bearer_token(c, "", err, sizeof(err)), QA_ERR_INVALID);
    assert_int_equal(auth_creds_set_api_key_header(c, "Bad: name", err, sizeof(err)),
                     QA_ERR_INVALID);
    /* Keys without a header name count for nothing. */
    assert_int_equal(auth_creds_add_api_key(c, "k-abcdef", err, sizeof(err)), QA_OK);
    assert_int_equal(auth_creds_count(c), 0);
    char reason[64];
    assert_int_equal(verify1(c, "Authorization", "Bearer x", "", 0, reason,
                             sizeof(reason)), AUTH_UNAUTHORIZED);
    assert_string_equal(reason, "no credential configured");
    auth_creds_release(c);
}

static void test_parse_signature(void **state)
{
    uint8_t out[AUTH_SIG_LEN], want[AUTH_SIG_LEN];
    const char *hex = "166de81a86b38348d67d9c8bf36d70cd080d2eb3d07081cda4ddeb790dbec0c0";
    char b[64], v[128];

    hex_to_bytes(hex, want);
    b64(want, 32, b, sizeof(b));
    assert_int_equal(strlen(b), 44);
    assert_int_equal(auth_parse_signature(b, 44, out), 0);
    assert_memory_equal(out, want, 32);
    assert_int_equal(auth_parse_signature(b, 43, out), 0); /* unpadded */
    assert_memory_equal(out, want, 32);
    snprintf(v, sizeof(v), "  SHA256=%s\t", hex);
    assert_int_equal(auth_parse_signature(v, strlen(v), out), 0);
    assert_memory_equal(out, want, 32);

    assert_int_equal(auth_parse_signature(hex, 63, out), -1);
    snprintf(v, sizeof(v), "%s0", hex);
    assert_int_equal(auth_parse_signature(v, 65, out), -1);
    snprintf(v, sizeof(v), "%.63sg", hex);
    assert_int_equal(auth_parse_signature(v, 64, out), -1);
    assert_int_equal(auth_parse_signature(b, 42, out), -1);
    snprintf(v, sizeof(v), "%s=", b);
    assert_int_equal(auth_parse_signature(v, 45, out), -1);
    snprintf(v, sizeof(v), "%.42s-", b); /* url-safe alphabet is not base64 */
    assert_int_equal(auth_parse_signature(v, 43, out), -1);
    /* Non-canonical last symbol: nonzero unused bits. */
    snprintf(v, sizeof(v), "%.42s", b);
    v[42] = b[42] == 'A' ? 'B' : (char)(b[42] | 1);
    v[43] = '\0';
    if (v[42] != b[42])
        assert_int_equal(auth_parse_signature(v, 43, out), -1);
    assert_int_equal(auth_parse_signature("", 0, out), -1);
    assert_int_equal(auth_parse_signature("sha256=", 7, out), -1);
    assert_int_equal(auth_parse_signature(NULL, 0, out), -1);
}

static void test_store_swap(void **state)
{
    struct auth_store *s = auth_store_new(creds_with("first-secret", NULL, NULL, NULL));
    struct auth_creds *held = auth_store_acquire(s);
    struct auth_creds *now;
    char reason[64];

    auth_store_replace(s, creds_with(NULL, "second-token", NULL, NULL));
    /* The old set stays valid for the request holding it. */
    assert_int_equal(auth_creds_hmac_count(held), 1);
    auth_creds_release(held);
    now = auth_store_acquire(s);
    assert_int_equal(auth_creds_hmac_count(now), 0);
    assert_int_equal(auth_creds_count(now), 1);
    auth_creds_release(now);
    struct req r = { { "Authorization" }, { "Bearer second-token" } };
    assert_int_equal(auth_store_verify(s, lookup, &r, "", 0, reason, sizeof(reason)),
                     AUTH_OK);
    auth_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_fixture_signature),
        cmocka_unit_test(test_rfc4231_vectors),
        cmocka_unit_test(test_hmac_matches_openssl),
        cmocka_unit_test(test_near_misses),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_bearer_and_api_key),
        cmocka_unit_test(test_empty_values_refused),
        cmocka_unit_test(test_parse_signature),
        cmocka_unit_test(test_store_swap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
