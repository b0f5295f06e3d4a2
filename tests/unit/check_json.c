/*
 * Unit tests for shell/json.c: the rules of mmp.8's JSON OUTPUT applied
 * to output shaped as the daemon's is, and as status commands added
 * later will be (markers with values, wider tables, warnings, several
 * records), so that they convert by construction.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdtab.h"
#include "mmp.h"
#include "unit.h"

#define T_MAXWORDS	16

static char	*render(const char *, const char *, const char *, int);

/*
 * The document mmp -j prints for the command line cmd (words split on
 * spaces; NULL for words that did not parse) whose daemon answered with
 * the stdout lines out (newline-separated), the stderr lines err and the
 * exit status. The caller frees it.
 */
static char *
render(const char *cmd, const char *out, const char *err, int status)
{
	struct cmd_match	 m;
	struct json_doc		*d;
	char			*buf = NULL, *copy, *p, *word;
	char			*argv[T_MAXWORDS], *cause = NULL;
	size_t			 len = 0;
	int			 argc = 0;
	FILE			*fp;

	if (cmd != NULL) {
		copy = strdup(cmd);
		for (p = copy; (word = strsep(&p, " ")) != NULL;)
			argv[argc++] = word;
		argv[argc] = NULL;
		ck_assert_int_eq(cmdtab_match(argc, argv, &m, &cause),
		    CMDTAB_OK);
		d = json_new(&m, status == EXIT_OK ? "" : "line 4: ");
	} else {
		copy = NULL;
		d = json_new(NULL, "");
	}
	if (out != NULL) {
		p = strdup(out);
		json_out(d, p);
		free(p);
	}
	if (err != NULL)
		json_err(d, err);
	ck_assert_ptr_nonnull(fp = open_memstream(&buf, &len));
	json_finish(d, status, fp);
	fclose(fp);
	free(copy);
	free(cause);
	return (buf);
}

#define CK_RENDER(cmd, out, err, st, want) do {			\
	char	*got_ = render((cmd), (out), (err), (st));		\
	ck_assert_str_eq(got_, want "\n");				\
	free(got_);							\
} while (0)

START_TEST(test_status_types)
{
	CK_RENDER("xmpp",
	    "Enabled          : yes\n"
	    "Domain           : (not set)\n"
	    "Client port      : 05222\n"
	    "Component port   : 5223\n"
	    "Max sessions     : unlimited\n"
	    "CA bundle file   : ca.crt\n"
	    "Call bridges     : 12",
	    NULL, EXIT_OK,
	    "{\"enabled\": true, \"domain\": null, \"client_port\": \"05222\", "
	    "\"component_port\": 5223, \"max_sessions\": \"unlimited\", "
	    "\"ca_bundle_file\": \"ca.crt\", \"call_bridges\": 12}");
}
END_TEST

/* A secret of digits, a bridge named yes: strings, always. */
START_TEST(test_list_strings)
{
	CK_RENDER("xmpp callbridge list",
	    "Callbridge : yes\nDomain     : example.com\n"
	    "Secret     : 12345678\nState      : connected",
	    NULL, EXIT_OK,
	    "{\"callbridges\": [{\"callbridge\": \"yes\", \"domain\": "
	    "\"example.com\", \"secret\": \"12345678\", \"state\": "
	    "\"connected\"}]}");
}
END_TEST

/* The peer block as the cluster-wide view will show it. */
START_TEST(test_peers_markers)
{
	CK_RENDER("xmpp cluster status",
	    "State: FOLLOWER\nList of peers\n10.0.0.1:5270 (Leader)\n"
	    "10.0.0.2:5270 (me)\n[fe80::3]:5270 (unreachable 12 s)\n"
	    "Term               : 3\nQuorum             : no quorum (1 of 3)",
	    NULL, EXIT_OK,
	    "{\"state\": \"FOLLOWER\", \"peers\": ["
	    "{\"address\": \"10.0.0.1:5270\", \"leader\": true, \"me\": false, "
	    "\"unreachable\": false}, "
	    "{\"address\": \"10.0.0.2:5270\", \"leader\": false, \"me\": true, "
	    "\"unreachable\": false}, "
	    "{\"address\": \"[fe80::3]:5270\", \"leader\": false, "
	    "\"me\": false, \"unreachable\": \"12 s\"}], "
	    "\"term\": 3, \"quorum\": \"no quorum (1 of 3)\"}");
}
END_TEST

/* A wider table, a cell wider than its heading, an empty list. */
START_TEST(test_table)
{
	CK_RENDER("xmpp user list",
	    "User   Sessions  Node\nalice  2         10.0.0.1\n"
	    "a-very-long-name  0  -",
	    NULL, EXIT_OK,
	    "{\"users\": [{\"user\": \"alice\", \"sessions\": 2, "
	    "\"node\": \"10.0.0.1\"}, {\"user\": \"a-very-long-name\", "
	    "\"sessions\": 0, \"node\": \"-\"}]}");
	CK_RENDER("xmpp user list", "No users", NULL, EXIT_OK,
	    "{\"users\": [], \"lines\": [\"No users\"]}");
}
END_TEST

