/*
 * The pki commands: keys, CSRs and certificates in the flat file store.
 * Making a key runs in a worker thread; the control connection that asked
 * gets progress dots and the answer when it is done, and everyone else is
 * served meanwhile.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "mmpd.h"
#include "pki.h"
#include "proto.h"
#include "xmalloc.h"

#define PKI_DOTS_MSEC	250
#define PKI_NAMES_MAX	256	/* names pki names sends at most */

/* A key being made in a worker. */
struct pki_job {
	struct cmdctx		*ctx;		/* NULL once the shell left */
	struct pki_attrs	 attrs;
	int			 mode;
	int			 keyfd;
	int			 outfd;
	char			*keypath;
	char			*outpath;
	char			*keyname;
	char			*outname;
	char			*cause;
	int			 rc;
	struct event		*dots;
};

static char	*cmd_pki_path(const char *);
static int	 cmd_pki_create(struct cmdctx *, const char *, mode_t, int *,
		    char **);
static void	 cmd_pki_work(void *);
static void	 cmd_pki_done(void *);
static void	 cmd_pki_cancel(struct cmdctx *);
static void	 cmd_pki_dot(evutil_socket_t, short, void *);
static void	 cmd_pki_job_free(struct pki_job *);
static void	 cmd_pki_line(void *, const char *);
static int	 cmd_pki_need(struct cmdctx *, const char *, char **);
static int	 cmd_pki_absent(struct cmdctx *, const char *);
static char	*cmd_pki_stem(const char *, const char *, const char *);
static void	 cmd_pki_unlock_answer(struct cmdctx *, const char *);
static void	 cmd_pki_p12_answer(struct cmdctx *, const char *);
static int	 cmd_pki_split_value(struct cmdctx *, int, const char **);
static int	 cmd_pki_ca_exists(struct cmdctx *, const char *);

/* The full path of a name in the file store; the caller frees. */
static char *
cmd_pki_path(const char *name)
{
	char	*path;

	xasprintf(&path, "%s/%s", mmpd->filesdir, name);
	return (path);
}

/*
 * Create a new file in the store, exclusively: of two commands racing for
 * one name exactly one gets it. mode is set exactly, whatever the umask:
 * keys 0600, public files 0644 so that SFTP users (the store's group) can
 * download CSRs and certificates. -1 after telling the shell.
 */
