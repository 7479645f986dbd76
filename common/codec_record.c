/*
 * codec_record.c — struct raw_event and struct alert to and from Avro
 * values of today's qalert.RawEvent and qalert.Alert schemas.
 *
 * Exists to keep the field-by-field mapping (names as in the schemas folder, absent
 * values as Avro null) in one place. Every value is created and released per
 * call, so encode and decode may run on many threads at once. It must never
 * leave a half-decoded struct holding memory after an error.
 */
#include "common/codec_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The first error sticks; later calls are no-ops, so the mapping reads as a
 * flat list of fields. */
struct ctx {
    avro_value_t *rec;
    enum qa_err err;
    char *errstr;
    size_t errstr_size;
    const char *record; /* for messages */
};

static bool field(struct ctx *c, avro_value_t *rec, const char *name, avro_value_t *out)
{
    if (c->err)
        return false;
    if (avro_value_get_by_name(rec, name, out, NULL)) {
        c->err = qa_errf(c->errstr, c->errstr_size, QA_ERR_INVALID,
                         "codec: %s has no field %s", c->record, name);
        return false;
    }
    return true;
}

static void failed(struct ctx *c, const char *name)
{
    if (!c->err)
        c->err = codec_avro_error(c->errstr, c->errstr_size, QA_ERR_NOMEM, name);
}

/* A nullable field (a ["null", T] union): branch 0 or branch 1 into *val. */
static bool set_branch(struct ctx *c, avro_value_t *f, bool present, avro_value_t *val,
                       const char *name)
{
    if (avro_value_get_type(f) != AVRO_UNION) {
        *val = *f;
        return true;
    }
    if (avro_value_set_branch(f, present ? 1 : 0, val)) {
        failed(c, name);
        return false;
    }
    return true;
}

static void put_str(struct ctx *c, avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t f, v;
    if (!field(c, rec, name, &f))
        return;
    if (!s && avro_value_get_type(&f) != AVRO_UNION) {
        c->err = qa_errf(c->errstr, c->errstr_size, QA_ERR_INVALID,
                         "codec: %s.%s is required", c->record, name);
        return;
    }
    if (!set_branch(c, &f, s != NULL, &v, name) || !s)
        return;
    if (avro_value_set_string(&v, s))
        failed(c, name);
}

static void put_long(struct ctx *c, avro_value_t *rec, const char *name, int64_t n)
{
    avro_value_t f, v;
    bool present = n != CODEC_ABSENT;
    if (field(c, rec, name, &f) && set_branch(c, &f, present, &v, name) &&
        (present || avro_value_get_type(&f) != AVRO_UNION) && avro_value_set_long(&v, n))
        failed(c, name);
}

static void put_double(struct ctx *c, avro_value_t *rec, const char *name, double d)
{
    avro_value_t f, v;
    bool present = !isnan(d);
    if (field(c, rec, name, &f) && set_branch(c, &f, present, &v, name) &&
        (present || avro_value_get_type(&f) != AVRO_UNION) && avro_value_set_double(&v, d))
        failed(c, name);
}

static void put_enum(struct ctx *c, avro_value_t *rec, const char *name, int idx)
{
    avro_value_t f;
    if (field(c, rec, name, &f) && avro_value_set_enum(&f, idx))
        failed(c, name);
}

/* Today's record value for rec, filled by fill, framed into *out (malloc'd;
 * the caller frees). */
static enum qa_err encode(enum codec_record rec, void (*fill)(struct ctx *, const void *),
                          const void *obj, uint8_t **out, size_t *len, char *errstr,
                          size_t errstr_size)
{
    const struct codec_schema *s = codec_today(rec);
    struct ctx c = { .errstr = errstr, .errstr_size = errstr_size,
                     .record = codec_record_name(rec) };
    avro_value_t v;
    bool have_v = false;
    avro_writer_t w = NULL;
    uint8_t *buf = NULL;
    size_t size = 0, hdr;
    uint32_t id = codec_writer_confluent_id(rec);

    *out = NULL;
    *len = 0;
    if (!s)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "codec: codec_init not called");
    if (avro_generic_value_new(s->cls, &v)) {
        c.err = codec_avro_error(errstr, errstr_size, QA_ERR_NOMEM, "codec: new value");
        goto out;
    }
    have_v = true;
    c.rec = &v;
    fill(&c, obj);
    if (c.err)
        goto out;
    if (avro_value_sizeof(&v, &size)) {
        c.err = codec_avro_error(errstr, errstr_size, QA_ERR_INVALID, "codec: size");
        goto out;
    }
    hdr = id ? FRAME_CONFLUENT_HEADER : FRAME_SINGLE_OBJECT_HEADER;
    buf = malloc(hdr + size);
    if (!buf) {
        c.err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "codec: out of memory");
        goto out;
    }
    if (id)
        frame_write_confluent(buf, id);
    else
        frame_write_single_object(buf, s->fingerprint);
    w = avro_writer_memory((const char *)buf + hdr, (int64_t)size);
    if (!w || avro_value_write(w, &v)) {
        c.err = codec_avro_error(errstr, errstr_size, w ? QA_ERR_INVALID : QA_ERR_NOMEM,
                                 "codec: write");
        goto out;
    }
    *out = buf;
    *len = hdr + size;
    buf = NULL;
