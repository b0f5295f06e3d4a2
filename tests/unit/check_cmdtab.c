/*
 * Unit tests for the command matcher in common/cmdtab.c, driven by the
 * real table in common/cmds.def.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdtab.h"
#include "unit.h"

#define LINE_MAX_WORDS	(CMD_MAXWORDS + 8)
#define PAT_MAXTOK	16

/* A command line split in place; argv points into buf. */
struct line {
	char	 buf[8192];
	char	*argv[LINE_MAX_WORDS];
	int	 argc;
};

/* One token of a pattern as the tests read cmds.def. */
struct ptok {
	char	 lit[64];		/* literal word, or "" */
	char	 label[32];
	char	 type[16];
	int	 opt;
	int	 var;
};

/* Lines collected from cmdtab_help. */
struct helpout {
	int	 n;
	char	 lines[CMD__COUNT + 1][512];
};

static void	 line_split(struct line *, const char *);
static int	 match(struct line *, const char *, struct cmd_match *,
		    char **);
static int	 pattern_split(const char *, struct ptok *);
static const char *sample(const char *, int);
static int	 cause_lists(const char *, const char *);
static int	 cause_unique(const char *);
static int	 sibling_arg(enum cmd_id, const struct ptok *, int);
static const char *abbrev(struct line *, int, const char *, char *, size_t);
static void	 help_cb(void *, const char *);
static void	 expect_rc(const char *, int, const char *);
static void	 expect_arg(const char *, const char *, int);
static Suite	*cmdtab_suite(void);

/* Split line at blanks into l->argv. */
static void
line_split(struct line *l, const char *s)
{
	char	*p, *w;

	ck_assert_uint_lt(strlen(s), sizeof(l->buf));
	strlcpy(l->buf, s, sizeof(l->buf));
	l->argc = 0;
	p = l->buf;
	while ((w = strsep(&p, " ")) != NULL) {
		if (*w == '\0')
			continue;
		ck_assert_int_lt(l->argc, LINE_MAX_WORDS);
		l->argv[l->argc++] = w;
	}
}

/* Split s into l and run cmdtab_match on it. */
static int
match(struct line *l, const char *s, struct cmd_match *m, char **cause)
{
	line_split(l, s);
	*cause = NULL;
	return (cmdtab_match(l->argc, l->argv, m, cause));
}

/* Read a pattern the way cmds.def documents it; returns the token count. */
static int
pattern_split(const char *pattern, struct ptok *toks)
{
	char		 buf[256], *p, *w, *end, *colon;
	struct ptok	*t;
	int		 n = 0;

	strlcpy(buf, pattern, sizeof(buf));
	p = buf;
	while ((w = strsep(&p, " ")) != NULL) {
		if (*w == '\0')
			continue;
		ck_assert_int_lt(n, PAT_MAXTOK);
		t = &toks[n++];
		memset(t, 0, sizeof(*t));
		if (*w != '<' && *w != '[') {
			strlcpy(t->lit, w, sizeof(t->lit));
			continue;
		}
		if (*w == '[') {
			t->opt = 1;
			w++;
			end = strrchr(w, ']');
			ck_assert_ptr_nonnull(end);
			*end = '\0';
		}
		end = w + strlen(w);
		if (end - w > 3 && strcmp(end - 3, "...") == 0) {
			t->var = 1;
			end -= 3;
			*end = '\0';
		}
		ck_assert_int_eq(*w, '<');
		ck_assert_int_eq(end[-1], '>');
		end[-1] = '\0';
		w++;
		if ((colon = strchr(w, ':')) != NULL) {
			*colon++ = '\0';
			strlcpy(t->type, colon, sizeof(t->type));
		} else
			strlcpy(t->type, w, sizeof(t->type));
		strlcpy(t->label, w, sizeof(t->label));
	}
	return (n);
}

/* A valid value of an argument type; idx varies it. */
static const char *
sample(const char *type, int idx)
{
	static const char *files[] = { "x.key", "x.crt", "ca-bundle.pem" };

	if (strcmp(type, "word") == 0)
		return ("anyword");
	if (strcmp(type, "name") == 0)
		return ("cb1");
	if (strcmp(type, "hostname") == 0)
		return ("node1.example.com");
	if (strcmp(type, "domain") == 0)
		return ("example.com");
	if (strcmp(type, "addr") == 0)
		return (idx % 2 ? "::1" : "127.0.0.1");
	if (strcmp(type, "file") == 0)
		return (files[idx % 3]);
	if (strcmp(type, "int") == 0)
		return ("5");
	if (strcmp(type, "peer") == 0)
		return (idx % 2 ? "[::1]:5270" : "127.0.0.1:5270");
	if (strcmp(type, "port") == 0)
		return ("5222");
	if (strcmp(type, "user") == 0)
		return (idx % 2 ? "alice" : "bob.smith");
	ck_abort_msg("no sample for argument type %s", type);
	return (NULL);
}

/* Whether the "possible: a, b, c" list in cause names word exactly. */
static int
cause_lists(const char *cause, const char *word)
{
	const char	*p, *end;
	size_t		 wl = strlen(word);

	if (cause == NULL || (p = strstr(cause, "possible")) == NULL ||
	    (p = strchr(p, ':')) == NULL)
		return (0);
	for (p++; *p != '\0'; p = end) {
		while (*p == ' ' || *p == ',')
			p++;
		end = p + strcspn(p, ",");
		if ((size_t)(end - p) == wl && strncmp(p, word, wl) == 0)
			return (1);
	}
	return (0);
}

/* Whether the "possible:" list in cause names no word twice. */
static int
cause_unique(const char *cause)
{
	const char	*p, *end, *q, *qend;

	if (cause == NULL || (p = strstr(cause, "possible")) == NULL ||
	    (p = strchr(p, ':')) == NULL)
		return (0);
	for (p++; *p != '\0'; p = end) {
		while (*p == ' ' || *p == ',')
			p++;
		end = p + strcspn(p, ",");
		for (q = end; *q != '\0'; q = qend) {
			while (*q == ' ' || *q == ',')
				q++;
			qend = q + strcspn(q, ",");
			if (qend - q == end - p && strncmp(p, q, end - p) == 0)
				return (0);
		}
	}
	return (1);
}

/*
 * Whether another command shares the words before pos with id and takes
 * an argument at pos: there an abbreviation may be read as the argument.
 */
static int
sibling_arg(enum cmd_id id, const struct ptok *mine, int pos)
{
	struct ptok	 toks[PAT_MAXTOK];
	int		 i, k, n, same;

	for (i = 0; i < CMD__COUNT; i++) {
		if (i == (int)id)
			continue;
		n = pattern_split(cmdtab_pattern((enum cmd_id)i), toks);
		if (n <= pos || toks[pos].lit[0] != '\0')
			continue;
		for (same = 1, k = 0; k < pos && same; k++)
			same = strcmp(toks[k].lit, mine[k].lit) == 0;
		if (same)
			return (1);
	}
	return (0);
}

/*
 * The shortest prefix of lit that completion offers as the only word
 * after the first argc words of l, or lit itself.
 */
