/*
 * sla_state.c — the SLA engine's state as changelog entries: drain what
 * changed, restore a fresh engine from the latest entry per key.
 *
 * Keys: "wm", "seenb:<block>" (seen ids, a block per drain: sla_seen.c),
 * "conv:<conversationId>", "alert:<groupingKey>", "slw:<groupingKey>", and,
 * read and tombstoned but no longer written, "seen:<eventId>". Values: a
 * version byte (1), then a compact binary record (zigzag varints,
 * length-prefixed strings, little-endian doubles). Values come back from
 * Kafka, so they are decoded as hostile bytes: every length is checked and
 * an unreadable entry is refused, never half-applied.
 */
#include "processor/sla_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/sbuf.h"
#include "common/wire.h"

#define SLA_STATE_VERSION 1

static void put_u8(struct sbuf *b, uint8_t v)
{
    sbuf_add(b, &v, 1);
}

void sla_put_i64(struct sbuf *b, int64_t v)
{
    uint8_t tmp[WIRE_ZIGZAG_MAX];
    sbuf_add(b, tmp, wire_put_zigzag(tmp, v));
}

static void put_f64(struct sbuf *b, double d)
{
    uint8_t tmp[8];
    wire_put_f64le(tmp, d);
    sbuf_add(b, tmp, 8);
}

/* length + 1, so that 0 means NULL */
void sla_put_str(struct sbuf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    sla_put_i64(b, s ? (int64_t)n + 1 : 0);
    if (s)
        sbuf_add(b, s, n);
}

static uint8_t get_u8(struct sla_rbuf *b)
{
    if (b->fail || b->off >= b->n) {
        b->fail = true;
        return 0;
    }
    return b->p[b->off++];
}

int64_t sla_get_i64(struct sla_rbuf *b)
{
    uint64_t z = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t c = get_u8(b);
        z |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    }
    b->fail = true;
    return 0;
}

static double get_f64(struct sla_rbuf *b)
{
    uint64_t u = 0;
    double d;

    for (int i = 0; i < 8; i++)
        u |= (uint64_t)get_u8(b) << (8 * i);
    memcpy(&d, &u, sizeof(d));
    return d;
}

/* malloc'd (caller frees) or NULL; *ok false on a bad length, an embedded
 * NUL, or no memory. */
static char *get_str(struct sla_rbuf *b, bool *ok)
{
    int64_t n = sla_get_i64(b);
    char *s;

    if (b->fail || n < 0 || (uint64_t)(n - (n > 0)) > b->n - b->off) {
        *ok = false;
        return NULL;
    }
    if (n == 0)
        return NULL;
    n--;
    if (memchr(b->p + b->off, '\0', (size_t)n) || !(s = malloc((size_t)n + 1))) {
        *ok = false;
        return NULL;
    }
    memcpy(s, b->p + b->off, (size_t)n);
    s[n] = '\0';
    b->off += (size_t)n;
    return s;
}

static void encode_conv(struct sbuf *b, const struct sla_conv *c)
{
    put_u8(b, c->ended);
    if (c->ended) {
        sla_put_i64(b, c->ended_at);
        return;
    }
    sla_put_str(b, c->queue_id);
    sla_put_str(b, c->media);
    sla_put_i64(b, c->start_ms);
    sla_put_i64(b, c->threshold_ms);
    put_u8(b, c->breached);
    sla_put_str(b, c->start_event_id);
}

static void encode_alert(struct sbuf *b, const struct sla_alert_state *st)
{
    put_u8(b, (uint8_t)st->alarm);
    sla_put_str(b, st->queue_id);
    sla_put_str(b, st->queue_name);
    sla_put_str(b, st->media);
    sla_put_str(b, st->conversation_id);
    sla_put_i64(b, st->first_seen);
    sla_put_i64(b, st->last_seen);
    sla_put_i64(b, st->count);
    sla_put_i64(b, st->last_at);
    sla_put_i64(b, st->wait_ms);
    sla_put_i64(b, st->threshold_ms);
    sla_put_i64(b, st->samples);
    put_f64(b, st->service_level);
    put_f64(b, st->target);
    sla_put_i64(b, st->breaching);
    sla_put_i64(b, st->flat_until);
    put_u8(b, (uint8_t)(st->sl_low | (st->qs_low << 1)));
}

