/*
 * Unit tests for control message framing: common/msg.c and the result
 * table in common/proto.h.
 */
#include <arpa/inet.h>

#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "proto.h"
#include "unit.h"

static void	 hdr_write(uint8_t *, uint16_t, uint16_t, uint32_t, uint32_t);
static Suite	*msg_suite(void);

/* Write a header in wire order into buf. */
static void
hdr_write(uint8_t *buf, uint16_t type, uint16_t version, uint32_t len,
    uint32_t id)
{
	uint16_t	 u16;
	uint32_t	 u32;

	u16 = htons(type);
	memcpy(buf, &u16, 2);
	u16 = htons(version);
	memcpy(buf + 2, &u16, 2);
	u32 = htonl(len);
	memcpy(buf + 4, &u32, 4);
	u32 = htonl(id);
	memcpy(buf + 8, &u32, 4);
}

/* A CMD message survives building, framing and reading back. */
START_TEST(test_roundtrip_cmd)
{
	static const uint8_t want[] = {
		0x00, 0x01, 0x00, MMP_PROTO_VERSION,	/* CMD, our version */
		0x00, 0x00, 0x00, 0x10,		/* 16 bytes of payload */
		0x12, 0x34, 0x56, 0x78,		/* id */
		0x00, 0x00, 0x00, 0x02,		/* argc */
		'x', 'm', 'p', 'p', 0,
		'e', 'n', 'a', 'b', 'l', 'e', 0,
	};
	struct msg	*m, r;
	struct msg_hdr	 hdr;
	const char	*s;
	uint32_t	 u32;

	m = msg_new(MSG_CMD, 0x12345678);
	ck_assert_ptr_nonnull(m);
	msg_put_u32(m, 2);
	msg_put_str(m, "xmpp");
	msg_put_str(m, "enable");
	ck_assert_int_eq(msg_finish(m), 0);
	ck_assert_uint_eq(m->len, sizeof(want));
	ck_assert_mem_eq(m->buf, want, sizeof(want));

	memset(&hdr, 0, sizeof(hdr));
	ck_assert_int_eq(msg_parse_hdr(m->buf, m->len, &hdr), MSG_PARSE_OK);
	ck_assert_uint_eq(hdr.type, MSG_CMD);
	ck_assert_uint_eq(hdr.version, MMP_PROTO_VERSION);
	ck_assert_uint_eq(hdr.len, m->len - MSG_HDRLEN);
	ck_assert_uint_eq(hdr.id, 0x12345678);

	msg_reader(&r, &hdr, m->buf + MSG_HDRLEN);
	ck_assert_int_eq(msg_end(&r), 0);
	ck_assert_int_eq(msg_get_u32(&r, &u32), 0);
	ck_assert_uint_eq(u32, 2);
	ck_assert_int_eq(msg_get_str(&r, &s), 0);
	ck_assert_str_eq(s, "xmpp");
	ck_assert_int_eq(msg_get_str(&r, &s), 0);
	ck_assert_str_eq(s, "enable");
	ck_assert_int_eq(msg_end(&r), 1);
	msg_free(m);
}
END_TEST

/* PROMPT, empty strings and extreme numbers round trip too. */
START_TEST(test_roundtrip_other)
{
	struct msg	*m, r;
	struct msg_hdr	 hdr;
	const char	*s;
	uint32_t	 u32;
	uint8_t		 u8;

	m = msg_new(MSG_PROMPT, UINT32_MAX);
	msg_put_u8(m, 0);
	msg_put_u8(m, 0xff);
	msg_put_str(m, "");
	msg_put_u32(m, UINT32_MAX);
	msg_put_str(m, "Secret: ");
	ck_assert_int_eq(msg_finish(m), 0);
	ck_assert_int_eq(msg_parse_hdr(m->buf, m->len, &hdr), MSG_PARSE_OK);
	ck_assert_uint_eq(hdr.type, MSG_PROMPT);
	ck_assert_uint_eq(hdr.id, UINT32_MAX);
	ck_assert_uint_eq(hdr.len, 1 + 1 + 1 + 4 + 9);

	msg_reader(&r, &hdr, m->buf + MSG_HDRLEN);
	ck_assert_int_eq(msg_get_u8(&r, &u8), 0);
	ck_assert_uint_eq(u8, 0);
	ck_assert_int_eq(msg_get_u8(&r, &u8), 0);
	ck_assert_uint_eq(u8, 0xff);
	ck_assert_int_eq(msg_get_str(&r, &s), 0);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(msg_get_u32(&r, &u32), 0);
	ck_assert_uint_eq(u32, UINT32_MAX);
	ck_assert_int_eq(msg_get_str(&r, &s), 0);
	ck_assert_str_eq(s, "Secret: ");
	ck_assert_int_eq(msg_end(&r), 1);
	msg_free(m);

	/* A message with no payload at all. */
	m = msg_new(MSG_DONE, 0);
	ck_assert_int_eq(msg_finish(m), 0);
	ck_assert_uint_eq(m->len, MSG_HDRLEN);
	ck_assert_int_eq(msg_parse_hdr(m->buf, m->len, &hdr), MSG_PARSE_OK);
	ck_assert_uint_eq(hdr.len, 0);
	msg_reader(&r, &hdr, m->buf + MSG_HDRLEN);
	ck_assert_int_eq(msg_end(&r), 1);
	msg_free(m);
	msg_free(NULL);
}
END_TEST

