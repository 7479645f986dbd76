/*
 * codec.c — the codec's schema table: today's qalert.RawEvent and
 * qalert.Alert (compiled in), plus writer schemas registered later (newer
 * versions, Confluent registry ids), and reading a framed payload with the
 * right writer schema.
 *
 * Exists so that a reader resolves whichever known version wrote a record
 * into today's shape (SPEC §5). It must never hand avro-c a payload it has
 * not bounds-checked (codec_check.c), and never guess a schema for an unknown
 * fingerprint.
 *
 * Threads: the table is written under table_lock by codec_init and
 * codec_register_schema and read under it; entries are immutable once
 * published. Values are created per call, so encode/decode run concurrently.
 */
#include "common/codec_internal.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/schema.h"
#include "common/schemas.h"

/* Today's two schemas and a few versions of each are plenty. */
#define CODEC_MAX_SCHEMAS 32

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t avro_error_lock = PTHREAD_MUTEX_INITIALIZER;
static struct codec_schema *table[CODEC_MAX_SCHEMAS];
static size_t ntable;
static struct codec_schema *today[2];
static _Atomic uint32_t writer_ids[2];

static const char *const record_names[] = { "qalert.RawEvent", "qalert.Alert" };
static const char *const source_files[] = { "RawEvent", "Alert" };

const char *codec_record_name(enum codec_record rec)
{
    return rec == CODEC_ALERT ? record_names[1] : record_names[0];
}

enum qa_err codec_avro_error(char *errstr, size_t errstr_size, enum qa_err err,
                             const char *what)
{
    pthread_mutex_lock(&avro_error_lock);
    qa_errf(errstr, errstr_size, err, "%s: %s", what, avro_strerror());
    pthread_mutex_unlock(&avro_error_lock);
    return err;
}

static void schema_entry_free(struct codec_schema *s)
{
    if (!s)
        return;
    if (s->resolver)
        avro_value_iface_decref(s->resolver);
    if (s->cls)
        avro_value_iface_decref(s->cls);
    if (s->schema)
        avro_schema_decref(s->schema);
    free(s->canonical);
    free(s);
}

/* Builds a table entry from JSON text. *out is malloc'd; schema_entry_free
 * releases it. reader is today's schema of rec (NULL while loading today's). */
static enum qa_err schema_entry_new(enum codec_record rec, const char *json,
                                    avro_schema_t reader, struct codec_schema **out,
                                    char *errstr, size_t errstr_size)
{
    struct codec_schema *s = calloc(1, sizeof(*s));
    enum qa_err err = QA_OK;
    char full[256];

    *out = NULL;
    if (!s)
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "codec: out of memory");
    s->rec = rec;
    err = schema_canonical_form(json, &s->canonical, errstr, errstr_size);
    if (err)
        goto out;
    s->fingerprint = schema_fingerprint64(s->canonical, strlen(s->canonical));
    if (avro_schema_from_json_length(json, strlen(json), &s->schema)) {
        err = codec_avro_error(errstr, errstr_size, QA_ERR_INVALID, "codec: schema");
        goto out;
    }
    if (!is_avro_record(s->schema)) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                      "codec: schema is a %s, expected record %s",
                      avro_schema_type_name(s->schema), codec_record_name(rec));
        goto out;
    }
    const char *ns = avro_schema_namespace(s->schema);
    int n = snprintf(full, sizeof(full), "%s%s%s", ns ? ns : "", ns && *ns ? "." : "",
                     avro_schema_name(s->schema));
    if (n < 0 || (size_t)n >= sizeof(full) || strcmp(full, codec_record_name(rec)) != 0) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                      "codec: schema names record %.200s, expected %s", full,
                      codec_record_name(rec));
        goto out;
    }
    s->cls = avro_generic_class_from_schema(s->schema);
    if (!s->cls) {
        err = codec_avro_error(errstr, errstr_size, QA_ERR_INVALID, "codec: generic class");
        goto out;
    }
    if (reader) {
        s->resolver = avro_resolved_reader_new(s->schema, reader);
        if (!s->resolver) {
            err = codec_avro_error(errstr, errstr_size, QA_ERR_UNSUPPORTED,
                                   "codec: cannot read this schema with today's");
            goto out;
        }
    }
out:
    if (err)
        schema_entry_free(s);
    else
        *out = s;
    return err;
}

enum qa_err codec_init(char *errstr, size_t errstr_size)
{
    enum qa_err err = QA_OK;

