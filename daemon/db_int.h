/*
 * Private to the db*.c files: the handle and the SQL helpers db.c shares
 * with db_config.c, db_user.c and db_backup.c. Nothing else includes this.
 */
#ifndef DB_INT_H
#define DB_INT_H

#include <sqlite3.h>

struct db {
	sqlite3		*sql;
};

/* Run parameterless SQL; -1 with *cause ("database: ...", NULL: none). */
int	 db_exec(struct db *, const char *, char **);
/* Prepare one statement into *st; -1 with *cause (may be NULL). */
int	 db_prepare(struct db *, sqlite3_stmt **, const char *, char **);
/* Step a statement that returns no rows and finalize it; -1 with *cause. */
int	 db_done(struct db *, sqlite3_stmt *, char **);
/* Set *cause (NULL: none) to "database error: <SQLite's message>"; -1. */
int	 db_fail(struct db *, char **);
/* PRAGMA user_version of a connection, or -1 when it cannot be read. */
int	 db_user_version(sqlite3 *);
/* PRAGMA integrity_check says "ok"; else -1 with *cause (what it said). */
int	 db_integrity(sqlite3 *, char **);

#endif /* DB_INT_H */
