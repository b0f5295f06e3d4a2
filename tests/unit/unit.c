/*
 * The suite runner of the Check unit tests (unit.h): each test's main()
 * sets up what it needs and hands its suite here.
 */
#include <check.h>
#include <stdlib.h>

#include "unit.h"

/* Run every test of s, print Check's summary, free the runner and s. */
int
unit_run(Suite *s)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
