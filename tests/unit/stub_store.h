/*
 * A stub of the store and the daemon for unit tests of the XMPP core
 * (check_router): the db_* functions the router, presence and roster code
 * call, kept in memory, the mmpd global they read, and xmpp_domain. No
 * SQLite, no listeners, no cluster.
 */
#ifndef STUB_STORE_H
#define STUB_STORE_H

#define STUB_DOMAIN	"example.com"

/* Forget every account and roster item; reads work again. */
void	 stub_store_reset(void);
/* Make every db_* read fail (-1 with *cause) while on is set. */
void	 stub_store_fail(int);
/* An account (by localpart) exists from now on. */
void	 stub_user_add(const char *);
/* Store owner's roster item for jid as given (replaces one there). */
void	 stub_roster_set(const char *, const char *, const char *, int, int);
/* How many items owner's roster holds. */
int	 stub_roster_count(const char *);
/* owner's item for jid: its subscription (borrowed), or NULL. */
const char *stub_roster_sub(const char *, const char *);
/* How many offline messages an account has stored. */
int	 stub_offline_count(const char *);

#endif /* STUB_STORE_H */
