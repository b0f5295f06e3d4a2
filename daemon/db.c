/*
 * The SQLite store: one file, WAL mode, foreign keys on, synchronous=FULL.
 * Schema versions live in PRAGMA user_version and migrations are applied
 * in order at open. Every statement is prepared and bound, never
 * formatted; nothing outside db*.c sees SQL. This file opens, checks and
 * migrates the database and holds the helpers the other db_*.c files
 * share (db_int.h); db_config.c, db_user.c, db_offline.c and db_backup.c
 * hold the rest.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "db_int.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

static int	 db_migrate(struct db *, char **);
static void	 db_callbridge_log_shadowed(struct db *);

/* Migration n takes the schema from version n to n + 1. */
static const char *migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE config ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  value TEXT NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE listen ("
	"  pos INTEGER PRIMARY KEY,"
	"  addr TEXT NOT NULL UNIQUE CHECK (length(addr) BETWEEN 1 AND 64)"
	");"
	"CREATE TABLE callbridge ("
	"  name TEXT PRIMARY KEY NOT NULL"
	"    CHECK (length(name) BETWEEN 1 AND 64),"
	"  secret TEXT NOT NULL CHECK (length(secret) BETWEEN 8 AND 256),"
	"  created INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))"
	");",
	/* 1 -> 2: accounts (SCRAM keys only) and rosters */
	"CREATE TABLE user ("
	"  localpart TEXT PRIMARY KEY NOT NULL"
	"    CHECK (length(localpart) BETWEEN 1 AND 64),"
	"  created INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))"
	");"
	"CREATE TABLE user_scram ("
	"  localpart TEXT NOT NULL REFERENCES user (localpart)"
	"    ON DELETE CASCADE,"
	"  hash INTEGER NOT NULL CHECK (hash IN (1, 2)),"
	"  iterations INTEGER NOT NULL CHECK (iterations >= 4096),"
	"  salt BLOB NOT NULL CHECK (length(salt) = 16),"
	"  stored_key BLOB NOT NULL,"
	"  server_key BLOB NOT NULL,"
	"  PRIMARY KEY (localpart, hash)"
	");"
	"CREATE TABLE roster ("
	"  owner TEXT NOT NULL REFERENCES user (localpart) ON DELETE CASCADE,"
	"  jid TEXT NOT NULL CHECK (length(jid) BETWEEN 3 AND 3071),"
	"  name TEXT,"
	"  subscription TEXT NOT NULL DEFAULT 'none'"
	"    CHECK (subscription IN ('none', 'to', 'from', 'both')),"
	"  ask INTEGER NOT NULL DEFAULT 0,"
	"  pending_in INTEGER NOT NULL DEFAULT 0,"
	"  groups TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (owner, jid)"
	");",
	/*
	 * 2 -> 3: call-bridge names unique regardless of ASCII case. Of
	 * names that differ only in case, the component handshake always
	 * used the last in binary order, so only that one's secret ever
	 * logged in: keep it, drop the others (db_migrate names them).
	 */
	"DELETE FROM callbridge WHERE EXISTS (SELECT 1 FROM callbridge AS o"
	"  WHERE o.name = callbridge.name COLLATE NOCASE"
	"  AND o.name > callbridge.name);"
	"CREATE UNIQUE INDEX callbridge_name_nocase"
	"  ON callbridge (name COLLATE NOCASE);",
	/*
	 * 3 -> 4: offline messages (XEP-0160), each account's in the order
	 * of id; they go with their account.
	 */
	"CREATE TABLE offline ("
	"  owner TEXT NOT NULL REFERENCES user (localpart) ON DELETE CASCADE,"
	"  id INTEGER NOT NULL CHECK (id > 0),"
	"  stanza TEXT NOT NULL CHECK (length(stanza) > 0),"
	"  PRIMARY KEY (owner, id)"
	") WITHOUT ROWID;",
};