    pthread_mutex_lock(&table_lock);
    if (ntable > 0)
        goto out; /* already loaded */
    for (int rec = CODEC_RAW_EVENT; rec <= CODEC_ALERT; rec++) {
        const char *json = NULL;
        for (const struct schema_source *src = schema_sources; src->name; src++)
            if (strcmp(src->name, source_files[rec]) == 0)
                json = src->json;
        if (!json) {
            err = qa_errf(errstr, errstr_size, QA_ERR_NOT_FOUND,
                          "codec: schemas/%s.avsc was not compiled in", source_files[rec]);
            goto out;
        }
        err = schema_entry_new((enum codec_record)rec, json, NULL, &today[rec],
                               errstr, errstr_size);
        if (err)
            goto out;
        table[ntable++] = today[rec];
    }
out:
    if (err) {
        for (size_t i = 0; i < ntable; i++)
            schema_entry_free(table[i]);
        ntable = 0;
        today[0] = today[1] = NULL;
    }
    pthread_mutex_unlock(&table_lock);
    return err;
}

void codec_shutdown(void)
{
    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; i < ntable; i++)
        schema_entry_free(table[i]);
    ntable = 0;
    today[0] = today[1] = NULL;
    atomic_store(&writer_ids[0], 0);
    atomic_store(&writer_ids[1], 0);
    pthread_mutex_unlock(&table_lock);
}

enum qa_err codec_register_schema(enum codec_record rec, const char *json,
                                  uint32_t confluent_id, char *errstr,
                                  size_t errstr_size)
{
    struct codec_schema *s = NULL;
    enum qa_err err;

    if (rec != CODEC_RAW_EVENT && rec != CODEC_ALERT)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "codec: bad record type");
    pthread_mutex_lock(&table_lock);
    if (!today[rec]) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "codec: codec_init not called");
        goto out;
    }
    err = schema_entry_new(rec, json, today[rec]->schema, &s, errstr, errstr_size);
    if (err)
        goto out;
    s->confluent_id = confluent_id;
    for (size_t i = 0; i < ntable; i++) {
        if (table[i]->fingerprint != s->fingerprint || table[i]->rec != rec)
            continue;
        if (confluent_id && table[i]->confluent_id && table[i]->confluent_id != confluent_id) {
            err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                          "codec: schema 0x%016" PRIx64 " already has registry id %" PRIu32,
                          s->fingerprint, table[i]->confluent_id);
            goto out;
        }
        if (confluent_id && !table[i]->confluent_id)
            table[i]->confluent_id = confluent_id; /* before any reader saw an id */
        goto out;                                  /* known already */
    }
    if (ntable == CODEC_MAX_SCHEMAS) {
        err = qa_errf(errstr, errstr_size, QA_ERR_FULL,
                      "codec: more than %d schemas registered", CODEC_MAX_SCHEMAS);
        goto out;
    }
    table[ntable++] = s;
    s = NULL;
out:
    pthread_mutex_unlock(&table_lock);
    schema_entry_free(s);
    return err;
}

void codec_set_confluent_id(enum codec_record rec, uint32_t id)
{
    if (rec == CODEC_RAW_EVENT || rec == CODEC_ALERT)
        atomic_store(&writer_ids[rec], id);
}

uint32_t codec_writer_confluent_id(enum codec_record rec)
{
    return atomic_load(&writer_ids[rec]);
}

const struct codec_schema *codec_today(enum codec_record rec)
{
    const struct codec_schema *s;
    pthread_mutex_lock(&table_lock);
    s = today[rec];
    pthread_mutex_unlock(&table_lock);
    return s;
}

uint64_t codec_fingerprint(enum codec_record rec)
{
    const struct codec_schema *s =
        (rec == CODEC_RAW_EVENT || rec == CODEC_ALERT) ? codec_today(rec) : NULL;
    return s ? s->fingerprint : 0;
}

/* The writer schema a frame names, or NULL. Confluent ids nobody registered
 * are taken as today's schema of the expected record (the registry's id for
 * our own schema when we were not told it). */
static const struct codec_schema *find_writer(const struct frame *f, int expected)
{
    const struct codec_schema *found = NULL;

    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; i < ntable && !found; i++) {
        if (f->kind == FRAME_SINGLE_OBJECT && table[i]->fingerprint == f->fingerprint)
            found = table[i];
        if (f->kind == FRAME_CONFLUENT && table[i]->confluent_id &&
            table[i]->confluent_id == f->schema_id)
            found = table[i];
    }
    if (!found && f->kind == FRAME_CONFLUENT && expected >= 0)
        found = today[expected];
    pthread_mutex_unlock(&table_lock);
    return found;
}

