/*
 * The store in memory, for check_router: accounts and roster items with
 * the semantics of daemon/db.c that the XMPP core relies on (an item of
 * an owner per JID, lists sorted by JID, the caps of db_roster_check and
 * db_roster_fits, found 1 / absent 0 / error -1 with *cause), and the
 * two daemon symbols the core reads (mmpd, xmpp_domain), and offline
 * messages in arrival order. Every function of db.h here is a stand-in
 * of the real one; stub_store_fail makes the reads fail as a broken
 * database would.
 */
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "mmpd.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "stub_store.h"

/* One roster item of one owner. */
struct stub_item {
	TAILQ_ENTRY(stub_item)	 entry;
	char			*owner;
	struct db_roster	 r;
};

/* One account. */
struct stub_user {
	TAILQ_ENTRY(stub_user)	 entry;
	char			*local;
};

/* One offline message. */
struct stub_off {
	TAILQ_ENTRY(stub_off)	 entry;
	char			*owner;
	long long		 id;
	char			*stanza;
};

static TAILQ_HEAD(, stub_item)	 items = TAILQ_HEAD_INITIALIZER(items);
static TAILQ_HEAD(, stub_off)	 offs = TAILQ_HEAD_INITIALIZER(offs);
static long long		 stub_off_id;
static TAILQ_HEAD(, stub_user)	 users = TAILQ_HEAD_INITIALIZER(users);
static struct mmpd		 stub_mmpd;
struct mmpd			*mmpd = &stub_mmpd;
static int			 stub_failing;

static struct stub_item	*stub_find(const char *, const char *);
static void		 stub_copy(struct db_roster *,
			    const struct db_roster *);
static int		 stub_fail(char **);

/* Our domain, as xmpp/server.c would give it while serving. */
const char *
xmpp_domain(void)
{
	return (STUB_DOMAIN);
}

/* Owner's item for jid, or NULL. */
static struct stub_item *
stub_find(const char *owner, const char *jid)
{
	struct stub_item	*it;

	TAILQ_FOREACH(it, &items, entry)
		if (strcmp(it->owner, owner) == 0 &&
		    strcmp(it->r.jid, jid) == 0)
			return (it);
	return (NULL);
}

/* A deep copy of a roster item into to. */
static void
stub_copy(struct db_roster *to, const struct db_roster *from)
{
	memset(to, 0, sizeof(*to));
	to->jid = xstrdup(from->jid);
	to->name = from->name != NULL ? xstrdup(from->name) : NULL;
	to->subscription = xstrdup(from->subscription);
	to->ask = from->ask;
	to->pending_in = from->pending_in;
	to->groups = xstrdup(from->groups != NULL ? from->groups : "");
}

/* -1 with *cause (if asked for) when reads are set to fail, else 0. */
static int
stub_fail(char **cause)
{
	if (!stub_failing)
		return (0);
	if (cause != NULL)
		*cause = xstrdup("stub: database is broken");
	return (-1);
}

/* Make every read fail (-1 with *cause) from now on, or work again. */
void
stub_store_fail(int on)
{
	stub_failing = on;
}

/* Forget every account, roster item and offline message; reads work. */
void
stub_store_reset(void)
{
	struct stub_item	*it;
	struct stub_user	*u;
	struct stub_off		*o;

	stub_failing = 0;

	while ((it = TAILQ_FIRST(&items)) != NULL) {
		TAILQ_REMOVE(&items, it, entry);
		free(it->owner);
		db_roster_clear(&it->r);
		free(it);
	}
	while ((u = TAILQ_FIRST(&users)) != NULL) {
		TAILQ_REMOVE(&users, u, entry);
		free(u->local);
		free(u);
	}
	while ((o = TAILQ_FIRST(&offs)) != NULL) {
		TAILQ_REMOVE(&offs, o, entry);
		free(o->owner);
		free(o->stanza);
		free(o);
	}
	stub_off_id = 0;
}

/* An account exists from now on. */
void
stub_user_add(const char *local)
{
	struct stub_user	*u;

	u = xcalloc(1, sizeof(*u));
	u->local = xstrdup(local);
	TAILQ_INSERT_TAIL(&users, u, entry);
}

/* Store owner's item for jid with this state, replacing one there. */
void
stub_roster_set(const char *owner, const char *jid, const char *sub, int ask,
    int pending_in)
{
	struct db_roster	 r;

	memset(&r, 0, sizeof(r));
	r.jid = (char *)(uintptr_t)jid;
	r.subscription = (char *)(uintptr_t)sub;
	r.ask = ask;
	r.pending_in = pending_in;
	r.groups = (char *)(uintptr_t)"";
	if (db_roster_put(mmpd->db, owner, &r, NULL) == -1)
		abort();
}

