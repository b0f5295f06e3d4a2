/*
 * Unit tests for the attribute words of the pki commands: pki/pki_attr.c.
 * Unless a test says otherwise the mask is the one of pki csr:
 * PKI_ATTR_SUBJECT | PKI_ATTR_SAN | PKI_ATTR_KEY. Every parse, good or
 * bad, ends in pki_attrs_clear, so a leak shows under LSan.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"
#include "unit.h"

#define CSR		(PKI_ATTR_SUBJECT | PKI_ATTR_SAN | PKI_ATTR_KEY)
#define SELFSIGNED	(CSR | PKI_ATTR_DAYS)
#define CAMAKE		(PKI_ATTR_SUBJECT | PKI_ATTR_KEY | PKI_ATTR_DAYS)
#define MAXWORDS	16

static int	 parsev(int, struct pki_attrs *, char **, char *, size_t,
		    va_list);
static void	 parse_ok(int, struct pki_attrs *, ...);
static void	 parse_fail(int, const char *, ...);
static void	 attrs_done(struct pki_attrs *);
static int	 attrs_zero(const struct pki_attrs *);
static char	*san_list(int, int);
static Suite	*pki_attr_suite(void);

/*
 * Parse the NULL-terminated words in ap; the words, joined by blanks, go
 * to show for messages.
 */
static int
parsev(int allowed, struct pki_attrs *a, char **cause, char *show,
    size_t showsz, va_list ap)
{
	const char	*argv[MAXWORDS];
	const char	*w;
	int		 argc = 0;

	show[0] = '\0';
	while ((w = va_arg(ap, const char *)) != NULL) {
		ck_assert_int_lt(argc, MAXWORDS);
		argv[argc++] = w;
		if (argc > 1)
			strlcat(show, " ", showsz);
		strlcat(show, w, showsz);
	}
	*cause = NULL;
	return (pki_attrs_parse(argc, argv, allowed, a, cause));
}

/* The words must parse; the caller looks at *a and calls attrs_done. */
static void
parse_ok(int allowed, struct pki_attrs *a, ...)
{
	va_list	 ap;
	char	*cause, show[4096];
	int	 rc;

	va_start(ap, a);
	rc = parsev(allowed, a, &cause, show, sizeof(show), ap);
	va_end(ap);
	ck_assert_msg(rc == 0, "[%s] refused: %s", show,
	    cause == NULL ? "(no cause)" : cause);
	ck_assert_msg(cause == NULL, "[%s] set a cause on success", show);
}

/* The words must be refused with a cause holding want; all is freed. */
static void
parse_fail(int allowed, const char *want, ...)
{
	struct pki_attrs	 a;
	va_list			 ap;
	char			*cause, show[4096];
	int			 rc;

	va_start(ap, want);
	rc = parsev(allowed, &a, &cause, show, sizeof(show), ap);
	va_end(ap);
	ck_assert_msg(rc == -1, "[%s] accepted", show);
	ck_assert_msg(cause != NULL, "[%s] refused without a cause", show);
	ck_assert_msg(strstr(cause, want) != NULL,
	    "[%s]: cause '%s' does not hold '%s'", show, cause, want);
	attrs_done(&a);
	free(cause);
}

/* Clear *a and check that nothing is left in it. */
static void
attrs_done(struct pki_attrs *a)
{
	pki_attrs_clear(a);
	ck_assert_msg(attrs_zero(a), "pki_attrs_clear left the struct dirty");
}

/* Whether every byte of *a is zero. */
static int
attrs_zero(const struct pki_attrs *a)
{
	static const struct pki_attrs	 zero;

	return (memcmp(a, &zero, sizeof(zero)) == 0);
}

/*
 * "subjectAltName:h<first>.example.com,..." with n names; the caller
 * frees.
 */
static char *
san_list(int first, int n)
{
	char	*s, one[32];
	size_t	 sz;
	int	 i;

	sz = sizeof("subjectAltName:") + (size_t)n * 32;
	s = malloc(sz);
	ck_assert_ptr_nonnull(s);
	strlcpy(s, "subjectAltName:", sz);
	for (i = 0; i < n; i++) {
		snprintf(one, sizeof(one), "%sh%d.example.com",
		    i == 0 ? "" : ",", first + i);
		strlcat(s, one, sz);
	}
	return (s);
}

/* Every subject attribute lands in its field; the defaults hold. */
START_TEST(test_subject_all)
{
	struct pki_attrs	 a;

	parse_ok(CSR, &a, "CN:xmpp.example.com", "OU:Voice", "O:Example",
	    "L:Zurich", "ST:ZH", "C:CH", NULL);
	ck_assert_str_eq(a.cn, "xmpp.example.com");
	ck_assert_str_eq(a.ou, "Voice");
	ck_assert_str_eq(a.o, "Example");
	ck_assert_str_eq(a.l, "Zurich");
	ck_assert_str_eq(a.st, "ZH");
	ck_assert_str_eq(a.c, "CH");
	ck_assert_int_eq(a.key, PKI_KEY_RSA2048);
	ck_assert_int_eq(a.days, 365);
	ck_assert_int_eq(a.nsan, 1);
	ck_assert_int_eq(a.cn_added, 1);
	ck_assert_str_eq(a.san[0].value, "xmpp.example.com");
	ck_assert_int_eq(a.san[0].ip, 0);
	attrs_done(&a);

	/* CN alone: the rest stays NULL. */
	parse_ok(CSR, &a, "CN:x.example.com", NULL);
	ck_assert_str_eq(a.cn, "x.example.com");
	ck_assert_ptr_null(a.ou);
	ck_assert_ptr_null(a.o);
	ck_assert_ptr_null(a.l);
	ck_assert_ptr_null(a.st);
	ck_assert_ptr_null(a.c);
	attrs_done(&a);

	/* The order of the words does not matter. */
	parse_ok(CSR, &a, "key:ec256", "subjectAltName:b.example.com",
	    "O:Example", "CN:a.example.com", NULL);
	ck_assert_str_eq(a.cn, "a.example.com");
	ck_assert_str_eq(a.o, "Example");
	ck_assert_int_eq(a.key, PKI_KEY_EC256);
	ck_assert_int_eq(a.nsan, 2);
	ck_assert_str_eq(a.san[0].value, "a.example.com");
	ck_assert_str_eq(a.san[1].value, "b.example.com");
	attrs_done(&a);
}
END_TEST