/* Fewer than MSG_HDRLEN bytes is never a header. */
START_TEST(test_hdr_short)
{
	uint8_t		 buf[MSG_HDRLEN];
	struct msg_hdr	 hdr;
	size_t		 len;

	hdr_write(buf, MSG_CMD, MMP_PROTO_VERSION, 4, 1);
	for (len = 0; len < MSG_HDRLEN; len++)
		ck_assert_msg(msg_parse_hdr(buf, len, &hdr) ==
		    MSG_PARSE_SHORT, "length %zu", len);
	ck_assert_int_eq(msg_parse_hdr(buf, MSG_HDRLEN, &hdr), MSG_PARSE_OK);
	ck_assert_uint_eq(hdr.len, 4);
	ck_assert_uint_eq(hdr.id, 1);
}
END_TEST

/* Another protocol version is refused, and the header still filled. */
START_TEST(test_hdr_version)
{
	uint8_t		 buf[MSG_HDRLEN];
	struct msg_hdr	 hdr;

	hdr_write(buf, MSG_CMD, MMP_PROTO_VERSION + 1, 0, 7);
	ck_assert_int_eq(msg_parse_hdr(buf, sizeof(buf), &hdr),
	    MSG_PARSE_VERSION);
	ck_assert_uint_eq(hdr.version, MMP_PROTO_VERSION + 1);
	ck_assert_uint_eq(hdr.id, 7);
	hdr_write(buf, MSG_CMD, 0, 0, 7);
	ck_assert_int_eq(msg_parse_hdr(buf, sizeof(buf), &hdr),
	    MSG_PARSE_VERSION);
	hdr_write(buf, MSG_CMD, 0xffff, 0, 7);
	ck_assert_int_eq(msg_parse_hdr(buf, sizeof(buf), &hdr),
	    MSG_PARSE_VERSION);
	/* The version is checked before the length and the type. */
	hdr_write(buf, 0, 0x0100, UINT32_MAX, 7);
	ck_assert_int_eq(msg_parse_hdr(buf, sizeof(buf), &hdr),
	    MSG_PARSE_VERSION);
}
END_TEST

/* The payload may be MSG_MAXPAYLOAD bytes and no more. */
START_TEST(test_hdr_toobig)
{
	uint8_t		 buf[MSG_HDRLEN];
	struct msg_hdr	 hdr;

	hdr_write(buf, MSG_OUT, MMP_PROTO_VERSION, MSG_MAXPAYLOAD, 3);
	ck_assert_int_eq(msg_parse_hdr(buf, sizeof(buf), &hdr), MSG_PARSE_OK);
	ck_assert_uint_eq(hdr.len, MSG_MAXPAYLOAD);
	hdr_write(buf, MSG_OUT, MMP_PROTO_VERSION, MSG_MAXPAYLOAD + 1, 3);
	ck_assert_int_eq(msg_parse_hdr(buf, sizeof(buf), &hdr),
	    MSG_PARSE_TOOBIG);
	ck_assert_uint_eq(hdr.len, MSG_MAXPAYLOAD + 1);
	hdr_write(buf, MSG_OUT, MMP_PROTO_VERSION, UINT32_MAX, 3);
	ck_assert_int_eq(msg_parse_hdr(buf, sizeof(buf), &hdr),
	    MSG_PARSE_TOOBIG);
}
END_TEST

/* Types outside 1..MSG__MAX-1 are refused; all inside are accepted. */
START_TEST(test_hdr_type)
{
	uint8_t		 buf[MSG_HDRLEN];
	struct msg_hdr	 hdr;
	int		 t;

	hdr_write(buf, 0, MMP_PROTO_VERSION, 0, 1);
	ck_assert_int_eq(msg_parse_hdr(buf, sizeof(buf), &hdr),
	    MSG_PARSE_TYPE);
	hdr_write(buf, MSG__MAX, MMP_PROTO_VERSION, 0, 1);
	ck_assert_int_eq(msg_parse_hdr(buf, sizeof(buf), &hdr),
	    MSG_PARSE_TYPE);
	ck_assert_uint_eq(hdr.type, MSG__MAX);
	hdr_write(buf, 0xffff, MMP_PROTO_VERSION, 0, 1);
	ck_assert_int_eq(msg_parse_hdr(buf, sizeof(buf), &hdr),
	    MSG_PARSE_TYPE);
	for (t = MSG_CMD; t < MSG__MAX; t++) {
		hdr_write(buf, t, MMP_PROTO_VERSION, 0, 1);
		ck_assert_int_eq(msg_parse_hdr(buf, sizeof(buf), &hdr),
		    MSG_PARSE_OK);
		ck_assert_uint_eq(hdr.type, t);
	}
}
END_TEST

