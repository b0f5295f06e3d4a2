/*
 * Client sessions of the replicated state machine (the Raft
 * dissertation, section 6.3): every entry is applied once, however often
 * it reaches the log.
 *
 * A node opens a session with the entry "session-open <id>" (16 hex
 * digits, random per process) and then puts each entry into the log
 * wrapped in an envelope, one line:
 *
 *	@<id>:<serial>:<lo>	<entry>
 *
 * serial numbers the node's commands in that session (from 1, never
 * reused; a retry keeps its serial); lo is the lowest serial the node has
 * not finished yet (all below it it will never send again). The state
 * keeps, per session, lo and the result of every serial at or above it
 * that was applied; an entry whose serial is among them, or below lo, is
 * not applied again. An entry of a session the state does not know (never
 * opened, or expired) is not applied at all: a submitter learns so from
 * cfsm_session_result and fails its command.
 *
 * Expiry is deterministic, counted in session entries (session-open and
 * envelopes, the "tick"): a session that put no entry into the last
 * CFSM_SESSION_IDLE of them is gone, and opening one more than
 * CFSM_SESSIONS_MAX drops the one idle longest. A session keeps at most
 * CFSM_SESSION_WINDOW results; past that the lowest goes and lo passes
 * it (a submitter keeps fewer commands than that unfinished).
 *
 * In a snapshot ("cfsm 5", fsm_snap.c) the state is the lines
 *
 *	tick	<n>
 *	session	<id>	<last tick>	<lo>	<serial>:<result>,... or -
 */
#include <sys/tree.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/fsm_int.h"
#include "log.h"
#include "xmalloc.h"

static int	 cfsm_sess_cmp(struct cfsm_sess *, struct cfsm_sess *);
static int	 cfsm_u64_parse(const char *, int, uint64_t *);
static struct cfsm_sess *cfsm_sess_live(const struct cfsm_state *,
		    uint64_t);
static void	 cfsm_sess_free(struct cfsm_state *, struct cfsm_sess *);
static void	 cfsm_sess_lo(struct cfsm_sess *, uint64_t);
static struct cfsm_served *cfsm_sess_served(const struct cfsm_sess *,
		    uint64_t);

RB_GENERATE(cfsm_sess_tree, cfsm_sess, entry, cfsm_sess_cmp);

/* Sessions are ordered by id. */
static int
cfsm_sess_cmp(struct cfsm_sess *a, struct cfsm_sess *b)
{
	return (a->id < b->id ? -1 : a->id > b->id);
}

/* A number in base 10 or 16 (no sign, no prefix), or -1. */
static int
cfsm_u64_parse(const char *s, int base, uint64_t *v)
{
	unsigned long long	 n;
	char			*end;

	if (strspn(s, base == 16 ? "0123456789abcdef" : "0123456789") !=
	    strlen(s) || *s == '\0' || strlen(s) > 20)
		return (-1);
	errno = 0;
	n = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0')
		return (-1);
	*v = n;
	return (0);
}

/* Whether s is a session id: 16 lowercase hex digits, not all 0. */
int
cfsm_sess_id_parse(const char *s, uint64_t *id)
{
	if (strlen(s) != 16 || cfsm_u64_parse(s, 16, id) == -1 || *id == 0)
		return (-1);
	return (0);
}

/* Free every session of st. */
void
cfsm_sess_clear(struct cfsm_state *st)
{
	struct cfsm_sess	*s, *next;

	RB_FOREACH_SAFE(s, cfsm_sess_tree, &st->sessions, next)
		cfsm_sess_free(st, s);
	st->tick = 0;
}

/* Take session s out of st and free it. */
static void
cfsm_sess_free(struct cfsm_state *st, struct cfsm_sess *s)
{
	RB_REMOVE(cfsm_sess_tree, &st->sessions, s);
	st->nsessions--;
	free(s->served);
	free(s);
}

