/*
 * The command matcher: unique-prefix abbreviations, typed arguments,
 * completion candidates and help, all from the table in cmds.def.
 * Linked into both mmp and mmpd so that they agree on every command.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdtab.h"
#include "compat.h"
#include "xmalloc.h"

#define CMD_MAXTOK	8
#define CMD_PATLEN	128
#define HELP_WIDTH	36

struct argtype {
	const char	*name;
	int		(*check)(const char *, const char **);
};

struct tok {
	const char		*lit;		/* literal word, or NULL */
	const char		*label;		/* argument label */
	const struct argtype	*type;
	int			 opt;
	int			 var;
};

struct cmd {
	const char	*pattern;
	int		 flags;
	const char	*help;
	char		 buf[CMD_PATLEN];
	char		 name[CMD_PATLEN];	/* the literal words */
	struct tok	 toks[CMD_MAXTOK];
	int		 ntok;
	int		 nreq;
};

static int	 check_word(const char *, const char **);
static int	 check_name(const char *, const char **);
static int	 check_dns(const char *, const char **);
static int	 check_addr(const char *, const char **);
static int	 check_file(const char *, const char **);
static int	 check_user(const char *, const char **);
static int	 check_int(const char *, const char **);
static int	 check_port(const char *, const char **);
static int	 check_peer(const char *, const char **);
static void	 cmdtab_init(void);
static void	 cmdtab_parse(struct cmd *);
static const struct tok *cmdtab_tokat(const struct cmd *, int);
static int	 cmdtab_filter(int, char **, unsigned char *, const char **,
		    char **);
static char	*cmdtab_possible(const unsigned char *, int, const char *);
static char	*cmdtab_prefix(const char **, int);
static char	*cmdtab_clean(const char *);

static const struct argtype argtypes[] = {
	{ "word",	check_word },
	{ "name",	check_name },
	{ "hostname",	check_dns },
	{ "domain",	check_dns },
	{ "addr",	check_addr },
	{ "file",	check_file },
	{ "user",	check_user },
	{ "int",	check_int },
	{ "port",	check_port },
	{ "peer",	check_peer },
};

static struct cmd cmds[CMD__COUNT] = {
#define CMD(id, pattern, flags, handler, help) \
	{ pattern, flags, help, "", "", {{0}}, 0, 0 },
#include "cmds.def"
#undef CMD
};
static int	 cmds_ready;

/* Any non-empty word. */
static int
check_word(const char *s, const char **why)
{
	if (*s == '\0') {
		*why = "empty word";
		return (-1);
	}
	return (0);
}

/* Call bridge and similar names: 1 to 64 of [A-Za-z0-9_-]. */
static int
check_name(const char *s, const char **why)
{
	size_t	 n = strlen(s);

	*why = "names are 1 to 64 letters, digits, '-' or '_'";
	if (n == 0 || n > 64 || strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != n)
		return (-1);
	return (0);
}

/* A DNS name as RFC 1035 and RFC 1123 allow for host names. */
static int
check_dns(const char *s, const char **why)
{
	const char	*p, *label = s;
	size_t		 n = strlen(s);

	*why = "not a valid DNS name (dot-separated labels of 1 to 63 "
	    "letters, digits or '-', not starting or ending with '-')";
	if (n == 0 || n > 253)
		return (-1);
	for (p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63 || *label == '-' ||
			    p[-1] == '-')
				return (-1);
			if (*p == '\0')
				break;
			label = p + 1;
		} else if (!isascii((unsigned char)*p) ||
		    (!isalnum((unsigned char)*p) && *p != '-'))
			return (-1);
	}
	return (0);
}

/* An IPv4 or IPv6 literal, or something shaped like an interface name. */
static int
check_addr(const char *s, const char **why)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	size_t		 n = strlen(s);

	if (inet_pton(AF_INET, s, &a4) == 1 ||
	    inet_pton(AF_INET6, s, &a6) == 1)
		return (0);
	*why = "not an IPv4 or IPv6 address or an interface name";
	if (n == 0 || n > 15 || strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != n ||
	    strchr(s, ':') != NULL)
		return (-1);
	/* All digits and dots is a broken IPv4 address, not a name. */
	if (strspn(s, "0123456789.") == n)
		return (-1);
	return (0);
}

