/*
 * A small DNS stub resolver on libresolv for the DNS check: SRV, A and
 * AAAA queries with an explicit timeout and retry count, to the system's
 * resolver or to one named by "address[:port]". Blocking: call it from a
 * worker thread only. Each struct dns belongs to one thread at a time.
 */
#ifndef DNS_H
#define DNS_H

#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>

#define DNS_TIMEOUT_SEC	2	/* each try waits that long */
#define DNS_TRIES	2	/* tries per query */
#define DNS_WAIT_SEC	(DNS_TIMEOUT_SEC * DNS_TRIES)	/* one query */
#define DNS_MAX_ANSWERS	16	/* records of one name looked at */
#define DNS_MAX_ADDRS	16	/* addresses of one name looked at */
#define DNS_MSGSIZE	16384	/* largest answer read */

#define DNS_OK		0	/* records found */
#define DNS_NONE	1	/* the name or the records do not exist */
#define DNS_FAIL	(-1)	/* no answer, or the resolver failed */

struct dns;

/* One SRV record; target without the final dot, "." for none. */
struct dns_srv {
	int	 prio;
	int	 weight;
	int	 port;
	char	 target[NS_MAXDNAME];
};

struct dns	*dns_new(const char *, char **);
void		 dns_free(struct dns *);
const char	*dns_server(const struct dns *);
int		 dns_srv(struct dns *, const char *, struct dns_srv *, int,
		    int *, int *, char **);
int		 dns_addrs(struct dns *, const char *,
		    char (*)[INET6_ADDRSTRLEN], int, int *, char **);

#endif /* DNS_H */
