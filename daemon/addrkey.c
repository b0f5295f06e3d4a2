/*
 * Per-address limits count IPv6 peers by /64: one subscriber is routinely
 * given a whole /64 and can pick a new source address for every
 * connection, so counting single IPv6 addresses would limit nothing.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "addrkey.h"
#include "compat.h"

/*
 * Write the counting key of the numeric address addr to key (len bytes):
 * an IPv4 address as it is (also when written IPv4-mapped), an IPv6
 * address as its /64 ("2001:db8:1:2::/64"); a zone (%eth0) is ignored.
 * Returns 0, or -1 (key holds addr, cut to fit) if addr is not numeric.
 */
int
addrkey_make(const char *addr, char *key, size_t len)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	char		 host[INET6_ADDRSTRLEN + 16], buf[INET6_ADDRSTRLEN];
	char		*pct;

	strlcpy(host, addr, sizeof(host));
	if ((pct = strchr(host, '%')) != NULL)
		*pct = '\0';
	if (inet_pton(AF_INET, host, &a4) == 1) {
		inet_ntop(AF_INET, &a4, buf, sizeof(buf));
		strlcpy(key, buf, len);
		return (0);
	}
	if (inet_pton(AF_INET6, host, &a6) != 1) {
		strlcpy(key, addr, len);
		return (-1);
	}
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(&a4, &a6.s6_addr[12], sizeof(a4));
		inet_ntop(AF_INET, &a4, buf, sizeof(buf));
		strlcpy(key, buf, len);
		return (0);
	}
	memset(&a6.s6_addr[8], 0, 8);
	inet_ntop(AF_INET6, &a6, buf, sizeof(buf));
	snprintf(key, len, "%s/64", buf);
	return (0);
}

/*
 * Write the numeric host of sa (an interface's address, say) to host (len
 * bytes). -1 for a family other than IPv4 and IPv6, and for an address
 * that needs a scope (link-local), which cannot be listened on or dialled
 * by its text alone.
 */
int
addrkey_numeric(const struct sockaddr *sa, char *host, size_t len)
{
	socklen_t	 salen;

	if (sa == NULL)
		return (-1);
	if (sa->sa_family == AF_INET)
		salen = sizeof(struct sockaddr_in);
	else if (sa->sa_family == AF_INET6)
		salen = sizeof(struct sockaddr_in6);
	else
		return (-1);
	if (getnameinfo(sa, salen, host, len, NULL, 0, NI_NUMERICHOST) != 0 ||
	    strchr(host, '%') != NULL)
		return (-1);
	return (0);
}