out:
    if (w)
        avro_writer_free(w);
    if (have_v)
        avro_value_decref(&v);
    free(buf);
    return c.err;
}

static void fill_raw_event(struct ctx *c, const void *obj)
{
    const struct raw_event *ev = obj;
    avro_value_t f;

    put_str(c, c->rec, "eventId", ev->event_id);
    put_long(c, c->rec, "receivedMs", ev->received_ms);
    put_enum(c, c->rec, "source", ev->source == RAW_SOURCE_EVENTBRIDGE ? 1 : 0);
    put_enum(c, c->rec, "kind", (unsigned)ev->kind <= RAW_OTHER ? (int)ev->kind : RAW_OTHER);
    put_str(c, c->rec, "eventType", ev->event_type);
    put_str(c, c->rec, "queueId", ev->queue_id);
    put_str(c, c->rec, "queueName", ev->queue_name);
    put_str(c, c->rec, "conversationId", ev->conversation_id);
    put_str(c, c->rec, "mediaType", ev->media_type);
    put_long(c, c->rec, "eventTimeMs", ev->event_time_ms);
    put_long(c, c->rec, "waitMs", ev->wait_ms);
    put_long(c, c->rec, "slaMs", ev->sla_ms);
    put_str(c, c->rec, "acdOutcome", ev->acd_outcome);
    put_double(c, c->rec, "slaPercentage", ev->sla_percentage);
    put_double(c, c->rec, "targetSla", ev->target_sla);
    put_long(c, c->rec, "callsInQueue", ev->calls_in_queue);
    if (field(c, c->rec, "body", &f) &&
        avro_value_set_bytes(&f, ev->body ? ev->body : (void *)"", ev->body ? ev->body_len : 0))
        failed(c, "body");
}

static void fill_alert(struct ctx *c, const void *obj)
{
    const struct alert *al = obj;
    avro_value_t f, ev, item;

    put_str(c, c->rec, "alertId", al->alert_id);
    put_str(c, c->rec, "groupingKey", al->grouping_key);
    put_enum(c, c->rec, "status", al->status == ALERT_RESOLVED ? 1 : 0);
    put_str(c, c->rec, "alarmType", al->alarm_type);
    put_str(c, c->rec, "queueId", al->queue_id);
    put_str(c, c->rec, "queueName", al->queue_name);
    put_str(c, c->rec, "mediaType", al->media_type);
    put_str(c, c->rec, "priority", al->priority);
    put_long(c, c->rec, "count", al->count);
    put_long(c, c->rec, "firstSeenMs", al->first_seen_ms);
    put_long(c, c->rec, "lastSeenMs", al->last_seen_ms);
    put_long(c, c->rec, "atMs", al->at_ms);
    if (field(c, c->rec, "evidence", &ev)) {
        put_str(c, &ev, "conversationId", al->conversation_id);
        put_long(c, &ev, "waitMs", al->wait_ms);
        put_long(c, &ev, "thresholdMs", al->threshold_ms);
        put_double(c, &ev, "serviceLevel", al->service_level);
        put_double(c, &ev, "target", al->target);
        put_long(c, &ev, "samples", al->samples);
    }
    put_str(c, c->rec, "message", al->message);
    put_str(c, c->rec, "description", al->description);
    if (field(c, c->rec, "tags", &f)) {
        for (size_t i = 0; i < al->ntags && !c->err; i++) {
            if (!al->tags[i])
                c->err = qa_errf(c->errstr, c->errstr_size, QA_ERR_INVALID,
                                 "codec: qalert.Alert.tags[%zu] is NULL", i);
            else if (avro_value_append(&f, &item, NULL) || avro_value_set_string(&item, al->tags[i]))
                failed(c, "tags");
        }
    }
    if (field(c, c->rec, "details", &f)) {
        for (size_t i = 0; i < al->ndetails && !c->err; i++) {
            if (!al->detail_keys[i] || !al->detail_values[i])
                c->err = qa_errf(c->errstr, c->errstr_size, QA_ERR_INVALID,
                                 "codec: qalert.Alert.details[%zu] has a NULL", i);
            else if (avro_value_add(&f, al->detail_keys[i], &item, NULL, NULL) ||
                     avro_value_set_string(&item, al->detail_values[i]))
                failed(c, "details");
        }
    }
    put_str(c, c->rec, "sourceEventId", al->source_event_id);
}