/* Session id if it is open and not expired (borrowed), or NULL. */
static struct cfsm_sess *
cfsm_sess_live(const struct cfsm_state *st, uint64_t id)
{
	struct cfsm_sess_tree	*head;
	struct cfsm_sess	 key, *s;

	head = (struct cfsm_sess_tree *)(uintptr_t)&st->sessions;
	key.id = id;
	if ((s = RB_FIND(cfsm_sess_tree, head, &key)) == NULL ||
	    st->tick - s->last > CFSM_SESSION_IDLE)
		return (NULL);
	return (s);
}

/* The result of serial in s, or NULL. */
static struct cfsm_served *
cfsm_sess_served(const struct cfsm_sess *s, uint64_t serial)
{
	size_t	 i;

	for (i = 0; i < s->nserved; i++)
		if (s->served[i].serial == serial)
			return (&s->served[i]);
	return (NULL);
}

/* Raise s's lo to lo (never lower it) and drop the results below it. */
static void
cfsm_sess_lo(struct cfsm_sess *s, uint64_t lo)
{
	size_t	 i, n = 0;

	if (lo <= s->lo)
		return;
	s->lo = lo;
	for (i = 0; i < s->nserved; i++)
		if (s->served[i].serial >= lo)
			s->served[n++] = s->served[i];
	s->nserved = n;
}

/*
 * Apply session-open id: a new session, or a known one kept alive. 1 if
 * st changed (it always does: the tick moves).
 */
int
cfsm_sess_open(struct cfsm_state *st, uint64_t id)
{
	struct cfsm_sess	*s, *old, *next;

	st->tick++;
	if ((s = cfsm_sess_live(st, id)) != NULL) {
		s->last = st->tick;
		return (1);
	}
	/* Expired ones first, then the one idle longest, if full. */
	RB_FOREACH_SAFE(s, cfsm_sess_tree, &st->sessions, next)
		if (s->id == id || st->tick - s->last > CFSM_SESSION_IDLE)
			cfsm_sess_free(st, s);
	if (st->nsessions >= CFSM_SESSIONS_MAX) {
		old = NULL;
		RB_FOREACH(s, cfsm_sess_tree, &st->sessions)
			if (old == NULL || s->last < old->last)
				old = s;
		log_info("cfsm_sess_open: session %016" PRIx64 " expired: "
		    "more than %d sessions", old->id, CFSM_SESSIONS_MAX);
		cfsm_sess_free(st, old);
	}
	s = xcalloc(1, sizeof(*s));
	s->id = id;
	s->last = st->tick;
	s->lo = 1;
	RB_INSERT(cfsm_sess_tree, &st->sessions, s);
	st->nsessions++;
	return (1);
}

/*
 * Split an envelope off line (writable; starts with '@'; its prefix is
 * cut up): its session, serial and lo in env, *inner pointing at the
 * entry after the tab. 0, or -1 with *cause set.
 */
int
cfsm_env_split(char *line, struct cfsm_env *env, char **inner,
    const char **cause)
{
	char	*p, *f[3];
	int	 n = 0;

	if (line[0] != '@' || (p = strchr(line, '\t')) == NULL) {
		*cause = "bad envelope";
		return (-1);
	}
	*p = '\0';
	*inner = p + 1;
	p = line + 1;
	while (n < 3 && (f[n] = strsep(&p, ":")) != NULL)
		n++;
	if (n != 3 || p != NULL || cfsm_sess_id_parse(f[0], &env->id) == -1 ||
	    cfsm_u64_parse(f[1], 10, &env->serial) == -1 ||
	    cfsm_u64_parse(f[2], 10, &env->lo) == -1 || env->serial == 0 ||
	    env->lo == 0 || env->lo > env->serial) {
		*cause = "bad envelope";
		return (-1);
	}
	return (0);
}