static void encode_window(struct sbuf *b, const struct sla_window *w)
{
    sla_put_str(b, w->queue_id);
    sla_put_str(b, w->media);
    sla_put_i64(b, (int64_t)w->n);
    for (size_t i = 0; i < w->n; i++) {
        sla_put_i64(b, w->s[i].t);
        put_u8(b, w->s[i].within);
    }
}

/* Encodes the current value of a state key into b; false: a tombstone. */
static bool encode_key(const struct sla_engine *e, const char *key, struct sbuf *b)
{
    const void *v;

    put_u8(b, SLA_STATE_VERSION);
    if (strcmp(key, "wm") == 0) {
        sla_put_i64(b, e->wm);
        return true;
    }
    if (strncmp(key, "seen", 4) == 0)
        return sla_seen_encode(e, key, b);
    if (strncmp(key, "conv:", 5) == 0 && ((v = sla_map_get(&e->waiting, key + 5)) ||
                                         (v = sla_map_get(&e->ended, key + 5)))) {
        encode_conv(b, v);
        return true;
    }
    if (strncmp(key, "alert:", 6) == 0 && (v = sla_map_get(&e->alerts, key + 6))) {
        encode_alert(b, v);
        return true;
    }
    if (strncmp(key, "slw:", 4) == 0 && (v = sla_map_get(&e->windows, key + 4))) {
        encode_window(b, v);
        return true;
    }
    return false;
}

enum qa_err sla_engine_drain_changes(struct sla_engine *e, sla_change_fn fn, void *opaque,
                                     char *errstr, size_t errstr_size)
{
    struct sbuf b;
    enum qa_err err = QA_OK;

    sbuf_init(&b);
    sla_seen_close_block(e);
    while (e->dirty.head) {
        const char *key = e->dirty.head->key;
        bool live;
        sbuf_reset(&b);
        live = encode_key(e, key, &b);
        if (b.oom) {
            err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "sla: out of memory encoding state");
            goto out;
        }
        if ((err = fn(key, strlen(key), live ? b.p : NULL, live ? b.len : 0, opaque))) {
            qa_errf(errstr, errstr_size, err, "sla: the changelog writer refused %s", key);
            goto out;
        }
        sla_map_remove_entry(&e->dirty, e->dirty.head);
    }
out:
    sbuf_free(&b);
    return err;
}

static struct sla_conv *decode_conv(struct sla_rbuf *b)
{
    struct sla_conv *c = calloc(1, sizeof(*c));
    bool ok = true;

    if (!c)
        return NULL;
    c->ended = get_u8(b) != 0;
    if (c->ended) {
        c->ended_at = sla_get_i64(b);
        ok = SLA_TIME_OK(c->ended_at);
    } else {
        c->queue_id = get_str(b, &ok);
        c->media = get_str(b, &ok);
        c->start_ms = sla_get_i64(b);
        c->threshold_ms = sla_get_i64(b);
        c->breached = get_u8(b) != 0;
        c->start_event_id = get_str(b, &ok);
        ok = ok && c->queue_id && SLA_TIME_OK(c->start_ms) && c->threshold_ms > 0 &&
             c->threshold_ms <= SLA_MAX_TIME;
    }
    if (!ok || b->fail) {
        sla_conv_free(c);
        return NULL;
    }
    return c;
}

static struct sla_alert_state *decode_alert(struct sla_rbuf *b)
{
    struct sla_alert_state *st = calloc(1, sizeof(*st));
    bool ok = true;
    uint8_t flags;

    if (!st)
        return NULL;
    st->alarm = (enum policy_alarm)get_u8(b);
    st->queue_id = get_str(b, &ok);
    st->queue_name = get_str(b, &ok);
    st->media = get_str(b, &ok);
    st->conversation_id = get_str(b, &ok);
    st->first_seen = sla_get_i64(b);
    st->last_seen = sla_get_i64(b);
    st->count = sla_get_i64(b);
    st->last_at = sla_get_i64(b);
    st->wait_ms = sla_get_i64(b);
    st->threshold_ms = sla_get_i64(b);
    st->samples = sla_get_i64(b);
    st->service_level = get_f64(b);
    st->target = get_f64(b);
    st->breaching = sla_get_i64(b);
    st->flat_until = sla_get_i64(b);
    flags = get_u8(b);
    st->sl_low = flags & 1;
    st->qs_low = (flags >> 1) & 1;
    if (!ok || b->fail || !st->queue_id || st->alarm >= POLICY_NALARMS || st->breaching < 0 ||
        (st->flat_until != SLA_NONE && !SLA_TIME_OK(st->flat_until))) {
        sla_alert_state_free(st);
        return NULL;
    }
    return st;
}

