/*
 * sync_policy.c — see sync_policy.h. Every value comes from the network, so
 * each is checked against what the processor's loader accepts before it is
 * written: a policy this module renders must always load (the unit test
 * feeds it to policy_load_string). A value out of range is dropped (the
 * processor's default applies to it) rather than failing the whole sync.
 */
#include "sync_policy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Genesys' mediaSettings keys the processor maps (SPEC §6). */
static const char *const media_keys[] = { "call", "callback", "chat", "email", "message" };
#define NMEDIA (sizeof(media_keys) / sizeof(media_keys[0]))

#define MAX_ID 256
#define MAX_NAME 1024
#define MAX_QUEUES 1000000

struct entry {
    char *id;
    cJSON *value;   /* {"name":..,"mediaSettings":{..}} */
};

struct gen_policy {
    int64_t def_duration;
    double def_percentage;
    struct entry *e;
    size_t n, cap;
    struct gen_policy_counts c;
};

struct gen_policy *gen_policy_new(int64_t default_duration_ms, double default_percentage)
{
    struct gen_policy *p;

    if (default_duration_ms <= 0 || default_duration_ms > GEN_POLICY_MAX_DURATION_MS ||
        !isfinite(default_percentage) || default_percentage <= 0 || default_percentage > 100)
        return NULL;
    if (!(p = calloc(1, sizeof(*p))))
        return NULL;
    p->def_duration = default_duration_ms;
    p->def_percentage = default_percentage;
    return p;
}

void gen_policy_free(struct gen_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->e[i].id);
        cJSON_Delete(p->e[i].value);
    }
    free(p->e);
    free(p);
}

void gen_policy_counts(const struct gen_policy *p, struct gen_policy_counts *out)
{
    *out = p->c;
    out->queues = p->n;
}

/* A string fit to be a key or a name: bounded, no control bytes. */
static int plain_string(const cJSON *v, size_t max)
{
    const char *s = cJSON_GetStringValue(v);
    size_t n;

    if (!s || !(n = strlen(s)) || n > max)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < ' ' || *s == 0x7f)
            return 0;
    return 1;
}

/* {"durationMs":..,"percentage":..} with the fields that pass, or NULL
 * (also when none passes). */
static cJSON *service_level(const cJSON *sl)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(sl, "durationMs");
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(sl, "percentage");
    cJSON *out;
    int any = 0;

    if (!cJSON_IsObject(sl) || !(out = cJSON_CreateObject()))
        return NULL;
    if (cJSON_IsNumber(d) && isfinite(d->valuedouble) && d->valuedouble > 0 &&
        d->valuedouble == floor(d->valuedouble) &&
        d->valuedouble <= (double)GEN_POLICY_MAX_DURATION_MS) {
        if (!cJSON_AddNumberToObject(out, "durationMs", d->valuedouble))
            goto fail;
        any = 1;
    }
    /* Genesys sends a fraction; (1, 100] is accepted too, as the processor
     * reads it as per cent. 0 (no target set) is not a usable target. */
    if (cJSON_IsNumber(pc) && isfinite(pc->valuedouble) && pc->valuedouble > 0 &&
        pc->valuedouble <= 100) {
        if (!cJSON_AddNumberToObject(out, "percentage", pc->valuedouble))
            goto fail;
        any = 1;
    }
    if (any)
        return out;
fail:
    cJSON_Delete(out);
    return NULL;
}

/* The policy entry of one queue, or NULL when it has nothing usable
 * (*nomem set when that was for want of memory). */
static cJSON *queue_entry(const cJSON *q, size_t *media, int *nomem)
{
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(q, "mediaSettings");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(q, "name");
    cJSON *out = NULL, *outms = NULL, *m, *sl;
    size_t found = 0;

    if (!cJSON_IsObject(ms))
        return NULL;
    if (!(out = cJSON_CreateObject()) || !(outms = cJSON_CreateObject()))
        goto nomem;
    if (plain_string(name, MAX_NAME) && !cJSON_AddStringToObject(out, "name", name->valuestring))
        goto nomem;
    for (size_t i = 0; i < NMEDIA; i++) {
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(ms, media_keys[i]);
        if (!cJSON_IsObject(src))
            continue;
        if (!(sl = service_level(cJSON_GetObjectItemCaseSensitive(src, "serviceLevel"))))
            continue;
        if (!(m = cJSON_CreateObject())) {
            cJSON_Delete(sl);
            goto nomem;
        }
        cJSON_AddItemToObject(m, "serviceLevel", sl);
        cJSON_AddItemToObject(outms, media_keys[i], m);
        found++;
    }
    if (!found) {
        cJSON_Delete(outms);
        cJSON_Delete(out);
        return NULL;
    }
    cJSON_AddItemToObject(out, "mediaSettings", outms);
    *media += found;
    return out;
nomem:
    *nomem = 1;
    cJSON_Delete(outms);
    cJSON_Delete(out);
    return NULL;
}

