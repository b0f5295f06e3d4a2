/*
 * Per-address limits on connections not yet authenticated: a count per
 * address key (addrkey_make's, or whatever key the caller picks), a cap
 * per key, and a cap on the connections counted in all. The table only
 * counts; what to do at a cap (refuse, evict the oldest connection of the
 * address that holds the most, pause accepting) is the caller's policy.
 */
#ifndef ADDRLIMIT_H
#define ADDRLIMIT_H

struct addrlimit;

/* A new empty table: peraddr per key, all in all; addrlimit_free frees. */
struct addrlimit *addrlimit_new(int, int);
/* Free a table and its counts; NULL does nothing. */
void	 addrlimit_free(struct addrlimit *);
/* Change the cap in all (counts already taken stay). */
void	 addrlimit_set_cap(struct addrlimit *, int);
/* The cap in all. */
int	 addrlimit_cap(const struct addrlimit *);
/* How many connections a key holds (pooled or not); 0 if none. */
int	 addrlimit_count(const struct addrlimit *, const char *);
/* How many pooled connections are counted in all. */
int	 addrlimit_total(const struct addrlimit *);
/* Whether a key holds its cap already. */
int	 addrlimit_addr_full(const struct addrlimit *, const char *);
/* Whether the pooled connections fill the cap in all. */
int	 addrlimit_full(const struct addrlimit *);
/* Count one more connection of a key; pooled ones count in all too and
   make the key one that addrlimit_most may pick (key is copied). */
void	 addrlimit_take(struct addrlimit *, const char *, int);
/* One connection of a key less (pooled as it was taken); an unknown key
   does nothing, a key at 0 is forgotten. NULL table does nothing. */
void	 addrlimit_release(struct addrlimit *, const char *, int);
/* The key (borrowed, valid until its count changes) of the pooled
   address holding the most connections, the first taken of equals, if
   that is more than key would hold with one more; NULL otherwise. *n
   gets its count. */
const char *addrlimit_most(const struct addrlimit *, const char *, int *);

#endif /* ADDRLIMIT_H */
