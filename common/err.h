/*
 * err.h — the error codes every qalert function that can fail returns.
 *
 * Functions return an enum qa_err and fill the caller's (errstr, errstr_size)
 * with one human line, as librdkafka does. QA_OK is 0 so `if (err)` reads.
 */
#ifndef QALERT_ERR_H
#define QALERT_ERR_H

#include <stddef.h>

enum qa_err {
    QA_OK = 0,
    QA_ERR_INVALID,     /* bad input: malformed bytes, bad setting, bad argument */
    QA_ERR_NOMEM,
    QA_ERR_IO,          /* file, socket, HTTP transport */
    QA_ERR_KAFKA,       /* librdkafka reported an error */
    QA_ERR_TIMEOUT,
    QA_ERR_NOT_FOUND,
    QA_ERR_UNSUPPORTED, /* well-formed but not something we handle (unknown schema) */
    QA_ERR_FULL,        /* a bounded queue or table is full */
};

/* A short stable name ("invalid", "nomem", ...) for logs. */
const char *qa_err_name(enum qa_err err);

/* snprintf into an error buffer; tolerates errstr == NULL or size 0.
 * Returns err, so `return qa_errf(errstr, n, QA_ERR_INVALID, "...")` reads. */
enum qa_err qa_errf(char *errstr, size_t errstr_size, enum qa_err err,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
