/*
 * kafka.c — librdkafka helpers shared by every binary: configuration with
 * the pass-through properties, idempotent producers, consumers with manual
 * offset storage, topic creation and metadata checks, string headers.
 *
 * It exists so that the delivery guarantees of SPEC §7 are set in one place:
 * every producer is idempotent with acks=all, every consumer stores offsets
 * by hand and reads committed records only. It must never weaken those
 * settings after a caller or a pass-through property asked for them, and
 * never log a property's value (it may be a password).
 */
#include "common/kafka.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

/* syslog levels as librdkafka uses them: 0..3 errors, 4 warning,
 * 5..6 notice/info, 7 debug. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
    enum log_level lvl = level <= 3 ? LOG_ERROR
                       : level == 4 ? LOG_WARN
                       : level <= 6 ? LOG_INFO : LOG_DEBUG;

    log_emit(lvl, "librdkafka", LOG_S("client", rk ? rd_kafka_name(rk) : NULL),
             LOG_S("facility", fac), LOG_S("detail", buf), LOG_END);
}

/* librdkafka reports most errors here only to inform: it retries and
 * recovers by itself. A fatal error (idempotence or transactions broken) is
 * the one the owner of the handle must act on; it sees it on its next call. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    char fatal[512];

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        log_error("kafka fatal error", LOG_S("client", rd_kafka_name(rk)),
                  LOG_S("error", rd_kafka_err2name(orig)), LOG_S("reason", fatal));
        return;
    }
    log_warn("kafka error", LOG_S("client", rd_kafka_name(rk)),
             LOG_S("error", rd_kafka_err2name((rd_kafka_resp_err_t)err)),
             LOG_S("reason", reason));
}

enum qa_err kq_conf_set(rd_kafka_conf_t *conf, const char *key,
                        const char *value, char *errstr, size_t errstr_size)
{
    char why[512];

    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) != RD_KAFKA_CONF_OK)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "kafka property %s: %s",
                       key, why);
    return QA_OK;
}

rd_kafka_conf_t *kq_conf_new(const struct cfg *cfg, const char *client_id,
                             char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *brokers = cfg ? cfg_str(cfg, "kafka-brokers") : NULL;
    const char *key, *value;
    char var[256], flag[256], why[512];

    if (!conf) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    if (brokers && kq_conf_set(conf, "bootstrap.servers", brokers, errstr,
                               errstr_size) != QA_OK)
        goto fail;
    if (client_id && kq_conf_set(conf, "client.id", client_id, errstr,
                                 errstr_size) != QA_OK)
        goto fail;
    /* Nagle holds a small produce or fetch request until the previous one is
     * acknowledged: up to a delayed ACK (~40 ms) on an idle link. Every
     * qalert client sends small requests and waits on them. Set before the
     * pass-through properties, so QALERT_KAFKA_SOCKET_NAGLE_DISABLE wins. */
    if (kq_conf_set(conf, "socket.nagle.disable", "true", errstr, errstr_size) != QA_OK)
        goto fail;
    for (size_t i = 0; cfg && i < cfg_kafka_prop_count(cfg); i++) {
        cfg_kafka_prop(cfg, i, &key, &value);
        if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
            continue;
        /* Name the variable and flag the operator wrote, not librdkafka's. */
        size_t n = 0;
        for (const char *k = key; *k && n + 1 < sizeof(var); k++) {
            var[n] = *k == '.' ? '_' : (char)toupper((unsigned char)*k);
            flag[n++] = *k == '.' ? '-' : *k;
        }
        var[n] = flag[n] = '\0';
        qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                "QALERT_KAFKA_%s (--kafka-%s): %s", var, flag, why);
        goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *kq_producer_new(rd_kafka_conf_t *conf, const char *transactional_id,
                            char *errstr, size_t errstr_size)
{
    rd_kafka_t *rk = NULL;

    if (!conf) {
        qa_errf(errstr, errstr_size, QA_ERR_INVALID, "no kafka configuration");
        return NULL;
    }
    /* Exactly-once needs both; a pass-through "acks=1" must not win. */
    if (kq_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size) ||
        kq_conf_set(conf, "acks", "all", errstr, errstr_size))
        goto out;
    if (transactional_id &&
        kq_conf_set(conf, "transactional.id", transactional_id, errstr, errstr_size))
        goto out;
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (rk)
        conf = NULL; /* rd_kafka_new() owns it on success only */
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    return rk;
}

