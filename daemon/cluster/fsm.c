/*
 * The cluster's replicated state machine (DESIGN.md section 7): the XMPP
 * domain and digest key, the accounts with their rosters, and a digest of
 * each node's call-bridge secrets. State lives in memory; raft applies
 * the same entries in the same order on every node, and a snapshot
 * carries all of it to a node that is too far behind.
 *
 * This file holds the state, applies entries to it (raft's apply) and
 * answers questions about it. The entries' text (fsm_codec.c), snapshots
 * (fsm_snap.c) and the secret digests (fsm_secret.c) are beside it; they
 * share fsm_int.h.
 *
 * A roster item holds no more than the caps of db.h allow (DB_ROSTER_*:
 * JID, name and group bytes, groups per item), or its entry is bad; a
 * roster-set that would add an item past DB_ROSTER_MAX_ITEMS is ignored.
 * The leader checks the same caps before it submits an item.
 *
 * A roster belongs to an account: roster-set for an owner the state does
 * not know is ignored, and user-del drops the owner's roster (the database
 * cascades likewise). So do offline messages (fsm_offline.c), which the
 * state numbers and caps.
 *
 * A member entry pins the certificate of a node that joined: its cluster
 * address and identity (the SHA-256 of its certificate's public key, 64
 * lowercase hex digits). The cluster port lets only the node with that key
 * speak for that id and address; forget drops the pin with the digests.
 */
#include <sys/tree.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "cluster/fsm_int.h"
#include "db.h"
#include "log.h"
#include "xmalloc.h"

static int	 cfsm_user_cmp(struct cfsm_user *, struct cfsm_user *);
static int	 cfsm_dig_cmp(struct cfsm_dig *, struct cfsm_dig *);
static int	 cfsm_ros_cmp(struct cfsm_ros *, struct cfsm_ros *);
static int	 cfsm_mem_cmp(struct cfsm_mem *, struct cfsm_mem *);
static struct cfsm_dig *cfsm_state_dig(const struct cfsm_state *, uint64_t,
		    const char *);
static int	 cfsm_state_revoked(const struct cfsm_state *, const char *);
static void	 cfsm_mem_free(struct cfsm_mem_tree *, struct cfsm_mem *);
static void	 cfsm_ros_free(struct cfsm_ros_tree *, struct cfsm_ros *);
static int	 cfsm_state_drop_roster(struct cfsm_state *, const char *);
static int	 cfsm_roster_full(const struct cfsm_state *, const char *);
static int	 cfsm_raft_apply(struct raft_fsm *, const struct raft_buffer *,
		    void **);

RB_GENERATE(cfsm_user_tree, cfsm_user, entry, cfsm_user_cmp);
RB_GENERATE(cfsm_dig_tree, cfsm_dig, entry, cfsm_dig_cmp);
RB_GENERATE(cfsm_ros_tree, cfsm_ros, entry, cfsm_ros_cmp);
RB_GENERATE(cfsm_mem_tree, cfsm_mem, entry, cfsm_mem_cmp);

/* Accounts are ordered by user name. */
static int
cfsm_user_cmp(struct cfsm_user *a, struct cfsm_user *b)
{
	return (strcmp(a->name, b->name));
}

/* Digests are ordered by node, then call bridge name. */
static int
cfsm_dig_cmp(struct cfsm_dig *a, struct cfsm_dig *b)
{
	if (a->node != b->node)
		return (a->node < b->node ? -1 : 1);
	return (strcmp(a->cb, b->cb));
}

/* Roster items are ordered by owner, then contact. */
static int
cfsm_ros_cmp(struct cfsm_ros *a, struct cfsm_ros *b)
{
	int	 d;

	if ((d = strcmp(a->owner, b->owner)) != 0)
		return (d);
	return (strcmp(a->jid, b->jid));
}

/* Members are ordered by node id. */
static int
cfsm_mem_cmp(struct cfsm_mem *a, struct cfsm_mem *b)
{
	return (a->node < b->node ? -1 : a->node > b->node);
}