static int
cmd_pki_create(struct cmdctx *ctx, const char *name, mode_t mode, int *fd,
    char **path)
{
	*path = cmd_pki_path(name);
	*fd = open(*path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (*fd != -1 && fchmod(*fd, mode) == -1) {
		cmdctx_err(ctx, "%s: cannot set its mode: %s", name,
		    strerror(errno));
		close(*fd);
		unlink(*path);
		free(*path);
		*path = NULL;
		*fd = -1;
		return (-1);
	}
	if (*fd == -1) {
		if (errno == EEXIST)
			cmdctx_err(ctx, "%s already exists in the file store; "
			    "choose another name or delete it first", name);
		else
			cmdctx_err(ctx, "%s: %s", name, strerror(errno));
		free(*path);
		*path = NULL;
		return (-1);
	}
	return (0);
}

/* A file the command reads must be in the store; else tell the shell. */
static int
cmd_pki_need(struct cmdctx *ctx, const char *name, char **path)
{
	return (cmd_store_path(ctx, name, path));
}

/* A file the command will write must not exist yet. */
static int
cmd_pki_absent(struct cmdctx *ctx, const char *name)
{
	struct stat	 st;
	char		*path;
	int		 rc = 0;

	path = cmd_pki_path(name);
	if (lstat(path, &st) == 0) {
		cmdctx_err(ctx, "%s already exists in the file store; choose "
		    "another name or delete it first", name);
		rc = -1;
	}
	free(path);
	return (rc);
}

/*
 * name with suffix drop removed (if it ends so), then add appended; the
 * caller frees.
 */
static char *
cmd_pki_stem(const char *name, const char *drop, const char *add)
{
	char	*s;
	size_t	 n = strlen(name), d = drop ? strlen(drop) : 0;

	if (d > 0 && n > d && strcasecmp(name + n - d, drop) == 0)
		n -= d;
	xasprintf(&s, "%.*s%s", (int)n, name, add);
	return (s);
}

/* Free a job and close what it holds. */
static void
cmd_pki_job_free(struct pki_job *job)
{
	if (job->dots != NULL)
		event_free(job->dots);
	if (job->keyfd != -1)
		close(job->keyfd);
	if (job->outfd != -1)
		close(job->outfd);
	pki_attrs_clear(&job->attrs);
	free(job->keypath);
	free(job->outpath);
	free(job->keyname);
	free(job->outname);
	free(job->cause);
	free(job);
}

/* In the worker: make the key and what goes with it. */
static void
cmd_pki_work(void *arg)
{
	struct pki_job	*job = arg;

	job->rc = pki_make(&job->attrs, job->mode, job->keyfd, job->outfd,
	    NULL, NULL, &job->cause);
}

/* Back on the loop: answer the shell, or clean up after a failure. */
static void
cmd_pki_done(void *arg)
{
	struct pki_job	*job = arg;
	struct cmdctx	*ctx = job->ctx;

	if (job->rc == -1) {
		unlink(job->keypath);
		unlink(job->outpath);
		log_warnx("cmd_pki_done: %s: %s", job->keyname, job->cause);
	} else
		log_info("cmd_pki_done: created %s and %s", job->keyname,
		    job->outname);
	if (ctx == NULL) {
		cmd_pki_job_free(job);
		return;
	}
	ctx->cancel = NULL;
	cmdctx_part(ctx, "\n");
	if (job->rc == -1) {
		cmdctx_err(ctx, "%s: %s", cmdtab_name(ctx->m.id),
		    job->cause);
		cmdctx_done(ctx, MMP_RES_FAILED);
		cmd_pki_job_free(job);
		return;
	}
	if (job->attrs.cn_added)
		cmdctx_out(ctx, "CN %s added to subjectAltName",
		    job->attrs.cn);
	switch (job->mode) {
	case PKI_MAKE_CSR:
		cmdctx_out(ctx, "Created key file %s and CSR %s",
		    job->keyname, job->outname);
		cmdctx_out(ctx, "CSR file %s ready for download via SFTP",
		    job->outname);
		break;
	case PKI_MAKE_SELFSIGNED:
		cmdctx_out(ctx, "Created key file %s and certificate %s, "
		    "valid %d days", job->keyname, job->outname,
		    job->attrs.days);
		break;
	default:
		cmdctx_out(ctx, "Created CA key %s and CA certificate %s, "
		    "valid %d days", job->keyname, job->outname,
		    job->attrs.days);
		break;
	}
	cmdctx_done(ctx, MMP_RES_OK);
	cmd_pki_job_free(job);
}

/* The shell went away: the job finishes, nobody is told. */
static void
cmd_pki_cancel(struct cmdctx *ctx)
{
	struct pki_job	*job = ctx->job;

	job->ctx = NULL;
	if (job->dots != NULL)
		evtimer_del(job->dots);
}

/* A progress dot while the key is made. */
static void
cmd_pki_dot(evutil_socket_t fd, short what, void *arg)
{
	struct pki_job	*job = arg;
	struct timeval	 tv = { 0, PKI_DOTS_MSEC * 1000 };

	(void)fd;
	(void)what;
	if (job->ctx == NULL)
		return;
	cmdctx_part(job->ctx, ".");
	evtimer_add(job->dots, &tv);
}

/*
 * A value the shell split at a blank: "CN:Lab CA" typed unquoted arrives
 * as CN:Lab and CA, "subjectAltName:a, b" as subjectAltName:a, and b.
 * Say what happened and how to quote, then return -1.
 */
static int
cmd_pki_split_value(struct cmdctx *ctx, int argc, const char **argv)
{
	const char	*prev, *w, *colon;
	size_t		 n;
	int		 k;

	for (k = 1; k < argc; k++) {
		prev = argv[k - 1];
		w = argv[k];
		n = strlen(prev);
		if (strncasecmp(prev, "subjectAltName:", 15) == 0 &&
		    prev[n - 1] == ',') {
			cmdctx_err(ctx, "%s: '%.64s' ends with a comma and "
			    "'%.64s' follows as a word of its own: a blank "
			    "after a comma ends the attribute; write the "
			    "names without blanks (%.64s%.64s) or quote the "
			    "whole attribute (\"%.64s %.64s\")",
			    cmdtab_name(ctx->m.id), prev, w, prev, w, prev, w);
			return (-1);
		}
		if ((colon = strchr(w, ':')) == NULL || colon == w) {
			cmdctx_err(ctx, "%s: '%.64s' follows '%.64s' as a word "
			    "of its own: the shell splits words at blanks, so "
			    "a value with a blank must be quoted, as in "
			    "\"%.64s %.64s\"", cmdtab_name(ctx->m.id), w, prev,
			    prev, w);
			return (-1);
		}
	}
	return (0);
}

/*
 * pki csr, pki selfsigned and pki ca init: check everything, claim both
 * file names, then make the key in a worker.
 */
int
cmd_pki_make(struct cmdctx *ctx)
{
	struct pki_job	*job;
	const char	*ext = ".csr";
	int		 allowed;

	job = xcalloc(1, sizeof(*job));
	job->keyfd = job->outfd = -1;
	switch (ctx->m.id) {
	case CMD_PKI_CSR:
		job->mode = PKI_MAKE_CSR;
		allowed = PKI_ATTR_SUBJECT | PKI_ATTR_SAN | PKI_ATTR_KEY;
		break;
	case CMD_PKI_SELFSIGNED:
		job->mode = PKI_MAKE_SELFSIGNED;
		allowed = PKI_ATTR_SUBJECT | PKI_ATTR_SAN | PKI_ATTR_KEY |
		    PKI_ATTR_DAYS;
		ext = ".crt";
		break;
	default:
		job->mode = PKI_MAKE_CA;
		allowed = PKI_ATTR_SUBJECT | PKI_ATTR_KEY | PKI_ATTR_DAYS;
		ext = ".crt";
		break;
	}
	if (cmd_pki_split_value(ctx, ctx->m.nargs - 1, ctx->m.args + 1) ==
	    -1) {
		cmd_pki_job_free(job);
		return (MMP_RES_FAILED);
	}
	if (pki_attrs_parse(ctx->m.nargs - 1, ctx->m.args + 1, allowed,
	    &job->attrs, &job->cause) == -1) {
		cmdctx_err(ctx, "%s: %s", cmdtab_name(ctx->m.id),
		    job->cause);
		cmd_pki_job_free(job);
		return (MMP_RES_FAILED);
	}
	xasprintf(&job->keyname, "%s.key", ctx->m.args[0]);
	xasprintf(&job->outname, "%s%s", ctx->m.args[0], ext);
	if (cmd_pki_create(ctx, job->keyname, 0600, &job->keyfd,
	    &job->keypath) == -1) {
		cmd_pki_job_free(job);
		return (MMP_RES_FAILED);
	}
	if (cmd_pki_create(ctx, job->outname, 0644, &job->outfd,
	    &job->outpath) == -1) {
		unlink(job->keypath);
		cmd_pki_job_free(job);
		return (MMP_RES_FAILED);
	}
	job->ctx = ctx;
	ctx->job = job;
	ctx->cancel = cmd_pki_cancel;
	if (worker_start(cmd_pki_work, cmd_pki_done, job) == -1) {
		ctx->cancel = NULL;
		unlink(job->keypath);
		unlink(job->outpath);
		cmdctx_err(ctx, "%s: cannot start a worker thread",
		    cmdtab_name(ctx->m.id));
		cmd_pki_job_free(job);
		return (MMP_RES_FAILED);
	}
	cmdctx_part(ctx, "Generating ");
	cmdctx_part(ctx, pki_keytype_name(job->attrs.key));
	cmdctx_part(ctx, " key ");
	job->dots = evtimer_new(mmpd->base, cmd_pki_dot, job);
	cmd_pki_dot(-1, 0, job);
	return (CMD_PENDING);
}

/* Send a line from the pki library to the shell. */
static void
cmd_pki_line(void *arg, const char *line)
{
	cmdctx_out(arg, "%s", line);
}

/* pki list: every file in the store with what it is. */
int
cmd_pki_list(struct cmdctx *ctx)
{
	struct dirent	**names = NULL;
	struct stat	 st;
	char		*path, *what;
	int		 i, n, width = 0;

	if ((n = scandir(mmpd->filesdir, &names, NULL, alphasort)) == -1) {
		cmdctx_err(ctx, "pki list: cannot read the file store: %s",
		    strerror(errno));
		return (MMP_RES_FAILED);
	}
	for (i = 0; i < n; i++)
		if (names[i]->d_name[0] != '.' &&
		    (int)strlen(names[i]->d_name) > width)
			width = strlen(names[i]->d_name);
	cmdctx_out(ctx, "User supplied certificates and keys:");
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] == '.')
			goto next;
		path = cmd_pki_path(names[i]->d_name);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			what = pki_describe(path);
			cmdctx_out(ctx, "%-*s  %s", width, names[i]->d_name,
			    what);
			free(what);
		}
		free(path);
