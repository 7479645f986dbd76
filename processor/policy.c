/*
 * policy.c — loads and validates the JSON SLA policy (see policy.h).
 *
 * The policy is operator input read once at start: every problem is refused
 * with the JSON path that holds it, so a typo stops the processor with a
 * one-line reason instead of silently alerting on the default threshold.
 * It must never keep a pointer into the cJSON tree after loading.
 */
#include "processor/policy.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

/* The policy file is small; a bigger one is a mistake, not a policy. */
#define POLICY_MAX_FILE (16 * 1024 * 1024)
/* One year: a longer threshold is certainly a unit mistake. */
#define POLICY_MAX_DURATION_MS 31536000000LL

/* Genesys' mediaSettings keys and the mediaType values that map to them. */
static const char *const media_keys[] = { "call", "callback", "chat", "email", "message" };
static const char *const media_types[] = { "VOICE", "CALLBACK", "CHAT", "EMAIL", "MESSAGE" };
#define NMEDIA (sizeof(media_keys) / sizeof(media_keys[0]))

static const char *const alarm_names[POLICY_NALARMS] = { "wait_sla_breach",
                                                         "service_level_low" };
static const char *const default_priorities[POLICY_NALARMS] = { "P2", "P1" };

struct sl {
    bool set;
    int64_t duration_ms;
    double target;
};

struct queue {
    char *id;
    char *name;
    char prio[POLICY_NALARMS][3]; /* "" when not overridden */
    struct sl media[NMEDIA];
};

struct policy {
    int64_t duration_ms;
    double target;
    char prio[POLICY_NALARMS][3];
    struct queue *queues; /* sorted by id for bsearch */
    size_t nqueues;
};

const char *policy_alarm_name(enum policy_alarm alarm)
{
    return (alarm >= 0 && alarm < POLICY_NALARMS) ? alarm_names[alarm] : "unknown";
}

static int media_index_of_type(const char *media_type)
{
    if (!media_type)
        return -1;
    for (size_t i = 0; i < NMEDIA; i++)
        if (strcasecmp(media_type, media_types[i]) == 0)
            return (int)i;
    return -1;
}

const char *policy_media_key(const char *media_type)
{
    int i = media_index_of_type(media_type);
    return i < 0 ? NULL : media_keys[i];
}

struct policy *policy_new_default(void)
{
    struct policy *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->duration_ms = POLICY_DEFAULT_DURATION_MS;
    p->target = POLICY_DEFAULT_TARGET;
    for (int a = 0; a < POLICY_NALARMS; a++)
        memcpy(p->prio[a], default_priorities[a], 3);
    return p;
}

void policy_free(struct policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nqueues; i++) {
        free(p->queues[i].id);
        free(p->queues[i].name);
    }
    free(p->queues);
    free(p);
}

size_t policy_queue_count(const struct policy *p)
{
    return p ? p->nqueues : 0;
}

/* durationMs: a JSON integer in (0, one year]. */
static enum qa_err parse_duration(const cJSON *v, const char *path, int64_t *out,
                                  char *errstr, size_t errstr_size)
{
    double d;

    if (!cJSON_IsNumber(v))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "%s.durationMs: must be a positive integer", path);
    d = v->valuedouble;
    if (!isfinite(d) || d <= 0 || d != floor(d) || d > (double)POLICY_MAX_DURATION_MS)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "%s.durationMs: must be a positive integer (ms, at most %lld)",
                       path, (long long)POLICY_MAX_DURATION_MS);
    *out = (int64_t)d;
    return QA_OK;
}

/* percentage: (0, 1] is a fraction, (1, 100] per cent, as Genesys' UI shows. */
static enum qa_err parse_percentage(const cJSON *v, const char *path, double *out,
                                    char *errstr, size_t errstr_size)
{
    double d;

    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble <= 0 ||
        v->valuedouble > 100)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "%s.percentage: must be a number in (0, 1] (fraction) or (1, 100] (per cent)",
                       path);
    d = v->valuedouble;
    *out = d > 1 ? d / 100.0 : d;
    return QA_OK;
}

/* {"durationMs":..,"percentage":..}, each optional (inherits *base). */
static enum qa_err parse_sl(const cJSON *obj, const char *path, const struct sl *base,
                            struct sl *out, char *errstr, size_t errstr_size)
{
    const cJSON *v;
    enum qa_err err;

