/*
 * The interactive front end on libedit: prompt, history, TAB completion
 * and `?` help, all from the command table. Thin on purpose: the work is
 * done by cmdtab and by the edit_ops that mmp.c hands to edit_loop (run
 * a command, the host name, the store's names); nothing here calls up.
 */
#include <sys/ioctl.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

#include <histedit.h>

#include "cmdtab.h"
#include "mmp.h"
#include "util.h"
#include "xmalloc.h"

#define HISTORY_SIZE	1000

static char	 prompt[HOST_NAME_MAX + 8];
static const struct edit_ops *ops;	/* from edit_loop, while it runs */

static char	*edit_prompt(EditLine *);
static int	 edit_words(EditLine *, char ***, int *, char **);
static unsigned char edit_complete(EditLine *, int);
static unsigned char edit_help(EditLine *, int);
static void	 edit_help_line(void *, const char *);
static void	 edit_set_prompt(void);
static void	 edit_sigint(int);
static int	 edit_getc(EditLine *, wchar_t *);
static int	 edit_echo_off(struct termios *);
static void	 edit_discard(void);

/* The prompt: "<hostname>> ". */
static char *
edit_prompt(EditLine *el)
{
	(void)el;
	return (prompt);
}

/* Ask the daemon for the host name and build the prompt from it. */
static void
edit_set_prompt(void)
{
	char	 name[HOST_NAME_MAX + 1];

	ops->hostname(name, sizeof(name));
	snprintf(prompt, sizeof(prompt), "%s> ", name);
}

/*
 * The words before the cursor. *partial is the word the cursor is in
 * (allocated, "" after a blank); the complete words are in argv.
 */
static int
edit_words(EditLine *el, char ***argv, int *argc, char **partial)
{
	const LineInfo	*li = el_line(el);
	char		*text, *cause;
	size_t		 len = li->cursor - li->buffer;

	text = xstrndup(li->buffer, len);
	if (util_split(text, argv, argc, &cause) == -1) {
		free(cause);
		free(text);
		return (-1);
	}
	if (len > 0 && text[len - 1] != ' ' && text[len - 1] != '\t' &&
	    *argc > 0) {
		*partial = (*argv)[--(*argc)];
		(*argv)[*argc] = NULL;
	} else
		*partial = xstrdup("");
	free(text);
	return (0);
}

/*
 * TAB: complete the word under the cursor, or list what fits: command
 * words from the table, file-store names where a file goes.
 */
static unsigned char
edit_complete(EditLine *el, int ch)
{
	char		**argv, *partial, **list, *add, **names;
	size_t		 n, nn, i, common, pl;
	int		 argc, rc = CC_ERROR;

	(void)ch;
	if (edit_words(el, &argv, &argc, &partial) == -1)
		return (CC_ERROR);
	list = cmdtab_complete(argc, argv, partial, &n);
	/* Where a file goes, the daemon knows the names of the store. */
	if (cmdtab_wants(argc, argv, "file") &&
	    (names = ops->names(partial, &nn)) != NULL) {
		list = xreallocarray(list, n + nn, sizeof(*list));
		memcpy(list + n, names, nn * sizeof(*names));
		n += nn;
		free(names);
	}
	pl = strlen(partial);
	if (n == 1) {
		xasprintf(&add, "%s ", list[0] + pl);
		el_insertstr(el, add);
		free(add);
		rc = CC_REFRESH;
	} else if (n > 1) {
		/* Extend to the longest common prefix, else list them. */
		common = strlen(list[0]);
		for (i = 1; i < n; i++) {
			size_t	 j = 0;

			while (j < common && list[i][j] == list[0][j])
				j++;
			common = j;
		}
		if (common > pl) {
			add = xstrndup(list[0] + pl, common - pl);
			el_insertstr(el, add);
			free(add);
			rc = CC_REFRESH;
		} else {
			fputc('\n', stdout);
			for (i = 0; i < n; i++)
				printf("%s%s", i ? "  " : "", list[i]);
			fputc('\n', stdout);
			fflush(stdout);
			rc = CC_REDISPLAY;
		}
	}
	cmdtab_free_list(list, n);
	util_free_argv(argv, argc);
	free(partial);
	return (rc);
}

