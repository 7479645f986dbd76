/*
 * test_jarena.c — cJSON's allocations from a caller's buffer: a parse is
 * served from it, what does not fit goes to malloc, frees of arena memory
 * cost nothing, and outside begin..end (or on another thread) cJSON uses
 * malloc and free as before. Under ASan a leak or a free() of arena memory
 * fails the run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ingest/jarena.h"

static const char *event =
    "{\"eventType\":\"conversation.waiting\",\"conversationId\":\"c-1\","
    "\"queueId\":\"q-1\",\"queueName\":\"Billing\",\"mediaType\":\"voice\","
    "\"waitTime\":1234,\"sla\":20000,\"metadata\":{\"CorrelationId\":\"x\"}}";

static void a_parse_is_served_from_the_buffer(void **state)
{
    static uint8_t buf[8192];
    struct jarena a;
    cJSON *j;
    (void)state;

    jarena_begin(&a, buf, sizeof(buf));
    j = cJSON_Parse(event);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "queueName")->valuestring, "Billing");
    cJSON_Delete(j);
    jarena_end(&a);
    assert_true(a.allocs >= 10);
    assert_int_equal(a.fallbacks, 0);
    assert_true(a.used <= a.cap);
    /* every allocation inside the buffer: nothing was given past it */
    assert_true(a.used > 0);
}

static void what_does_not_fit_goes_to_malloc(void **state)
{
    uint8_t small[256];
    struct jarena a;
    char *big = malloc(200 * 1024);
    size_t n = 0;
    cJSON *j;
    (void)state;

    assert_non_null(big);
    n += (size_t)snprintf(big + n, 200 * 1024 - n, "[");
    for (int i = 0; i < 500; i++)
        n += (size_t)snprintf(big + n, 200 * 1024 - n, "%s%s", i ? "," : "", event);
    snprintf(big + n, 200 * 1024 - n, "]");
    jarena_begin(&a, small, sizeof(small));
    j = cJSON_Parse(big);
    assert_non_null(j);
    assert_int_equal(cJSON_GetArraySize(j), 500);
    cJSON_Delete(j); /* mixed arena and malloc memory: each freed its way */
    jarena_end(&a);
    assert_true(a.allocs > 0);
    assert_true(a.fallbacks > 1000);
    free(big);
}

static void outside_the_arena_cjson_uses_malloc(void **state)
{
    uint8_t buf[4096];
    struct jarena a;
    cJSON *kept, *j;
    char *text;
    (void)state;

    /* made before begin, freed inside: free() as usual */
    kept = cJSON_Parse(event);
    assert_non_null(kept);
    jarena_begin(&a, buf, sizeof(buf));
    cJSON_Delete(kept);
    jarena_end(&a);
    assert_int_equal(a.allocs, 0);

    /* after end: malloc'd, so it outlives the buffer */
    j = cJSON_Parse(event);
    assert_non_null(j);
    memset(buf, 0xAB, sizeof(buf));
    text = cJSON_PrintUnformatted(j);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"queueId\":\"q-1\""));
    cJSON_free(text);
    cJSON_Delete(j);
}

static void *other_thread(void *arg)
{
    cJSON *j = cJSON_Parse(event);
    (void)arg;
    if (!j)
        return (void *)1;
    cJSON_Delete(j);
    return NULL;
}

static void another_thread_is_not_served(void **state)
{
    uint8_t buf[4096];
    struct jarena a;
    pthread_t t;
    void *r = (void *)1;
    (void)state;

    jarena_begin(&a, buf, sizeof(buf));
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    assert_int_equal(pthread_join(t, &r), 0);
    jarena_end(&a);
    assert_null(r);
    assert_int_equal(a.allocs, 0);
    assert_int_equal(a.fallbacks, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_parse_is_served_from_the_buffer),
        cmocka_unit_test(what_does_not_fit_goes_to_malloc),
        cmocka_unit_test(outside_the_arena_cjson_uses_malloc),
        cmocka_unit_test(another_thread_is_not_served),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
