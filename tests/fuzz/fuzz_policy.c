/*
 * fuzz_policy.c — the SLA policy parser on hostile bytes: it must refuse or
 * load, never crash or leak, and a loaded policy must answer lookups.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "processor/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[256];
    struct policy *p = NULL;
    char *text = malloc(size + 1);

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (policy_load_string(text, &p, errstr, sizeof(errstr)) == QA_OK) {
        struct policy_sla sla;
        policy_lookup(p, "2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c", "VOICE", &sla);
        if (sla.duration_ms <= 0 || !(sla.target > 0 && sla.target <= 1))
            abort();
        if (!policy_priority(p, "x", POLICY_SERVICE_LEVEL_LOW))
            abort();
        policy_free(p);
    }
    free(text);
    return 0;
}
