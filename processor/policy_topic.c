/*
 * policy_topic.c — see policy_topic.h. The consumer has a group.id only
 * because librdkafka's consumer handle wants one; it never joins the group
 * (assign() only) and never commits. enable.partition.eof marks the end of
 * each partition at start (for read_committed: the last stable offset, so an
 * aborted or open transaction's record is never taken). sync-policy keys
 * every record "policy", so they all land in one partition in offset order:
 * the last valid record read is the newest.
 */
#include "processor/policy_topic.h"

#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/log.h"
#include "processor/policy.h"

/* Largest policy value taken (policy_read_text's limit for the file). */
#define POLICY_TOPIC_MAX_VALUE (16u << 20)
/* While the topic is missing: how often, and how long, to look for it. */
#define POLICY_TOPIC_RECHECK_MS 5000
#define POLICY_TOPIC_METADATA_MS 500

struct policy_topic {
    rd_kafka_t *rk;
    char *topic;
    int assigned;
    int64_t next_check_ms; /* clock_mono_ms() of the next look while missing */
};

static void ignored(const char *topic, int32_t partition, int64_t offset, const char *why)
{
    log_warn("policy topic record ignored; the running policy stays", LOG_S("topic", topic),
             LOG_I("partition", partition), LOG_I("offset", offset), LOG_S("reason", why));
}

int policy_topic_offer(struct policy_topic_pick *pick, const char *topic, int32_t partition,
                       int64_t offset, const void *key, size_t klen, const void *value,
                       size_t vlen)
{
    struct policy *p = NULL;
    char errstr[512], why[600];
    char *text;

    if (!key || klen != strlen(POLICY_TOPIC_KEY) || memcmp(key, POLICY_TOPIC_KEY, klen) != 0) {
        ignored(topic, partition, offset, "key is not \"" POLICY_TOPIC_KEY "\"");
        return 0;
    }
    if (!value) {
        ignored(topic, partition, offset, "tombstone (no value)");
        return 0;
    }
    if (vlen > POLICY_TOPIC_MAX_VALUE) {
        ignored(topic, partition, offset, "value over 16 MiB");
        return 0;
    }
    if (memchr(value, '\0', vlen)) {
        ignored(topic, partition, offset, "value holds a NUL byte");
        return 0;
    }
    if (!(text = malloc(vlen + 1)))
        return -1;
    memcpy(text, value, vlen);
    text[vlen] = '\0';
    if (policy_load_string(text, &p, errstr, sizeof(errstr))) {
        snprintf(why, sizeof(why), "not a valid policy: %s", errstr);
        ignored(topic, partition, offset, why);
        free(text);
        return 0;
    }
    policy_free(p);
    free(pick->text);
    pick->text = text;
    pick->partition = partition;
    pick->offset = offset;
    return 1;
}

void policy_topic_pick_clear(struct policy_topic_pick *pick)
{
    free(pick->text);
    pick->text = NULL;
}

struct policy_topic *policy_topic_new(const struct cfg *cfg, const char *topic, char *errstr,
                                      size_t errstr_size)
{
    struct policy_topic *pt = calloc(1, sizeof(*pt));

    if (!pt || !(pt->topic = strdup(topic))) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (!(pt->rk = kq_reader_new(kq_conf_new(cfg, "qalert-processor-policy", errstr,
                                             errstr_size),
                                 "qalert-processor-policy", errstr, errstr_size)))
        goto fail;
    return pt;
fail:
    policy_topic_free(pt);
    return NULL;
}

void policy_topic_free(struct policy_topic *pt)
{
    if (!pt)
        return;
    if (pt->rk) {
        rd_kafka_consumer_close(pt->rk);
        rd_kafka_destroy(pt->rk);
    }
    free(pt->topic);
    free(pt);
}

/* Assigns every partition of the topic from its beginning; the number of
 * partitions, or -1 with errstr (missing topic, no answer in timeout_ms). */
static int assign_all(struct policy_topic *pt, int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_resp_err_t rerr;
    int n = kq_partition_count(pt->rk, pt->topic, timeout_ms, errstr, errstr_size);

    if (n <= 0) {
        if (n == 0)
            qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "topic %s has no partitions", pt->topic);
        return -1;
    }
    parts = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(parts, pt->topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rerr = rd_kafka_assign(pt->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (rerr) {
        qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "assign %s: %s", pt->topic,
                rd_kafka_err2str(rerr));
        return -1;
    }
    pt->assigned = 1;
    return n;
}

