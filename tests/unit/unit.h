/*
 * The runner every Check unit test's main() shares (tests/unit/unit.c).
 */
#ifndef UNIT_H
#define UNIT_H

#include <check.h>

/* Run every test of s (the runner frees s): the exit status for main. */
int	 unit_run(Suite *);

#endif /* UNIT_H */
