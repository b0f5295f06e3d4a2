/*
 * mmp -j: a command's answer as one JSON document on one line.
 *
 * The shell converts the output grammar of DESIGN.md section 4 (status
 * blocks, check lines, "List of" and "Heading:" sections, tables) into
 * JSON generically, so that the daemon's output code stays as it is and
 * a new status or list command that keeps to the grammar converts without
 * a change here. The rules are in mmp.8 under JSON OUTPUT; keep the two
 * in step.
 */
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdtab.h"
#include "mmp.h"
#include "xmalloc.h"

#define JSON_MAXLABEL	64	/* longest label read as a key */
#define JSON_NOTSET	"(not set)"

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

struct json_doc {
	int			 matched;
	enum cmd_id		 id;
	int			 flags;
	int			 list;
	int			 header;	/* first record is a summary */
	int			 oneword;
	char			*name;	/* key of the records of a list */
	char			*where;
	struct json_lines	 out;
	struct json_lines	 err;
};

/*
 * The list commands whose records are not named for the word before
 * "list", and those whose first record sums up the rest.
 */
static const struct {
	enum cmd_id	 id;
	const char	*name;
	int		 header;
} json_shapes[] = {
	{ CMD_PKI_LIST,		"files",	0 },
	{ CMD_USER_LIST_ONE,	"session_list",	1 },
};

/* What check lines start with, in the order json_check numbers them. */
static const char *json_results[] = { "SUCCESS", "WARNING", "FAILURE" };

/*
 * Keys whose values are numbers when they are all digits, besides port
 * and every key that ends in _port.
 */
static const char *json_ints[] = {
	"call_bridges", "client_sessions", "components", "stanzas_routed",
	"term", "protocol_version", "sessions", "max_sessions", NULL
};

/* The keys of an item's own text; all others are markers. */
static const char *json_itemkeys[] = {
	"name", "address", "description", NULL
};

/* Keys whose values are booleans when they are yes or no. */
static const char *json_bools[] = {
	"enabled", "serving", "quorum", "encrypted", "ca", NULL
};

static struct jv *jv_new(enum jv_type);
static struct jv *jv_str(const char *);
static void	 jv_free(struct jv *);
static struct jv *jv_get(struct jv *, const char *);
static void	 jv_set(struct jv *, const char *, struct jv *);
static void	 jv_push(struct jv *, struct jv *);
static void	 jv_append(struct jv *, const char *, struct jv *);
static void	 jv_first(struct jv *, const char *, struct jv *);
static void	 json_lines_add(struct json_lines *, const char *);
static void	 json_lines_free(struct json_lines *);
static char	*json_key(const char *, size_t);
static int	 json_in(const char **, const char *);
static struct jv *json_value(const char *, const char *);
static size_t	 json_indent(const char *);
static int	 json_check(const char *, const char **);
static int	 json_kv(const char *, char **, const char **);
static int	 json_heading(const char *, char **, int *);
static int	 json_listhead(const char *, char **);
static int	 json_plain(const char *);
static size_t	 json_columns(const char *, size_t *, size_t);
static struct jv *json_item(const char *);
static void	 json_markers(struct jv *);
static size_t	 json_items(char **, size_t, struct jv *);
static struct jv *json_block(char **, size_t);
static int	 json_table(char **, size_t, struct jv *);
static struct jv *json_help(struct json_lines *);
static int	 jv_empty(struct jv *);
static int	 json_alltext(struct json_lines *);
static struct jv *json_read(struct json_doc *);
static struct jv *json_state(struct json_doc *);
static void	 json_put_str(FILE *, const char *);
static size_t	 json_utf8(const unsigned char *);
static void	 json_put(FILE *, struct jv *);
static char	*json_failure(struct json_doc *);

/* A new empty value of a type. */
static struct jv *
jv_new(enum jv_type type)
{
	struct jv	*v;

	v = xcalloc(1, sizeof(*v));
	v->type = type;
	TAILQ_INIT(&v->kids);
	return (v);
}

/* A new string value, copied. */
static struct jv *
jv_str(const char *s)
{
	struct jv	*v;

	v = jv_new(JV_STR);
	v->s = xstrdup(s);
	return (v);
}

