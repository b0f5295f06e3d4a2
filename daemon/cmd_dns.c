/*
 * xmpp dns check and xmpp dns records: the SRV records through which
 * clients (_xmpp-client._tcp, _xmpps-client._tcp) and call bridges
 * (_xmpp-component._tcp) find the service, looked up in a worker thread
 * (dns.c) and compared with the configuration and the cluster's members.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ifaddrs.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addrkey.h"
#include "cluster/cluster.h"
#include "db.h"
#include "dns.h"
#include "log.h"
#include "mmpd.h"
#include "pki.h"
#include "proto.h"
#include "util.h"
#include "xmalloc.h"

#define DNS_MAX_TARGETS		32	/* distinct SRV targets resolved */
#define DNS_MAX_NAMES		16	/* certificate names tried by records */
#define DNS_NODE_ADDRS		8	/* addresses of one node */
#define DNS_DEADLINE_SEC	20	/* all the lookups of one command */
#define DNS_MAX_JOBS		2	/* commands looking up at once */
#define DNS_TTL			3600	/* of the records we suggest */
#define DNS_ENV			"MMP_RESOLVER"

#define SVC_CLIENT	0
#define SVC_XMPPS	1
#define SVC_COMP	2
#define SVC_N		3

/* The three services: their SRV label and whether the record is optional. */
static const struct {
	const char	*label;
	int		 comp;
	int		 optional;
} dns_svcs[SVC_N] = {
	{ "_xmpp-client._tcp",		0, 0 },
	{ "_xmpps-client._tcp",		0, 1 },
	{ "_xmpp-component._tcp",	1, 0 },
};

/* A node that records should point at: a member, or this node alone. */
struct dns_node {
	char		 label[INET6_ADDRSTRLEN];
	char		 addrs[DNS_NODE_ADDRS][INET6_ADDRSTRLEN];
	int		 naddrs;
	int		 self;
	const char	*name;		/* a name that resolves to it */
	int		 covered[SVC_N];
};

/* A name and its addresses, as the worker found them. */
struct dns_target {
	char		 name[NS_MAXDNAME];
	int		 rc;
	char		 addrs[DNS_MAX_ADDRS][INET6_ADDRSTRLEN];
	int		 naddrs;
	int		 covered;	/* by the certificate: 1, 0, -1 */
	int		 xmpps;		/* a direct TLS target */
};

struct dns_job {
	struct cmdctx		*ctx;		/* NULL once the shell left */
	int			 records;	/* xmpp dns records */
	char			*domain;
	int			 port[SVC_N];
	char			*resolver;	/* NULL: the system's */
	char			*crtpath;
	char			*crtname;
	int			 clustered;
	struct dns_node		 nodes[CLUSTER_MAX_NODES];
	int			 nnodes;

	/* Written by the worker, read on the loop after it is done. */
	char			*server;
	char			*fail;		/* lookups stopped: why */
	int			 rc[SVC_N];
	struct dns_srv		 srv[SVC_N][DNS_MAX_ANSWERS];
	int			 nsrv[SVC_N];
	int			 more[SVC_N];	/* records left out */
	struct dns_target	 targets[DNS_MAX_TARGETS];
	int			 ntargets;
	int			 covers_domain;
	char			*crtcause;
};

static int	 dns_jobs;

static int	 cmd_dns_canon(const char *, char *, size_t);
static void	 cmd_dns_node_add(struct dns_node *, const char *);
static void	 cmd_dns_standalone(struct dns_job *, char **, int);
static void	 cmd_dns_nodes(struct dns_job *);
static double	 cmd_dns_now(void);
static struct dns_target *cmd_dns_target(struct dns_job *, const char *);
static int	 cmd_dns_resolve(struct dns_job *, struct dns *, double,
		    struct dns_target *);
