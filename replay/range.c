/*
 * range.c — resolves a qalert-replay range (--from-offset / --from-time /
 * --to-time / --partition) into per-partition [start, end) offsets and reads
 * it with a group-less consumer.
 *
 * Why offsets-for-times for both ends: Kafka timestamps are the producer's
 * and need not grow with the offset; the broker's answer ("the earliest
 * offset whose timestamp is at or past T") is the one definition of "from T"
 * that every Kafka tool (kcat -o s@T, kafka-consumer-groups --to-datetime)
 * shares, so two tools asked the same question read the same records.
 * The end is also capped at the high watermark captured at open, so a
 * busy topic still ends. Partition EOF (enable.partition.eof) ends a
 * partition too: under read_committed the last offsets may be transaction
 * markers or an open transaction, which no record ever reaches.
 *
 * It must never join a group or commit: it never subscribes, and its
 * group.id (librdkafka's assign() wants one) is a throw-away name.
 */
#include "range.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/log.h"

struct range_part {
    int64_t start, end;  /* [start, end); end INT64_MAX: open (--follow) */
    int in_scope;        /* --partition */
    int done;
};

struct range_reader {
    rd_kafka_t *rk;
    char *topic;
    int nparts;
    struct range_part *parts;
    struct range_opts o;
    int remaining;       /* partitions in scope and not done */
    int64_t returned;
};

enum qa_err range_parse_time(const char *s, int64_t *ms)
{
    int64_t v = 0;

    if (!s || !ms || !*s)
        return QA_ERR_INVALID;
    /* A date always has a '-': digits alone are epoch milliseconds. */
    if (strspn(s, "0123456789") == strlen(s)) {
        if (strlen(s) > 15) /* 15 digits: year 33658, far enough */
            return QA_ERR_INVALID;
        for (; *s; s++)
            v = v * 10 + (*s - '0');
        *ms = v;
        return QA_OK;
    }
    return clock_parse_iso8601(s, ms) == 0 ? QA_OK : QA_ERR_INVALID;
}

enum qa_err range_opts_from_cfg(const struct cfg *cfg, struct range_opts *o,
                                char *errstr, size_t errstr_size)
{
    const char *s;

    *o = (struct range_opts){ .from_offset = RANGE_UNSET, .from_time_ms = RANGE_UNSET,
                              .to_time_ms = RANGE_UNSET, .partition = -1 };
    if (cfg_is_set(cfg, "from-offset"))
        o->from_offset = cfg_int(cfg, "from-offset");
    if ((s = cfg_str(cfg, "from-time")) && range_parse_time(s, &o->from_time_ms))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "--from-time: \"%.64s\" is not an ISO 8601 time or epoch ms", s);
    if ((s = cfg_str(cfg, "to-time")) && range_parse_time(s, &o->to_time_ms))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "--to-time: \"%.64s\" is not an ISO 8601 time or epoch ms", s);
    if (o->from_offset != RANGE_UNSET && o->from_time_ms != RANGE_UNSET)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "--from-offset: cannot be combined with --from-time");
    if (o->from_time_ms != RANGE_UNSET && o->to_time_ms != RANGE_UNSET &&
        o->to_time_ms <= o->from_time_ms)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "--to-time: must be after --from-time");
    o->key = cfg_str(cfg, "key");
    if (cfg_is_set(cfg, "partition"))
        o->partition = (int32_t)cfg_int(cfg, "partition");
    if (cfg_is_set(cfg, "count"))
        o->count = cfg_int(cfg, "count");
    o->follow = cfg_bool(cfg, "follow");
    o->read_uncommitted = cfg_bool(cfg, "read-uncommitted");
    return QA_OK;
}

enum qa_err range_topic_partitions(rd_kafka_t *rk, const char *topic, int *n,
                                   char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;
    enum qa_err ret = QA_ERR_NOT_FOUND;

    /* all_topics=1: naming the topic could make the broker create it. */
    err = rd_kafka_metadata(rk, 1, NULL, &md, RANGE_TIMEOUT_MS);
    if (err)
        return qa_errf(errstr, errstr_size, QA_ERR_KAFKA,
                       "metadata: %s (are the brokers reachable?)", rd_kafka_err2str(err));
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (strcmp(t->topic, topic) != 0)
            continue;
        if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            break;
        if (t->err) {
            ret = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "topic \"%s\": %s", topic,
                          rd_kafka_err2str(t->err));
            goto out;
        }
        *n = t->partition_cnt;
        ret = QA_OK;
        goto out;
    }
    qa_errf(errstr, errstr_size, QA_ERR_NOT_FOUND, "topic \"%s\" does not exist", topic);
out:
    rd_kafka_metadata_destroy(md);
    return ret;
}

