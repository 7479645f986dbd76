/*
 * fuzz_retry_headers.c — retry headers, Retry-After, QALERT_RETRY_DELAYS_MS
 * and sink answers on hostile bytes: they must refuse or parse, never crash,
 * and whatever parses must build back to the same values.
 *
 * Input layout: records of [name index byte][length byte][value bytes],
 * so the fuzzer reaches every header, duplicates and NULL values; the whole
 * input is also fed to the other parsers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "notifier/retry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
    RETRY_H_ATTEMPT, RETRY_H_NOT_BEFORE, RETRY_H_ERROR, RETRY_H_ORIGINAL_TOPIC,
    RETRY_H_ORIGINAL_PARTITION, RETRY_H_ORIGINAL_OFFSET, RETRY_H_FIRST_FAILURE,
    "qalert-status", "other",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct retry_header_kv kv[32];
    struct retry_headers h, back;
    struct retry_header_set set;
    struct sink_result r;
    size_t n = 0, i = 0;
    char err[256];
    char *text;
    int64_t delays[RETRY_MAX_DELAYS];
    size_t nd;

    while (i + 2 <= size && n < 32) {
        size_t len = data[i + 1];
        kv[n].name = names[data[i] % NNAMES];
        i += 2;
        if (len > size - i)
            len = size - i;
        /* an odd name byte above 0x80 means "no value", as librdkafka allows */
        kv[n].value = data[i - 2] & 0x80 ? NULL : data + i;
        kv[n].value_len = len;
        i += len;
        n++;
    }
    retry_headers_parse(kv, n, &h, err, sizeof(err));
    retry_headers_build(&h, &set);
    if (retry_headers_parse(set.kv, set.n, &back, err, sizeof(err)) != QA_OK)
        abort();
    if (back.present != h.present || back.attempt != h.attempt ||
        back.not_before_ms != h.not_before_ms ||
        strcmp(back.error, h.error) != 0 ||
        strcmp(back.original_topic, h.original_topic) != 0 ||
        back.original_partition != h.original_partition ||
        back.original_offset != h.original_offset ||
        back.first_failure_ms != h.first_failure_ms)
        abort();

    text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    {
        int64_t ms = retry_parse_retry_after(text, 1700000000000LL);
        if (ms < 0 || ms > RETRY_AFTER_MAX_MS)
            abort();
    }
    if (retry_parse_delays(text, delays, RETRY_MAX_DELAYS, &nd, err, sizeof(err)) == QA_OK)
        for (size_t k = 0; k < nd; k++)
            if (delays[k] < 0 || delays[k] > RETRY_MAX_DELAY_MS)
                abort();
    sink_parse_response(SINK_API_SLACK_WEB, 200, (const char *)data, size, text,
                        1700000000000LL, &r);
    retry_classify(&r, err, sizeof(err));
    sink_parse_response(SINK_API_OPSGENIE, 429, (const char *)data, size, text, 0, &r);
    free(text);
    return 0;
}
