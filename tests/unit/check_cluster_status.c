/*
 * Unit tests for daemon/cluster/status.c: the snapshot the commands print
 * instead of reading libraft (state, term, leader, members with their
 * roles, marks and when they were last heard), and raft's configuration
 * by address and id. status.o is linked alone; what it asks of the rest
 * of the cluster (raft.c, net.c, uv.c, fsm.c) is stubbed here over a
 * struct raft this test fills in.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <raft.h>

#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "unit.h"

#define ID_A	0x11
#define ID_B	0x22
#define ID_C	0x33
#define ID_D	0x44

static struct raft	 fake;
static int		 running;
static char		 fake_fsm;
static int		 fsm_on;

static void	 add_server(uint64_t, const char *, int);
static void	 setup(void);
static void	 teardown(void);
static Suite	*status_suite(void);

/* Stub (raft.c): raft runs while the test says so. */
struct raft *
cluster_raft(void)
{
	return (running ? &fake : NULL);
}

/* Stub (raft.c): the configuration, also while stopped. */
const struct raft_configuration *
cluster_conf(void)
{
	return (&fake.configuration);
}

/* Stub (raft.c): this node is A. */
uint64_t
cluster_id(void)
{
	return (ID_A);
}

/* Stub (raft.c): this node's address. */
const char *
cluster_addr(void)
{
	return ("127.0.0.1:5270");
}

/* Stub (raft.c): in this state since a fixed time. */
time_t
cluster_since(void)
{
	return (1000);
}

/* Stub (raft.c): a state machine only when the test says so. */
struct cfsm *
cluster_fsm(void)
{
	return (fsm_on ? (struct cfsm *)(void *)&fake_fsm : NULL);
}

/* Stub (raft.c). */
int
cluster_running(void)
{
	return (running);
}

/* Stub (net.c): the clock stands at 10 s. */
int64_t
cnet_now_ms(void)
{
	return (10000);
}

/* Stub (uv.c): B heard 250 ms ago, C 4 s ago, D and A never. */
int64_t
cnet_last_heard(uint64_t id)
{
	if (id == ID_B)
		return (9750);
	if (id == ID_C)
		return (6000);
	return (-1);
}

/* Stub (fsm.c): only B has published its digests. */
int
cfsm_published(const struct cfsm *c, uint64_t id)
{
	ck_assert_ptr_eq(c, (void *)&fake_fsm);
	return (id == ID_B);
}

/* Add a server to the fake raft's configuration. */
static void
add_server(uint64_t id, const char *addr, int role)
{
	ck_assert_int_eq(raft_configuration_add(&fake.configuration, id, addr,
	    role), 0);
}

/* Four servers: A and B voters, C standby, D spare; A follows B. */
static void
setup(void)
{
	memset(&fake, 0, sizeof(fake));
	raft_configuration_init(&fake.configuration);
	add_server(ID_A, "127.0.0.1:5270", RAFT_VOTER);
	add_server(ID_B, "[2001:db8::2]:5270", RAFT_VOTER);
	add_server(ID_C, "127.0.0.3:5270", RAFT_STANDBY);
	add_server(ID_D, "127.0.0.4:5270", RAFT_SPARE);
	fake.id = ID_A;
	fake.address = (char *)(uintptr_t)"127.0.0.1:5270";
	fake.current_term = 7;
	fake.heartbeat_timeout = 100;
	fake.election_timeout = 500;
	fake.state = RAFT_FOLLOWER;
	fake.follower_state.current_leader.id = ID_B;
	fake.follower_state.current_leader.address =
	    (char *)(uintptr_t)"[2001:db8::2]:5270";
	running = 1;
	fsm_on = 0;
}

/* Free the configuration. */
static void
teardown(void)
{
	raft_configuration_close(&fake.configuration);
}

/* Without raft there is no snapshot and no state. */
START_TEST(test_stopped)
{
	running = 0;
	ck_assert_ptr_null(cluster_status());
	ck_assert_int_eq(cluster_state_now(), -1);
	ck_assert_int_eq(cluster_addr_member("127.0.0.3"), 0);
	cluster_status_free(NULL);
	cluster_set_timers(50, 300);
	ck_assert_uint_eq(fake.heartbeat_timeout, 100);
}
END_TEST