/* Run SQL that takes no parameters (schema, pragmas, transactions). */
int
db_exec(struct db *db, const char *sql, char **cause)
{
	char	*err = NULL;

	if (sqlite3_exec(db->sql, sql, NULL, NULL, &err) != SQLITE_OK) {
		if (cause != NULL)
			xasprintf(cause, "database: %s",
			    err ? err : sqlite3_errmsg(db->sql));
		sqlite3_free(err);
		return (-1);
	}
	return (0);
}

/* Run a statement that returns no rows and finalize it; -1 with *cause. */
int
db_done(struct db *db, sqlite3_stmt *st, char **cause)
{
	int	 rc;

	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && cause != NULL)
		xasprintf(cause, "database: %s", sqlite3_errmsg(db->sql));
	sqlite3_finalize(st);
	return (rc == SQLITE_DONE ? 0 : -1);
}

/* Prepare one statement; -1 with *cause on failure. */
int
db_prepare(struct db *db, sqlite3_stmt **st, const char *sql, char **cause)
{
	if (sqlite3_prepare_v2(db->sql, sql, -1, st, NULL) != SQLITE_OK) {
		if (cause != NULL)
			xasprintf(cause, "database: %s",
			    sqlite3_errmsg(db->sql));
		*st = NULL;
		return (-1);
	}
	return (0);
}

/*
 * Set *cause, unless cause is NULL, to SQLite's message for the call that
 * just failed on this connection; returns -1. Lookups and lists use it so
 * that an error reads "database error: ..." and never as absence.
 */
int
db_fail(struct db *db, char **cause)
{
	if (cause != NULL)
		xasprintf(cause, "database error: %s", sqlite3_errmsg(db->sql));
	return (-1);
}