/*
 * Whether the command in env is to be applied now: CFSM_R_NEW, or why
 * not (CFSM_R_DUP: its serial was applied; CFSM_R_STALE: below lo;
 * CFSM_R_NOSESSION). Counts as the session's entry either way.
 */
int
cfsm_sess_admit(struct cfsm_state *st, const struct cfsm_env *env)
{
	struct cfsm_sess	*s;

	st->tick++;
	if ((s = cfsm_sess_live(st, env->id)) == NULL)
		return (CFSM_R_NOSESSION);
	s->last = st->tick;
	cfsm_sess_lo(s, env->lo);
	if (cfsm_sess_served(s, env->serial) != NULL)
		return (CFSM_R_DUP);
	if (env->serial < s->lo)
		return (CFSM_R_STALE);
	return (CFSM_R_NEW);
}

/* Record the result of a command cfsm_sess_admit let through. */
void
cfsm_sess_record(struct cfsm_state *st, const struct cfsm_env *env,
    int result)
{
	struct cfsm_sess	*s;
	size_t			 i, low;

	if ((s = cfsm_sess_live(st, env->id)) == NULL)
		return;
	if (s->nserved >= CFSM_SESSION_WINDOW) {
		low = 0;
		for (i = 1; i < s->nserved; i++)
			if (s->served[i].serial < s->served[low].serial)
				low = i;
		cfsm_sess_lo(s, s->served[low].serial + 1);
	}
	s->served = xreallocarray(s->served, s->nserved + 1,
	    sizeof(*s->served));
	s->served[s->nserved].serial = env->serial;
	s->served[s->nserved].result = result;
	s->nserved++;
}

/* Whether session id is open (and not expired) in c's state. */
int
cfsm_session_known(const struct cfsm *c, uint64_t id)
{
	return (cfsm_sess_live(&c->st, id) != NULL);
}

/*
 * What became of command serial of session id, as far as c has applied:
 * CFSM_R_APPLIED or CFSM_R_BAD (its cached result), CFSM_R_NOSESSION,
 * CFSM_R_STALE (below lo and no result kept), or CFSM_R_PENDING (not
 * applied yet).
 */
int
cfsm_session_result(const struct cfsm *c, uint64_t id, uint64_t serial)
{
	struct cfsm_sess	*s;
	struct cfsm_served	*r;

	if ((s = cfsm_sess_live(&c->st, id)) == NULL)
		return (CFSM_R_NOSESSION);
	if ((r = cfsm_sess_served(s, serial)) != NULL)
		return (r->result);
	if (serial < s->lo)
		return (CFSM_R_STALE);
	return (CFSM_R_PENDING);
}

/* What a result means, for a log line or a user. */
const char *
cfsm_result_str(int result)
{
	switch (result) {
	case CFSM_R_APPLIED:
		return ("applied");
	case CFSM_R_BAD:
		return ("the cluster could not apply that change");
	case CFSM_R_NOSESSION:
		return ("this node's session with the cluster expired; "
		    "the change was not made");
	case CFSM_R_STALE:
		return ("the change is older than this node's session keeps; "
		    "it was not made");
	case CFSM_R_PENDING:
		return ("not applied yet");
	case CFSM_R_REFUSED:
		return ("refused: no such account, or its offline store is "
		    "full");
	}
	return ("unknown result");
}

/* The entry that opens session id. */
char *
cfsm_enc_session(uint64_t id)
{
	char	*s;

	if (id == 0)
		return (NULL);
	xasprintf(&s, "session-open\t%016" PRIx64, id);
	return (s);
}

/*
 * entry wrapped in session id's envelope as command serial, with lo the
 * lowest unfinished serial; NULL if that would be malformed.
 */
char *
cfsm_enc_once(uint64_t id, uint64_t serial, uint64_t lo, const char *entry)
{
	char	*s;

	if (id == 0 || serial == 0 || lo == 0 || lo > serial ||
	    entry == NULL || entry[0] == '@' || strchr(entry, '\n') != NULL)
		return (NULL);
	xasprintf(&s, "@%016" PRIx64 ":%" PRIu64 ":%" PRIu64 "\t%s", id,
	    serial, lo, entry);
	return (s);
}

