/*
 * The shell's side of the control protocol: one connection per command,
 * synchronous reads, and answers to the daemon's prompts.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cmdtab.h"
#include "mmp.h"
#include "msg.h"
#include "proto.h"
#include "xmalloc.h"

static FILE	*client_prompt_fp;	/* where prompts go; NULL: stdout */
static volatile sig_atomic_t client_interrupted;
static volatile sig_atomic_t client_cancel_flag; /* Ctrl-C at the editor */

static int	 client_connect(const char *, char **);
static int	 client_write(int, struct msg *);
static int	 client_readn(int, void *, size_t);
static void	 client_sigint(int);
static void	 client_catch(int, struct sigaction *);

/* Connect to the daemon's socket; -1 with *cause on failure. */
static int
client_connect(const char *path, char **cause)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		xasprintf(cause, "socket path too long: %s", path);
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		xasprintf(cause, "cannot reach mmpd on %s: %s%s", path,
		    strerror(errno), errno == ENOENT || errno ==
		    ECONNREFUSED ? " (is mmpd running?)" : "");
		close(fd);
		return (-1);
	}
	return (fd);
}

/* Send a finished message and free it. */
static int
client_write(int fd, struct msg *m)
{
	size_t	 off = 0;
	ssize_t	 n;
	int	 rc = 0;

	if (msg_finish(m) == -1) {
		msg_free(m);
		errno = EMSGSIZE;
		return (-1);
	}
	while (off < m->len) {
		n = send(fd, m->buf + off, m->len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -1;
			break;
		}
		off += n;
	}
	explicit_bzero(m->buf, m->len);
	msg_free(m);
	return (rc);
}

/* SIGINT while waiting for the daemon: note it, the read returns. */
static void
client_sigint(int sig)
{
	(void)sig;
	client_interrupted = 1;
}

/*
 * Catch SIGINT (on) so that it interrupts a read, or put back the old
 * action (off); old keeps it.
 */
static void
client_catch(int on, struct sigaction *old)
{
	struct sigaction	 sa;

	if (!on) {
		sigaction(SIGINT, old, NULL);
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = client_sigint;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;		/* no SA_RESTART: read() must return */
	sigaction(SIGINT, &sa, old);
}

/*
 * Read exactly len bytes; 0 on success, -1 on EOF or error, -2 when
 * SIGINT came.
 */
static int
client_readn(int fd, void *buf, size_t len)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < len) {
		if (client_interrupted)
			return (-2);
		n = read(fd, (char *)buf + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return (-1);
		off += n;
	}
	return (0);
}

/*
 * Run one command on the daemon: send argv, relay its lines through io,
 * answer its prompts, and return the exit status for its result. Ctrl-C
 * while waiting closes the connection, which ends the command's output
 * (a command that runs until interrupted, like syslog follow, ends so
 * with success).
 */
int
client_run(const char *path, int argc, char **argv,
    const struct client_io *io)
{
	struct msg_hdr	 hdr;
	struct msg	*m, r;
	uint8_t		 hbuf[MSG_HDRLEN], *payload = NULL, echo;
	uint32_t	 res;
	const char	*s;
	struct sigaction old;
	struct cmd_match cm;
	char		*cause, *line, *answer;
	int		 fd, i, rc, status = EXIT_NODAEMON;

	if ((fd = client_connect(path, &cause)) == -1) {
		xasprintf(&line, "mmp: %s", cause);
		io->err(io->arg, line);
		free(line);
		free(cause);
		return (EXIT_NODAEMON);
	}
	m = msg_new(MSG_CMD, 1);
	msg_put_u32(m, argc);
	for (i = 0; i < argc; i++)
		msg_put_str(m, argv[i]);
	if (client_write(fd, m) == -1 && errno == EMSGSIZE) {
		io->err(io->arg, "mmp: command too long");
		close(fd);
		return (EXIT_PARSE);
	}
	/* Even if the write failed, read why the daemon closed on us. */
	client_interrupted = 0;
	client_catch(1, &old);
	for (;;) {
		free(payload);
		payload = NULL;
		if ((rc = client_readn(fd, hbuf, sizeof(hbuf))) == -2)
			goto interrupted;
		if (rc == -1) {
			io->err(io->arg, "mmp: mmpd closed the connection "
			    "before answering");
			break;
		}
		rc = msg_parse_hdr(hbuf, sizeof(hbuf), &hdr);
		if (rc == MSG_PARSE_VERSION) {
			xasprintf(&line, "mmp: mmpd speaks control protocol "
			    "version %u, this mmp speaks %u; use the mmp that "
			    "came with this mmpd", hdr.version,
			    MMP_PROTO_VERSION);
			io->err(io->arg, line);
			free(line);
			break;
		}
		if (rc != MSG_PARSE_OK) {
			io->err(io->arg, "mmp: mmpd sent a malformed message");
			break;
		}
		payload = xmalloc(hdr.len + 1);
		if ((rc = client_readn(fd, payload, hdr.len)) == -2)
			goto interrupted;
		if (rc == -1) {
			io->err(io->arg, "mmp: mmpd closed the connection "
			    "mid-message");
			break;
		}
		msg_reader(&r, &hdr, payload);
		if (hdr.type == MSG_DONE && msg_get_u32(&r, &res) == 0 &&
		    msg_end(&r)) {
			status = proto_result_status(res);
			if (res == MMP_RES_VERSION) {
				xasprintf(&line, "mmp: mmpd does not speak "
				    "control protocol version %u",
				    MMP_PROTO_VERSION);
				io->err(io->arg, line);
				free(line);
			}
			break;
		}
		if ((hdr.type == MSG_OUT || hdr.type == MSG_ERR ||
		    hdr.type == MSG_PART) &&
		    msg_get_str(&r, &s) == 0 && msg_end(&r)) {
			if (hdr.type == MSG_OUT)
				io->out(io->arg, s);
			else if (hdr.type == MSG_ERR)
				io->err(io->arg, s);
			else if (io->part != NULL)
				io->part(io->arg, s);
			continue;
		}
		if (hdr.type == MSG_PROMPT && msg_get_u8(&r, &echo) == 0 &&
		    msg_get_str(&r, &s) == 0 && msg_end(&r)) {
			client_catch(0, &old);
			answer = io->input(io->arg, s, echo);
			client_catch(1, &old);
			if (answer == NULL) {
				io->err(io->arg, "mmp: no answer given, "
				    "command abandoned");
				status = EXIT_FAILED;
				break;
			}
			m = msg_new(MSG_INPUT, hdr.id);
			msg_put_str(m, answer);
			explicit_bzero(answer, strlen(answer));
			free(answer);
			if (client_write(fd, m) == -1) {
				io->err(io->arg, "mmp: lost the connection "
				    "to mmpd");
				break;
			}
			continue;
		}
		io->err(io->arg, "mmp: mmpd sent a malformed message");
		break;
	}
	goto out;
interrupted:
	/* Closing the connection tells mmpd; no DONE will come. */
	cause = NULL;
	if (cmdtab_match(argc, argv, &cm, &cause) == CMDTAB_OK &&
	    (cm.flags & CF_FOLLOW))
		status = EXIT_OK;
	else {
		io->err(io->arg, "mmp: interrupted");
		status = EXIT_FAILED;
	}
	free(cause);
out:
	client_catch(0, &old);
	free(payload);
	close(fd);
	return (status);
}

