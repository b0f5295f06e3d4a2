/*
 * The xmpp commands that configure this node's XMPP service.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ifaddrs.h>
#include <netdb.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addrkey.h"
#include "cluster/cluster.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "pki.h"
#include "proto.h"
#include "util.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"

#define XMPP_KV_WIDTH	17
#define XMPP_IF_SHOWN	16	/* interfaces or addresses named in a message */
#define NOT_SET		"(not set)"

static void	 cmd_xmpp_saved(struct cmdctx *);
static void	 cmd_xmpp_status_line(void *, const char *, const char *);
static int	 cmd_xmpp_enabled(void);
static void	 cmd_xmpp_reset_answer(struct cmdctx *, const char *);
static char	*cmd_xmpp_ifnames(void);
static char	*cmd_xmpp_ifaddrs(const char *);
static int	 cmd_xmpp_listen_member(struct cmdctx *);
static int	 cmd_xmpp_check(struct cmdctx *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));

/* Whether the service is enabled. */
static int
cmd_xmpp_enabled(void)
{
	char	*v;
	int	 on;

	v = db_config_get(mmpd->db, DB_XMPP_ENABLED);
	on = v != NULL && strcmp(v, "1") == 0;
	free(v);
	return (on);
}

/* Remind the admin how a change reaches a running service. */
static void
cmd_xmpp_saved(struct cmdctx *ctx)
{
	if (cmd_xmpp_enabled())
		cmdctx_out(ctx, "Saved; takes effect after xmpp disable and "
		    "xmpp enable");
}

/* One line of the serving part of the status block. */
static void
cmd_xmpp_status_line(void *arg, const char *label, const char *value)
{
	cmdctx_kv(arg, XMPP_KV_WIDTH, label, "%s", value);
}

/* xmpp: the configuration and state as a status block. */
int
cmd_xmpp_status(struct cmdctx *ctx)
{
	static const struct {
		const char	*label;
		const char	*key;
		const char	*dflt;
	} rows[] = {
		{ "Domain",		DB_XMPP_DOMAIN,		NOT_SET },
		{ "Listen",		NULL,			NULL },
		{ "Client port",	DB_XMPP_PORT_CLIENT,	"5222" },
		{ "Component port",	DB_XMPP_PORT_COMPONENT,	"5223" },
		{ "Cluster port",	DB_XMPP_PORT_CLUSTER,	"5270" },
		{ "Key file",		DB_XMPP_KEY,		NOT_SET },
		{ "Certificate file",	DB_XMPP_CRT,		NOT_SET },
		{ "CA bundle file",	DB_XMPP_BUNDLE,		NOT_SET },
		{ "Max sessions",	DB_XMPP_MAX_SESSIONS,	"unlimited" },
	};
	char	**addrs, *v, *joined, *tmp, *cause;
	size_t	 i;
	int	 n, j;

	if (db_config_find(mmpd->db, DB_XMPP_ENABLED, &v, &cause) == -1) {
		cmdctx_err(ctx, "xmpp: %s", cause);
		free(cause);
		return (MMP_RES_FAILED);
	}
	cmdctx_kv(ctx, XMPP_KV_WIDTH, "Enabled", "%s",
	    v != NULL && strcmp(v, "1") == 0 ? "yes" : "no");
	free(v);
	for (i = 0; i < nitems(rows); i++) {
		if (rows[i].key == NULL) {
			if (db_listen_get(mmpd->db, &addrs, &n) == -1) {
				cmdctx_err(ctx, "xmpp: database error: cannot "
				    "read the listen addresses");
				return (MMP_RES_FAILED);
			}
			joined = xstrdup(n ? "" : NOT_SET);
			for (j = 0; j < n; j++) {
				xasprintf(&tmp, "%s%s%s", joined, j ? " " : "",
				    addrs[j]);
				free(joined);
				joined = tmp;
			}
			cmdctx_kv(ctx, XMPP_KV_WIDTH, rows[i].label, "%s",
			    joined);
			free(joined);
			util_free_argv(addrs, n);
			continue;
		}
		if (db_config_find(mmpd->db, rows[i].key, &v, &cause) ==
		    -1) {
			cmdctx_err(ctx, "xmpp: %s", cause);
			free(cause);
			return (MMP_RES_FAILED);
		}
		cmdctx_kv(ctx, XMPP_KV_WIDTH, rows[i].label, "%s",
		    v ? v : rows[i].dflt);
		free(v);
	}
	cmdctx_kv(ctx, XMPP_KV_WIDTH, "Cluster state", "%s",
	    cmd_cluster_state());
	if ((n = db_callbridge_count(mmpd->db)) == -1) {
		cmdctx_err(ctx, "xmpp: database error: cannot count the call "
		    "bridges");
		return (MMP_RES_FAILED);
	}
	cmdctx_kv(ctx, XMPP_KV_WIDTH, "Call bridges", "%d", n);
	xmpp_status_lines(cmd_xmpp_status_line, ctx);
	return (MMP_RES_OK);
}

