/*
 * sla_policy_swap.c — see sla_policy_swap.h. The engine reads its policy
 * only through e->policy at the moment it needs a value (policy_lookup at
 * acd.start, at a sample, at an evaluation, at an alert), and each waiting
 * conversation carries its own threshold_ms, so swapping the pointer is the
 * whole change. It must never touch the engine's state or timers.
 */
#include "processor/sla_policy_swap.h"

#include "processor/sla_internal.h"

void sla_engine_set_policy(struct sla_engine *e, const struct policy *p)
{
    e->policy = p;
}

const struct policy *sla_engine_policy(const struct sla_engine *e)
{
    return e->policy;
}