enum qa_err codec_find_framed(const void *buf, size_t len, int expected,
                              const struct codec_schema **writer, const uint8_t **payload,
                              size_t *payload_len, char *errstr, size_t errstr_size)
{
    struct frame f;
    enum qa_err err;
    const struct codec_schema *w;

    *writer = NULL;
    if (!codec_today(CODEC_RAW_EVENT))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "codec: codec_init not called");
    err = frame_parse(buf, len, &f, errstr, errstr_size);
    if (err)
        return err;
    w = find_writer(&f, expected);
    if (!w && f.kind == FRAME_SINGLE_OBJECT)
        return qa_errf(errstr, errstr_size, QA_ERR_UNSUPPORTED,
                       "unknown schema fingerprint 0x%016" PRIx64 " (not qalert.RawEvent "
                       "or qalert.Alert of a known version)", f.fingerprint);
    if (!w) { /* Confluent, unregistered id, any record: try both */
        char ignored[8];
        for (int rec = CODEC_RAW_EVENT; rec <= CODEC_ALERT && !w; rec++)
            if (!codec_check_payload(codec_today((enum codec_record)rec)->schema,
                                     f.payload, f.payload_len, ignored, sizeof(ignored)))
                w = codec_today((enum codec_record)rec);
        if (!w)
            return qa_errf(errstr, errstr_size, QA_ERR_UNSUPPORTED,
                           "unknown schema id %" PRIu32 " and the payload is not "
                           "today's qalert.RawEvent or qalert.Alert", f.schema_id);
    }
    if (expected >= 0 && w->rec != (enum codec_record)expected)
        return qa_errf(errstr, errstr_size, QA_ERR_UNSUPPORTED,
                       "record is %s, expected %s", codec_record_name(w->rec),
                       codec_record_name((enum codec_record)expected));
    err = codec_check_payload(w->schema, f.payload, f.payload_len, errstr, errstr_size);
    if (err)
        return err;
    *writer = w;
    *payload = f.payload;
    *payload_len = f.payload_len;
    return QA_OK;
}

enum qa_err codec_read_framed(const void *buf, size_t len, int expected,
                              bool resolve, struct codec_read *r, char *errstr,
                              size_t errstr_size)
{
    const uint8_t *payload;
    size_t payload_len;
    enum qa_err err;
    avro_reader_t reader = NULL;

    memset(r, 0, sizeof(*r));
    err = codec_find_framed(buf, len, expected, &r->writer, &payload, &payload_len, errstr,
                            errstr_size);
    if (err)
        return err;

    if (avro_generic_value_new(r->writer->cls, &r->value)) {
        err = codec_avro_error(errstr, errstr_size, QA_ERR_NOMEM, "codec: new value");
        goto out;
    }
    r->has_value = true;
    reader = avro_reader_memory((const char *)payload, (int64_t)payload_len);
    if (!reader) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "codec: out of memory");
        goto out;
    }
    if (avro_value_read(reader, &r->value)) {
        err = codec_avro_error(errstr, errstr_size, QA_ERR_INVALID, "codec: payload");
        goto out;
    }
    if (resolve && r->writer->resolver) {
        if (avro_resolved_reader_new_value(r->writer->resolver, &r->view)) {
            err = codec_avro_error(errstr, errstr_size, QA_ERR_NOMEM, "codec: resolver");
            goto out;
        }
        r->has_view = true;
        avro_resolved_reader_set_source(&r->view, &r->value);
    } else {
        r->view = r->value; /* borrowed: released with value */
    }
out:
    if (reader)
        avro_reader_free(reader);
    if (err)
        codec_read_release(r);
    return err;
}

void codec_read_release(struct codec_read *r)
{
    if (r->has_view)
        avro_value_decref(&r->view);
    if (r->has_value)
        avro_value_decref(&r->value);
    memset(r, 0, sizeof(*r));
}

static const char *const kind_names[] = {
    "ACD_START", "ACD_END", "FLAT_WAIT", "QUEUE_STATS", "OTHER",
};

const char *codec_raw_kind_name(enum raw_kind k)
{
    return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k]
                                                                      : "OTHER";
}

const char *codec_source_name(enum raw_source s)
{
    return s == RAW_SOURCE_EVENTBRIDGE ? "eventbridge" : "webhook";
}

const char *codec_status_name(enum alert_status s)
{
    return s == ALERT_RESOLVED ? "RESOLVED" : "FIRING";
}