/* The schema version stored in the file, or -1. */
int
db_user_version(sqlite3 *sql)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	if (sqlite3_prepare_v2(sql, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return (v);
}

/*
 * Run PRAGMA integrity_check on a connection: 0 if it answers "ok", else
 * -1 with *cause, SQLite's error or "integrity check failed: <answer>".
 */
int
db_integrity(sqlite3 *sql, char **cause)
{
	sqlite3_stmt	*st = NULL;
	const char	*res;
	int		 rc = -1;

	if (sqlite3_prepare_v2(sql, "PRAGMA integrity_check", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		xasprintf(cause, "%s", sqlite3_errmsg(sql));
		goto out;
	}
	res = (const char *)sqlite3_column_text(st, 0);
	if (res == NULL || strcmp(res, "ok") != 0) {
		xasprintf(cause, "integrity check failed: %s",
		    res != NULL ? res : "no answer");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return (rc);
}

/* Apply every migration the file has not seen, each in a transaction. */
static int
db_migrate(struct db *db, char **cause)
{
	char	 pragma[64];
	int	 v;

	if ((v = db_user_version(db->sql)) < 0) {
		xasprintf(cause, "database: cannot read schema version: %s",
		    sqlite3_errmsg(db->sql));
		return (-1);
	}
	if (v > DB_SCHEMA_VERSION) {
		xasprintf(cause, "database schema version %d is newer than "
		    "this mmpd understands (%d)", v, DB_SCHEMA_VERSION);
		return (-1);
	}
	for (; v < DB_SCHEMA_VERSION; v++) {
		if (db_exec(db, "BEGIN IMMEDIATE", cause) == -1)
			return (-1);
		if (v == 2)
			db_callbridge_log_shadowed(db);
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
		    v + 1);
		if (db_exec(db, migrations[v], cause) == -1 ||
		    db_exec(db, pragma, cause) == -1 ||
		    db_exec(db, "COMMIT", cause) == -1) {
			db_exec(db, "ROLLBACK", NULL);
			return (-1);
		}
		log_info("db_migrate: schema now at version %d", v + 1);
	}
	return (0);
}

/*
 * Open (creating if needed, mode 0600) the database at path and bring its
 * schema up to date. Returns a handle the caller closes with db_close.
 */
struct db *
db_open(const char *path, char **cause)
{
	struct db	*db;
	int		 fd;

	/* Create the file ourselves so that it is 0600 from the start. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (NULL);
	}
	if (fchmod(fd, 0600) == -1) {
		xasprintf(cause, "%s: chmod: %s", path, strerror(errno));
		close(fd);
		return (NULL);
	}
	close(fd);

	db = xcalloc(1, sizeof(*db));
	if (sqlite3_open_v2(path, &db->sql, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: %s", path, db->sql ?
		    sqlite3_errmsg(db->sql) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(db->sql, 5000);
	/* Refuse a newer schema before any pragma touches the file. */
	if (db_user_version(db->sql) > DB_SCHEMA_VERSION) {
		xasprintf(cause, "database schema version %d is newer than "
		    "this mmpd understands (%d)", db_user_version(db->sql),
		    DB_SCHEMA_VERSION);
		goto fail;
	}
	if (db_exec(db, "PRAGMA journal_mode = WAL", cause) == -1 ||
	    db_exec(db, "PRAGMA foreign_keys = ON", cause) == -1 ||
	    db_exec(db, "PRAGMA synchronous = FULL", cause) == -1 ||
	    db_migrate(db, cause) == -1)
		goto fail;
	return (db);
fail:
	db_close(db);
	return (NULL);
}

/* Close the database; NULL is fine. */
void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	sqlite3_close(db->sql);
	free(db);
}

/*
 * Check an existing database without changing it: it opens, passes
 * integrity_check and has a schema this build knows. 0 or -1 with *cause.
 */
int
db_check(const char *path, char **cause)
{
	sqlite3		*sql = NULL;
	char		*c;
	int		 v, rc = -1;

	if (sqlite3_open_v2(path, &sql, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		xasprintf(cause, "%s: %s", path, sql ? sqlite3_errmsg(sql) :
		    "cannot open");
		goto out;
	}
	if (db_integrity(sql, &c) == -1) {
		xasprintf(cause, "%s: %s", path, c);
		free(c);
		goto out;
	}
	if ((v = db_user_version(sql)) < 0 || v > DB_SCHEMA_VERSION) {
		xasprintf(cause, "%s: schema version %d, this mmpd knows up "
		    "to %d", path, v, DB_SCHEMA_VERSION);
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(sql);
	return (rc);
}

/* The schema version of an open database. */
int
db_schema_version(struct db *db)
{
	return (db_user_version(db->sql));
}

/* Start a write transaction. */
int
db_begin(struct db *db, char **cause)
{
	return (db_exec(db, "BEGIN IMMEDIATE", cause));
}

/* Commit; once this returns 0 the change is on disk (synchronous=FULL). */
int
db_commit(struct db *db, char **cause)
{
	if (db_exec(db, "COMMIT", cause) == -1) {
		db_rollback(db);
		return (-1);
	}
	return (0);
}

/* Roll back the open transaction, if any. */
void
db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->sql))
		db_exec(db, "ROLLBACK", NULL);
}


/*
 * Log the call bridges migration 2 -> 3 drops: names that differ only in
 * case from another whose secret the handshake used instead.
 */
static void
db_callbridge_log_shadowed(struct db *db)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (db_prepare(db, &st, "SELECT c.name, (SELECT max(o.name) FROM "
	    "callbridge AS o WHERE o.name = c.name COLLATE NOCASE) "
	    "FROM callbridge AS c WHERE EXISTS (SELECT 1 FROM callbridge AS o "
	    "WHERE o.name = c.name COLLATE NOCASE AND o.name > c.name) "
	    "ORDER BY c.name",
	    NULL) == -1)
		return;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		log_warnx("db_callbridge_log_shadowed: dropping call bridge "
		    "%s: its name differs only in case from %s, whose secret "
		    "is the one that logged in", sqlite3_column_text(st, 0),
		    sqlite3_column_text(st, 1));
	if (rc != SQLITE_DONE)
		log_warnx("db_callbridge_log_shadowed: database error: %s",
		    sqlite3_errmsg(db->sql));
	sqlite3_finalize(st);
}