static struct sla_window *decode_window(struct sla_rbuf *b)
{
    struct sla_window *w = calloc(1, sizeof(*w));
    bool ok = true;
    int64_t n;

    if (!w)
        return NULL;
    w->queue_id = get_str(b, &ok);
    w->media = get_str(b, &ok);
    n = sla_get_i64(b);
    /* each sample takes at least 2 bytes: a count beyond that is a lie */
    if (!ok || b->fail || !w->queue_id || n < 0 || (uint64_t)n > (b->n - b->off) / 2)
        goto bad;
    if (n > 0 && !(w->s = malloc((size_t)n * sizeof(*w->s))))
        goto bad;
    w->cap = (size_t)n;
    for (; w->n < (size_t)n; w->n++) {
        w->s[w->n].t = sla_get_i64(b);
        w->s[w->n].within = get_u8(b) != 0;
        if (!SLA_TIME_OK(w->s[w->n].t) || (w->n > 0 && w->s[w->n].t < w->s[w->n - 1].t))
            goto bad;
    }
    if (b->fail)
        goto bad;
    return w;
bad:
    sla_window_free(w);
    return NULL;
}

/* Replaces (or with value NULL deletes) the entry for id in map. */
static enum qa_err set_entry(struct sla_map *m, const char *id, void *value,
                             void (*free_value)(void *))
{
    struct sla_map_entry *en = sla_map_find(m, id);

    if (en)
        free_value(sla_map_remove_entry(m, en));
    return value ? sla_map_put(m, id, value) : QA_OK;
}

enum qa_err sla_engine_restore(struct sla_engine *e, const void *key, size_t klen,
                               const void *value, size_t vlen, char *errstr,
                               size_t errstr_size)
{
    struct sla_rbuf b = { value, vlen, 0, false };
    char *k = NULL;
    const char *id;
    void *v = NULL;
    enum qa_err err = QA_OK;

    e->restoring = true;
    if (!key || klen == 0 || klen > 65536 || memchr(key, '\0', klen))
        return qa_errf(errstr, errstr_size, QA_ERR_INVALID, "sla state: bad key");
    if (!(k = malloc(klen + 1)))
        return qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
    memcpy(k, key, klen);
    k[klen] = '\0';
    if (value && get_u8(&b) != SLA_STATE_VERSION) {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID,
                      "sla state %s: unknown value version", k);
        goto out;
    }
    if (strcmp(k, "wm") == 0) {
        int64_t wm = value ? sla_get_i64(&b) : SLA_NONE;
        if (b.fail || (wm != SLA_NONE && !SLA_TIME_OK(wm)))
            goto bad;
        e->wm = wm;
    } else if (strncmp(k, "seen:", 5) == 0 && k[5]) {
        id = k + 5;
        if (value) {
            struct sla_seen *s = malloc(sizeof(*s));
            if (!s)
                goto nomem;
            s->at = sla_get_i64(&b);
            s->block = SLA_SEEN_LEGACY;
            v = s;
            if (b.fail || !SLA_TIME_OK(s->at))
                goto bad;
        }
        if ((err = set_entry(&e->seen, id, v, free))) {
            free(v);
            goto nomem;
        }
    } else if (strncmp(k, "seenb:", 6) == 0) {
        err = sla_seen_restore_block(e, k + 6, &b, !value);
        if (err == QA_ERR_INVALID)
            goto bad;
        if (err)
            goto nomem;
    } else if (strncmp(k, "conv:", 5) == 0 && k[5]) {
        struct sla_conv *c = NULL;
        id = k + 5;
        if (value && !(v = c = decode_conv(&b)))
            goto bad;
        sla_conv_free(sla_map_remove(&e->waiting, id));
        sla_conv_free(sla_map_remove(&e->ended, id));
        if (c && (err = sla_map_put(c->ended ? &e->ended : &e->waiting, id, c))) {
            sla_conv_free(c);
            goto nomem;
        }
    } else if (strncmp(k, "alert:", 6) == 0 && k[6]) {
        if (value && !(v = decode_alert(&b)))
            goto bad;
        if ((err = set_entry(&e->alerts, k + 6, v, sla_alert_state_free))) {
            sla_alert_state_free(v);
            goto nomem;
        }
    } else if (strncmp(k, "slw:", 4) == 0 && k[4]) {
        if (value && !(v = decode_window(&b)))
            goto bad;
        if ((err = set_entry(&e->windows, k + 4, v, sla_window_free))) {
            sla_window_free(v);
            goto nomem;
        }
    } else {
        err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "sla state: unknown key %.64s", k);
    }
    goto out;