/* An empty state. */
void
cfsm_state_init(struct cfsm_state *st)
{
	st->domain = NULL;
	st->key = NULL;
	RB_INIT(&st->users);
	RB_INIT(&st->digs);
	RB_INIT(&st->rosters);
	RB_INIT(&st->members);
	st->hb = st->el = 0;
	st->pub = NULL;
	st->npub = 0;
	st->revoked = NULL;
	st->nrevoked = 0;
	RB_INIT(&st->sessions);
	st->nsessions = 0;
	st->tick = 0;
	RB_INIT(&st->offline);
	st->off_seq = 0;
}

/* Free everything in st and leave it empty. */
void
cfsm_state_clear(struct cfsm_state *st)
{
	struct cfsm_user	*u, *unext;
	struct cfsm_dig		*d, *dnext;
	struct cfsm_ros		*r, *rnext;
	struct cfsm_mem		*m, *mnext;
	size_t			 i;

	cfsm_sess_clear(st);
	cfsm_off_clear(st);
	RB_FOREACH_SAFE(m, cfsm_mem_tree, &st->members, mnext)
		cfsm_mem_free(&st->members, m);
	free(st->pub);
	st->pub = NULL;
	st->npub = 0;
	for (i = 0; i < st->nrevoked; i++)
		free(st->revoked[i]);
	free(st->revoked);
	st->revoked = NULL;
	st->nrevoked = 0;
	st->hb = st->el = 0;
	RB_FOREACH_SAFE(r, cfsm_ros_tree, &st->rosters, rnext)
		cfsm_ros_free(&st->rosters, r);
	RB_FOREACH_SAFE(u, cfsm_user_tree, &st->users, unext) {
		RB_REMOVE(cfsm_user_tree, &st->users, u);
		free(u->name);
		freezero(u->blob, strlen(u->blob));
		free(u);
	}
	RB_FOREACH_SAFE(d, cfsm_dig_tree, &st->digs, dnext) {
		RB_REMOVE(cfsm_dig_tree, &st->digs, d);
		free(d->cb);
		free(d->digest);
		free(d);
	}
	free(st->domain);
	if (st->key != NULL)
		freezero(st->key, strlen(st->key));
	cfsm_state_init(st);
}

/* The account called name, or NULL. */
struct cfsm_user *
cfsm_state_user(const struct cfsm_state *st, const char *name)
{
	struct cfsm_user_tree	*head;
	struct cfsm_user	 key;

	/* RB_FIND changes nothing but wants a non-const head. */
	head = (struct cfsm_user_tree *)(uintptr_t)&st->users;
	key.name = (char *)(uintptr_t)name;
	return (RB_FIND(cfsm_user_tree, head, &key));
}

/* The digest of cb on node, or NULL. */
static struct cfsm_dig *
cfsm_state_dig(const struct cfsm_state *st, uint64_t node, const char *cb)
{
	struct cfsm_dig_tree	*head;
	struct cfsm_dig		 key;

	head = (struct cfsm_dig_tree *)(uintptr_t)&st->digs;
	key.node = node;
	key.cb = (char *)(uintptr_t)cb;
	return (RB_FIND(cfsm_dig_tree, head, &key));
}

/* owner's roster item for jid, or NULL. */
struct cfsm_ros *
cfsm_state_ros(const struct cfsm_state *st, const char *owner,
    const char *jid)
{
	struct cfsm_ros_tree	*head;
	struct cfsm_ros		 key;

	head = (struct cfsm_ros_tree *)(uintptr_t)&st->rosters;
	key.owner = (char *)(uintptr_t)owner;
	key.jid = (char *)(uintptr_t)jid;
	return (RB_FIND(cfsm_ros_tree, head, &key));
}

/* The pinned member node, or NULL. */
struct cfsm_mem *
cfsm_state_mem(const struct cfsm_state *st, uint64_t node)
{
	struct cfsm_mem_tree	*head;
	struct cfsm_mem		 key;

	head = (struct cfsm_mem_tree *)(uintptr_t)&st->members;
	key.node = node;
	return (RB_FIND(cfsm_mem_tree, head, &key));
}

