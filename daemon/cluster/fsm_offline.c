/*
 * Offline messages (XEP-0160) in the replicated state machine: what
 * every member stores of each account, so that any member delivers them
 * and a snapshot carries them. The entries (fsm_codec.c):
 *
 *	offline-put	owner	stanza
 *	offline-del	owner	id
 *
 * offline-put gives owner's message the next id of the whole state (the
 * "offline seq", from 1): so every member numbers it alike. It is
 * refused (CFSM_R_REFUSED for the submitter) when owner is no account of
 * the state, or owner has DB_OFFLINE_MAX_MSGS messages, or their bytes
 * with this one would pass DB_OFFLINE_MAX_BYTES: the caps are decided
 * here, in log order, whatever the submitter checked before.
 * offline-del removes owner's messages up to and including id (those
 * delivered); user-del removes them all.
 *
 * The stanza is the message as serialised, escaped so that it holds no
 * tab, CR or LF: "%" is "%25", tab "%09", LF "%0A", CR "%0D", and no
 * other "%" sequence is allowed (cfsm_off_esc, cfsm_off_unesc). Bytes
 * are counted unescaped, as the database stores them.
 *
 * In a snapshot ("cfsm 6", fsm_snap.c) after all that "cfsm 5" holds:
 *
 *	offline-seq	<last id given>
 *	offline	owner	id	stanza		(one a message, by owner and id)
 */
#include <sys/tree.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/fsm_int.h"
#include "db.h"
#include "xmalloc.h"

static int	 cfsm_off_cmp(struct cfsm_off *, struct cfsm_off *);
static void	 cfsm_off_free(struct cfsm_state *, struct cfsm_off *);
static struct cfsm_off *cfsm_off_first(const struct cfsm_state *,
		    const char *);
static int	 cfsm_off_id_parse(const char *, uint64_t *);

RB_GENERATE(cfsm_off_tree, cfsm_off, entry, cfsm_off_cmp);

/* Messages are ordered by owner, then id. */
static int
cfsm_off_cmp(struct cfsm_off *a, struct cfsm_off *b)
{
	int	 d;

	if ((d = strcmp(a->owner, b->owner)) != 0)
		return (d);
	return (a->id < b->id ? -1 : a->id > b->id);
}

/* An id: decimal, not 0, fits 63 bits (a database integer). 0 or -1. */
static int
cfsm_off_id_parse(const char *s, uint64_t *id)
{
	uint64_t	 v = 0;
	size_t		 i;

	if (*s == '\0' || *s == '0' || strlen(s) > 18 ||
	    strspn(s, "0123456789") != strlen(s))
		return (-1);
	for (i = 0; s[i] != '\0'; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	*id = v;
	return (0);
}

/* Whether s is a stanza as cfsm_off_esc writes it (and not empty). */
int
cfsm_off_esc_ok(const char *s)
{
	if (*s == '\0')
		return (0);
	for (; *s != '\0'; s++) {
		if (*s != '%')
			continue;
		if (strncmp(s, "%25", 3) != 0 && strncmp(s, "%09", 3) != 0 &&
		    strncmp(s, "%0A", 3) != 0 && strncmp(s, "%0D", 3) != 0)
			return (0);
		s += 2;
	}
	return (1);
}

/* A stanza escaped for the log (no tab, CR or LF); the caller frees. */
char *
cfsm_off_esc(const char *s)
{
	struct cfsm_buf	 b = { NULL, 0, 0 };
	char		 one[2] = { 0, 0 };

	cfsm_buf_add(&b, "");
	for (; *s != '\0'; s++) {
		if (*s == '%')
			cfsm_buf_add(&b, "%25");
		else if (*s == '\t')
			cfsm_buf_add(&b, "%09");
		else if (*s == '\n')
			cfsm_buf_add(&b, "%0A");
		else if (*s == '\r')
			cfsm_buf_add(&b, "%0D");
		else {
			one[0] = *s;
			cfsm_buf_add(&b, one);
		}
	}
	return (b.p);
}

/* The stanza an escaped one stands for (the caller frees), or NULL. */
char *
cfsm_off_unesc(const char *s)
{
	char	*out, *o;

	if (!cfsm_off_esc_ok(s))
		return (NULL);
	o = out = xmalloc(strlen(s) + 1);
	for (; *s != '\0'; s++) {
		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		*o++ = s[2] == '5' ? '%' : s[2] == '9' ? '\t' :
		    s[2] == 'A' ? '\n' : '\r';
		s += 2;
	}
	*o = '\0';
	return (out);
}

/* The bytes of an escaped stanza once unescaped. */
size_t
cfsm_off_len(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++, n++)
		if (*s == '%')
			s += 2;
	return (n);
}

/* owner's first message (lowest id), or NULL. */
static struct cfsm_off *
cfsm_off_first(const struct cfsm_state *st, const char *owner)
{
	struct cfsm_off_tree	*head;
	struct cfsm_off		 key, *o;

	head = (struct cfsm_off_tree *)(uintptr_t)&st->offline;
	key.owner = (char *)(uintptr_t)owner;
	key.id = 0;
	o = RB_NFIND(cfsm_off_tree, head, &key);
	if (o == NULL || strcmp(o->owner, owner) != 0)
		return (NULL);
	return (o);
}

/* Take message o out of st and free it. */
static void
cfsm_off_free(struct cfsm_state *st, struct cfsm_off *o)
{
	RB_REMOVE(cfsm_off_tree, &st->offline, o);
	free(o->owner);
	free(o->stanza);
	free(o);
}