bad:
    free(v); /* decoders free their own half-built records and return NULL */
    err = qa_errf(errstr, errstr_size, QA_ERR_INVALID, "sla state %.64s: unreadable value", k);
    goto out;
nomem:
    err = qa_errf(errstr, errstr_size, QA_ERR_NOMEM, "out of memory");
out:
    free(k);
    return err;
}

static int cmp_i64_key(int64_t a, int64_t b, const struct sla_map_entry *ea,
                       const struct sla_map_entry *eb)
{
    if (a != b)
        return a < b ? -1 : 1;
    return strcmp(ea->key, eb->key);
}

#define ENTRY(x) (*(struct sla_map_entry *const *)(x))

static int cmp_ended(const void *a, const void *b)
{
    return cmp_i64_key(((struct sla_conv *)ENTRY(a)->value)->ended_at,
                       ((struct sla_conv *)ENTRY(b)->value)->ended_at, ENTRY(a), ENTRY(b));
}

static int cmp_waiting(const void *a, const void *b)
{
    return cmp_i64_key(((struct sla_conv *)ENTRY(a)->value)->start_ms,
                       ((struct sla_conv *)ENTRY(b)->value)->start_ms, ENTRY(a), ENTRY(b));
}

static int cmp_alert(const void *a, const void *b)
{
    return cmp_i64_key(((struct sla_alert_state *)ENTRY(a)->value)->first_seen,
                       ((struct sla_alert_state *)ENTRY(b)->value)->first_seen, ENTRY(a),
                       ENTRY(b));
}

static int64_t window_oldest(const struct sla_map_entry *en)
{
    const struct sla_window *w = en->value;
    return w->n ? w->s[0].t : SLA_NONE;
}

static int cmp_window(const void *a, const void *b)
{
    return cmp_i64_key(window_oldest(ENTRY(a)), window_oldest(ENTRY(b)), ENTRY(a), ENTRY(b));
}

enum qa_err sla_engine_restore_finish(struct sla_engine *e, char *errstr, size_t errstr_size)
{
    enum qa_err err = QA_OK;
    struct sla_map_entry *en;

    e->restoring = false;
    sla_map_clear(&e->dirty, NULL);
    sla_heap_clear(&e->timers);
    /* insertion order is eviction order: oldest first, as the writer had it
     * (up to ties, but for seen ids) */
    if ((err = sla_seen_restore_finish(e)) || (err = sla_map_sort(&e->ended, cmp_ended)) ||
        (err = sla_map_sort(&e->waiting, cmp_waiting)) ||
        (err = sla_map_sort(&e->alerts, cmp_alert)) ||
        (err = sla_map_sort(&e->windows, cmp_window)))
        goto out;
    /* timers are not state: each is implied by an entry */
    for (en = e->waiting.head; en && !err; en = en->next) {
        const struct sla_conv *c = en->value;
        if (!c->breached)
            err = sla_heap_push(&e->timers, c->start_ms + c->threshold_ms, SLA_T_BREACH, en->key);
    }
    for (en = e->alerts.head; en && !err; en = en->next) {
        const struct sla_alert_state *st = en->value;
        if (st->flat_until != SLA_NONE)
            err = sla_heap_push(&e->timers, st->flat_until, SLA_T_FLAT, en->key);
    }
    for (en = e->windows.head; en && !err; en = en->next) {
        const struct sla_window *w = en->value;
        for (size_t i = 0; i < w->n && !err; i++)
            if (i == 0 || w->s[i].t != w->s[i - 1].t)
                err = sla_heap_push(&e->timers, w->s[i].t + e->o.sl_window_ms,
                                    SLA_T_SL_EXPIRE, en->key);
    }
out:
    if (err)
        qa_errf(errstr, errstr_size, err, "sla: out of memory rebuilding state");
    return err;
}
