/*
 * The interactive front end on libedit: prompt, history, TAB completion
 * and `?` help, all from the command table. Thin on purpose: the work is
 * done by cmdtab and mmp_command.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <histedit.h>

#include "cmdtab.h"
#include "mmp.h"
#include "util.h"
#include "xmalloc.h"

#define HISTORY_SIZE	1000

static char	 prompt[HOST_NAME_MAX + 8];

static char	*edit_prompt(EditLine *);
static int	 edit_words(EditLine *, char ***, int *, char **);
static unsigned char edit_complete(EditLine *, int);
static unsigned char edit_help(EditLine *, int);
static void	 edit_help_line(void *, const char *);
static void	 edit_set_prompt(void);

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

	mmp_hostname(name, sizeof(name));
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

/* TAB: complete the word under the cursor, or list what fits. */
static unsigned char
edit_complete(EditLine *el, int ch)
{
	char		**argv, *partial, **list, *add;
	size_t		 n, i, common, pl;
	int		 argc, rc = CC_ERROR;

	(void)ch;
	if (edit_words(el, &argv, &argc, &partial) == -1)
		return (CC_ERROR);
	list = cmdtab_complete(argc, argv, partial, &n);
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

/* The interactive loop; returns the exit status of the shell. */
int
edit_loop(void)
{
	EditLine	*el;
	History		*hist;
	HistEvent	 ev;
	const char	*line, *home;
	char		*histfile = NULL, **argv, *cause;
	struct cmd_match m;
	int		 count, argc, rc, sethost;

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
	el_set(el, EL_SIGNAL, 1);
	el_set(el, EL_PROMPT, edit_prompt);
	el_set(el, EL_HIST, history, hist);
	el_set(el, EL_ADDFN, "mmp-complete", "complete a command word",
	    edit_complete);
	el_set(el, EL_BIND, "^I", "mmp-complete", NULL);
	el_set(el, EL_ADDFN, "mmp-help", "list what may come next",
	    edit_help);
	el_set(el, EL_BIND, "?", "mmp-help", NULL);

	while ((line = el_gets(el, &count)) != NULL) {
		if (util_split(line, &argv, &argc, &cause) == -1) {
			fprintf(stderr, "mmp: %s\n", cause);
			free(cause);
			continue;
		}
		if (argc == 0 || argv[0][0] == '#') {
			util_free_argv(argv, argc);
			continue;
		}
		sethost = cmdtab_match(argc, argv, &m, &cause) == CMDTAB_OK &&
		    m.id == CMD_HOSTNAME_SET;
		if (!sethost)
			free(cause);
		history(hist, &ev, H_ENTER, line);
		if (histfile != NULL)
			history(hist, &ev, H_SAVE, histfile);
		rc = mmp_command(argc, argv, "");
		util_free_argv(argv, argc);
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
	return (EXIT_OK);
}
