/*
 * redrive.c — `qalert-replay redrive --sink S [--key K] [--error REGEX]
 * [--group G]`: moves dead-lettered alerts back to the head of the sink's
 * retry chain, `<alerts>.<sink>.retry.1`, once the cause is fixed (SPEC §8).
 *
 * The rule that makes a second run send nothing twice, while records that
 * did not match stay available to a later run with another filter:
 *   - the group's committed offset on a dead-letter partition means "every
 *     record below it is handled" (redriven, by this or an earlier run);
 *   - the commit's metadata lists the records at or above it that were
 *     redriven too (redrive.h: "qalert-redrive/1:17,20-25");
 *   - a run reads each partition from the committed offset to the high
 *     watermark it saw at start, skips listed records, produces each record
 *     that matches --key and --error (POSIX extended regex, searched in the
 *     qalert-error header; absent header = ""), waits for every delivery
 *     report, marks what was delivered, moves the committed offset past the
 *     marks that now follow it without a gap, and commits offset + marks.
 * A group that only ever redrives everything keeps empty metadata. When the
 * marks of a partition would outgrow the broker's metadata limit, that
 * partition's later matches wait for the next run (logged), never resent.
 * Reading uses assign() only (no rebalance can hand a partition to someone
 * else mid-run); two runs on one group at the same time can both send a
 * record, so run one at a time. A crash between the delivery reports and the
 * commit resends those records on the next run: at least once, as the
 * notifier itself (OpsGenie closes and creates by alias, so a repeat is
 * harmless there).
 *
 * A redriven record keeps key, value and every header but two:
 * qalert-attempt becomes 1 (the attempt that retry.1 holds) and
 * qalert-not-before becomes now, so the notifier retries it at once; the
 * qalert-original-* and qalert-first-failure headers keep describing the
 * first failure, qalert-error the last one.
 */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/log.h"
#include "notifier/retry.h"
#include "range.h"
#include "redrive.h"
#include "replay.h"

#define REDRIVE_TOPIC_MAX 249 /* Kafka's limit on a topic name */

struct pending {
    int32_t partition;
    int64_t offset;
    int state; /* 0 in flight, 1 delivered, -1 failed */
};

struct redrive {
    struct pending *pend;
    size_t npend, cap;
    long long delivered, failed;
    char first_error[256];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct redrive *rd = opaque;
    size_t i = (size_t)(uintptr_t)m->_private;

    if (i >= rd->npend)
        return;
    rd->pend[i].state = m->err ? -1 : 1;
    if (!m->err) {
        rd->delivered++;
    } else if (rd->failed++ == 0) {
        snprintf(rd->first_error, sizeof(rd->first_error), "%s", rd_kafka_err2str(m->err));
    }
}

/* A sink name goes into topic names: the characters Kafka allows, no dot. */
static int sink_name_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    }
    return 1;
}

static int error_matches(const rd_kafka_message_t *m, const regex_t *re)
{
    char err[RETRY_ERROR_MAX + 1];

    if (!re)
        return 1;
    if (kq_header_get(m, RETRY_H_ERROR, err, sizeof(err)) < 0)
        err[0] = '\0'; /* absent (or longer than the notifier ever writes) */
    return regexec(re, err, 0, NULL, 0) == 0;
}

/* Headers of the redriven copy: all but attempt and not-before, then those
 * two reset. The caller owns the result (or hands it to producev). */
static rd_kafka_headers_t *redrive_headers(const rd_kafka_message_t *m, int64_t now_ms)
{
    rd_kafka_headers_t *src = NULL, *h;
    char num[32];

    if (rd_kafka_message_headers((rd_kafka_message_t *)m, &src) || !src)
        h = rd_kafka_headers_new(4);
    else
        h = rd_kafka_headers_copy(src);
    if (!h)
        return NULL;
    rd_kafka_header_remove(h, RETRY_H_ATTEMPT);
    rd_kafka_header_remove(h, RETRY_H_NOT_BEFORE);
    snprintf(num, sizeof(num), "%lld", (long long)now_ms);
    if (kq_header_add(h, RETRY_H_ATTEMPT, "1") || kq_header_add(h, RETRY_H_NOT_BEFORE, num)) {
        rd_kafka_headers_destroy(h);
        return NULL;
    }
    return h;
}