static void	 cmd_dns_work(void *);
static void	 cmd_dns_done(void *);
static void	 cmd_dns_cancel(struct cmdctx *);
static void	 cmd_dns_job_free(struct dns_job *);
static int	 cmd_dns_node_of(struct dns_job *, const char *);
static int	 cmd_dns_line(struct dns_job *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static const char *cmd_dns_who(struct dns_job *, char *, size_t);
static const char *cmd_dns_name_for(struct dns_job *, int, char *, size_t);
static int	 cmd_dns_check_svc(struct dns_job *, int);
static int	 cmd_dns_check_cert(struct dns_job *);
static int	 cmd_dns_report(struct dns_job *);
static void	 cmd_dns_print_records(struct dns_job *);

/* An address in its canonical text form; -1 if it is not one. */
static int
cmd_dns_canon(const char *in, char *out, size_t len)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	if (inet_pton(AF_INET, in, &a4) == 1)
		return (inet_ntop(AF_INET, &a4, out, len) ? 0 : -1);
	if (inet_pton(AF_INET6, in, &a6) == 1)
		return (inet_ntop(AF_INET6, &a6, out, len) ? 0 : -1);
	return (-1);
}

/* Add an address to a node unless it is there or the node is full. */
static void
cmd_dns_node_add(struct dns_node *nd, const char *addr)
{
	char	 c[INET6_ADDRSTRLEN];
	int	 i;

	if (cmd_dns_canon(addr, c, sizeof(c)) == -1)
		return;
	for (i = 0; i < nd->naddrs; i++)
		if (strcmp(nd->addrs[i], c) == 0)
			return;
	if (nd->naddrs < DNS_NODE_ADDRS)
		strlcpy(nd->addrs[nd->naddrs++], c, INET6_ADDRSTRLEN);
}

/*
 * This node alone: the addresses it listens on, interfaces and the
 * wildcard addresses replaced by the addresses they stand for.
 */
static void
cmd_dns_standalone(struct dns_job *job, char **listen, int n)
{
	struct dns_node	*nd = &job->nodes[0];
	struct ifaddrs	*ifa = NULL, *i;
	char		 host[INET6_ADDRSTRLEN];
	int		 j, any4, any6, fam;

	job->nnodes = 1;
	nd->self = 1;
	if (n > 0 && getifaddrs(&ifa) == -1)
		ifa = NULL;
	for (j = 0; j < n; j++) {
		any4 = strcmp(listen[j], "0.0.0.0") == 0;
		any6 = cmd_dns_canon(listen[j], host, sizeof(host)) == 0 &&
		    strcmp(host, "::") == 0;
		if (!any4 && !any6 && cmd_dns_canon(listen[j], host,
		    sizeof(host)) == 0) {
			cmd_dns_node_add(nd, host);
			continue;
		}
		for (i = ifa; i != NULL; i = i->ifa_next) {
			if (i->ifa_addr == NULL)
				continue;
			fam = i->ifa_addr->sa_family;
			if (fam != AF_INET && fam != AF_INET6)
				continue;
			if ((any4 && fam != AF_INET) ||
			    (any6 && fam != AF_INET6) ||
			    (!any4 && !any6 && strcmp(i->ifa_name,
			    listen[j]) != 0))
				continue;
			if (addrkey_numeric(i->ifa_addr, host,
			    sizeof(host)) == 0)
				cmd_dns_node_add(nd, host);
		}
	}
	if (ifa != NULL)
		freeifaddrs(ifa);
	strlcpy(nd->label, nd->naddrs ? nd->addrs[0] : "this node",
	    sizeof(nd->label));
}

/*
 * The nodes records must point at: the cluster's members by the host
 * part of their cluster address, or this node's listening addresses.
 */
static void
cmd_dns_nodes(struct dns_job *job)
{
	struct cluster_status *st = cluster_status();
	struct dns_node	*nd;
	char		 host[INET6_ADDRSTRLEN + 2], *p, **listen;
	size_t		 i;
	int		 n;

	if (st != NULL && cluster_member()) {
		job->clustered = 1;
		for (i = 0; i < st->nnodes &&
		    job->nnodes < CLUSTER_MAX_NODES; i++) {
			p = st->nodes[i].addr;
			if (*p == '[')
				p++;
			strlcpy(host, p, sizeof(host));
			if ((p = strrchr(host, ':')) != NULL)
				*p = '\0';
			if (p != NULL && p > host && p[-1] == ']')
				p[-1] = '\0';
			nd = &job->nodes[job->nnodes];
			cmd_dns_node_add(nd, host);
			if (nd->naddrs == 0)
				continue;
			strlcpy(nd->label, nd->addrs[0], sizeof(nd->label));
			nd->self = st->nodes[i].self;
			job->nnodes++;
		}
		cluster_status_free(st);
		return;
	}
	cluster_status_free(st);
	db_listen_get(mmpd->db, &listen, &n);
	cmd_dns_standalone(job, listen, n);
	util_free_argv(listen, n);
}