/* xmpp domain <domain>: stored lower-cased. */
int
cmd_xmpp_domain(struct cmdctx *ctx)
{
	const char	*key = DB_XMPP_DOMAIN, *value;
	char		*domain, *p, *v;
	int		 rc = MMP_RES_FAILED;

	domain = xstrdup(ctx->m.args[0]);
	for (p = domain; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
	if (cluster_member()) {
		v = db_config_get(mmpd->db, DB_XMPP_DOMAIN);
		if (v == NULL || strcmp(v, domain) != 0) {
			cmdctx_err(ctx, "xmpp domain: this node is a cluster "
			    "member serving %s; run xmpp cluster remove first",
			    v ? v : "(none)");
			free(v);
			free(domain);
			return (MMP_RES_FAILED);
		}
		free(v);
	}
	if (strchr(domain, '.') == NULL)
		cmdctx_out(ctx, "Note: %s has no dot; clients elsewhere will "
		    "not find it in DNS", domain);
	value = domain;
	if (cmd_commit_config(ctx, &key, &value, 1) == 0) {
		cmdctx_out(ctx, "XMPP domain set to %s", domain);
		cmd_xmpp_saved(ctx);
		rc = MMP_RES_OK;
	}
	free(domain);
	return (rc);
}

/* The names of this node's interfaces, comma-separated; caller frees. */
static char *
cmd_xmpp_ifnames(void)
{
	struct if_nameindex	*ifs, *i;
	char			*list = NULL, *tmp;
	int			 n = 0;

	if ((ifs = if_nameindex()) == NULL)
		return (xstrdup("(cannot list them)"));
	for (i = ifs; i->if_index != 0 && i->if_name != NULL; i++) {
		if (n++ == XMPP_IF_SHOWN) {
			xasprintf(&tmp, "%s, ...", list);
			free(list);
			list = tmp;
			break;
		}
		xasprintf(&tmp, "%s%s%s", list ? list : "", list ? ", " : "",
		    i->if_name);
		free(list);
		list = tmp;
	}
	if_freenameindex(ifs);
	return (list ? list : xstrdup("none"));
}

/*
 * The addresses XMPP would listen on for interface name, as xmpp enable
 * takes them (link-local ones skipped), comma-separated; NULL if none.
 */
static char *
cmd_xmpp_ifaddrs(const char *name)
{
	struct ifaddrs	*ifa, *i;
	char		 host[NI_MAXHOST], *list = NULL, *tmp;
	int		 n = 0;

	if (getifaddrs(&ifa) == -1)
		return (NULL);
	for (i = ifa; i != NULL && n < XMPP_IF_SHOWN; i = i->ifa_next) {
		if (i->ifa_addr == NULL || strcmp(i->ifa_name, name) != 0 ||
		    addrkey_numeric(i->ifa_addr, host, sizeof(host)) == -1)
			continue;
		xasprintf(&tmp, "%s%s%s", list ? list : "", list ? ", " : "",
		    host);
		free(list);
		list = tmp;
		n++;
	}
	freeifaddrs(ifa);
	return (list);
}

/*
 * On a cluster member, xmpp listen may not move the node's cluster
 * address (its first entry and xmpp port cluster): the members know it
 * by that address, and it would never be heard again after a restart.
 * -1 (said to the shell) if it would.
 */
static int
cmd_xmpp_listen_member(struct cmdctx *ctx)
{
	char	 member[80], now[80], *cause = NULL;

	if (!cluster_member())
		return (0);
	if (cluster_member_addr(member, sizeof(member)) == -1 &&
	    cluster_local_addr(member, sizeof(member), &cause) == -1) {
		free(cause);
		return (0);	/* it has no cluster address to keep */
	}
	if (cluster_addr_for(ctx->m.args[0], now, sizeof(now), &cause) == 0 &&
	    strcmp(now, member) == 0)
		return (0);
	free(cause);
	cmdctx_err(ctx, "xmpp listen: this node is a cluster member at %s; "
	    "remove it (xmpp cluster remove) and join again after changing "
	    "listen", member);
	return (-1);
}

/* xmpp listen <addr>...: IP literals or interfaces that exist. */
int
cmd_xmpp_listen(struct cmdctx *ctx)
{
	struct in6_addr	 a6;
	char		*cause, *names;
	int		 i, j;

	for (i = 0; i < ctx->m.nargs; i++) {
		const char	*a = ctx->m.args[i];

		for (j = 0; j < i; j++) {
			if (strcmp(ctx->m.args[j], a) == 0) {
				cmdctx_err(ctx, "xmpp listen: %s given twice",
				    a);
				return (MMP_RES_FAILED);
			}
		}
		if (inet_pton(AF_INET, a, &a6) == 1 ||
		    inet_pton(AF_INET6, a, &a6) == 1)
			continue;
		if (if_nametoindex(a) == 0) {
			names = cmd_xmpp_ifnames();
			cmdctx_err(ctx, "xmpp listen: %s is neither an IP "
			    "address nor an interface of this node; its "
			    "interfaces are: %s", a, names);
			free(names);
			return (MMP_RES_FAILED);
		}
	}
	if (cmd_xmpp_listen_member(ctx) == -1)
		return (MMP_RES_FAILED);
	if (db_begin(mmpd->db, &cause) == -1 ||
	    db_listen_set(mmpd->db, (char **)(uintptr_t)ctx->m.args,
	    ctx->m.nargs, &cause) == -1 ||
	    db_commit(mmpd->db, &cause) == -1) {
		db_rollback(mmpd->db);
		cmdctx_err(ctx, "xmpp listen: %s", cause);
		free(cause);
		return (MMP_RES_FAILED);
	}
	cmdctx_out(ctx, "XMPP will listen on %d address%s", ctx->m.nargs,
	    ctx->m.nargs == 1 ? "" : "es");
	/* A name stands for the addresses it has now: show them. */
	for (i = 0; i < ctx->m.nargs; i++) {
		const char	*a = ctx->m.args[i];

		if (inet_pton(AF_INET, a, &a6) == 1 ||
		    inet_pton(AF_INET6, a, &a6) == 1)
			continue;
		if ((names = cmd_xmpp_ifaddrs(a)) != NULL)
			cmdctx_out(ctx, "Interface %s has %s", a, names);
		else
			cmdctx_out(ctx, "Interface %s has no usable address "
			    "now; xmpp enable fails until it has one", a);
		free(names);
	}
	cmd_xmpp_saved(ctx);
	return (MMP_RES_OK);
}

/* xmpp port client|component|cluster <n>: the three must differ. */
int
cmd_xmpp_port(struct cmdctx *ctx)
{
	static const struct {
		int		 id;
		const char	*key;
		const char	*what;
		int		 dflt;
	} ports[] = {
		{ CMD_XMPP_PORT_CLIENT, DB_XMPP_PORT_CLIENT, "client", 5222 },
		{ CMD_XMPP_PORT_COMPONENT, DB_XMPP_PORT_COMPONENT, "component",
		    5223 },
		{ CMD_XMPP_PORT_CLUSTER, DB_XMPP_PORT_CLUSTER, "cluster",
		    CLUSTER_PORT },
	};
	const char	*key = NULL, *what = NULL, *cv;
	char		*v;
	size_t		 i;
	int		 port = atoi(ctx->m.args[0]), other;

	for (i = 0; i < nitems(ports); i++)
		if (ports[i].id == (int)ctx->m.id) {
			key = ports[i].key;
			what = ports[i].what;
		}
	if (ctx->m.id == CMD_XMPP_PORT_CLUSTER && cluster_member()) {
		cmdctx_err(ctx, "xmpp port cluster: the cluster knows this node "
		    "by its address and port; run xmpp cluster remove first");
		return (MMP_RES_FAILED);
	}
	for (i = 0; i < nitems(ports); i++) {
		if (ports[i].id == (int)ctx->m.id)
			continue;
		v = db_config_get(mmpd->db, ports[i].key);
		other = v ? atoi(v) : ports[i].dflt;
		free(v);
		if (other == port) {
			cmdctx_err(ctx, "xmpp port %s: %d is the %s port", what,
			    port, ports[i].what);
			return (MMP_RES_FAILED);
		}
	}
	xasprintf(&v, "%d", port);
	cv = v;
	if (cmd_commit_config(ctx, &key, &cv, 1) == -1) {
		free(v);
		return (MMP_RES_FAILED);
	}
	cmdctx_out(ctx, "XMPP %s port set to %s", what, v);
	free(v);
	if (ctx->m.id != CMD_XMPP_PORT_CLUSTER)
		cmd_xmpp_saved(ctx);
	return (MMP_RES_OK);
}

/* xmpp certs <key> <crt> [<bundle>] | none. */
int
cmd_xmpp_certs(struct cmdctx *ctx)
{
	const char	*keys[] = { DB_XMPP_KEY, DB_XMPP_CRT, DB_XMPP_BUNDLE };
	const char	*values[3] = { NULL, NULL, NULL };
	char		*path[3] = { NULL, NULL, NULL }, *cause = NULL;
	int		 i, n, rc = MMP_RES_FAILED;

	if (ctx->m.id == CMD_XMPP_CERTS_NONE) {
		if (cmd_commit_config(ctx, keys, values, 3) == -1)
			return (MMP_RES_FAILED);
		cmdctx_out(ctx, "XMPP key, certificate and CA bundle cleared");
		cmd_xmpp_saved(ctx);
		return (MMP_RES_OK);
	}
	for (i = 0; i < ctx->m.nargs; i++) {
		values[i] = ctx->m.args[i];
		if (cmd_store_path(ctx, values[i], &path[i]) == -1)
			goto out;
	}
	if (pki_check_key(path[0], &cause) == -1 ||
	    pki_check_cert(path[1], &cause) == -1 ||
	    (path[2] != NULL && pki_check_bundle(path[2], &n, &cause) == -1)) {
		cmdctx_err(ctx, "xmpp certs: %s", cause);
		goto out;
	}
	if (cmd_commit_config(ctx, keys, values, 3) == -1)
		goto out;
	cmdctx_out(ctx, "XMPP key %s, certificate %s%s%s", values[0],
	    values[1], values[2] ? " and CA bundle " : ", no CA bundle",
	    values[2] ? values[2] : "");
	cmd_xmpp_saved(ctx);
	rc = MMP_RES_OK;
out:
	free(cause);
	for (i = 0; i < 3; i++)
		free(path[i]);
	return (rc);
}

/* One SUCCESS:/FAILURE: line; returns ok so callers can count. */
static int
cmd_xmpp_check(struct cmdctx *ctx, int ok, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatal("cmd_xmpp_check");
	va_end(ap);
	cmdctx_out(ctx, "%s: %s", ok ? "SUCCESS" : "FAILURE", s);
	free(s);
	return (ok);
}

/*
 * xmpp enable: check everything the service needs, one line per check,
 * and enable only if all pass.
 */
int
cmd_xmpp_enable(struct cmdctx *ctx)
{
	const char	*key = DB_XMPP_ENABLED, *one = "1";
	char		*domain, *keyf, *crtf, *bundlef, **addrs;
	char		*keyp = NULL, *crtp = NULL, *bundlep = NULL;
	char		*cause = NULL, *names, date[32];
	time_t		 nb, na, now = time(NULL);
	int		 n, ok = 1, havekey = 0, havecrt = 0, m;

	keyf = crtf = bundlef = NULL;
	if (db_config_find(mmpd->db, DB_XMPP_DOMAIN, &domain, &cause) == -1 ||
	    db_config_find(mmpd->db, DB_XMPP_KEY, &keyf, &cause) == -1 ||
	    db_config_find(mmpd->db, DB_XMPP_CRT, &crtf, &cause) == -1 ||
	    db_config_find(mmpd->db, DB_XMPP_BUNDLE, &bundlef, &cause) ==
	    -1) {
		cmdctx_err(ctx, "xmpp enable: %s", cause);
		free(cause);
		free(domain);
		free(keyf);
		free(crtf);
		return (MMP_RES_FAILED);
	}
	if (db_listen_get(mmpd->db, &addrs, &n) == -1) {
		cmdctx_err(ctx, "xmpp enable: database error: cannot read "
		    "the listen addresses");
		free(domain);
		free(keyf);
		free(crtf);
		free(bundlef);
		return (MMP_RES_FAILED);
	}

	ok &= domain ? cmd_xmpp_check(ctx, 1, "Domain configured: %s",
	    domain) : cmd_xmpp_check(ctx, 0, "Domain not configured "
	    "(xmpp domain <domain>)");
	ok &= n ? cmd_xmpp_check(ctx, 1, "Listening addresses configured") :
	    cmd_xmpp_check(ctx, 0, "Listening addresses not configured "
	    "(xmpp listen <addr>...)");

	if (keyf == NULL)
		ok &= cmd_xmpp_check(ctx, 0, "Key file not configured "
		    "(xmpp certs <key> <crt> [<bundle>])");
	else {
		xasprintf(&keyp, "%s/%s", mmpd->filesdir, keyf);
		havekey = pki_check_key(keyp, &cause) == 0;
		ok &= havekey ? cmd_xmpp_check(ctx, 1, "Key file %s present",
		    keyf) : cmd_xmpp_check(ctx, 0, "Key file: %s", cause);
		free(cause);
		cause = NULL;
	}
	if (crtf == NULL)
		ok &= cmd_xmpp_check(ctx, 0, "Certificate file not configured "
		    "(xmpp certs <key> <crt> [<bundle>])");
	else {
		xasprintf(&crtp, "%s/%s", mmpd->filesdir, crtf);
		havecrt = pki_check_cert(crtp, &cause) == 0;
		ok &= havecrt ? cmd_xmpp_check(ctx, 1, "Certificate file %s "
		    "present", crtf) : cmd_xmpp_check(ctx, 0, "Certificate "
		    "file: %s", cause);
		free(cause);
		cause = NULL;
	}
	if (havekey && havecrt) {
		m = pki_key_matches(keyp, crtp, &cause);
		ok &= m == 1 ? cmd_xmpp_check(ctx, 1, "Key and certificate "
		    "pair match") : cmd_xmpp_check(ctx, 0, "Key and "
		    "certificate: %s", cause);
		free(cause);
		cause = NULL;
	}
	if (havecrt && bundlef != NULL) {
		xasprintf(&bundlep, "%s/%s", mmpd->filesdir, bundlef);
		ok &= pki_verify_chain(crtp, bundlep, NULL, &cause) == 0 ?
		    cmd_xmpp_check(ctx, 1, "Certificate verified against CA "
		    "bundle %s", bundlef) : cmd_xmpp_check(ctx, 0, "%s", cause);
		free(cause);
		cause = NULL;
	}
	if (havecrt && pki_validity(crtp, &nb, &na, &cause) == 0) {
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC",
		    gmtime(&na));
		if (now > na)
			ok &= cmd_xmpp_check(ctx, 0, "Certificate expired on "
			    "%s", date);
		else if (now < nb)
			ok &= cmd_xmpp_check(ctx, 0, "Certificate not yet "
			    "valid");
		else
			cmd_xmpp_check(ctx, 1, "Certificate valid until %s",
			    date);
	} else if (havecrt) {
		ok &= cmd_xmpp_check(ctx, 0, "%s", cause);
		free(cause);
		cause = NULL;
	}
	/* Clients check that the certificate names the domain; so do we. */
	if (havecrt && domain != NULL) {
		m = pki_cert_covers(crtp, domain, &cause);
		if (m == 1)
			cmd_xmpp_check(ctx, 1, "Certificate covers the XMPP "
			    "domain %s", domain);
		else if (m == 0) {
			names = pki_cert_names(crtp);
			ok &= cmd_xmpp_check(ctx, 0, "Certificate does not "
			    "cover the XMPP domain: %s is for %s, not for %s; "
			    "use a certificate with subjectAltName:%s, or set "
			    "the domain it was made for", crtf, names ? names :
			    "no host name", domain, domain);
			free(names);
		} else
			ok &= cmd_xmpp_check(ctx, 0, "%s", cause);
		free(cause);
		cause = NULL;
	}

	if (ok) {
		if (xmpp_start(&cause) == -1) {
			ok &= cmd_xmpp_check(ctx, 0, "Cannot serve XMPP: %s",
			    cause);
			free(cause);
			cause = NULL;
		} else
			cmd_xmpp_check(ctx, 1, "Listening for clients and "
			    "call bridges");
	}
	if (ok && cmd_commit_config(ctx, &key, &one, 1) == -1) {
		xmpp_stop("system-shutdown");
		ok = 0;
	}
	if (ok)
		cmdctx_out(ctx, "SUCCESS: XMPP server enabled");
	else
		cmdctx_out(ctx, "FAILURE: XMPP server not enabled");

	free(domain);
	free(keyf);
	free(crtf);
	free(bundlef);
	free(keyp);
	free(crtp);
	free(bundlep);
	util_free_argv(addrs, n);
	return (ok ? MMP_RES_OK : MMP_RES_FAILED);
}