/* Free a value and everything in it; NULL does nothing. */
static void
jv_free(struct jv *v)
{
	struct jv	*k;

	if (v == NULL)
		return;
	while ((k = TAILQ_FIRST(&v->kids)) != NULL) {
		TAILQ_REMOVE(&v->kids, k, entry);
		jv_free(k);
	}
	free(v->key);
	free(v->s);
	free(v);
}

/* The member of an object with this key (borrowed), or NULL. */
static struct jv *
jv_get(struct jv *obj, const char *key)
{
	struct jv	*k;

	TAILQ_FOREACH(k, &obj->kids, entry) {
		if (strcmp(k->key, key) == 0)
			return (k);
	}
	return (NULL);
}

/*
 * Set a member of an object, taking val. A key that is already there
 * turns into an array of all its values, in order.
 */
static void
jv_set(struct jv *obj, const char *key, struct jv *val)
{
	struct jv	*old, *arr;

	if ((old = jv_get(obj, key)) == NULL) {
		val->key = xstrdup(key);
		TAILQ_INSERT_TAIL(&obj->kids, val, entry);
		return;
	}
	if (old->type != JV_ARR || !old->repeated) {
		arr = jv_new(JV_ARR);
		arr->repeated = 1;
		arr->key = old->key;
		old->key = NULL;
		TAILQ_INSERT_BEFORE(old, arr, entry);
		TAILQ_REMOVE(&obj->kids, old, entry);
		TAILQ_INSERT_TAIL(&arr->kids, old, entry);
		old = arr;
	}
	TAILQ_INSERT_TAIL(&old->kids, val, entry);
}

/* Append to an array, taking val. */
static void
jv_push(struct jv *arr, struct jv *val)
{
	TAILQ_INSERT_TAIL(&arr->kids, val, entry);
}

/* Append val to the array under key, made if missing. */
static void
jv_append(struct jv *obj, const char *key, struct jv *val)
{
	struct jv	*arr;

	if ((arr = jv_get(obj, key)) == NULL || arr->type != JV_ARR) {
		arr = jv_new(JV_ARR);
		jv_set(obj, key, arr);
	}
	jv_push(arr, val);
}

/* Put a member first in an object, taking val. */
static void
jv_first(struct jv *obj, const char *key, struct jv *val)
{
	val->key = xstrdup(key);
	TAILQ_INSERT_HEAD(&obj->kids, val, entry);
}

/* Keep a copy of a line. */
static void
json_lines_add(struct json_lines *l, const char *line)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = xstrdup(line);
}

