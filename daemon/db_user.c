/*
 * Accounts (SCRAM keys only, never passwords) and rosters of the store
 * (db.h); SQL helpers from db.c (db_int.h).
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db.h"
#include "db_int.h"
#include "util.h"
#include "xmalloc.h"
#include "xmpp/sasl.h"

static int	 db_user_put_creds(struct db *, const char *,
		    const struct sasl_creds *, char **);
static void	 db_roster_row(sqlite3_stmt *, struct db_roster *);
static int	 db_user_strings(struct db *, const char *, const char *,
		    char ***, int *, char **);

/*
 * Run a query of one text column (bound to arg unless NULL) into a
 * NULL-terminated list freed with util_free_argv. -1 with *cause on a
 * database error, with *list NULL: never a short list.
 */
static int
db_user_strings(struct db *db, const char *sql, const char *arg,
    char ***list, int *n, char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	*list = NULL;
	*n = 0;
	if (db_prepare(db, &st, sql, NULL) == -1)
		return (db_fail(db, cause));
	if (arg != NULL)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*list = xreallocarray(*list, *n + 2, sizeof(**list));
		(*list)[(*n)++] =
		    xstrdup((const char *)sqlite3_column_text(st, 0));
		(*list)[*n] = NULL;
	}
	if (rc != SQLITE_DONE)
		db_fail(db, cause);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		util_free_argv(*list, *n);
		*list = NULL;
		*n = 0;
		return (-1);
	}
	return (0);
}

/* Store one hash's SCRAM keys for an account. */
static int
db_user_put_creds(struct db *db, const char *localpart,
    const struct sasl_creds *c, char **cause)
{
	sqlite3_stmt	*st;

	if (db_prepare(db, &st, "INSERT OR REPLACE INTO user_scram "
	    "(localpart, hash, iterations, salt, stored_key, server_key) "
	    "VALUES (?, ?, ?, ?, ?, ?)", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, localpart, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, c->hash);
	sqlite3_bind_int(st, 3, c->iterations);
	sqlite3_bind_blob(st, 4, c->salt, sizeof(c->salt), SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, c->stored_key, c->keylen, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, c->server_key, c->keylen, SQLITE_STATIC);
	return (db_done(db, st, cause));
}

/* Add an account with its SHA-1 and SHA-256 keys, in one transaction. */
int
db_user_add(struct db *db, const char *localpart,
    const struct sasl_creds *sha1, const struct sasl_creds *sha256,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 rc, ext;

	if (db_begin(db, cause) == -1)
		return (-1);
	if (db_prepare(db, &st, "INSERT INTO user (localpart) VALUES (?)",
	    cause) == -1)
		goto fail;
	sqlite3_bind_text(st, 1, localpart, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	ext = sqlite3_extended_errcode(db->sql);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		if (ext == SQLITE_CONSTRAINT_PRIMARYKEY)
			xasprintf(cause, "user %s already exists", localpart);
		else
			xasprintf(cause, "database: %s",
			    sqlite3_errmsg(db->sql));
		goto fail;
	}
	if (db_user_put_creds(db, localpart, sha1, cause) == -1 ||
	    db_user_put_creds(db, localpart, sha256, cause) == -1)
		goto fail;
	return (db_commit(db, cause));
fail:
	db_rollback(db);
	return (-1);
}

/* Replace an account's keys (a new password), in one transaction. */
int
db_user_set_creds(struct db *db, const char *localpart,
    const struct sasl_creds *sha1, const struct sasl_creds *sha256,
    char **cause)
{
	switch (db_user_exists(db, localpart, cause)) {
	case -1:
		return (-1);
	case 0:
		xasprintf(cause, "no user named %s", localpart);
		return (-1);
	}
	if (db_begin(db, cause) == -1)
		return (-1);
	if (db_user_put_creds(db, localpart, sha1, cause) == -1 ||
	    db_user_put_creds(db, localpart, sha256, cause) == -1) {
		db_rollback(db);
		return (-1);
	}
	return (db_commit(db, cause));
}

/* Delete an account with its keys and roster. */
int
db_user_del(struct db *db, const char *localpart, char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (db_begin(db, cause) == -1)
		return (-1);
	if (db_prepare(db, &st, "DELETE FROM user WHERE localpart = ?",
	    cause) == -1) {
		db_rollback(db);
		return (-1);
	}
	sqlite3_bind_text(st, 1, localpart, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || sqlite3_changes(db->sql) == 0) {
		if (rc != SQLITE_DONE)
			xasprintf(cause, "database: %s",
			    sqlite3_errmsg(db->sql));
		else
			xasprintf(cause, "no user named %s", localpart);
		db_rollback(db);
		return (-1);
	}
	return (db_commit(db, cause));
}

/* Whether an account exists: 1, 0, or -1 with *cause on a database error. */
int
db_user_exists(struct db *db, const char *localpart, char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (db_prepare(db, &st, "SELECT 1 FROM user WHERE localpart = ?",
	    NULL) == -1)
		return (db_fail(db, cause));
	sqlite3_bind_text(st, 1, localpart, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW && rc != SQLITE_DONE)
		db_fail(db, cause);
	sqlite3_finalize(st);
	return (rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1);
}

/*
 * An account's keys for one hash into *c: 1, 0 when there is no such
 * account (or its stored keys are unusable), -1 with *cause on a database
 * error.
 */
int
db_user_creds(struct db *db, const char *localpart, int hash,
    struct sasl_creds *c, char **cause)
{
	sqlite3_stmt	*st;
	size_t		 n;
	int		 rc, found = 0;

	if (db_prepare(db, &st, "SELECT iterations, salt, stored_key, "
	    "server_key FROM user_scram WHERE localpart = ? AND hash = ?",
	    NULL) == -1)
		return (db_fail(db, cause));
	sqlite3_bind_text(st, 1, localpart, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, hash);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(c, 0, sizeof(*c));
		c->hash = hash;
		c->iterations = sqlite3_column_int(st, 0);
		n = sqlite3_column_bytes(st, 2);
		if (sqlite3_column_bytes(st, 1) == sizeof(c->salt) &&
		    n <= sizeof(c->stored_key) &&
		    (size_t)sqlite3_column_bytes(st, 3) == n) {
			memcpy(c->salt, sqlite3_column_blob(st, 1),
			    sizeof(c->salt));
			memcpy(c->stored_key, sqlite3_column_blob(st, 2), n);
			memcpy(c->server_key, sqlite3_column_blob(st, 3), n);
			c->keylen = n;
			found = 1;
		}
	} else if (rc != SQLITE_DONE)
		found = db_fail(db, cause);
	sqlite3_finalize(st);
	return (found);
}

