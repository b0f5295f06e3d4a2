/*
 * Counting connections per address against a cap per address and a cap
 * in all, for the XMPP listeners' unauthenticated streams and the cluster
 * port's channels in their handshake. Addresses are few at a time (at
 * most the cap in all), so a list does.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "addrkey.h"
#include "addrlimit.h"
#include "compat.h"
#include "xmalloc.h"

/* The connections of one address key. */
struct addrlimit_src {
	TAILQ_ENTRY(addrlimit_src) entry;
	char			 key[ADDRKEY_LEN];
	int			 n;
	int			 pooled;	/* as its last connection */
};

/* A table of counts and its caps. */
struct addrlimit {
	TAILQ_HEAD(, addrlimit_src) srcs;
	int			 peraddr;
	int			 cap;
	int			 total;		/* pooled ones */
};

static struct addrlimit_src *addrlimit_find(const struct addrlimit *,
		    const char *);

/* A new empty table: peraddr per key, cap in all. */
struct addrlimit *
addrlimit_new(int peraddr, int cap)
{
	struct addrlimit	*al;

	al = xcalloc(1, sizeof(*al));
	TAILQ_INIT(&al->srcs);
	al->peraddr = peraddr;
	al->cap = cap;
	return (al);
}

/* Free a table and its counts; NULL does nothing. */
void
addrlimit_free(struct addrlimit *al)
{
	struct addrlimit_src	*s;

	if (al == NULL)
		return;
	while ((s = TAILQ_FIRST(&al->srcs)) != NULL) {
		TAILQ_REMOVE(&al->srcs, s, entry);
		free(s);
	}
	free(al);
}

/* Change the cap in all. */
void
addrlimit_set_cap(struct addrlimit *al, int cap)
{
	al->cap = cap;
}

/* The cap in all. */
int
addrlimit_cap(const struct addrlimit *al)
{
	return (al->cap);
}

/* The entry of a key, NULL if it holds nothing. */
static struct addrlimit_src *
addrlimit_find(const struct addrlimit *al, const char *key)
{
	struct addrlimit_src	*s;

	TAILQ_FOREACH(s, &al->srcs, entry)
		if (strcmp(s->key, key) == 0)
			return (s);
	return (NULL);
}

/* How many connections a key holds. */
int
addrlimit_count(const struct addrlimit *al, const char *key)
{
	struct addrlimit_src	*s;

	return ((s = addrlimit_find(al, key)) != NULL ? s->n : 0);
}

/* How many pooled connections are counted in all. */
int
addrlimit_total(const struct addrlimit *al)
{
	return (al->total);
}

/* Whether a key holds its cap already. */
int
addrlimit_addr_full(const struct addrlimit *al, const char *key)
{
	return (addrlimit_count(al, key) >= al->peraddr);
}

/* Whether the pooled connections fill the cap in all. */
int
addrlimit_full(const struct addrlimit *al)
{
	return (al->total >= al->cap);
}

/* Count one more connection of a key. */
void
addrlimit_take(struct addrlimit *al, const char *key, int pooled)
{
	struct addrlimit_src	*s;

	if ((s = addrlimit_find(al, key)) == NULL) {
		s = xcalloc(1, sizeof(*s));
		strlcpy(s->key, key, sizeof(s->key));
		TAILQ_INSERT_TAIL(&al->srcs, s, entry);
	}
	s->n++;
	s->pooled = pooled;
	if (pooled)
		al->total++;
}

/* One connection of a key less; a key at 0 is forgotten. */
void
addrlimit_release(struct addrlimit *al, const char *key, int pooled)
{
	struct addrlimit_src	*s;

	if (al == NULL || (s = addrlimit_find(al, key)) == NULL)
		return;
	if (pooled)
		al->total--;
	if (--s->n <= 0) {
		TAILQ_REMOVE(&al->srcs, s, entry);
		free(s);
	}
}

/*
 * The pooled address holding the most, if it holds more than key would
 * with one more connection: evicting one of its connections for key is
 * fairer than refusing key. NULL if not.
 */
const char *
addrlimit_most(const struct addrlimit *al, const char *key, int *n)
{
	struct addrlimit_src	*s, *most = NULL;

	TAILQ_FOREACH(s, &al->srcs, entry)
		if (s->pooled && (most == NULL || s->n > most->n))
			most = s;
	if (most == NULL || most->n <= addrlimit_count(al, key) + 1)
		return (NULL);
	*n = most->n;
	return (most->key);
}