/* offsets_for_times as the broker answers: -1 for "no record at or after". */
static enum qa_err offsets_for_time_raw(rd_kafka_t *rk, const char *topic, int n,
                                        int64_t ms, int64_t *offsets, char *errstr,
                                        size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    rd_kafka_resp_err_t err;
    enum qa_err ret = QA_OK;

    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = ms;
    err = rd_kafka_offsets_for_times(rk, l, RANGE_TIMEOUT_MS);
    if (err) {
        ret = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "offsets for time on \"%s\": %s",
                      topic, rd_kafka_err2str(err));
        goto out;
    }
    for (int i = 0; i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        if (tp->err) {
            ret = qa_errf(errstr, errstr_size, QA_ERR_KAFKA,
                          "offsets for time on \"%s\" [%d]: %s", topic,
                          (int)tp->partition, rd_kafka_err2str(tp->err));
            goto out;
        }
        if (tp->partition >= 0 && tp->partition < n)
            offsets[tp->partition] = tp->offset < 0 ? -1 : tp->offset;
    }
out:
    rd_kafka_topic_partition_list_destroy(l);
    return ret;
}

static enum qa_err watermarks(rd_kafka_t *rk, const char *topic, int32_t p,
                              int64_t *low, int64_t *high, char *errstr,
                              size_t errstr_size)
{
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, topic, p, low, high, RANGE_TIMEOUT_MS);

    if (err)
        return qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "watermarks of \"%s\" [%d]: %s",
                       topic, (int)p, rd_kafka_err2str(err));
    return QA_OK;
}

enum qa_err range_offsets_for_time(rd_kafka_t *rk, const char *topic, int n,
                                   int64_t ms, int64_t *offsets, char *errstr,
                                   size_t errstr_size)
{
    enum qa_err err = offsets_for_time_raw(rk, topic, n, ms, offsets, errstr, errstr_size);
    int64_t low, high;

    for (int p = 0; !err && p < n; p++) {
        if (offsets[p] >= 0)
            continue;
        if (!(err = watermarks(rk, topic, p, &low, &high, errstr, errstr_size)))
            offsets[p] = high;
    }
    return err;
}

/* Start and end of every partition in scope. */
static enum qa_err resolve(struct range_reader *r, char *errstr, size_t errstr_size)
{
    const struct range_opts *o = &r->o;
    int64_t *from = NULL, *to = NULL, low, high;
    enum qa_err err = QA_OK;

    if (!(from = calloc((size_t)r->nparts, sizeof(*from))) ||
        !(to = calloc((size_t)r->nparts, sizeof(*to)))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (o->from_time_ms != RANGE_UNSET &&
        (err = offsets_for_time_raw(r->rk, r->topic, r->nparts, o->from_time_ms, from,
                                    errstr, errstr_size)))
        goto out;
    if (o->to_time_ms != RANGE_UNSET &&
        (err = offsets_for_time_raw(r->rk, r->topic, r->nparts, o->to_time_ms, to,
                                    errstr, errstr_size)))
        goto out;
    for (int p = 0; p < r->nparts; p++) {
        struct range_part *rp = &r->parts[p];

        rp->in_scope = o->partition < 0 || o->partition == p;
        if (!rp->in_scope)
            continue;
        if ((err = watermarks(r->rk, r->topic, p, &low, &high, errstr, errstr_size)))
            goto out;
        if (o->from_offsets)
            rp->start = p >= o->from_offsets_n ? low
                        : o->from_offsets[p] > high ? high : o->from_offsets[p];
        else if (o->from_offset != RANGE_UNSET && o->from_offset >= 0)
            rp->start = o->from_offset > high ? high : o->from_offset;
        else if (o->from_offset != RANGE_UNSET)
            rp->start = high + o->from_offset; /* -N: the last N records */
        else if (o->from_time_ms != RANGE_UNSET)
            rp->start = from[p] >= 0 ? from[p] : high;
        else
            rp->start = low;
        if (rp->start < low)
            rp->start = low;
        if (o->to_time_ms != RANGE_UNSET && to[p] >= 0)
            rp->end = o->follow || to[p] < high ? to[p] : high;
        else
            rp->end = o->follow ? INT64_MAX : high;
        r->remaining++;
        if (rp->start >= rp->end) {
            rp->done = 1;
            r->remaining--;
        }
        log_debug("range", LOG_S("topic", r->topic), LOG_I("partition", p),
                  LOG_I("start", rp->start), LOG_I("end", rp->end), LOG_I("low", low),
                  LOG_I("high", high));
    }
out:
    free(from);
    free(to);
    return err;
}

static enum qa_err assign(struct range_reader *r, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->nparts);
    rd_kafka_resp_err_t err;

    for (int p = 0; p < r->nparts; p++) {
        if (r->parts[p].in_scope && !r->parts[p].done)
            rd_kafka_topic_partition_list_add(l, r->topic, p)->offset = r->parts[p].start;
    }
    err = l->cnt > 0 ? rd_kafka_assign(r->rk, l) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        return qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "assign \"%s\": %s", r->topic,
                       rd_kafka_err2str(err));
    return QA_OK;
}