/*
 * Every account, sorted; free with util_free_argv. -1 with *cause on a
 * database error, and no list: never a short one.
 */
int
db_user_list(struct db *db, char ***names, int *n, char **cause)
{
	return (db_user_strings(db, "SELECT localpart FROM user "
	    "ORDER BY localpart", NULL, names, n, cause));
}

/* Fill a roster item from the current row (columns as in ROSTER_COLS). */
#define ROSTER_COLS "jid, name, subscription, ask, pending_in, groups"
static void
db_roster_row(sqlite3_stmt *st, struct db_roster *r)
{
	memset(r, 0, sizeof(*r));
	r->jid = xstrdup((const char *)sqlite3_column_text(st, 0));
	if (sqlite3_column_type(st, 1) != SQLITE_NULL)
		r->name = xstrdup((const char *)sqlite3_column_text(st, 1));
	r->subscription = xstrdup((const char *)sqlite3_column_text(st, 2));
	r->ask = sqlite3_column_int(st, 3);
	r->pending_in = sqlite3_column_int(st, 4);
	r->groups = xstrdup((const char *)sqlite3_column_text(st, 5));
}

/*
 * An account's roster, ordered by JID; free with db_roster_free. -1 with
 * *cause on a database error, and no list: never a short one.
 */
int
db_roster_get(struct db *db, const char *owner, struct db_roster **list,
    size_t *n, char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	*list = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT " ROSTER_COLS " FROM roster "
	    "WHERE owner = ? ORDER BY jid", NULL) == -1)
		return (db_fail(db, cause));
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*list = xreallocarray(*list, *n + 1, sizeof(**list));
		db_roster_row(st, &(*list)[(*n)++]);
	}
	if (rc != SQLITE_DONE)
		db_fail(db, cause);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		db_roster_free(*list, *n);
		*list = NULL;
		*n = 0;
		return (-1);
	}
	return (0);
}

