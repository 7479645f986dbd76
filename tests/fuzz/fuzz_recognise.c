/*
 * fuzz_recognise.c — hostile request bodies through the recogniser, on both
 * endpoints. Invariants checked beyond "no crash": an accepted batch has at
 * least one event, and each event's bytes lie inside the body.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/recognise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when needle occurs in hay (memmem is a GNU extension). */
static int contains(const uint8_t *hay, size_t n, const uint8_t *needle,
                    size_t k)
{
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int ep = RECOGNISE_GENESYS; ep <= RECOGNISE_EVENTBRIDGE; ep++) {
        struct recognise_batch b;
        enum recognise_code code;
        char err[256];
        enum qa_err e = recognise_body(data, size, (enum recognise_endpoint)ep,
                                       1763884800000LL, &b, &code, err,
                                       sizeof(err));
        if (e == QA_OK) {
            if (b.nevents == 0 || code != RECOGNISE_OK)
                abort();
            for (size_t i = 0; i < b.nevents; i++) {
                const struct raw_event *ev = &b.events[i];
                if (!ev->event_id || !ev->event_type || ev->body_len > size ||
                    !contains(data, size, ev->body, ev->body_len))
                    abort();
            }
        } else if (e == QA_ERR_INVALID && code == RECOGNISE_OK) {
            abort();
        }
        recognise_batch_clear(&b);
    }
    return 0;
}