static const char *
abbrev(struct line *l, int argc, const char *lit, char *buf, size_t len)
{
	char	**list;
	size_t	 k, n;
	int	 unique;

	for (k = 1; k < strlen(lit) && k < len; k++) {
		memcpy(buf, lit, k);
		buf[k] = '\0';
		list = cmdtab_complete(argc, l->argv, buf, &n);
		unique = n == 1 && strcmp(list[0], lit) == 0;
		cmdtab_free_list(list, n);
		if (unique)
			return (buf);
	}
	strlcpy(buf, lit, len);
	return (buf);
}

/* Collect one help line. */
static void
help_cb(void *arg, const char *line)
{
	struct helpout	*h = arg;

	ck_assert_int_lt(h->n, CMD__COUNT + 1);
	strlcpy(h->lines[h->n++], line, sizeof(h->lines[0]));
}

/* Match s and expect result rc with a cause that mentions word. */
static void
expect_rc(const char *s, int rc, const char *word)
{
	struct line	 l;
	struct cmd_match m;
	char		*cause;
	int		 got;

	got = match(&l, s, &m, &cause);
	ck_assert_msg(got == rc, "'%s': got %d, want %d (%s)", s, got, rc,
	    cause ? cause : "no cause");
	if (rc == CMDTAB_OK) {
		ck_assert_ptr_null(cause);
		return;
	}
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(*cause != '\0', "'%s': empty cause", s);
	if (word != NULL)
		ck_assert_msg(strstr(cause, word) != NULL,
		    "'%s': cause '%s' lacks '%s'", s, cause, word);
	free(cause);
}

/* Check value against type through cmdtab_check_arg; ok is 1 or 0. */
static void
expect_arg(const char *type, const char *value, int ok)
{
	char	*cause = NULL;
	int	 rc;

	rc = cmdtab_check_arg(type, value, &cause);
	if (ok) {
		ck_assert_msg(rc == 0, "%s '%s' refused: %s", type, value,
		    cause ? cause : "no cause");
		ck_assert_ptr_null(cause);
	} else {
		ck_assert_msg(rc == -1, "%s '%s' accepted", type, value);
		ck_assert_ptr_nonnull(cause);
		ck_assert_msg(strstr(cause, type) != NULL,
		    "cause '%s' does not name type %s", cause, type);
		free(cause);
	}
}

/* Every entry matches its literal words with sample arguments. */
START_TEST(test_table_exact)
{
	struct ptok	 toks[PAT_MAXTOK];
	struct line	 l;
	struct cmd_match m;
	enum cmd_id	 id = (enum cmd_id)_i;
	char		*cause, *p;
	int		 full, ntok, i, k, reps, nargs, rc;

	ntok = pattern_split(cmdtab_pattern(id), toks);
	ck_assert_int_gt(ntok, 0);
	for (full = 0; full <= 1; full++) {
		/* Build the line: required words only, then everything. */
		memset(&l, 0, sizeof(l));
		p = l.buf;
		nargs = 0;
		for (i = 0; i < ntok; i++) {
			if (toks[i].opt && !full)
				continue;
			reps = toks[i].var && full ? 3 : 1;
			for (k = 0; k < reps; k++) {
				if (toks[i].lit[0] != '\0')
					strlcpy(p, toks[i].lit, 64);
				else {
					strlcpy(p, sample(toks[i].type,
					    nargs), 64);
					nargs++;
				}
				l.argv[l.argc++] = p;
				p += strlen(p) + 1;
			}
		}
		cause = NULL;
		rc = cmdtab_match(l.argc, l.argv, &m, &cause);
		ck_assert_msg(rc == CMDTAB_OK, "'%s' (full %d): rc %d: %s",
		    cmdtab_pattern(id), full, rc, cause ? cause : "");
		ck_assert_ptr_null(cause);
		ck_assert_msg(m.id == id, "'%s' matched '%s'",
		    cmdtab_pattern(id), cmdtab_pattern(m.id));
		ck_assert_int_eq(m.flags, cmdtab_flags(id));
		ck_assert_int_eq(m.nwords, l.argc);
		ck_assert_int_eq(m.nargs, nargs);
		for (i = 0, k = 0; i < l.argc; i++) {
			ck_assert_str_eq(m.words[i], l.argv[i]);
			if (i >= ntok || toks[i].lit[0] == '\0') {
				ck_assert_ptr_eq(m.words[i], l.argv[i]);
				ck_assert_ptr_eq(m.args[k], l.argv[i]);
				k++;
			}
		}
		ck_assert_int_eq(k, nargs);
	}
}
END_TEST

/* Every entry matches with each literal cut to its shortest unique prefix. */
START_TEST(test_table_abbrev)
{
	struct ptok	 toks[PAT_MAXTOK];
	struct line	 l;
	struct cmd_match m;
	enum cmd_id	 id = (enum cmd_id)_i;
	char		*cause, *p, abbr[64];
	int		 ntok, i, rc;

	ntok = pattern_split(cmdtab_pattern(id), toks);
	memset(&l, 0, sizeof(l));
	p = l.buf;
	for (i = 0; i < ntok; i++) {
		if (toks[i].opt)
			continue;
		if (toks[i].lit[0] == '\0')
			strlcpy(p, sample(toks[i].type, i), 64);
		else if (sibling_arg(id, toks, i))
			strlcpy(p, toks[i].lit, 64);
		else
			strlcpy(p, abbrev(&l, l.argc, toks[i].lit, abbr,
			    sizeof(abbr)), 64);
		l.argv[l.argc++] = p;
		p += strlen(p) + 1;
	}
	cause = NULL;
	rc = cmdtab_match(l.argc, l.argv, &m, &cause);
	ck_assert_msg(rc == CMDTAB_OK, "abbreviated '%s': rc %d: %s",
	    cmdtab_pattern(id), rc, cause ? cause : "");
	ck_assert_msg(m.id == id, "abbreviated '%s' matched '%s'",
	    cmdtab_pattern(id), cmdtab_pattern(m.id));
	for (i = 0; i < l.argc; i++)
		if (toks[i].lit[0] != '\0')
			ck_assert_str_eq(m.words[i], toks[i].lit);
}
END_TEST

/* Usage strings are the patterns without the argument types. */
START_TEST(test_table_usage)
{
	enum cmd_id	 id = (enum cmd_id)_i;
	const char	*s;
	char		 want[256], *usage;
	size_t		 n = 0;
	int		 intype = 0;

	for (s = cmdtab_pattern(id); *s != '\0'; s++) {
		if (*s == '<')
			intype = 0;
		if (*s == ':' && !intype) {
			intype = 1;
			continue;
		}
		if (*s == '>')
			intype = 0;
		if (intype)
			continue;
		ck_assert_uint_lt(n, sizeof(want) - 1);
		want[n++] = *s;
	}
	want[n] = '\0';
	/* Unlabelled arguments keep their type name as the label. */
	usage = cmdtab_usage(id);
	ck_assert_str_eq(usage, want);
	free(usage);
	ck_assert_ptr_nonnull(cmdtab_helptext(id));
	ck_assert_int_gt(strlen(cmdtab_helptext(id)), 0);
}
END_TEST

