/*
 * Settings, the listen list, call bridges and the remote syslog servers
 * of the store (db.h); SQL helpers from db.c (db_int.h).
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db.h"
#include "db_int.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

/*
 * A configuration value: 1 and *value (the caller frees), 0 when unset,
 * -1 on a database error with *cause; *value is NULL unless 1.
 */
int
db_config_find(struct db *db, const char *key, char **value, char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	*value = NULL;
	if (db_prepare(db, &st, "SELECT value FROM config WHERE key = ?",
	    NULL) == -1)
		return (db_fail(db, cause));
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*value = xstrdup((const char *)sqlite3_column_text(st, 0));
	else if (rc != SQLITE_DONE)
		db_fail(db, cause);
	sqlite3_finalize(st);
	return (rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1);
}

/*
 * A configuration value, or NULL when unset or when the database fails
 * (that is logged); the caller frees. Where an error must not read as
 * "unset", use db_config_find.
 */
char *
db_config_get(struct db *db, const char *key)
{
	char	*v, *cause = NULL;

	if (db_config_find(db, key, &v, &cause) == -1) {
		log_warnx("db_config_get: %s: %s", key, cause);
		free(cause);
	}
	return (v);
}

/* Set a configuration value; NULL deletes it. */
int
db_config_set(struct db *db, const char *key, const char *value,
    char **cause)
{
	sqlite3_stmt	*st;

	if (db_prepare(db, &st, value != NULL ?
	    "INSERT INTO config (key, value) VALUES (?, ?) "
	    "ON CONFLICT (key) DO UPDATE SET value = excluded.value" :
	    "DELETE FROM config WHERE key = ?", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (value != NULL)
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return (db_done(db, st, cause));
}

/*
 * The listen list in the order it was given; free with util_free_argv.
 * -1 on a database error (logged), with an empty list, never a short one.
 */
int
db_listen_get(struct db *db, char ***addrs, int *n)
{
	sqlite3_stmt	*st;
	int		 rc;

	*addrs = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT addr FROM listen ORDER BY pos",
	    NULL) == -1) {
		log_warnx("db_listen_get: database error: %s",
		    sqlite3_errmsg(db->sql));
		return (-1);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*addrs = xreallocarray(*addrs, *n + 2, sizeof(**addrs));
		(*addrs)[(*n)++] =
		    xstrdup((const char *)sqlite3_column_text(st, 0));
		(*addrs)[*n] = NULL;
	}
	if (rc != SQLITE_DONE)
		log_warnx("db_listen_get: database error: %s",
		    sqlite3_errmsg(db->sql));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		util_free_argv(*addrs, *n);
		*addrs = NULL;
		*n = 0;
		return (-1);
	}
	return (0);
}

