/*
 * reset_offsets.c — `qalert-replay reset-offsets --group G --topic T
 * --to-time T [--execute]`: where a consumer group would restart reading a
 * topic if it went back (or forward) to a point in time (SPEC §8).
 *
 * Without --execute it only prints, per partition, the committed offset and
 * the offset for the time (offsets-for-times; no record at or after it →
 * the high watermark, i.e. "skip everything"). With --execute it commits
 * those offsets as the group, from a consumer that assign()s and never
 * subscribes, so it never joins the group and triggers no rebalance.
 * It must never move the offsets of a group that has members: a running
 * consumer would overwrite them with its next commit, or worse, keep going
 * from positions the operator believes were reset. It asks the broker
 * (DescribeConsumerGroups) and refuses while the group is not empty; the
 * broker also refuses a commit without a generation while the group has
 * members, which closes the race between the two calls.
 */
#include <stdlib.h>
#include <string.h>

#include "common/kafka.h"
#include "common/log.h"
#include "range.h"
#include "replay.h"

/* QA_OK when the group has no active member; QA_ERR_INVALID (with why) when
 * it has, QA_ERR_KAFKA when the broker does not say. */
static enum qa_err group_is_idle(rd_kafka_t *rk, const char *group, char *errstr,
                                 size_t errstr_size)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_DescribeConsumerGroups_result_t *res;
    const rd_kafka_ConsumerGroupDescription_t **groups;
    const char *names[1] = { group };
    enum qa_err err = QA_OK;
    char why[256];
    size_t n = 0;

    rd_kafka_AdminOptions_set_request_timeout(opts, RANGE_TIMEOUT_MS, why, sizeof(why));
    rd_kafka_DescribeConsumerGroups(rk, names, 1, opts, q);
    if (!(ev = rd_kafka_queue_poll(q, RANGE_TIMEOUT_MS + 1000))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA,
                      "describe group \"%s\": no answer", group);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "describe group \"%s\": %s", group,
                      rd_kafka_event_error_string(ev));
        goto out;
    }
    res = rd_kafka_event_DescribeConsumerGroups_result(ev);
    groups = res ? rd_kafka_DescribeConsumerGroups_result_groups(res, &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_error_t *ge = rd_kafka_ConsumerGroupDescription_error(groups[i]);
        rd_kafka_consumer_group_state_t st = rd_kafka_ConsumerGroupDescription_state(groups[i]);
        size_t members = rd_kafka_ConsumerGroupDescription_member_count(groups[i]);

        if (ge && rd_kafka_error_code(ge) != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
            err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "describe group \"%s\": %s",
                          group, rd_kafka_error_string(ge));
            goto out;
        }
        /* Empty and Dead (also: never existed) have no one to disturb. */
        if (!ge && (members > 0 || (st != RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY &&
                                    st != RD_KAFKA_CONSUMER_GROUP_STATE_DEAD))) {
            err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                          "group \"%s\" has %zu active member(s) (state %s): stop its "
                          "consumers first", group, members,
                          rd_kafka_consumer_group_state_name(st));
            goto out;
        }
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    return err;
}

static const char *const reset_options[] = { "group", "topic", "to-time", "execute", NULL };