/* cmdtab_usage shows labels, not types, and keeps [] and ... */
START_TEST(test_usage_render)
{
	char	*u;

	u = cmdtab_usage(CMD_XMPP_CERTS);
	ck_assert_str_eq(u, "xmpp certs <key> <crt> [<bundle>]");
	free(u);
	u = cmdtab_usage(CMD_XMPP_LISTEN);
	ck_assert_str_eq(u, "xmpp listen <addr>...");
	free(u);
	u = cmdtab_usage(CMD_HELP);
	ck_assert_str_eq(u, "help [<words>...]");
	free(u);
	u = cmdtab_usage(CMD_HOSTNAME_SET);
	ck_assert_str_eq(u, "hostname <name>");
	free(u);
	u = cmdtab_usage(CMD_XMPP_MAXSESS);
	ck_assert_str_eq(u, "xmpp max_sessions <n>");
	free(u);
	u = cmdtab_usage(CMD_VERSION);
	ck_assert_str_eq(u, "version");
	free(u);
}
END_TEST

/* xm cl st is xmpp cluster status, with the full words in words[]. */
START_TEST(test_prefix_unique)
{
	struct line	 l;
	struct cmd_match m;
	char		*cause;

	ck_assert_int_eq(match(&l, "xm cl st", &m, &cause), CMDTAB_OK);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(m.id, CMD_CLUSTER_STATUS);
	ck_assert_int_eq(m.nwords, 3);
	ck_assert_int_eq(m.nargs, 0);
	ck_assert_str_eq(m.words[0], "xmpp");
	ck_assert_str_eq(m.words[1], "cluster");
	ck_assert_str_eq(m.words[2], "status");

	ck_assert_int_eq(match(&l, "xmpp callb d cb1", &m, &cause),
	    CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_CB_DEL);
	ck_assert_str_eq(m.words[0], "xmpp");
	ck_assert_str_eq(m.words[1], "callbridge");
	ck_assert_str_eq(m.words[2], "del");
	ck_assert_ptr_eq(m.words[3], l.argv[3]);
	ck_assert_int_eq(m.nargs, 1);
	ck_assert_ptr_eq(m.args[0], l.argv[3]);

	ck_assert_int_eq(match(&l, "x ca add-s cb2", &m, &cause), CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_CB_ADD_SECRET);
	ck_assert_int_eq(m.flags, CF_STATE | CF_SECRET);
	ck_assert_str_eq(m.words[2], "add-secret");
	ck_assert_str_eq(m.args[0], "cb2");

	ck_assert_int_eq(match(&l, "xmpp port cli 5222", &m, &cause),
	    CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_PORT_CLIENT);
	ck_assert_int_eq(match(&l, "xmpp port com 5223", &m, &cause),
	    CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_PORT_COMPONENT);
	ck_assert_int_eq(match(&l, "ve", &m, &cause), CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_VERSION);
	ck_assert_int_eq(match(&l, "xmpp res", &m, &cause), CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_RESET);
	ck_assert_int_eq(m.flags, CF_STATE | CF_CONFIRM);
}
END_TEST

/* An exact word wins over a longer word it is a prefix of. */
START_TEST(test_prefix_exact_wins)
{
	struct line	 l;
	struct cmd_match m;
	char		*cause;

	ck_assert_int_eq(match(&l, "xmpp callbridge add cb1", &m, &cause),
	    CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_CB_ADD);
	ck_assert_int_eq(match(&l, "xm callbridge add cb1", &m, &cause),
	    CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_CB_ADD);
}
END_TEST

/* A prefix of several words is ambiguous and names them. */
START_TEST(test_prefix_ambiguous)
{
	struct line	 l;
	struct cmd_match m;
	char		*cause;

	ck_assert_int_eq(match(&l, "xm callbridge a cb1", &m, &cause),
	    CMDTAB_AMBIGUOUS);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(cause_lists(cause, "add") &&
	    cause_lists(cause, "add-secret"), "cause: %s", cause);
	ck_assert_msg(strstr(cause, "'a'") != NULL, "cause: %s", cause);
	free(cause);

	ck_assert_int_eq(match(&l, "xm c", &m, &cause), CMDTAB_AMBIGUOUS);
	ck_assert_msg(cause_lists(cause, "callbridge") &&
	    cause_lists(cause, "certs") && cause_lists(cause, "cluster"),
	    "cause: %s", cause);
	free(cause);

	ck_assert_int_eq(match(&l, "h", &m, &cause), CMDTAB_AMBIGUOUS);
	ck_assert_msg(cause_lists(cause, "help") &&
	    cause_lists(cause, "hostname"), "cause: %s", cause);
	free(cause);

	ck_assert_int_eq(match(&l, "xmpp port c 1", &m, &cause),
	    CMDTAB_AMBIGUOUS);
	ck_assert_msg(cause_lists(cause, "client") &&
	    cause_lists(cause, "component"), "cause: %s", cause);
	free(cause);
}
END_TEST

/* A word that fits nothing is unknown; the cause lists what fits. */
START_TEST(test_unknown)
{
	struct line	 l;
	struct cmd_match m;
	char		*cause;

	ck_assert_int_eq(match(&l, "frobnicate", &m, &cause),
	    CMDTAB_UNKNOWN);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, "frobnicate") != NULL, "%s", cause);
	ck_assert_msg(cause_lists(cause, "xmpp") &&
	    cause_lists(cause, "help") && cause_lists(cause, "version") &&
	    cause_lists(cause, "hostname"), "cause: %s", cause);
	free(cause);

	ck_assert_int_eq(match(&l, "xmpp frob", &m, &cause), CMDTAB_UNKNOWN);
	ck_assert_msg(strstr(cause, "frob") != NULL, "%s", cause);
	ck_assert_msg(cause_lists(cause, "domain") &&
	    cause_lists(cause, "listen") && cause_lists(cause, "callbridge") &&
	    cause_lists(cause, "cluster") && cause_lists(cause, "certs"),
	    "cause: %s", cause);
	ck_assert_msg(!cause_lists(cause, "help"), "cause: %s", cause);
	ck_assert_msg(cause_unique(cause), "repeats: %s", cause);
	free(cause);

	ck_assert_int_eq(match(&l, "xmpp callbridge remove cb1", &m, &cause),
	    CMDTAB_UNKNOWN);
	ck_assert_msg(cause_lists(cause, "add") && cause_lists(cause, "del") &&
	    cause_lists(cause, "list") && cause_lists(cause, "add-secret"),
	    "cause: %s", cause);
	ck_assert_msg(cause_unique(cause), "repeats: %s", cause);
	free(cause);

	/* Each possible word once, though two commands start with it. */
	ck_assert_int_eq(match(&l, "xmpp port server 1", &m, &cause),
	    CMDTAB_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(cause, "client, component"));
	ck_assert_ptr_null(strstr(strstr(cause, "client") + 1, "client"));
	free(cause);
}
END_TEST