/* Free the lines kept. */
static void
json_lines_free(struct json_lines *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/*
 * The key for a label: lower case, every run of other characters than
 * letters and digits one '_', none at either end ("CA bundle file" is
 * ca_bundle_file, "SHA-256 fingerprint" sha_256_fingerprint).
 */
static char *
json_key(const char *label, size_t len)
{
	char	*key, *p;
	size_t	 i;
	int	 gap = 0;

	key = p = xmalloc(len + 1);
	for (i = 0; i < len; i++) {
		if (isalnum((unsigned char)label[i])) {
			if (gap && p != key)
				*p++ = '_';
			*p++ = tolower((unsigned char)label[i]);
			gap = 0;
		} else
			gap = 1;
	}
	*p = '\0';
	return (key);
}

/* Whether key is in a NULL-terminated list. */
static int
json_in(const char **list, const char *key)
{
	for (; *list != NULL; list++) {
		if (strcmp(*list, key) == 0)
			return (1);
	}
	return (0);
}

/*
 * A status value as JSON: "(not set)" is null, yes/no of a boolean key
 * true/false, digits of a number key (a port, a count) a number, and
 * anything else the string as shown.
 */
static struct jv *
json_value(const char *key, const char *s)
{
	struct jv	*v;
	size_t		 len = strlen(s), klen = strlen(key);

	if (strcmp(s, JSON_NOTSET) == 0)
		return (jv_new(JV_NULL));
	if (json_in(json_bools, key) &&
	    (strcmp(s, "yes") == 0 || strcmp(s, "no") == 0)) {
		v = jv_new(JV_BOOL);
		v->n = s[0] == 'y';
		return (v);
	}
	if ((json_in(json_ints, key) || strcmp(key, "port") == 0 ||
	    (klen > 5 && strcmp(key + klen - 5, "_port") == 0)) &&
	    len > 0 && len <= 15 &&
	    strspn(s, "0123456789") == len && (s[0] != '0' || len == 1)) {
		v = jv_new(JV_NUM);
		v->n = strtoll(s, NULL, 10);
		return (v);
	}
	return (jv_str(s));
}

/* How many spaces a line starts with. */
static size_t
json_indent(const char *line)
{
	return (strspn(line, " "));
}

/* A check line, "SUCCESS: ...", "WARNING: ..." or "FAILURE: ...". */
static int
json_check(const char *line, const char **msg)
{
	size_t	 i, n;

	for (i = 0; i < nitems(json_results); i++) {
		n = strlen(json_results[i]);
		if (strncmp(line, json_results[i], n) == 0 && line[n] == ':' &&
		    line[n + 1] == ' ') {
			*msg = line + n + 2;
			return ((int)i);
		}
	}
	return (-1);
}

/*
 * A status line "Label<padding>: value", maybe indented. The label
 * starts with a letter, holds letters, digits, single spaces and
 * " ._/()#'-", and the colon is followed by a space or ends the line.
 * Sets *key (allocated) and *value (borrowed).
 */
static int
json_kv(const char *line, char **key, const char **value)
{
	const char	*p, *start, *end, *colon;

	start = line + json_indent(line);
	if (!isalpha((unsigned char)*start))
		return (-1);
	if ((colon = strchr(start, ':')) == NULL ||
	    (colon[1] != '\0' && colon[1] != ' '))
		return (-1);
	end = colon;
	while (end > start && end[-1] == ' ')
		end--;
	if (end - start > JSON_MAXLABEL)
		return (-1);
	for (p = start; p < end; p++) {
		if (!isalnum((unsigned char)*p) &&
		    strchr(" ._/()#'-", *p) == NULL)
			return (-1);
		if (*p == ' ' && p[1] == ' ')
			return (-1);
	}
	p = colon + 1;
	while (*p == ' ')
		p++;
	*key = json_key(start, end - start);
	*value = p;
	return (0);
}

/*
 * A section heading: a label at the start of the line and a colon that
 * ends it, with no space before it ("Certificate:", "User supplied
 * certificates and keys:"). "Certificate 2 of 3:" is numbered: *numbered
 * is set and the key is that of "Certificate".
 */
static int
json_heading(const char *line, char **key, int *numbered)
{
	const char	*value, *p;
	size_t		 len = strlen(line), end;

	if (json_indent(line) != 0 || len < 2 || line[len - 1] != ':' ||
	    line[len - 2] == ' ' || json_kv(line, key, &value) == -1)
		return (-1);
	/* Look for " N of M" at the end of the label. */
	*numbered = 0;
	end = len - 1;
	p = line + end;
	while (p > line && isdigit((unsigned char)p[-1]))
		p--;
	if (p == line + end || p - line < 4 || strncmp(p - 4, " of ", 4) != 0)
		return (0);
	p -= 4;
	end = p - line;
	while (p > line && isdigit((unsigned char)p[-1]))
		p--;
	if (p == line + end || p - line < 2 || p[-1] != ' ')
		return (0);
	free(*key);
	*key = json_key(line, p - 1 - line);
	*numbered = 1;
	return (0);
}

/* "List of <things>" heads a list of one-line items under <things>. */
static int
json_listhead(const char *line, char **key)
{
	if (strncmp(line, "List of ", 8) != 0 || strchr(line, ':') != NULL)
		return (-1);
	*key = json_key(line + 8, strlen(line + 8));
	return (**key == '\0' ? (free(*key), -1) : 0);
}

/* Whether a line is plain text: no check, status line or heading. */
static int
json_plain(const char *line)
{
	char		*key;
	const char	*v;

	if (*line == '\0' || json_check(line, &v) != -1)
		return (0);
	if (json_kv(line, &key, &v) == 0) {
		free(key);
		return (0);
	}
	if (json_listhead(line, &key) == 0) {
		free(key);
		return (0);
	}
	return (1);
}

/*
 * Where the columns of a line start: fields are separated by two or more
 * spaces. Returns how many (at most max) and fills starts.
 */
static size_t
json_columns(const char *line, size_t *starts, size_t max)
{
	size_t	 i = json_indent(line), n = 0;

	while (line[i] != '\0' && n < max) {
		starts[n++] = i;
		while (line[i] != '\0' &&
		    !(line[i] == ' ' && line[i + 1] == ' '))
			i++;
		while (line[i] == ' ')
			i++;
	}
	return (n);
}

/*
 * One item of a list: "name  description" is {"name", "description"};
 * otherwise trailing markers are taken off, "(Leader)" as "leader": true
 * and "(unreachable 12 s)" as "unreachable": "12 s", and what is left is
 * "address" when it ends in :<port>, else "name".
 */
static struct jv *
json_item(const char *line)
{
	struct jv	*obj;
	char		*text, *end, *open, *key, *sp;
	size_t		 starts[2], len;
	struct jv	*m;

	obj = jv_new(JV_OBJ);
	line += json_indent(line);
	if (json_columns(line, starts, 2) == 2) {
		text = xstrndup(line, starts[1]);
		len = strlen(text);
		while (len > 0 && text[len - 1] == ' ')
			text[--len] = '\0';
		jv_set(obj, "name", jv_str(text));
		jv_set(obj, "description", jv_str(line + starts[1]));
		free(text);
		return (obj);
	}
	text = xstrdup(line);
	for (;;) {
		len = strlen(text);
		if (len < 4 || text[len - 1] != ')' ||
		    (open = strrchr(text, '(')) == NULL || open == text ||
		    open[-1] != ' ')
			break;
		text[len - 1] = '\0';
		if ((sp = strchr(open + 1, ' ')) != NULL)
			*sp++ = '\0';
		key = json_key(open + 1, strlen(open + 1));
		if (*key != '\0') {
			if (sp != NULL)
				m = jv_str(sp);
			else {
				m = jv_new(JV_BOOL);
				m->n = 1;
			}
			/* Markers were read from the end: put them first. */
			jv_first(obj, key, m);
		}
		free(key);
		end = open - 1;
		while (end > text && end[-1] == ' ')
			end--;
		*end = '\0';
	}
	sp = strrchr(text, ':');
	if (sp != NULL && sp[1] != '\0' &&
	    strspn(sp + 1, "0123456789") == strlen(sp + 1))
		jv_first(obj, "address", jv_str(text));
	else
		jv_first(obj, "name", jv_str(text));
	free(text);
	return (obj);
}

/*
 * A marker seen on any item of a list is on every item, false where it
 * was not shown, and in the same order on each, so that every item has
 * the same keys.
 */
static void
json_markers(struct jv *arr)
{
	struct jv	*item, *k, *v, *keys;

	keys = jv_new(JV_OBJ);
	TAILQ_FOREACH(item, &arr->kids, entry) {
		TAILQ_FOREACH(k, &item->kids, entry) {
			if (json_in(json_itemkeys, k->key) ||
			    jv_get(keys, k->key) != NULL)
				continue;
			jv_set(keys, k->key, jv_new(JV_NULL));
		}
	}
	TAILQ_FOREACH(item, &arr->kids, entry) {
		TAILQ_FOREACH(k, &keys->kids, entry) {
			if ((v = jv_get(item, k->key)) != NULL)
				TAILQ_REMOVE(&item->kids, v, entry);
			else {
				v = jv_new(JV_BOOL);
				v->key = xstrdup(k->key);
			}
			TAILQ_INSERT_TAIL(&item->kids, v, entry);
		}
	}
	jv_free(keys);
}

/* Read the plain lines that follow a heading into arr; how many. */
static size_t
json_items(char **lines, size_t n, struct jv *arr)
{
	size_t	 i;

	for (i = 0; i < n && json_plain(lines[i]); i++)
		jv_push(arr, json_item(lines[i]));
	json_markers(arr);
	return (i);
}

/*
 * One record (lines without a blank one) as an object: status lines are
 * members, check lines go to "checks", a heading takes the indented
 * status lines under it as an object or the plain lines under it as a
 * list, and other lines go to "lines".
 */
static struct jv *
json_block(char **lines, size_t n)
{
	struct jv	*obj, *sub, *c;
	const char	*value;
	char		*key;
	size_t		 i = 0, j;
	int		 r, numbered;

	obj = jv_new(JV_OBJ);
	while (i < n) {
		if ((r = json_check(lines[i], &value)) != -1) {
			c = jv_new(JV_OBJ);
			jv_set(c, "result", jv_str(json_results[r]));
			jv_set(c, "message", jv_str(value));
			jv_append(obj, "checks", c);
			i++;
		} else if (json_heading(lines[i], &key, &numbered) == 0) {
			i++;
			if (i < n && json_indent(lines[i]) > 0 &&
			    !json_plain(lines[i])) {
				for (j = i; j < n && json_indent(lines[j]) > 0;
				    j++)
					;
				sub = json_block(lines + i, j - i);
				i = j;
			} else {
				sub = jv_new(JV_ARR);
				i += json_items(lines + i, n - i, sub);
			}
			if (numbered)
				jv_append(obj, key, sub);
			else
				jv_set(obj, key, sub);
			free(key);
		} else if (json_listhead(lines[i], &key) == 0) {
			i++;
			sub = jv_new(JV_ARR);
			i += json_items(lines + i, n - i, sub);
			jv_set(obj, key, sub);
			free(key);
		} else if (json_kv(lines[i], &key, &value) == 0) {
			jv_set(obj, key, json_value(key, value));
			free(key);
			i++;
		} else {
			jv_append(obj, "lines", jv_str(lines[i]));
			i++;
		}
	}
	return (obj);
}

/*
 * A table: a first line of two or more column names separated by two or
 * more spaces, then one row a line. Each row goes into arr as an object
 * keyed by the column names. Returns -1 if the lines are no table.
 */
static int
json_table(char **lines, size_t n, struct jv *arr)
{
	size_t	 cols[32], cells[32], nc, k, i, end;
	char	*keys[32], *cell;
	struct jv *row;

	if (n < 1 || json_indent(lines[0]) != 0 ||
	    strchr(lines[0], ':') != NULL ||
	    (nc = json_columns(lines[0], cols, nitems(cols))) < 2)
		return (-1);
	for (k = 0; k < nc; k++) {
		if (!isupper((unsigned char)lines[0][cols[k]]))
			return (-1);
	}
	for (k = 0; k < nc; k++) {
		end = k + 1 < nc ? cols[k + 1] : strlen(lines[0]);
		keys[k] = json_key(lines[0] + cols[k], end - cols[k]);
	}
	for (i = 1; i < n; i++) {
		row = jv_new(JV_OBJ);
		/* Cells wider than their heading still split on gaps. */
		if (json_columns(lines[i], cells, nitems(cells)) != nc)
			memcpy(cells, cols, sizeof(cells));
		for (k = 0; k < nc; k++) {
			end = k + 1 < nc ? cells[k + 1] : strlen(lines[i]);
			if (cells[k] > strlen(lines[i]))
				cells[k] = strlen(lines[i]);
			if (end > strlen(lines[i]) || end < cells[k])
				end = strlen(lines[i]);
			cell = xstrndup(lines[i] + cells[k], end - cells[k]);
			end = strlen(cell);
			while (end > 0 && cell[end - 1] == ' ')
				cell[--end] = '\0';
			jv_set(row, keys[k], json_value(keys[k], cell));
			free(cell);
		}
		jv_push(arr, row);
	}
	for (k = 0; k < nc; k++)
		free(keys[k]);
	return (0);
}

/*
 * help: {"commands": [{"command": ..., "help": ...}]}; a long command
 * has its help on the next, indented line.
 */
static struct jv *
json_help(struct json_lines *l)
{
	struct jv	*doc, *arr, *c = NULL;
	size_t		 i, starts[2];
	char		*cmd;

	doc = jv_new(JV_OBJ);
	arr = jv_new(JV_ARR);
	jv_set(doc, "commands", arr);
	for (i = 0; i < l->n; i++) {
		if (json_indent(l->v[i]) > 0 && c != NULL &&
		    jv_get(c, "help") == NULL) {
			jv_set(c, "help", jv_str(l->v[i] +
			    json_indent(l->v[i])));
			continue;
		}
		c = jv_new(JV_OBJ);
		if (json_columns(l->v[i], starts, 2) == 2) {
			cmd = xstrndup(l->v[i], starts[1]);
			while (strlen(cmd) > 0 && cmd[strlen(cmd) - 1] == ' ')
				cmd[strlen(cmd) - 1] = '\0';
			jv_set(c, "command", jv_str(cmd));
			jv_set(c, "help", jv_str(l->v[i] + starts[1]));
			free(cmd);
		} else
			jv_set(c, "command", jv_str(l->v[i]));
		jv_push(arr, c);
	}
	return (doc);
}

/* Whether an object or array has nothing in it. */
static int
jv_empty(struct jv *v)
{
	return (TAILQ_EMPTY(&v->kids));
}

/* Whether every line is blank or plain text. */
static int
json_alltext(struct json_lines *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		if (*l->v[i] != '\0' && !json_plain(l->v[i]))
			return (0);
	}
	return (l->n > 0);
}

