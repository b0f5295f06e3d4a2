/*
 * What the bench programs (xmppload, floordrive) share: a monotonic clock,
 * a process's CPU time from /proc and percentiles.
 */
#ifndef BENCHUTIL_H
#define BENCHUTIL_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic nanoseconds. */
uint64_t	 benchutil_now_ns(void);
/* CPU seconds (user + system) of a process, all its threads, or -1. */
double		 benchutil_proc_cpu(pid_t);
/* qsort order of uint32_t. */
int		 benchutil_cmp_u32(const void *, const void *);
/* The q-quantile (nearest rank) of a sorted array, or 0 if empty. */
double		 benchutil_pct_u32(const uint32_t *, size_t, double);

#endif /* BENCHUTIL_H */