/* The cause quotes a hostile word cut short and without control bytes. */
START_TEST(test_unknown_clean)
{
	char		 word[200], *argv[1], *cause = NULL, *q, *qend;
	struct cmd_match m;

	memset(word, 'z', sizeof(word) - 1);
	word[sizeof(word) - 1] = '\0';
	word[3] = '\033';
	word[4] = '\n';
	argv[0] = word;
	ck_assert_int_eq(cmdtab_match(1, argv, &m, &cause), CMDTAB_UNKNOWN);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_null(strchr(cause, '\033'));
	ck_assert_ptr_null(strchr(cause, '\n'));
	ck_assert_ptr_nonnull(strstr(cause, "zzz??zzz"));
	/* The quoted word is cut to 64 characters and "...". */
	q = strchr(cause, '\'');
	ck_assert_ptr_nonnull(q);
	qend = strchr(q + 1, '\'');
	ck_assert_ptr_nonnull(qend);
	ck_assert_int_eq(qend - q - 1, 64 + 3);
	ck_assert_int_eq(strncmp(qend - 3, "...", 3), 0);
	free(cause);
}
END_TEST

/* Too few words is incomplete; the cause says what may come next. */
START_TEST(test_incomplete)
{
	struct line	 l;
	struct cmd_match m;
	char		*cause;

	ck_assert_int_eq(match(&l, "xmpp callbridge", &m, &cause),
	    CMDTAB_INCOMPLETE);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(cause_lists(cause, "add") && cause_lists(cause, "del") &&
	    cause_lists(cause, "list") && cause_lists(cause, "add-secret"),
	    "cause: %s", cause);
	free(cause);

	ck_assert_int_eq(match(&l, "xm callb", &m, &cause), CMDTAB_INCOMPLETE);
	ck_assert_msg(strstr(cause, "xmpp callbridge") != NULL, "%s", cause);
	free(cause);

	ck_assert_int_eq(match(&l, "xmpp callbridge add", &m, &cause),
	    CMDTAB_INCOMPLETE);
	ck_assert_msg(cause_lists(cause, "<name>"), "cause: %s", cause);
	free(cause);

	ck_assert_int_eq(match(&l, "xmpp certs x.key", &m, &cause),
	    CMDTAB_INCOMPLETE);
	ck_assert_msg(cause_lists(cause, "<crt>"), "cause: %s", cause);
	free(cause);

	ck_assert_int_eq(match(&l, "xmpp port", &m, &cause),
	    CMDTAB_INCOMPLETE);
	ck_assert_msg(cause_lists(cause, "client") &&
	    cause_lists(cause, "component"), "cause: %s", cause);
	free(cause);

	ck_assert_int_eq(match(&l, "xmpp listen", &m, &cause),
	    CMDTAB_INCOMPLETE);
	ck_assert_msg(cause_lists(cause, "<addr>"), "cause: %s", cause);
	free(cause);

	ck_assert_int_eq(match(&l, "", &m, &cause), CMDTAB_INCOMPLETE);
	ck_assert_msg(cause_lists(cause, "xmpp"), "cause: %s", cause);
	free(cause);
}
END_TEST

/* Words past the end of a command are too many. */
START_TEST(test_toomany)
{
	expect_rc("xmpp enable now", CMDTAB_TOOMANY, "now");
	expect_rc("version 2", CMDTAB_TOOMANY, "2");
	expect_rc("xmpp cluster status x", CMDTAB_TOOMANY, "x");
	expect_rc("xmpp domain example.com example.org", CMDTAB_TOOMANY,
	    "example.org");
	expect_rc("xmpp certs a.key a.crt ca.pem more.pem", CMDTAB_TOOMANY,
	    "more.pem");
	expect_rc("hostname a.example b.example", CMDTAB_TOOMANY, NULL);
	expect_rc("xmpp callbridge del cb1 cb2", CMDTAB_TOOMANY, "cb2");
}
END_TEST

/* A line may hold CMD_MAXWORDS words and no more. */
START_TEST(test_maxwords)
{
	char		*argv[CMD_MAXWORDS + 1], *cause = NULL;
	struct cmd_match m;
	int		 i;

	argv[0] = "xmpp";
	argv[1] = "listen";
	for (i = 2; i < CMD_MAXWORDS + 1; i++)
		argv[i] = "127.0.0.1";
	ck_assert_int_eq(cmdtab_match(CMD_MAXWORDS, argv, &m, &cause),
	    CMDTAB_OK);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(m.id, CMD_XMPP_LISTEN);
	ck_assert_int_eq(m.nwords, CMD_MAXWORDS);
	ck_assert_int_eq(m.nargs, CMD_MAXWORDS - 2);
	ck_assert_int_eq(cmdtab_match(CMD_MAXWORDS + 1, argv, &m, &cause),
	    CMDTAB_TOOMANY);
	ck_assert_ptr_nonnull(cause);
	free(cause);
}
END_TEST

/* <name>: 1 to 64 of letters, digits, '-' and '_'. */
START_TEST(test_arg_name)
{
	char	 s64[65], s65[66], line[128];

	memset(s64, 'n', 64);
	s64[64] = '\0';
	memset(s65, 'n', 65);
	s65[65] = '\0';
	expect_arg("name", "cb1", 1);
	expect_arg("name", "Call_Bridge-2", 1);
	expect_arg("name", s64, 1);
	expect_arg("name", s65, 0);
	expect_arg("name", "", 0);
	expect_arg("name", "a b", 0);
	expect_arg("name", "a.b", 0);
	expect_arg("name", "a/b", 0);
	expect_arg("name", "caf\xc3\xa9", 0);

	snprintf(line, sizeof(line), "xmpp callbridge add %s", s64);
	expect_rc(line, CMDTAB_OK, NULL);
	snprintf(line, sizeof(line), "xmpp callbridge add %s", s65);
	expect_rc(line, CMDTAB_BADARG, "<name>");
	expect_rc("xmpp callbridge add a.b", CMDTAB_BADARG, "a.b");
	expect_rc("xmpp callbridge del a.b", CMDTAB_BADARG, "<name>");
}
END_TEST

/* "a b" as one word is not a name, even through the matcher. */
START_TEST(test_arg_name_blank)
{
	char		*argv[4], *cause = NULL;
	struct cmd_match m;

	argv[0] = "xmpp";
	argv[1] = "callbridge";
	argv[2] = "add";
	argv[3] = "a b";
	ck_assert_int_eq(cmdtab_match(4, argv, &m, &cause), CMDTAB_BADARG);
	ck_assert_ptr_nonnull(cause);
	free(cause);
}
END_TEST