/* xmpp disable. */
int
cmd_xmpp_disable(struct cmdctx *ctx)
{
	const char	*key = DB_XMPP_ENABLED, *zero = "0";

	if (!cmd_xmpp_enabled() && !xmpp_serving()) {
		cmdctx_out(ctx, "XMPP server already disabled");
		return (MMP_RES_OK);
	}
	if (cmd_commit_config(ctx, &key, &zero, 1) == -1)
		return (MMP_RES_FAILED);
	xmpp_stop("system-shutdown");
	cmdctx_out(ctx, "XMPP server disabled");
	return (MMP_RES_OK);
}

/* xmpp max_sessions <n>|unlimited. */
int
cmd_xmpp_max_sessions(struct cmdctx *ctx)
{
	const char	*key = DB_XMPP_MAX_SESSIONS, *value = NULL;
	char		*v = NULL;
	int		 rc = MMP_RES_FAILED;

	if (ctx->m.id == CMD_XMPP_MAXSESS) {
		if (atoi(ctx->m.args[0]) < 1) {
			cmdctx_err(ctx, "xmpp max_sessions: at least 1, or "
			    "unlimited");
			return (MMP_RES_FAILED);
		}
		xasprintf(&v, "%d", atoi(ctx->m.args[0]));
		value = v;
	}
	if (cmd_commit_config(ctx, &key, &value, 1) == 0) {
		cmdctx_out(ctx, "Max sessions per user: %s",
		    value ? value : "unlimited");
		cmd_xmpp_saved(ctx);
		rc = MMP_RES_OK;
	}
	free(v);
	return (rc);
}

