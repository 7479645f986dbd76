/*
 * alert_publish — test tool: puts alerts on the alerts topic exactly as
 * qalert-processor would (Avro qalert.Alert, key = grouping key, headers
 * qalert-status / qalert-alarm-type / qalert-alert-id), so the notifier can
 * be tested without the processor.
 *
 *   alert_publish TOPIC KEY=STATUS [KEY=STATUS ...]
 *   alert_publish TOPIC --bad            one record that is not an alert
 *
 * STATUS is FIRING or RESOLVED; the alert id is "<key>/<STATUS>/<n>" with n
 * the argument's position, so ids are predictable. Records are produced in
 * argument order (one producer, one partition per key). Brokers:
 * QALERT_KAFKA_BROKERS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/config.h"
#include "common/kafka.h"

extern char **environ;

static int delivered, failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    if (m->err) {
        failed++;
        fprintf(stderr, "alert_publish: delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        delivered++;
    }
}

static int publish(rd_kafka_t *rk, const char *topic, const char *spec, int n)
{
    struct alert al;
    char key[256], id[320], msg[300], *eq;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    rd_kafka_headers_t *h;
    rd_kafka_resp_err_t e;
    int64_t now = clock_wall_ms();

    if (snprintf(key, sizeof(key), "%s", spec) >= (int)sizeof(key) ||
        !(eq = strrchr(key, '='))) {
        fprintf(stderr, "alert_publish: bad spec %s (KEY=FIRING|RESOLVED)\n", spec);
        return 1;
    }
    *eq = '\0';
    memset(&al, 0, sizeof(al));
    al.status = strcmp(eq + 1, "RESOLVED") == 0 ? ALERT_RESOLVED : ALERT_FIRING;
    snprintf(id, sizeof(id), "%s/%s/%d", key, codec_status_name(al.status), n);
    snprintf(msg, sizeof(msg), "Queue wait over SLA (%s)", key);
    al.alert_id = id;
    al.grouping_key = key;
    al.alarm_type = "wait_sla_breach";
    al.queue_id = key;
    al.queue_name = "Support";
    al.media_type = "VOICE";
    al.priority = "P2";
    al.count = 1;
    al.first_seen_ms = now;
    al.last_seen_ms = now;
    al.at_ms = now;
    al.wait_ms = 45000;
    al.threshold_ms = 30000;
    al.service_level = 0.5;
    al.target = 0.8;
    al.samples = CODEC_ABSENT;
    al.message = msg;
    al.description = "test alert";
    if (codec_encode_alert(&al, &buf, &len, err, sizeof(err))) {
        fprintf(stderr, "alert_publish: %s\n", err);
        return 1;
    }
    h = rd_kafka_headers_new(3);
    kq_header_add(h, "qalert-status", codec_status_name(al.status));
    kq_header_add(h, "qalert-alarm-type", al.alarm_type);
    kq_header_add(h, "qalert-alert-id", id);
    e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                          RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
    free(buf);
    if (e) {
        rd_kafka_headers_destroy(h);
        fprintf(stderr, "alert_publish: %s\n", rd_kafka_err2str(e));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const struct cfg_setting *const tables[] = { cfg_common_settings, NULL };
    struct cfg *cfg = cfg_new("alert_publish", "test tool", tables);
    char *fake_argv[] = { argv[0], NULL };
    char errstr[512];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    int rc = 0;

    if (argc < 3 || !cfg || cfg_parse(cfg, 1, fake_argv, environ, errstr, sizeof(errstr)) ||
        codec_init(errstr, sizeof(errstr))) {
        fprintf(stderr, "usage: alert_publish TOPIC KEY=FIRING|RESOLVED ... | TOPIC --bad\n");
        return 2;
    }
    if (!(conf = kq_conf_new(cfg, "alert_publish", errstr, sizeof(errstr)))) {
        fprintf(stderr, "alert_publish: %s\n", errstr);
        return 1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    if (!(rk = kq_producer_new(conf, NULL, errstr, sizeof(errstr)))) {
        fprintf(stderr, "alert_publish: %s\n", errstr);
        return 1;
    }
    for (int i = 2; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "--bad") == 0)
            rc = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[1]), RD_KAFKA_V_KEY("bad", 3),
                                   RD_KAFKA_V_VALUE("not avro", 8),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                   RD_KAFKA_V_END) ? 1 : 0;
        else
            rc = publish(rk, argv[1], argv[i], i - 1);
    }
    rd_kafka_flush(rk, 30000);
    rd_kafka_destroy(rk);
    codec_shutdown();
    cfg_free(cfg);
    return rc == 0 && failed == 0 ? 0 : 1;
}