/* <domain> and <hostname>: DNS names by RFC 1035/1123. */
START_TEST(test_arg_domain)
{
	char	 label63[64], label64[65], line[160], long254[256];
	int	 i;

	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'a', 64);
	label64[64] = '\0';
	/* 63.63.63.61 is 253 characters; one more label char is 254. */
	snprintf(long254, sizeof(long254), "%s.%s.%s.", label63, label63,
	    label63);
	for (i = 0; i < 61; i++)
		strlcat(long254, "b", sizeof(long254));
	ck_assert_uint_eq(strlen(long254), 253);

	expect_arg("domain", "example.com", 1);
	expect_arg("domain", "localhost", 1);
	expect_arg("domain", "a-b.example.com", 1);
	expect_arg("domain", "xn--bcher-kva.example", 1);
	expect_arg("domain", "1.example", 1);
	expect_arg("domain", label63, 1);
	expect_arg("domain", long254, 1);
	strlcat(long254, "b", sizeof(long254));
	expect_arg("domain", long254, 0);
	expect_arg("domain", label64, 0);
	expect_arg("domain", "-bad.com", 0);
	expect_arg("domain", "bad-.com", 0);
	expect_arg("domain", "a..b", 0);
	expect_arg("domain", ".example.com", 0);
	expect_arg("domain", "example.com.", 0);
	expect_arg("domain", "ex_ample.com", 0);
	expect_arg("domain", "", 0);
	expect_arg("hostname", "node1", 1);
	expect_arg("hostname", "-node1", 0);

	expect_rc("xmpp domain example.com", CMDTAB_OK, NULL);
	expect_rc("xmpp domain -bad.com", CMDTAB_BADARG, "<domain>");
	expect_rc("xmpp domain a..b", CMDTAB_BADARG, "a..b");
	snprintf(line, sizeof(line), "xmpp domain %s.com", label64);
	expect_rc(line, CMDTAB_BADARG, "<domain>");
	snprintf(line, sizeof(line), "xmpp domain %s.com", label63);
	expect_rc(line, CMDTAB_OK, NULL);
	expect_rc("hostname node1.example.com", CMDTAB_OK, NULL);
	expect_rc("hostname bad_name", CMDTAB_BADARG, "<name>");
}
END_TEST

/* <addr>: IPv4, IPv6 or an interface-like name. */
/* <peer>: a cluster member, address[:port]. */
START_TEST(test_arg_peer)
{
	expect_arg("peer", "10.0.0.1", 1);
	expect_arg("peer", "10.0.0.1:5270", 1);
	expect_arg("peer", "fe80::1", 1);
	expect_arg("peer", "[fe80::1]:5270", 1);
	expect_arg("peer", "10.0.0.1:0", 0);
	expect_arg("peer", "10.0.0.1:65536", 0);
	expect_arg("peer", "10.0.0.1:", 0);
	expect_arg("peer", ":5270", 0);
	expect_arg("peer", "[10.0.0.1]:5270", 0);
	expect_arg("peer", "[fe80::1]", 0);
	expect_arg("peer", "node1:5270", 0);
	expect_arg("peer", "10.0.0.300", 0);
}
END_TEST

START_TEST(test_arg_addr)
{
	expect_arg("addr", "127.0.0.1", 1);
	expect_arg("addr", "0.0.0.0", 1);
	expect_arg("addr", "::1", 1);
	expect_arg("addr", "::", 1);
	expect_arg("addr", "fe80::1", 1);
	expect_arg("addr", "2001:db8::5", 1);
	expect_arg("addr", "eth0", 1);
	expect_arg("addr", "enp0s31f6", 1);
	expect_arg("addr", "br-lan.10", 1);
	expect_arg("addr", "1.2.3.999", 0);
	expect_arg("addr", "1.2.3", 0);
	expect_arg("addr", "256.0.0.1", 0);
	expect_arg("addr", "a/b", 0);
	expect_arg("addr", "fe80::1%eth0", 0);
	expect_arg("addr", "x:y", 0);
	expect_arg("addr", "averyveryverylongname", 0);
	expect_arg("addr", "", 0);

	expect_rc("xmpp listen 127.0.0.1", CMDTAB_OK, NULL);
	expect_rc("xmpp listen ::1 eth0", CMDTAB_OK, NULL);
	expect_rc("xmpp listen 1.2.3.999", CMDTAB_BADARG, "<addr>");
	expect_rc("xmpp listen eth0 a/b", CMDTAB_BADARG, "a/b");
}
END_TEST

/* <file>: a flat-store name, no '/', no leading dot. */
START_TEST(test_arg_file)
{
	char	 f255[256], f256[257];

	memset(f255, 'f', 255);
	f255[255] = '\0';
	memset(f256, 'f', 256);
	f256[256] = '\0';
	expect_arg("file", "xmpp.key", 1);
	expect_arg("file", "ca-bundle_2024.pem", 1);
	expect_arg("file", f255, 1);
	expect_arg("file", f256, 0);
	expect_arg("file", "../x", 0);
	expect_arg("file", "..", 0);
	expect_arg("file", "a/b", 0);
	expect_arg("file", "/etc/passwd", 0);
	expect_arg("file", ".hidden", 0);
	expect_arg("file", "a..b", 0);
	expect_arg("file", "a b", 0);
	expect_arg("file", "", 0);

	expect_rc("xmpp certs xmpp.key xmpp.crt", CMDTAB_OK, NULL);
	expect_rc("xmpp certs ../x xmpp.crt", CMDTAB_BADARG, "<key>");
	expect_rc("xmpp certs xmpp.key a/b", CMDTAB_BADARG, "<crt>");
	expect_rc("xmpp certs xmpp.key xmpp.crt .hidden", CMDTAB_BADARG,
	    "<bundle>");
}
END_TEST

/* <int>: 0 to 999999999 in decimal. */
START_TEST(test_arg_int)
{
	expect_arg("int", "0", 1);
	expect_arg("int", "5", 1);
	expect_arg("int", "999999999", 1);
	expect_arg("int", "1000000000", 0);
	expect_arg("int", "-1", 0);
	expect_arg("int", "+1", 0);
	expect_arg("int", "1e3", 0);
	expect_arg("int", "0x10", 0);
	expect_arg("int", " 1", 0);
	expect_arg("int", "", 0);

	expect_rc("xmpp max_sessions 10", CMDTAB_OK, NULL);
	expect_rc("xmpp max_sessions -1", CMDTAB_BADARG, "<n>");
	expect_rc("xmpp max_sessions lots", CMDTAB_BADARG, "lots");
}
END_TEST

/* <port>: 1 to 65535. */
START_TEST(test_arg_port)
{
	expect_arg("port", "1", 1);
	expect_arg("port", "5222", 1);
	expect_arg("port", "65535", 1);
	expect_arg("port", "0", 0);
	expect_arg("port", "00", 0);
	expect_arg("port", "65536", 0);
	expect_arg("port", "99999", 0);
	expect_arg("port", "4294967297", 0);
	expect_arg("port", "-5222", 0);
	expect_arg("port", "http", 0);
	expect_arg("port", "", 0);

	expect_rc("xmpp port client 5222", CMDTAB_OK, NULL);
	expect_rc("xmpp port client 0", CMDTAB_BADARG, "<port>");
	expect_rc("xmpp port component 65536", CMDTAB_BADARG, "65536");
}
END_TEST