/* Seconds on the monotonic clock. */
static double
cmd_dns_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* The target of that name, if the worker looked it up. */
static struct dns_target *
cmd_dns_target(struct dns_job *job, const char *name)
{
	int	 i;

	for (i = 0; i < job->ntargets; i++)
		if (strcasecmp(job->targets[i].name, name) == 0)
			return (&job->targets[i]);
	return (NULL);
}

/* In the worker: the addresses of one target; -1 when lookups stop. */
static int
cmd_dns_resolve(struct dns_job *job, struct dns *d, double start,
    struct dns_target *t)
{
	char	*q, *cause = NULL;

	if (cmd_dns_now() - start > DNS_DEADLINE_SEC) {
		xasprintf(&job->fail, "the lookups took over %d s",
		    DNS_DEADLINE_SEC);
		return (-1);
	}
	xasprintf(&q, "%s.", t->name);
	t->rc = dns_addrs(d, q, t->addrs, DNS_MAX_ADDRS, &t->naddrs, &cause);
	if (t->rc == DNS_FAIL)
		xasprintf(&job->fail, "%s A/AAAA: %s", q, cause);
	free(q);
	free(cause);
	return (t->rc == DNS_FAIL ? -1 : 0);
}

/*
 * In the worker: the three SRV names and the addresses of every target
 * (or, for records, of every certificate name), and the certificate's
 * names. Touches nothing but the job.
 */
static void
cmd_dns_work(void *arg)
{
	struct dns_job		*job = arg;
	struct dns_target	*t;
	struct dns		*d;
	double			 start = cmd_dns_now();
	char			*q, *cause = NULL, **names;
	int			 s, i, n;

	if ((d = dns_new(job->resolver, &job->fail)) == NULL)
		return;
	job->server = xstrdup(dns_server(d));
	if (job->records) {
		/* Which certificate names could serve as targets. */
		if (job->crtpath == NULL || (n = pki_cert_dns_names(
		    job->crtpath, &names, DNS_MAX_NAMES, &cause)) == -1) {
			free(cause);
			goto out;
		}
		for (i = 0; i < n; i++) {
			t = &job->targets[job->ntargets++];
			strlcpy(t->name, names[i], sizeof(t->name));
			free(names[i]);
		}
		free(names);
		for (i = 0; i < job->ntargets; i++)
			if (cmd_dns_resolve(job, d, start,
			    &job->targets[i]) == -1)
				break;
		goto out;
	}
	for (s = 0; s < SVC_N; s++) {
		if (cmd_dns_now() - start > DNS_DEADLINE_SEC) {
			xasprintf(&job->fail, "the lookups took over %d s",
			    DNS_DEADLINE_SEC);
			goto out;
		}
		xasprintf(&q, "%s.%s.", dns_svcs[s].label, job->domain);
		job->rc[s] = dns_srv(d, q, job->srv[s], DNS_MAX_ANSWERS,
		    &job->nsrv[s], &job->more[s], &cause);
		if (job->rc[s] == DNS_FAIL) {
			xasprintf(&job->fail, "%s SRV: %s", q, cause);
			free(cause);
			free(q);
			goto out;
		}
		free(q);
		for (i = 0; i < job->nsrv[s]; i++) {
			if (strcmp(job->srv[s][i].target, ".") == 0)
				continue;
			if ((t = cmd_dns_target(job,
			    job->srv[s][i].target)) == NULL) {
				if (job->ntargets == DNS_MAX_TARGETS)
					continue;
				t = &job->targets[job->ntargets++];
				strlcpy(t->name, job->srv[s][i].target,
				    sizeof(t->name));
			}
			if (s == SVC_XMPPS)
				t->xmpps = 1;
		}
	}
	for (i = 0; i < job->ntargets; i++)
		if (cmd_dns_resolve(job, d, start, &job->targets[i]) == -1)
			goto out;
	if (job->crtpath == NULL)
		goto out;
	job->covers_domain = pki_cert_covers(job->crtpath, job->domain,
	    &job->crtcause);
	for (i = 0; i < job->ntargets; i++) {
		t = &job->targets[i];
		t->covered = -1;
		if (t->xmpps && job->covers_domain != -1)
			t->covered = pki_cert_covers(job->crtpath, t->name,
			    &cause);
		free(cause);
		cause = NULL;
	}
out:
	dns_free(d);
}