/* Whether node has published its digests. */
int
cfsm_state_pub(const struct cfsm_state *st, uint64_t node)
{
	size_t	 i;

	for (i = 0; i < st->npub; i++)
		if (st->pub[i] == node)
			return (1);
	return (0);
}

/* Whether ident is in st's removed identities. */
static int
cfsm_state_revoked(const struct cfsm_state *st, const char *ident)
{
	size_t	 i;

	for (i = 0; i < st->nrevoked; i++)
		if (strcmp(st->revoked[i], ident) == 0)
			return (1);
	return (0);
}

/* Take member m out of head and free it. */
static void
cfsm_mem_free(struct cfsm_mem_tree *head, struct cfsm_mem *m)
{
	RB_REMOVE(cfsm_mem_tree, head, m);
	free(m->addr);
	free(m->ident);
	free(m);
}

/* Take roster item r out of head and free it. */
static void
cfsm_ros_free(struct cfsm_ros_tree *head, struct cfsm_ros *r)
{
	RB_REMOVE(cfsm_ros_tree, head, r);
	free(r->owner);
	free(r->jid);
	free(r->item);
	free(r);
}

/* Drop owner's whole roster. 1 if there was one, 0 if not. */
static int
cfsm_state_drop_roster(struct cfsm_state *st, const char *owner)
{
	struct cfsm_ros		 key, *r, *next;
	int			 changed = 0;

	/* "" sorts first: the first item at or after it is owner's first. */
	key.owner = (char *)(uintptr_t)owner;
	key.jid = (char *)(uintptr_t)"";
	for (r = RB_NFIND(cfsm_ros_tree, &st->rosters, &key);
	    r != NULL && strcmp(r->owner, owner) == 0; r = next) {
		next = RB_NEXT(cfsm_ros_tree, &st->rosters, r);
		cfsm_ros_free(&st->rosters, r);
		changed = 1;
	}
	return (changed);
}

/* Whether owner's roster has DB_ROSTER_MAX_ITEMS items already. */
static int
cfsm_roster_full(const struct cfsm_state *st, const char *owner)
{
	struct cfsm_ros_tree	*head;
	struct cfsm_ros		 key, *r;
	int			 n = 0;

	head = (struct cfsm_ros_tree *)(uintptr_t)&st->rosters;
	key.owner = (char *)(uintptr_t)owner;
	key.jid = (char *)(uintptr_t)"";
	for (r = RB_NFIND(cfsm_ros_tree, head, &key);
	    r != NULL && strcmp(r->owner, owner) == 0;
	    r = RB_NEXT(cfsm_ros_tree, head, r))
		if (++n >= DB_ROSTER_MAX_ITEMS)
			return (1);
	return (0);
}