/* A string without its NUL is refused and spoils the message. */
START_TEST(test_get_unterminated)
{
	static const uint8_t	 payload[] = { 'a', 'b', 'c' };
	static const uint8_t	 two[] = { 'o', 'k', 0, 'n', 'o' };
	struct msg_hdr		 hdr;
	struct msg		 r;
	const char		*s = NULL;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = MSG_OUT;
	hdr.version = MMP_PROTO_VERSION;
	hdr.len = sizeof(payload);
	msg_reader(&r, &hdr, payload);
	ck_assert_int_eq(msg_get_str(&r, &s), -1);
	ck_assert_int_eq(msg_end(&r), 0);

	hdr.len = sizeof(two);
	msg_reader(&r, &hdr, two);
	ck_assert_int_eq(msg_get_str(&r, &s), 0);
	ck_assert_str_eq(s, "ok");
	ck_assert_int_eq(msg_get_str(&r, &s), -1);
	ck_assert_int_eq(msg_end(&r), 0);

	/* An empty payload holds no string either. */
	hdr.len = 0;
	msg_reader(&r, &hdr, two);
	ck_assert_int_eq(msg_end(&r), 1);
	ck_assert_int_eq(msg_get_str(&r, &s), -1);
	ck_assert_int_eq(msg_end(&r), 0);
}
END_TEST

/* Reading past the end fails, and the failure sticks. */
START_TEST(test_get_past_end)
{
	static const uint8_t	 payload[] = { 0, 0, 0, 1, 0x7f, 0, 0 };
	struct msg_hdr		 hdr;
	struct msg		 r;
	uint32_t		 u32;
	uint8_t			 u8;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = MSG_DONE;
	hdr.version = MMP_PROTO_VERSION;
	hdr.len = sizeof(payload);
	msg_reader(&r, &hdr, payload);
	ck_assert_int_eq(msg_get_u32(&r, &u32), 0);
	ck_assert_uint_eq(u32, 1);
	/* Three bytes left: not enough for a u32. */
	ck_assert_int_eq(msg_get_u32(&r, &u32), -1);
	ck_assert_int_eq(msg_end(&r), 0);
	/* After an error even a byte that is there is not read. */
	ck_assert_int_eq(msg_get_u8(&r, &u8), -1);

	msg_reader(&r, &hdr, payload);
	ck_assert_int_eq(msg_get_u32(&r, &u32), 0);
	ck_assert_int_eq(msg_get_u8(&r, &u8), 0);
	ck_assert_int_eq(msg_get_u8(&r, &u8), 0);
	ck_assert_int_eq(msg_get_u8(&r, &u8), 0);
	ck_assert_int_eq(msg_end(&r), 1);
	ck_assert_int_eq(msg_get_u8(&r, &u8), -1);
	ck_assert_int_eq(msg_end(&r), 0);

	/* The reader only sees hdr.len bytes of a longer buffer. */
	hdr.len = 2;
	msg_reader(&r, &hdr, payload);
	ck_assert_int_eq(msg_get_u32(&r, &u32), -1);
}
END_TEST

/* A payload of exactly MSG_MAXPAYLOAD bytes is built and parses. */
START_TEST(test_put_max)
{
	struct msg	*m, r;
	struct msg_hdr	 hdr;
	const char	*s;
	char		*big;

	big = malloc(MSG_MAXPAYLOAD);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', MSG_MAXPAYLOAD - 1);
	big[MSG_MAXPAYLOAD - 1] = '\0';
	m = msg_new(MSG_OUT, 9);
	msg_put_str(m, big);
	ck_assert_int_eq(msg_finish(m), 0);
	ck_assert_uint_eq(m->len, MSG_HDRLEN + MSG_MAXPAYLOAD);
	ck_assert_int_eq(msg_parse_hdr(m->buf, m->len, &hdr), MSG_PARSE_OK);
	ck_assert_uint_eq(hdr.len, MSG_MAXPAYLOAD);
	msg_reader(&r, &hdr, m->buf + MSG_HDRLEN);
	ck_assert_int_eq(msg_get_str(&r, &s), 0);
	ck_assert_uint_eq(strlen(s), MSG_MAXPAYLOAD - 1);
	ck_assert_int_eq(msg_end(&r), 1);

	/* One more byte overflows. */
	msg_put_u8(m, 0);
	ck_assert_int_eq(msg_finish(m), -1);
	msg_free(m);
	free(big);
}
END_TEST

