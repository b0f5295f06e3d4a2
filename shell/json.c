/*
 * mmp -j: a command's answer as one JSON document on one line.
 *
 * The shell converts the output grammar of DESIGN.md section 4 (status
 * blocks, check lines, "List of" and "Heading:" sections, tables) into
 * JSON generically, so that the daemon's output code stays as it is and
 * a new status or list command that keeps to the grammar converts without
 * a change here. The rules are in mmp.8 under JSON OUTPUT; keep the two
 * in step.
 *
 * This file keeps the answer's lines and puts the document together;
 * json_grammar.c reads the grammar's lines into records, json_value.c is
 * the value tree and its writer (shell/json_int.h between them).
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdtab.h"
#include "mmp.h"
#include "xmalloc.h"
#include "json_int.h"

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

static void	 json_lines_add(struct json_lines *, const char *);
static void	 json_lines_free(struct json_lines *);
static struct jv *json_read(struct json_doc *);
static struct jv *json_state(struct json_doc *);
static char	*json_failure(struct json_doc *);

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
		jv_set(c, "result", jv_str(json_result(r)));
		jv_set(c, "message", jv_str(msg));
		jv_append(doc, "checks", c);
	}
	return (doc);
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