/* How many items owner's roster holds. */
int
stub_roster_count(const char *owner)
{
	struct stub_item	*it;
	int			 n = 0;

	TAILQ_FOREACH(it, &items, entry)
		if (strcmp(it->owner, owner) == 0)
			n++;
	return (n);
}

/* Owner's item for jid: its subscription, or NULL. */
const char *
stub_roster_sub(const char *owner, const char *jid)
{
	struct stub_item	*it;

	if ((it = stub_find(owner, jid)) == NULL)
		return (NULL);
	return (it->r.subscription);
}

/* Whether an account exists: 1, 0, or -1 with *cause. */
int
db_user_exists(struct db *db, const char *local, char **cause)
{
	struct stub_user	*u;

	(void)db;
	if (stub_fail(cause) == -1)
		return (-1);
	TAILQ_FOREACH(u, &users, entry)
		if (strcmp(u->local, local) == 0)
			return (1);
	return (0);
}

/*
 * An account's roster, in the order stored (the tests keep it sorted);
 * 0, or -1 with *cause.
 */
int
db_roster_get(struct db *db, const char *owner, struct db_roster **list,
    size_t *n, char **cause)
{
	struct stub_item	*it;

	(void)db;
	*list = NULL;
	*n = 0;
	if (stub_fail(cause) == -1)
		return (-1);
	TAILQ_FOREACH(it, &items, entry) {
		if (strcmp(it->owner, owner) != 0)
			continue;
		*list = xreallocarray(*list, *n + 1, sizeof(**list));
		stub_copy(&(*list)[(*n)++], &it->r);
	}
	return (0);
}

/* One roster item: 1, 0 when the owner has none for that JID, -1. */
int
db_roster_item(struct db *db, const char *owner, const char *jid,
    struct db_roster *r, char **cause)
{
	struct stub_item	*it;

	(void)db;
	if (stub_fail(cause) == -1)
		return (-1);
	if ((it = stub_find(owner, jid)) == NULL)
		return (0);
	stub_copy(r, &it->r);
	return (1);
}

/* An item alone within the caps (a shorter check than db.c's). */
int
db_roster_check(const struct db_roster *r, char **cause)
{
	if (r->jid == NULL || *r->jid == '\0' ||
	    strlen(r->jid) > DB_ROSTER_MAX_JID ||
	    (r->name != NULL && strlen(r->name) > DB_ROSTER_MAX_NAME)) {
		if (cause != NULL)
			*cause = xstrdup("roster item: too long");
		return (-1);
	}
	return (0);
}

/*
 * Room for one more item (only the item cap; bytes are not counted): 0,
 * 1 full with *cause, -1 with *cause.
 */
int
db_roster_fits(struct db *db, const char *owner, const struct db_roster *r,
    char **cause)
{
	(void)db;
	if (stub_fail(cause) == -1)
		return (-1);
	if (stub_find(owner, r->jid) == NULL &&
	    stub_roster_count(owner) >= DB_ROSTER_MAX_ITEMS) {
		if (cause != NULL)
			*cause = xstrdup("roster full");
		return (1);
	}
	return (0);
}

/* Insert or replace an item, checked as db.c does. */
int
db_roster_put(struct db *db, const char *owner, const struct db_roster *r,
    char **cause)
{
	struct stub_item	*it;

	if (db_roster_check(r, cause) == -1 ||
	    db_roster_fits(db, owner, r, cause) != 0)
		return (-1);
	if ((it = stub_find(owner, r->jid)) != NULL) {
		db_roster_clear(&it->r);
		stub_copy(&it->r, r);
		return (0);
	}
	it = xcalloc(1, sizeof(*it));
	it->owner = xstrdup(owner);
	stub_copy(&it->r, r);
	TAILQ_INSERT_TAIL(&items, it, entry);
	return (0);
}

