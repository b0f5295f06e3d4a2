/*
 * Unit tests for common/log.c's ring and sink: the ring keeps at most
 * LOG_RING_LINES lines and LOG_RING_BYTES bytes, oldest first; function
 * names go only with -v; the sink sees each line once and what it logs
 * itself does not come back to it.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "unit.h"

static Suite	*logring_suite(void);
static void	 sink(int, const struct timespec *, const char *,
		    const char *);

static int	 sunk;
static char	 lastmsg[256];

/* Count the lines; log one of its own, which must not come back. */
static void
sink(int pri, const struct timespec *ts, const char *msg, const char *line)
{
	(void)pri;
	(void)ts;
	(void)line;
	sunk++;
	snprintf(lastmsg, sizeof(lastmsg), "%s", msg);
	log_info("sink_itself: logged from the sink");
}

/* Lines past LOG_RING_LINES push the oldest out. */
START_TEST(test_lines)
{
	int	 i;

	log_init("t", 1, 0);
	log_ring_init(sink);
	sunk = 0;
	for (i = 0; i < LOG_RING_LINES + 10; i++)
		log_info("test_lines: line %d", i);
	ck_assert_uint_eq(log_ring_count(), LOG_RING_LINES);
	/* The sink's own lines reach neither the ring nor the sink. */
	ck_assert_int_eq(sunk, LOG_RING_LINES + 10);
	ck_assert_ptr_nonnull(strstr(log_ring_line(LOG_RING_LINES - 1),
	    "t: line 1009"));
	ck_assert_ptr_nonnull(strstr(log_ring_line(0), "t: line 10"));
	for (i = 0; i < LOG_RING_LINES; i++)
		ck_assert_ptr_null(strstr(log_ring_line(i), "from the sink"));
	ck_assert_ptr_null(log_ring_line(LOG_RING_LINES));
	log_ring_free();
}
END_TEST

/* Long lines are bounded by bytes before lines. */
START_TEST(test_bytes)
{
	char	 big[3000];
	size_t	 i, n, total = 0;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_init("t", 1, 0);
	log_ring_init(NULL);
	for (i = 0; i < 500; i++)
		log_info("%s", big);
	n = log_ring_count();
	ck_assert_uint_lt(n, 500);
	for (i = 0; i < n; i++)
		total += strlen(log_ring_line(i)) + 1;
	ck_assert_uint_le(total, LOG_RING_BYTES);
	ck_assert_uint_gt(total, LOG_RING_BYTES - 4096);
	log_ring_free();
}
END_TEST

/* "function_name: " goes without -v and stays with it; words stay. */
START_TEST(test_prefix)
{
	log_init("t", 1, 0);
	log_ring_init(sink);
	log_info("cluster_poll: leader in term %d", 4);
	ck_assert_str_eq(lastmsg, "leader in term 4");
	log_info("audit: user %s ran", "root");
	ck_assert_str_eq(lastmsg, "audit: user root ran");
	log_info("%s: not a prefix", "x_y");
	ck_assert_str_eq(lastmsg, "x_y: not a prefix");
	log_setverbose(1);
	log_info("cluster_poll: leader in term %d", 5);
	ck_assert_str_eq(lastmsg, "cluster_poll: leader in term 5");
	log_setverbose(0);
	/* The ring line: time, program name, message. */
	ck_assert_ptr_nonnull(strstr(log_ring_line(0), "Z t: leader in "
	    "term 4"));
	ck_assert_int_eq(log_ring_line(0)[4], '-');
	ck_assert_int_eq(log_ring_line(0)[10], 'T');
	log_ring_free();
}
END_TEST

/* The suite. */
static Suite *
logring_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("logring");
	tc = tcase_create("ring");
	tcase_add_test(tc, test_lines);
	tcase_add_test(tc, test_bytes);
	tcase_add_test(tc, test_prefix);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status counts failures. */
int
main(void)
{
	/* The lines logged here are for the ring, not the terminal. */
	if (freopen("/dev/null", "w", stderr) == NULL)
		return (EXIT_FAILURE);
	return (unit_run(logring_suite()));
}