static enum qa_err produce_redrive(rd_kafka_t *p, const char *topic,
                                   const rd_kafka_message_t *m, size_t idx,
                                   char *errstr, size_t errstr_size)
{
    rd_kafka_headers_t *h = redrive_headers(m, clock_wall_ms());
    rd_kafka_resp_err_t err;

    if (!h)
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    for (;;) {
        err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY(m->key, m->key_len),
                                RD_KAFKA_V_VALUE(m->payload, m->len),
                                RD_KAFKA_V_HEADERS(h),
                                RD_KAFKA_V_OPAQUE((void *)(uintptr_t)idx), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(p, 100);
    }
    if (err) {
        rd_kafka_headers_destroy(h);
        return qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "produce to \"%s\": %s", topic,
                       rd_kafka_err2str(err));
    }
    return QA_OK;
}

/* Committed offset and marks of every dead-letter partition. */
static enum qa_err read_committed(rd_kafka_t *gc, const char *dlq, int n, int64_t *base,
                                  struct redrive_marks *marks, const char *group,
                                  char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    rd_kafka_resp_err_t kerr;
    enum qa_err err = QA_OK;
    char why[256];

    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(l, dlq, p);
    if ((kerr = rd_kafka_committed(gc, l, RANGE_TIMEOUT_MS))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "committed offsets of group "
                      "\"%s\": %s", group, rd_kafka_err2str(kerr));
        goto out;
    }
    for (int i = 0; i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        int32_t p = tp->partition;

        if (p < 0 || p >= n)
            continue;
        if (tp->err) {
            err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "committed offset of \"%s\" "
                          "[%d]: %s", dlq, (int)p, rd_kafka_err2str(tp->err));
            goto out;
        }
        base[p] = tp->offset >= 0 ? tp->offset : 0;
        if (redrive_marks_parse(tp->metadata, tp->metadata_size, base[p], &marks[p], why,
                                sizeof(why))) {
            err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "group \"%s\" on \"%s\" [%d]: "
                          "%s; use another --group", group, dlq, (int)p, why);
            goto out;
        }
    }
out:
    rd_kafka_topic_partition_list_destroy(l);
    return err;
}

/* Commits, for each changed partition, the offset moved past its marks and
 * the marks left after it. */
static enum qa_err commit_marks(rd_kafka_t *gc, const char *dlq, int n, int64_t *base,
                                struct redrive_marks *marks, const int *changed,
                                char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    rd_kafka_resp_err_t kerr;
    enum qa_err err = QA_OK;
    char meta[REDRIVE_MARKS_MAX + 1];

    for (int p = 0; p < n; p++) {
        rd_kafka_topic_partition_t *tp;
        int len;

        if (!changed[p])
            continue;
        redrive_marks_advance(&marks[p], &base[p]);
        /* fit_after_add kept every mark within the limit. */
        if ((len = redrive_marks_format(&marks[p], meta, sizeof(meta))) < 0)
            len = 0;
        tp = rd_kafka_topic_partition_list_add(l, dlq, p);
        tp->offset = base[p];
        if (len > 0 && (tp->metadata = malloc((size_t)len))) {
            memcpy(tp->metadata, meta, (size_t)len); /* freed with the list */
            tp->metadata_size = (size_t)len;
        }
        log_info("redrive commit", LOG_S("topic", dlq), LOG_I("partition", p),
                 LOG_I("offset", base[p]), LOG_S("marks", meta));
    }
    if (l->cnt > 0 && (kerr = rd_kafka_commit(gc, l, 0)))
        err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "commit on \"%s\": %s", dlq,
                      rd_kafka_err2str(kerr));
    for (int i = 0; !err && i < l->cnt; i++) {
        if (l->elems[i].err)
            err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "commit on \"%s\" [%d]: %s",
                          dlq, (int)l->elems[i].partition,
                          rd_kafka_err2str(l->elems[i].err));
    }
    rd_kafka_topic_partition_list_destroy(l);
    return err;
}

static const char *const redrive_options[] = { "sink", "key", "error", "group", NULL };