next:
		free(names[i]);
	}
	free(names);
	return (MMP_RES_OK);
}

/*
 * pki names [<prefix>] (hidden; the shell's TAB completion): the regular
 * files of the store whose names start with prefix, one a line, sorted,
 * at most PKI_NAMES_MAX of them.
 */
int
cmd_pki_names(struct cmdctx *ctx)
{
	struct dirent	**names = NULL;
	struct stat	 st;
	const char	*prefix = ctx->m.nargs > 0 ? ctx->m.args[0] : "";
	char		*path;
	size_t		 pl = strlen(prefix);
	int		 i, n, sent = 0;

	if ((n = scandir(mmpd->filesdir, &names, NULL, alphasort)) == -1) {
		cmdctx_err(ctx, "pki names: cannot read the file store: %s",
		    strerror(errno));
		return (MMP_RES_FAILED);
	}
	for (i = 0; i < n; i++) {
		if (sent < PKI_NAMES_MAX && names[i]->d_name[0] != '.' &&
		    strncmp(names[i]->d_name, prefix, pl) == 0) {
			path = cmd_pki_path(names[i]->d_name);
			if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				cmdctx_out(ctx, "%s", names[i]->d_name);
				sent++;
			}
			free(path);
		}
		free(names[i]);
	}
	free(names);
	return (MMP_RES_OK);
}