enum qa_err codec_encode_raw_event_avro(const struct raw_event *ev, uint8_t **out,
                                        size_t *len, char *errstr, size_t errstr_size)
{
    return encode(CODEC_RAW_EVENT, fill_raw_event, ev, out, len, errstr, errstr_size);
}

enum qa_err codec_encode_alert(const struct alert *al, uint8_t **out,
                               size_t *len, char *errstr, size_t errstr_size)
{
    return encode(CODEC_ALERT, fill_alert, al, out, len, errstr, errstr_size);
}

/* Decoding. A nullable field's null branch leaves *present false. */
static bool get_value(struct ctx *c, avro_value_t *rec, const char *name,
                      avro_value_t *val, bool *present)
{
    avro_value_t f;
    *present = false;
    if (!field(c, rec, name, &f))
        return false;
    if (avro_value_get_type(&f) == AVRO_UNION) {
        if (avro_value_get_current_branch(&f, val)) {
            failed(c, name);
            return false;
        }
    } else {
        *val = f;
    }
    *present = avro_value_get_type(val) != AVRO_NULL;
    return true;
}

/* *out is malloc'd (NULL for null); released by the record's clear. */
static void get_str(struct ctx *c, avro_value_t *rec, const char *name, char **out)
{
    avro_value_t v;
    bool present;
    const char *s;
    size_t size;

    if (!get_value(c, rec, name, &v, &present) || !present)
        return;
    if (avro_value_get_string(&v, &s, &size)) {
        failed(c, name);
        return;
    }
    *out = strndup(s, size ? size - 1 : 0); /* size counts the NUL */
    if (!*out)
        c->err = qa_errf(c->errstr, c->errstr_size, QA_ERR_NOMEM, "codec: out of memory");
}

static int64_t get_long(struct ctx *c, avro_value_t *rec, const char *name)
{
    avro_value_t v;
    bool present;
    int64_t n = CODEC_ABSENT;
    if (get_value(c, rec, name, &v, &present) && present && avro_value_get_long(&v, &n))
        failed(c, name);
    return n;
}

static double get_double(struct ctx *c, avro_value_t *rec, const char *name)
{
    avro_value_t v;
    bool present;
    double d = NAN;
    if (get_value(c, rec, name, &v, &present) && present && avro_value_get_double(&v, &d))
        failed(c, name);
    return d;
}

static int get_enum(struct ctx *c, avro_value_t *rec, const char *name, int nsymbols)
{
    avro_value_t v;
    bool present;
    int idx = 0;
    if (get_value(c, rec, name, &v, &present) && avro_value_get_enum(&v, &idx))
        failed(c, name);
    if (!c->err && (idx < 0 || idx >= nsymbols))
        c->err = qa_errf(c->errstr, c->errstr_size, QA_ERR_INVALID,
                         "codec: %s.%s symbol %d unknown", c->record, name, idx);
    return idx;
}

