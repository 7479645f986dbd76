/*
 * support.c — see support.h.
 */
#include "support/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char *ts_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0)
        goto out;
    buf = malloc((size_t)size + 1);
    if (!buf)
        goto out;
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[size] = '\0';
    if (len)
        *len = (size_t)size;
out:
    fclose(f);
    return buf;
}

const char *ts_env(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

char *ts_fixture(const char *name, size_t *len)
{
    char path[4096];
    char *buf;

    snprintf(path, sizeof(path), "%s/%s",
             ts_env("QALERT_FIXTURES", "tests/fixtures"), name);
    buf = ts_read_file(path, len);
    if (!buf) {
        fprintf(stderr, "fixture missing: %s\n", path);
        abort();
    }
    return buf;
}

const char *ts_unique(const char *prefix)
{
    static char bufs[8][128];
    static unsigned counter;
    char *b = bufs[counter % 8];
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(b, sizeof(bufs[0]), "%s-%d-%u-%lld", prefix, (int)getpid(),
             counter++, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    return b;
}

int ts_no_broker(void)
{
    return strcmp(ts_env("QALERT_TEST_NO_BROKER", "0"), "1") == 0;
}

uint64_t ts_rand(void)
{
    static uint64_t state = 0x9E3779B97F4A7C15ULL;

    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}