/* Apply a decoded entry to st. 1 if st changed, 0 if not. */
int
cfsm_state_apply(struct cfsm_state *st, const struct cfsm_entry *e)
{
	struct cfsm_user	*u;
	struct cfsm_dig		*d, *next;
	struct cfsm_ros		*r;
	struct cfsm_mem		*m;
	size_t			 i;
	int			 changed = 0;

	switch (e->type) {
	case CE_SESSION:
		return (cfsm_sess_open(st, e->sess));
	case CE_TIMERS:
		if (st->hb == e->hb && st->el == e->el)
			return (0);
		st->hb = e->hb;
		st->el = e->el;
		return (1);
	case CE_REVOKE:
		if (cfsm_state_revoked(st, e->a))
			return (0);
		st->revoked = xreallocarray(st->revoked, st->nrevoked + 1,
		    sizeof(*st->revoked));
		st->revoked[st->nrevoked++] = xstrdup(e->a);
		return (1);
	case CE_REVOKE_CLEAR:
		if (st->nrevoked == 0)
			return (0);
		for (i = 0; i < st->nrevoked; i++)
			free(st->revoked[i]);
		free(st->revoked);
		st->revoked = NULL;
		st->nrevoked = 0;
		return (1);
	case CE_PUBLISHED:
		if (cfsm_state_pub(st, e->node))
			return (0);
		st->pub = xreallocarray(st->pub, st->npub + 1,
		    sizeof(*st->pub));
		st->pub[st->npub++] = e->node;
		return (1);
	case CE_MEMBER:
		if ((m = cfsm_state_mem(st, e->node)) != NULL) {
			if (strcmp(m->addr, e->a) == 0 &&
			    strcmp(m->ident, e->b) == 0)
				return (0);
			free(m->addr);
			free(m->ident);
		} else {
			m = xcalloc(1, sizeof(*m));
			m->node = e->node;
			RB_INSERT(cfsm_mem_tree, &st->members, m);
		}
		m->addr = xstrdup(e->a);
		m->ident = xstrdup(e->b);
		return (1);
	case CE_INIT:
		if (st->domain != NULL) {
			if (strcmp(st->domain, e->a) != 0)
				log_warnx("cfsm_apply: domain %s ignored, the "
				    "cluster's is %s", e->a, st->domain);
			return (0);
		}
		st->domain = xstrdup(e->a);
		st->key = xstrdup(e->b);
		return (1);
	case CE_USER_SET:
		if ((u = cfsm_state_user(st, e->a)) != NULL) {
			if (strcmp(u->blob, e->b) == 0)
				return (0);
			freezero(u->blob, strlen(u->blob));
			u->blob = xstrdup(e->b);
			return (1);
		}
		u = xcalloc(1, sizeof(*u));
		u->name = xstrdup(e->a);
		u->blob = xstrdup(e->b);
		RB_INSERT(cfsm_user_tree, &st->users, u);
		return (1);
	case CE_USER_DEL:
		if ((u = cfsm_state_user(st, e->a)) == NULL)
			return (0);
		cfsm_state_drop_roster(st, u->name);
		cfsm_off_del(st, u->name, UINT64_MAX);
		RB_REMOVE(cfsm_user_tree, &st->users, u);
		free(u->name);
		freezero(u->blob, strlen(u->blob));
		free(u);
		return (1);
	case CE_DIGEST_SET:
		if ((d = cfsm_state_dig(st, e->node, e->a)) != NULL) {
			if (strcmp(d->digest, e->b) == 0)
				return (0);
			free(d->digest);
			d->digest = xstrdup(e->b);
			return (1);
		}
		d = xcalloc(1, sizeof(*d));
		d->node = e->node;
		d->cb = xstrdup(e->a);
		d->digest = xstrdup(e->b);
		RB_INSERT(cfsm_dig_tree, &st->digs, d);
		return (1);
	case CE_DIGEST_DEL:
		if ((d = cfsm_state_dig(st, e->node, e->a)) == NULL)
			return (0);
		RB_REMOVE(cfsm_dig_tree, &st->digs, d);
		free(d->cb);
		free(d->digest);
		free(d);
		return (1);
	case CE_FORGET:
		if ((m = cfsm_state_mem(st, e->node)) != NULL) {
			cfsm_mem_free(&st->members, m);
			changed = 1;
		}
		for (i = 0; i < st->npub; i++) {
			if (st->pub[i] != e->node)
				continue;
			st->pub[i] = st->pub[--st->npub];
			changed = 1;
			break;
		}
		RB_FOREACH_SAFE(d, cfsm_dig_tree, &st->digs, next) {
			if (d->node != e->node)
				continue;
			RB_REMOVE(cfsm_dig_tree, &st->digs, d);
			free(d->cb);
			free(d->digest);
			free(d);
			changed = 1;
		}
		return (changed);
	case CE_ROSTER_SET:
		if (cfsm_state_user(st, e->a) == NULL)
			return (0);
		if ((r = cfsm_state_ros(st, e->a, e->b)) != NULL) {
			if (strcmp(r->item, e->c) == 0)
				return (0);
			free(r->item);
			r->item = xstrdup(e->c);
			return (1);
		}
		if (cfsm_roster_full(st, e->a))
			return (0);
		r = xcalloc(1, sizeof(*r));
		r->owner = xstrdup(e->a);
		r->jid = xstrdup(e->b);
		r->item = xstrdup(e->c);
		RB_INSERT(cfsm_ros_tree, &st->rosters, r);
		return (1);
	case CE_ROSTER_DEL:
		if ((r = cfsm_state_ros(st, e->a, e->b)) == NULL)
			return (0);
		cfsm_ros_free(&st->rosters, r);
		return (1);
	case CE_OFFLINE_PUT:
		return (cfsm_off_put(st, e->a, 0, e->b) != 0);
	case CE_OFFLINE_DEL:
		return (cfsm_off_del(st, e->a, e->id));
	}
	return (0);
}