int replay_reset_offsets(const struct cfg *cfg, int argc, char **argv)
{
    const char *group = cfg_str(cfg, "group"), *topic = cfg_str(cfg, "topic");
    const char *when = cfg_str(cfg, "to-time");
    struct kq_consumer_opts co = { 0 };
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *gc = NULL;
    rd_kafka_topic_partition_list_t *cur = NULL, *next = NULL;
    rd_kafka_resp_err_t kerr;
    int64_t to_ms, *fresh = NULL;
    int n = 0, rc = REPLAY_EXIT_OK, execute = cfg_bool(cfg, "execute");
    char errstr[512];
    enum qa_err err;

    if (replay_only_options(cfg, "reset-offsets", reset_options, errstr, sizeof(errstr)))
        return replay_fail(REPLAY_EXIT_USAGE, "%s", errstr);
    if (argc != 1)
        return replay_fail(REPLAY_EXIT_USAGE, "reset-offsets: unexpected argument \"%.64s\"",
                           argv[1]);
    if (!group)
        return replay_fail(REPLAY_EXIT_USAGE, "--group: required by reset-offsets");
    if (!topic)
        return replay_fail(REPLAY_EXIT_USAGE, "--topic: required by reset-offsets");
    if (!when)
        return replay_fail(REPLAY_EXIT_USAGE, "--to-time: required by reset-offsets");
    if (range_parse_time(when, &to_ms))
        return replay_fail(REPLAY_EXIT_USAGE,
                           "--to-time: \"%.64s\" is not an ISO 8601 time or epoch ms", when);

    co.group_id = group;
    if (!(conf = kq_conf_new(cfg, "qalert-replay-reset", errstr, sizeof(errstr))))
        return replay_fail(REPLAY_EXIT_USAGE, "%s", errstr);
    if (!(gc = kq_consumer_new(conf, &co, errstr, sizeof(errstr)))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "%s", errstr);
        goto out;
    }
    if ((err = range_topic_partitions(gc, topic, &n, errstr, sizeof(errstr)))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "%s", errstr);
        goto out;
    }
    if (!(fresh = calloc((size_t)n, sizeof(*fresh)))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "out of memory");
        goto out;
    }
    if ((err = range_offsets_for_time(gc, topic, n, to_ms, fresh, errstr, sizeof(errstr)))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "%s", errstr);
        goto out;
    }
    cur = rd_kafka_topic_partition_list_new(n);
    next = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++) {
        rd_kafka_topic_partition_list_add(cur, topic, p);
        rd_kafka_topic_partition_list_add(next, topic, p)->offset = fresh[p];
    }
    if ((kerr = rd_kafka_committed(gc, cur, RANGE_TIMEOUT_MS))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "committed offsets of group \"%s\": %s", group,
                         rd_kafka_err2str(kerr));
        goto out;
    }
    printf("%-9s %14s %14s\n", "PARTITION", "CURRENT", "NEW");
    for (int i = 0; i < cur->cnt; i++) {
        char c[24];
        if (cur->elems[i].offset >= 0)
            snprintf(c, sizeof(c), "%lld", (long long)cur->elems[i].offset);
        else
            snprintf(c, sizeof(c), "-"); /* nothing committed yet */
        printf("%-9d %14s %14lld\n", (int)cur->elems[i].partition, c,
               (long long)fresh[cur->elems[i].partition]);
    }
    fflush(stdout);
    if (!execute) {
        fprintf(stderr, "qalert-replay: nothing changed; add --execute to commit these "
                        "offsets for group \"%s\"\n", group);
        goto out;
    }
    if ((err = group_is_idle(gc, group, errstr, sizeof(errstr)))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "%s", errstr);
        goto out;
    }
    if ((kerr = rd_kafka_commit(gc, next, 0))) {
        rc = replay_fail(REPLAY_EXIT_RUNTIME, "commit for group \"%s\": %s", group,
                         rd_kafka_err2str(kerr));
        goto out;
    }
    for (int i = 0; i < next->cnt; i++) {
        if (next->elems[i].err) {
            rc = replay_fail(REPLAY_EXIT_RUNTIME, "commit for group \"%s\" [%d]: %s", group,
                             (int)next->elems[i].partition,
                             rd_kafka_err2str(next->elems[i].err));
            goto out;
        }
    }
    fprintf(stderr, "qalert-replay: committed %d offsets for group \"%s\" on \"%s\"\n",
            next->cnt, group, topic);
    log_info("offsets reset", LOG_S("group", group), LOG_S("topic", topic),
             LOG_I("to_time", to_ms), LOG_I("partitions", next->cnt));
out:
    if (cur)
        rd_kafka_topic_partition_list_destroy(cur);
    if (next)
        rd_kafka_topic_partition_list_destroy(next);
    free(fresh);
    if (gc) {
        rd_kafka_consumer_close(gc);
        rd_kafka_destroy(gc);
    }
    return rc;
}