/* Print one help line under the edit line. */
static void
edit_help_line(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

/* ?: the commands that may follow what was typed, with their help. */
static unsigned char
edit_help(EditLine *el, int ch)
{
	char	**argv, *partial, *cause, **list;
	size_t	 n, i;
	int	 argc;

	(void)ch;
	if (edit_words(el, &argv, &argc, &partial) == -1)
		return (CC_ERROR);
	fputc('\n', stdout);
	if (*partial == '\0') {
		if (cmdtab_help(argc, argv, edit_help_line, NULL, &cause) ==
		    -1) {
			printf("%s\n", cause);
			free(cause);
		}
	} else {
		/* Help for each word the partial one could become. */
		list = cmdtab_complete(argc, argv, partial, &n);
		argv = xreallocarray(argv, argc + 2, sizeof(*argv));
		for (i = 0; i < n; i++) {
			argv[argc] = list[i];
			cmdtab_help(argc + 1, argv, edit_help_line, NULL,
			    &cause);
			free(cause);
		}
		if (n == 0)
			printf("no command continues with '%s'\n", partial);
		argv[argc] = NULL;
		cmdtab_free_list(list, n);
	}
	fflush(stdout);
	util_free_argv(argv, argc);
	free(partial);
	return (CC_REDISPLAY);
}

/* SIGINT (Ctrl-C at a secret prompt): note it; the prompt gives up. */
static void
edit_sigint(int sig)
{
	(void)sig;
	client_cancel(1);
}

/*
 * libedit reads the terminal through this: one character, or -1 to give
 * up the line on Ctrl-C (a byte here, as the edit mode has no isig) so
 * that edit_loop prompts again, whatever libedit binds to the key.
 */
static int
edit_getc(EditLine *el, wchar_t *wc)
{
	static mbstate_t	 mbs;
	ssize_t			 n;
	size_t			 r;
	char			 c;

	(void)el;
	for (;;) {
		if (client_cancelled())
			return (-1);
		n = read(STDIN_FILENO, &c, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*wc = L'\0';
			return (n == 0 ? 0 : -1);
		}
		if (c == 0x03) {
			memset(&mbs, 0, sizeof(mbs));
			client_cancel(1);
			return (-1);
		}
		r = mbrtowc(wc, &c, 1, &mbs);
		if (r == (size_t)-2)
			continue;	/* more bytes of one character */
		if (r == (size_t)-1) {
			memset(&mbs, 0, sizeof(mbs));
			*wc = (unsigned char)c;
		}
		return (1);
	}
}

/*
 * Turn the terminal's echo off, keeping the old settings in *old, for a
 * command that may ask for a secret: what is typed before its prompt
 * shows is not echoed either. Returns 1 if echo was turned off.
 */
static int
edit_echo_off(struct termios *old)
{
	struct termios	 quiet;

	if (tcgetattr(STDIN_FILENO, old) == -1)
		return (0);
	quiet = *old;
	quiet.c_lflag &= ~(ECHO | ECHONL);
	return (tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0);
}

/*
 * A command that may ask for a secret refused before asking: what was
 * typed meanwhile is most likely the secret. Throw it away unread.
 */
static void
edit_discard(void)
{
	int	 pending = 0;

	if (ioctl(STDIN_FILENO, FIONREAD, &pending) == -1)
		pending = 0;
	tcflush(STDIN_FILENO, TCIFLUSH);
	if (pending > 0)
		fprintf(stderr, "mmp: discarded what was typed after that "
		    "command unread (it may have been the secret)\n");
}

/*
 * The interactive loop, running commands through eops (borrowed while it
 * runs); returns the exit status of the shell.
 */
int
edit_loop(const struct edit_ops *eops)
{
	EditLine	*el;
	History		*hist;
	HistEvent	 ev;
	struct sigaction sa;
	struct termios	 saved;
	const char	*line, *home;
	char		*histfile = NULL, **argv, *cause;
	struct cmd_match m;
	int		 count, argc, rc, sethost, parsed, quiet;
	int		 secret, prompts, refused = 0;

	ops = eops;

	/* Ctrl-C cancels the line or the secret prompt, not the shell. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = edit_sigint;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: the read must stop */
	sigaction(SIGINT, &sa, NULL);

	edit_set_prompt();
	hist = history_init();
	history(hist, &ev, H_SETSIZE, HISTORY_SIZE);
	history(hist, &ev, H_SETUNIQUE, 1);
	if ((home = getenv("HOME")) != NULL && *home != '\0') {
		xasprintf(&histfile, "%s/.mmp_history", home);
		history(hist, &ev, H_LOAD, histfile);
	}

	el = el_init("mmp", stdin, stdout, stderr);
	el_set(el, EL_EDITOR, "emacs");
	/*
	 * While a line is edited Ctrl-C is a byte, not a signal (one that
	 * lands between two reads would leave libedit reading on), and
	 * edit_getc sees it before any key binding does.
	 */
	el_set(el, EL_SETTY, "-d", "-isig", NULL);
	el_set(el, EL_GETCFN, edit_getc);
	el_set(el, EL_PROMPT, edit_prompt);
	el_set(el, EL_HIST, history, hist);
	el_set(el, EL_ADDFN, "mmp-complete", "complete a command word",
	    edit_complete);
	el_set(el, EL_BIND, "^I", "mmp-complete", NULL);
	el_set(el, EL_ADDFN, "mmp-help", "list what may come next",
	    edit_help);
	el_set(el, EL_BIND, "?", "mmp-help", NULL);

	for (;;) {
		client_cancel(0);
		line = el_gets(el, &count);
		if (client_cancelled()) {
			/* Ctrl-C: drop the line and prompt again. */
			fputc('\n', stdout);
			fflush(stdout);
			el_reset(el);
			continue;
		}
		if (line == NULL || count <= 0)
			break;
		if (util_split(line, &argv, &argc, &cause) == -1) {
			fprintf(stderr, "mmp: %s\n", cause);
			free(cause);
			continue;
		}
		if (argc == 0 || argv[0][0] == '#') {
			util_free_argv(argv, argc);
			continue;
		}
		parsed = cmdtab_match(argc, argv, &m, &cause) == CMDTAB_OK;
		if (!parsed)
			free(cause);
		sethost = parsed && m.id == CMD_HOSTNAME_SET;
		secret = parsed && (m.flags & CF_SECRET);
		/* At once: what is typed from now on may be the secret. */
		quiet = secret && edit_echo_off(&saved);
		/*
		 * The line after a secret command that refused may be the
		 * secret itself: it never goes into the history, and if it
		 * is no command it is not repeated in an error.
		 */
		if (refused && !parsed) {
			fprintf(stderr, "mmp: not a command (not shown and not "
			    "kept in the history: it may have been a secret)\n");
			util_free_argv(argv, argc);
			refused = 0;
			continue;
		}
		if (!refused) {
			history(hist, &ev, H_ENTER, line);
			if (histfile != NULL)
				history(hist, &ev, H_SAVE, histfile);
		}
		refused = 0;
		rc = ops->run(argc, argv, &prompts);
		util_free_argv(argv, argc);
		if (secret && prompts == 0 && rc != EXIT_OK) {
			edit_discard();
			refused = 1;
		}
		if (quiet)
			tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		if (rc == -1)
			break;
		/* The prompt follows the host name as soon as it changes. */
		if (rc == EXIT_OK && sethost)
			edit_set_prompt();
	}
	if (line == NULL)
		fputc('\n', stdout);
	el_end(el);
	history_end(hist);
	free(histfile);
	ops = NULL;
	return (EXIT_OK);
}