/* A replicated state machine with no state yet; sink may be NULL. */
struct cfsm *
cfsm_new(const struct cfsm_sink *sink)
{
	struct cfsm	*c;

	c = xcalloc(1, sizeof(*c));
	if (sink != NULL)
		c->sink = *sink;
	cfsm_state_init(&c->st);
	c->fsm.version = 1;
	c->fsm.data = c;
	c->fsm.apply = cfsm_raft_apply;
	c->fsm.snapshot = cfsm_raft_snapshot;
	c->fsm.restore = cfsm_raft_restore;
	return (c);
}

/* Free c; raft must be done with its raft_fsm. */
void
cfsm_free(struct cfsm *c)
{
	if (c == NULL)
		return;
	cfsm_state_clear(&c->st);
	free(c);
}

/* The raft_fsm (version 1) bound to c, owned by c. */
struct raft_fsm *
cfsm_raft(struct cfsm *c)
{
	return (&c->fsm);
}

/*
 * raft's apply: one committed entry. Bad entries are logged and skipped.
 * A session's command (fsm_session.c) is applied only the first time and
 * only while its session is open; its result is kept either way. The
 * sink hears every account and roster entry, even one that changes
 * nothing, so a node's database converges (but not a roster-set for an
 * unknown account: the state ignores it); changed() only follows a real
 * change of anything but a roster.
 */