/*
 * A status or list command's output as one object. Records are
 * separated by blank lines. A list command (its last word is "list")
 * always has an array of records under its name, even of one or none;
 * another command with one record is that record, with several an array
 * under its name.
 */
static struct jv *
json_read(struct json_doc *d)
{
	struct jv	*doc, *arr, *rec, *k, *item;
	struct json_lines *l = &d->out;
	size_t		 i = 0, j, nrec = 0;

	doc = jv_new(JV_OBJ);
	if (!d->list && json_alltext(l) && !(d->oneword && l->n == 1)) {
		/* Text alone (records for a zone file): its lines as they are. */
		arr = jv_new(JV_ARR);
		for (i = 0; i < l->n; i++)
			jv_push(arr, jv_str(l->v[i]));
		jv_set(doc, "lines", arr);
		return (doc);
	}
	arr = jv_new(JV_ARR);
	if (d->list)
		jv_set(doc, d->name, arr);
	while (i < l->n) {
		if (*l->v[i] == '\0') {
			i++;
			continue;
		}
		for (j = i; j < l->n && *l->v[j] != '\0'; j++)
			;
		if (d->list && json_table(l->v + i, j - i, arr) == 0) {
			i = j;
			continue;
		}
		rec = json_block(l->v + i, j - i);
		if (d->header && nrec == 0 && jv_empty(arr)) {
			/* The summary's members are the document's own. */
			while ((item = TAILQ_FIRST(&rec->kids)) != NULL) {
				TAILQ_REMOVE(&rec->kids, item, entry);
				TAILQ_INSERT_BEFORE(arr, item, entry);
			}
			jv_free(rec);
			nrec++;
			i = j;
			continue;
		}
		if (d->list && (k = jv_get(rec, "lines")) != NULL &&
		    TAILQ_FIRST(&rec->kids) == k && TAILQ_NEXT(k, entry) ==
		    NULL) {
			/* Text alone in a list ("No users") is no record. */
			while ((item = TAILQ_FIRST(&k->kids)) != NULL) {
				TAILQ_REMOVE(&k->kids, item, entry);
				jv_append(doc, "lines", item);
			}
			jv_free(rec);
			i = j;
			continue;
		}
		if (d->list && (k = TAILQ_FIRST(&rec->kids)) != NULL &&
		    TAILQ_NEXT(k, entry) == NULL && k->type == JV_ARR &&
		    !k->repeated && strcmp(k->key, "lines") != 0 &&
		    strcmp(k->key, "checks") != 0) {
			/* A heading over the whole list: its items are it. */
			while ((item = TAILQ_FIRST(&k->kids)) != NULL) {
				TAILQ_REMOVE(&k->kids, item, entry);
				jv_push(arr, item);
			}
			jv_free(rec);
			i = j;
			continue;
		}
		jv_push(arr, rec);
		nrec++;
		i = j;
	}
	if (d->list)
		return (doc);
	if (nrec == 1) {
		rec = TAILQ_FIRST(&arr->kids);
		TAILQ_REMOVE(&arr->kids, rec, entry);
		jv_free(arr);
		jv_free(doc);
		/* One line of plain text is the value of a one-word command. */
		if (d->oneword && (k = jv_get(rec, "lines")) != NULL &&
		    TAILQ_FIRST(&rec->kids) == k && TAILQ_NEXT(k, entry) ==
		    NULL && TAILQ_NEXT(TAILQ_FIRST(&k->kids), entry) == NULL) {
			doc = jv_new(JV_OBJ);
			jv_set(doc, d->name, jv_str(TAILQ_FIRST(&k->kids)->s));
			jv_free(rec);
			return (doc);
		}
		return (rec);
	}
	if (nrec == 0) {
		jv_free(arr);
		return (doc);
	}
	jv_set(doc, d->name, arr);
	return (doc);
}