/* pki inspect <file>. */
int
cmd_pki_inspect(struct cmdctx *ctx)
{
	char	*path, *cause;
	int	 rc = MMP_RES_OK;

	if (cmd_pki_need(ctx, ctx->m.args[0], &path) == -1)
		return (MMP_RES_FAILED);
	if (pki_inspect(path, cmd_pki_line, ctx, &cause) == -1) {
		cmdctx_err(ctx, "pki inspect: %s", cause);
		free(cause);
		rc = MMP_RES_FAILED;
	}
	free(path);
	return (rc);
}

/* pki match <key> <crt>: exit 1 when they do not belong together. */
int
cmd_pki_match(struct cmdctx *ctx)
{
	char	*key = NULL, *crt = NULL, *cause = NULL;
	int	 rc = MMP_RES_FAILED;

	if (cmd_pki_need(ctx, ctx->m.args[0], &key) == -1 ||
	    cmd_pki_need(ctx, ctx->m.args[1], &crt) == -1)
		goto out;
	if (pki_key_matches(key, crt, &cause) == 1) {
		cmdctx_out(ctx, "SUCCESS: %s and %s match", ctx->m.args[0],
		    ctx->m.args[1]);
		rc = MMP_RES_OK;
	} else
		cmdctx_err(ctx, "FAILURE: %s", cause);
out:
	free(cause);
	free(key);
	free(crt);
	return (rc);
}

/* pki verify <crt> <bundle> [<ca>]. */
int
cmd_pki_verify(struct cmdctx *ctx)
{
	char	*crt = NULL, *bundle = NULL, *ca = NULL, *cause = NULL;
	int	 rc = MMP_RES_FAILED;

	if (cmd_pki_need(ctx, ctx->m.args[0], &crt) == -1 ||
	    cmd_pki_need(ctx, ctx->m.args[1], &bundle) == -1 ||
	    (ctx->m.nargs > 2 && cmd_pki_need(ctx, ctx->m.args[2], &ca) ==
	    -1))
		goto out;
	if (pki_verify_chain(crt, bundle, ca, &cause) == 0) {
		cmdctx_out(ctx, "SUCCESS: %s verifies against %s%s%s",
		    ctx->m.args[0], ctx->m.args[1], ca ? " and " : "",
		    ca ? ctx->m.args[2] : "");
		rc = MMP_RES_OK;
	} else
		cmdctx_err(ctx, "FAILURE: %s", cause);
out:
	free(cause);
	free(crt);
	free(bundle);
	free(ca);
	return (rc);
}