/* The JIDs of owner's contacts of one kind (DB_ROSTER_*); 0, or -1. */
int
db_roster_jids(struct db *db, const char *owner, int which, char ***jids,
    int *n, char **cause)
{
	struct stub_item	*it;
	const char		*s;
	int			 take;

	(void)db;
	*jids = NULL;
	*n = 0;
	if (stub_fail(cause) == -1)
		return (-1);
	TAILQ_FOREACH(it, &items, entry) {
		if (strcmp(it->owner, owner) != 0)
			continue;
		s = it->r.subscription;
		switch (which) {
		case DB_ROSTER_FROM:
			take = strcmp(s, "from") == 0 || strcmp(s, "both") == 0;
			break;
		case DB_ROSTER_TO:
			take = strcmp(s, "to") == 0 || strcmp(s, "both") == 0;
			break;
		case DB_ROSTER_ASKED:
			take = it->r.pending_in != 0;
			break;
		default:
			/* Checked at the first item: nothing taken yet. */
			if (cause != NULL)
				*cause = xstrdup("stub: bad roster kind");
			return (-1);
		}
		if (!take)
			continue;
		*jids = xreallocarray(*jids, *n + 2, sizeof(**jids));
		(*jids)[(*n)++] = xstrdup(it->r.jid);
		(*jids)[*n] = NULL;
	}
	return (0);
}

/* Remove an item; removing one that is not there is fine. */
int
db_roster_del(struct db *db, const char *owner, const char *jid,
    char **cause)
{
	struct stub_item	*it;

	(void)db;
	(void)cause;
	if ((it = stub_find(owner, jid)) != NULL) {
		TAILQ_REMOVE(&items, it, entry);
		free(it->owner);
		db_roster_clear(&it->r);
		free(it);
	}
	return (0);
}

/* Free one roster item's strings. */
void
db_roster_clear(struct db_roster *r)
{
	free(r->jid);
	free(r->name);
	free(r->subscription);
	free(r->groups);
	memset(r, 0, sizeof(*r));
}

/* Free a roster from db_roster_get. */
void
db_roster_free(struct db_roster *list, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		db_roster_clear(&list[i]);
	free(list);
}

/* Store owner's offline message after the others (id 0) or as id. */
int
db_offline_put(struct db *db, const char *owner, long long id,
    const char *stanza, char **cause)
{
	struct stub_off	*o;

	(void)db;
	if (stub_fail(cause) == -1)
		return (-1);
	o = xcalloc(1, sizeof(*o));
	o->owner = xstrdup(owner);
	o->id = id > 0 ? id : ++stub_off_id;
	o->stanza = xstrdup(stanza);
	TAILQ_INSERT_TAIL(&offs, o, entry);
	return (0);
}

/* How many offline messages owner has, and their bytes. */
int
db_offline_count(struct db *db, const char *owner, int *n, size_t *bytes,
    char **cause)
{
	struct stub_off	*o;

	(void)db;
	*n = 0;
	*bytes = 0;
	if (stub_fail(cause) == -1)
		return (-1);
	TAILQ_FOREACH(o, &offs, entry) {
		if (strcmp(o->owner, owner) == 0) {
			(*n)++;
			*bytes += strlen(o->stanza);
		}
	}
	return (0);
}

/* owner's offline messages above id after, in the order stored. */
int
db_offline_list(struct db *db, const char *owner, long long after,
    struct db_offline **list, size_t *n, char **cause)
{
	struct stub_off	*o;

	(void)db;
	*list = NULL;
	*n = 0;
	if (stub_fail(cause) == -1)
		return (-1);
	TAILQ_FOREACH(o, &offs, entry) {
		if (strcmp(o->owner, owner) != 0 || o->id <= after)
			continue;
		*list = xreallocarray(*list, *n + 1, sizeof(**list));
		(*list)[*n].id = o->id;
		(*list)[*n].stanza = xstrdup(o->stanza);
		(*n)++;
	}
	return (0);
}

/* Remove owner's offline messages up to id. */
int
db_offline_del(struct db *db, const char *owner, long long id, char **cause)
{
	struct stub_off	*o, *next;

	(void)db;
	(void)cause;
	TAILQ_FOREACH_SAFE(o, &offs, entry, next) {
		if (strcmp(o->owner, owner) != 0 || o->id > id)
			continue;
		TAILQ_REMOVE(&offs, o, entry);
		free(o->owner);
		free(o->stanza);
		free(o);
	}
	return (0);
}

/* Free a list from db_offline_list. */
void
db_offline_free(struct db_offline *list, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(list[i].stanza);
	free(list);
}

/* How many offline messages owner has stored. */
int
stub_offline_count(const char *owner)
{
	int	 n;
	size_t	 bytes;

	return (db_offline_count(NULL, owner, &n, &bytes, NULL) == 0 ? n : -1);
}
