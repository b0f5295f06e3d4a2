/*
 * mmp -j: the JSON value tree (objects keep their members in order) and
 * its writer, which puts a value on one line and escapes strings, passing
 * valid UTF-8 through.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "json_int.h"

static size_t	 json_utf8(const unsigned char *);
static void	 json_put_str(FILE *, const char *);

/* A new empty value of a type. */
struct jv *
jv_new(enum jv_type type)
{
	struct jv	*v;

	v = xcalloc(1, sizeof(*v));
	v->type = type;
	TAILQ_INIT(&v->kids);
	return (v);
}

/* A new string value, copied. */
struct jv *
jv_str(const char *s)
{
	struct jv	*v;

	v = jv_new(JV_STR);
	v->s = xstrdup(s);
	return (v);
}

/* Free a value and everything in it; NULL does nothing. */
void
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
struct jv *
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
void
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
void
jv_push(struct jv *arr, struct jv *val)
{
	TAILQ_INSERT_TAIL(&arr->kids, val, entry);
}

/* Append val to the array under key, made if missing. */
void
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
void
jv_first(struct jv *obj, const char *key, struct jv *val)
{
	val->key = xstrdup(key);
	TAILQ_INSERT_HEAD(&obj->kids, val, entry);
}

/* Whether an object or array has nothing in it. */
int
jv_empty(struct jv *v)
{
	return (TAILQ_EMPTY(&v->kids));
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
void
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