/*
 * One roster item into *r (free with db_roster_clear): 1, 0 when the
 * owner has no item for that JID, -1 with *cause on a database error.
 */
int
db_roster_item(struct db *db, const char *owner, const char *jid,
    struct db_roster *r, char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (db_prepare(db, &st, "SELECT " ROSTER_COLS " FROM roster "
	    "WHERE owner = ? AND jid = ?", NULL) == -1)
		return (db_fail(db, cause));
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, jid, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		db_roster_row(st, r);
	else if (rc != SQLITE_DONE)
		db_fail(db, cause);
	sqlite3_finalize(st);
	return (rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1);
}

/*
 * Whether an item, alone, is within the caps: a JID of 1 to
 * DB_ROSTER_MAX_JID bytes, a name of at most DB_ROSTER_MAX_NAME, at most
 * DB_ROSTER_MAX_GROUPS groups of 1 to DB_ROSTER_MAX_GROUP bytes each, no
 * control character and no duplicate among them. 0, or -1 with *cause.
 */
int
db_roster_check(const struct db_roster *r, char **cause)
{
	const char	*g, *end, *p;
	const char	*seen[DB_ROSTER_MAX_GROUPS];
	size_t		 len, glen[DB_ROSTER_MAX_GROUPS];
	int		 n = 0, i;

	if (r->jid == NULL || *r->jid == '\0' ||
	    strlen(r->jid) > DB_ROSTER_MAX_JID) {
		xasprintf(cause, "roster item: JID empty or longer than %d "
		    "bytes", DB_ROSTER_MAX_JID);
		return (-1);
	}
	if (r->name != NULL && strlen(r->name) > DB_ROSTER_MAX_NAME) {
		xasprintf(cause, "roster item: name longer than %d bytes",
		    DB_ROSTER_MAX_NAME);
		return (-1);
	}
	if (r->groups == NULL || *r->groups == '\0')
		return (0);
	for (g = r->groups;; g = end + 1) {
		end = g + strcspn(g, "\n");
		len = end - g;
		if (n == DB_ROSTER_MAX_GROUPS) {
			xasprintf(cause, "roster item: more than %d groups",
			    DB_ROSTER_MAX_GROUPS);
			return (-1);
		}
		if (len == 0 || len > DB_ROSTER_MAX_GROUP) {
			xasprintf(cause, "roster item: a group empty or "
			    "longer than %d bytes", DB_ROSTER_MAX_GROUP);
			return (-1);
		}
		for (p = g; p < end; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				xasprintf(cause, "roster item: a control "
				    "character in a group");
				return (-1);
			}
		}
		for (i = 0; i < n; i++) {
			if (glen[i] == len && memcmp(seen[i], g, len) == 0) {
				xasprintf(cause, "roster item: a group twice");
				return (-1);
			}
		}
		seen[n] = g;
		glen[n++] = len;
		if (*end == '\0')
			return (0);
	}
}

/* The bytes an item counts for against DB_ROSTER_MAX_BYTES. */
size_t
db_roster_size(const struct db_roster *r)
{
	return ((r->jid ? strlen(r->jid) : 0) +
	    (r->name ? strlen(r->name) : 0) +
	    (r->groups ? strlen(r->groups) : 0));
}

/*
 * Whether owner's roster has room for item r (new, or replacing the item
 * of the same JID): a new item must not pass DB_ROSTER_MAX_ITEMS, and the
 * roster's bytes must not pass DB_ROSTER_MAX_BYTES unless r is no larger
 * than the item it replaces (so a roster stored before the caps can still
 * shrink). 0 when it fits, 1 with *cause when it does not, -1 with *cause
 * on a database error.
 */