/* <word> takes anything non-empty; an unknown type is an error. */
START_TEST(test_arg_word_and_type)
{
	char	*cause = NULL;

	expect_arg("word", "x", 1);
	expect_arg("word", "../any thing", 1);
	expect_arg("word", "", 0);
	ck_assert_int_eq(cmdtab_check_arg("colour", "red", &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_nonnull(strstr(cause, "colour"));
	free(cause);
	expect_rc("help xmpp callbridge", CMDTAB_OK, NULL);
}
END_TEST

/* certs none is the literal; other words are files. */
START_TEST(test_certs)
{
	struct line	 l;
	struct cmd_match m;
	char		*cause;

	ck_assert_int_eq(match(&l, "xmpp certs none", &m, &cause), CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_CERTS_NONE);
	ck_assert_int_eq(m.nargs, 0);
	ck_assert_str_eq(m.words[2], "none");

	ck_assert_int_eq(match(&l, "xmpp certs a.key a.crt", &m, &cause),
	    CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_CERTS);
	ck_assert_int_eq(m.nargs, 2);
	ck_assert_str_eq(m.args[0], "a.key");
	ck_assert_str_eq(m.args[1], "a.crt");

	ck_assert_int_eq(match(&l, "xmpp certs a.key a.crt ca.pem", &m,
	    &cause), CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_CERTS);
	ck_assert_int_eq(m.nargs, 3);
	ck_assert_str_eq(m.args[2], "ca.pem");
	ck_assert_ptr_eq(m.args[2], l.argv[4]);

	/* A word that is a file name is one, though it starts "none". */
	ck_assert_int_eq(match(&l, "xmpp certs non x.crt", &m, &cause),
	    CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_CERTS);
	ck_assert_str_eq(m.args[0], "non");

	/* "none" as the certificate is a file name there. */
	ck_assert_int_eq(match(&l, "xmpp certs a.key none", &m, &cause),
	    CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_CERTS);
	ck_assert_str_eq(m.args[1], "none");

	ck_assert_int_eq(match(&l, "xmpp certs none a.crt", &m, &cause),
	    CMDTAB_TOOMANY);
	free(cause);
}
END_TEST

/* max_sessions takes a number or (a prefix of) unlimited. */
START_TEST(test_maxsess)
{
	struct line	 l;
	struct cmd_match m;
	char		*cause;

	ck_assert_int_eq(match(&l, "xmpp max_sessions unl", &m, &cause),
	    CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_MAXSESS_UNLIM);
	ck_assert_int_eq(m.nargs, 0);
	ck_assert_str_eq(m.words[2], "unlimited");

	ck_assert_int_eq(match(&l, "xmpp max_sessions unlimited", &m, &cause),
	    CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_MAXSESS_UNLIM);

	ck_assert_int_eq(match(&l, "xmpp max 5", &m, &cause), CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_MAXSESS);
	ck_assert_int_eq(m.nargs, 1);
	ck_assert_str_eq(m.args[0], "5");
	ck_assert_str_eq(m.words[1], "max_sessions");
}
END_TEST

/* listen takes one or more addresses. */
START_TEST(test_listen_variadic)
{
	struct line	 l;
	struct cmd_match m;
	char		*cause;

	ck_assert_int_eq(match(&l, "xmpp listen a b c", &m, &cause),
	    CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_LISTEN);
	ck_assert_int_eq(m.nwords, 5);
	ck_assert_int_eq(m.nargs, 3);
	ck_assert_str_eq(m.args[0], "a");
	ck_assert_str_eq(m.args[1], "b");
	ck_assert_str_eq(m.args[2], "c");
	ck_assert_ptr_eq(m.args[0], l.argv[2]);
	ck_assert_ptr_eq(m.args[2], l.argv[4]);

	ck_assert_int_eq(match(&l, "xmpp li eth0", &m, &cause), CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_LISTEN);
	ck_assert_int_eq(m.nargs, 1);
	ck_assert_str_eq(m.words[1], "listen");
}
END_TEST

/* xmpp and hostname alone pick the short command. */
START_TEST(test_short_commands)
{
	struct line	 l;
	struct cmd_match m;
	char		*cause;

	ck_assert_int_eq(match(&l, "xmpp", &m, &cause), CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_XMPP_STATUS);
	ck_assert_int_eq(match(&l, "hostname", &m, &cause), CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_HOSTNAME_SHOW);
	ck_assert_int_eq(match(&l, "hostname mmp1", &m, &cause), CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_HOSTNAME_SET);
	ck_assert_str_eq(m.args[0], "mmp1");
	ck_assert_int_eq(match(&l, "help", &m, &cause), CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_HELP);
	ck_assert_int_eq(m.nargs, 0);
	ck_assert_int_eq(match(&l, "help xmpp cb", &m, &cause), CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_HELP);
	ck_assert_int_eq(m.nargs, 2);
}
END_TEST

/* Check a completion list against the words expected, in order. */
#define EXPECT_LIST(list, n, ...) do {					\
	const char *want_[] = { __VA_ARGS__ };				\
	size_t i_;							\
	ck_assert_uint_eq((n), sizeof(want_) / sizeof(want_[0]));	\
	for (i_ = 0; i_ < (n); i_++)					\
		ck_assert_str_eq((list)[i_], want_[i_]);		\
} while (0)

/* Completion offers the literal words that may follow, sorted. */
START_TEST(test_complete)
{
	char	**list, *xmpp[] = { "xmpp" }, *cb[] = { "xmpp", "callbridge" };
	char	 *abbr[] = { "xm", "callb" }, *certs[] = { "xmpp", "certs" };
	size_t	  n;

	list = cmdtab_complete(1, xmpp, "c", &n);
	EXPECT_LIST(list, n, "callbridge", "certs", "cluster");
	cmdtab_free_list(list, n);

	list = cmdtab_complete(2, cb, "add", &n);
	EXPECT_LIST(list, n, "add", "add-secret");
	cmdtab_free_list(list, n);

	list = cmdtab_complete(2, cb, "", &n);
	EXPECT_LIST(list, n, "add", "add-secret", "del", "list");
	cmdtab_free_list(list, n);

	list = cmdtab_complete(2, abbr, "d", &n);
	EXPECT_LIST(list, n, "del");
	cmdtab_free_list(list, n);

	list = cmdtab_complete(2, certs, "n", &n);
	EXPECT_LIST(list, n, "none");
	cmdtab_free_list(list, n);

	list = cmdtab_complete(1, xmpp, "", &n);
	EXPECT_LIST(list, n, "callbridge", "certs", "cluster", "disable",
	    "dns", "domain", "enable", "listen", "max_sessions", "port",
	    "reset", "user");
	cmdtab_free_list(list, n);

	list = cmdtab_complete(1, xmpp, "z", &n);
	ck_assert_uint_eq(n, 0);
	cmdtab_free_list(list, n);
}
END_TEST

/* At the top level the empty partial offers every first word once. */
START_TEST(test_complete_top)
{
	char	**list;
	size_t	  n, i;
	int	  xmpp = 0, help = 0, version = 0, hostname = 0;

	list = cmdtab_complete(0, NULL, "", &n);
	ck_assert_ptr_nonnull(list);
	for (i = 0; i < n; i++) {
		if (i > 0)
			ck_assert_msg(strcmp(list[i - 1], list[i]) < 0,
			    "'%s' before '%s'", list[i - 1], list[i]);
		xmpp += strcmp(list[i], "xmpp") == 0;
		help += strcmp(list[i], "help") == 0;
		version += strcmp(list[i], "version") == 0;
		hostname += strcmp(list[i], "hostname") == 0;
	}
	ck_assert_int_eq(xmpp, 1);
	ck_assert_int_eq(help, 1);
	ck_assert_int_eq(version, 1);
	ck_assert_int_eq(hostname, 1);
	cmdtab_free_list(list, n);

	list = cmdtab_complete(0, NULL, "h", &n);
	EXPECT_LIST(list, n, "help", "hostname");
	cmdtab_free_list(list, n);
}
END_TEST

/* No candidates after words that fit nothing or end a command. */
START_TEST(test_complete_none)
{
	char	**list, *bad[] = { "bogus" }, *amb[] = { "xmpp", "c" };
	char	 *done[] = { "xmpp", "enable" };
	char	 *arg[] = { "xmpp", "callbridge", "add" };
	size_t	  n;

	n = 99;
	list = cmdtab_complete(1, bad, "", &n);
	ck_assert_ptr_null(list);
	ck_assert_uint_eq(n, 0);
	list = cmdtab_complete(2, amb, "", &n);
	ck_assert_ptr_null(list);
	ck_assert_uint_eq(n, 0);
	list = cmdtab_complete(2, done, "", &n);
	ck_assert_uint_eq(n, 0);
	cmdtab_free_list(list, n);
	/* An argument comes next: no literal words to offer. */
	list = cmdtab_complete(3, arg, "", &n);
	ck_assert_uint_eq(n, 0);
	cmdtab_free_list(list, n);
}
END_TEST

/* help lists one line per command under a prefix. */
START_TEST(test_help_prefix)
{
	struct helpout	*h;
	char		*cb[] = { "xmpp", "callbridge" };
	char		*cl[] = { "xm", "cl" };
	char		*cause = NULL;
	int		 i, shown;

	h = calloc(1, sizeof(*h));
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(cmdtab_help(2, cb, help_cb, h, &cause), 4);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(h->n, 4);
	for (i = 0; i < h->n; i++)
		ck_assert_msg(strncmp(h->lines[i], "xmpp callbridge ", 16) == 0,
		    "line '%s'", h->lines[i]);
	ck_assert_ptr_nonnull(strstr(h->lines[0],
	    "xmpp callbridge add <name>"));
	ck_assert_ptr_nonnull(strstr(h->lines[0],
	    cmdtab_helptext(CMD_CB_ADD)));
	ck_assert_ptr_nonnull(strstr(h->lines[1], "add-secret"));

	memset(h, 0, sizeof(*h));
	ck_assert_int_eq(cmdtab_help(2, cl, help_cb, h, &cause), 9);
	ck_assert_int_eq(h->n, 9);
	for (i = 0; i < h->n; i++)
		ck_assert_msg(strncmp(h->lines[i], "xmpp cluster ", 13) == 0,
		    "line '%s'", h->lines[i]);
	ck_assert_ptr_nonnull(strstr(h->lines[0], "xmpp cluster status"));

	/* Every command but the hidden ones. */
	for (i = shown = 0; i < CMD__COUNT; i++)
		if (!(cmdtab_flags((enum cmd_id)i) & CF_HIDDEN))
			shown++;
	ck_assert_int_lt(shown, CMD__COUNT);
	memset(h, 0, sizeof(*h));
	ck_assert_int_eq(cmdtab_help(0, NULL, help_cb, h, &cause), shown);
	ck_assert_int_eq(h->n, shown);
	free(h);
}
END_TEST

/*
 * A hidden command (pki names) matches but is offered nowhere; where a
 * file goes, cmdtab_wants says so.
 */
START_TEST(test_hidden_and_wants)
{
	struct cmd_match m;
	char		*names[] = { "pki", "names", "web" };
	char		*pki[] = { "pki" }, *insp[] = { "pki", "inspect" };
	char		*bundle[] = { "pki", "bundle", "out.crt" };
	char		*dom[] = { "xmpp", "domain" };
	char		**list, *cause = NULL;
	size_t		 n;

	ck_assert_int_eq(cmdtab_match(3, names, &m, &cause), CMDTAB_OK);
	ck_assert_int_eq(m.id, CMD_PKI_NAMES);
	list = cmdtab_complete(1, pki, "n", &n);
	ck_assert_uint_eq(n, 0);
	cmdtab_free_list(list, n);
	ck_assert_int_eq(cmdtab_match(1, pki, &m, &cause), CMDTAB_INCOMPLETE);
	ck_assert_ptr_null(strstr(cause, "names"));
	free(cause);
	ck_assert_int_eq(cmdtab_wants(2, insp, "file"), 1);
	ck_assert_int_eq(cmdtab_wants(3, bundle, "file"), 1);
	ck_assert_int_eq(cmdtab_wants(2, dom, "file"), 0);
	ck_assert_int_eq(cmdtab_wants(1, pki, "file"), 0);
}
END_TEST

/* One row of cmds.def as this test expands it, the handler as text. */
struct row {
	enum cmd_id	 id;
	const char	*pattern;
	int		 flags;
	const char	*handler;
};

static const struct row rows[] = {
#define CMD(id, pattern, flags, handler, help) \
	{ CMD_##id, pattern, flags, #handler },
#include "cmds.def"
#undef CMD
};

/*
 * Every row names a handler of the daemon (cmd_*), and the columns line
 * up with what cmdtab reads: the handler column is defined away without
 * shifting pattern or flags. Only the shell's own commands (exit, quit)
 * name cmd_local, the daemon's refusal.
 */
START_TEST(test_handler_column)
{
	size_t	 i;

	ck_assert_uint_eq(sizeof(rows) / sizeof(rows[0]), CMD__COUNT);
	for (i = 0; i < CMD__COUNT; i++) {
		ck_assert_int_eq(rows[i].id, (int)i);
		ck_assert_str_eq(rows[i].pattern, cmdtab_pattern(rows[i].id));
		ck_assert_int_eq(rows[i].flags, cmdtab_flags(rows[i].id));
		ck_assert_msg(strncmp(rows[i].handler, "cmd_", 4) == 0 &&
		    strlen(rows[i].handler) > 4, "%s: handler \"%s\"",
		    rows[i].pattern, rows[i].handler);
		if (strcmp(rows[i].handler, "cmd_local") == 0)
			ck_assert_msg(rows[i].flags & CF_LOCAL,
			    "%s: cmd_local but not CF_LOCAL",
			    rows[i].pattern);
	}
	ck_assert_str_eq(rows[CMD_EXIT].handler, "cmd_local");
	ck_assert_str_eq(rows[CMD_QUIT].handler, "cmd_local");
	ck_assert_str_eq(rows[CMD_HELP].handler, "cmd_help");
}
END_TEST

/* help for words that fit nothing fails with a cause. */
START_TEST(test_help_unknown)
{
	struct helpout	*h;
	char		*bad[] = { "frobnicate" }, *cause = NULL;

	h = calloc(1, sizeof(*h));
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(cmdtab_help(1, bad, help_cb, h, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_nonnull(strstr(cause, "frobnicate"));
	ck_assert_int_eq(h->n, 0);
	free(cause);
	free(h);
}
END_TEST

/* Roles: audit runs only commands that change nothing. */
START_TEST(test_roles_audit_readonly)
{
	enum cmd_id	 id = _i;
	int		 f = cmdtab_flags(id);

	if (f & CF_LOCAL)
		return;
	if (f & (CF_STATE | CF_SECRET | CF_CONFIRM))
		ck_assert_msg(!cmdtab_allowed(id, ROLE_AUDIT),
		    "audit may run %s, which changes state", cmdtab_name(id));
	ck_assert_msg(cmdtab_allowed(id, ROLE_ADMIN), "admin may not run %s",
	    cmdtab_name(id));
	ck_assert_msg(cmdtab_allowed(id, ROLE_ALL), "nobody may run %s",
	    cmdtab_name(id));
	ck_assert_msg(!cmdtab_allowed(id, 0), "an account without a role "
	    "may run %s", cmdtab_name(id));
}
END_TEST

/* Roles: crypto-admin changes state only through pki commands. */
START_TEST(test_roles_crypto_pki)
{
	enum cmd_id	 id = _i;
	int		 f = cmdtab_flags(id);

	if ((f & CF_LOCAL) || !cmdtab_allowed(id, ROLE_CRYPTO))
		return;
	if (f & CF_STATE)
		ck_assert_msg(strncmp(cmdtab_name(id), "pki ", 4) == 0,
		    "crypto-admin may run %s, which is not pki",
		    cmdtab_name(id));
}
END_TEST

/* Roles: the examples, and words for the refusal message. */
START_TEST(test_roles_examples)
{
	struct line		 l;
	struct cmd_match	 m;
	char			*cause, *s;
	int			 i;
	static const struct {
		const char	*line;
		int		 admin, crypto, audit;
	} ex[] = {
		{ "xmpp domain example.com",	1, 0, 0 },
		{ "xmpp enable",		1, 0, 0 },
		{ "xmpp callbridge add-secret cb1", 1, 0, 0 },
		{ "xmpp callbridge list",	1, 0, 0 },
		{ "xmpp cluster status",	1, 1, 1 },
		{ "xmpp user list",		1, 1, 1 },
		{ "xmpp",			1, 1, 1 },
		{ "pki csr a CN:a",		1, 1, 0 },
		{ "pki ca sign ca a.csr",	1, 1, 0 },
		{ "pki list",			1, 1, 1 },
		{ "pki inspect a.csr",		1, 1, 1 },
		{ "user list",			1, 1, 1 },
		{ "help",			1, 1, 1 },
		{ "version",			1, 1, 1 },
	};

	for (i = 0; i < (int)(sizeof(ex) / sizeof(ex[0])); i++) {
		ck_assert_int_eq(match(&l, ex[i].line, &m, &cause), CMDTAB_OK);
		ck_assert_msg(cmdtab_allowed(m.id, ROLE_ADMIN) == ex[i].admin &&
		    cmdtab_allowed(m.id, ROLE_CRYPTO) == ex[i].crypto &&
		    cmdtab_allowed(m.id, ROLE_AUDIT) == ex[i].audit,
		    "roles of \"%s\"", ex[i].line);
	}
	ck_assert_int_eq(match(&l, "xmpp domain x", &m, &cause), CMDTAB_OK);
	s = cmdtab_roles_str(cmdtab_roles_of(m.id), " or ");
	ck_assert_str_eq(s, "admin");
	free(s);
	ck_assert_int_eq(match(&l, "pki csr a CN:a", &m, &cause), CMDTAB_OK);
	s = cmdtab_roles_str(cmdtab_roles_of(m.id), " or ");
	ck_assert_str_eq(s, "crypto-admin or admin");
	free(s);
	s = cmdtab_roles_str(ROLE_ALL, " or ");
	ck_assert_str_eq(s, "audit, crypto-admin or admin");
	free(s);
	s = cmdtab_roles_str(ROLE_AUDIT | ROLE_CRYPTO, ", ");
	ck_assert_str_eq(s, "audit, crypto-admin");
	free(s);
	s = cmdtab_roles_str(0, ", ");
	ck_assert_str_eq(s, "none");
	free(s);
	for (i = 0; i < ROLE_COUNT; i++)
		ck_assert_str_eq(cmdtab_role_group(i),
		    i == 0 ? "mmp-admin" : i == 1 ? "mmp-crypto" : "mmp-audit");
}
END_TEST

/* The suite. */
static Suite *
cmdtab_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("cmdtab");

	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_table_exact, 0, CMD__COUNT);
	tcase_add_loop_test(tc, test_table_abbrev, 0, CMD__COUNT);
	tcase_add_loop_test(tc, test_table_usage, 0, CMD__COUNT);
	tcase_add_test(tc, test_usage_render);
	suite_add_tcase(s, tc);

	tc = tcase_create("prefix");
	tcase_add_test(tc, test_prefix_unique);
	tcase_add_test(tc, test_prefix_exact_wins);
	tcase_add_test(tc, test_prefix_ambiguous);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_unknown);
	tcase_add_test(tc, test_unknown_clean);
	tcase_add_test(tc, test_incomplete);
	tcase_add_test(tc, test_toomany);
	tcase_add_test(tc, test_maxwords);
	suite_add_tcase(s, tc);

	tc = tcase_create("args");
	tcase_add_test(tc, test_arg_name);
	tcase_add_test(tc, test_arg_name_blank);
	tcase_add_test(tc, test_arg_domain);
	tcase_add_test(tc, test_arg_addr);
	tcase_add_test(tc, test_arg_peer);
	tcase_add_test(tc, test_arg_file);
	tcase_add_test(tc, test_arg_int);
	tcase_add_test(tc, test_arg_port);
	tcase_add_test(tc, test_arg_word_and_type);
	suite_add_tcase(s, tc);

	tc = tcase_create("commands");
	tcase_add_test(tc, test_certs);
	tcase_add_test(tc, test_maxsess);
	tcase_add_test(tc, test_listen_variadic);
	tcase_add_test(tc, test_short_commands);
	suite_add_tcase(s, tc);

	tc = tcase_create("complete");
	tcase_add_test(tc, test_complete);
	tcase_add_test(tc, test_complete_top);
	tcase_add_test(tc, test_complete_none);
	suite_add_tcase(s, tc);

	tc = tcase_create("roles");
	tcase_add_loop_test(tc, test_roles_audit_readonly, 0, CMD__COUNT);
	tcase_add_loop_test(tc, test_roles_crypto_pki, 0, CMD__COUNT);
	tcase_add_test(tc, test_roles_examples);
	suite_add_tcase(s, tc);

	tc = tcase_create("help");
	tcase_add_test(tc, test_help_prefix);
	tcase_add_test(tc, test_help_unknown);
	tcase_add_test(tc, test_hidden_and_wants);
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_test(tc, test_handler_column);
	suite_add_tcase(s, tc);

	return (s);
}

/* Run the suite; the exit status counts failures. */
int
main(void)
{
	return (unit_run(cmdtab_suite()));
}
