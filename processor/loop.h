/*
 * loop.h — the processor's exactly-once consume-transform-produce loop.
 *
 * Raw events in, alerts and state changes out, input offsets committed in the
 * same Kafka transaction (the pattern of librdkafka's examples/transactions.c
 * with KIP-447 consumer group metadata). One SLA engine per assigned raw
 * partition; its state is restored from the state topic before the partition
 * is consumed. Abortable errors abort, rewind to the committed offsets and
 * restore state again; fatal errors return QA_ERR_KAFKA (the binary exits 1).
 * It never commits an input offset whose alerts and state are not in the
 * same committed transaction.
 */
#ifndef QALERT_PROCESSOR_LOOP_H
#define QALERT_PROCESSOR_LOOP_H

#include <signal.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"
#include "policy.h"
#include "sla.h"

struct proc;

struct proc_options {
    const char *topic_raw;
    const char *topic_alerts;
    const char *topic_state;
    const char *group_id;
    const char *transactional_id;
    int partitions;          /* for topics it creates */
    int64_t idle_advance_ms; /* QALERT_IDLE_ADVANCE_MS */
    int commit_interval_ms;  /* how long a transaction gathers work */
    int restore_timeout_ms;
    int shutdown_timeout_ms;
    const struct policy *policy;
    struct sla_options sla;
    /* Called on the loop's thread after each poll (never inside a librdkafka
     * callback), e.g. to reload the policy on SIGHUP; NULL for none. */
    void (*on_tick)(struct proc *p, void *opaque);
    void *tick_opaque;
};

/* Creates the consumer, the transactional producer (init_transactions fences
 * an earlier instance with the same transactional id) and the topics that
 * are missing. NULL with errstr. Free with proc_free(). */
struct proc *proc_new(const struct cfg *cfg, const struct proc_options *opts,
                      char *errstr, size_t errstr_size);

/* Runs until *stop becomes non-zero, then commits what is in flight and
 * leaves the group. QA_OK on a clean stop. */
enum qa_err proc_run(struct proc *p, volatile sig_atomic_t *stop, char *errstr,
                     size_t errstr_size);

/* admin_ready_fn: ready once partitions are assigned and restored. */
int proc_ready(void *opaque, char *why, size_t why_size);

/* Points every engine, and those created later (assignment, rewind), at np.
 * Returns the previous policy, which nothing refers to any more: the caller
 * may free it. Call only from on_tick (the loop's thread). Waiting
 * conversations keep their threshold (processor/sla_policy_swap.h). */
const struct policy *proc_swap_policy(struct proc *p, const struct policy *np);

void proc_free(struct proc *p);

#endif