/* Puts past MSG_MAXPAYLOAD make msg_finish fail, however they add up. */
START_TEST(test_put_overflow)
{
	struct msg	*m;
	char		*big;
	int		 i;

	big = malloc(MSG_MAXPAYLOAD + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'y', MSG_MAXPAYLOAD);
	big[MSG_MAXPAYLOAD] = '\0';
	m = msg_new(MSG_OUT, 1);
	msg_put_str(m, big);
	ck_assert_int_eq(msg_finish(m), -1);
	msg_free(m);

	/* 16384 u32s fill the payload exactly; the next one is too many. */
	m = msg_new(MSG_CMD, 1);
	for (i = 0; i < MSG_MAXPAYLOAD / 4; i++)
		msg_put_u32(m, (uint32_t)i);
	ck_assert_int_eq(msg_finish(m), 0);
	ck_assert_uint_eq(m->hdr.len, MSG_MAXPAYLOAD);
	msg_put_u32(m, 0);
	ck_assert_int_eq(msg_finish(m), -1);
	/* Later small puts do not clear the error. */
	msg_put_u8(m, 0);
	ck_assert_int_eq(msg_finish(m), -1);
	msg_free(m);

	/* Many strings, none big, overflow as well. */
	m = msg_new(MSG_CMD, 1);
	big[1000] = '\0';
	for (i = 0; i < 70; i++)
		msg_put_str(m, big);
	ck_assert_int_eq(msg_finish(m), -1);
	msg_free(m);
	free(big);
}
END_TEST

/* Every result code has its string and exit status. */
START_TEST(test_results)
{
	ck_assert_int_eq(MMP_RES__MAX, 7);
	ck_assert_str_eq(proto_result_str(MMP_RES_OK), "success");
	ck_assert_int_eq(proto_result_status(MMP_RES_OK), 0);
	ck_assert_str_eq(proto_result_str(MMP_RES_FAILED), "command failed");
	ck_assert_int_eq(proto_result_status(MMP_RES_FAILED), 1);
	ck_assert_str_eq(proto_result_str(MMP_RES_PARSE),
	    "command did not parse");
	ck_assert_int_eq(proto_result_status(MMP_RES_PARSE), 2);
	ck_assert_str_eq(proto_result_str(MMP_RES_DENIED),
	    "permission denied");
	ck_assert_int_eq(proto_result_status(MMP_RES_DENIED), 3);
	ck_assert_str_eq(proto_result_str(MMP_RES_VERSION),
	    "protocol version mismatch");
	ck_assert_int_eq(proto_result_status(MMP_RES_VERSION), 3);
	ck_assert_str_eq(proto_result_str(MMP_RES_SHUTDOWN),
	    "daemon is shutting down");
	ck_assert_int_eq(proto_result_status(MMP_RES_SHUTDOWN), 1);
	ck_assert_str_eq(proto_result_str(MMP_RES_INTERNAL),
	    "internal error in the daemon");
	ck_assert_int_eq(proto_result_status(MMP_RES_INTERNAL), 1);
}
END_TEST

/* Codes outside the table get a generic string and status 1. */
START_TEST(test_results_range)
{
	ck_assert_str_eq(proto_result_str(MMP_RES__MAX), "unknown result");
	ck_assert_int_eq(proto_result_status(MMP_RES__MAX), 1);
	ck_assert_str_eq(proto_result_str(UINT_MAX), "unknown result");
	ck_assert_int_eq(proto_result_status(UINT_MAX), 1);
	ck_assert_str_eq(proto_result_str((unsigned int)-1), "unknown result");
}
END_TEST

/* The suite. */
static Suite *
msg_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("msg");

	tc = tcase_create("roundtrip");
	tcase_add_test(tc, test_roundtrip_cmd);
	tcase_add_test(tc, test_roundtrip_other);
	suite_add_tcase(s, tc);

	tc = tcase_create("header");
	tcase_add_test(tc, test_hdr_short);
	tcase_add_test(tc, test_hdr_version);
	tcase_add_test(tc, test_hdr_toobig);
	tcase_add_test(tc, test_hdr_type);
	suite_add_tcase(s, tc);

	tc = tcase_create("bounds");
	tcase_add_test(tc, test_get_unterminated);
	tcase_add_test(tc, test_get_past_end);
	tcase_add_test(tc, test_put_max);
	tcase_add_test(tc, test_put_overflow);
	suite_add_tcase(s, tc);

	tc = tcase_create("results");
	tcase_add_test(tc, test_results);
	tcase_add_test(tc, test_results_range);
	suite_add_tcase(s, tc);

	return (s);
}

/* Run the suite; the exit status counts failures. */
int
main(void)
{
	return (unit_run(msg_suite()));
}