/* The passphrase for pki unlock. */
static void
cmd_pki_unlock_answer(struct cmdctx *ctx, const char *pass)
{
	char	*path, *cause;

	path = cmd_pki_path(ctx->m.args[0]);
	if (pki_unlock(path, pass, &cause) == -1) {
		cmdctx_err(ctx, "pki unlock: %s", cause);
		free(cause);
		free(path);
		cmdctx_done(ctx, MMP_RES_FAILED);
		return;
	}
	free(path);
	cmdctx_out(ctx, "Passphrase removed from %s", ctx->m.args[0]);
	cmdctx_done(ctx, MMP_RES_OK);
}

/* pki unlock <key>: asks for the passphrase. */
int
cmd_pki_unlock(struct cmdctx *ctx)
{
	char	*path;
	int	 enc;

	if (cmd_pki_need(ctx, ctx->m.args[0], &path) == -1)
		return (MMP_RES_FAILED);
	enc = pki_is_encrypted_key(path);
	free(path);
	if (!enc) {
		cmdctx_err(ctx, "pki unlock: %s is not an encrypted key",
		    ctx->m.args[0]);
		return (MMP_RES_FAILED);
	}
	return (cmdctx_prompt(ctx, "Enter passphrase: ", 0,
	    cmd_pki_unlock_answer));
}

/* The passphrase for pki pkcs12-to-pem. */
static void
cmd_pki_p12_answer(struct cmdctx *ctx, const char *pass)
{
	char	*stem, *key, *crt, *chain, *p12, *kp, *cp, *chp, *cause = NULL;
	int	 haschain = 0, res = MMP_RES_FAILED;

	stem = ctx->m.nargs > 1 ? xstrdup(ctx->m.args[1]) :
	    cmd_pki_stem(ctx->m.args[0], ".p12", "");
	xasprintf(&key, "%s.key", stem);
	xasprintf(&crt, "%s.crt", stem);
	xasprintf(&chain, "%s-chain.crt", stem);
	p12 = cmd_pki_path(ctx->m.args[0]);
	kp = cmd_pki_path(key);
	cp = cmd_pki_path(crt);
	chp = cmd_pki_path(chain);
	if (pki_p12_to_pem(p12, pass, kp, cp, chp, &haschain, &cause) == -1)
		cmdctx_err(ctx, "pki pkcs12-to-pem: %s", cause);
	else {
		cmdctx_out(ctx, "Created key file %s and certificate %s%s%s",
		    key, crt, haschain ? " and chain " : "",
		    haschain ? chain : "");
		res = MMP_RES_OK;
	}
	free(cause);
	free(stem);
	free(key);
	free(crt);
	free(chain);
	free(p12);
	free(kp);
	free(cp);
	free(chp);
	cmdctx_done(ctx, res);
}

/* pki pkcs12-to-pem <p12> [<basename>]: asks for the passphrase. */
int
cmd_pki_p12(struct cmdctx *ctx)
{
	char	*path, *stem, *name;
	int	 i, bad = 0;

	if (cmd_pki_need(ctx, ctx->m.args[0], &path) == -1)
		return (MMP_RES_FAILED);
	free(path);
	stem = ctx->m.nargs > 1 ? xstrdup(ctx->m.args[1]) :
	    cmd_pki_stem(ctx->m.args[0], ".p12", "");
	/* Refuse before the admin types a passphrase for nothing. */
	for (i = 0; i < 3 && !bad; i++) {
		xasprintf(&name, "%s%s", stem, i == 0 ? ".key" : i == 1 ?
		    ".crt" : "-chain.crt");
		bad = cmd_pki_absent(ctx, name) == -1;
		free(name);
	}
	free(stem);
	if (bad)
		return (MMP_RES_FAILED);
	return (cmdctx_prompt(ctx, "Enter passphrase: ", 0,
	    cmd_pki_p12_answer));
}

