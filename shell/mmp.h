/*
 * mmp: the admin shell.
 */
#ifndef MMP_H
#define MMP_H

#include <stdio.h>

#include "compat.h"

#define MMP_SOCKET	"/run/mmp/mmpd.sock"
#define MMP_NAMES_MAX	256	/* file-store names TAB completion offers */

/* mmp -S, inside the SSH root: where the store is, what serves SFTP. */
#define MMP_SSH_STORE	"/files"
#define MMP_SFTP_SERVER	"/usr/lib/openssh/sftp-server"
#define MMP_SFTP_UMASK	"0027"		/* uploads: owner rw, group r */

/* Exit statuses. */
#define EXIT_OK		0
#define EXIT_FAILED	1
#define EXIT_PARSE	2
#define EXIT_NODAEMON	3

/*
 * Where a command's answer goes. out and err get each line without its
 * newline; input asks the user and returns an allocated line without its
 * newline, or NULL at end of input; part (may be NULL) gets progress text
 * that is not a whole line.
 */
struct client_io {
	void	(*out)(void *, const char *);
	void	(*err)(void *, const char *);
	char	*(*input)(void *, const char *, int);
	void	(*part)(void *, const char *);
	void	*arg;
};

struct cmd_match;
struct json_doc;

/* client.c */
/* Run one command on the daemon at path through io; the exit status. */
int		 client_run(const char *, int, char **,
		    const struct client_io *);
/* Ask on the terminal (echo 0: a secret); the caller frees, NULL: EOF. */
char		*client_read_secret(const char *, int);
/* A line of the command's output to stdout. */
void		 client_print_out(void *, const char *);
/* A line of the command's errors to stderr. */
void		 client_print_err(void *, const char *);
/* Progress text (no newline) to stdout. */
void		 client_print_part(void *, const char *);
/* Answer a daemon prompt from the terminal or stdin; the caller frees. */
char		*client_input(void *, const char *, int);
/* Where prompts for secrets are written (stdout by default). */
void		 client_prompt_stream(FILE *);
/* Ctrl-C (1): a prompt being read gives up; 0 clears. Signal-safe. */
void		 client_cancel(int);
/* Whether client_cancel(1) came and was not cleared since. */
int		 client_cancelled(void);

/* json.c */
/* Start the document of a command (m NULL: it did not parse). */
struct json_doc	*json_new(const struct cmd_match *, const char *);
/* client_io out: keep a line of the answer. */
void		 json_out(void *, const char *);
/* client_io err: keep an error line. */
void		 json_err(void *, const char *);
/* client_io part: progress is left out of the document. */
void		 json_part(void *, const char *);
/* Write the document with the exit status to fp as one line; frees it. */
void		 json_finish(struct json_doc *, int, FILE *);
/* A failure before any command ran, as {"error": ...} on its own line. */
void		 json_error(FILE *, const char *, const char *);

/*
 * edit.c: the interactive line editor, the layer below mmp.c. It calls
 * up only through these, which mmp.c hands to edit_loop.
 */
struct edit_ops {
	/* Run a command: its exit status (-1 leaves), *prompts answered. */
	int	(*run)(int, char **, int *);
	/* The host name for the prompt, into a buffer of the given size. */
	void	(*hostname)(char *, size_t);
	/* Store names starting with a prefix (cmdtab_free_list), or NULL. */
	char	**(*names)(const char *, size_t *);
};

/* The interactive loop on the terminal; the shell's exit status. */
int		 edit_loop(const struct edit_ops *);

#endif /* MMP_H */