/* Attribute names are matched without regard to case. */
START_TEST(test_names_case)
{
	struct pki_attrs	 a;

	parse_ok(CSR, &a, "cn:x.example.com", "ou:Voice", "o:Example",
	    "l:Bern", "st:BE", "c:ch", "SUBJECTALTNAME:y.example.com",
	    "KEY:EC384", NULL);
	ck_assert_str_eq(a.cn, "x.example.com");
	ck_assert_str_eq(a.ou, "Voice");
	ck_assert_str_eq(a.o, "Example");
	ck_assert_str_eq(a.l, "Bern");
	ck_assert_str_eq(a.st, "BE");
	ck_assert_str_eq(a.c, "CH");
	ck_assert_int_eq(a.key, PKI_KEY_EC384);
	ck_assert_int_eq(a.nsan, 2);
	ck_assert_str_eq(a.san[0].value, "x.example.com");
	ck_assert_str_eq(a.san[1].value, "y.example.com");
	attrs_done(&a);

	parse_ok(SELFSIGNED, &a, "Cn:x.example.com", "SubjectAltName:y.com",
	    "DAYS:10", NULL);
	ck_assert_int_eq(a.days, 10);
	ck_assert_int_eq(a.nsan, 2);
	attrs_done(&a);

	/* The values of subject attributes keep their case. */
	parse_ok(CSR, &a, "CN:Mixed Case", "O:eXample", NULL);
	ck_assert_str_eq(a.cn, "Mixed Case");
	ck_assert_str_eq(a.o, "eXample");
	attrs_done(&a);
}
END_TEST

/* Each key type parses, and pki_keytype_name gives its name back. */
START_TEST(test_key_types)
{
	static const struct {
		const char		*word;
		const char		*name;
		enum pki_keytype	 type;
	} t[] = {
		{ "key:rsa2048", "rsa2048", PKI_KEY_RSA2048 },
		{ "key:rsa3072", "rsa3072", PKI_KEY_RSA3072 },
		{ "key:rsa4096", "rsa4096", PKI_KEY_RSA4096 },
		{ "key:ec256", "ec256", PKI_KEY_EC256 },
		{ "key:ec384", "ec384", PKI_KEY_EC384 },
	};
	struct pki_attrs	 a;
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		parse_ok(CSR, &a, "CN:x.example.com", t[i].word, NULL);
		ck_assert_int_eq(a.key, t[i].type);
		ck_assert_str_eq(pki_keytype_name(a.key), t[i].name);
		attrs_done(&a);
	}
	ck_assert_str_eq(pki_keytype_name((enum pki_keytype)99), "unknown");

	/* Quoted and in capitals is the same key. */
	parse_ok(CSR, &a, "CN:x", "key:\"RSA4096\"", NULL);
	ck_assert_int_eq(a.key, PKI_KEY_RSA4096);
	attrs_done(&a);

	parse_fail(CSR, "unknown key type 'dsa'; possible: rsa2048, "
	    "rsa3072, rsa4096, ec256, ec384", "CN:x", "key:dsa", NULL);
	parse_fail(CSR, "unknown key type ''", "CN:x", "key:", NULL);
	parse_fail(CSR, "unknown key type 'rsa'", "CN:x", "key:rsa", NULL);
	parse_fail(CSR, "unknown key type 'ec256 '", "CN:x", "key:ec256 ",
	    NULL);
	parse_fail(PKI_ATTR_SUBJECT | PKI_ATTR_SAN, "unknown attribute 'key'",
	    "CN:x", "key:ec256", NULL);
}
END_TEST

/* days:<n> with PKI_ATTR_DAYS: 1 to 36500. */
START_TEST(test_days)
{
	struct pki_attrs	 a;

	parse_ok(SELFSIGNED, &a, "CN:x", "days:1", NULL);
	ck_assert_int_eq(a.days, 1);
	attrs_done(&a);
	parse_ok(SELFSIGNED, &a, "CN:x", "days:36500", NULL);
	ck_assert_int_eq(a.days, 36500);
	attrs_done(&a);
	parse_ok(SELFSIGNED, &a, "CN:x", "days:'90'", NULL);
	ck_assert_int_eq(a.days, 90);
	attrs_done(&a);
	/* Leading zeroes are digits like the others. */
	parse_ok(SELFSIGNED, &a, "CN:x", "days:00030", NULL);
	ck_assert_int_eq(a.days, 30);
	attrs_done(&a);

	parse_fail(SELFSIGNED, "days must be a number from 1 to 36500, "
	    "not '0'", "CN:x", "days:0", NULL);
	parse_fail(SELFSIGNED, "not '36501'", "CN:x", "days:36501", NULL);
	parse_fail(SELFSIGNED, "not 'abc'", "CN:x", "days:abc", NULL);
	parse_fail(SELFSIGNED, "not '-1'", "CN:x", "days:-1", NULL);
	parse_fail(SELFSIGNED, "not '+1'", "CN:x", "days:+1", NULL);
	parse_fail(SELFSIGNED, "not ''", "CN:x", "days:", NULL);
	parse_fail(SELFSIGNED, "not '99999'", "CN:x", "days:99999", NULL);
	parse_fail(SELFSIGNED, "not '000001'", "CN:x", "days:000001", NULL);
	parse_fail(SELFSIGNED, "not '4294967297'", "CN:x",
	    "days:4294967297", NULL);
	parse_fail(SELFSIGNED, "not '30 '", "CN:x", "days:30 ", NULL);
	parse_fail(SELFSIGNED, "not '1e3'", "CN:x", "days:1e3", NULL);
}
END_TEST