/* How many messages owner has and their bytes (unescaped). */
void
cfsm_off_count(const struct cfsm_state *st, const char *owner, int *n,
    size_t *bytes)
{
	struct cfsm_off	*o;

	*n = 0;
	*bytes = 0;
	for (o = cfsm_off_first(st, owner);
	    o != NULL && strcmp(o->owner, owner) == 0;
	    o = RB_NEXT(cfsm_off_tree, NULL, o)) {
		(*n)++;
		*bytes += o->len;
	}
}

/*
 * Store owner's message as id (a snapshot's) or, id 0, as the next one
 * within the caps (an entry's). The id it took, or 0 if refused.
 */
uint64_t
cfsm_off_put(struct cfsm_state *st, const char *owner, uint64_t id,
    const char *stanza)
{
	struct cfsm_off	*o;
	size_t		 bytes, len = cfsm_off_len(stanza);
	int		 n;

	if (cfsm_state_user(st, owner) == NULL)
		return (0);
	if (id == 0) {
		cfsm_off_count(st, owner, &n, &bytes);
		if (n >= DB_OFFLINE_MAX_MSGS ||
		    bytes + len > DB_OFFLINE_MAX_BYTES)
			return (0);
		id = ++st->off_seq;
	}
	o = xcalloc(1, sizeof(*o));
	o->owner = xstrdup(owner);
	o->id = id;
	o->stanza = xstrdup(stanza);
	o->len = len;
	if (RB_INSERT(cfsm_off_tree, &st->offline, o) != NULL) {
		free(o->owner);
		free(o->stanza);
		free(o);
		return (0);
	}
	return (id);
}

/* Remove owner's messages up to and including id; 1 if any went. */
int
cfsm_off_del(struct cfsm_state *st, const char *owner, uint64_t id)
{
	struct cfsm_off	*o, *next;
	int		 changed = 0;

	for (o = cfsm_off_first(st, owner);
	    o != NULL && strcmp(o->owner, owner) == 0 && o->id <= id;
	    o = next) {
		next = RB_NEXT(cfsm_off_tree, &st->offline, o);
		cfsm_off_free(st, o);
		changed = 1;
	}
	return (changed);
}

/* Free every message of st and zero the seq. */
void
cfsm_off_clear(struct cfsm_state *st)
{
	struct cfsm_off	*o, *next;

	RB_FOREACH_SAFE(o, cfsm_off_tree, &st->offline, next)
		cfsm_off_free(st, o);
	st->off_seq = 0;
}

/* Append the seq and every message to a snapshot being written. */
void
cfsm_off_snap(const struct cfsm_state *st, struct cfsm_buf *b)
{
	struct cfsm_off	*o;
	char		 line[64];

	snprintf(line, sizeof(line), "offline-seq\t%" PRIu64 "\n",
	    st->off_seq);
	cfsm_buf_add(b, line);
	RB_FOREACH(o, cfsm_off_tree,
	    (struct cfsm_off_tree *)(uintptr_t)&st->offline) {
		snprintf(line, sizeof(line), "\t%" PRIu64 "\t", o->id);
		cfsm_buf_add(b, "offline\t");
		cfsm_buf_add(b, o->owner);
		cfsm_buf_add(b, line);
		cfsm_buf_add(b, o->stanza);
		cfsm_buf_add(b, "\n");
	}
}

/*
 * Load one snapshot line of cfsm_off_snap (writable) into st: 1 if it was
 * one, 0 if it is another kind of line, -1 with *cause if bad. The seq
 * comes first; a message's account before it, its id at most the seq.
 */
int
cfsm_off_load(struct cfsm_state *st, char *line, const char **cause)
{
	char		*f[4], *p = line;
	uint64_t	 id;
	int		 n = 0;

	if (strncmp(line, "offline-seq\t", 12) == 0) {
		if (st->off_seq != 0 || !RB_EMPTY(&st->offline) ||
		    cfsm_off_id_parse(line + 12, &st->off_seq) == -1) {
			*cause = "bad offline-seq";
			return (-1);
		}
		return (1);
	}
	if (strncmp(line, "offline\t", 8) != 0)
		return (0);
	while (n < 4 && (f[n] = strsep(&p, "\t")) != NULL)
		n++;
	if (n != 4 || p != NULL || *f[1] == '\0' ||
	    cfsm_off_id_parse(f[2], &id) == -1 || id > st->off_seq ||
	    !cfsm_off_esc_ok(f[3])) {
		*cause = "bad offline line";
		return (-1);
	}
	if (cfsm_off_put(st, f[1], id, f[3]) == 0) {
		*cause = "offline message of no account, or twice";
		return (-1);
	}
	return (1);
}

/*
 * owner's messages, each as (id, escaped stanza) to fn with arg, in the
 * order of id (a restore hands them to the sink).
 */
void
cfsm_off_each(const struct cfsm_state *st,
    void (*fn)(void *, const char *, uint64_t, const char *), void *arg)
{
	struct cfsm_off	*o;

	RB_FOREACH(o, cfsm_off_tree,
	    (struct cfsm_off_tree *)(uintptr_t)&st->offline)
		fn(arg, o->owner, o->id, o->stanza);
}

/* How many messages owner has in the replicated state. */
int
cfsm_offline_count(const struct cfsm *c, const char *owner)
{
	size_t	 bytes;
	int	 n;

	cfsm_off_count(&c->st, owner, &n, &bytes);
	return (n);
}