/*
 * A command that changes state: {"ok": true, "output": [lines]}, and
 * its check lines also as "checks".
 */
static struct jv *
json_state(struct json_doc *d)
{
	struct jv	*doc, *out, *c, *b;
	const char	*msg;
	size_t		 i;
	int		 r;

	doc = jv_new(JV_OBJ);
	b = jv_new(JV_BOOL);
	b->n = 1;
	jv_set(doc, "ok", b);
	out = jv_new(JV_ARR);
	jv_set(doc, "output", out);
	for (i = 0; i < d->out.n; i++) {
		jv_push(out, jv_str(d->out.v[i]));
		if ((r = json_check(d->out.v[i], &msg)) == -1)
			continue;
		c = jv_new(JV_OBJ);
		jv_set(c, "result", jv_str(json_results[r]));
		jv_set(c, "message", jv_str(msg));
		jv_append(doc, "checks", c);
	}
	return (doc);
}

/* Length of the valid UTF-8 sequence at p, or 0 if it is not one. */
static size_t
json_utf8(const unsigned char *p)
{
	size_t	 n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return (0);
	if (p[1] < lo || p[1] > hi)
		return (0);
	for (i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return (0);
	}
	return (n);
}

/*
 * Write a JSON string: quotes, backslashes and control characters
 * escaped, bytes that are not UTF-8 as U+FFFD, so the document is always
 * valid JSON.
 */