/* Without PKI_ATTR_DAYS, days is an unknown attribute; the cause lists. */
START_TEST(test_days_refused)
{
	parse_fail(CSR, "unknown attribute 'days'; possible: CN, OU, O, L, "
	    "ST, C, subjectAltName, key", "CN:x", "days:30", NULL);
	parse_fail(CSR, "unknown attribute 'DAYS'", "CN:x", "DAYS:30", NULL);
	/* With it, the list names days too. */
	parse_fail(SELFSIGNED, "unknown attribute 'foo'; possible: CN, OU, "
	    "O, L, ST, C, subjectAltName, key, days", "CN:x", "foo:1", NULL);
	parse_fail(CAMAKE, "unknown attribute 'subjectAltName'; possible: "
	    "CN, OU, O, L, ST, C, key, days", "CN:x", "subjectAltName:a.com",
	    NULL);
}
END_TEST

/* 365 days when subjectAltName is allowed, 3650 (a CA) otherwise. */
START_TEST(test_days_default)
{
	struct pki_attrs	 a;

	parse_ok(CSR, &a, "CN:x", NULL);
	ck_assert_int_eq(a.days, 365);
	attrs_done(&a);
	parse_ok(SELFSIGNED, &a, "CN:x", NULL);
	ck_assert_int_eq(a.days, 365);
	attrs_done(&a);
	parse_ok(CAMAKE, &a, "CN:Example CA", NULL);
	ck_assert_int_eq(a.days, 3650);
	ck_assert_int_eq(a.key, PKI_KEY_RSA2048);
	attrs_done(&a);
	parse_ok(PKI_ATTR_DAYS, &a, NULL);
	ck_assert_int_eq(a.days, 3650);
	attrs_done(&a);
}
END_TEST

/* One pair of matching quotes around a value goes; anything else stays. */
START_TEST(test_quotes)
{
	struct pki_attrs	 a;

	parse_ok(CSR, &a, "CN:x", "O:\"Example Inc\"", NULL);
	ck_assert_str_eq(a.o, "Example Inc");
	attrs_done(&a);
	parse_ok(CSR, &a, "CN:x", "O:'Example Inc'", NULL);
	ck_assert_str_eq(a.o, "Example Inc");
	attrs_done(&a);
	/* As the shell's splitter hands over O:Example Inc. */
	parse_ok(CSR, &a, "CN:x", "O:Example Inc", NULL);
	ck_assert_str_eq(a.o, "Example Inc");
	attrs_done(&a);
	/* Unbalanced or mismatched quotes are kept literally. */
	parse_ok(CSR, &a, "CN:x", "O:\"abc", NULL);
	ck_assert_str_eq(a.o, "\"abc");
	attrs_done(&a);
	parse_ok(CSR, &a, "CN:x", "O:abc'", NULL);
	ck_assert_str_eq(a.o, "abc'");
	attrs_done(&a);
	parse_ok(CSR, &a, "CN:x", "O:'abc\"", NULL);
	ck_assert_str_eq(a.o, "'abc\"");
	attrs_done(&a);
	parse_ok(CSR, &a, "CN:x", "O:\"", NULL);
	ck_assert_str_eq(a.o, "\"");
	attrs_done(&a);
	/* Only the outer pair goes. */
	parse_ok(CSR, &a, "CN:x", "O:\"'a'\"", NULL);
	ck_assert_str_eq(a.o, "'a'");
	attrs_done(&a);
	parse_ok(CSR, &a, "CN:x", "O:\"\"a\"\"", NULL);
	ck_assert_str_eq(a.o, "\"a\"");
	attrs_done(&a);
	/* A quoted CN that is a DNS name still goes to the SANs. */
	parse_ok(CSR, &a, "CN:\"x.example.com\"",
	    "subjectAltName:'a.example.com,b.example.com'", NULL);
	ck_assert_str_eq(a.cn, "x.example.com");
	ck_assert_int_eq(a.nsan, 3);
	ck_assert_str_eq(a.san[0].value, "x.example.com");
	ck_assert_str_eq(a.san[2].value, "b.example.com");
	attrs_done(&a);
	/* A colon in the value belongs to the value. */
	parse_ok(CSR, &a, "CN:x", "OU:a:b", NULL);
	ck_assert_str_eq(a.ou, "a:b");
	attrs_done(&a);
	/* Quotes around nothing leave nothing. */
	parse_fail(CSR, "O is empty", "CN:x", "O:\"\"", NULL);
	parse_fail(CSR, "CN is empty", "CN:''", NULL);
}
END_TEST

