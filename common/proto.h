/*
 * The control protocol between mmp and mmpd.
 *
 * Every message is a fixed 12-byte header in network byte order followed
 * by at most MSG_MAXPAYLOAD bytes of payload:
 *
 *	u16 type, u16 version, u32 payload length, u32 request id
 *
 * Payloads (strings are NUL-terminated and the NUL is counted):
 *	CMD	u32 argc, then argc strings
 *	OUT	one string: a line for the shell's stdout
 *	ERR	one string: a line for the shell's stderr
 *	PROMPT	u8 echo (0 or 1), then the prompt string
 *	INPUT	one string: the answer to a PROMPT
 *	DONE	u32 result code (MMP_RES_*)
 *	PART	one string: text for the shell's stdout, no newline added
 *		(progress dots)
 *
 * A request is one CMD; the answer is OUT/ERR/PART/PROMPT messages and exactly
 * one DONE. A malformed or oversized frame closes that connection. Change
 * any payload layout and bump MMP_PROTO_VERSION.
 */
#ifndef PROTO_H
#define PROTO_H

#define MMP_PROTO_VERSION	2

#define MSG_HDRLEN		12
#define MSG_MAXPAYLOAD		65536

enum msg_type {
	MSG_CMD = 1,
	MSG_OUT,
	MSG_ERR,
	MSG_PROMPT,
	MSG_INPUT,
	MSG_DONE,
	MSG_PART,
	MSG__MAX
};

/* Result codes carried by DONE, with the shell's exit status for each. */
#define MMP_RESULTS							\
	RES(OK,		0, "success")					\
	RES(FAILED,	1, "command failed")				\
	RES(PARSE,	2, "command did not parse")			\
	RES(DENIED,	3, "permission denied")				\
	RES(VERSION,	3, "protocol version mismatch")			\
	RES(SHUTDOWN,	1, "daemon is shutting down")			\
	RES(INTERNAL,	1, "internal error in the daemon")

enum mmp_result {
#define RES(name, status, str) MMP_RES_##name,
	MMP_RESULTS
#undef RES
	MMP_RES__MAX
};

const char	*proto_result_str(unsigned int);
int		 proto_result_status(unsigned int);

#endif /* PROTO_H */