/* Free a job; NULL does nothing. */
static void
cmd_dns_job_free(struct dns_job *job)
{
	if (job == NULL)
		return;
	free(job->domain);
	free(job->resolver);
	free(job->crtpath);
	free(job->crtname);
	free(job->server);
	free(job->fail);
	free(job->crtcause);
	free(job);
}

/* The shell went away: the lookups finish, nobody is told. */
static void
cmd_dns_cancel(struct cmdctx *ctx)
{
	struct dns_job	*job = ctx->job;

	job->ctx = NULL;
}

/* The node an address belongs to, or -1. */
static int
cmd_dns_node_of(struct dns_job *job, const char *addr)
{
	int	 i, j;

	for (i = 0; i < job->nnodes; i++)
		for (j = 0; j < job->nodes[i].naddrs; j++)
			if (strcmp(job->nodes[i].addrs[j], addr) == 0)
				return (i);
	return (-1);
}

/* One SUCCESS:/WARNING:/FAILURE: line (level 0, 1, 2); 1 if a FAILURE. */
static int
cmd_dns_line(struct dns_job *job, int level, const char *fmt, ...)
{
	static const char	*tag[] = { "SUCCESS", "WARNING", "FAILURE" };
	va_list			 ap;
	char			*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatal("cmd_dns_line");
	va_end(ap);
	cmdctx_out(job->ctx, "%s: %s", tag[level], s);
	free(s);
	return (level == 2);
}

/* "cluster members (a, b, c)" or "this node (a, b)", in buf. */
static const char *
cmd_dns_who(struct dns_job *job, char *buf, size_t len)
{
	int	 i, j;

	strlcpy(buf, job->clustered ? "a cluster member (" : "this node (",
	    len);
	for (i = 0; i < job->nnodes; i++)
		for (j = 0; j < job->nodes[i].naddrs; j++) {
			if (i + j > 0)
				strlcat(buf, ", ", len);
			strlcat(buf, job->nodes[i].addrs[j], len);
		}
	if (job->nnodes == 0 || job->nodes[0].naddrs == 0)
		strlcat(buf, "no address known", len);
	strlcat(buf, ")", len);
	return (buf);
}

/* A target name for node i: one that resolves to it, else a hint. */
static const char *
cmd_dns_name_for(struct dns_job *job, int i, char *buf, size_t len)
{
	if (i >= 0 && i < job->nnodes && job->nodes[i].name != NULL)
		snprintf(buf, len, "%s.", job->nodes[i].name);
	else if (i >= 0 && i < job->nnodes && job->nodes[i].naddrs > 0)
		snprintf(buf, len, "<name of %s>.", job->nodes[i].label);
	else
		strlcpy(buf, "<name of a member>.", len);
	return (buf);
}