/* A name given twice is refused, whatever its case. */
START_TEST(test_twice)
{
	parse_fail(CSR, "CN given twice", "CN:a", "CN:b", NULL);
	parse_fail(CSR, "CN given twice", "CN:a", "cn:a", NULL);
	parse_fail(CSR, "OU given twice", "CN:x", "OU:a", "OU:b", NULL);
	parse_fail(CSR, "O given twice", "CN:x", "O:a", "o:b", NULL);
	parse_fail(CSR, "L given twice", "CN:x", "L:a", "L:b", NULL);
	parse_fail(CSR, "ST given twice", "CN:x", "ST:a", "ST:b", NULL);
	parse_fail(CSR, "C given twice", "CN:x", "C:DE", "C:DE", NULL);
	parse_fail(CSR, "subjectAltName given twice; list every name in "
	    "one, comma-separated", "CN:x", "subjectAltName:a.com",
	    "subjectAltName:b.com", NULL);
	parse_fail(CSR, "subjectAltName given twice", "CN:x",
	    "subjectAltName:a.com", "SUBJECTALTNAME:a.com", NULL);
	parse_fail(CSR, "key given twice", "CN:x", "key:ec256", "key:ec256",
	    NULL);
	parse_fail(CSR, "key given twice", "CN:x", "key:ec256", "KEY:rsa2048",
	    NULL);
	parse_fail(SELFSIGNED, "days given twice", "CN:x", "days:1",
	    "days:2", NULL);
	parse_fail(PKI_ATTR_DAYS, "days given twice", "days:1", "Days:1",
	    NULL);
	/* The second word is refused even when the first one was bad. */
	parse_fail(CSR, "subjectAltName given twice", "CN:x",
	    "subjectAltName:a.com", "subjectAltName:", NULL);
	parse_fail(CSR, "CN given twice", "CN:x", "CN:", NULL);
}
END_TEST

/* Empty values and empty list entries. */
START_TEST(test_empty)
{
	parse_fail(CSR, "CN is empty", "CN:", NULL);
	parse_fail(CSR, "OU is empty", "CN:x", "OU:", NULL);
	parse_fail(CSR, "O is empty", "CN:x", "O:", NULL);
	parse_fail(CSR, "L is empty", "CN:x", "L:", NULL);
	parse_fail(CSR, "ST is empty", "CN:x", "ST:", NULL);
	parse_fail(CSR, "C is empty", "CN:x", "C:", NULL);
	parse_fail(CSR, "subjectAltName is empty", "CN:x", "subjectAltName:",
	    NULL);
	parse_fail(CSR, "subjectAltName has an empty entry", "CN:x",
	    "subjectAltName:a.com,,b.com", NULL);
	parse_fail(CSR, "subjectAltName has an empty entry", "CN:x",
	    "subjectAltName:a.com,", NULL);
	parse_fail(CSR, "subjectAltName has an empty entry", "CN:x",
	    "subjectAltName:,a.com", NULL);
	parse_fail(CSR, "subjectAltName has an empty entry", "CN:x",
	    "subjectAltName:a.com, ,b.com", NULL);
	parse_fail(CSR, "subjectAltName has an empty entry", "CN:x",
	    "subjectAltName:DNS:", NULL);
	parse_fail(CSR, "subjectAltName has an empty entry", "CN:x",
	    "subjectAltName:a.com,IP:", NULL);
	parse_fail(CSR, "subjectAltName has an empty entry", "CN:x",
	    "subjectAltName:,", NULL);
}
END_TEST

/* With PKI_ATTR_SUBJECT a CN is required. */
START_TEST(test_cn_required)
{
	parse_fail(CSR, "CN:<value> is required", NULL);
	parse_fail(CSR, "CN:<value> is required", "O:Example",
	    "subjectAltName:a.example.com", "key:ec256", NULL);
	parse_fail(CAMAKE, "CN:<value> is required", "days:10", NULL);
	parse_fail(PKI_ATTR_SUBJECT | PKI_ATTR_CN_ONLY,
	    "CN:<value> is required", NULL);
}
END_TEST

/* A DNS-name CN missing from the SANs goes first in the list. */
START_TEST(test_cn_added)
{
	struct pki_attrs	 a;

	parse_ok(CSR, &a, "CN:xmpp.example.com",
	    "subjectAltName:a.example.com,b.example.com", NULL);
	ck_assert_int_eq(a.nsan, 3);
	ck_assert_int_eq(a.cn_added, 1);
	ck_assert_str_eq(a.san[0].value, "xmpp.example.com");
	ck_assert_int_eq(a.san[0].ip, 0);
	ck_assert_str_eq(a.san[1].value, "a.example.com");
	ck_assert_str_eq(a.san[2].value, "b.example.com");
	/* The SAN copy is its own allocation. */
	ck_assert_ptr_ne(a.san[0].value, a.cn);
	attrs_done(&a);

	/* A wildcard CN is a DNS name too. */
	parse_ok(CSR, &a, "CN:*.example.com", NULL);
	ck_assert_int_eq(a.nsan, 1);
	ck_assert_int_eq(a.cn_added, 1);
	ck_assert_str_eq(a.san[0].value, "*.example.com");
	attrs_done(&a);

	/* A single-label name counts. */
	parse_ok(CSR, &a, "CN:localhost", NULL);
	ck_assert_int_eq(a.nsan, 1);
	ck_assert_int_eq(a.cn_added, 1);
	ck_assert_str_eq(a.san[0].value, "localhost");
	attrs_done(&a);
}
END_TEST

/* A CN already among the SANs, in any case, is not added again. */
START_TEST(test_cn_present)
{
	struct pki_attrs	 a;

	parse_ok(CSR, &a, "CN:X.example.com", "subjectAltName:x.example.com",
	    NULL);
	ck_assert_int_eq(a.nsan, 1);
	ck_assert_int_eq(a.cn_added, 0);
	ck_assert_str_eq(a.san[0].value, "x.example.com");
	ck_assert_str_eq(a.cn, "X.example.com");
	attrs_done(&a);

	/* Not first in the list: the order stays as given. */
	parse_ok(CSR, &a, "CN:x.example.com",
	    "subjectAltName:a.example.com,DNS:X.EXAMPLE.COM", NULL);
	ck_assert_int_eq(a.nsan, 2);
	ck_assert_int_eq(a.cn_added, 0);
	ck_assert_str_eq(a.san[0].value, "a.example.com");
	ck_assert_str_eq(a.san[1].value, "X.EXAMPLE.COM");
	attrs_done(&a);

	parse_ok(CSR, &a, "CN:192.0.2.1", "subjectAltName:IP:192.0.2.1",
	    NULL);
	ck_assert_int_eq(a.nsan, 1);
	ck_assert_int_eq(a.cn_added, 0);
	ck_assert_int_eq(a.san[0].ip, 1);
	attrs_done(&a);
}
END_TEST