/* Sets key to ours when it still holds librdkafka's default: a value the
 * operator passed through (QALERT_KAFKA_*) differs from it and is kept. */
enum qa_err kq_conf_default(rd_kafka_conf_t *conf, const char *key,
                            const char *lib_default, const char *value,
                            char *errstr, size_t errstr_size)
{
    char cur[64];
    size_t n = sizeof(cur);

    if (rd_kafka_conf_get(conf, key, cur, &n) == RD_KAFKA_CONF_OK &&
        strcmp(cur, lib_default) != 0)
        return QA_OK;
    return kq_conf_set(conf, key, value, errstr, errstr_size);
}

rd_kafka_t *kq_reader_new(rd_kafka_conf_t *conf, const char *client_id,
                          char *errstr, size_t errstr_size)
{
    rd_kafka_t *rk = NULL;

    if (!conf)
        return NULL; /* kq_conf_new() failed and said why in errstr */
    if (kq_conf_set(conf, "group.id", client_id, errstr, errstr_size) ||
        kq_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
        kq_conf_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size) ||
        kq_conf_set(conf, "enable.partition.eof", "true", errstr, errstr_size) ||
        kq_conf_set(conf, "allow.auto.create.topics", "false", errstr, errstr_size) ||
        kq_conf_set(conf, "isolation.level", "read_committed", errstr, errstr_size))
        goto out;
    if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size))) {
        conf = NULL; /* rd_kafka_new() owns it on success only */
        rd_kafka_poll_set_consumer(rk);
    }
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    return rk;
}

rd_kafka_t *kq_consumer_new(rd_kafka_conf_t *conf,
                            const struct kq_consumer_opts *opts,
                            char *errstr, size_t errstr_size)
{
    rd_kafka_t *rk = NULL;
    rd_kafka_resp_err_t err;

    if (!conf) {
        qa_errf(errstr, errstr_size, QA_ERR_INVALID, "no kafka configuration");
        return NULL;
    }
    if (!opts || !opts->group_id || !*opts->group_id) {
        qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                "QALERT_GROUP_ID (--group-id): a consumer needs a group id");
        goto out;
    }
    /* Offsets are stored only once a record is fully handled (offset+1);
     * the eager assignors, as 2.0.2's cooperative-sticky has known bugs. */
    if (kq_conf_set(conf, "group.id", opts->group_id, errstr, errstr_size) ||
        kq_conf_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size) ||
        kq_conf_set(conf, "enable.auto.commit", opts->auto_commit ? "true" : "false",
                    errstr, errstr_size) ||
        kq_conf_set(conf, "isolation.level",
                    opts->read_uncommitted ? "read_uncommitted" : "read_committed",
                    errstr, errstr_size) ||
        kq_conf_set(conf, "auto.offset.reset",
                    opts->offset_reset ? opts->offset_reset : "earliest",
                    errstr, errstr_size) ||
        kq_conf_set(conf, "partition.assignment.strategy", "range,roundrobin",
                    errstr, errstr_size) ||
        kq_conf_set(conf, "enable.partition.eof", "false", errstr, errstr_size))
        goto out;
    /* A member killed with -9 holds its partitions until the session times
     * out: 2.0.2's default of 45 s stalls the group that long, 10 s is the
     * common choice. Keep an operator's own values (pass-through). */
    if (kq_conf_default(conf, "session.timeout.ms", "45000", "10000", errstr, errstr_size) ||
        kq_conf_default(conf, "heartbeat.interval.ms", "3000", "3000", errstr, errstr_size))
        goto out;
    /* A fetch that finds nothing waits fetch.wait.max.ms at the broker, and
     * one fetch covers all of a broker's partitions: librdkafka's 500 ms let
     * an empty partition (a retry topic, a quiet queue) delay the records of
     * a busy one by as much. */
    if (kq_conf_default(conf, "fetch.wait.max.ms", "500", "50", errstr, errstr_size))
        goto out;
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
    if (!rk)
        goto out;
    conf = NULL;
    /* One queue to poll: rebalances, errors, logs and records together. */
    if ((err = rd_kafka_poll_set_consumer(rk)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "consumer queue: %s",
                rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        rk = NULL;
    }
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    return rk;
}