/* pki bundle <out> [trust] <crt>... */
int
cmd_pki_bundle(struct cmdctx *ctx)
{
	const char	**in;
	char		*out, *cause;
	int		 i, first, trust, n, rc = MMP_RES_FAILED;

	trust = ctx->m.id == CMD_PKI_BUNDLE_TRUST;
	first = 1;
	n = ctx->m.nargs - first;
	in = xcalloc(n, sizeof(*in));
	for (i = 0; i < n; i++) {
		if (cmd_pki_need(ctx, ctx->m.args[first + i],
		    (char **)(uintptr_t)&in[i]) == -1)
			goto out;
	}
	if (cmd_pki_absent(ctx, ctx->m.args[0]) == -1)
		goto out;
	out = cmd_pki_path(ctx->m.args[0]);
	if (pki_bundle(out, in, n, trust, &cause) == -1) {
		cmdctx_err(ctx, "pki bundle: %s", cause);
		free(cause);
	} else {
		cmdctx_out(ctx, "Created %s bundle %s from %d file%s",
		    trust ? "trust" : "CA", ctx->m.args[0], n, n == 1 ? "" :
		    "s");
		rc = MMP_RES_OK;
	}
	free(out);
out:
	for (i = 0; i < n; i++)
		free((char *)(uintptr_t)in[i]);
	free(in);
	return (rc);
}

/*
 * Whether the lab CA name (name.key and name.crt) is in the store; if
 * not, say how to make it and return -1.
 */
static int
cmd_pki_ca_exists(struct cmdctx *ctx, const char *name)
{
	struct stat	 st;
	char		*path;
	int		 haskey, hascrt;

	xasprintf(&path, "%s/%s.key", mmpd->filesdir, name);
	haskey = stat(path, &st) == 0 && S_ISREG(st.st_mode);
	free(path);
	xasprintf(&path, "%s/%s.crt", mmpd->filesdir, name);
	hascrt = stat(path, &st) == 0 && S_ISREG(st.st_mode);
	free(path);
	if (haskey && hascrt)
		return (0);
	if (!haskey && !hascrt)
		cmdctx_err(ctx, "pki ca sign: there is no CA named %s (no "
		    "%s.key and %s.crt in the file store); make one with pki "
		    "ca init %s CN:<name>", name, name, name, name);
	else
		cmdctx_err(ctx, "pki ca sign: CA %s is incomplete: %s.%s is "
		    "missing from the file store; upload it, or make a new "
		    "CA with pki ca init <name> CN:<name>", name, name,
		    haskey ? "crt" : "key");
	return (-1);
}

/* pki ca sign <name> <csr> [days:<n>]: writes <csr stem>.crt. */
int
cmd_pki_ca_sign(struct cmdctx *ctx)
{
	struct pki_attrs a;
	char	*cakey = NULL, *cacrt = NULL, *csr = NULL, *name = NULL;
	char	*outpath = NULL, *cause = NULL;
	int	 fd = -1, rc = MMP_RES_FAILED;

	memset(&a, 0, sizeof(a));
	if (pki_attrs_parse(ctx->m.nargs - 2, ctx->m.args + 2, PKI_ATTR_DAYS,
	    &a, &cause) == -1) {
		cmdctx_err(ctx, "pki ca sign: %s", cause);
		goto out;
	}
	if (ctx->m.nargs == 2)
		a.days = 365;
	if (cmd_pki_ca_exists(ctx, ctx->m.args[0]) == -1)
		goto out;
	xasprintf(&name, "%s.key", ctx->m.args[0]);
	if (cmd_pki_need(ctx, name, &cakey) == -1)
		goto out;
	free(name);
	xasprintf(&name, "%s.crt", ctx->m.args[0]);
	if (cmd_pki_need(ctx, name, &cacrt) == -1 ||
	    cmd_pki_need(ctx, ctx->m.args[1], &csr) == -1)
		goto out;
	free(name);
	name = cmd_pki_stem(ctx->m.args[1], ".csr", ".crt");
	if (cmd_pki_create(ctx, name, 0644, &fd, &outpath) == -1)
		goto out;
	if (pki_ca_sign(cakey, cacrt, csr, a.days, fd, &cause) == -1) {
		unlink(outpath);
		cmdctx_err(ctx, "pki ca sign: %s", cause);
		goto out;
	}
	cmdctx_out(ctx, "Signed %s with CA %s: certificate %s, valid %d days",
	    ctx->m.args[1], ctx->m.args[0], name, a.days);
	rc = MMP_RES_OK;
out:
	if (fd != -1)
		close(fd);
	pki_attrs_clear(&a);
	free(cause);
	free(cakey);
	free(cacrt);
	free(csr);
	free(name);
	free(outpath);
	return (rc);
}
