/*
 * This node's cluster settings: its id, the address peers know it by,
 * what it still lacks to cluster and its certificate as its identity.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrkey.h"
#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "util.h"
#include "xmalloc.h"

static int	 cluster_host_of(const char *, char *, size_t, char **);
static void	 cluster_addr_port(const char *, char *, size_t);

/* A config value, or NULL; the caller frees. */
char *
cluster_cfg(const char *key)
{
	return (db_config_get(mmpd->db, key));
}

/* A numeric config value, or dflt. */
int
cluster_cfg_int(const char *key, int dflt)
{
	char	*v;
	int	 n;

	if ((v = cluster_cfg(key)) == NULL)
		return (dflt);
	n = atoi(v);
	free(v);
	return (n > 0 ? n : dflt);
}

/* Store one config value (NULL deletes). */
int
cluster_cfg_set(const char *key, const char *value, char **cause)
{
	if (db_config_set(mmpd->db, key, value, cause) == -1)
		return (-1);
	return (0);
}

/* Whether xmpp cluster enable is in effect. */
int
cluster_enabled(void)
{
	return (cluster_cfg_int(DB_CLUSTER_ENABLED, 0) == 1);
}

/* Whether this node is a cluster member (initialized or joined). */
int
cluster_member(void)
{
	return (cluster_cfg_int(DB_CLUSTER_MEMBER, 0) == 1);
}

/* This node's id, made and stored on first use. */
uint64_t
cluster_node_id(void)
{
	char		*v, buf[17], *cause = NULL;
	uint64_t	 id = 0;

	if ((v = cluster_cfg(DB_CLUSTER_ID)) != NULL) {
		id = strtoull(v, NULL, 16);
		free(v);
	}
	if (id != 0)
		return (id);
	while (id == 0 || id == UINT64_MAX)
		arc4random_buf(&id, sizeof(id));
	id &= 0x7fffffffffffffffULL;	/* positive in every language */
	if (id == 0)
		id = 1;
	snprintf(buf, sizeof(buf), "%016" PRIx64, id);
	if (cluster_cfg_set(DB_CLUSTER_ID, buf, &cause) == -1) {
		log_warnx("cluster_node_id: %s", cause);
		free(cause);
	}
	return (id);
}

/*
 * A new id for this node, stored: after it leaves a cluster. Its old id
 * stays a voter in the configurations of the log's past, which a join
 * replays from the start; under that id a joining node would take
 * itself for a member of a configuration long gone (and campaign with
 * others doing the same). Under a new one it is nobody in the past.
 */
void
cluster_node_renew(void)
{
	char		 buf[17], *cause = NULL;
	uint64_t	 old, id = 0;

	old = cluster_node_id();
	while (id == 0 || id == old)
		arc4random_buf(&id, sizeof(id));
	id &= 0x7fffffffffffffffULL;	/* positive in every language */
	if (id == 0 || id == old)
		id = old + 1 > 0x7fffffffffffffffULL ? 1 : old + 1;
	snprintf(buf, sizeof(buf), "%016" PRIx64, id);
	if (cluster_cfg_set(DB_CLUSTER_ID, buf, &cause) == -1) {
		log_warnx("cluster_node_renew: %s", cause);
		free(cause);
		return;
	}
	log_info("cluster: this node's id is now %s (it was %016" PRIx64
	    ")", buf, old);
}

/*
 * The address this node binds and dials from: the first of xmpp listen
 * (an interface stands for its first IPv4, else IPv6, address).
 */
int
cluster_bindaddr(char *out, size_t len, char **cause)
{
	char	**addrs;
	int	 n, rc;

	db_listen_get(mmpd->db, &addrs, &n);
	if (n == 0) {
		util_free_argv(addrs, n);
		*cause = xstrdup("no listening address (xmpp listen <addr>)");
		return (-1);
	}
	rc = cluster_host_of(addrs[0], out, len, cause);
	util_free_argv(addrs, n);
	return (rc);
}

/*
 * The address this node binds and dials from if first were its first
 * xmpp listen entry (an address, or an interface: its first IPv4, else
 * IPv6, address), into out; -1 with *cause.
 */
