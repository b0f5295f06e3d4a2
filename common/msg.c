/*
 * Control message framing. Building appends to a growing buffer that
 * starts with room for the header; reading walks a received payload and
 * refuses to step past its end or to return an unterminated string.
 */
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "proto.h"
#include "xmalloc.h"

static void	 msg_reserve(struct msg *, size_t);

static const struct {
	int		 status;
	const char	*str;
} results[] = {
#define RES(name, status, str) { status, str },
	MMP_RESULTS
#undef RES
};

/* The text for a result code. */
const char *
proto_result_str(unsigned int res)
{
	if (res >= MMP_RES__MAX)
		return ("unknown result");
	return (results[res].str);
}

/* The shell's exit status for a result code. */
int
proto_result_status(unsigned int res)
{
	if (res >= MMP_RES__MAX)
		return (1);
	return (results[res].status);
}

/*
 * Decode a header from the first len bytes of buf. The header is filled in
 * whenever enough bytes are there, even when the result is an error.
 */
int
msg_parse_hdr(const uint8_t *buf, size_t len, struct msg_hdr *hdr)
{
	uint16_t	 u16;
	uint32_t	 u32;

	if (len < MSG_HDRLEN)
		return (MSG_PARSE_SHORT);
	memcpy(&u16, buf, 2);
	hdr->type = ntohs(u16);
	memcpy(&u16, buf + 2, 2);
	hdr->version = ntohs(u16);
	memcpy(&u32, buf + 4, 4);
	hdr->len = ntohl(u32);
	memcpy(&u32, buf + 8, 4);
	hdr->id = ntohl(u32);
	if (hdr->version != MMP_PROTO_VERSION)
		return (MSG_PARSE_VERSION);
	if (hdr->len > MSG_MAXPAYLOAD)
		return (MSG_PARSE_TOOBIG);
	if (hdr->type == 0 || hdr->type >= MSG__MAX)
		return (MSG_PARSE_TYPE);
	return (MSG_PARSE_OK);
}

/* Start an outgoing message; the caller frees it with msg_free. */
struct msg *
msg_new(uint16_t type, uint32_t id)
{
	struct msg	*m;

	m = xcalloc(1, sizeof(*m));
	m->hdr.type = type;
	m->hdr.version = MMP_PROTO_VERSION;
	m->hdr.id = id;
	m->cap = 256;
	m->buf = xmalloc(m->cap);
	m->len = MSG_HDRLEN;
	return (m);
}

/* Free a message; NULL is fine. */
void
msg_free(struct msg *m)
{
	if (m == NULL)
		return;
	free(m->buf);
	free(m);
}

/* Make room for n more bytes, or mark the message as overflowed. */
static void
msg_reserve(struct msg *m, size_t n)
{
	if (m->error || m->len + n - MSG_HDRLEN > MSG_MAXPAYLOAD) {
		m->error = 1;
		return;
	}
	while (m->len + n > m->cap) {
		m->cap *= 2;
		m->buf = xreallocarray(m->buf, m->cap, 1);
	}
}

/* Append one byte. */
void
msg_put_u8(struct msg *m, uint8_t v)
{
	msg_reserve(m, 1);
	if (m->error)
		return;
	m->buf[m->len++] = v;
}

/* Append a 32-bit number in network byte order. */
void
msg_put_u32(struct msg *m, uint32_t v)
{
	msg_reserve(m, 4);
	if (m->error)
		return;
	v = htonl(v);
	memcpy(m->buf + m->len, &v, 4);
	m->len += 4;
}

/* Append a string with its NUL. */
void
msg_put_str(struct msg *m, const char *s)
{
	size_t	 n = strlen(s) + 1;

	msg_reserve(m, n);
	if (m->error)
		return;
	memcpy(m->buf + m->len, s, n);
	m->len += n;
}

/*
 * Write the header in front of the payload. Returns -1 if any put
 * overflowed MSG_MAXPAYLOAD; m->buf[0..m->len) is then not to be sent.
 */
int
msg_finish(struct msg *m)
{
	uint16_t	 u16;
	uint32_t	 u32;

	if (m->error)
		return (-1);
	m->hdr.len = m->len - MSG_HDRLEN;
	u16 = htons(m->hdr.type);
	memcpy(m->buf, &u16, 2);
	u16 = htons(m->hdr.version);
	memcpy(m->buf + 2, &u16, 2);
	u32 = htonl(m->hdr.len);
	memcpy(m->buf + 4, &u32, 4);
	u32 = htonl(m->hdr.id);
	memcpy(m->buf + 8, &u32, 4);
	return (0);
}

/*
 * Prepare m to read a received payload of hdr->len bytes. The payload is
 * borrowed: it must stay valid while m is read, and m must not be freed
 * with msg_free.
 */
void
msg_reader(struct msg *m, const struct msg_hdr *hdr, const uint8_t *payload)
{
	memset(m, 0, sizeof(*m));
	m->hdr = *hdr;
	m->buf = (uint8_t *)(uintptr_t)payload;
	m->len = hdr->len;
}

/* Read one byte; -1 past the end. */
int
msg_get_u8(struct msg *m, uint8_t *v)
{
	if (m->error || m->len - m->off < 1) {
		m->error = 1;
		return (-1);
	}
	*v = m->buf[m->off++];
	return (0);
}

/* Read a 32-bit number; -1 past the end. */
int
msg_get_u32(struct msg *m, uint32_t *v)
{
	uint32_t	 u32;

	if (m->error || m->len - m->off < 4) {
		m->error = 1;
		return (-1);
	}
	memcpy(&u32, m->buf + m->off, 4);
	*v = ntohl(u32);
	m->off += 4;
	return (0);
}

/* Read a string, borrowed from the payload; -1 if it is unterminated. */
int
msg_get_str(struct msg *m, const char **s)
{
	const uint8_t	*nul;

	if (m->error || m->off >= m->len ||
	    (nul = memchr(m->buf + m->off, '\0', m->len - m->off)) == NULL) {
		m->error = 1;
		return (-1);
	}
	*s = (const char *)m->buf + m->off;
	m->off = nul - m->buf + 1;
	return (0);
}

/* Whether the whole payload was read without error. */
int
msg_end(const struct msg *m)
{
	return (!m->error && m->off == m->len);
}
