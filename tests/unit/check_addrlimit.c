/*
 * Unit tests for daemon/addrlimit.c: counts per address key against a cap
 * per key and a cap in all, release forgets an empty key, unpooled
 * connections (cluster members') count per key but not in all and are
 * never picked for eviction, and the eviction candidate is the address
 * holding the most only while that is fairer than refusing.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "addrlimit.h"
#include "unit.h"

static void	 take(struct addrlimit *, const char *, int, int);
static void	 most_is(const struct addrlimit *, const char *, const char *,
		    int);
static Suite	*addrlimit_suite(void);

/* Take times connections of key, pooled or not. */
static void
take(struct addrlimit *al, const char *key, int pooled, int times)
{
	while (times-- > 0)
		addrlimit_take(al, key, pooled);
}

/* addrlimit_most for key must pick want holding n, or nothing (NULL). */
static void
most_is(const struct addrlimit *al, const char *key, const char *want, int n)
{
	const char	*got;
	int		 gotn = -1;

	got = addrlimit_most(al, key, &gotn);
	if (want == NULL) {
		ck_assert_ptr_null(got);
		return;
	}
	ck_assert_str_eq(got, want);
	ck_assert_int_eq(gotn, n);
}

/* Each key counts alone up to its cap; release brings it down again. */
START_TEST(test_per_address)
{
	struct addrlimit	*al;
	int			 i;

	al = addrlimit_new(3, 100);
	ck_assert_int_eq(addrlimit_count(al, "192.0.2.1"), 0);
	for (i = 0; i < 3; i++) {
		ck_assert(!addrlimit_addr_full(al, "192.0.2.1"));
		addrlimit_take(al, "192.0.2.1", 1);
	}
	ck_assert(addrlimit_addr_full(al, "192.0.2.1"));
	ck_assert(!addrlimit_addr_full(al, "192.0.2.2"));
	ck_assert_int_eq(addrlimit_count(al, "192.0.2.1"), 3);
	ck_assert_int_eq(addrlimit_total(al), 3);
	addrlimit_release(al, "192.0.2.1", 1);
	ck_assert(!addrlimit_addr_full(al, "192.0.2.1"));
	ck_assert_int_eq(addrlimit_count(al, "192.0.2.1"), 2);
	ck_assert_int_eq(addrlimit_total(al), 2);
	addrlimit_free(al);
}
END_TEST

/* The cap in all counts pooled connections of every key; it can change. */
START_TEST(test_global)
{
	struct addrlimit	*al;

	al = addrlimit_new(8, 4);
	ck_assert_int_eq(addrlimit_cap(al), 4);
	addrlimit_take(al, "a", 1);
	addrlimit_take(al, "b", 1);
	addrlimit_take(al, "c", 1);
	ck_assert(!addrlimit_full(al));
	addrlimit_take(al, "c", 1);
	ck_assert(addrlimit_full(al));
	addrlimit_set_cap(al, 5);
	ck_assert_int_eq(addrlimit_cap(al), 5);
	ck_assert(!addrlimit_full(al));
	addrlimit_set_cap(al, 2);
	ck_assert(addrlimit_full(al));
	addrlimit_free(al);
}
END_TEST

/* Unpooled connections count per key only, and are never evicted. */
START_TEST(test_unpooled)
{
	struct addrlimit	*al;

	al = addrlimit_new(8, 2);
	take(al, "member", 0, 3);
	ck_assert_int_eq(addrlimit_count(al, "member"), 3);
	ck_assert_int_eq(addrlimit_total(al), 0);
	ck_assert(!addrlimit_full(al));
	most_is(al, "other", NULL, 0);
	take(al, "x", 1, 2);
	ck_assert(addrlimit_full(al));
	most_is(al, "other", "x", 2);
	addrlimit_release(al, "member", 0);
	ck_assert_int_eq(addrlimit_total(al), 2);
	ck_assert_int_eq(addrlimit_count(al, "member"), 2);
	addrlimit_free(al);
}
END_TEST

/*
 * Eviction: the address holding the most (the first of equals), and
 * only if it holds more than the newcomer's address would with one more.
 */
START_TEST(test_most)
{
	struct addrlimit	*al;
	int			 i;

	al = addrlimit_new(32, 6);
	most_is(al, "new", NULL, 0);
	for (i = 0; i < 3; i++) {
		addrlimit_take(al, "a", 1);
		addrlimit_take(al, "b", 1);
	}
	ck_assert(addrlimit_full(al));
	/* a and b hold 3 each: a was first. */
	most_is(al, "new", "a", 3);
	addrlimit_release(al, "a", 1);
	most_is(al, "new", "b", 3);
	/* b itself, or an address that would then hold as many: refuse. */
	most_is(al, "b", NULL, 0);
	most_is(al, "a", NULL, 0);
	/* c with 1 would hold 2 of b's 3: b gives one up for it. */
	addrlimit_take(al, "c", 1);
	most_is(al, "c", "b", 3);
	addrlimit_take(al, "c", 1);
	most_is(al, "c", NULL, 0);
	most_is(al, "d", "b", 3);
	addrlimit_free(al);
}
END_TEST

/* An emptied key is forgotten; unknown keys and a NULL table are no-ops. */
START_TEST(test_release)
{
	struct addrlimit	*al;

	addrlimit_release(NULL, "a", 1);
	addrlimit_free(NULL);
	al = addrlimit_new(4, 4);
	addrlimit_release(al, "nobody", 1);
	ck_assert_int_eq(addrlimit_total(al), 0);
	take(al, "a", 1, 2);
	addrlimit_take(al, "b", 1);
	addrlimit_release(al, "a", 1);
	addrlimit_release(al, "a", 1);
	ck_assert_int_eq(addrlimit_count(al, "a"), 0);
	ck_assert_int_eq(addrlimit_total(al), 1);
	/* a is gone, not an entry at 0 that could still be picked. */
	take(al, "c", 1, 2);
	most_is(al, "a", "c", 2);
	take(al, "a", 1, 3);
	/* Now a (taken again) holds the most, but comes after c. */
	most_is(al, "a", NULL, 0);
	most_is(al, "z", "a", 3);
	addrlimit_free(al);
}
END_TEST

/* The suite. */
static Suite *
addrlimit_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("addrlimit");
	tc = tcase_create("counts");
	tcase_add_test(tc, test_per_address);
	tcase_add_test(tc, test_global);
	tcase_add_test(tc, test_unpooled);
	tcase_add_test(tc, test_most);
	tcase_add_test(tc, test_release);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status counts failures. */
int
main(void)
{
	return (unit_run(addrlimit_suite()));
}