/*
 * Ask for a line on the terminal, with echo off unless echo is set; an
 * allocated line, or NULL at end of input.
 */
char *
client_read_secret(const char *prompt, int echo)
{
	struct termios	 old, quiet;
	FILE		*fp = client_prompt_fp ? client_prompt_fp : stdout;
	char		*line = NULL;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;
	char		 c;
	int		 restore = 0;

	/*
	 * Echo goes off before the prompt shows, and without flushing: a
	 * secret typed as soon as the prompt appears is neither echoed nor
	 * thrown away.
	 */
	if (!echo && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0)
			restore = 1;
	}
	fputs(prompt, fp);
	fflush(fp);
	for (;;) {
		if (client_cancel_flag) {
			n = 0;
			break;
		}
		n = read(STDIN_FILENO, &c, 1);
		/* Ctrl-C (the interactive shell catches it) cancels. */
		if (n == -1 && errno == EINTR && !client_cancel_flag)
			continue;
		if (n <= 0 || c == '\n' || c == '\r')
			break;
		if (len + 2 > cap) {
			cap = cap ? cap * 2 : 64;
			if (cap > MSG_MAXPAYLOAD)
				break;
			line = xreallocarray(line, cap, 1);
		}
		line[len++] = c;
	}
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fputc('\n', fp);
		fflush(fp);
	}
	if ((n <= 0 && len == 0) || client_cancel_flag) {
		if (line != NULL)
			explicit_bzero(line, len);
		free(line);
		return (NULL);
	}
	if (line == NULL)
		line = xstrdup("");
	else
		line[len] = '\0';
	return (line);
}

/*
 * Send prompts for secrets to fp instead of stdout (mmp -j keeps stdout
 * for JSON alone).
 */
void
client_prompt_stream(FILE *fp)
{
	client_prompt_fp = fp;
}

/* Print a line to stdout. */
void
client_print_out(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
	fflush(stdout);
}

/* Print text to stdout as it comes, without a newline. */
void
client_print_part(void *arg, const char *text)
{
	(void)arg;
	fputs(text, stdout);
	fflush(stdout);
}

/* Print a line to stderr. */
void
client_print_err(void *arg, const char *line)
{
	(void)arg;
	fflush(stdout);
	fprintf(stderr, "%s\n", line);
}

/*
 * Answer a daemon prompt: on a terminal ask with echo as told; otherwise
 * the next line of stdin is the answer.
 */
char *
client_input(void *arg, const char *prompt, int echo)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;

	(void)arg;
	if (isatty(STDIN_FILENO))
		return (client_read_secret(prompt, echo));
	if ((n = getline(&line, &cap, stdin)) == -1) {
		free(line);
		return (NULL);
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return (line);
}

/*
 * Ctrl-C at the interactive shell (on) makes a prompt being read give up
 * until it is turned off again. Safe in a signal handler.
 */
void
client_cancel(int on)
{
	client_cancel_flag = on ? 1 : 0;
}

/* Whether Ctrl-C was noted by client_cancel and not turned off since. */
int
client_cancelled(void)
{
	return (client_cancel_flag != 0);
}
