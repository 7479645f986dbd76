/*
 * policy_reload.c — see policy_reload.h. policy.h has no way to list a
 * policy's queues, so the queue ids are taken from the same file text the
 * policy was loaded from (one read, so the two cannot disagree); the values
 * are compared through policy_lookup(), i.e. as the engine sees them after
 * defaults and per-cent conversion, so "80" -> "0.8" is no change.
 */
#include "processor/policy_reload.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Per-queue lines logged on one reload; the summary always counts all. */
#define RELOAD_MAX_LINES 200

static const char *const media_types[] = { "VOICE", "CALLBACK", "CHAT", "EMAIL", "MESSAGE" };
#define NMEDIA (sizeof(media_types) / sizeof(media_types[0]))

struct policy_reload {
    char *path;
    struct policy *cur;
    char **ids;       /* sorted queue ids of cur */
    size_t nids;
};

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static int id_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads the policy and its sorted queue ids from JSON text. */
static enum qa_err load_text(const char *text, struct policy **pol, char ***ids, size_t *nids,
                             char *errstr, size_t errstr_size)
{
    cJSON *root = NULL;
    const cJSON *q;
    enum qa_err err;
    size_t n = 0;

    *pol = NULL;
    *ids = NULL;
    *nids = 0;
    if ((err = policy_load_string(text, pol, errstr, errstr_size)))
        goto out;
    /* It loaded, so it is an object whose "queues" (if any) is one too. */
    root = cJSON_Parse(text);
    q = cJSON_GetObjectItemCaseSensitive(root, "queues");
    size_t cap = (size_t)cJSON_GetArraySize(q);
    if (cap && !(*ids = calloc(cap, sizeof(**ids)))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (const cJSON *it = q ? q->child : NULL; it && n < cap; it = it->next) {
        if (!((*ids)[n] = strdup(it->string))) {
            err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    if (n)
        qsort(*ids, n, sizeof(**ids), id_cmp);
    *nids = n;
out:
    if (err) {
        policy_free(*pol);
        *pol = NULL;
        free_ids(*ids, n);
        *ids = NULL;
    }
    cJSON_Delete(root);
    return err;
}

/* Loads the policy and its sorted queue ids from path (NULL: defaults). */
static enum qa_err load(const char *path, struct policy **pol, char ***ids, size_t *nids,
                        char *errstr, size_t errstr_size)
{
    char *text = NULL;
    enum qa_err err;

    *pol = NULL;
    *ids = NULL;
    *nids = 0;
    if (!path || !*path) {
        if (!(*pol = policy_new_default()))
            return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        return QA_OK;
    }
    if ((err = policy_read_text(path, &text, errstr, errstr_size)))
        return err;
    err = load_text(text, pol, ids, nids, errstr, errstr_size);
    free(text);
    return err;
}

struct policy_reload *policy_reload_open(const char *path, char *errstr, size_t errstr_size)
{
    struct policy_reload *r = calloc(1, sizeof(*r));

    if (!r) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (path && *path && !(r->path = strdup(path))) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
        free(r);
        return NULL;
    }
    if (load(r->path, &r->cur, &r->ids, &r->nids, errstr, errstr_size)) {
        free(r->path);
        free(r);
        return NULL;
    }
    return r;
}

void policy_reload_free(struct policy_reload *r)
{
    if (!r)
        return;
    policy_free(r->cur);
    free_ids(r->ids, r->nids);
    free(r->path);
    free(r);
}

const struct policy *policy_reload_current(const struct policy_reload *r)
{
    return r->cur;
}

static int same_name(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Logs the differences of one queue (id NULL: the default) between two
 * policies; returns 1 when there was any. */
static int diff_queue(const struct policy *a, const struct policy *b, const char *id,
                      size_t *lines)
{
    int changed = 0;

    for (size_t m = 0; m < NMEDIA; m++) {
        struct policy_sla x, y;
        policy_lookup(a, id, media_types[m], &x);
        policy_lookup(b, id, media_types[m], &y);
        if (x.duration_ms == y.duration_ms && x.target == y.target &&
            (m > 0 || same_name(x.queue_name, y.queue_name)))
            continue;
        changed = 1;
        if ((*lines)++ < RELOAD_MAX_LINES)
            log_info("policy changed", LOG_S("queue_id", id ? id : "(default)"),
                     LOG_S("name", y.queue_name ? y.queue_name : ""),
                     LOG_S("media", media_types[m]), LOG_I("old_duration_ms", x.duration_ms),
                     LOG_I("new_duration_ms", y.duration_ms), LOG_D("old_target", x.target),
                     LOG_D("new_target", y.target));
    }
    return changed;
}

/* Walks both sorted id lists and logs what changed. */
static void log_changes(const struct policy_reload *r, const struct policy *old,
                        char **oids, size_t on, const char *source_key, const char *source)
{
    size_t i = 0, j = 0, added = 0, removed = 0, changed = 0, lines = 0;
    int def = diff_queue(old, r->cur, NULL, &lines);

    while (i < on || j < r->nids) {
        int c = i >= on ? 1 : j >= r->nids ? -1 : strcmp(oids[i], r->ids[j]);
        if (c < 0) {
            removed++;
            if (lines++ < RELOAD_MAX_LINES)
                log_info("policy queue removed", LOG_S("queue_id", oids[i]));
            i++;
        } else if (c > 0) {
            struct policy_sla s;
            policy_lookup(r->cur, r->ids[j], "VOICE", &s);
            added++;
            if (lines++ < RELOAD_MAX_LINES)
                log_info("policy queue added", LOG_S("queue_id", r->ids[j]),
                         LOG_S("name", s.queue_name ? s.queue_name : ""));
            j++;
        } else {
            changed += (size_t)diff_queue(old, r->cur, r->ids[j], &lines);
            i++;
            j++;
        }
    }
    log_info("policy reloaded", LOG_S(source_key, source), LOG_I("queues", r->nids),
             LOG_I("added", added), LOG_I("removed", removed), LOG_I("changed", changed),
             LOG_B("default_changed", def),
             LOG_I("lines_not_logged", lines > RELOAD_MAX_LINES ? lines - RELOAD_MAX_LINES : 0));
}

/* Makes np (with its ids) current and logs the changes; *old gets the
 * previous policy. */
static void install(struct policy_reload *r, struct policy *np, char **nids, size_t nn,
                    struct policy **old, const char *source_key, const char *source)
{
    char **oids = r->ids;
    size_t on = r->nids;

    *old = r->cur;
    r->cur = np;
    r->ids = nids;
    r->nids = nn;
    log_changes(r, *old, oids, on, source_key, source);
    free_ids(oids, on);
}

enum qa_err policy_reload_file(struct policy_reload *r, struct policy **old, char *errstr,
                               size_t errstr_size)
{
    struct policy *np;
    char **nids;
    size_t nn;
    enum qa_err err;

    *old = NULL;
    if (!r->path)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "no QALERT_SLA_POLICY_FILE to reload: the defaults stay");
    if ((err = load(r->path, &np, &nids, &nn, errstr, errstr_size)))
        return err;
    install(r, np, nids, nn, old, "file", r->path);
    return QA_OK;
}

enum qa_err policy_reload_text(struct policy_reload *r, const char *text, const char *topic,
                               struct policy **old, char *errstr, size_t errstr_size)
{
    struct policy *np;
    char **nids;
    size_t nn;
    enum qa_err err;

    *old = NULL;
    if ((err = load_text(text, &np, &nids, &nn, errstr, errstr_size)))
        return err;
    install(r, np, nids, nn, old, "topic", topic);
    return QA_OK;
}
