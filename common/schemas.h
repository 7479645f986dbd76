/*
 * schemas.h — the schemas/<name>.avsc files, compiled in by
 * cmake/embed_schemas.cmake (generated/schemas_gen.c).
 */
#ifndef QALERT_SCHEMAS_H
#define QALERT_SCHEMAS_H

struct schema_source {
    const char *name; /* file name without .avsc: "RawEvent", "Alert" */
    const char *json;
};

/* Ends with { NULL, NULL }. */
extern const struct schema_source schema_sources[];

#endif