/* The admin's answer to the reset confirmation. */
static void
cmd_xmpp_reset_answer(struct cmdctx *ctx, const char *answer)
{
	char	*cause;

	if (strcmp(answer, "Y") != 0) {
		cmdctx_err(ctx, "xmpp reset: not confirmed (type a capital Y); "
		    "nothing changed");
		cmdctx_done(ctx, MMP_RES_FAILED);
		return;
	}
	if (cmd_cluster_member()) {
		cmdctx_err(ctx, "xmpp reset: this node joined a cluster "
		    "meanwhile; nothing changed");
		cmdctx_done(ctx, MMP_RES_FAILED);
		return;
	}
	xmpp_stop("system-shutdown");
	if (db_xmpp_reset(mmpd->db, &cause) == -1) {
		cmdctx_err(ctx, "xmpp reset: %s", cause);
		free(cause);
		cmdctx_done(ctx, MMP_RES_FAILED);
		return;
	}
	log_info("cmd_xmpp_reset: XMPP configuration cleared");
	cmdctx_out(ctx, "XMPP configuration and call bridges cleared");
	cmdctx_done(ctx, MMP_RES_OK);
}

/* xmpp reset: refused for cluster members, else asks for a capital Y. */
int
cmd_xmpp_reset(struct cmdctx *ctx)
{
	if (cmd_cluster_member()) {
		cmdctx_err(ctx, "xmpp reset: refused while this node is a "
		    "cluster member; run xmpp cluster remove first, or it "
		    "would show up twice when it joins again");
		return (MMP_RES_FAILED);
	}
	return (cmdctx_prompt(ctx, "This clears the XMPP configuration and "
	    "all call bridges of this node. Type Y to confirm: ", 1,
	    cmd_xmpp_reset_answer));
}
