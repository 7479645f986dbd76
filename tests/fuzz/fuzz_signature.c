/*
 * fuzz_signature.c — hostile signature header values. Invariant beyond "no
 * crash": whatever parses re-parses identically when spelled as lowercase hex
 * (decoding is a function of the 32 bytes, not of the spelling).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t sig[AUTH_SIG_LEN], again[AUTH_SIG_LEN];
    char hex[2 * AUTH_SIG_LEN + 1];

    if (auth_parse_signature((const char *)data, size, sig) != 0)
        return 0;
    for (size_t i = 0; i < AUTH_SIG_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", sig[i]);
    if (auth_parse_signature(hex, 2 * AUTH_SIG_LEN, again) != 0 ||
        memcmp(sig, again, AUTH_SIG_LEN) != 0)
        abort();
    return 0;
}
