/*
 * recognise.h — turns one HTTP request body into qalert raw events (SPEC §4).
 *
 * Pure: no I/O, no clock (the received time is an argument), so the fuzzer,
 * the unit tests and the server all run the very same code. It decides what
 * a body IS (flat webhook event, queue statistics, Genesys notification,
 * EventBridge envelope, some other Genesys event) and keeps each event's
 * original bytes untouched for the raw topic.
 *
 * It must never trust the body: UTF-8 and nesting depth are checked on the
 * raw bytes before cJSON sees them, every field we use is type-checked, and
 * every string is copied with a length bound.
 */
#ifndef QALERT_INGEST_RECOGNISE_H
#define QALERT_INGEST_RECOGNISE_H

#include <stddef.h>
#include <stdint.h>

#include "common/codec.h"
#include "common/err.h"

/* Deeper bodies are refused before any recursive parser runs. */
#define RECOGNISE_MAX_DEPTH 32
/* Events in one batch; more is a client bug, not a burst worth buffering. */
#define RECOGNISE_MAX_BATCH 10000
/* Longest string field we copy (ids, names, topic names). */
#define RECOGNISE_MAX_FIELD 1024

enum recognise_endpoint {
    RECOGNISE_GENESYS,     /* POST /v1/events/genesys: object or array */
    RECOGNISE_EVENTBRIDGE, /* POST /v1/events/eventbridge: envelope(s) */
};

enum recognise_code {
    RECOGNISE_OK = 0,
    RECOGNISE_INVALID_JSON,  /* not JSON, truncated, bad UTF-8, too deep */
    RECOGNISE_INVALID_EVENT, /* JSON, but not an event we accept */
};

struct recognise_batch {
    struct raw_event *events; /* nevents entries, in body order */
    size_t nevents;
};

/*
 * Recognises body[0..len). On success returns QA_OK and fills *out; the
 * caller releases it with recognise_batch_clear(). On a refused body returns
 * QA_ERR_INVALID, sets *code and writes a one-line message for the client in
 * errstr (naming the batch index and field where it can; never echoing more
 * than a short excerpt of the body). QA_ERR_NOMEM on allocation failure.
 */
enum qa_err recognise_body(const void *body, size_t len,
                           enum recognise_endpoint endpoint, int64_t received_ms,
                           struct recognise_batch *out,
                           enum recognise_code *code, char *errstr,
                           size_t errstr_size);

/* Frees every event and its members (codec_raw_event_clear() frees one);
 * safe on a zeroed batch. */
void recognise_batch_clear(struct recognise_batch *b);

/* "invalid_json", "invalid_event" (the HTTP error codes), "ok". */
const char *recognise_code_name(enum recognise_code code);

/* The endpoint's name for metrics labels: "genesys", "eventbridge". */
const char *recognise_endpoint_name(enum recognise_endpoint endpoint);

#endif