static int
cfsm_raft_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
    void **result)
{
	struct cfsm		*c = fsm->data;
	struct cfsm_entry	 e;
	struct cfsm_env		 env;
	const char		*cause = NULL;
	char			*line, *inner;
	int			 changed, once = 0, r;

	if (result != NULL)
		*result = NULL;
	if ((line = cfsm_copy(buf->base, buf->len, &cause)) == NULL) {
		log_warnx("cfsm_apply: entry of %zu bytes ignored: %s",
		    buf->len, cause);
		return (0);
	}
	inner = line;
	if (line[0] == '@') {
		if (cfsm_env_split(line, &env, &inner, &cause) == -1)
			goto bad;
		once = 1;
		if ((r = cfsm_sess_admit(&c->st, &env)) != CFSM_R_NEW) {
			log_info("cfsm_apply: command %llu of session %016llx "
			    "not applied: %s", (unsigned long long)env.serial,
			    (unsigned long long)env.id, r == CFSM_R_DUP ?
			    "applied before" : cfsm_result_str(r));
			freezero(line, buf->len);
			return (0);
		}
	}
	if (cfsm_decode(inner, &e, &cause) == -1 ||
	    (once && e.type == CE_SESSION)) {
		if (cause == NULL)
			cause = "session-open in an envelope";
		goto bad;
	}
	changed = cfsm_state_apply(&c->st, &e);
	if (once)
		cfsm_sess_record(&c->st, &env, e.type == CE_OFFLINE_PUT &&
		    !changed ? CFSM_R_REFUSED : CFSM_R_APPLIED);
	switch (e.type) {
	case CE_USER_SET:
		if (c->sink.user_set != NULL)
			c->sink.user_set(c->sink.arg, e.a, e.b);
		break;
	case CE_USER_DEL:
		if (c->sink.user_del != NULL)
			c->sink.user_del(c->sink.arg, e.a);
		break;
	case CE_ROSTER_SET:
		if (cfsm_state_user(&c->st, e.a) == NULL)
			log_debug("cfsm_apply: roster item of unknown account "
			    "%s ignored", e.a);
		else if (cfsm_state_ros(&c->st, e.a, e.b) == NULL)
			log_warnx("cfsm_apply: roster item of %s ignored: "
			    "roster full", e.a);
		else if (c->sink.roster_set != NULL)
			c->sink.roster_set(c->sink.arg, e.a, e.b, e.c);
		break;
	case CE_ROSTER_DEL:
		if (c->sink.roster_del != NULL)
			c->sink.roster_del(c->sink.arg, e.a, e.b);
		break;
	case CE_OFFLINE_PUT:
		if (!changed)
			log_info("cfsm_apply: offline message for %s refused: "
			    "no such account, or its store is full", e.a);
		else if (c->sink.offline_put != NULL)
			c->sink.offline_put(c->sink.arg, e.a, c->st.off_seq,
			    e.b);
		break;
	case CE_OFFLINE_DEL:
		if (c->sink.offline_del != NULL)
			c->sink.offline_del(c->sink.arg, e.a, e.id);
		break;
	}
	if (changed && e.type != CE_ROSTER_SET && e.type != CE_ROSTER_DEL &&
	    e.type != CE_OFFLINE_PUT && e.type != CE_OFFLINE_DEL &&
	    c->sink.changed != NULL)
		c->sink.changed(c->sink.arg);
	freezero(line, buf->len);	/* the copy holds len + 1 bytes */
	return (0);
bad:
	log_warnx("cfsm_apply: entry of %zu bytes ignored: %s", buf->len,
	    cause);
	if (once)
		cfsm_sess_record(&c->st, &env, CFSM_R_BAD);
	freezero(line, buf->len);
	return (0);
}

/* The cluster's XMPP domain, NULL before the init entry. */
const char *
cfsm_domain(const struct cfsm *c)
{
	return (c->st.domain);
}

/* The cluster's digest key in hex, NULL before the init entry. */
const char *
cfsm_key(const struct cfsm *c)
{
	return (c->st.key);
}

/*
 * The pinned identity of member node (borrowed), and its address in *addr
 * if addr is not NULL; NULL if the node is not pinned.
 */
const char *
cfsm_member(const struct cfsm *c, uint64_t node, const char **addr)
{
	struct cfsm_mem	*m;

	if ((m = cfsm_state_mem(&c->st, node)) == NULL)
		return (NULL);
	if (addr != NULL)
		*addr = m->addr;
	return (m->ident);
}

/* Whether any member identity is pinned. */
int
cfsm_member_any(const struct cfsm *c)
{
	return (!RB_EMPTY(&c->st.members));
}

/* The credential blob of an account, or NULL. */
const char *
cfsm_user(const struct cfsm *c, const char *user)
{
	struct cfsm_user	*u;

	if ((u = cfsm_state_user(&c->st, user)) == NULL)
		return (NULL);
	return (u->blob);
}

/*
 * All account names, sorted, NULL-terminated; *n (if not NULL) gets the
 * count. Free with util_free_argv.
 */
char **
cfsm_users(const struct cfsm *c, int *n)
{
	struct cfsm_user_tree	*head;
	struct cfsm_user	*u;
	char			**argv;
	int			 count = 0;

	head = (struct cfsm_user_tree *)(uintptr_t)&c->st.users;
	argv = xcalloc(1, sizeof(*argv));
	RB_FOREACH(u, cfsm_user_tree, head) {
		argv = xreallocarray(argv, count + 2, sizeof(*argv));
		argv[count++] = xstrdup(u->name);
		argv[count] = NULL;
	}
	if (n != NULL)
		*n = count;
	return (argv);
}