enum qa_err codec_decode_raw_event(const void *buf, size_t len,
                                   struct raw_event *ev, char *errstr,
                                   size_t errstr_size)
{
    struct codec_read r;
    struct ctx c = { .errstr = errstr, .errstr_size = errstr_size,
                     .record = "qalert.RawEvent" };
    avro_value_t v;
    bool present;

    memset(ev, 0, sizeof(*ev));
    c.err = codec_read_framed(buf, len, CODEC_RAW_EVENT, true, &r, errstr, errstr_size);
    if (c.err)
        return c.err;
    get_str(&c, &r.view, "eventId", &ev->event_id);
    ev->received_ms = get_long(&c, &r.view, "receivedMs");
    ev->source = (enum raw_source)get_enum(&c, &r.view, "source", 2);
    ev->kind = (enum raw_kind)get_enum(&c, &r.view, "kind", RAW_OTHER + 1);
    get_str(&c, &r.view, "eventType", &ev->event_type);
    get_str(&c, &r.view, "queueId", &ev->queue_id);
    get_str(&c, &r.view, "queueName", &ev->queue_name);
    get_str(&c, &r.view, "conversationId", &ev->conversation_id);
    get_str(&c, &r.view, "mediaType", &ev->media_type);
    ev->event_time_ms = get_long(&c, &r.view, "eventTimeMs");
    ev->wait_ms = get_long(&c, &r.view, "waitMs");
    ev->sla_ms = get_long(&c, &r.view, "slaMs");
    get_str(&c, &r.view, "acdOutcome", &ev->acd_outcome);
    ev->sla_percentage = get_double(&c, &r.view, "slaPercentage");
    ev->target_sla = get_double(&c, &r.view, "targetSla");
    ev->calls_in_queue = get_long(&c, &r.view, "callsInQueue");
    if (get_value(&c, &r.view, "body", &v, &present)) {
        const void *b;
        size_t n;
        if (avro_value_get_bytes(&v, &b, &n)) {
            failed(&c, "body");
        } else if (n > 0) {
            ev->body = malloc(n);
            if (!ev->body) {
                c.err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "codec: out of memory");
            } else {
                memcpy(ev->body, b, n);
                ev->body_len = n;
            }
        }
    }
    codec_read_release(&r);
    if (c.err)
        codec_raw_event_clear(ev);
    return c.err;
}

/* Copies an array<string> or map<string> into malloc'd arrays. */
static void get_strings(struct ctx *c, avro_value_t *rec, const char *name,
                        char ***keys, char ***vals, size_t *n)
{
    avro_value_t f, item;
    size_t size = 0;

    if (!field(c, rec, name, &f))
        return;
    if (avro_value_get_size(&f, &size)) {
        failed(c, name);
        return;
    }
    if (size == 0)
        return;
    *vals = calloc(size, sizeof(char *));
    if (keys)
        *keys = calloc(size, sizeof(char *));
    if (!*vals || (keys && !*keys)) {
        c->err = qa_errf(c->errstr, c->errstr_size, QA_ERR_NOMEM, "codec: out of memory");
        return;
    }
    for (size_t i = 0; i < size && !c->err; i++) {
        const char *key = NULL, *s;
        size_t len;
        if (avro_value_get_by_index(&f, i, &item, &key) ||
            avro_value_get_string(&item, &s, &len)) {
            failed(c, name);
            break;
        }
        (*vals)[i] = strndup(s, len ? len - 1 : 0);
        if (keys)
            (*keys)[i] = strdup(key ? key : "");
        *n = i + 1;
        if (!(*vals)[i] || (keys && !(*keys)[i]))
            c->err = qa_errf(c->errstr, c->errstr_size, QA_ERR_NOMEM, "codec: out of memory");
    }
}

enum qa_err codec_decode_alert(const void *buf, size_t len, struct alert *al,
                               char *errstr, size_t errstr_size)
{
    const struct codec_schema *writer;
    const uint8_t *payload;
    size_t payload_len;
    enum qa_err err;

    memset(al, 0, sizeof(*al));
    err = codec_find_framed(buf, len, CODEC_ALERT, &writer, &payload, &payload_len, errstr,
                            errstr_size);
    if (err)
        return err;
    if (writer == codec_today(CODEC_ALERT))
        return codec_decode_alert_fast(payload, payload_len, al, errstr, errstr_size);
    return codec_decode_alert_avro(buf, len, al, errstr, errstr_size);
}