enum qa_err kq_subscribe(rd_kafka_t *rk, const char *const *topics, size_t n,
                         char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_resp_err_t err;
    enum qa_err ret = QA_OK;

    list = rd_kafka_topic_partition_list_new(n > 0 ? (int)n : 1);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(rk, list);
    if (err)
        ret = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "subscribe to %s%s: %s",
                      n > 0 ? topics[0] : "(none)", n > 1 ? ", ..." : "",
                      rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(list);
    return ret;
}

/* Asks for every topic's metadata: naming one topic would let a broker with
 * auto.create.topics.enable create it, as a producer handle allows that. */
static rd_kafka_resp_err_t all_metadata(rd_kafka_t *rk, int timeout_ms,
                                        const struct rd_kafka_metadata **md)
{
    return rd_kafka_metadata(rk, 1, NULL, md, timeout_ms > 0 ? timeout_ms : 1);
}

/* Partitions of topic in md when every one has a leader; 0 while the
 * broker is still setting it up; -1 when absent. */
static int ready_partitions(const struct rd_kafka_metadata *md, const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (strcmp(t->topic, topic) != 0)
            continue;
        if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            return -1;
        if (t->err)
            return 0;
        for (int p = 0; p < t->partition_cnt; p++) {
            if (t->partitions[p].err || t->partitions[p].leader < 0)
                return 0;
        }
        return t->partition_cnt;
    }
    return -1;
}

int kq_metadata_ok(rd_kafka_t *rk, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    int ok;

    /* Topics known locally only: a cheap round trip to one broker. */
    ok = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms > 0 ? timeout_ms : 1) ==
             RD_KAFKA_RESP_ERR_NO_ERROR && md->broker_cnt > 0;
    if (md)
        rd_kafka_metadata_destroy(md);
    return ok;
}

int kq_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
                       char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = all_metadata(rk, timeout_ms, &md);
    int n = -1, found = 0;

    if (err) {
        qa_errf(errstr, errstr_size, QA_ERR_KAFKA,
                "metadata for topic %s: %s (are the brokers reachable?)", topic,
                rd_kafka_err2str(err));
        return -1;
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (strcmp(t->topic, topic) != 0)
            continue;
        found = 1;
        if (t->err)
            qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "topic %s: %s", topic,
                    rd_kafka_err2str(t->err));
        else
            n = t->partition_cnt;
        break;
    }
    if (!found)
        qa_errf(errstr, errstr_size, QA_ERR_NOT_FOUND,
                "topic %s does not exist (create it, or check QALERT_TOPIC_*)", topic);
    rd_kafka_metadata_destroy(md);
    return n;
}

/* Waits until the metadata shows every topic with all its partitions led:
 * CreateTopics returns once the controller accepted them, a moment before
 * the broker serves them. */
