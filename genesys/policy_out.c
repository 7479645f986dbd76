/*
 * policy_out.c — see policy_out.h. The topic path follows librdkafka's
 * examples/producer.c: the delivery report is the only truth, and the
 * producer is flushed before it is destroyed.
 */
#include "policy_out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/kafka.h"
#include "common/log.h"

/* 1 when the file at path holds exactly text. */
static int same_content(const char *path, const char *text)
{
    size_t n = strlen(text), got = 0;
    FILE *f = fopen(path, "rb");
    char buf[8192];
    int same = 1;

    if (!f)
        return 0;
    while (same) {
        size_t r = fread(buf, 1, sizeof(buf), f);
        if (r == 0)
            break;
        if (got + r > n || memcmp(buf, text + got, r) != 0)
            same = 0;
        got += r;
    }
    if (ferror(f))
        same = 0;
    fclose(f);
    return same && got == n;
}

enum qa_err gen_out_write_file(const char *path, const char *text, int *changed,
                               char *errstr, size_t errstr_size)
{
    size_t n = strlen(text), off = 0;
    char tmp[4096];
    enum qa_err err = QA_OK;
    int fd = -1, w;

    if (changed)
        *changed = 0;
    if (same_content(path, text))
        return QA_OK;
    w = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (w < 0 || (size_t)w >= sizeof(tmp))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s: path too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = qa_errf(errstr, errstr_size, QA_ERR_IO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    while (off < n) {
        ssize_t r = write(fd, text + off, n - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            err = qa_errf(errstr, errstr_size, QA_ERR_IO, "%s: %s", tmp, strerror(errno));
            goto out;
        }
        off += (size_t)r;
    }
    /* The data must be on disk before the name points at it, or a crash
     * could leave an empty policy behind the old name. */
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        err = qa_errf(errstr, errstr_size, QA_ERR_IO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        err = qa_errf(errstr, errstr_size, QA_ERR_IO, "rename to %s: %s", path, strerror(errno));
        goto out;
    }
    if (changed)
        *changed = 1;
out:
    if (fd >= 0)
        close(fd);
    if (err)
        unlink(tmp);
    return err;
}

struct delivery {
    int done;
    rd_kafka_resp_err_t err;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct delivery *d = m->_private;
    if (d) {
        d->done = 1;
        d->err = m->err;
    }
}

enum qa_err gen_out_publish(const struct cfg *cfg, const char *topic, const char *text,
                            char *errstr, size_t errstr_size)
{
    struct delivery d = { 0 };
    struct kq_topic t = { topic, 1, 1 };
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk = NULL;
    rd_kafka_resp_err_t perr;
    enum qa_err err = QA_OK;

    if (!(conf = kq_conf_new(cfg, "qalert-genesys", errstr, errstr_size)))
        return QA_ERR_KAFKA;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if (!(rk = kq_producer_new(conf, NULL, errstr, errstr_size)))
        return QA_ERR_KAFKA;
    /* Compacted: the latest record per key is the policy, forever. */
    if ((err = kq_create_topics(rk, &t, 1, 1, 30000, errstr, errstr_size)))
        goto out;
    perr = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                             RD_KAFKA_V_KEY(GEN_OUT_POLICY_KEY, strlen(GEN_OUT_POLICY_KEY)),
                             RD_KAFKA_V_VALUE((void *)text, strlen(text)),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&d),
                             RD_KAFKA_V_END);
    if (perr) {
        err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "produce to %s: %s", topic,
                      rd_kafka_err2str(perr));
        goto out;
    }
    rd_kafka_flush(rk, 30000);
    if (!d.done) {
        err = qa_errf(errstr, errstr_size, QA_ERR_TIMEOUT, "produce to %s: no delivery report "
                      "within 30 s", topic);
        goto out;
    }
    if (d.err) {
        err = qa_errf(errstr, errstr_size, QA_ERR_KAFKA, "produce to %s: %s", topic,
                      rd_kafka_err2str(d.err));
        goto out;
    }
    log_info("policy published", LOG_S("topic", topic), LOG_S("key", GEN_OUT_POLICY_KEY));
out:
    rd_kafka_flush(rk, 5000);
    rd_kafka_destroy(rk);
    return err;
}