int
db_roster_fits(struct db *db, const char *owner, const struct db_roster *r,
    char **cause)
{
	sqlite3_stmt	*st;
	sqlite3_int64	 others, obytes, exists, oldsize;
	size_t		 size = db_roster_size(r);

	if (db_prepare(db, &st, "SELECT sum(jid != ?2), "
	    "total(CASE WHEN jid != ?2 THEN s END), sum(jid = ?2), "
	    "total(CASE WHEN jid = ?2 THEN s END) FROM (SELECT jid, "
	    "length(CAST(jid AS BLOB)) + "
	    "ifnull(length(CAST(name AS BLOB)), 0) + "
	    "length(CAST(groups AS BLOB)) AS s "
	    "FROM roster WHERE owner = ?1)", NULL) == -1)
		return (db_fail(db, cause));
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->jid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		db_fail(db, cause);
		sqlite3_finalize(st);
		return (-1);
	}
	others = sqlite3_column_int64(st, 0);
	obytes = sqlite3_column_int64(st, 1);
	exists = sqlite3_column_int64(st, 2);
	oldsize = sqlite3_column_int64(st, 3);
	sqlite3_finalize(st);
	if (!exists && others >= DB_ROSTER_MAX_ITEMS) {
		xasprintf(cause, "roster full: %d items", DB_ROSTER_MAX_ITEMS);
		return (1);
	}
	if (obytes + (sqlite3_int64)size > DB_ROSTER_MAX_BYTES &&
	    (!exists || (sqlite3_int64)size > oldsize)) {
		xasprintf(cause, "roster full: %d bytes", DB_ROSTER_MAX_BYTES);
		return (1);
	}
	return (0);
}

/*
 * Insert or replace a roster item; committed when this returns 0. An item
 * that db_roster_check refuses, or that does not fit (db_roster_fits), is
 * not stored: -1 with *cause.
 */
int
db_roster_put(struct db *db, const char *owner, const struct db_roster *r,
    char **cause)
{
	sqlite3_stmt	*st;

	if (db_roster_check(r, cause) == -1 ||
	    db_roster_fits(db, owner, r, cause) != 0)
		return (-1);
	if (db_prepare(db, &st, "INSERT OR REPLACE INTO roster (owner, "
	    ROSTER_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?)", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->jid, -1, SQLITE_STATIC);
	if (r->name != NULL)
		sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->subscription, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, r->ask);
	sqlite3_bind_int(st, 6, r->pending_in);
	sqlite3_bind_text(st, 7, r->groups ? r->groups : "", -1,
	    SQLITE_STATIC);
	return (db_done(db, st, cause));
}

/*
 * The JIDs of owner's contacts that presence needs, sorted: which is
 * DB_ROSTER_FROM (subscription from or both: they get our presence),
 * DB_ROSTER_TO (to or both: we get theirs) or DB_ROSTER_ASKED (their
 * subscription request waits for an answer). Only JIDs are read, never
 * names or groups. -1 with *cause on a database error, with *jids NULL.
 */
int
db_roster_jids(struct db *db, const char *owner, int which, char ***jids,
    int *n, char **cause)
{
	const char	*sql;

	*jids = NULL;
	*n = 0;
	switch (which) {
	case DB_ROSTER_FROM:
		sql = "SELECT jid FROM roster WHERE owner = ? AND "
		    "subscription IN ('from', 'both') ORDER BY jid";
		break;
	case DB_ROSTER_TO:
		sql = "SELECT jid FROM roster WHERE owner = ? AND "
		    "subscription IN ('to', 'both') ORDER BY jid";
		break;
	case DB_ROSTER_ASKED:
		sql = "SELECT jid FROM roster WHERE owner = ? AND "
		    "pending_in != 0 ORDER BY jid";
		break;
	default:
		if (cause != NULL)
			xasprintf(cause, "database error: no roster list %d",
			    which);
		return (-1);
	}
	return (db_user_strings(db, sql, owner, jids, n, cause));
}

/* Remove a roster item; removing one that is not there is fine. */
int
db_roster_del(struct db *db, const char *owner, const char *jid,
    char **cause)
{
	sqlite3_stmt	*st;

	if (db_prepare(db, &st, "DELETE FROM roster WHERE owner = ? AND "
	    "jid = ?", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, jid, -1, SQLITE_STATIC);
	return (db_done(db, st, cause));
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