static enum qa_err wait_topics(rd_kafka_t *rk, const struct kq_topic *topics,
                               size_t n, int64_t deadline, char *errstr,
                               size_t errstr_size)
{
    const char *missing = NULL;

    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int64_t left = deadline - clock_mono_ms();

        missing = NULL;
        if (all_metadata(rk, left > 1000 ? 1000 : (int)(left > 0 ? left : 1), &md) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            for (size_t i = 0; i < n && !missing; i++) {
                if (ready_partitions(md, topics[i].name) <= 0)
                    missing = topics[i].name;
            }
            rd_kafka_metadata_destroy(md);
            if (!missing)
                return QA_OK;
        }
        if (clock_mono_ms() >= deadline)
            break;
        rd_kafka_poll(rk, 100);
    }
    return qa_errf(errstr, errstr_size, QA_ERR_TIMEOUT,
                   "topic %s not ready in metadata before the timeout",
                   missing ? missing : "(metadata unavailable)");
}

enum qa_err kq_create_topics(rd_kafka_t *rk, const struct kq_topic *topics,
                             size_t n, int replication_factor, int timeout_ms,
                             char *errstr, size_t errstr_size)
{
    rd_kafka_NewTopic_t **nt = NULL;
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_queue_t *queue = NULL;
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_topic_result_t **res;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    enum qa_err err = QA_OK;
    char why[512];
    size_t nres = 0;

    if (n == 0)
        return QA_OK;
    if (!(nt = calloc(n, sizeof(*nt))))
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        nt[i] = rd_kafka_NewTopic_new(topics[i].name, topics[i].partitions,
                                      replication_factor, why, sizeof(why));
        if (!nt[i]) {
            err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "topic %s: %s",
                          topics[i].name, why);
            goto out;
        }
        if (topics[i].compacted &&
            rd_kafka_NewTopic_set_config(nt[i], "cleanup.policy", "compact")) {
            err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA,
                          "topic %s: cannot set cleanup.policy", topics[i].name);
            goto out;
        }
    }
    opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    if (rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, why, sizeof(why)) ||
        rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, why, sizeof(why))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "create topics: %s", why);
        goto out;
    }
    /* A queue of our own: the handle's main queue may be a consumer's. */
    queue = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nt, n, opts, queue);
    ev = rd_kafka_queue_poll(queue, timeout_ms + 1000);
    if (!ev) {
        err = qa_errf(errstr, errstr_size, QA_ERR_TIMEOUT,
                      "create topics: no answer within %d ms", timeout_ms);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "create topics: %s",
                      rd_kafka_event_error_string(ev));
        goto out;
    }
    res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev),
                                              &nres);
    for (size_t i = 0; i < nres; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        const char *msg = rd_kafka_topic_result_error_string(res[i]);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            log_info("topic created", LOG_S("topic", rd_kafka_topic_result_name(res[i])));
        else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "create topic %s: %s",
                          rd_kafka_topic_result_name(res[i]),
                          msg ? msg : rd_kafka_err2str(e));
            goto out;
        }
    }
    err = wait_topics(rk, topics, n, deadline, errstr, errstr_size);
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (queue)
        rd_kafka_queue_destroy(queue);
    if (opts)
        rd_kafka_AdminOptions_destroy(opts);
    for (size_t i = 0; i < n; i++) {
        if (nt[i])
            rd_kafka_NewTopic_destroy(nt[i]);
    }
    free(nt);
    return err;
}

enum qa_err kq_header_add(rd_kafka_headers_t *hdrs, const char *name,
                          const char *value)
{
    if (!hdrs || !name || !value)
        return QA_ERR_INVALID;
    return rd_kafka_header_add(hdrs, name, -1, value, -1) ? QA_ERR_KAFKA : QA_OK;
}

int kq_header_get(const rd_kafka_message_t *msg, const char *name, char *buf,
                  size_t n)
{
    rd_kafka_headers_t *hdrs;
    const void *val;
    size_t size;

    if (!msg || !buf || n == 0 ||
        rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hdrs, name, &val, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    if (!val)
        size = 0; /* a null value reads as empty */
    /* Headers come from any producer: no room, or a NUL inside, is absent. */
    if (size > n - 1 || size > INT32_MAX || (size && memchr(val, '\0', size)))
        return -1;
    if (size)
        memcpy(buf, val, size);
    buf[size] = '\0';
    return (int)size;
}
