/*
 * Clock, /proc and percentile helpers the bench programs share (benchutil.h).
 */
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

/* Monotonic nanoseconds. */
uint64_t
benchutil_now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

/* CPU seconds of a process, all its threads, from /proc/pid/stat. */
double
benchutil_proc_cpu(pid_t pid)
{
	char			 path[64], buf[2048], *p;
	unsigned long long	 ut, st;
	FILE			*f;
	size_t			 n;

	if (pid <= 0)
		return (-1);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields follow its last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return (-1);
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu", &ut, &st) != 2)
		return (-1);
	return ((double)(ut + st) / sysconf(_SC_CLK_TCK));
}

/* The q-quantile (nearest rank) of a sorted array, or 0 if empty. */
double
benchutil_pct_u32(const uint32_t *v, size_t n, double q)
{
	size_t	 k;

	if (n == 0)
		return (0);
	k = (size_t)(q * n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (v[k - 1]);
}

/* qsort order of uint32_t. */
int
benchutil_cmp_u32(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}