/* The lines of one service; the number of FAILURE lines. */
static int
cmd_dns_check_svc(struct dns_job *job, int s)
{
	struct dns_srv		*r;
	struct dns_target	*t;
	char			 owner[NS_MAXDNAME + 32], rec[2 * NS_MAXDNAME];
	char			 nm[NS_MAXDNAME + 32], who[1024], *bad, *tmp;
	char			 good[512];
	int			 want = job->port[s], other, i, j, k, nd;
	int			 fails = 0, hit, lvl, onenode = -1, spread = 0;

	other = job->port[dns_svcs[s].comp ? SVC_CLIENT : SVC_COMP];
	snprintf(owner, sizeof(owner), "%s.%s.", dns_svcs[s].label,
	    job->domain);
	lvl = dns_svcs[s].optional ? 1 : 2;
	if (job->rc[s] == DNS_NONE) {
		if (dns_svcs[s].optional)
			return (cmd_dns_line(job, 1, "no %s SRV record "
			    "(optional: clients that speak direct TLS, XEP-0368, "
			    "use it); to offer it add: %s %d IN SRV 10 50 %d %s",
			    owner, owner, DNS_TTL, want,
			    cmd_dns_name_for(job, 0, nm, sizeof(nm))));
		return (cmd_dns_line(job, 2, "no %s SRV record: %s cannot "
		    "find this service; add one per member (xmpp dns records "
		    "lists them): %s %d IN SRV 10 50 %d %s", owner,
		    dns_svcs[s].comp ? "call bridges" : "clients", owner,
		    DNS_TTL, want, cmd_dns_name_for(job, 0, nm, sizeof(nm))));
	}
	for (i = 0; i < job->nsrv[s]; i++) {
		r = &job->srv[s][i];
		snprintf(rec, sizeof(rec), "%s SRV %d %d %d %s%s", owner,
		    r->prio, r->weight, r->port, r->target,
		    strcmp(r->target, ".") == 0 ? "" : ".");
		if (strcmp(r->target, ".") == 0) {
			fails += cmd_dns_line(job, 2, "%s: the target \".\" "
			    "says the service is not offered at all; replace "
			    "it with: %s %d IN SRV 10 50 %d %s", rec, owner,
			    DNS_TTL, want, cmd_dns_name_for(job, 0, nm,
			    sizeof(nm)));
			continue;
		}
		if (r->port != want)
			fails += cmd_dns_line(job, 2, "%s: port %d is not the "
			    "%s port %d%s; change it to: %s %d IN SRV %d %d "
			    "%d %s.", rec, r->port,
			    dns_svcs[s].comp ? "component" : "client", want,
			    r->port != other ? "" : dns_svcs[s].comp ?
			    " (it is the client port)" :
			    " (it is the component port)",
			    owner, DNS_TTL, r->prio, r->weight, want,
			    r->target);
		if ((t = cmd_dns_target(job, r->target)) == NULL) {
			cmd_dns_line(job, 1, "%s: not looked up (only %d "
			    "targets are)", rec, DNS_MAX_TARGETS);
			continue;
		}
		if (t->rc != DNS_OK) {
			fails += cmd_dns_line(job, 2, "%s: %s. has no A or "
			    "AAAA record; add one with the address of %s, "
			    "e.g. %s. %d IN A %s, or point the record at a "
			    "name that has", rec, r->target, job->clustered ?
			    "a member" : "this node", r->target, DNS_TTL,
			    job->nnodes > 0 && job->nodes[0].naddrs > 0 ?
			    job->nodes[0].addrs[0] : "<address>");
			continue;
		}
		hit = 0;
		bad = NULL;
		*good = '\0';
		for (k = 0; k < t->naddrs; k++) {
			if ((nd = cmd_dns_node_of(job, t->addrs[k])) == -1) {
				xasprintf(&tmp, "%s%s%s", bad ? bad : "",
				    bad ? ", " : "", t->addrs[k]);
				free(bad);
				bad = tmp;
				continue;
			}
			hit++;
			if (strlen(good) + 2 + strlen(t->addrs[k]) <
			    sizeof(good)) {
				if (*good != '\0')
					strlcat(good, ", ", sizeof(good));
				strlcat(good, t->addrs[k], sizeof(good));
			}
			job->nodes[nd].covered[s] = 1;
			if (onenode == -1)
				onenode = nd;
			else if (onenode != nd)
				spread = 1;
		}
		if (hit == 0)
			fails += cmd_dns_line(job, 2, "%s: %s. resolves to %s, "
			    "which is not %s; change its address records or "
			    "the target", rec, r->target, bad,
			    cmd_dns_who(job, who, sizeof(who)));
		else if (bad != NULL)
			cmd_dns_line(job, 1, "%s: %s. resolves to %s as well, "
			    "which is not %s", rec, r->target, bad,
			    cmd_dns_who(job, who, sizeof(who)));
		else if (r->port == want)
			cmd_dns_line(job, 0, "%s: resolves to %s %s", rec,
			    job->clustered ? (hit > 1 ? "members" : "member") :
			    "this node,", good);
		free(bad);
	}
	if (job->more[s] > 0)
		cmd_dns_line(job, 1, "%s has %d more SRV records than the %d "
		    "looked at", owner, job->more[s], DNS_MAX_ANSWERS);
	for (j = 0; j < job->nnodes; j++) {
		if (job->nodes[j].covered[s])
			continue;
		if (job->clustered)
			fails += cmd_dns_line(job, lvl, "member %s%s has no %s "
			    "record: add %s %d IN SRV 10 50 %d %s",
			    job->nodes[j].label, job->nodes[j].self ?
			    " (this node)" : "", owner, owner, DNS_TTL, want,
			    cmd_dns_name_for(job, j, nm, sizeof(nm)));
		else
			fails += cmd_dns_line(job, lvl, "no %s record points "
			    "at this node (%s): add %s %d IN SRV 10 50 %d %s",
			    owner, job->nodes[j].naddrs ? job->nodes[j].label :
			    "no listening address", owner, DNS_TTL, want,
			    cmd_dns_name_for(job, j, nm, sizeof(nm)));
	}
	if (job->clustered && job->nnodes > 1 && onenode != -1 && !spread)
		cmd_dns_line(job, 1, "every %s target points at one node, "
		    "%s: while it is down nothing finds the others", owner,
		    job->nodes[onenode].label);
	return (fails);
}