/* Replace the listen list; call inside a transaction. */
int
db_listen_set(struct db *db, char **addrs, int n, char **cause)
{
	sqlite3_stmt	*st;
	int		 i, ext, rc = SQLITE_DONE;

	if (db_exec(db, "DELETE FROM listen", cause) == -1)
		return (-1);
	if (db_prepare(db, &st, "INSERT INTO listen (pos, addr) "
	    "VALUES (?, ?)", cause) == -1)
		return (-1);
	for (i = 0; i < n && rc == SQLITE_DONE; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_text(st, 2, addrs[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	ext = sqlite3_extended_errcode(db->sql);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		if (ext == SQLITE_CONSTRAINT_CHECK)
			xasprintf(cause, "listen address %s: must be 1 to 64 "
			    "characters", addrs[i - 1]);
		else if (ext == SQLITE_CONSTRAINT_UNIQUE)
			xasprintf(cause, "listen address %s given twice",
			    addrs[i - 1]);
		else
			xasprintf(cause, "database: %s",
			    sqlite3_errmsg(db->sql));
		return (-1);
	}
	return (0);
}


/*
 * The call bridge whose name equals name regardless of ASCII case (names
 * are unique that way). Returns 1 and sets *cb, which the caller frees
 * with db_callbridge_free(*cb, 1); 0 when there is none; -1 with *cause
 * on a database error or when more than one row matches.
 */
int
db_callbridge_get(struct db *db, const char *name, struct db_callbridge **cb,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 rc, found = 0;

	*cb = NULL;
	if (db_prepare(db, &st, "SELECT name, secret FROM callbridge "
	    "WHERE name = ? COLLATE NOCASE LIMIT 2", NULL) == -1)
		return (db_fail(db, cause));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && found++ == 0) {
		*cb = xcalloc(1, sizeof(**cb));
		(*cb)->name = xstrdup((const char *)sqlite3_column_text(st, 0));
		(*cb)->secret =
		    xstrdup((const char *)sqlite3_column_text(st, 1));
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		db_fail(db, cause);
	sqlite3_finalize(st);
	if ((rc != SQLITE_DONE && rc != SQLITE_ROW) || found > 1) {
		if (found > 1) {
			log_warnx("db_callbridge_get: more than one call "
			    "bridge named %s", name);
			if (cause != NULL)
				xasprintf(cause, "database error: more than "
				    "one call bridge named %s", name);
		}
		db_callbridge_free(*cb, *cb != NULL);
		*cb = NULL;
		return (-1);
	}
	return (found);
}

/* Add a call bridge; a name that exists, in any case, is refused. */
int
db_callbridge_add(struct db *db, const char *name, const char *secret,
    char **cause)
{
	struct db_callbridge	*old;
	sqlite3_stmt		*st;
	int			 rc, ext;

	if ((rc = db_callbridge_get(db, name, &old, NULL)) == 1) {
		if (strcmp(old->name, name) == 0)
			xasprintf(cause, "call bridge %s already exists", name);
		else
			xasprintf(cause, "call bridge %s already exists as %s "
			    "(names ignore case)", name, old->name);
		db_callbridge_free(old, 1);
		return (-1);
	}
	if (rc == -1) {
		xasprintf(cause, "database: cannot look up call bridge %s",
		    name);
		return (-1);
	}
	if (db_prepare(db, &st, "INSERT INTO callbridge (name, secret) "
	    "VALUES (?, ?)", cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, secret, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	ext = sqlite3_extended_errcode(db->sql);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return (0);
	if (ext == SQLITE_CONSTRAINT_PRIMARYKEY ||
	    ext == SQLITE_CONSTRAINT_UNIQUE)
		xasprintf(cause, "call bridge %s already exists", name);
	else if (ext == SQLITE_CONSTRAINT_CHECK)
		xasprintf(cause, "call bridge %s: name must be 1 to 64 "
		    "characters and secret 8 to 256", name);
	else
		xasprintf(cause, "database: %s", sqlite3_errmsg(db->sql));
	return (-1);
}

/* Delete a call bridge; a name that does not exist is an error. */
int
db_callbridge_del(struct db *db, const char *name, char **cause)
{
	struct db_callbridge	*old = NULL;
	sqlite3_stmt		*st;
	int			 rc;

	if (db_prepare(db, &st, "DELETE FROM callbridge WHERE name = ?",
	    cause) == -1)
		return (-1);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		xasprintf(cause, "database: %s", sqlite3_errmsg(db->sql));
		return (-1);
	}
	if (sqlite3_changes(db->sql) == 0) {
		if (db_callbridge_get(db, name, &old, NULL) == 1)
			xasprintf(cause, "no call bridge named %s (there is "
			    "%s)", name, old->name);
		else
			xasprintf(cause, "no call bridge named %s", name);
		db_callbridge_free(old, old != NULL);
		return (-1);
	}
	return (0);
}

/*
 * All call bridges ordered by name, in an array the caller frees with
 * db_callbridge_free. -1 with *cause on a database error, and no list:
 * never a short one.
 */
int
db_callbridge_list(struct db *db, struct db_callbridge **list, size_t *n,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	*list = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT name, secret FROM callbridge "
	    "ORDER BY name", NULL) == -1)
		return (db_fail(db, cause));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*list = xreallocarray(*list, *n + 1, sizeof(**list));
		(*list)[*n].name =
		    xstrdup((const char *)sqlite3_column_text(st, 0));
		(*list)[*n].secret =
		    xstrdup((const char *)sqlite3_column_text(st, 1));
		(*n)++;
	}
	if (rc != SQLITE_DONE)
		db_fail(db, cause);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		db_callbridge_free(*list, *n);
		*list = NULL;
		*n = 0;
		return (-1);
	}
	return (0);
}

/* Free a list from db_callbridge_list (or db_callbridge_get), wiping. */
void
db_callbridge_free(struct db_callbridge *list, size_t n)
{
	size_t	 i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(list[i].name);
		explicit_bzero(list[i].secret, strlen(list[i].secret));
		free(list[i].secret);
	}
	free(list);
}

/* The number of call bridges, or -1 on a database error. */
int
db_callbridge_count(struct db *db)
{
	sqlite3_stmt	*st;
	int		 n = -1;

	if (db_prepare(db, &st, "SELECT count(*) FROM callbridge", NULL) ==
	    -1)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return (n);
}

/*
 * Clear all XMPP configuration and call bridges in one transaction of its
 * own: do not call inside db_begin.
 */
int
db_xmpp_reset(struct db *db, char **cause)
{
	if (db_begin(db, cause) == -1)
		return (-1);
	if (db_exec(db, "DELETE FROM config WHERE key LIKE 'xmpp.%'",
	    cause) == -1 ||
	    db_exec(db, "DELETE FROM listen", cause) == -1 ||
	    db_exec(db, "DELETE FROM callbridge", cause) == -1) {
		db_rollback(db);
		return (-1);
	}
	return (db_commit(db, cause));
}

/*
 * Remote syslog servers: per node (never replicated), one setting that
 * holds "proto address port" entries separated by commas.
 */

/*
 * The remote syslog servers as stored: 1 and *value (the caller frees),
 * 0 when none are set, -1 with *cause on a database error.
 */
int
db_syslog_get(struct db *db, char **value, char **cause)
{
	return (db_config_find(db, DB_SYSLOG_SERVERS, value, cause));
}

/* Store the remote syslog servers (NULL or "" for none), committed. */
int
db_syslog_set(struct db *db, const char *value, char **cause)
{
	if (value != NULL && *value == '\0')
		value = NULL;
	if (db_begin(db, cause) == -1)
		return (-1);
	if (db_config_set(db, DB_SYSLOG_SERVERS, value, cause) == -1) {
		db_rollback(db);
		return (-1);
	}
	return (db_commit(db, cause));
}