/* A follower's snapshot: state, term, leader, members in order. */
START_TEST(test_follower)
{
	struct cluster_status	*st;

	ck_assert_int_eq(cluster_state_now(), CLUSTER_FOLLOWER);
	st = cluster_status();
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(st->state, CLUSTER_FOLLOWER);
	ck_assert_uint_eq(st->term, 7);
	ck_assert_uint_eq(st->id, ID_A);
	ck_assert_str_eq(st->addr, "127.0.0.1:5270");
	ck_assert_uint_eq(st->leader, ID_B);
	ck_assert_str_eq(st->leader_addr, "[2001:db8::2]:5270");
	ck_assert_int_eq(st->leader_heard_ms, 250);
	ck_assert_uint_eq(st->heartbeat_ms, 100);
	ck_assert_uint_eq(st->election_ms, 500);
	ck_assert_int_eq(st->since, 1000);
	ck_assert_uint_eq(st->nnodes, 4);

	ck_assert_uint_eq(st->nodes[0].id, ID_A);
	ck_assert_str_eq(st->nodes[0].addr, "127.0.0.1:5270");
	ck_assert_int_eq(st->nodes[0].role, CLUSTER_VOTER);
	ck_assert_int_eq(st->nodes[0].self, 1);
	ck_assert_int_eq(st->nodes[0].leader, 0);
	ck_assert_int_eq(st->nodes[0].heard_ms, -1);

	ck_assert_str_eq(st->nodes[1].addr, "[2001:db8::2]:5270");
	ck_assert_int_eq(st->nodes[1].role, CLUSTER_VOTER);
	ck_assert_int_eq(st->nodes[1].self, 0);
	ck_assert_int_eq(st->nodes[1].leader, 1);
	ck_assert_int_eq(st->nodes[1].heard_ms, 250);

	ck_assert_int_eq(st->nodes[2].role, CLUSTER_STANDBY);
	ck_assert_int_eq(st->nodes[2].leader, 0);
	ck_assert_int_eq(st->nodes[2].heard_ms, 4000);
	ck_assert_int_eq(st->nodes[3].role, CLUSTER_SPARE);
	ck_assert_int_eq(st->nodes[3].heard_ms, -1);

	/* No state machine: every member counts as published. */
	ck_assert_int_eq(st->nodes[0].published, 1);
	ck_assert_int_eq(st->nodes[3].published, 1);
	cluster_status_free(st);

	fsm_on = 1;
	st = cluster_status();
	ck_assert_int_eq(st->nodes[0].published, 0);
	ck_assert_int_eq(st->nodes[1].published, 1);
	ck_assert_int_eq(st->nodes[2].published, 0);
	cluster_status_free(st);
}
END_TEST

/* A leader is its own leader; a candidate knows none. */
START_TEST(test_leader_candidate)
{
	struct cluster_status	*st;

	memset(&fake.follower_state, 0, sizeof(fake.follower_state));
	fake.state = RAFT_LEADER;
	ck_assert_int_eq(cluster_state_now(), CLUSTER_LEADER);
	st = cluster_status();
	ck_assert_int_eq(st->state, CLUSTER_LEADER);
	ck_assert_uint_eq(st->leader, ID_A);
	ck_assert_str_eq(st->leader_addr, "127.0.0.1:5270");
	ck_assert_int_eq(st->nodes[0].leader, 1);
	ck_assert_int_eq(st->nodes[1].leader, 0);
	cluster_status_free(st);

	/* A leader takes new timers at once. */
	cluster_set_timers(50, 300);
	ck_assert_uint_eq(fake.heartbeat_timeout, 50);
	ck_assert_uint_eq(fake.election_timeout, 300);

	fake.state = RAFT_UNAVAILABLE;
	ck_assert_int_eq(cluster_state_now(), CLUSTER_UNAVAILABLE);
	st = cluster_status();
	ck_assert_int_eq(st->state, CLUSTER_UNAVAILABLE);
	ck_assert_uint_eq(st->leader, 0);
	ck_assert_str_eq(st->leader_addr, "");
	ck_assert_int_eq(st->leader_heard_ms, -1);
	ck_assert_int_eq(st->nodes[0].leader, 0);
	ck_assert_int_eq(st->nodes[1].leader, 0);
	cluster_status_free(st);
}
END_TEST

