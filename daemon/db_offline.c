/*
 * Offline messages (XEP-0160) of the store (db.h): each account's in the
 * order of their id, removed with the account (ON DELETE CASCADE). The
 * caps are the caller's (xmpp/offline.c, or the cluster's state machine,
 * which hands each message its id); this file only stores. SQL helpers
 * from db.c (db_int.h).
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db.h"
#include "db_int.h"
#include "xmalloc.h"

/*
 * Store owner's message stanza as number id, or after owner's last one
 * when id is 0; a message already stored under that id is replaced (the
 * log may apply an entry again after a restart). Committed when this
 * returns 0; -1 with *cause (also: no such account).
 */
int
db_offline_put(struct db *db, const char *owner, long long id,
    const char *stanza, char **cause)
{
	sqlite3_stmt	*st;

	if (db_prepare(db, &st, id > 0 ?
	    "INSERT OR REPLACE INTO offline (owner, id, stanza) "
	    "VALUES (?1, ?2, ?3)" :
	    "INSERT INTO offline (owner, id, stanza) VALUES (?1, "
	    "(SELECT coalesce(max(id), 0) + 1 FROM offline WHERE owner = ?1),"
	    " ?3)", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	if (id > 0)
		sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_text(st, 3, stanza, -1, SQLITE_STATIC);
	return (db_done(db, st, cause));
}

/*
 * How many messages owner has stored (*n) and their bytes (*bytes): 0,
 * or -1 with *cause on a database error.
 */
int
db_offline_count(struct db *db, const char *owner, int *n, size_t *bytes,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	*n = 0;
	*bytes = 0;
	if (db_prepare(db, &st, "SELECT count(*), coalesce(sum(length("
	    "CAST(stanza AS BLOB))), 0) FROM offline WHERE owner = ?",
	    NULL) == -1)
		return (db_fail(db, cause));
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*n = sqlite3_column_int(st, 0);
		*bytes = (size_t)sqlite3_column_int64(st, 1);
	} else
		db_fail(db, cause);
	sqlite3_finalize(st);
	return (rc == SQLITE_ROW ? 0 : -1);
}

/*
 * owner's messages with an id above after, in the order of id, into
 * *list (*n of them; free with db_offline_free). 0, or -1 with *cause and
 * no list: never a short one.
 */
int
db_offline_list(struct db *db, const char *owner, long long after,
    struct db_offline **list, size_t *n, char **cause)
{
	sqlite3_stmt	*st;
	const char	*s;
	int		 rc;

	*list = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT id, stanza FROM offline WHERE "
	    "owner = ? AND id > ? ORDER BY id", NULL) == -1)
		return (db_fail(db, cause));
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*list = xreallocarray(*list, *n + 1, sizeof(**list));
		(*list)[*n].id = sqlite3_column_int64(st, 0);
		s = (const char *)sqlite3_column_text(st, 1);
		(*list)[*n].stanza = xstrdup(s != NULL ? s : "");
		(*n)++;
	}
	if (rc != SQLITE_DONE) {
		db_fail(db, cause);
		db_offline_free(*list, *n);
		*list = NULL;
		*n = 0;
	}
	sqlite3_finalize(st);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/* Remove owner's messages up to and including id (none is fine). */
int
db_offline_del(struct db *db, const char *owner, long long id, char **cause)
{
	sqlite3_stmt	*st;

	if (db_prepare(db, &st, "DELETE FROM offline WHERE owner = ? AND "
	    "id <= ?", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	return (db_done(db, st, cause));
}

/* Remove every account's messages (a snapshot brings them all anew). */
int
db_offline_clear(struct db *db, char **cause)
{
	return (db_exec(db, "DELETE FROM offline", cause));
}

/* Free a list from db_offline_list. */
void
db_offline_free(struct db_offline *list, size_t n)
{
	size_t	 i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		free(list[i].stanza);
	free(list);
}