enum qa_err range_reader_open(const struct cfg *cfg, const char *topic,
                              const struct range_opts *o,
                              struct range_reader **out, char *errstr,
                              size_t errstr_size)
{
    struct range_reader *r = NULL;
    rd_kafka_conf_t *conf = NULL;
    char group[96];
    enum qa_err err;

    *out = NULL;
    if (!(r = calloc(1, sizeof(*r))) || !(r->topic = strdup(topic))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto out;
    }
    r->o = *o;
    if (!(conf = kq_conf_new(cfg, "qalert-replay", errstr, errstr_size))) {
        err = QA_ERR_INVALID;
        goto out;
    }
    /* librdkafka's assign() needs a group.id even though nothing joins: a
     * name of our own that is never subscribed nor committed, so the broker
     * never even creates the group. Explicit start offsets mean no offset
     * is ever fetched for it either. */
    snprintf(group, sizeof(group), "qalert-replay-%ld-%lld", (long)getpid(),
             (long long)clock_wall_ms());
    if ((err = kq_conf_set(conf, "group.id", group, errstr, errstr_size)) ||
        (err = kq_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size)) ||
        (err = kq_conf_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size)) ||
        (err = kq_conf_set(conf, "enable.partition.eof", "true", errstr, errstr_size)) ||
        (err = kq_conf_set(conf, "auto.offset.reset", "earliest", errstr, errstr_size)) ||
        (err = kq_conf_set(conf, "isolation.level",
                           o->read_uncommitted ? "read_uncommitted" : "read_committed",
                           errstr, errstr_size)))
        goto out;
    if (!(r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size))) {
        err = QA_ERR_KAFKA;
        goto out;
    }
    conf = NULL;
    rd_kafka_poll_set_consumer(r->rk);
    if ((err = range_topic_partitions(r->rk, topic, &r->nparts, errstr, errstr_size)))
        goto out;
    if (o->partition >= r->nparts) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                      "--partition: topic \"%s\" has partitions 0..%d", topic,
                      r->nparts - 1);
        goto out;
    }
    if (!(r->parts = calloc((size_t)r->nparts, sizeof(*r->parts)))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((err = resolve(r, errstr, errstr_size)) || (err = assign(r, errstr, errstr_size)))
        goto out;
    *out = r;
    r = NULL;
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    range_reader_close(r);
    return err;
}

static void part_done(struct range_reader *r, int32_t p)
{
    rd_kafka_topic_partition_list_t *l;

    if (r->parts[p].done)
        return;
    r->parts[p].done = 1;
    r->remaining--;
    /* Stop fetching what would only be thrown away. */
    l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, r->topic, p);
    rd_kafka_pause_partitions(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

static int key_matches(const struct range_reader *r, const rd_kafka_message_t *m)
{
    size_t n;

    if (!r->o.key)
        return 1;
    n = strlen(r->o.key);
    return m->key && m->key_len == n && memcmp(m->key, r->o.key, n) == 0;
}

enum qa_err range_reader_next(struct range_reader *r, rd_kafka_message_t **msg,
                              const volatile sig_atomic_t *stop, char *errstr,
                              size_t errstr_size)
{
    *msg = NULL;
    while (r->remaining > 0 && !(stop && *stop) &&
           !(r->o.count > 0 && r->returned >= r->o.count)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 200);
        struct range_part *rp;
        rd_kafka_timestamp_type_t tstype;
        int64_t ts;

        if (!m)
            continue;
        if (m->err) {
            rd_kafka_resp_err_t e = m->err;
            int32_t p = m->partition;

            if (e == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                rd_kafka_message_destroy(m);
                if (!r->o.follow && p >= 0 && p < r->nparts)
                    part_done(r, p);
                continue;
            }
            if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                e == RD_KAFKA_RESP_ERR__FATAL) {
                qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "reading \"%s\": %s",
                        r->topic, rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                return QA_ERR_KAFKA;
            }
            log_warn("consume error", LOG_S("topic", r->topic),
                     LOG_S("error", rd_kafka_message_errstr(m)));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->partition < 0 || m->partition >= r->nparts) {
            rd_kafka_message_destroy(m);
            continue;
        }
        rp = &r->parts[m->partition];
        ts = rd_kafka_message_timestamp(m, &tstype);
        if (rp->done || m->offset >= rp->end ||
            (r->o.to_time_ms != RANGE_UNSET && rp->end == INT64_MAX &&
             tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts >= r->o.to_time_ms)) {
            part_done(r, m->partition);
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->offset + 1 >= rp->end)
            part_done(r, m->partition);
        if (!key_matches(r, m)) {
            rd_kafka_message_destroy(m);
            continue;
        }
        r->returned++;
        *msg = m;
        return QA_OK;
    }
    return QA_OK;
}

int range_reader_partitions(const struct range_reader *r)
{
    return r->nparts;
}

void range_reader_close(struct range_reader *r)
{
    if (!r)
        return;
    if (r->rk) {
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
    }
    free(r->parts);
    free(r->topic);
    free(r);
}