static enum qa_err put(struct gen_policy *p, const char *id, cJSON *value)
{
    /* Linear search is fine up to thousands of queues per page; a hash
     * would be needed only for orgs far beyond Genesys' queue limits. */
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->e[i].id, id) == 0) {
            cJSON_Delete(p->e[i].value);
            p->e[i].value = value;
            p->c.duplicates++;
            return QA_OK;
        }
    }
    if (p->n >= MAX_QUEUES)
        return QA_ERR_FULL;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct entry *ne = realloc(p->e, cap * sizeof(*ne));
        if (!ne)
            return QA_ERR_NOMEM;
        p->e = ne;
        p->cap = cap;
    }
    if (!(p->e[p->n].id = strdup(id)))
        return QA_ERR_NOMEM;
    p->e[p->n].value = value;
    p->n++;
    return QA_OK;
}

enum qa_err gen_policy_add_page(struct gen_policy *p, const cJSON *page, char *errstr,
                                size_t errstr_size)
{
    const cJSON *ents = cJSON_GetObjectItemCaseSensitive(page, "entities");
    const cJSON *q;
    enum qa_err err;

    if (!cJSON_IsObject(page) || !cJSON_IsArray(ents))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "queues page: no \"entities\" array");
    cJSON_ArrayForEach(q, ents) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(q, "id");
        int nomem = 0;
        cJSON *entry;
        if (!cJSON_IsObject(q) || !plain_string(id, MAX_ID)) {
            p->c.skipped++;
            continue;
        }
        entry = queue_entry(q, &p->c.media, &nomem);
        if (nomem)
            return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        if (!entry) {
            p->c.skipped++;
            continue;
        }
        if ((err = put(p, id->valuestring, entry))) {
            cJSON_Delete(entry);
            return qa_errf(errstr, errstr_size, err, err == QA_ERR_FULL
                           ? "more than %d queues" : "out of memory", MAX_QUEUES);
        }
    }
    return QA_OK;
}

enum qa_err gen_policy_add_page_json(struct gen_policy *p, const char *json, size_t len,
                                     char *errstr, size_t errstr_size)
{
    cJSON *page = cJSON_ParseWithLength(json, len);
    enum qa_err err;

    if (!page)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "queues page: not valid JSON");
    err = gen_policy_add_page(p, page, errstr, errstr_size);
    cJSON_Delete(page);
    return err;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->id, ((const struct entry *)b)->id);
}

char *gen_policy_render(const struct gen_policy *p, int pretty)
{
    cJSON *root = cJSON_CreateObject(), *def, *queues, *copy;
    struct entry *sorted = NULL;
    char *text = NULL, *out = NULL;
    size_t len;

    if (!root || !(def = cJSON_AddObjectToObject(root, "default")) ||
        !cJSON_AddNumberToObject(def, "durationMs", (double)p->def_duration) ||
        !cJSON_AddNumberToObject(def, "percentage", p->def_percentage) ||
        !(queues = cJSON_AddObjectToObject(root, "queues")))
        goto out;
    if (p->n) {
        if (!(sorted = malloc(p->n * sizeof(*sorted))))
            goto out;
        memcpy(sorted, p->e, p->n * sizeof(*sorted));
        qsort(sorted, p->n, sizeof(*sorted), entry_cmp);
    }
    for (size_t i = 0; i < p->n; i++) {
        if (!(copy = cJSON_Duplicate(sorted[i].value, 1)))
            goto out;
        cJSON_AddItemToObject(queues, sorted[i].id, copy);
    }
    if (!(text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root)))
        goto out;
    len = strlen(text);
    if ((out = malloc(len + 2))) {
        memcpy(out, text, len);
        out[len] = pretty ? '\n' : '\0';
        out[len + 1] = '\0';
    }
out:
    free(text);
    free(sorted);
    cJSON_Delete(root);
    return out;
}
