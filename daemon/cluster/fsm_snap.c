/*
 * Snapshots of the replicated state machine (fsm.c holds the state, the
 * lines are entries as fsm_codec.c spells them), and the pins a node
 * keeps for a restart.
 *
 * A snapshot is the header line "cfsm 3" if the state holds timers or a
 * published node, else "cfsm 2" if any member is pinned, else "cfsm 1"
 * (the formats before timers and before pins, still written and read:
 * a state that has neither is written as before), then one
 * "init" line if the cluster has one, one "member" line per pinned node
 * (at least one after "cfsm 2", none after "cfsm 1"), one "user-set"
 * line per account, one "digest-set" line per digest, one "roster-set"
 * line per roster item, and after "cfsm 3" at most one "timers" line and
 * one "published" line per published node, each ending in LF. After
 * "cfsm 3" member lines are allowed but not required.
 * "cfsm 4" is written if the state holds a revoked identity, and after
 * it "revoke" lines, one per identity, may follow those of "cfsm 3".
 * "cfsm 5" is written if the state has seen a client session
 * (fsm_session.c): after it, all that "cfsm 4" allows, then one "tick"
 * line and one "session" line per session, in fsm_session.c's words.
 * "cfsm 6" is written if the state has given an offline message an id:
 * after it, all that "cfsm 5" allows, then one "offline-seq" line and
 * one "offline" line per stored message, in fsm_offline.c's words.
 */
#include <sys/tree.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "cluster/fsm_int.h"
#include "log.h"
#include "xmalloc.h"

static void	 cfsm_buf_line(struct cfsm_buf *, const char *, const char *,
		    const char *, const char *);
static int	 cfsm_state_load(struct cfsm_state *, char *, const char **);

/*
 * Append one snapshot line: a type word and its fields (the rest NULL,
 * f3 only after f2).
 */
static void
cfsm_buf_line(struct cfsm_buf *b, const char *word, const char *f1,
    const char *f2, const char *f3)
{
	cfsm_buf_add(b, word);
	cfsm_buf_add(b, "\t");
	cfsm_buf_add(b, f1);
	if (f2 != NULL) {
		cfsm_buf_add(b, "\t");
		cfsm_buf_add(b, f2);
	}
	if (f3 != NULL) {
		cfsm_buf_add(b, "\t");
		cfsm_buf_add(b, f3);
	}
	cfsm_buf_add(b, "\n");
}

/* raft's snapshot: all state in one buffer from raft_malloc. */
int
cfsm_raft_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
    unsigned *n_bufs)
{
	struct cfsm		*c = fsm->data;
	struct cfsm_buf		 b = { NULL, 0, 0 };
	struct cfsm_user	*u;
	struct cfsm_dig		*d;
	struct cfsm_ros		*r;
	struct cfsm_mem		*m;
	char			 id[32], el[16];
	size_t			 i;

	if (c->st.off_seq > 0)
		cfsm_buf_add(&b, CFSM_SNAP_HEADER6 "\n");
	else if (c->st.tick > 0 || c->st.nsessions > 0)
		cfsm_buf_add(&b, CFSM_SNAP_HEADER5 "\n");
	else if (c->st.nrevoked > 0)
		cfsm_buf_add(&b, CFSM_SNAP_HEADER4 "\n");
	else if (c->st.hb != 0 || c->st.npub > 0)
		cfsm_buf_add(&b, CFSM_SNAP_HEADER3 "\n");
	else
		cfsm_buf_add(&b, RB_EMPTY(&c->st.members) ?
		    CFSM_SNAP_HEADER1 "\n" : CFSM_SNAP_HEADER "\n");
	if (c->st.domain != NULL)
		cfsm_buf_line(&b, "init", c->st.domain, c->st.key, NULL);
	RB_FOREACH(m, cfsm_mem_tree, &c->st.members) {
		snprintf(id, sizeof(id), "%llu", (unsigned long long)m->node);
		cfsm_buf_line(&b, "member", id, m->addr, m->ident);
	}
	RB_FOREACH(u, cfsm_user_tree, &c->st.users)
		cfsm_buf_line(&b, "user-set", u->name, u->blob, NULL);
	RB_FOREACH(d, cfsm_dig_tree, &c->st.digs) {
		snprintf(id, sizeof(id), "%llu", (unsigned long long)d->node);
		cfsm_buf_line(&b, "digest-set", id, d->cb, d->digest);
	}
	RB_FOREACH(r, cfsm_ros_tree, &c->st.rosters)
		cfsm_buf_line(&b, "roster-set", r->owner, r->jid, r->item);
	if (c->st.hb != 0) {
		snprintf(id, sizeof(id), "%d", c->st.hb);
		snprintf(el, sizeof(el), "%d", c->st.el);
		cfsm_buf_line(&b, "timers", id, el, NULL);
	}
	for (i = 0; i < c->st.npub; i++) {
		snprintf(id, sizeof(id), "%llu",
		    (unsigned long long)c->st.pub[i]);
		cfsm_buf_line(&b, "published", id, NULL, NULL);
	}
	for (i = 0; i < c->st.nrevoked; i++)
		cfsm_buf_line(&b, "revoke", c->st.revoked[i], NULL, NULL);
	if (c->st.tick > 0 || c->st.nsessions > 0 || c->st.off_seq > 0)
		cfsm_sess_snap(&c->st, &b);
	if (c->st.off_seq > 0)
		cfsm_off_snap(&c->st, &b);

	*bufs = NULL;
	*n_bufs = 0;
	if ((*bufs = raft_malloc(sizeof(**bufs))) == NULL)
		goto nomem;
	if (((*bufs)[0].base = raft_malloc(b.len)) == NULL) {
		raft_free(*bufs);
		*bufs = NULL;
		goto nomem;
	}
	memcpy((*bufs)[0].base, b.p, b.len);
	(*bufs)[0].len = b.len;
	*n_bufs = 1;
	freezero(b.p, b.cap);
	return (0);
nomem:
	freezero(b.p, b.cap);
	return (RAFT_NOMEM);
}

