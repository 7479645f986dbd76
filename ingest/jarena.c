/*
 * jarena.c — cJSON's allocations from a per-call buffer (see jarena.h).
 */
#include "jarena.h"

#include <pthread.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#if defined(__SANITIZE_ADDRESS__)
#define JARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JARENA_ASAN 1
#endif
#endif

#ifdef JARENA_ASAN
#include <sanitizer/asan_interface.h>
#define GAP 16 /* poisoned bytes after each allocation */
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define GAP 0
#endif

#define ALIGN 16

static _Thread_local struct jarena *current;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static int owns(const struct jarena *a, const void *p)
{
    uintptr_t u = (uintptr_t)p, b = (uintptr_t)a->base;
    return u >= b && u < b + a->cap;
}

static void *arena_malloc(size_t n)
{
    struct jarena *a = current;

    if (a) {
        size_t need = (n + GAP + ALIGN - 1) & ~(size_t)(ALIGN - 1);
        if (n && need >= n && need <= a->cap - a->used) { /* need < n: it wrapped */
            void *p = a->base + a->used;
            a->used += need;
            a->allocs++;
            ASAN_UNPOISON_MEMORY_REGION(p, n);
            return p;
        }
        a->fallbacks++;
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    struct jarena *a = current;

    if (a && owns(a, p))
        return; /* the whole buffer is given back at jarena_end */
    free(p);
}

static void install_hooks(void)
{
    cJSON_Hooks h = { arena_malloc, arena_free };
    cJSON_InitHooks(&h);
}

void jarena_begin(struct jarena *a, void *buf, size_t cap)
{
    pthread_once(&hooks_once, install_hooks);
    /* the buffer's start aligned, so every allocation is */
    uintptr_t b = ((uintptr_t)buf + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    size_t skip = (size_t)(b - (uintptr_t)buf);

    a->base = (uint8_t *)b;
    a->cap = cap > skip ? cap - skip : 0;
    a->used = a->allocs = a->fallbacks = 0;
    ASAN_POISON_MEMORY_REGION(a->base, a->cap);
    current = a;
}

void jarena_end(struct jarena *a)
{
    if (current == a)
        current = NULL;
    /* the caller's again, and maybe its stack frame: no poison may stay */
    ASAN_UNPOISON_MEMORY_REGION(a->base, a->cap);
}