/* Append st's sessions to a snapshot: the tick, then a line each. */
void
cfsm_sess_snap(const struct cfsm_state *st, struct cfsm_buf *b)
{
	struct cfsm_sess	*s;
	char			 line[128];
	size_t			 i;

	snprintf(line, sizeof(line), "tick\t%" PRIu64 "\n", st->tick);
	cfsm_buf_add(b, line);
	RB_FOREACH(s, cfsm_sess_tree,
	    (struct cfsm_sess_tree *)(uintptr_t)&st->sessions) {
		snprintf(line, sizeof(line), "session\t%016" PRIx64 "\t%"
		    PRIu64 "\t%" PRIu64 "\t", s->id, s->last, s->lo);
		cfsm_buf_add(b, line);
		if (s->nserved == 0)
			cfsm_buf_add(b, "-");
		for (i = 0; i < s->nserved; i++) {
			snprintf(line, sizeof(line), "%s%" PRIu64 ":%d",
			    i > 0 ? "," : "", s->served[i].serial,
			    s->served[i].result);
			cfsm_buf_add(b, line);
		}
		cfsm_buf_add(b, "\n");
	}
}

/*
 * Load one snapshot line of cfsm_sess_snap (writable) into st: 1 if it
 * was one, 0 if it is another kind of line, -1 with *cause if bad.
 */
int
cfsm_sess_load(struct cfsm_state *st, char *line, const char **cause)
{
	struct cfsm_sess	*s, key;
	char			*f[5], *p = line, *item, *colon;
	uint64_t		 serial, res;
	int			 n = 0;

	if (strncmp(line, "tick\t", 5) == 0) {
		if (cfsm_u64_parse(line + 5, 10, &st->tick) == -1) {
			*cause = "bad tick";
			return (-1);
		}
		return (1);
	}
	if (strncmp(line, "session\t", 8) != 0)
		return (0);
	while (n < 5 && (f[n] = strsep(&p, "\t")) != NULL)
		n++;
	s = xcalloc(1, sizeof(*s));
	if (n != 5 || p != NULL || cfsm_sess_id_parse(f[1], &s->id) == -1 ||
	    cfsm_u64_parse(f[2], 10, &s->last) == -1 ||
	    cfsm_u64_parse(f[3], 10, &s->lo) == -1 || s->lo == 0 ||
	    s->last > st->tick)
		goto bad;
	key.id = s->id;
	if (RB_FIND(cfsm_sess_tree, &st->sessions, &key) != NULL ||
	    st->nsessions >= CFSM_SESSIONS_MAX)
		goto bad;
	p = f[4];
	if (strcmp(p, "-") != 0) {
		while ((item = strsep(&p, ",")) != NULL) {
			if ((colon = strchr(item, ':')) == NULL)
				goto bad;
			*colon = '\0';
			if (cfsm_u64_parse(item, 10, &serial) == -1 ||
			    cfsm_u64_parse(colon + 1, 10, &res) == -1 ||
			    serial < s->lo || (res != CFSM_R_APPLIED &&
			    res != CFSM_R_BAD && res != CFSM_R_REFUSED) ||
			    cfsm_sess_served(s, serial) != NULL ||
			    s->nserved >= CFSM_SESSION_WINDOW)
				goto bad;
			s->served = xreallocarray(s->served, s->nserved + 1,
			    sizeof(*s->served));
			s->served[s->nserved].serial = serial;
			s->served[s->nserved].result = (int)res;
			s->nserved++;
		}
	}
	RB_INSERT(cfsm_sess_tree, &st->sessions, s);
	st->nsessions++;
	return (1);
bad:
	free(s->served);
	free(s);
	*cause = "bad session line";
	return (-1);
}