/* The certificate's names against the domain and the direct TLS targets. */
static int
cmd_dns_check_cert(struct dns_job *job)
{
	struct dns_target	*t;
	int			 i, fails = 0;

	if (job->crtpath == NULL)
		return (cmd_dns_line(job, 1, "no certificate configured (xmpp "
		    "certs): cannot check that it covers %s", job->domain));
	if (job->covers_domain == -1)
		return (cmd_dns_line(job, 2, "certificate: %s",
		    job->crtcause));
	if (job->covers_domain == 1)
		cmd_dns_line(job, 0, "certificate %s covers %s", job->crtname,
		    job->domain);
	else
		fails += cmd_dns_line(job, 2, "certificate %s does not cover "
		    "%s: clients and call bridges refuse it; make a CSR with "
		    "subjectAltName:%s and have it signed", job->crtname,
		    job->domain, job->domain);
	for (i = 0; i < job->ntargets; i++) {
		t = &job->targets[i];
		if (!t->xmpps || t->covered == -1)
			continue;
		if (t->covered)
			cmd_dns_line(job, 0, "certificate %s covers %s., a "
			    "direct TLS target", job->crtname, t->name);
		else
			cmd_dns_line(job, 1, "certificate %s does not cover "
			    "%s., the target of %s.%s.: direct TLS clients "
			    "that check the target name refuse it; add it to "
			    "the subjectAltName", job->crtname, t->name,
			    dns_svcs[SVC_XMPPS].label, job->domain);
	}
	return (fails);
}

/* The check's lines; the number of FAILURE lines. */
static int
cmd_dns_report(struct dns_job *job)
{
	struct dns_target	*t;
	int			 s, i, k, nd, fails = 0;

	if (job->fail != NULL)
		return (cmd_dns_line(job, 2, "DNS not checked: %s (%s in "
		    "mmpd's environment names the resolver to ask)",
		    job->fail, DNS_ENV));
	/* Name each node after a target that resolves to it. */
	for (i = 0; i < job->ntargets; i++) {
		t = &job->targets[i];
		for (k = 0; k < t->naddrs; k++)
			if ((nd = cmd_dns_node_of(job, t->addrs[k])) != -1 &&
			    job->nodes[nd].name == NULL)
				job->nodes[nd].name = t->name;
	}
	for (s = 0; s < SVC_N; s++)
		fails += cmd_dns_check_svc(job, s);
	fails += cmd_dns_check_cert(job);
	return (fails);
}

/* xmpp dns records: a zone file fragment, one block per node. */
static void
cmd_dns_print_records(struct dns_job *job)
{
	struct dns_target	*t;
	struct dns_node		*nd;
	char			 sugg[NS_MAXDNAME];
	const char		*name;
	int			 i, j, k, s, best;

	cmdctx_out(job->ctx, "; SRV records for %s: clients on port %d "
	    "(STARTTLS and direct TLS), call bridges on port %d",
	    job->domain, job->port[SVC_CLIENT], job->port[SVC_COMP]);
	cmdctx_out(job->ctx, "; targets: the names of certificate %s that "
	    "resolve to each node (asked %s)", job->crtname ? job->crtname :
	    "(none configured)", job->server ? job->server :
	    "the system's resolver");
	if (job->fail != NULL)
		cmdctx_out(job->ctx, "; names not looked up: %s", job->fail);
	for (i = 0; i < job->nnodes; i++) {
		nd = &job->nodes[i];
		cmdctx_out(job->ctx, "%s", "");
		cmdctx_out(job->ctx, "; %s %s%s", job->clustered ? "member" :
		    "node", nd->naddrs ? nd->label : "without a listening "
		    "address (xmpp listen)", nd->self ? " (this node)" : "");
		/* A certificate name that resolves to it, not the domain. */
		name = NULL;
		best = 0;
		for (j = 0; j < job->ntargets && best < 2; j++) {
			t = &job->targets[j];
			for (k = 0; k < t->naddrs; k++) {
				if (cmd_dns_node_of(job, t->addrs[k]) != i)
					continue;
				if (strcasecmp(t->name, job->domain) != 0) {
					name = t->name;
					best = 2;
				} else if (best == 0) {
					name = t->name;
					best = 1;
				}
				break;
			}
		}
		if (name == NULL) {
			snprintf(sugg, sizeof(sugg), "xmpp%d.%s", i + 1,
			    job->domain);
			name = sugg;
			cmdctx_out(job->ctx, "; no certificate name resolves "
			    "to it: %s. is a suggestion, with its address "
			    "record", name);
			if (nd->naddrs > 0)
				cmdctx_out(job->ctx, "%s. %d IN %s %s", name,
				    DNS_TTL, strchr(nd->addrs[0], ':') ?
				    "AAAA" : "A", nd->addrs[0]);
		}
		for (s = 0; s < SVC_N; s++)
			cmdctx_out(job->ctx, "%s.%s. %d IN SRV 10 50 %d %s.",
			    dns_svcs[s].label, job->domain, DNS_TTL,
			    job->port[s], name);
	}
}