/*
 * Fill the empty st from snapshot text (writable, NUL-terminated). 0, or
 * -1 with *cause set; st then holds a part and must be cleared.
 */
static int
cfsm_state_load(struct cfsm_state *st, char *text, const char **cause)
{
	struct cfsm_entry	 e;
	char			*line;
	size_t			 len;
	int			 v1, v3, v4, v5, v6, r, ticked = 0;

	len = strlen(text);
	if (len == 0 || text[len - 1] != '\n') {
		*cause = "no LF at the end";
		return (-1);
	}
	text[len - 1] = '\0';
	line = strsep(&text, "\n");
	v1 = strcmp(line, CFSM_SNAP_HEADER1) == 0;
	v6 = strcmp(line, CFSM_SNAP_HEADER6) == 0;
	v5 = v6 || strcmp(line, CFSM_SNAP_HEADER5) == 0;
	v4 = v5 || strcmp(line, CFSM_SNAP_HEADER4) == 0;
	v3 = v4 || strcmp(line, CFSM_SNAP_HEADER3) == 0;
	if (!v1 && !v3 && strcmp(line, CFSM_SNAP_HEADER) != 0) {
		*cause = "unknown header";
		return (-1);
	}
	while ((line = strsep(&text, "\n")) != NULL) {
		if (v5 && strncmp(line, "tick\t", 5) == 0 && ticked++) {
			*cause = "second tick";
			return (-1);
		}
		if (v5 && strncmp(line, "session\t", 8) == 0 && !ticked) {
			*cause = "session before the tick";
			return (-1);
		}
		if (v5 && (r = cfsm_sess_load(st, line, cause)) != 0) {
			if (r == -1)
				return (-1);
			continue;
		}
		if (v6 && (r = cfsm_off_load(st, line, cause)) != 0) {
			if (r == -1)
				return (-1);
			continue;
		}
		if (cfsm_decode(line, &e, cause) == -1)
			return (-1);
		if (e.type != CE_INIT && e.type != CE_USER_SET &&
		    e.type != CE_DIGEST_SET && e.type != CE_ROSTER_SET &&
		    (e.type != CE_MEMBER || v1) &&
		    ((e.type != CE_TIMERS && e.type != CE_PUBLISHED) || !v3) &&
		    (e.type != CE_REVOKE || !v4)) {
			*cause = "entry type not allowed";
			return (-1);
		}
		if (e.type == CE_MEMBER && cfsm_state_mem(st, e.node) != NULL) {
			*cause = "second member line for a node";
			return (-1);
		}
		if (e.type == CE_INIT && st->domain != NULL) {
			*cause = "second init";
			return (-1);
		}
		if (e.type == CE_TIMERS && st->hb != 0) {
			*cause = "second timers";
			return (-1);
		}
		if (e.type == CE_PUBLISHED && cfsm_state_pub(st, e.node)) {
			*cause = "second published line for a node";
			return (-1);
		}
		if (e.type == CE_ROSTER_SET &&
		    cfsm_state_user(st, e.a) == NULL) {
			*cause = "roster item before its account";
			return (-1);
		}
		cfsm_state_apply(st, &e);
	}
	if (v5 && !ticked) {
		*cause = "no tick after a cfsm 5 header";
		return (-1);
	}
	if (v6 && st->off_seq == 0) {
		*cause = "no offline-seq after a cfsm 6 header";
		return (-1);
	}
	if (!v1 && !v3 && RB_EMPTY(&st->members)) {
		*cause = "no member line after a cfsm 2 header";
		return (-1);
	}
	return (0);
}