/*
 * Quorum contact: a follower's is when it last heard its leader; a
 * candidate has none; a leader's is when a majority of the voters (itself
 * counted as now, standbys and spares not at all) had been heard.
 */
START_TEST(test_quorum_contact)
{
	ck_assert_int_eq(cluster_quorum_contact(), 9750);
	fake.follower_state.current_leader.id = ID_C;
	ck_assert_int_eq(cluster_quorum_contact(), 6000);
	fake.follower_state.current_leader.id = ID_D;	/* never heard */
	ck_assert_int_eq(cluster_quorum_contact(), -1);
	memset(&fake.follower_state, 0, sizeof(fake.follower_state));
	ck_assert_int_eq(cluster_quorum_contact(), -1);
	fake.state = RAFT_CANDIDATE;
	ck_assert_int_eq(cluster_quorum_contact(), -1);

	/* Voters A (now) and B (9750): the second newest of two. */
	fake.state = RAFT_LEADER;
	ck_assert_int_eq(cluster_quorum_contact(), 9750);
	/* Voters A, B, C (6000), D (never): three of four, at 6000. */
	fake.configuration.servers[2].role = RAFT_VOTER;
	fake.configuration.servers[3].role = RAFT_VOTER;
	ck_assert_int_eq(cluster_quorum_contact(), 6000);
	/* Voters A, B, C: two of three were heard by 9750. */
	fake.configuration.servers[3].role = RAFT_SPARE;
	ck_assert_int_eq(cluster_quorum_contact(), 9750);
	/* Voters A, C, D: A and C, at 6000. */
	fake.configuration.servers[1].role = RAFT_STANDBY;
	fake.configuration.servers[3].role = RAFT_VOTER;
	ck_assert_int_eq(cluster_quorum_contact(), 6000);
	/* Voters A and D: D never heard, one of two is no majority. */
	fake.configuration.servers[2].role = RAFT_STANDBY;
	ck_assert_int_eq(cluster_quorum_contact(), -1);
	running = 0;
	ck_assert_int_eq(cluster_quorum_contact(), -1);
}
END_TEST

/* Servers by address and id; member hosts with and without brackets. */
START_TEST(test_lookup)
{
	const struct raft_server	*s;

	ck_assert_ptr_nonnull(s = cluster_server_by_addr("127.0.0.3:5270"));
	ck_assert_uint_eq(s->id, ID_C);
	ck_assert_ptr_null(cluster_server_by_addr("127.0.0.3:5271"));
	ck_assert_ptr_nonnull(s = cluster_server_by_id(ID_B));
	ck_assert_str_eq(s->address, "[2001:db8::2]:5270");
	ck_assert_ptr_null(cluster_server_by_id(0x55));
	ck_assert_int_eq(cluster_addr_member("2001:db8::2"), 1);
	ck_assert_int_eq(cluster_addr_member("127.0.0.4"), 1);
	ck_assert_int_eq(cluster_addr_member("127.0.0.5"), 0);
	ck_assert_int_eq(cluster_addr_member("127.0.0."), 0);
	/* Stopped: the configuration is still there, membership is not. */
	running = 0;
	ck_assert_ptr_nonnull(cluster_server_by_id(ID_D));
	ck_assert_int_eq(cluster_addr_member("127.0.0.4"), 0);
}
END_TEST

/* The suite. */
static Suite *
status_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("cluster_status");
	tc = tcase_create("snapshot");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_stopped);
	tcase_add_test(tc, test_follower);
	tcase_add_test(tc, test_leader_candidate);
	tcase_add_test(tc, test_lookup);
	tcase_add_test(tc, test_quorum_contact);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status counts failures. */
int
main(void)
{
	return (unit_run(status_suite()));
}
