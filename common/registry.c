/*
 * registry.c — the HTTP half of the schema registry client (libcurl), and
 * registry_setup(), which wires a registry into the codec at start-up.
 *
 * Exists so that, with QALERT_SCHEMA_REGISTRY_URL set, records carry the
 * Confluent wire format with ids the registry agrees on, and readers know
 * every version of both subjects (SPEC §5). It must never send credentials
 * anywhere but the configured registry (no redirects, http/https only) and
 * never put them in a message: every URL shown goes through
 * registry_redact_url() and the password is registered with the logger.
 */
#include "common/registry.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/log.h"
#include "common/sbuf.h"
#include "common/schemas.h"

#define REGISTRY_MAX_URLS 8
#define URL_MAX 2048

static const char accept_header[] =
    "Accept: application/vnd.schemaregistry.v1+json, "
    "application/vnd.schemaregistry+json, application/json";

struct registry {
    char *urls[REGISTRY_MAX_URLS]; /* bases, trimmed */
    size_t nurls;
    size_t current;                /* the one that answered last */
    char *user_info;
    CURL *curl;
    struct curl_slist *get_headers, *post_headers;
    struct sbuf body;
    bool too_large;
    char curl_err[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct registry *r = opaque;
    size_t n = size * nmemb;

    if (r->body.len + n > REGISTRY_MAX_RESPONSE) {
        r->too_large = true;
        return 0; /* aborts the transfer */
    }
    sbuf_add(&r->body, data, n);
    return r->body.oom ? 0 : n;
}

static bool url_well_formed(const char *u)
{
    const char *host;

    if (strncmp(u, "http://", 7) == 0)
        host = u + 7;
    else if (strncmp(u, "https://", 8) == 0)
        host = u + 8;
    else
        return false;
    return *host && *host != '/' && !strpbrk(u, " \t\r\n");
}

void registry_free(struct registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nurls; i++)
        free(r->urls[i]);
    if (r->user_info) {
        memset(r->user_info, 0, strlen(r->user_info));
        free(r->user_info);
    }
    if (r->curl)
        curl_easy_cleanup(r->curl);
    curl_slist_free_all(r->get_headers);
    curl_slist_free_all(r->post_headers);
    sbuf_free(&r->body);
    free(r);
    curl_global_cleanup(); /* pairs with registry_new's init (counted) */
}

struct registry *registry_new(const char *url, const char *user_info, char *errstr,
                              size_t errstr_size)
{
    struct registry *r = NULL;
    char **items = NULL, shown[256];
    size_t n = 0;
    bool ok = false;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        qa_errf(errstr, errstr_size, QA_ERR_IO, "schema registry: cannot initialise libcurl");
        return NULL;
    }
    if (!(r = calloc(1, sizeof(*r)))) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "schema registry: out of memory");
        curl_global_cleanup();
        return NULL;
    }
    if (cfg_split_list(url ? url : "", ',', &items, &n)) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "schema registry: out of memory");
        goto out;
    }
    if (n == 0 || n > REGISTRY_MAX_URLS) {
        qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                "schema registry: expected 1 to %d URLs, got %zu", REGISTRY_MAX_URLS, n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(items[i]);
        if (!url_well_formed(items[i]) || len > URL_MAX / 2) {
            registry_redact_url(items[i], shown, sizeof(shown));
            qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                    "schema registry: \"%s\" is not an http:// or https:// URL", shown);
            goto out;
        }
        while (len > 0 && items[i][len - 1] == '/')
            len--;
        if (!(r->urls[r->nurls] = strndup(items[i], len))) {
            qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "schema registry: out of memory");
            goto out;
        }
        r->nurls++;
    }
    if (user_info && !(r->user_info = strdup(user_info))) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "schema registry: out of memory");
        goto out;
    }
    r->get_headers = curl_slist_append(NULL, accept_header);
    r->post_headers = curl_slist_append(NULL, accept_header);
    if (r->post_headers)
        r->post_headers = curl_slist_append(
            r->post_headers, "Content-Type: application/vnd.schemaregistry.v1+json");
    if (!(r->curl = curl_easy_init()) || !r->get_headers || !r->post_headers) {
        qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "schema registry: out of memory");
        goto out;
    }
    ok = true;
