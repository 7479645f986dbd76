/*
 * sla_policy_swap.h — points a live SLA engine at another policy (a SIGHUP
 * reload of QALERT_SLA_POLICY_FILE) without rebuilding its state.
 *
 * What changes and what does not:
 *   - a conversation already waiting keeps the threshold it started with:
 *     it was fixed at its acd.start (and is in the changelog with it), so a
 *     reload neither fires nor cancels a breach that was already promised,
 *     and a restart after the reload gives the same alerts as no restart;
 *   - conversations that start from now on get the new threshold;
 *   - service-level samples are judged "within" with the threshold at their
 *     acd.end, and the window is compared with the new target at its next
 *     evaluation; queue names and priorities of new alerts come from the new
 *     policy.
 * Kept apart from sla.c so that the engine's event logic stays untouched.
 */
#ifndef QALERT_SLA_POLICY_SWAP_H
#define QALERT_SLA_POLICY_SWAP_H

#include "processor/policy.h"
#include "processor/sla.h"

/* The engine borrows p from now on (it must outlive the engine or the next
 * swap); the previous policy is no longer referenced once this returns. */
void sla_engine_set_policy(struct sla_engine *e, const struct policy *p);

/* The policy the engine uses now. */
const struct policy *sla_engine_policy(const struct sla_engine *e);

#endif
