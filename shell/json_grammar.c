/*
 * mmp -j: reading the output grammar of DESIGN.md section 4 line by line
 * (check lines, "Label: value" status lines, headings, "List of" heads,
 * columns and tables) into JSON values; json.c puts the records together
 * into the document. The rules are in mmp.8 under JSON OUTPUT.
 */
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "xmalloc.h"
#include "json_int.h"

#define JSON_MAXLABEL	64	/* longest label read as a key */
#define JSON_NOTSET	"(not set)"

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

static char	*json_key(const char *, size_t);
static int	 json_in(const char **, const char *);
static struct jv *json_value(const char *, const char *);
static size_t	 json_indent(const char *);
static int	 json_kv(const char *, char **, const char **);
static int	 json_heading(const char *, char **, int *);
static int	 json_listhead(const char *, char **);
static int	 json_plain(const char *);
static size_t	 json_columns(const char *, size_t *, size_t);
static struct jv *json_item(const char *);
static void	 json_markers(struct jv *);
static size_t	 json_items(char **, size_t, struct jv *);

/* The word a check line starts with, for json_check's number r. */
const char *
json_result(int r)
{
	return (json_results[r]);
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
int
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
struct jv *
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
int
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
struct jv *
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

/* Whether every line is blank or plain text. */
int
json_alltext(struct json_lines *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		if (*l->v[i] != '\0' && !json_plain(l->v[i]))
			return (0);
	}
	return (l->n > 0);
}