    if (!cJSON_IsObject(obj))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s: must be an object", path);
    *out = *base;
    out->set = true;
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "durationMs")) &&
        (err = parse_duration(v, path, &out->duration_ms, errstr, errstr_size)))
        return err;
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "percentage")) &&
        (err = parse_percentage(v, path, &out->target, errstr, errstr_size)))
        return err;
    return QA_OK;
}

static enum qa_err parse_priorities(const cJSON *obj, const char *path,
                                    char prio[POLICY_NALARMS][3], char *errstr,
                                    size_t errstr_size)
{
    const cJSON *it;

    if (!cJSON_IsObject(obj))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s: must be an object", path);
    cJSON_ArrayForEach(it, obj) {
        int a;
        const char *s = cJSON_GetStringValue(it);
        for (a = 0; a < POLICY_NALARMS; a++)
            if (it->string && strcmp(it->string, alarm_names[a]) == 0)
                break;
        if (a == POLICY_NALARMS)
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                           "%s.%s: unknown alarm type (expected wait_sla_breach or service_level_low)",
                           path, it->string ? it->string : "");
        if (!s || strlen(s) != 2 || toupper((unsigned char)s[0]) != 'P' || s[1] < '1' ||
            s[1] > '5')
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                           "%s.%s: must be one of P1, P2, P3, P4, P5", path, it->string);
        prio[a][0] = 'P';
        prio[a][1] = s[1];
        prio[a][2] = '\0';
    }
    return QA_OK;
}

static enum qa_err parse_queue(const cJSON *obj, const struct policy *p, struct queue *q,
                               char *errstr, size_t errstr_size)
{
    char path[320], mpath[400];
    const cJSON *v, *m;
    struct sl base = { true, p->duration_ms, p->target };
    enum qa_err err;

    snprintf(path, sizeof(path), "queues.%s", obj->string); /* truncation harmless */
    if (!cJSON_IsObject(obj))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s: must be an object", path);
    if (!(q->id = strdup(obj->string)))
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    if (q->id[0] == '\0')
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "queues: a queue id is empty");
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "name"))) {
        if (!cJSON_IsString(v))
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s.name: must be a string", path);
        if (!(q->name = strdup(v->valuestring)))
            return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "priorities"))) {
        snprintf(mpath, sizeof(mpath), "%s.priorities", path);
        if ((err = parse_priorities(v, mpath, q->prio, errstr, errstr_size)))
            return err;
    }
    v = cJSON_GetObjectItemCaseSensitive(obj, "mediaSettings");
    if (!v)
        return QA_OK;
    if (!cJSON_IsObject(v))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s.mediaSettings: must be an object", path);
    cJSON_ArrayForEach(m, v) {
        size_t i;
        struct sl parsed;
        const cJSON *slv;
        snprintf(mpath, sizeof(mpath), "%s.mediaSettings.%s", path, m->string);
        if (!cJSON_IsObject(m))
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s: must be an object", mpath);
        slv = cJSON_GetObjectItemCaseSensitive(m, "serviceLevel");
        if (!slv)
            continue; /* Genesys media settings carry more than the service level */
        snprintf(mpath, sizeof(mpath), "%s.mediaSettings.%s.serviceLevel", path, m->string);
        if ((err = parse_sl(slv, mpath, &base, &parsed, errstr, errstr_size)))
            return err;
        /* Media Genesys may add later (a key we cannot map to a mediaType)
         * are checked but unused, so a policy exported from Genesys loads. */
        for (i = 0; i < NMEDIA; i++)
            if (strcmp(m->string, media_keys[i]) == 0)
                q->media[i] = parsed;
    }
    return QA_OK;
}

static int queue_cmp(const void *a, const void *b)
{
    return strcmp(((const struct queue *)a)->id, ((const struct queue *)b)->id);
}

