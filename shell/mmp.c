/*
 * mmp: the admin shell. One command from the command line, a batch from
 * a pipe, or an interactive session on a terminal.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdtab.h"
#include "mmp.h"
#include "util.h"
#include "xmalloc.h"

static const char *sockpath;
static int	 jflag;			/* -j: answers as JSON */
static int	 mmp_prompts;		/* prompts the last command made */
static int	 batch_lineno;		/* stdin lines read in batch mode */

static __dead void usage(void);
static int	 mmp_command(int, char **, const char *);
static int	 mmp_edit_run(int, char **, int *);
static void	 mmp_hostname(char *, size_t);
static char	**mmp_store_names(const char *, size_t *);
static int	 mmp_batch(void);
static int	 mmp_ssh(int);
static int	 mmp_json(const struct cmd_match *, int, char **,
		    const char *);
static void	 mmp_help_line(void *, const char *);
static void	 mmp_batch_err(void *, const char *);
static void	 mmp_capture(void *, const char *);
static void	 mmp_ignore(void *, const char *);
static char	*mmp_input(void *, const char *, int);
static void	 mmp_collect(void *, const char *);

/* Names gathered from pki names for completion. */
struct mmp_names {
	char	**list;
	size_t	  n;
};

static const struct client_io stdio_io = {
	client_print_out, client_print_err, mmp_input, client_print_part,
	NULL
};

/* What the interactive line editor calls up to. */
static const struct edit_ops edit_ops = {
	mmp_edit_run, mmp_hostname, mmp_store_names
};

static __dead void
usage(void)
{
	fprintf(stderr, "usage: mmp [-j] [-s socket] [command words ...]\n"
	    "       mmp -S [-R] [-s socket]\n");
	exit(EXIT_PARSE);
}