out:
    free(items);
    if (!ok) {
        registry_free(r);
        r = NULL;
    }
    return r;
}

/* One request to one base URL; fills r->body and *status. QA_ERR_IO for a
 * transport failure (the caller may try the next URL). */
static enum qa_err perform(struct registry *r, const char *full_url, const char *post,
                           long *status, char *errstr, size_t errstr_size)
{
    char shown[URL_MAX];
    CURL *c = r->curl;
    CURLcode rc;

    sbuf_reset(&r->body);
    r->body.oom = false;
    r->too_large = false;
    r->curl_err[0] = '\0';
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, full_url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* credentials stay put */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, REGISTRY_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, REGISTRY_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "qalert/" QALERT_VERSION);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    if (r->user_info) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, r->user_info);
    }
    if (post) {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->post_headers);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->get_headers);
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    rc = curl_easy_perform(c);
    registry_redact_url(full_url, shown, sizeof(shown));
    if (r->too_large)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "schema registry %s: answer over %d bytes", shown,
                       REGISTRY_MAX_RESPONSE);
    if (r->body.oom)
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM,
                       "schema registry %s: out of memory", shown);
    if (rc != CURLE_OK)
        return qa_errf(errstr, errstr_size,
                       rc == CURLE_OPERATION_TIMEDOUT ? QA_ERR_TIMEOUT : QA_ERR_IO,
                       "schema registry %s: %s", shown,
                       r->curl_err[0] ? r->curl_err : curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return QA_OK;
}

/* method GET (post NULL) or POST of path (one "%s" for arg) on the first base
 * URL that answers. On QA_OK, r->body holds a 2xx answer. */
static enum qa_err request(struct registry *r, const char *path, const char *arg,
                           const char *post, char *errstr, size_t errstr_size)
{
    char full[URL_MAX], shown[URL_MAX], why[512];
    enum qa_err err = QA_ERR_IO;
    long status = 0;

    for (size_t k = 0; k < r->nurls; k++) {
        size_t i = (r->current + k) % r->nurls;
        if (registry_build_url(r->urls[i], path, arg, full, sizeof(full)))
            return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                           "schema registry: URL longer than %d bytes", URL_MAX);
        err = perform(r, full, post, &status, errstr, errstr_size);
        if (err == QA_ERR_IO || err == QA_ERR_TIMEOUT)
            continue; /* unreachable: the next URL may answer */
        if (err)
            return err;
        r->current = i;
        if (status >= 200 && status < 300)
            return QA_OK;
        registry_redact_url(full, shown, sizeof(shown));
        err = registry_describe_error(status, r->body.p, r->body.len, why, sizeof(why));
        return qa_errf(errstr, errstr_size, err, "schema registry %s %s: %s",
                       post ? "POST" : "GET", shown, why);
    }
    return err;
}

enum qa_err registry_register(struct registry *r, const char *subject,
                              const char *schema_json, uint32_t *id, char *errstr,
                              size_t errstr_size)
{
    cJSON *req = cJSON_CreateObject();
    char *post = NULL, why[256];
    enum qa_err err;

    if (!req || !cJSON_AddStringToObject(req, "schema", schema_json) ||
        !(post = cJSON_PrintUnformatted(req))) {
        err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "schema registry: out of memory");
        goto out;
    }
    err = request(r, "/subjects/%s/versions", subject, post, errstr, errstr_size);
    if (err)
        goto out;
    err = registry_parse_id(r->body.p, r->body.len, id, why, sizeof(why));
    if (err)
        qa_errf(errstr, errstr_size, err, "schema registry, subject %s: %s", subject, why);