int replay_redrive(const struct cfg *cfg, int argc, char **argv)
{
    const char *sink = cfg_str(cfg, "sink"), *alerts = cfg_str(cfg, "topic-alerts");
    const char *group = cfg_str(cfg, "group"), *re_text = cfg_str(cfg, "error");
    char dlq[REDRIVE_TOPIC_MAX + 1], retry1[REDRIVE_TOPIC_MAX + 1], errstr[512];
    char group_buf[300];
    struct redrive rd = { 0 };
    struct redrive_marks *marks = NULL;
    struct range_reader *r = NULL;
    struct range_opts o;
    struct kq_consumer_opts co = { 0 };
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *gc = NULL, *prod = NULL;
    rd_kafka_message_t *m = NULL;
    regex_t re;
    int have_re = 0, n = 0, n_retry = 0, rc = REPLAY_EXIT_OK, w1, w2;
    int64_t *base = NULL;
    int *changed = NULL;
    long long already = 0, unmatched = 0, deferred = 0;
    enum qa_err err;

    if (replay_only_options(cfg, "redrive", redrive_options, errstr, sizeof(errstr)))
        return replay_fail(REPLAY_EXIT_USAGE, "%s", errstr);
    if (argc != 1)
        return replay_fail(REPLAY_EXIT_USAGE, "redrive: unexpected argument \"%.64s\"",
                           argv[1]);
    if (!sink)
        return replay_fail(REPLAY_EXIT_USAGE, "--sink: required by redrive (slack, opsgenie)");
    if (!sink_name_ok(sink))
        return replay_fail(REPLAY_EXIT_USAGE, "--sink: \"%.64s\" is not a sink name", sink);
    w1 = snprintf(dlq, sizeof(dlq), "%s.%s.dlq", alerts, sink);
    w2 = snprintf(retry1, sizeof(retry1), "%s.%s.retry.1", alerts, sink);
    if (w1 < 0 || w2 < 0 || (size_t)w1 >= sizeof(dlq) || (size_t)w2 >= sizeof(retry1))
        return replay_fail(REPLAY_EXIT_USAGE, "--sink: topic names over 249 bytes");
    if (!group) {
        snprintf(group_buf, sizeof(group_buf), "qalert-redrive-%s", sink); /* fits */
        group = group_buf;
    }
    if (re_text) {
        int e = regcomp(&re, re_text, REG_EXTENDED | REG_NOSUB);
        if (e) {
            regerror(e, &re, errstr, sizeof(errstr));
            return replay_fail(REPLAY_EXIT_USAGE, "--error: %s", errstr);
        }
        have_re = 1;
    }

    co.group_id = group;
    if (!(conf = kq_conf_new(cfg, "qalert-replay-redrive", errstr, sizeof(errstr))) ||
        !(gc = kq_consumer_new(conf, &co, errstr, sizeof(errstr)))) {
        rc = replay_fail(conf ? REPLAY_EXIT_RUNTIME : REPLAY_EXIT_USAGE, "%s", errstr);
        goto out;
    }
    if ((err = range_topic_partitions(gc, dlq, &n, errstr, sizeof(errstr))) ||
        (err = range_topic_partitions(gc, retry1, &n_retry, errstr, sizeof(errstr)))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "%s", errstr);
        goto out;
    }
    if (!(base = calloc((size_t)n, sizeof(*base))) ||
        !(marks = calloc((size_t)n, sizeof(*marks))) ||
        !(changed = calloc((size_t)n, sizeof(*changed)))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "out of memory");
        goto out;
    }
    if ((err = read_committed(gc, dlq, n, base, marks, group, errstr, sizeof(errstr)))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "%s", errstr);
        goto out;
    }

    if (!(conf = kq_conf_new(cfg, "qalert-replay-redrive", errstr, sizeof(errstr)))) {
        rc = replay_fail(REPLAY_EXIT_USAGE, "%s", errstr);
        goto out;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &rd);
    if (!(prod = kq_producer_new(conf, NULL, errstr, sizeof(errstr)))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "producer: %s", errstr);
        goto out;
    }
    o = (struct range_opts){ .from_offset = RANGE_UNSET, .from_time_ms = RANGE_UNSET,
                             .to_time_ms = RANGE_UNSET, .partition = -1,
                             .key = cfg_str(cfg, "key"), .from_offsets = base,
                             .from_offsets_n = n };
    if ((err = range_reader_open(cfg, dlq, &o, &r, errstr, sizeof(errstr)))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "%s", errstr);
        goto out;
    }
    for (;;) {
        int32_t p;

        if ((err = range_reader_next(r, &m, &replay_stop, errstr, sizeof(errstr)))) {
            rc = replay_fail(REPLAY_EXIT_RUNTIME, "%s", errstr);
            break; /* still wait for what was sent, and mark it */
        }
        if (!m)
            break;
        p = m->partition;
        if (p >= n || redrive_marks_has(&marks[p], m->offset)) {
            already += p < n;
        } else if (have_re && !error_matches(m, &re)) {
            unmatched++;
        } else if (!redrive_marks_fit_after_add(&marks[p], m->offset)) {
            if (deferred++ == 0)
                log_warn("redrive marks full: later records wait for the next run",
                         LOG_S("topic", dlq), LOG_I("partition", p));
        } else {
            if (rd.npend == rd.cap) {
                size_t cap = rd.cap ? rd.cap * 2 : 64;
                struct pending *np = realloc(rd.pend, cap * sizeof(*np));
                if (!np) {
                    rc = replay_fail(REPLAY_EXIT_RUNTIME, "out of memory");
                    break;
                }
                rd.pend = np;
                rd.cap = cap;
            }
            rd.pend[rd.npend] = (struct pending){ p, m->offset, 0 };
            if ((err = produce_redrive(prod, retry1, m, rd.npend, errstr, sizeof(errstr)))) {
                rc = replay_fail(REPLAY_EXIT_RUNTIME, "%s", errstr);
                break;
            }
            rd.npend++;
            if (redrive_marks_add(&marks[p], m->offset)) {
                rc = replay_fail(REPLAY_EXIT_RUNTIME, "out of memory");
                break;
            }
            changed[p] = 1;
        }
        rd_kafka_message_destroy(m);
        m = NULL;
        rd_kafka_poll(prod, 0);
    }
    /* Marks only what the broker acknowledged. */
    if (rd_kafka_flush(prod, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR && rc == REPLAY_EXIT_OK)
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "redrive: %d records unacknowledged after 60 s",
                         rd_kafka_outq_len(prod));
    for (size_t i = 0; i < rd.npend; i++) {
        if (rd.pend[i].state != 1 &&
            redrive_marks_remove(&marks[rd.pend[i].partition], rd.pend[i].offset)) {
            /* Cannot unmark: commit nothing rather than lose a record. */
            rc = replay_fail(REPLAY_EXIT_RUNTIME, "out of memory; nothing committed");
            goto out;
        }
    }
    if (rd.failed && rc == REPLAY_EXIT_OK)
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "redrive: %lld records not delivered to \"%s\": %s",
                         rd.failed, retry1, rd.first_error);
    if ((err = commit_marks(gc, dlq, n, base, marks, changed, errstr, sizeof(errstr))) &&
        rc == REPLAY_EXIT_OK)
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "%s (the records were sent: the next run "
                         "sends them again)", errstr);
    printf("{\"redriven\":%lld,\"failed\":%lld,\"alreadyRedriven\":%lld,\"notMatching\":%lld,"
           "\"deferred\":%lld}\n", rd.delivered, rd.failed, already, unmatched, deferred);
    fflush(stdout);
    log_info("redrive done", LOG_S("from", dlq), LOG_S("to", retry1), LOG_S("group", group),
             LOG_I("redriven", rd.delivered), LOG_I("failed", rd.failed),
             LOG_I("already", already), LOG_I("not_matching", unmatched));
out:
    if (m)
        rd_kafka_message_destroy(m);
    range_reader_close(r);
    if (prod)
        rd_kafka_destroy(prod);
    if (gc) {
        rd_kafka_consumer_close(gc);
        rd_kafka_destroy(gc);
    }
    for (int p = 0; marks && p < n; p++)
        redrive_marks_clear(&marks[p]);
    free(marks);
    free(base);
    free(changed);
    free(rd.pend);
    if (have_re)
        regfree(&re);
    return rc;
}
