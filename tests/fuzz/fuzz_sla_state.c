/*
 * fuzz_sla_state.c — the SLA engine's changelog decoder on hostile bytes
 * (records read back from a compacted topic): any key and value must be
 * refused or applied, and the engine must still process events after.
 * Input: key bytes, a 0xff separator, value bytes (no separator: tombstone).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "processor/sla.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum qa_err drop(const struct alert *al, void *opaque)
{
    (void)al;
    (void)opaque;
    return QA_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[256];
    struct sla_engine *e = sla_engine_new(NULL, NULL);
    const uint8_t *sep = memchr(data, 0xff, size);
    size_t klen = sep ? (size_t)(sep - data) : size;
    struct raw_event ev;

    if (!e)
        return 0;
    sla_engine_restore(e, data, klen, sep ? sep + 1 : NULL, sep ? size - klen - 1 : 0,
                       errstr, sizeof(errstr));
    sla_engine_restore_finish(e, errstr, sizeof(errstr));
    memset(&ev, 0, sizeof(ev));
    ev.kind = RAW_ACD_END;
    ev.queue_id = "q";
    ev.conversation_id = "c";
    ev.acd_outcome = "ABANDON";
    ev.event_time_ms = 1763884800000LL;
    ev.wait_ms = ev.sla_ms = ev.calls_in_queue = CODEC_ABSENT;
    sla_engine_process(e, &ev, drop, NULL, NULL, errstr, sizeof(errstr));
    sla_engine_advance(e, 1763884800000LL + 86400000LL, drop, NULL, errstr, sizeof(errstr));
    sla_engine_free(e);
    return 0;
}
