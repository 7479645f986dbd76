/*
 * clock.h — the two clocks qalert reads. Pure modules never call these: they
 * take time as an argument so that tests and replays control it.
 */
#ifndef QALERT_CLOCK_H
#define QALERT_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock, ms since the Unix epoch. */
int64_t clock_wall_ms(void);
/* Monotonic clock, ms from an arbitrary origin (timeouts, durations). */
int64_t clock_mono_ms(void);
/* Formats epoch ms as "2025-11-23T08:00:45.200Z" (needs 25 bytes). */
void clock_format_iso8601(int64_t ms, char *buf, size_t n);
/* Parses ISO 8601 UTC ("2025-11-23T08:00:45Z", fractional seconds and a
 * "+hh:mm"/"Z" offset allowed) into epoch ms. Returns 0, or -1 when bad. */
int clock_parse_iso8601(const char *s, int64_t *ms);

#endif