/* Check lines, warnings too; several records; a repeated key. */
START_TEST(test_checks_records)
{
	CK_RENDER("pki verify a.crt b.crt",
	    "SUCCESS: one\nWARNING: two\nFAILURE: three", NULL, EXIT_OK,
	    "{\"checks\": [{\"result\": \"SUCCESS\", \"message\": \"one\"}, "
	    "{\"result\": \"WARNING\", \"message\": \"two\"}, "
	    "{\"result\": \"FAILURE\", \"message\": \"three\"}]}");
	CK_RENDER("xmpp", "Enabled : yes\n\nEnabled : no\nNote: a\nNote: b",
	    NULL, EXIT_OK,
	    "{\"xmpp\": [{\"enabled\": true}, {\"enabled\": false, "
	    "\"note\": [\"a\", \"b\"]}]}");
}
END_TEST

/* Headings: a section, numbered sections, a list of items. */
START_TEST(test_headings)
{
	CK_RENDER("pki inspect b.crt",
	    "Certificate 1 of 2:\n  CA   : yes\nCertificate 2 of 2:\n"
	    "  CA   : no", NULL, EXIT_OK,
	    "{\"certificate\": [{\"ca\": true}, {\"ca\": false}]}");
	CK_RENDER("pki list",
	    "User supplied certificates and keys:\n"
	    "a.key     key (EC P-256)\nb.crt     certificate (CN=b)",
	    NULL, EXIT_OK,
	    "{\"files\": [{\"name\": \"a.key\", \"description\": "
	    "\"key (EC P-256)\"}, {\"name\": \"b.crt\", \"description\": "
	    "\"certificate (CN=b)\"}]}");
	CK_RENDER("pki list", "User supplied certificates and keys:", NULL,
	    EXIT_OK, "{\"files\": []}");
}
END_TEST

/* A summary record over the sessions of one user. */
START_TEST(test_header)
{
	CK_RENDER("xmpp user list alice",
	    "User    : alice\nSessions: 2\n\nResource: a\nNode    : n1\n\n"
	    "Resource: b\nNode    : n2", NULL, EXIT_OK,
	    "{\"user\": \"alice\", \"sessions\": 2, \"session_list\": ["
	    "{\"resource\": \"a\", \"node\": \"n1\"}, "
	    "{\"resource\": \"b\", \"node\": \"n2\"}]}");
	CK_RENDER("xmpp user list alice", "User    : alice\nSessions: 0",
	    NULL, EXIT_OK,
	    "{\"user\": \"alice\", \"sessions\": 0, \"session_list\": []}");
}
END_TEST

/* Text alone, as for a zone file: every line, blank ones too. */
START_TEST(test_alltext)
{
	CK_RENDER("xmpp dns records",
	    "; comment: a\n\nx.example.com. 3600 IN AAAA 2001:db8::1\n"
	    "_xmpp-client._tcp.example.com. 3600 IN SRV 10 50 5222 x.", NULL,
	    EXIT_OK,
	    "{\"lines\": [\"; comment: a\", \"\", "
	    "\"x.example.com. 3600 IN AAAA 2001:db8::1\", "
	    "\"_xmpp-client._tcp.example.com. 3600 IN SRV 10 50 5222 x.\"]}");
}
END_TEST

/* Quotes, backslashes, control characters, UTF-8 and not UTF-8. */
START_TEST(test_escapes)
{
	CK_RENDER("hostname", "a\"b\\c\td\x01\xc3\xa9\xff\xc0\xaf\xed\xa0\x80",
	    NULL, EXIT_OK,
	    "{\"hostname\": \"a\\\"b\\\\c\\u0009d\\u0001\xc3\xa9\\ufffd"
	    "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"}");
}
END_TEST

/* Errors: a parse error, a failed state command, a batch line. */
START_TEST(test_errors)
{
	CK_RENDER(NULL, NULL, "mmp: unknown word 'x'", EXIT_PARSE,
	    "{\"error\": \"unknown word 'x'\"}");
	CK_RENDER("xmpp callbridge del cb9", NULL,
	    "xmpp callbridge del: no call bridge named cb9", EXIT_FAILED,
	    "{\"error\": \"line 4: xmpp callbridge del: no call bridge named "
	    "cb9\", \"line\": 4, \"ok\": false, \"output\": []}");
	CK_RENDER("xmpp enable", "SUCCESS: a\nFAILURE: b", NULL, EXIT_FAILED,
	    "{\"error\": \"line 4: b\", \"line\": 4, \"ok\": false, "
	    "\"output\": [\"SUCCESS: a\", \"FAILURE: b\"], \"checks\": ["
	    "{\"result\": \"SUCCESS\", \"message\": \"a\"}, "
	    "{\"result\": \"FAILURE\", \"message\": \"b\"}]}");
}
END_TEST

/* help, with a command too long for its column. */
START_TEST(test_help)
{
	CK_RENDER("help",
	    "xmpp cluster status                  show it\n"
	    "xmpp cluster timers <heartbeat-ms> <election-ms>\n"
	    "                                     set them",
	    NULL, EXIT_OK,
	    "{\"commands\": [{\"command\": \"xmpp cluster status\", \"help\": "
	    "\"show it\"}, {\"command\": \"xmpp cluster timers <heartbeat-ms> "
	    "<election-ms>\", \"help\": \"set them\"}]}");
}
END_TEST

static Suite *
json_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("json");
	tc = tcase_create("rules");
	tcase_add_test(tc, test_status_types);
	tcase_add_test(tc, test_list_strings);
	tcase_add_test(tc, test_peers_markers);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_checks_records);
	tcase_add_test(tc, test_headings);
	tcase_add_test(tc, test_header);
	tcase_add_test(tc, test_alltext);
	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_help);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status counts failures. */
int
main(void)
{
	return (unit_run(json_suite()));
}