static void
json_put_str(FILE *fp, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	fputc('"', fp);
	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			fputc('\\', fp);
			fputc(*p++, fp);
		} else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\u%04x", *p++);
		else if (*p < 0x80)
			fputc(*p++, fp);
		else if ((n = json_utf8(p)) > 0) {
			fwrite(p, 1, n, fp);
			p += n;
		} else {
			fputs("\\ufffd", fp);
			p++;
		}
	}
	fputc('"', fp);
}

/* Write a value on one line. */
static void
json_put(FILE *fp, struct jv *v)
{
	struct jv	*k;
	int		 first = 1;

	switch (v->type) {
	case JV_NULL:
		fputs("null", fp);
		break;
	case JV_STR:
		json_put_str(fp, v->s);
		break;
	case JV_NUM:
		fprintf(fp, "%lld", v->n);
		break;
	case JV_BOOL:
		fputs(v->n ? "true" : "false", fp);
		break;
	case JV_OBJ:
	case JV_ARR:
		fputc(v->type == JV_OBJ ? '{' : '[', fp);
		TAILQ_FOREACH(k, &v->kids, entry) {
			if (!first)
				fputs(", ", fp);
			first = 0;
			if (v->type == JV_OBJ) {
				json_put_str(fp, k->key);
				fputs(": ", fp);
			}
			json_put(fp, k);
		}
		fputc(v->type == JV_OBJ ? '}' : ']', fp);
		break;
	}
}

