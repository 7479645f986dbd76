/*
 * consume_decode — the processor benchmark's ceiling: a librdkafka consumer
 * that only reads the raw topic (read_committed, a fresh group, from the
 * earliest offset) and decodes each record with codec_decode_raw_event, the
 * first thing qalert-processor does with a record. No SLA engine, no
 * transactions, no produce: what is left is what the processor cannot avoid.
 *
 *   consume_decode TOPIC N     brokers from QALERT_KAFKA_BROKERS
 *
 * Timed like bench/processor.sh times the processor: from process start
 * (group join included) until N records are decoded. Prints one JSON line
 * on stdout. Exit 1 on a decode error or when N is not reached in 120 s.
 * It must never commit offsets: each run uses a group nobody else uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/config.h"
#include "common/kafka.h"

extern char **environ;

#define CD_DEADLINE_MS 120000

int main(int argc, char **argv)
{
    const struct cfg_setting *const tables[] = { cfg_common_settings, NULL };
    int64_t t0 = clock_mono_ms();
    struct cfg *cfg = NULL;
    char *fake_argv[] = { argv[0], NULL };
    char errstr[512], group[96];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk = NULL;
    long long want, got = 0, bad = 0, bytes = 0;
    int64_t first = -1, now;
    int rc = 1;

    if (argc != 3 || (want = atoll(argv[2])) <= 0) {
        fprintf(stderr, "usage: consume_decode TOPIC N\n");
        return 2;
    }
    cfg = cfg_new("consume_decode", "benchmark peer", tables);
    if (!cfg || cfg_parse(cfg, 1, fake_argv, environ, errstr, sizeof(errstr)) ||
        codec_init(errstr, sizeof(errstr))) {
        fprintf(stderr, "consume_decode: %s\n", cfg ? errstr : "out of memory");
        goto out;
    }
    snprintf(group, sizeof(group), "bench-consume-decode-%ld-%lld", (long)getpid(),
             (long long)clock_wall_ms());
    if (!(conf = kq_conf_new(cfg, "consume_decode", errstr, sizeof(errstr))))
        goto fail;
    struct kq_consumer_opts opts = { .group_id = group, .offset_reset = "earliest" };
    if (!(rk = kq_consumer_new(conf, &opts, errstr, sizeof(errstr))))
        goto fail;
    const char *topics[] = { argv[1] };
    if (kq_subscribe(rk, topics, 1, errstr, sizeof(errstr)))
        goto fail;

    while (got < want) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        now = clock_mono_ms();
        if (now - t0 > CD_DEADLINE_MS) {
            fprintf(stderr, "consume_decode: %lld of %lld after %d ms\n", got, want,
                    CD_DEADLINE_MS);
            goto out;
        }
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "consume_decode: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        struct raw_event ev = { 0 };
        if (codec_decode_raw_event(m->payload, m->len, &ev, errstr, sizeof(errstr)))
            bad++;
        codec_raw_event_clear(&ev);
        if (first < 0)
            first = now;
        bytes += (long long)m->len;
        got++;
        rd_kafka_message_destroy(m);
    }
    now = clock_mono_ms();
    double secs = (double)(now - t0) / 1000.0;
    double busy = first >= 0 && now > first ? (double)(now - first) / 1000.0 : secs;
    printf("{\"events\":%lld,\"decode_errors\":%lld,\"bytes\":%lld,\"seconds\":%.3f,"
           "\"events_per_s\":%.1f,\"seconds_after_first\":%.3f,\"events_per_s_after_first\":%.1f}\n",
           got, bad, bytes, secs, (double)got / secs, busy, (double)got / busy);
    rc = bad ? 1 : 0;
    goto out;
fail:
    fprintf(stderr, "consume_decode: %s\n", errstr);
out:
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    codec_shutdown();
    cfg_free(cfg);
    return rc;
}
