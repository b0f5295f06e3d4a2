/*
 * SRV, A and AAAA lookups on libresolv, each struct dns with its own
 * resolver state (res_ninit) so that worker threads never share one.
 * getaddrinfo cannot be told which server to ask, hence res_nquery for
 * the addresses too.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>

#include <errno.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "xmalloc.h"

struct dns {
	struct __res_state	 res;
	char			 server[64];	/* for messages */
	unsigned char		*buf;
};

static int	 dns_query(struct dns *, const char *, int, ns_msg *,
		    char **);

/*
 * A resolver: the system's (resolv.conf) when server is NULL, else the
 * one at server, "IPv4-address[:port]" (port 53 by default). NULL with
 * *cause if server does not parse or resolv.conf cannot be used.
 */
struct dns *
dns_new(const char *server, char **cause)
{
	struct dns		*d;
	struct sockaddr_in	 sin;
	char			 host[INET_ADDRSTRLEN], *p, *end;
	long			 port = 53;

	memset(&sin, 0, sizeof(sin));
	if (server != NULL) {
		if (strlen(server) >= sizeof(host) + 6)
			goto bad;
		strlcpy(host, server, sizeof(host));
		if ((p = strchr(server, ':')) != NULL) {
			if ((size_t)(p - server) >= sizeof(host))
				goto bad;
			host[p - server] = '\0';
			errno = 0;
			port = strtol(p + 1, &end, 10);
			if (p[1] == '\0' || *end != '\0' || port < 1 ||
			    port > 65535)
				goto bad;
		}
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			goto bad;
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
	}
	d = xcalloc(1, sizeof(*d));
	if (res_ninit(&d->res) == -1) {
		*cause = xstrdup("cannot set up the resolver "
		    "(/etc/resolv.conf)");
		free(d);
		return (NULL);
	}
	d->res.retrans = DNS_TIMEOUT_SEC;
	d->res.retry = DNS_TRIES;
	d->res.options &= ~(RES_DNSRCH | RES_DEFNAMES);
	if (server != NULL) {
		d->res.nsaddr_list[0] = sin;
		d->res.nscount = 1;
		snprintf(d->server, sizeof(d->server), "%s:%ld", host, port);
	} else
		strlcpy(d->server, "the system's resolver",
		    sizeof(d->server));
	d->buf = xmalloc(DNS_MSGSIZE);
	return (d);
bad:
	xasprintf(cause, "resolver %s: expected an IPv4 address and an "
	    "optional port, as 127.0.0.1:5353", server);
	return (NULL);
}

/* Free a resolver; NULL does nothing. */
void
dns_free(struct dns *d)
{
	if (d == NULL)
		return;
	res_nclose(&d->res);
	free(d->buf);
	free(d);
}

/* What the resolver is, for messages ("127.0.0.1:5353"). */
const char *
dns_server(const struct dns *d)
{
	return (d->server);
}

/*
 * Ask for name's records of type; the answer parsed into msg (its data
 * lives in d until the next query). DNS_OK, DNS_NONE, or DNS_FAIL with
 * *cause.
 */
static int
dns_query(struct dns *d, const char *name, int type, ns_msg *msg,
    char **cause)
{
	int	 len;

	errno = 0;
	len = res_nquery(&d->res, name, ns_c_in, type, d->buf, DNS_MSGSIZE);
	if (len == -1) {
		switch (d->res.res_h_errno) {
		case HOST_NOT_FOUND:
		case NO_DATA:
			return (DNS_NONE);
		case TRY_AGAIN:
			if (errno == ECONNREFUSED)
				xasprintf(cause, "%s refused the connection "
				    "(no DNS server there?)", d->server);
			else if (errno == ETIMEDOUT || errno == 0)
				xasprintf(cause, "%s did not answer within "
				    "%d s (timeout, %d tries)", d->server,
				    DNS_WAIT_SEC, DNS_TRIES);
			else
				xasprintf(cause, "%s failed to answer "
				    "(SERVFAIL)", d->server);
			return (DNS_FAIL);
		default:
			xasprintf(cause, "%s refused the query or answered "
			    "nonsense", d->server);
			return (DNS_FAIL);
		}
	}
	if (len > DNS_MSGSIZE)
		len = DNS_MSGSIZE;
	if (ns_initparse(d->buf, len, msg) == -1) {
		xasprintf(cause, "%s sent an answer that does not parse",
		    d->server);
		return (DNS_FAIL);
	}
	return (DNS_OK);
}

/*
 * The SRV records of name, at most max into srv, *n of them, and in
 * *more how many were left out. DNS_OK, DNS_NONE when there are none,
 * DNS_FAIL with *cause.
 */
int
dns_srv(struct dns *d, const char *name, struct dns_srv *srv, int max,
    int *n, int *more, char **cause)
{
	ns_msg			 msg;
	ns_rr			 rr;
	const unsigned char	*rd;
	int			 i, rc, count;

	*n = *more = 0;
	if ((rc = dns_query(d, name, ns_t_srv, &msg, cause)) != DNS_OK)
		return (rc);
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) == -1)
			break;
		if (ns_rr_type(rr) != ns_t_srv || ns_rr_rdlen(rr) < 7)
			continue;
		if (*n == max) {
			(*more)++;
			continue;
		}
		rd = ns_rr_rdata(rr);
		srv[*n].prio = rd[0] << 8 | rd[1];
		srv[*n].weight = rd[2] << 8 | rd[3];
		srv[*n].port = rd[4] << 8 | rd[5];
		if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg),
		    rd + 6, srv[*n].target, sizeof(srv[*n].target)) == -1)
			continue;
		if (srv[*n].target[0] == '\0')
			strlcpy(srv[*n].target, ".", sizeof(srv[*n].target));
		(*n)++;
	}
	return (*n > 0 ? DNS_OK : DNS_NONE);
}

/*
 * The A and AAAA addresses of name, at most max into out, *n of them.
 * DNS_OK, DNS_NONE when it has neither, DNS_FAIL with *cause.
 */
int
dns_addrs(struct dns *d, const char *name, char (*out)[INET6_ADDRSTRLEN],
    int max, int *n, char **cause)
{
	static const int	 types[] = { ns_t_a, ns_t_aaaa };
	ns_msg			 msg;
	ns_rr			 rr;
	size_t			 t;
	int			 i, rc, count, af;

	*n = 0;
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		rc = dns_query(d, name, types[t], &msg, cause);
		if (rc == DNS_FAIL)
			return (DNS_FAIL);
		if (rc == DNS_NONE)
			continue;
		count = ns_msg_count(msg, ns_s_an);
		for (i = 0; i < count && *n < max; i++) {
			if (ns_parserr(&msg, ns_s_an, i, &rr) == -1)
				break;
			if ((int)ns_rr_type(rr) != types[t])
				continue;
			if (types[t] == ns_t_a && ns_rr_rdlen(rr) == 4)
				af = AF_INET;
			else if (types[t] == ns_t_aaaa &&
			    ns_rr_rdlen(rr) == 16)
				af = AF_INET6;
			else
				continue;
			if (inet_ntop(af, ns_rr_rdata(rr), out[*n],
			    INET6_ADDRSTRLEN) != NULL)
				(*n)++;
		}
	}
	return (*n > 0 ? DNS_OK : DNS_NONE);
}