/* Hands one consumed message to pick; 1 when it was the end of a partition. */
static int take(struct policy_topic *pt, struct policy_topic_pick *pick,
                const rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return 1;
    if (m->err) {
        log_warn("policy topic read error", LOG_S("topic", pt->topic),
                 LOG_S("error", rd_kafka_message_errstr(m)));
        return 0;
    }
    if (policy_topic_offer(pick, pt->topic, m->partition, m->offset, m->key, m->key_len,
                           m->payload, m->payload ? m->len : 0) < 0)
        log_error("out of memory reading the policy topic", LOG_S("topic", pt->topic));
    return 0;
}

void policy_topic_read_to_end(struct policy_topic *pt, int timeout_ms, char **text)
{
    struct policy_topic_pick pick = { 0 };
    int64_t deadline = clock_mono_ms() + timeout_ms;
    int64_t *high = NULL;
    char *done = NULL;
    char errstr[512];
    int n, left_parts = 0;

    *text = NULL;
    pt->next_check_ms = clock_mono_ms() + POLICY_TOPIC_RECHECK_MS;
    if ((n = assign_all(pt, timeout_ms, errstr, sizeof(errstr))) < 0) {
        log_warn("policy topic not readable; the file or default policy stays and the topic "
                 "is looked for again",
                 LOG_S("topic", pt->topic), LOG_S("error", errstr));
        return;
    }
    high = calloc((size_t)n, sizeof(*high));
    done = calloc((size_t)n, 1);
    if (!high || !done) {
        log_error("out of memory reading the policy topic", LOG_S("topic", pt->topic));
        goto out;
    }
    for (int i = 0; i < n; i++) {
        int64_t low = 0, left = deadline - clock_mono_ms();
        rd_kafka_resp_err_t rerr = rd_kafka_query_watermark_offsets(
            pt->rk, pt->topic, i, &low, &high[i], left > 0 ? (int)left : 1);
        if (rerr) {
            log_warn("policy topic watermarks unknown; reading on until its end",
                     LOG_S("topic", pt->topic), LOG_I("partition", i),
                     LOG_S("error", rd_kafka_err2str(rerr)));
            high[i] = INT64_MAX;
        }
        done[i] = !rerr && high[i] <= low;
        left_parts += !done[i];
    }
    while (left_parts > 0) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0) {
            log_warn("policy topic not read to its end in time; going on with what was read",
                     LOG_S("topic", pt->topic), LOG_I("timeout_ms", timeout_ms));
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(pt->rk, left < 200 ? (int)left : 200);
        if (!m)
            continue;
        int32_t p = m->partition;
        int eof = take(pt, &pick, m);
        if (p >= 0 && p < n && !done[p] &&
            (eof || (!m->err && m->offset + 1 >= high[p]))) {
            done[p] = 1;
            left_parts--;
        }
        rd_kafka_message_destroy(m);
    }
    *text = pick.text;
    pick.text = NULL;
out:
    policy_topic_pick_clear(&pick);
    free(high);
    free(done);
}

char *policy_topic_poll(struct policy_topic *pt, int max_records)
{
    struct policy_topic_pick pick = { 0 };
    char errstr[512];

    if (!pt->assigned) {
        int64_t now = clock_mono_ms();
        if (now < pt->next_check_ms)
            return NULL;
        pt->next_check_ms = now + POLICY_TOPIC_RECHECK_MS;
        if (assign_all(pt, POLICY_TOPIC_METADATA_MS, errstr, sizeof(errstr)) < 0) {
            log_debug("policy topic still not readable", LOG_S("topic", pt->topic),
                      LOG_S("error", errstr));
            return NULL;
        }
        log_info("policy topic found; reading it from the beginning", LOG_S("topic", pt->topic));
    }
    for (int i = 0; i < max_records; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(pt->rk, 0);
        if (!m)
            break;
        take(pt, &pick, m);
        rd_kafka_message_destroy(m);
    }
    return pick.text;
}