out:
    cJSON_free(post);
    cJSON_Delete(req);
    return err;
}

enum qa_err registry_list_versions(struct registry *r, const char *subject, int **versions,
                                   size_t *n, char *errstr, size_t errstr_size)
{
    char why[256];
    enum qa_err err;

    *versions = NULL;
    *n = 0;
    err = request(r, "/subjects/%s/versions", subject, NULL, errstr, errstr_size);
    if (err)
        return err;
    err = registry_parse_versions(r->body.p, r->body.len, versions, n, why, sizeof(why));
    if (err)
        qa_errf(errstr, errstr_size, err, "schema registry, subject %s: %s", subject, why);
    return err;
}

enum qa_err registry_get_version(struct registry *r, const char *subject, int version,
                                 char **schema, uint32_t *id, char *errstr,
                                 size_t errstr_size)
{
    char path[64], why[256];
    enum qa_err err;
    int k;

    *schema = NULL;
    k = snprintf(path, sizeof(path), "/subjects/%%s/versions/%d", version);
    if (k < 0 || (size_t)k >= sizeof(path) || version < 1)
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "schema registry: bad version");
    err = request(r, path, subject, NULL, errstr, errstr_size);
    if (err)
        return err;
    err = registry_parse_schema(r->body.p, r->body.len, schema, id, why, sizeof(why));
    if (err)
        qa_errf(errstr, errstr_size, err, "schema registry, subject %s version %d: %s",
                subject, version, why);
    return err;
}

enum qa_err registry_get_schema(struct registry *r, uint32_t id, char **schema,
                                char *errstr, size_t errstr_size)
{
    char path[64], why[256];
    enum qa_err err;
    int k;

    *schema = NULL;
    k = snprintf(path, sizeof(path), "/schemas/ids/%u", (unsigned)id);
    if (k < 0 || (size_t)k >= sizeof(path))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "schema registry: bad id");
    err = request(r, path, NULL, NULL, errstr, errstr_size);
    if (err)
        return err;
    err = registry_parse_schema(r->body.p, r->body.len, schema, NULL, why, sizeof(why));
    if (err)
        qa_errf(errstr, errstr_size, err, "schema registry, id %u: %s", (unsigned)id, why);
    return err;
}

static const char *compiled_schema(enum codec_record rec)
{
    const char *name = rec == CODEC_ALERT ? "Alert" : "RawEvent";

    for (const struct schema_source *s = schema_sources; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s->json;
    return NULL;
}

/* Registers today's schema of rec under topic's subject, makes writers use
 * its id, then hands every version of the subject to the codec, newest
 * first (the codec's table is bounded; the newest matter most). A version the
 * codec refuses (not ours, or unreadable with today's schema) is logged and
 * skipped: records framed with its id fail to decode rather than the whole
 * binary refusing to start. */
static enum qa_err setup_record(struct registry *r, enum codec_record rec,
                                const char *topic, const char *shown, char *errstr,
                                size_t errstr_size)
{
    const char *json = compiled_schema(rec);
    char subject[512], why[512];
    int *versions = NULL;
    size_t n = 0, usable = 0;
    uint32_t id = 0;
    enum qa_err err;

    if (!json)
        return qa_errf(errstr, errstr_size, QA_ERR_NOT_FOUND,
                       "schema registry: schema of %s not compiled in",
                       rec == CODEC_ALERT ? "qalert.Alert" : "qalert.RawEvent");
    if (registry_subject(topic, subject, sizeof(subject)))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "schema registry: bad topic name for a subject");
    err = registry_register(r, subject, json, &id, errstr, errstr_size);
    if (err)
        return err;
    err = codec_register_schema(rec, json, id, why, sizeof(why));
    if (err)
        return qa_errf(errstr, errstr_size, err, "schema registry %s, subject %s id %u: %s",
                       shown, subject, (unsigned)id, why);
    codec_set_confluent_id(rec, id);
    log_info("schema registered", LOG_S("registry", shown), LOG_S("subject", subject),
             LOG_I("id", id));

    err = registry_list_versions(r, subject, &versions, &n, errstr, errstr_size);
    if (err)
        return err;
    for (size_t i = n; i-- > 0;) {
        char *text = NULL;
        uint32_t vid = 0;
        err = registry_get_version(r, subject, versions[i], &text, &vid, errstr,
                                   errstr_size);
        if (err == QA_ERR_UNSUPPORTED || err == QA_ERR_NOT_FOUND) {
            /* a Protobuf/JSON schema, or deleted meanwhile: not ours to read */
            log_warn("schema version skipped", LOG_S("subject", subject),
                     LOG_I("version", versions[i]), LOG_S("reason", errstr));
            err = QA_OK;
            continue;
        }
        if (err)
            goto out;
        err = codec_register_schema(rec, text, vid, why, sizeof(why));
        free(text);
        if (err == QA_ERR_FULL) {
            log_warn("older schema versions not loaded", LOG_S("subject", subject),
                     LOG_I("from_version", versions[i]), LOG_S("reason", why));
            err = QA_OK;
            break;
        }
        if (err) {
            log_warn("schema version not readable by this build; its records will "
                     "fail to decode", LOG_S("subject", subject),
                     LOG_I("version", versions[i]), LOG_I("id", vid), LOG_S("reason", why));
            err = QA_OK;
            continue;
        }
        usable++;
    }
    log_info("schema versions loaded", LOG_S("subject", subject), LOG_I("versions", n),
             LOG_I("usable", usable));
out:
    free(versions);
    return err;
}