/* A CN that is no DNS name nor address stays out of the SANs. */
START_TEST(test_cn_not_dns)
{
	struct pki_attrs	 a;

	parse_ok(CSR, &a, "CN:My Server", NULL);
	ck_assert_str_eq(a.cn, "My Server");
	ck_assert_int_eq(a.nsan, 0);
	ck_assert_int_eq(a.cn_added, 0);
	attrs_done(&a);

	parse_ok(CSR, &a, "CN:My Server", "subjectAltName:a.example.com",
	    NULL);
	ck_assert_int_eq(a.nsan, 1);
	ck_assert_int_eq(a.cn_added, 0);
	ck_assert_str_eq(a.san[0].value, "a.example.com");
	attrs_done(&a);

	parse_ok(CSR, &a, "CN:a_b.example.com", NULL);
	ck_assert_int_eq(a.nsan, 0);
	ck_assert_int_eq(a.cn_added, 0);
	attrs_done(&a);

	/* Without PKI_ATTR_SAN nothing is added either (a CA). */
	parse_ok(CAMAKE, &a, "CN:ca.example.com", NULL);
	ck_assert_int_eq(a.nsan, 0);
	ck_assert_int_eq(a.cn_added, 0);
	attrs_done(&a);
}
END_TEST

/* An IP address CN goes to the SANs as an address. */
START_TEST(test_cn_ip)
{
	struct pki_attrs	 a;

	parse_ok(CSR, &a, "CN:192.0.2.1", NULL);
	ck_assert_int_eq(a.nsan, 1);
	ck_assert_int_eq(a.cn_added, 1);
	ck_assert_int_eq(a.san[0].ip, 1);
	ck_assert_str_eq(a.san[0].value, "192.0.2.1");
	attrs_done(&a);

	parse_ok(CSR, &a, "CN:2001:db8::1", "subjectAltName:a.example.com",
	    NULL);
	ck_assert_str_eq(a.cn, "2001:db8::1");
	ck_assert_int_eq(a.nsan, 2);
	ck_assert_int_eq(a.cn_added, 1);
	ck_assert_int_eq(a.san[0].ip, 1);
	ck_assert_str_eq(a.san[0].value, "2001:db8::1");
	ck_assert_int_eq(a.san[1].ip, 0);
	attrs_done(&a);
}
END_TEST

/* SAN entries are typed by what they look like; prefixes are accepted. */
START_TEST(test_san_types)
{
	struct pki_attrs	 a;

	parse_ok(CSR, &a, "CN:My Server", "subjectAltName:a.example.com,"
	    "192.0.2.1,2001:db8::1,DNS:b.example.com,IP:10.0.0.1,"
	    "dns:c.example.com,ip:::1, d.example.com,::ffff:192.0.2.2", NULL);
	ck_assert_int_eq(a.nsan, 9);
	ck_assert_int_eq(a.cn_added, 0);
	ck_assert_str_eq(a.san[0].value, "a.example.com");
	ck_assert_int_eq(a.san[0].ip, 0);
	ck_assert_str_eq(a.san[1].value, "192.0.2.1");
	ck_assert_int_eq(a.san[1].ip, 1);
	ck_assert_str_eq(a.san[2].value, "2001:db8::1");
	ck_assert_int_eq(a.san[2].ip, 1);
	ck_assert_str_eq(a.san[3].value, "b.example.com");
	ck_assert_int_eq(a.san[3].ip, 0);
	ck_assert_str_eq(a.san[4].value, "10.0.0.1");
	ck_assert_int_eq(a.san[4].ip, 1);
	ck_assert_str_eq(a.san[5].value, "c.example.com");
	ck_assert_int_eq(a.san[5].ip, 0);
	ck_assert_str_eq(a.san[6].value, "::1");
	ck_assert_int_eq(a.san[6].ip, 1);
	/* Blanks after a comma are skipped. */
	ck_assert_str_eq(a.san[7].value, "d.example.com");
	ck_assert_int_eq(a.san[7].ip, 0);
	ck_assert_str_eq(a.san[8].value, "::ffff:192.0.2.2");
	ck_assert_int_eq(a.san[8].ip, 1);
	attrs_done(&a);

	/* An IPv6 address straight after the attribute's colon. */
	parse_ok(CSR, &a, "CN:x", "subjectAltName:::1", NULL);
	ck_assert_int_eq(a.nsan, 2);
	ck_assert_str_eq(a.san[0].value, "x");
	ck_assert_str_eq(a.san[1].value, "::1");
	ck_assert_int_eq(a.san[1].ip, 1);
	attrs_done(&a);
}
END_TEST

