/*
 * err.c — names and formatting for enum qa_err.
 */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *qa_err_name(enum qa_err err)
{
    switch (err) {
    case QA_OK: return "ok";
    case QA_ERR_INVALID: return "invalid";
    case QA_ERR_NOMEM: return "nomem";
    case QA_ERR_IO: return "io";
    case QA_ERR_KAFKA: return "kafka";
    case QA_ERR_TIMEOUT: return "timeout";
    case QA_ERR_NOT_FOUND: return "not_found";
    case QA_ERR_UNSUPPORTED: return "unsupported";
    case QA_ERR_FULL: return "full";
    }
    return "unknown";
}

enum qa_err qa_errf(char *errstr, size_t errstr_size, enum qa_err err,
                    const char *fmt, ...)
{
    va_list ap;

    if (errstr && errstr_size > 0) {
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return err;
}