enum qa_err codec_decode_alert_avro(const void *buf, size_t len, struct alert *al,
                                    char *errstr, size_t errstr_size)
{
    struct codec_read r;
    struct ctx c = { .errstr = errstr, .errstr_size = errstr_size,
                     .record = "qalert.Alert" };
    avro_value_t ev;

    memset(al, 0, sizeof(*al));
    c.err = codec_read_framed(buf, len, CODEC_ALERT, true, &r, errstr, errstr_size);
    if (c.err)
        return c.err;
    get_str(&c, &r.view, "alertId", &al->alert_id);
    get_str(&c, &r.view, "groupingKey", &al->grouping_key);
    al->status = (enum alert_status)get_enum(&c, &r.view, "status", 2);
    get_str(&c, &r.view, "alarmType", &al->alarm_type);
    get_str(&c, &r.view, "queueId", &al->queue_id);
    get_str(&c, &r.view, "queueName", &al->queue_name);
    get_str(&c, &r.view, "mediaType", &al->media_type);
    get_str(&c, &r.view, "priority", &al->priority);
    al->count = get_long(&c, &r.view, "count");
    al->first_seen_ms = get_long(&c, &r.view, "firstSeenMs");
    al->last_seen_ms = get_long(&c, &r.view, "lastSeenMs");
    al->at_ms = get_long(&c, &r.view, "atMs");
    if (field(&c, &r.view, "evidence", &ev)) {
        get_str(&c, &ev, "conversationId", &al->conversation_id);
        al->wait_ms = get_long(&c, &ev, "waitMs");
        al->threshold_ms = get_long(&c, &ev, "thresholdMs");
        al->service_level = get_double(&c, &ev, "serviceLevel");
        al->target = get_double(&c, &ev, "target");
        al->samples = get_long(&c, &ev, "samples");
    }
    get_str(&c, &r.view, "message", &al->message);
    get_str(&c, &r.view, "description", &al->description);
    get_strings(&c, &r.view, "tags", NULL, &al->tags, &al->ntags);
    get_strings(&c, &r.view, "details", &al->detail_keys, &al->detail_values, &al->ndetails);
    get_str(&c, &r.view, "sourceEventId", &al->source_event_id);
    codec_read_release(&r);
    if (c.err)
        codec_alert_clear(al);
    return c.err;
}

void codec_raw_event_clear(struct raw_event *ev)
{
    if (!ev)
        return;
    free(ev->event_id);
    free(ev->event_type);
    free(ev->queue_id);
    free(ev->queue_name);
    free(ev->conversation_id);
    free(ev->media_type);
    free(ev->acd_outcome);
    free(ev->body);
    memset(ev, 0, sizeof(*ev));
}

void codec_alert_clear(struct alert *al)
{
    if (!al)
        return;
    free(al->alert_id);
    free(al->grouping_key);
    free(al->alarm_type);
    free(al->queue_id);
    free(al->queue_name);
    free(al->media_type);
    free(al->priority);
    free(al->conversation_id);
    free(al->message);
    free(al->description);
    for (size_t i = 0; i < al->ntags; i++)
        free(al->tags[i]);
    free(al->tags);
    for (size_t i = 0; i < al->ndetails; i++) {
        free(al->detail_keys[i]);
        free(al->detail_values[i]);
    }
    free(al->detail_keys);
    free(al->detail_values);
    free(al->source_event_id);
    memset(al, 0, sizeof(*al));
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0; /* NaN is NaN, -0.0 is not 0.0 */
}

static int same_strs(char *const *a, char *const *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!same_str(a[i], b[i]))
            return 0;
    return 1;
}

int codec_alert_same(const struct alert *a, const struct alert *b)
{
    return same_str(a->alert_id, b->alert_id) && same_str(a->grouping_key, b->grouping_key) &&
           a->status == b->status && same_str(a->alarm_type, b->alarm_type) &&
           same_str(a->queue_id, b->queue_id) && same_str(a->queue_name, b->queue_name) &&
           same_str(a->media_type, b->media_type) && same_str(a->priority, b->priority) &&
           a->count == b->count && a->first_seen_ms == b->first_seen_ms &&
           a->last_seen_ms == b->last_seen_ms && a->at_ms == b->at_ms &&
           same_str(a->conversation_id, b->conversation_id) && a->wait_ms == b->wait_ms &&
           a->threshold_ms == b->threshold_ms &&
           same_double(a->service_level, b->service_level) &&
           same_double(a->target, b->target) && a->samples == b->samples &&
           same_str(a->message, b->message) && same_str(a->description, b->description) &&
           a->ntags == b->ntags && same_strs(a->tags, b->tags, a->ntags) &&
           a->ndetails == b->ndetails &&
           same_strs(a->detail_keys, b->detail_keys, a->ndetails) &&
           same_strs(a->detail_values, b->detail_values, a->ndetails) &&
           same_str(a->source_event_id, b->source_event_id);
}