/* A leading "*." wildcard label is accepted, nothing else with a star. */
START_TEST(test_san_wildcard)
{
	struct pki_attrs	 a;

	parse_ok(CSR, &a, "CN:example.com", "subjectAltName:*.example.com",
	    NULL);
	ck_assert_int_eq(a.nsan, 2);
	ck_assert_str_eq(a.san[0].value, "example.com");
	ck_assert_str_eq(a.san[1].value, "*.example.com");
	ck_assert_int_eq(a.san[1].ip, 0);
	attrs_done(&a);

	parse_fail(CSR, "bad subjectAltName entry '*'", "CN:x",
	    "subjectAltName:*", NULL);
	parse_fail(CSR, "bad subjectAltName entry '*.'", "CN:x",
	    "subjectAltName:*.", NULL);
	parse_fail(CSR, "bad subjectAltName entry 'a.*.com'", "CN:x",
	    "subjectAltName:a.*.com", NULL);
	parse_fail(CSR, "bad subjectAltName entry '*.*.example.com'", "CN:x",
	    "subjectAltName:*.*.example.com", NULL);
	parse_fail(CSR, "bad subjectAltName entry 'a*.example.com'", "CN:x",
	    "subjectAltName:a*.example.com", NULL);
}
END_TEST

/* Entries that are neither a DNS name nor an address are refused. */
START_TEST(test_san_bad)
{
	static const char *const bad[] = {
		"a_b.com", "-a.com", "a-.com", "a.-b.com", "exa mple.com",
		"a..b", ".a.com", "a.com.", "a.com/x", "a@b.com",
		"192.0.2.1/24", "fe80::1%eth0", "[::1]", "2001:db8::g",
		"http://a.com", "\xc3\xa4.example.com", "a\tb.com",
	};
	char	 word[128], want[128];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(word, sizeof(word), "subjectAltName:%s", bad[i]);
		snprintf(want, sizeof(want), "bad subjectAltName entry '%s': "
		    "not a DNS name or an IP address", bad[i]);
		parse_fail(CSR, want, "CN:x", word, NULL);
	}
	/* A bad entry after good ones: the good ones are freed as well. */
	parse_fail(CSR, "bad subjectAltName entry 'a_b.com'", "CN:x",
	    "subjectAltName:a.example.com,192.0.2.1,a_b.com,c.example.com",
	    NULL);
}
END_TEST

/*
 * Dotted numbers that are no IPv4 address are mistyped addresses, not DNS
 * names: a name whose last label is all digits is refused.
 */
START_TEST(test_san_numeric)
{
	struct pki_attrs	 a;

	parse_ok(CSR, &a, "CN:My Server",
	    "subjectAltName:1.2.3.4,host1.example.com,1host.example.com",
	    NULL);
	ck_assert_int_eq(a.nsan, 3);
	ck_assert_int_eq(a.san[0].ip, 1);
	ck_assert_int_eq(a.san[1].ip, 0);
	attrs_done(&a);
	parse_fail(CSR, "bad subjectAltName entry '1.2.3.4.5'", "CN:x",
	    "subjectAltName:1.2.3.4.5", NULL);
	parse_fail(CSR, "bad subjectAltName entry '256.1.1.1'", "CN:x",
	    "subjectAltName:256.1.1.1", NULL);
	parse_fail(CSR, "bad subjectAltName entry '123'", "CN:x",
	    "subjectAltName:123", NULL);
	parse_fail(CSR, "not an IP address", "CN:x",
	    "subjectAltName:IP:e.example.com", NULL);
	parse_fail(CSR, "not a DNS name", "CN:x",
	    "subjectAltName:DNS:10.0.0.1", NULL);
	/* Trailing blanks and repeats are forgiven. */
	parse_ok(CSR, &a, "CN:x.example.com",
	    "subjectAltName:a.example.com ,a.example.com,X.example.com", NULL);
	ck_assert_int_eq(a.nsan, 2);
	ck_assert_int_eq(a.cn_added, 0);
	attrs_done(&a);
	/* An IPv6 CN written differently in the SANs is not added twice. */
	parse_ok(CSR, &a, "CN:2001:db8::1", "subjectAltName:IP:2001:DB8:0::1",
	    NULL);
	ck_assert_int_eq(a.nsan, 1);
	attrs_done(&a);
}
END_TEST

/* A label may be 63 bytes, a name 253. */
START_TEST(test_san_lengths)
{
	struct pki_attrs	 a;
	char			 label[65], name[300], word[320];

	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(word, sizeof(word), "subjectAltName:%s.com", label);
	parse_ok(CSR, &a, "CN:x", word, NULL);
	ck_assert_int_eq(a.nsan, 2);
	ck_assert_uint_eq(strlen(a.san[1].value), 67);
	attrs_done(&a);

	memset(label, 'a', 64);
	label[64] = '\0';
	snprintf(word, sizeof(word), "subjectAltName:%s.com", label);
	parse_fail(CSR, "bad subjectAltName entry", "CN:x", word, NULL);

	/* 4 labels of 63 and a dot between: 255; cut to 253 and 254. */
	memset(label, 'b', 63);
	label[63] = '\0';
	snprintf(name, sizeof(name), "%s.%s.%s.%s", label, label, label,
	    label);
	ck_assert_uint_eq(strlen(name), 255);
	name[253] = '\0';
	snprintf(word, sizeof(word), "subjectAltName:%s", name);
	parse_ok(CSR, &a, "CN:x", word, NULL);
	ck_assert_uint_eq(strlen(a.san[1].value), 253);
	attrs_done(&a);
	name[253] = 'b';
	name[254] = '\0';
	snprintf(word, sizeof(word), "subjectAltName:%s", name);
	parse_fail(CSR, "bad subjectAltName entry", "CN:x", word, NULL);
}
END_TEST