/* owner's roster item for contact jid as the log spells it, or NULL. */
const char *
cfsm_roster(const struct cfsm *c, const char *owner, const char *jid)
{
	struct cfsm_ros	*r;

	if ((r = cfsm_state_ros(&c->st, owner, jid)) == NULL)
		return (NULL);
	return (r->item);
}

/*
 * The contacts in owner's roster, sorted, NULL-terminated; *n (if not
 * NULL) gets the count. Free with util_free_argv.
 */
char **
cfsm_roster_jids(const struct cfsm *c, const char *owner, int *n)
{
	struct cfsm_ros_tree	*head;
	struct cfsm_ros		 key, *r;
	char			**argv;
	int			 count = 0;

	head = (struct cfsm_ros_tree *)(uintptr_t)&c->st.rosters;
	argv = xcalloc(1, sizeof(*argv));
	key.owner = (char *)(uintptr_t)owner;
	key.jid = (char *)(uintptr_t)"";
	for (r = RB_NFIND(cfsm_ros_tree, head, &key);
	    r != NULL && strcmp(r->owner, owner) == 0;
	    r = RB_NEXT(cfsm_ros_tree, head, r)) {
		argv = xreallocarray(argv, count + 2, sizeof(*argv));
		argv[count++] = xstrdup(r->jid);
		argv[count] = NULL;
	}
	if (n != NULL)
		*n = count;
	return (argv);
}

/* The cluster's raft timers: 0 with hb and el, -1 if it has none. */
int
cfsm_timers(const struct cfsm *c, int *hb, int *el)
{
	if (c->st.hb == 0)
		return (-1);
	*hb = c->st.hb;
	*el = c->st.el;
	return (0);
}

/*
 * Whether node has published the digests of all its call bridges once
 * (a published entry).
 */
int
cfsm_published(const struct cfsm *c, uint64_t node)
{
	return (cfsm_state_pub(&c->st, node));
}

/* Whether ident (a removed member's) may not join until cleared. */
int
cfsm_revoked(const struct cfsm *c, const char *ident)
{
	return (cfsm_state_revoked(&c->st, ident));
}

/* The digest of call bridge cb on node, or NULL. */
const char *
cfsm_digest(const struct cfsm *c, uint64_t node, const char *cb)
{
	struct cfsm_dig	*d;

	if ((d = cfsm_state_dig(&c->st, node, cb)) == NULL)
		return (NULL);
	return (d->digest);
}

/*
 * The names of the call bridges with a digest on node, sorted and
 * NULL-terminated; *n (if not NULL) gets the count. Free with
 * util_free_argv.
 */
char **
cfsm_digest_names(const struct cfsm *c, uint64_t node, int *n)
{
	struct cfsm_dig_tree	*head;
	struct cfsm_dig		*d;
	char			**argv;
	int			 count = 0;

	head = (struct cfsm_dig_tree *)(uintptr_t)&c->st.digs;
	argv = xcalloc(1, sizeof(*argv));
	RB_FOREACH(d, cfsm_dig_tree, head) {
		if (d->node != node)
			continue;
		argv = xreallocarray(argv, count + 2, sizeof(*argv));
		argv[count++] = xstrdup(d->cb);
		argv[count] = NULL;
	}
	if (n != NULL)
		*n = count;
	return (argv);
}

/*
 * The ids in conf at address addr other than id: a node that was reset
 * and rejoins from the same address under a new id. Up to max of them go
 * to out; returns how many.
 */
int
cfsm_stale_ids(const struct raft_configuration *conf, uint64_t id,
    const char *addr, uint64_t *out, int max)
{
	unsigned	 i;
	int		 n = 0;

	if (conf == NULL || addr == NULL)
		return (0);
	for (i = 0; i < conf->n && n < max; i++) {
		if (conf->servers[i].id == id ||
		    conf->servers[i].address == NULL ||
		    strcmp(conf->servers[i].address, addr) != 0)
			continue;
		out[n++] = conf->servers[i].id;
	}
	return (n);
}