/* Print one help line. */
static void
mmp_help_line(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

/* Keep the first line of output. */
static void
mmp_capture(void *arg, const char *line)
{
	char	**dst = arg;

	if (*dst == NULL)
		*dst = xstrdup(line);
}

/* Drop a line. */
static void
mmp_ignore(void *arg, const char *line)
{
	(void)arg;
	(void)line;
}

/*
 * Answer a daemon prompt, counting the prompts of this command and, in
 * batch mode, the line the answer was read from.
 */
static char *
mmp_input(void *arg, const char *prompt, int echo)
{
	char	*line;

	mmp_prompts++;
	line = client_input(arg, prompt, echo);
	if (line != NULL && !isatty(STDIN_FILENO))
		batch_lineno++;
	return (line);
}

/*
 * Run one command given as words. Local commands (help) are answered
 * here; everything else is checked against the table, then sent to the
 * daemon. where is "line N: " in batch mode, else "". Returns the exit
 * status; exit and quit return -1.
 */
static int
mmp_command(int argc, char **argv, const char *where)
{
	struct cmd_match	 m;
	struct client_io	 io = stdio_io;
	char			*cause;
	int			 rc;

	if (cmdtab_match(argc, argv, &m, &cause) != CMDTAB_OK) {
		if (jflag)
			json_error(stdout, where, cause);
		else
			fprintf(stderr, "mmp: %s%s\n", where, cause);
		free(cause);
		return (EXIT_PARSE);
	}
	if (jflag && (m.flags & CF_FOLLOW)) {
		/* One document per command: a stream never ends one. */
		json_error(stdout, where, "this command streams until "
		    "interrupted and has no JSON form; without -j it prints "
		    "one line per log line");
		return (EXIT_FAILED);
	}
	if (jflag && m.id != CMD_EXIT && m.id != CMD_QUIT)
		return (mmp_json(&m, argc, argv, where));
	switch (m.id) {
	case CMD_HELP:
		if (cmdtab_help(m.nargs, (char **)(uintptr_t)m.args,
		    mmp_help_line, NULL, &cause) == -1) {
			fprintf(stderr, "mmp: %shelp: %s\n", where, cause);
			free(cause);
			return (EXIT_PARSE);
		}
		fflush(stdout);
		return (EXIT_OK);
	case CMD_EXIT:
	case CMD_QUIT:
		return (-1);
	case CMD_VERSION:
		/* Ours first: it shows even when mmpd cannot be reached. */
		printf("%-17s: %s\n", "Shell version", MMP_VERSION);
		fflush(stdout);
		break;
	default:
		break;
	}
	mmp_prompts = 0;
	if (*where != '\0') {
		io.err = mmp_batch_err;
		io.arg = (void *)(uintptr_t)where;
	}
	rc = client_run(sockpath, argc, argv, &io);
	return (rc);
}

/* A command typed at the prompt, and how many prompts it answered. */
static int
mmp_edit_run(int argc, char **argv, int *prompts)
{
	int	 rc;

	rc = mmp_command(argc, argv, "");
	*prompts = mmp_prompts;
	return (rc);
}

/*
 * mmp -j: run one matched command and print its answer, or its error, as
 * one JSON document on stdout; the exit status is the same as without -j.
 */
static int
mmp_json(const struct cmd_match *m, int argc, char **argv, const char *where)
{
	struct client_io	 io = { json_out, json_err, mmp_input,
				    json_part, NULL };
	struct json_doc		*doc;
	char			*cause, *msg;
	int			 rc;

	doc = json_new(m, where);
	if (m->id == CMD_VERSION) {
		xasprintf(&msg, "%-17s: %s", "Shell version", MMP_VERSION);
		json_out(doc, msg);
		free(msg);
	}
	if (m->id == CMD_HELP) {
		rc = EXIT_OK;
		if (cmdtab_help(m->nargs, (char **)(uintptr_t)m->args,
		    json_out, doc, &cause) == -1) {
			xasprintf(&msg, "help: %s", cause);
			json_err(doc, msg);
			free(msg);
			free(cause);
			rc = EXIT_PARSE;
		}
		json_finish(doc, rc, stdout);
		return (rc);
	}
	io.arg = doc;
	mmp_prompts = 0;
	rc = client_run(sockpath, argc, argv, &io);
	json_finish(doc, rc, stdout);
	return (rc);
}

/* In batch mode every error line says which input line it came from. */
static void
mmp_batch_err(void *arg, const char *line)
{
	const char	*where = arg;

	fflush(stdout);
	if (strncmp(line, "mmp: ", 5) == 0)
		line += 5;
	fprintf(stderr, "mmp: %s%s\n", where, line);
}

/*
 * The host name for the prompt: what the daemon has (set with the
 * hostname command), else this machine's.
 */
static void
mmp_hostname(char *buf, size_t len)
{
	struct client_io	 io = { mmp_capture, mmp_ignore, client_input,
				    NULL, NULL };
	char			*name = NULL, *argv[] = { "hostname", NULL };

	io.arg = &name;
	if (client_run(sockpath, 1, argv, &io) == EXIT_OK && name != NULL)
		strlcpy(buf, name, len);
	else if (gethostname(buf, len) == -1)
		strlcpy(buf, "mmp", len);
	buf[len - 1] = '\0';
	free(name);
}

/* Keep a line of pki names, up to MMP_NAMES_MAX of them. */
static void
mmp_collect(void *arg, const char *line)
{
	struct mmp_names	*nm = arg;

	if (nm->n >= MMP_NAMES_MAX || *line == '\0')
		return;
	nm->list = xreallocarray(nm->list, nm->n + 1, sizeof(*nm->list));
	nm->list[nm->n++] = xstrdup(line);
}

/*
 * The names in the daemon's file store that start with prefix, for TAB
 * completion: an allocated list of *n names (free with
 * cmdtab_free_list), or NULL when there are none or mmpd cannot say.
 */
static char **
mmp_store_names(const char *prefix, size_t *n)
{
	struct mmp_names	 nm = { NULL, 0 };
	struct client_io	 io = { mmp_collect, mmp_ignore, client_input,
				    NULL, NULL };
	char			*argv[] = { "pki", "names", NULL, NULL };
	int			 argc = 2;

	if (*prefix != '\0')
		argv[argc++] = (char *)(uintptr_t)prefix;
	io.arg = &nm;
	if (client_run(sockpath, argc, argv, &io) != EXIT_OK) {
		cmdtab_free_list(nm.list, nm.n);
		*n = 0;
		return (NULL);
	}
	*n = nm.n;
	return (nm.list);
}

/*
 * Batch mode: one command a line, blank lines and # comments skipped,
 * stop at the first failure and name its line.
 */
static int
mmp_batch(void)
{
	char	*line = NULL, *cause, **argv, where[32];
	size_t	 cap = 0;
	int	 argc, lineno, rc = EXIT_OK;
	ssize_t	 n;

	/* Answers to prompts are lines too: mmp_input counts them. */
	while ((n = getline(&line, &cap, stdin)) != -1) {
		lineno = ++batch_lineno;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		snprintf(where, sizeof(where), "line %d: ", lineno);
		if (util_split(line, &argv, &argc, &cause) == -1) {
			if (jflag)
				json_error(stdout, where, cause);
			else
				fprintf(stderr, "mmp: %s%s\n", where, cause);
			free(cause);
			rc = EXIT_PARSE;
			break;
		}
		if (argc == 0 || argv[0][0] == '#') {
			util_free_argv(argv, argc);
			continue;
		}
		rc = mmp_command(argc, argv, where);
		util_free_argv(argv, argc);
		if (rc == -1) {
			rc = EXIT_OK;
			break;
		}
		if (rc != EXIT_OK) {
			/* With -j the error's "line" says where it stopped. */
			if (!jflag)
				fprintf(stderr, "mmp: stopped at line %d\n",
				    lineno);
			break;
		}
	}
	free(line);
	return (rc);
}

/*
 * An SSH session (sshd's ForceCommand, inside the SSH root it chroots
 * mmp accounts into): no command starts the shell, the SFTP subsystem
 * gets OpenSSH's sftp-server in the file store (read-only with -R), and
 * anything else is one mmp command. sshd hands the client's command over
 * in SSH_ORIGINAL_COMMAND; it is split like a line typed at the prompt,
 * never given to a shell.
 */
static int
mmp_ssh(int readonly)
{
	const char	*cmd, *base;
	char		*cause, **argv;
	int		 argc, rc, skip = 0;

	cmd = getenv("SSH_ORIGINAL_COMMAND");
	if (cmd == NULL || cmd[strspn(cmd, " \t")] == '\0') {
		if (isatty(STDIN_FILENO))
			return (edit_loop(&edit_ops));
		return (mmp_batch());
	}
	base = strrchr(cmd, '/') != NULL ? strrchr(cmd, '/') + 1 : cmd;
	if (strcmp(cmd, "internal-sftp") == 0 ||
	    strncmp(base, "sftp-server", 11) == 0) {
		if (chdir(MMP_SSH_STORE) == -1) {
			fprintf(stderr, "mmp: %s: %s\n", MMP_SSH_STORE,
			    strerror(errno));
			return (EXIT_FAILED);
		}
		if (readonly)
			execl(MMP_SFTP_SERVER, "sftp-server", "-d",
			    MMP_SSH_STORE, "-u", MMP_SFTP_UMASK, "-R",
			    (char *)NULL);
		else
			execl(MMP_SFTP_SERVER, "sftp-server", "-d",
			    MMP_SSH_STORE, "-u", MMP_SFTP_UMASK, (char *)NULL);
		fprintf(stderr, "mmp: %s: %s\n", MMP_SFTP_SERVER,
		    strerror(errno));
		return (EXIT_FAILED);
	}
	if (util_split(cmd, &argv, &argc, &cause) == -1) {
		fprintf(stderr, "mmp: %s\n", cause);
		free(cause);
		return (EXIT_PARSE);
	}
	/* ssh <node> -j <command>: the answer as JSON, as with mmp -j. */
	if (argc > 0 && strcmp(argv[0], "-j") == 0) {
		jflag = 1;
		client_prompt_stream(stderr);
		skip = 1;
	}
	if (argc == skip) {
		util_free_argv(argv, argc);
		if (skip == 0)
			return (EXIT_OK);
		if (isatty(STDIN_FILENO))
			return (edit_loop(&edit_ops));
		return (mmp_batch());
	}
	rc = mmp_command(argc - skip, argv + skip, "");
	util_free_argv(argv, argc);
	return (rc == -1 ? EXIT_OK : rc);
}

int
main(int argc, char *argv[])
{
	int	 ch, rc, ssh = 0, readonly = 0;

	if ((sockpath = getenv("MMP_SOCKET")) == NULL || *sockpath == '\0')
		sockpath = MMP_SOCKET;
	while ((ch = getopt(argc, argv, "+jRSs:")) != -1) {
		switch (ch) {
		case 'j':
			jflag = 1;
			/* Prompts for secrets go to stderr, not stdout. */
			client_prompt_stream(stderr);
			break;
		case 'R':
			readonly = 1;
			break;
		case 'S':
			ssh = 1;
			break;
		case 's':
			sockpath = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;

	if (ssh) {
		if (argc > 0)
			usage();
		return (mmp_ssh(readonly));
	}
	if (argc > 0) {
		rc = mmp_command(argc, argv, "");
		return (rc == -1 ? EXIT_OK : rc);
	}
	if (isatty(STDIN_FILENO))
		return (edit_loop(&edit_ops));
	return (mmp_batch());
}