/* C is two letters, turned into capitals. */
START_TEST(test_country)
{
	struct pki_attrs	 a;

	parse_ok(CSR, &a, "CN:x", "C:us", NULL);
	ck_assert_str_eq(a.c, "US");
	attrs_done(&a);
	parse_ok(CSR, &a, "CN:x", "C:\"de\"", NULL);
	ck_assert_str_eq(a.c, "DE");
	attrs_done(&a);
	parse_ok(CSR, &a, "CN:x", "C:cH", NULL);
	ck_assert_str_eq(a.c, "CH");
	attrs_done(&a);

	parse_fail(CSR, "C must be a two-letter country code, not 'USA'",
	    "CN:x", "C:USA", NULL);
	parse_fail(CSR, "not '1A'", "CN:x", "C:1A", NULL);
	parse_fail(CSR, "not 'A1'", "CN:x", "C:A1", NULL);
	parse_fail(CSR, "not 'U'", "CN:x", "C:U", NULL);
	parse_fail(CSR, "not 'U '", "CN:x", "C:U ", NULL);
	parse_fail(CSR, "not '\xc3\xa4'", "CN:x", "C:\xc3\xa4", NULL);
}
END_TEST

/* Subject values have length limits and no control characters. */
START_TEST(test_lengths)
{
	static const struct {
		const char	*name;
		size_t		 max;
	} t[] = {
		{ "CN", 64 }, { "OU", 64 }, { "O", 64 }, { "L", 128 },
		{ "ST", 128 },
	};
	struct pki_attrs	 a;
	char			 word[200], want[100];
	size_t			 i, n;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = (size_t)snprintf(word, sizeof(word), "%s:", t[i].name);
		memset(word + n, 'v', t[i].max);
		word[n + t[i].max] = '\0';
		if (i == 0)
			parse_ok(CSR, &a, word, NULL);
		else
			parse_ok(CSR, &a, "CN:x", word, NULL);
		attrs_done(&a);

		word[n + t[i].max] = 'v';
		word[n + t[i].max + 1] = '\0';
		snprintf(want, sizeof(want), "%s is longer than %zu bytes",
		    t[i].name, t[i].max);
		if (i == 0)
			parse_fail(CSR, want, word, NULL);
		else
			parse_fail(CSR, want, "CN:x", word, NULL);
	}

	/* The limit is on the value without its quotes. */
	memset(word, 'q', sizeof(word));
	memcpy(word, "CN:\"", 4);
	word[4 + 64] = '"';
	word[4 + 64 + 1] = '\0';
	parse_ok(CSR, &a, word, NULL);
	ck_assert_uint_eq(strlen(a.cn), 64);
	attrs_done(&a);

	parse_fail(CSR, "CN holds a control character", "CN:a\tb", NULL);
	parse_fail(CSR, "O holds a control character", "CN:x", "O:a\x7f",
	    NULL);
	parse_fail(CSR, "L holds a control character", "CN:x",
	    "L:\x1b[31mred", NULL);
	parse_fail(CSR, "ST holds a control character", "CN:x", "ST:a\nb",
	    NULL);
	parse_fail(CSR, "OU holds a control character", "CN:x", "OU:\r",
	    NULL);

	/* Bytes above 0x7f (UTF-8) are allowed in subject text. */
	parse_ok(CSR, &a, "CN:x", "O:B\xc3\xbc" "cher GmbH", NULL);
	ck_assert_str_eq(a.o, "B\xc3\xbc" "cher GmbH");
	attrs_done(&a);
}
END_TEST

/* Unknown names and words that are no attribute at all. */
START_TEST(test_unknown)
{
	parse_fail(CSR, "unknown attribute 'foo'; possible: CN, OU, O, L, "
	    "ST, C, subjectAltName, key", "CN:x", "foo:bar", NULL);
	parse_fail(CSR, "unknown attribute 'SAN'", "CN:x", "SAN:a.com", NULL);
	parse_fail(CSR, "unknown attribute 'CN '", "CN :x", NULL);
	parse_fail(CSR, "'xmpp.example.com' is not an attribute (write "
	    "NAME:value, for example CN:xmpp.example.com)", "CN:x",
	    "xmpp.example.com", NULL);
	parse_fail(CSR, "':value' is not an attribute", "CN:x", ":value",
	    NULL);
	parse_fail(CSR, "':' is not an attribute", "CN:x", ":", NULL);
	parse_fail(CSR, "'' is not an attribute", "CN:x", "", NULL);
	/* The first bad word is the one reported. */
	parse_fail(CSR, "unknown attribute 'foo'", "foo:1", "bar:2", NULL);
	parse_fail(CSR, "'word' is not an attribute", "CN:x", "word",
	    "CN:y", NULL);
}
END_TEST

/* PKI_ATTR_CN_ONLY keeps CN and refuses the rest of the subject. */
START_TEST(test_cn_only)
{
	static const char *const words[] = {
		"OU:x", "O:x", "L:x", "ST:x", "C:DE", "subjectAltName:a.com",
		"key:ec256", "days:1",
	};
	struct pki_attrs	 a;
	char			 want[64];
	size_t			 i;

	parse_ok(PKI_ATTR_CN_ONLY | PKI_ATTR_SUBJECT, &a, "cn:Example CA",
	    NULL);
	ck_assert_str_eq(a.cn, "Example CA");
	ck_assert_int_eq(a.nsan, 0);
	attrs_done(&a);

	parse_fail(PKI_ATTR_CN_ONLY | PKI_ATTR_SUBJECT,
	    "unknown attribute 'OU'; possible: CN", "CN:x", "OU:x", NULL);
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		snprintf(want, sizeof(want), "unknown attribute '%.*s'",
		    (int)(strchr(words[i], ':') - words[i]), words[i]);
		parse_fail(PKI_ATTR_CN_ONLY | PKI_ATTR_SUBJECT, want, "CN:x",
		    words[i], NULL);
	}
}
END_TEST