/* Back on the loop: the report, or nothing if the shell left. */
static void
cmd_dns_done(void *arg)
{
	struct dns_job	*job = arg;
	struct cmdctx	*ctx = job->ctx;
	int		 fails = 0;

	dns_jobs--;
	if (ctx == NULL) {
		cmd_dns_job_free(job);
		return;
	}
	ctx->cancel = NULL;
	ctx->job = NULL;
	if (job->records)
		cmd_dns_print_records(job);
	else
		fails = cmd_dns_report(job);
	cmdctx_done(ctx, fails ? MMP_RES_FAILED : MMP_RES_OK);
	cmd_dns_job_free(job);
}

/*
 * xmpp dns check and xmpp dns records: gather what the records must
 * match, then look them up in a worker.
 */
int
cmd_xmpp_dns(struct cmdctx *ctx)
{
	struct dns_job	*job;
	const char	*env;
	char		*v, *cause;
	int		 rc;

	if (dns_jobs >= DNS_MAX_JOBS) {
		cmdctx_err(ctx, "%s: %d DNS lookups are running already; try "
		    "again when they are done", cmdtab_name(ctx->m.id),
		    dns_jobs);
		return (MMP_RES_FAILED);
	}
	job = xcalloc(1, sizeof(*job));
	if ((rc = db_config_find(mmpd->db, DB_XMPP_DOMAIN, &job->domain,
	    &cause)) != 1) {
		if (rc == -1) {
			cmdctx_err(ctx, "%s: %s", cmdtab_name(ctx->m.id),
			    cause);
			free(cause);
		} else
			cmdctx_err(ctx, "%s: no XMPP domain configured (xmpp "
			    "domain <domain>)", cmdtab_name(ctx->m.id));
		cmd_dns_job_free(job);
		return (MMP_RES_FAILED);
	}
	job->records = ctx->m.id == CMD_XMPP_DNS_RECORDS;
	v = db_config_get(mmpd->db, DB_XMPP_PORT_CLIENT);
	job->port[SVC_CLIENT] = job->port[SVC_XMPPS] = v ? atoi(v) : 5222;
	free(v);
	v = db_config_get(mmpd->db, DB_XMPP_PORT_COMPONENT);
	job->port[SVC_COMP] = v ? atoi(v) : 5223;
	free(v);
	if ((env = getenv(DNS_ENV)) != NULL && *env != '\0')
		job->resolver = xstrdup(env);
	if ((job->crtname = db_config_get(mmpd->db, DB_XMPP_CRT)) != NULL)
		xasprintf(&job->crtpath, "%s/%s", mmpd->filesdir,
		    job->crtname);
	cmd_dns_nodes(job);

	job->ctx = ctx;
	ctx->job = job;
	ctx->cancel = cmd_dns_cancel;
	if (worker_start(cmd_dns_work, cmd_dns_done, job) == -1) {
		ctx->cancel = NULL;
		ctx->job = NULL;
		cmdctx_err(ctx, "%s: cannot start a worker thread",
		    cmdtab_name(ctx->m.id));
		cmd_dns_job_free(job);
		return (MMP_RES_FAILED);
	}
	dns_jobs++;
	return (CMD_PENDING);
}
