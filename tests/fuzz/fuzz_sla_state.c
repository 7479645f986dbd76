/*
 * fuzz_sla_state.c — the SLA engine's changelog decoder on hostile bytes
 * (records read back from a compacted topic): any key and value must be
 * refused or applied, and the engine must still process events, and drain
 * what changed, after.
 * Input: records separated by the bytes 0xfe 0xfd, each key bytes, a 0xff
 * separator, value bytes (no separator: tombstone). Several records reach
 * what one cannot: an id in two "seenb:" blocks, a block and its tombstone.
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

static enum qa_err discard(const void *key, size_t klen, const void *value, size_t vlen,
                           void *opaque)
{
    (void)key;
    (void)klen;
    (void)value;
    (void)vlen;
    (void)opaque;
    return QA_OK;
}

static void restore_record(struct sla_engine *e, const uint8_t *p, size_t n)
{
    char errstr[256];
    const uint8_t *sep = n ? memchr(p, 0xff, n) : NULL;
    size_t klen = sep ? (size_t)(sep - p) : n;

    sla_engine_restore(e, p, klen, sep ? sep + 1 : NULL, sep ? n - klen - 1 : 0, errstr,
                       sizeof(errstr));
}

static void feed(struct sla_engine *e, const char *id, int64_t t)
{
    char errstr[256];
    struct raw_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = RAW_ACD_END;
    ev.event_id = (char *)id;
    ev.queue_id = "q";
    ev.conversation_id = "c";
    ev.acd_outcome = "ABANDON";
    ev.event_time_ms = t;
    ev.wait_ms = ev.sla_ms = ev.calls_in_queue = CODEC_ABSENT;
    sla_engine_process(e, &ev, drop, NULL, NULL, errstr, sizeof(errstr));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errstr[256];
    struct sla_engine *e = sla_engine_new(NULL, NULL);
    size_t off = 0;

    if (!e)
        return 0;
    while (off <= size) {
        size_t end = off;
        while (end + 1 < size && !(data[end] == 0xfe && data[end + 1] == 0xfd))
            end++;
        if (end + 1 >= size)
            end = size;
        restore_record(e, data + off, end - off);
        off = end + 2;
    }
    sla_engine_restore_finish(e, errstr, sizeof(errstr));
    feed(e, "a", 1763884800000LL);
    feed(e, "b", 1763884800000LL);
    sla_engine_drain_changes(e, discard, NULL, errstr, sizeof(errstr));
    feed(e, "a", 1763884801000LL);
    sla_engine_advance(e, 1763884800000LL + 86400000LL, drop, NULL, errstr, sizeof(errstr));
    sla_engine_drain_changes(e, discard, NULL, errstr, sizeof(errstr));
    sla_engine_free(e);
    return 0;
}