/*
 * Start the document of one command. m is the matched command, or NULL
 * if the words did not parse; where is "line N: " in batch mode, else "".
 */
struct json_doc *
json_new(const struct cmd_match *m, const char *where)
{
	struct json_doc	*d;
	char		*pattern, *word, *p, *joined, *tmp;
	const char	*last = NULL, *before = NULL;
	size_t		 i;
	int		 n = 0;

	d = xcalloc(1, sizeof(*d));
	d->where = xstrdup(where);
	if (m == NULL)
		return (d);
	d->matched = 1;
	d->id = m->id;
	d->flags = m->flags;
	/* The literal words of the pattern name the command. */
	joined = xstrdup("");
	p = pattern = xstrdup(cmdtab_pattern(m->id));
	while ((word = strsep(&p, " ")) != NULL) {
		if (*word == '\0' || *word == '<' || *word == '[')
			continue;
		before = last;
		last = word;
		xasprintf(&tmp, "%s%s%s", joined, n++ ? "_" : "", word);
		free(joined);
		joined = tmp;
	}
	d->oneword = n == 1;
	if (last != NULL && strcmp(last, "list") == 0 && before != NULL) {
		d->list = 1;
		xasprintf(&d->name, "%ss", before);
		for (i = 0; i < nitems(json_shapes); i++) {
			if (json_shapes[i].id != d->id)
				continue;
			free(d->name);
			d->name = xstrdup(json_shapes[i].name);
			d->header = json_shapes[i].header;
		}
		free(joined);
	} else
		d->name = joined;
	free(pattern);
	return (d);
}