/* PKI_ATTR_DAYS alone, as pki ca sign uses it. */
START_TEST(test_days_only)
{
	struct pki_attrs	 a;

	parse_ok(PKI_ATTR_DAYS, &a, NULL);
	ck_assert_ptr_null(a.cn);
	ck_assert_int_eq(a.nsan, 0);
	ck_assert_int_eq(a.days, 3650);
	attrs_done(&a);

	parse_ok(PKI_ATTR_DAYS, &a, "days:30", NULL);
	ck_assert_int_eq(a.days, 30);
	ck_assert_ptr_null(a.cn);
	attrs_done(&a);

	parse_fail(PKI_ATTR_DAYS, "unknown attribute 'CN'; possible: days",
	    "CN:x", NULL);
	parse_fail(PKI_ATTR_DAYS, "unknown attribute 'subjectAltName'",
	    "subjectAltName:a.com", NULL);
	parse_fail(PKI_ATTR_DAYS, "unknown attribute 'key'", "days:30",
	    "key:ec256", NULL);
	parse_fail(PKI_ATTR_DAYS, "not '0'", "days:0", NULL);
}
END_TEST

/* At most PKI_MAXSAN entries, the CN included. */
START_TEST(test_maxsan)
{
	struct pki_attrs	 a;
	char			*w;

	w = san_list(0, PKI_MAXSAN);
	parse_ok(CSR, &a, "CN:h0.example.com", w, NULL);
	ck_assert_int_eq(a.nsan, PKI_MAXSAN);
	ck_assert_int_eq(a.cn_added, 0);
	ck_assert_str_eq(a.san[PKI_MAXSAN - 1].value, "h99.example.com");
	attrs_done(&a);
	free(w);

	/* PKI_MAXSAN - 1 names and the CN fill the list. */
	w = san_list(1, PKI_MAXSAN - 1);
	parse_ok(CSR, &a, "CN:h0.example.com", w, NULL);
	ck_assert_int_eq(a.nsan, PKI_MAXSAN);
	ck_assert_int_eq(a.cn_added, 1);
	ck_assert_str_eq(a.san[0].value, "h0.example.com");
	ck_assert_str_eq(a.san[1].value, "h1.example.com");
	ck_assert_str_eq(a.san[PKI_MAXSAN - 1].value, "h99.example.com");
	attrs_done(&a);
	free(w);

	w = san_list(0, PKI_MAXSAN + 1);
	parse_fail(CSR, "subjectAltName: at most 100 entries", "CN:x", w,
	    NULL);
	free(w);
}
END_TEST

/* The struct is cleared on entry, and pki_attrs_clear zeroes it. */
START_TEST(test_clear)
{
	struct pki_attrs	 a;
	char			*cause;
	const char		*argv[] = { "CN:x.example.com", "O:Example",
				    "subjectAltName:a.example.com,bad_name" };

	/* Garbage in *a is not read. */
	memset(&a, 0xa5, sizeof(a));
	parse_ok(CSR, &a, "CN:x", NULL);
	ck_assert_ptr_null(a.ou);
	ck_assert_ptr_null(a.o);
	ck_assert_ptr_null(a.l);
	ck_assert_ptr_null(a.st);
	ck_assert_ptr_null(a.c);
	ck_assert_int_eq(a.nsan, 1);
	ck_assert_int_eq(a.key, PKI_KEY_RSA2048);
	attrs_done(&a);
	/* Clearing twice is harmless. */
	attrs_done(&a);

	/* A failure half-way leaves what was parsed, for clear to free. */
	cause = NULL;
	memset(&a, 0xa5, sizeof(a));
	ck_assert_int_eq(pki_attrs_parse(3, argv, CSR, &a, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_str_eq(a.cn, "x.example.com");
	ck_assert_str_eq(a.o, "Example");
	ck_assert_int_eq(a.nsan, 1);
	ck_assert_str_eq(a.san[0].value, "a.example.com");
	attrs_done(&a);
	free(cause);

	/* argc 0 with argv NULL is fine where nothing is required. */
	cause = NULL;
	ck_assert_int_eq(pki_attrs_parse(0, NULL, PKI_ATTR_DAYS, &a, &cause),
	    0);
	ck_assert_ptr_null(cause);
	attrs_done(&a);

	/* The words are not changed. */
	ck_assert_str_eq(argv[2], "subjectAltName:a.example.com,bad_name");
}
END_TEST

/* The suite. */
static Suite *
pki_attr_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("pki_attr");

	tc = tcase_create("names");
	tcase_add_test(tc, test_subject_all);
	tcase_add_test(tc, test_names_case);
	tcase_add_test(tc, test_key_types);
	tcase_add_test(tc, test_unknown);
	tcase_add_test(tc, test_cn_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("days");
	tcase_add_test(tc, test_days);
	tcase_add_test(tc, test_days_refused);
	tcase_add_test(tc, test_days_default);
	tcase_add_test(tc, test_days_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, test_quotes);
	tcase_add_test(tc, test_twice);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_country);
	tcase_add_test(tc, test_lengths);
	suite_add_tcase(s, tc);

	tc = tcase_create("cn");
	tcase_add_test(tc, test_cn_required);
	tcase_add_test(tc, test_cn_added);
	tcase_add_test(tc, test_cn_present);
	tcase_add_test(tc, test_cn_not_dns);
	tcase_add_test(tc, test_cn_ip);
	suite_add_tcase(s, tc);

	tc = tcase_create("san");
	tcase_add_test(tc, test_san_types);
	tcase_add_test(tc, test_san_wildcard);
	tcase_add_test(tc, test_san_bad);
	tcase_add_test(tc, test_san_numeric);
	tcase_add_test(tc, test_san_lengths);
	tcase_add_test(tc, test_maxsan);
	suite_add_tcase(s, tc);

	tc = tcase_create("clear");
	tcase_add_test(tc, test_clear);
	suite_add_tcase(s, tc);

	return (s);
}

/* Run the suite; the exit status counts failures. */
int
main(void)
{
	return (unit_run(pki_attr_suite()));
}