enum qa_err policy_load_string(const char *json, struct policy **out, char *errstr,
                               size_t errstr_size)
{
    struct policy *p = NULL;
    cJSON *root = NULL;
    const cJSON *v, *q;
    enum qa_err err = QA_OK;
    size_t n;

    *out = NULL;
    if (!json)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "policy: no text");
    if (!(p = policy_new_default()))
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    root = cJSON_Parse(json);
    if (!root) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "policy: not valid JSON");
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "policy: must be a JSON object");
        goto out;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "default"))) {
        struct sl base = { true, p->duration_ms, p->target }, parsed;
        if ((err = parse_sl(v, "default", &base, &parsed, errstr, errstr_size)))
            goto out;
        p->duration_ms = parsed.duration_ms;
        p->target = parsed.target;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "priorities")) &&
        (err = parse_priorities(v, "priorities", p->prio, errstr, errstr_size)))
        goto out;
    v = cJSON_GetObjectItemCaseSensitive(root, "queues");
    if (v && !cJSON_IsObject(v)) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "queues: must be an object");
        goto out;
    }
    n = (size_t)cJSON_GetArraySize(v);
    if (n > 0 && !(p->queues = calloc(n, sizeof(*p->queues)))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto out;
    }
    cJSON_ArrayForEach(q, v) {
        p->nqueues++; /* counted first, so policy_free() releases a half-parsed queue */
        if ((err = parse_queue(q, p, &p->queues[p->nqueues - 1], errstr, errstr_size)))
            goto out;
    }
    if (p->nqueues > 1)
        qsort(p->queues, p->nqueues, sizeof(*p->queues), queue_cmp);
    for (size_t i = 1; i < p->nqueues; i++)
        if (strcmp(p->queues[i - 1].id, p->queues[i].id) == 0) {
            err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                          "queues.%s: listed twice", p->queues[i].id);
            goto out;
        }
out:
    cJSON_Delete(root);
    if (err)
        policy_free(p);
    else
        *out = p;
    return err;
}

enum qa_err policy_read_text(const char *path, char **out, char *errstr,
                             size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;
    enum qa_err err = QA_OK;

    *out = NULL;
    if (!f)
        return qa_errf(errstr, errstr_size, QA_ERR_IO, "%s: cannot open", path);
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        err = qa_errf(errstr, errstr_size, QA_ERR_IO, "%s: cannot read", path);
        goto out;
    }
    if (size > POLICY_MAX_FILE) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s: larger than %d bytes",
                      path, POLICY_MAX_FILE);
        goto out;
    }
    if (!(buf = malloc((size_t)size + 1))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        err = qa_errf(errstr, errstr_size, QA_ERR_IO, "%s: cannot read", path);
        goto out;
    }
    buf[size] = '\0';
    if (strlen(buf) != (size_t)size) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "%s: holds a NUL byte", path);
        goto out;
    }
    *out = buf;
    buf = NULL;
out:
    fclose(f);
    free(buf);
    return err;
}

enum qa_err policy_load_file(const char *path, struct policy **out,
                             char *errstr, size_t errstr_size)
{
    char *text = NULL;
    enum qa_err err;

    *out = NULL;
    if (!path || !*path) {
        if (!(*out = policy_new_default()))
            return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        return QA_OK;
    }
    if ((err = policy_read_text(path, &text, errstr, errstr_size)))
        return err;
    err = policy_load_string(text, out, errstr, errstr_size);
    free(text);
    return err;
}

static const struct queue *find_queue(const struct policy *p, const char *queue_id)
{
    struct queue key;

    if (!p || !queue_id || p->nqueues == 0)
        return NULL;
    key.id = (char *)queue_id;
    return bsearch(&key, p->queues, p->nqueues, sizeof(*p->queues), queue_cmp);
}

void policy_lookup(const struct policy *p, const char *queue_id, const char *media_type,
                   struct policy_sla *out)
{
    const struct queue *q = find_queue(p, queue_id);
    int m = media_index_of_type(media_type);

    out->duration_ms = p ? p->duration_ms : POLICY_DEFAULT_DURATION_MS;
    out->target = p ? p->target : POLICY_DEFAULT_TARGET;
    out->queue_name = q ? q->name : NULL;
    if (q && m >= 0 && q->media[m].set) {
        out->duration_ms = q->media[m].duration_ms;
        out->target = q->media[m].target;
    }
}

const char *policy_priority(const struct policy *p, const char *queue_id,
                            enum policy_alarm alarm)
{
    const struct queue *q = find_queue(p, queue_id);

    if (alarm < 0 || alarm >= POLICY_NALARMS)
        return "P3";
    if (q && q->prio[alarm][0])
        return q->prio[alarm];
    if (p)
        return p->prio[alarm];
    return default_priorities[alarm];
}