/* A file in the flat store: no directories, no hidden files. */
static int
check_file(const char *s, const char **why)
{
	size_t	 n = strlen(s);

	if (strchr(s, '/') != NULL) {
		*why = "file names may not contain '/': files live in the "
		    "file store";
		return (-1);
	}
	*why = "file names are 1 to 255 letters, digits, '.', '-' or '_', "
	    "not starting with '.'";
	if (n == 0 || n > 255 || s[0] == '.' || strstr(s, "..") != NULL ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != n)
		return (-1);
	return (0);
}

/* An account's localpart: what clients type before the @. */
static int
check_user(const char *s, const char **why)
{
	size_t	 n = strlen(s);

	*why = "user names are 1 to 64 letters, digits, '.', '-' or '_', "
	    "not starting with '.'";
	if (n == 0 || n > 64 || s[0] == '.' || strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-_") != n)
		return (-1);
	return (0);
}

/* A decimal number from 0 to 999999999. */
static int
check_int(const char *s, const char **why)
{
	size_t	 n = strlen(s);

	*why = "not a whole number";
	if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
		return (-1);
	return (0);
}

/* A TCP port, 1 to 65535. */
static int
check_port(const char *s, const char **why)
{
	if (check_int(s, why) == -1 || atoi(s) < 1 || atoi(s) > 65535) {
		*why = "not a port number (1 to 65535)";
		return (-1);
	}
	return (0);
}

/*
 * A cluster member: an IPv4 address with an optional :port, or an IPv6
 * address, bare or as [address]:port.
 */
static int
check_peer(const char *s, const char **why)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;
	char		 buf[64];
	const char	*colon, *end;
	size_t		 n;

	*why = "not an address[:port] (10.0.0.1, 10.0.0.1:5270, fe80::1 or "
	    "[fe80::1]:5270)";
	if (inet_pton(AF_INET6, s, &a6) == 1 || inet_pton(AF_INET, s, &a4) == 1)
		return (0);
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':' ||
		    (n = end - s - 1) == 0 || n >= sizeof(buf))
			return (-1);
		memcpy(buf, s + 1, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return (-1);
		colon = end + 1;
	} else {
		if ((colon = strchr(s, ':')) == NULL ||
		    (n = colon - s) == 0 || n >= sizeof(buf))
			return (-1);
		memcpy(buf, s, n);
		buf[n] = '\0';
		if (inet_pton(AF_INET, buf, &a4) != 1)
			return (-1);
	}
	if (check_port(colon + 1, why) == -1) {
		*why = "not an address[:port]: the port must be 1 to 65535";
		return (-1);
	}
	return (0);
}

/* Split every pattern of the table into tokens, once. */
static void
cmdtab_init(void)
{
	int	 i;

	if (cmds_ready)
		return;
	for (i = 0; i < CMD__COUNT; i++)
		cmdtab_parse(&cmds[i]);
	cmds_ready = 1;
}

/* Parse one pattern; a malformed table is a build bug and aborts. */
static void
cmdtab_parse(struct cmd *c)
{
	struct tok	*t;
	char		*p, *word, *colon, *end;
	size_t		 i;

	if (strlcpy(c->buf, c->pattern, sizeof(c->buf)) >= sizeof(c->buf))
		abort();
	p = c->buf;
	while ((word = strsep(&p, " ")) != NULL) {
		if (*word == '\0')
			continue;
		if (c->ntok == CMD_MAXTOK)
			abort();
		t = &c->toks[c->ntok++];
		if (*word != '<' && *word != '[') {
			t->lit = word;
			c->nreq++;
			if (*c->name != '\0')
				strlcat(c->name, " ", sizeof(c->name));
			strlcat(c->name, word, sizeof(c->name));
			continue;
		}
		if (*word == '[') {
			t->opt = 1;
			word++;
			if ((end = strrchr(word, ']')) == NULL)
				abort();
			*end = '\0';
		} else
			c->nreq++;
		end = word + strlen(word);
		if (end - word > 3 && strcmp(end - 3, "...") == 0) {
			t->var = 1;
			end -= 3;
			*end = '\0';
		}
		if (*word != '<' || end[-1] != '>')
			abort();
		end[-1] = '\0';
		word++;
		if ((colon = strchr(word, ':')) != NULL)
			*colon++ = '\0';
		else
			colon = word;
		t->label = word;
		for (i = 0; i < nitems(argtypes); i++)
			if (strcmp(argtypes[i].name, colon) == 0)
				t->type = &argtypes[i];
		if (t->type == NULL)
			abort();
	}
}

