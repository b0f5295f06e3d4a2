/*
 * Private to mmp -j (shell/json.c, json_grammar.c, json_value.c): the
 * JSON value tree, the lines of an answer, and the functions the three
 * files share. shell/mmp.h has the interface the rest of the shell uses.
 */
#ifndef JSON_INT_H
#define JSON_INT_H

#include <sys/queue.h>

#include <stdio.h>


enum jv_type {
	JV_NULL,
	JV_STR,
	JV_NUM,
	JV_BOOL,
	JV_OBJ,
	JV_ARR
};

/* A JSON value; members of an object carry their key. */
struct jv {
	enum jv_type		 type;
	char			*key;
	char			*s;
	long long		 n;
	int			 repeated;	/* array of a repeated key */
	TAILQ_HEAD(, jv)	 kids;
	TAILQ_ENTRY(jv)		 entry;
};

struct json_lines {
	char			**v;
	size_t			 n;
	size_t			 cap;
};

/* json_value.c */
/* A new empty value of a type; the caller frees it with jv_free. */
struct jv	*jv_new(enum jv_type);
/* A new string value holding a copy of s. */
struct jv	*jv_str(const char *);
/* Free a value and everything in it; NULL does nothing. */
void		 jv_free(struct jv *);
/* The member of an object with this key (borrowed), or NULL. */
struct jv	*jv_get(struct jv *, const char *);
/* Set a member of an object, taking val and freeing any old value. */
void		 jv_set(struct jv *, const char *, struct jv *);
/* Append to an array, taking val. */
void		 jv_push(struct jv *, struct jv *);
/* Append val (taken) to the array under key, made if missing. */
void		 jv_append(struct jv *, const char *, struct jv *);
/* Put a member first in an object, taking val. */
void		 jv_first(struct jv *, const char *, struct jv *);
/* Whether an object or array has nothing in it. */
int		 jv_empty(struct jv *);
/* Write a value to fp on one line; the value stays the caller's. */
void		 json_put(FILE *, struct jv *);

/* json_grammar.c */
/*
 * Which check line: "SUCCESS: ..." 0, "WARNING: ..." 1, "FAILURE: ..." 2,
 * or -1 if none; *msg then points into line.
 */
int		 json_check(const char *, const char **);
/* The word a check line starts with, for json_check's number r. */
const char	*json_result(int);
/* A record (lines up to a blank one) as a new object the caller frees. */
struct jv	*json_block(char **, size_t);
/* A table's rows appended to arr as objects: 0, or -1 if it is none. */
int		 json_table(char **, size_t, struct jv *);
/* The help command's output as a new object the caller frees. */
struct jv	*json_help(struct json_lines *);
/* Whether every line is blank or plain text. */
int		 json_alltext(struct json_lines *);

#endif /* JSON_INT_H */