/*
 * raft's restore: replace all state with a snapshot's. On success the
 * buffer is ours to raft_free; on failure (state unchanged) raft frees it.
 * The sink hears the removal of the accounts that are gone, every account,
 * the removal of the roster items that are gone (even those of a removed
 * account), then every roster item, then that all offline messages go
 * and each one of the new state.
 */
int
cfsm_raft_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct cfsm		*c = fsm->data;
	struct cfsm_state	 st, old;
	struct cfsm_user	*u;
	struct cfsm_ros		*r;
	const char		*cause = NULL;
	char			*text;

	cfsm_state_init(&st);
	if ((text = cfsm_copy(buf->base, buf->len, &cause)) == NULL ||
	    cfsm_state_load(&st, text, &cause) == -1) {
		log_warnx("cfsm_restore: snapshot of %zu bytes refused: %s",
		    buf->len, cause);
		cfsm_state_clear(&st);
		if (text != NULL)
			freezero(text, buf->len);
		return (RAFT_MALFORMED);
	}
	freezero(text, buf->len);
	raft_free(buf->base);
	buf->base = NULL;

	/* Swap first, so the sink sees the new state if it looks. */
	old = c->st;		/* a tree head holds only its root */
	c->st = st;
	RB_FOREACH(u, cfsm_user_tree, &old.users) {
		if (cfsm_state_user(&c->st, u->name) == NULL &&
		    c->sink.user_del != NULL)
			c->sink.user_del(c->sink.arg, u->name);
	}
	if (c->sink.user_set != NULL) {
		RB_FOREACH(u, cfsm_user_tree, &c->st.users)
			c->sink.user_set(c->sink.arg, u->name, u->blob);
	}
	RB_FOREACH(r, cfsm_ros_tree, &old.rosters) {
		if (cfsm_state_ros(&c->st, r->owner, r->jid) == NULL &&
		    c->sink.roster_del != NULL)
			c->sink.roster_del(c->sink.arg, r->owner, r->jid);
	}
	if (c->sink.roster_set != NULL) {
		RB_FOREACH(r, cfsm_ros_tree, &c->st.rosters)
			c->sink.roster_set(c->sink.arg, r->owner, r->jid,
			    r->item);
	}
	if (c->sink.offline_reset != NULL)
		c->sink.offline_reset(c->sink.arg);
	if (c->sink.offline_put != NULL)
		cfsm_off_each(&c->st, c->sink.offline_put, c->sink.arg);
	cfsm_state_clear(&old);
	if (c->sink.changed != NULL)
		c->sink.changed(c->sink.arg);
	return (0);
}

/*
 * Every pinned member as member entries, one a line (LF-separated, no LF
 * at the end); "" if none. The caller frees.
 */
char *
cfsm_members_enc(const struct cfsm *c)
{
	struct cfsm_buf	 b = { NULL, 0, 0 };
	struct cfsm_mem	*m;
	char		 id[32];

	cfsm_buf_add(&b, "");
	RB_FOREACH(m, cfsm_mem_tree,
	    (struct cfsm_mem_tree *)(uintptr_t)&c->st.members) {
		if (b.len > 0)
			cfsm_buf_add(&b, "\n");
		snprintf(id, sizeof(id), "%llu", (unsigned long long)m->node);
		cfsm_buf_add(&b, "member\t");
		cfsm_buf_add(&b, id);
		cfsm_buf_add(&b, "\t");
		cfsm_buf_add(&b, m->addr);
		cfsm_buf_add(&b, "\t");
		cfsm_buf_add(&b, m->ident);
	}
	return (b.p);
}

/*
 * Add the member entries of text (as cfsm_members_enc writes them) to
 * c's pins; other lines are skipped. The number of members taken.
 */
int
cfsm_members_load(struct cfsm *c, const char *text)
{
	struct cfsm_entry	 e;
	const char		*cause;
	char			*copy, *p, *line;
	int			 n = 0;

	p = copy = xstrdup(text);
	while ((line = strsep(&p, "\n")) != NULL) {
		if (cfsm_decode(line, &e, &cause) == -1 ||
		    e.type != CE_MEMBER)
			continue;
		cfsm_state_apply(&c->st, &e);
		n++;
	}
	free(copy);
	return (n);
}