/* The token a command expects at word position pos, or NULL. */
static const struct tok *
cmdtab_tokat(const struct cmd *c, int pos)
{
	if (pos < c->ntok)
		return (&c->toks[pos]);
	if (c->ntok > 0 && c->toks[c->ntok - 1].var)
		return (&c->toks[c->ntok - 1]);
	return (NULL);
}

/* Make a word safe to quote in a one-line message. */
static char *
cmdtab_clean(const char *s)
{
	char	*out;
	size_t	 i, n = strlen(s);

	if (n > 64)
		n = 64;
	out = xmalloc(n + 4);
	for (i = 0; i < n; i++)
		out[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (strlen(s) > n)
		memcpy(out + i, "...", 4);
	else
		out[i] = '\0';
	return (out);
}

/* The words matched so far, joined by spaces; the caller frees. */
static char *
cmdtab_prefix(const char **words, int n)
{
	char	*s, *tmp;
	int	 i;

	s = xstrdup("");
	for (i = 0; i < n; i++) {
		xasprintf(&tmp, "%s%s%s", s, i ? " " : "", words[i]);
		free(s);
		s = tmp;
	}
	return (s);
}

/*
 * What the alive commands accept at position pos, comma-separated; with a
 * prefix, only the literal words that start with it.
 */
static char *
cmdtab_possible(const unsigned char *alive, int pos, const char *prefix)
{
	const struct tok	*t;
	char			*s, *tmp, item[64];
	int			 i, j, seen;

	s = xstrdup("");
	for (i = 0; i < CMD__COUNT; i++) {
		if (!alive[i] || (t = cmdtab_tokat(&cmds[i], pos)) == NULL ||
		    cmds[i].flags & CF_HIDDEN)
			continue;
		if (prefix != NULL && (t->lit == NULL ||
		    strncmp(t->lit, prefix, strlen(prefix)) != 0))
			continue;
		if (t->lit != NULL)
			snprintf(item, sizeof(item), "%s", t->lit);
		else
			snprintf(item, sizeof(item), "<%s>", t->label);
		/* Skip a word an earlier command already offered. */
		seen = 0;
		for (j = 0; j < i && !seen; j++) {
			const struct tok *u;

			if (!alive[j] || (u = cmdtab_tokat(&cmds[j], pos)) ==
			    NULL || cmds[j].flags & CF_HIDDEN)
				continue;
			if (u->lit != NULL && t->lit != NULL)
				seen = strcmp(u->lit, t->lit) == 0;
			else if (u->lit == NULL && t->lit == NULL)
				seen = strcmp(u->label, t->label) == 0;
		}
		if (seen)
			continue;
		xasprintf(&tmp, "%s%s%s", s, *s ? ", " : "", item);
		free(s);
		s = tmp;
	}
	return (s);
}

/*
 * Walk the words through the table, leaving alive[] set for the commands
 * that agree with all of them and words[] holding the full words. On a
 * word that fits nothing, returns a CMDTAB_ code and sets *cause.
 */
static int
cmdtab_filter(int argc, char **argv, unsigned char *alive,
    const char **words, char **cause)
{
	const struct tok	*t;
	const char		*w, *lit, *why, *badwhy;
	const struct tok	*badtok;
	char			*pre, *poss, *clean;
	size_t			 wl;
	int			 i, pos, exact, nlit, narg, argok, nofit, rc;

	cmdtab_init();
	*cause = NULL;
	for (i = 0; i < CMD__COUNT; i++)
		alive[i] = 1;
	if (argc > CMD_MAXWORDS) {
		xasprintf(cause, "too many words (at most %d)", CMD_MAXWORDS);
		return (CMDTAB_TOOMANY);
	}
	for (pos = 0; pos < argc; pos++) {
		w = argv[pos];
		wl = strlen(w);
		exact = nlit = narg = argok = nofit = 0;
		lit = NULL;
		badtok = NULL;
		badwhy = NULL;
		for (i = 0; i < CMD__COUNT; i++) {
			if (!alive[i])
				continue;
			if ((t = cmdtab_tokat(&cmds[i], pos)) == NULL) {
				nofit++;
				continue;
			}
			if (t->lit != NULL) {
				if (strcmp(t->lit, w) == 0)
					exact = 1;
				else if (wl > 0 && strncmp(t->lit, w, wl) == 0 &&
				    (lit == NULL || strcmp(lit, t->lit) != 0)) {
					if (lit == NULL || nlit == 0)
						lit = t->lit;
					nlit++;
				}
			} else {
				narg++;
				if (t->type->check(w, &why) == 0)
					argok++;
				else if (badtok == NULL) {
					badtok = t;
					badwhy = why;
				}
			}
		}
		if (exact) {
			lit = w;
			nlit = 1;
		}
		if (nlit == 1 && (exact || argok == 0)) {
			for (i = 0; i < CMD__COUNT; i++) {
				if (!alive[i])
					continue;
				t = cmdtab_tokat(&cmds[i], pos);
				if (t == NULL || t->lit == NULL ||
				    strcmp(t->lit, lit) != 0)
					alive[i] = 0;
				else
					words[pos] = t->lit;
			}
			continue;
		}
		if (argok > 0) {
			for (i = 0; i < CMD__COUNT; i++) {
				if (!alive[i])
					continue;
				t = cmdtab_tokat(&cmds[i], pos);
				if (t == NULL || t->lit != NULL ||
				    t->type->check(w, &why) != 0)
					alive[i] = 0;
			}
			words[pos] = w;
			continue;
		}

		/* The word fits nothing: say what would have. */
		pre = cmdtab_prefix(words, pos);
		poss = cmdtab_possible(alive, pos, nlit > 1 ? w : NULL);
		clean = cmdtab_clean(w);
		if (nlit > 1) {
			rc = CMDTAB_AMBIGUOUS;
			xasprintf(cause, "ambiguous word '%s'%s%s; possible: %s",
			    clean, pos ? " after " : "", pre, poss);
		} else if (badtok != NULL) {
			rc = CMDTAB_BADARG;
			xasprintf(cause, "bad <%s> '%s': %s", badtok->label,
			    clean, badwhy);
		} else if (*poss == '\0' && nofit > 0) {
			rc = CMDTAB_TOOMANY;
			xasprintf(cause, "too many words: '%s' after '%s' "
			    "which takes no more", clean, pre);
		} else {
			rc = CMDTAB_UNKNOWN;
			xasprintf(cause, "unknown word '%s'%s%s; possible: %s",
			    clean, pos ? " after " : "", pre, poss);
		}
		free(pre);
		free(poss);
		free(clean);
		return (rc);
	}
	return (CMDTAB_OK);
}

/*
 * Match argv against the table. On success fills *m (borrowing from argv
 * and the table) and returns CMDTAB_OK; otherwise returns the reason and
 * sets *cause to a one-line message for the user, which the caller frees.
 */
int
cmdtab_match(int argc, char **argv, struct cmd_match *m, char **cause)
{
	unsigned char	 alive[CMD__COUNT];
	const struct tok *t;
	char		*pre, *poss;
	int		 i, pos, rc;

	memset(m, 0, sizeof(*m));
	if ((rc = cmdtab_filter(argc, argv, alive, m->words, cause)) !=
	    CMDTAB_OK)
		return (rc);
	for (i = 0; i < CMD__COUNT; i++) {
		if (alive[i] && argc >= cmds[i].nreq && argc > 0)
			break;
	}
	if (i == CMD__COUNT) {
		pre = cmdtab_prefix(m->words, argc);
		poss = cmdtab_possible(alive, argc, NULL);
		if (argc == 0)
			xasprintf(cause, "no command given; possible: %s",
			    poss);
		else
			xasprintf(cause, "incomplete command '%s'; "
			    "possible next: %s", pre, poss);
		free(pre);
		free(poss);
		return (CMDTAB_INCOMPLETE);
	}
	m->id = (enum cmd_id)i;
	m->flags = cmds[i].flags;
	m->nwords = argc;
	for (pos = 0; pos < argc; pos++) {
		t = cmdtab_tokat(&cmds[i], pos);
		if (t->lit == NULL)
			m->args[m->nargs++] = m->words[pos];
	}
	return (CMDTAB_OK);
}

/*
 * The literal words that may follow argv and start with partial, sorted
 * and without repeats. The caller frees the list with cmdtab_free_list.
 */
char **
cmdtab_complete(int argc, char **argv, const char *partial, size_t *n)
{
	unsigned char	 alive[CMD__COUNT];
	const char	*words[CMD_MAXWORDS];
	const struct tok *t;
	char		**list = NULL, *cause;
	size_t		 j, pl = strlen(partial);
	int		 i, dup;

	*n = 0;
	if (cmdtab_filter(argc, argv, alive, words, &cause) != CMDTAB_OK) {
		free(cause);
		return (NULL);
	}
	for (i = 0; i < CMD__COUNT; i++) {
		if (!alive[i] || (t = cmdtab_tokat(&cmds[i], argc)) == NULL ||
		    t->lit == NULL || strncmp(t->lit, partial, pl) != 0)
			continue;
		if ((cmds[i].flags & CF_LOCAL && argc > 0) ||
		    cmds[i].flags & CF_HIDDEN)
			continue;
		for (dup = 0, j = 0; j < *n && !dup; j++)
			dup = strcmp(list[j], t->lit) == 0;
		if (dup)
			continue;
		list = xreallocarray(list, *n + 1, sizeof(*list));
		list[(*n)++] = xstrdup(t->lit);
	}
	/* Insertion sort: the lists are a handful of words. */
	for (j = 1; j < *n; j++) {
		char	*tmp = list[j];
		size_t	 k = j;

		while (k > 0 && strcmp(list[k - 1], tmp) > 0) {
			list[k] = list[k - 1];
			k--;
		}
		list[k] = tmp;
	}
	return (list);
}

/*
 * Whether a command that is not hidden takes an argument of the type
 * named typename right after the words argc/argv: where completion must
 * offer values the table does not know (file-store names).
 */
int
cmdtab_wants(int argc, char **argv, const char *typename)
{
	unsigned char	 alive[CMD__COUNT];
	const char	*words[CMD_MAXWORDS];
	const struct tok *t;
	char		*cause;
	int		 i;

	if (cmdtab_filter(argc, argv, alive, words, &cause) != CMDTAB_OK) {
		free(cause);
		return (0);
	}
	for (i = 0; i < CMD__COUNT; i++) {
		if (!alive[i] || cmds[i].flags & CF_HIDDEN ||
		    (t = cmdtab_tokat(&cmds[i], argc)) == NULL)
			continue;
		if (t->lit == NULL && t->type != NULL &&
		    strcmp(t->type->name, typename) == 0)
			return (1);
	}
	return (0);
}

/* Free a list from cmdtab_complete. */
void
cmdtab_free_list(char **list, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/*
 * Print, through cb, one line of usage and help for every command that
 * starts with the given (possibly abbreviated) words. Returns the number
 * of lines, or -1 with *cause set when the words fit no command.
 */
int
cmdtab_help(int argc, char **argv, cmdtab_print_cb cb, void *arg,
    char **cause)
{
	unsigned char	 alive[CMD__COUNT];
	const char	*words[CMD_MAXWORDS];
	char		*usage, *line;
	int		 i, n = 0;

	if (cmdtab_filter(argc, argv, alive, words, cause) != CMDTAB_OK)
		return (-1);
	for (i = 0; i < CMD__COUNT; i++) {
		if (!alive[i] || cmds[i].flags & CF_HIDDEN)
			continue;
		usage = cmdtab_usage((enum cmd_id)i);
		if (strlen(usage) < HELP_WIDTH)
			xasprintf(&line, "%-*s %s", HELP_WIDTH, usage,
			    cmds[i].help);
		else
			xasprintf(&line, "%s\n%-*s %s", usage, HELP_WIDTH, "",
			    cmds[i].help);
		cb(arg, line);
		free(line);
		free(usage);
		n++;
	}
	return (n);
}

/* The raw pattern of a command, as written in cmds.def. */
const char *
cmdtab_pattern(enum cmd_id id)
{
	return (cmds[id].pattern);
}

/* The literal words of a command ("xmpp callbridge add"), for messages. */
const char *
cmdtab_name(enum cmd_id id)
{
	cmdtab_init();
	return (cmds[id].name);
}

/* The one-line help of a command. */
const char *
cmdtab_helptext(enum cmd_id id)
{
	return (cmds[id].help);
}

/* The CF_ flags of a command. */
int
cmdtab_flags(enum cmd_id id)
{
	return (cmds[id].flags);
}

/* Role names and the system group that grants each, in ROLE_ bit order. */
static const struct {
	int		 bit;
	const char	*name;
	const char	*group;
} roles[ROLE_COUNT] = {
	{ ROLE_ADMIN, "admin", ROLE_GROUP_ADMIN },
	{ ROLE_CRYPTO, "crypto-admin", ROLE_GROUP_CRYPTO },
	{ ROLE_AUDIT, "audit", ROLE_GROUP_AUDIT },
};

/* The roles that may run a command (every role for shell commands). */
int
cmdtab_roles_of(enum cmd_id id)
{
	int	 f = cmds[id].flags, r = ROLE_ADMIN;

	if (f & CF_LOCAL)
		return (ROLE_ALL);
	if (f & CF_CRYPTO)
		r |= ROLE_CRYPTO;
	if (f & CF_AUDIT)
		r |= ROLE_AUDIT;
	return (r);
}

/* Whether an account holding the role set may run a command. */
int
cmdtab_allowed(enum cmd_id id, int have)
{
	return ((cmdtab_roles_of(id) & have) != 0);
}

/*
 * A role set as words for people, the narrowest role first, the last two
 * joined by last (" or " for who may, ", " for who has): "admin",
 * "crypto-admin or admin", "none". The caller frees.
 */
char *
cmdtab_roles_str(int set, const char *last)
{
	char	*s = NULL, *t;
	int	 i, n = 0, k = 0;

	for (i = 0; i < ROLE_COUNT; i++)
		if (set & roles[i].bit)
			n++;
	if (n == 0)
		return (xstrdup("none"));
	for (i = ROLE_COUNT - 1; i >= 0; i--) {
		if ((set & roles[i].bit) == 0)
			continue;
		k++;
		if (s == NULL)
			s = xstrdup(roles[i].name);
		else {
			xasprintf(&t, "%s%s%s", s, k == n ? last : ", ",
			    roles[i].name);
			free(s);
			s = t;
		}
	}
	return (s);
}

/* The ROLE_ bit of the i-th role (0 <= i < ROLE_COUNT). */
int
cmdtab_role_bit(int i)
{
	return (roles[i].bit);
}

/* The name of the i-th role. */
const char *
cmdtab_role_name(int i)
{
	return (roles[i].name);
}

/* The system group that grants the i-th role. */
const char *
cmdtab_role_group(int i)
{
	return (roles[i].group);
}

/* The pattern as users read it (labels, no types); the caller frees. */
char *
cmdtab_usage(enum cmd_id id)
{
	const struct tok	*t;
	char			*s, *tmp;
	int			 i;

	cmdtab_init();
	s = xstrdup("");
	for (i = 0; i < cmds[id].ntok; i++) {
		t = &cmds[id].toks[i];
		if (t->lit != NULL)
			xasprintf(&tmp, "%s%s%s", s, i ? " " : "", t->lit);
		else
			xasprintf(&tmp, "%s%s%s<%s>%s%s", s, i ? " " : "",
			    t->opt ? "[" : "", t->label, t->var ? "..." : "",
			    t->opt ? "]" : "");
		free(s);
		s = tmp;
	}
	return (s);
}

/*
 * Check a value against a named argument type (as in cmds.def). Returns 0,
 * or -1 with *cause set to a message the caller frees.
 */
int
cmdtab_check_arg(const char *type, const char *value, char **cause)
{
	const char	*why;
	char		*clean;
	size_t		 i;

	for (i = 0; i < nitems(argtypes); i++) {
		if (strcmp(argtypes[i].name, type) != 0)
			continue;
		if (argtypes[i].check(value, &why) == 0)
			return (0);
		clean = cmdtab_clean(value);
		xasprintf(cause, "bad %s '%s': %s", type, clean, why);
		free(clean);
		return (-1);
	}
	xasprintf(cause, "unknown argument type %s", type);
	return (-1);
}