/* client_io out: keep a line of the answer. */
void
json_out(void *arg, const char *line)
{
	struct json_doc	*d = arg;
	const char	*nl;
	char		*one;

	/* A line may hold several (help wraps long commands). */
	while ((nl = strchr(line, '\n')) != NULL) {
		one = xstrndup(line, nl - line);
		json_lines_add(&d->out, one);
		free(one);
		line = nl + 1;
	}
	json_lines_add(&d->out, line);
}

/* client_io err: keep an error line, without the "mmp: " in front. */
void
json_err(void *arg, const char *line)
{
	struct json_doc	*d = arg;

	if (strncmp(line, "mmp: ", 5) == 0)
		line += 5;
	json_lines_add(&d->err, line);
}

/* client_io part: progress text is not part of the document. */
void
json_part(void *arg, const char *text)
{
	(void)arg;
	(void)text;
}

/*
 * Write the document of a finished command, whose exit status is
 * status, to fp as one line, and free it. A failure carries "error"
 * first (its error lines, joined by newlines) and, in batch mode, "line".
 */
void
json_finish(struct json_doc *d, int status, FILE *fp)
{
	struct jv	*doc, *b;
	char		*msg = NULL, *tmp;
	size_t		 i;

	if (!d->matched || status == EXIT_PARSE)
		doc = jv_new(JV_OBJ);
	else if (d->id == CMD_HELP)
		doc = json_help(&d->out);
	else if (d->flags & (CF_STATE | CF_SECRET | CF_CONFIRM))
		doc = json_state(d);
	else
		doc = json_read(d);
	if (status != EXIT_OK) {
		if ((b = jv_get(doc, "ok")) != NULL)
			b->n = 0;
		for (i = 0; i < d->err.n; i++) {
			xasprintf(&tmp, "%s%s%s%s", msg ? msg : "",
			    msg ? "\n" : "", d->where, d->err.v[i]);
			free(msg);
			msg = tmp;
		}
		if (msg == NULL)
			msg = json_failure(d);
		if (strncmp(d->where, "line ", 5) == 0) {
			b = jv_new(JV_NUM);
			b->n = strtol(d->where + 5, NULL, 10);
			jv_first(doc, "line", b);
		}
		jv_first(doc, "error", jv_str(msg));
		free(msg);
	} else if (d->err.n > 0) {
		for (i = 0; i < d->err.n; i++)
			jv_append(doc, "warnings", jv_str(d->err.v[i]));
	}
	json_put(fp, doc);
	fputc('\n', fp);
	fflush(fp);
	jv_free(doc);
	json_lines_free(&d->out);
	json_lines_free(&d->err);
	free(d->name);
	free(d->where);
	free(d);
}

/*
 * The error of a command that failed without an error line: its last
 * FAILURE check, else that it failed.
 */
static char *
json_failure(struct json_doc *d)
{
	const char	*msg, *last = NULL;
	char		*s, *name, *p;
	size_t		 i;

	for (i = 0; i < d->out.n; i++) {
		if (json_check(d->out.v[i], &msg) == 2)
			last = msg;
	}
	if (last != NULL) {
		xasprintf(&s, "%s%s", d->where, last);
		return (s);
	}
	name = xstrdup(d->name != NULL ? d->name : "command");
	for (p = name; *p != '\0'; p++) {
		if (*p == '_')
			*p = ' ';
	}
	xasprintf(&s, "%s%s failed", d->where, name);
	free(name);
	return (s);
}

/* A failure before any command ran: {"error": ...} on its own line. */
void
json_error(FILE *fp, const char *where, const char *msg)
{
	struct json_doc	*d;

	d = json_new(NULL, where);
	json_err(d, msg);
	json_finish(d, EXIT_PARSE, fp);
}