static int
cluster_host_of(const char *first, char *out, size_t len, char **cause)
{
	struct ifaddrs	*ifa, *i;
	struct in6_addr	 a6;
	char		 host[INET6_ADDRSTRLEN];
	int		 found = 0, fam;

	if (inet_pton(AF_INET, first, &a6) == 1 ||
	    inet_pton(AF_INET6, first, &a6) == 1) {
		if (strcmp(first, "0.0.0.0") == 0 || strcmp(first, "::") == 0) {
			*cause = xstrdup("the first xmpp listen address is a "
			    "wildcard; the cluster needs this node's own "
			    "address first");
			return (-1);
		}
		strlcpy(out, first, len);
		return (0);
	}
	if (getifaddrs(&ifa) == -1) {
		xasprintf(cause, "getifaddrs: %s", strerror(errno));
		return (-1);
	}
	for (fam = AF_INET; fam != 0 && !found;
	    fam = fam == AF_INET ? AF_INET6 : 0) {
		for (i = ifa; i != NULL && !found; i = i->ifa_next) {
			if (i->ifa_addr == NULL || i->ifa_addr->sa_family !=
			    fam || strcmp(i->ifa_name, first) != 0 ||
			    addrkey_numeric(i->ifa_addr, host,
			    sizeof(host)) == -1)
				continue;
			strlcpy(out, host, len);
			found = 1;
		}
	}
	freeifaddrs(ifa);
	if (!found)
		xasprintf(cause, "interface %s has no address", first);
	return (found ? 0 : -1);
}

/* This node's cluster address as peers see it, into out. */
int
cluster_local_addr(char *out, size_t len, char **cause)
{
	char	 host[INET6_ADDRSTRLEN];

	if (cluster_bindaddr(host, sizeof(host), cause) == -1)
		return (-1);
	cluster_addr_port(host, out, len);
	return (0);
}

/*
 * The cluster address (ip:port) this node would have with first as its
 * first xmpp listen entry, into out; -1 with *cause.
 */
int
cluster_addr_for(const char *first, char *out, size_t len, char **cause)
{
	char	 host[INET6_ADDRSTRLEN];

	if (cluster_host_of(first, host, sizeof(host), cause) == -1)
		return (-1);
	cluster_addr_port(host, out, len);
	return (0);
}

/* host and xmpp port cluster as ip:port ([ip]:port for IPv6) into out. */
static void
cluster_addr_port(const char *host, char *out, size_t len)
{
	if (strchr(host, ':') != NULL)
		snprintf(out, len, "[%s]:%d", host,
		    cluster_cfg_int(DB_XMPP_PORT_CLUSTER, CLUSTER_PORT));
	else
		snprintf(out, len, "%s:%d", host,
		    cluster_cfg_int(DB_XMPP_PORT_CLUSTER, CLUSTER_PORT));
}

/* Full paths of a stored file name, or NULL when unset. */
char *
cluster_file(const char *key)
{
	char	*v, *p;

	if ((v = cluster_cfg(key)) == NULL)
		return (NULL);
	xasprintf(&p, "%s/%s", mmpd->filesdir, v);
	free(v);
	return (p);
}

/*
 * What this node still lacks to cluster, as one line naming the commands,
 * or NULL when nothing. The caller frees.
 */
char *
cluster_missing(void)
{
	char	*out = NULL, *tmp, *v, host[80], *cause = NULL;
	const char *miss[6];
	int	 n = 0, i;

	if ((v = cluster_cfg(DB_XMPP_DOMAIN)) == NULL)
		miss[n++] = "a domain (xmpp domain)";
	free(v);
	if (cluster_bindaddr(host, sizeof(host), &cause) == -1)
		miss[n++] = "a listening address (xmpp listen)";
	free(cause);
	if ((v = cluster_cfg(DB_XMPP_CRT)) == NULL)
		miss[n++] = "a key and certificate (xmpp certs)";
	free(v);
	if ((v = cluster_cfg(DB_CLUSTER_TRUST)) == NULL)
		miss[n++] = "a trust bundle (xmpp cluster trust)";
	free(v);
	if (!cluster_enabled())
		miss[n++] = "clustering enabled (xmpp cluster enable)";
	for (i = 0; i < n; i++) {
		xasprintf(&tmp, "%s%s%s", out ? out : "", out ? ", " : "",
		    miss[i]);
		free(out);
		out = tmp;
	}
	return (out);
}

/* Check this node's certificate as its cluster identity. */
int
cluster_check_identity(char **cause)
{
	char	*key, *crt, *trust;
	int	 rc = -1;

	key = cluster_file(DB_XMPP_KEY);
	crt = cluster_file(DB_XMPP_CRT);
	trust = cluster_file(DB_CLUSTER_TRUST);
	if (key == NULL || crt == NULL)
		*cause = xstrdup("no key and certificate (xmpp certs): the "
		    "node's certificate is its cluster identity");
	else if (trust == NULL)
		*cause = xstrdup("no trust bundle (xmpp cluster trust "
		    "<bundle>)");
	else
		rc = cnet_check_identity(key, crt, trust, cause);
	free(key);
	free(crt);
	free(trust);
	return (rc);
}
