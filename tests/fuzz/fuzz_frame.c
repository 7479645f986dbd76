/*
 * fuzz_frame.c — framed Avro records on hostile bytes: the frame parser,
 * the payload check and avro-c's reader behind it must refuse or decode,
 * never crash, over-read or leak. Decoded records must encode again, and
 * the alert read straight from its bytes (codec_alert_fast.c) must be what
 * the avro-c path reads: both accept or both refuse, with the same values.
 */
#include <stdint.h>
#include <stdlib.h>

#include "common/codec.h"
#include "common/codec_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    char errstr[256];
    struct raw_event ev;
    struct alert al, slow;
    int ok;
    enum codec_record rec;
    char *json = NULL;
    uint8_t *out = NULL;
    size_t out_len;

    if (!ready) {
        if (codec_init(errstr, sizeof(errstr)) != QA_OK)
            abort();
        ready = 1;
    }
    if (codec_decode_raw_event(data, size, &ev, errstr, sizeof(errstr)) == QA_OK) {
        /* Required strings are present after a successful decode. */
        if (!ev.event_id || !ev.event_type)
            abort();
        if (codec_encode_raw_event(&ev, &out, &out_len, errstr, sizeof(errstr)) != QA_OK)
            abort();
        free(out);
        out = NULL;
    }
    codec_raw_event_clear(&ev);
    ok = codec_decode_alert(data, size, &al, errstr, sizeof(errstr)) == QA_OK;
    if (ok != (codec_decode_alert_avro(data, size, &slow, errstr, sizeof(errstr)) == QA_OK) ||
        (ok && !codec_alert_same(&al, &slow)))
        abort();
    codec_alert_clear(&slow);
    if (ok) {
        if (codec_encode_alert(&al, &out, &out_len, errstr, sizeof(errstr)) != QA_OK)
            abort();
        free(out);
    }
    codec_alert_clear(&al);
    if (codec_to_json(data, size, &json, &rec, errstr, sizeof(errstr)) == QA_OK && !json)
        abort();
    free(json);
    return 0;
}