/* Registers the password (of the setting and of a URL's user info) with the
 * logger, so no message can carry it. */
static void protect_credentials(const char *url, const char *user_info)
{
    const char *colon = user_info ? strchr(user_info, ':') : NULL;
    char *copy, *save = NULL;

    if (colon)
        log_add_secret(colon + 1);
    if (!url || !(copy = strdup(url)))
        return;
    for (char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
        char *host = strstr(u, "://");
        char *end, *at = NULL, *pw;
        if (!host)
            continue;
        host += 3;
        end = host + strcspn(host, "/?#");
        for (char *p = host; p < end; p++)
            if (*p == '@')
                at = p;
        if (!at)
            continue;
        *at = '\0';
        log_add_secret(host); /* "user:password" as written */
        if ((pw = strchr(host, ':')))
            log_add_secret(pw + 1);
    }
    free(copy);
}

enum qa_err registry_setup(const struct cfg *cfg, char *errstr, size_t errstr_size)
{
    const char *url = cfg_str(cfg, "schema-registry-url");
    const char *user_info = cfg_str(cfg, "schema-registry-user-info");
    struct registry *r = NULL;
    char shown[512];
    enum qa_err err;

    if (!url)
        return QA_OK;
    protect_credentials(url, user_info);
    if (user_info && !strchr(user_info, ':'))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "QALERT_SCHEMA_REGISTRY_USER_INFO (--schema-registry-user-info): "
                       "expected user:password");
    if (!(r = registry_new(url, user_info, errstr, errstr_size))) {
        char why[512];
        snprintf(why, sizeof(why), "%s", errstr ? errstr : "");
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                       "QALERT_SCHEMA_REGISTRY_URL (--schema-registry-url): %s", why);
    }
    registry_redact_url(url, shown, sizeof(shown));
    err = setup_record(r, CODEC_RAW_EVENT, cfg_str(cfg, "topic-raw"), shown, errstr,
                       errstr_size);
    if (!err)
        err = setup_record(r, CODEC_ALERT, cfg_str(cfg, "topic-alerts"), shown, errstr,
                           errstr_size);
    /* The settings were fine; what failed is the registry or its answers. */
    if (err == QA_ERR_INVALID)
        err = QA_ERR_IO;
    registry_free(r);
    return err;
}
