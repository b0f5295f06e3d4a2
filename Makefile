# mmp: the management shell (mmp) and its daemon (mmpd).
# Non-recursive GNU make; every library comes through pkg-config.
#
#   make                 build mmp and mmpd at the top of the tree
#   make check [SAN=1]   unit, regress, man-page and expect tests
#   make run             set up, build, start a local mmpd and open mmp
#   make install         PREFIX=/usr/local DESTDIR= (make uninstall)
#   make valgrind        the regress suite with mmpd under valgrind
#   make fuzz [FUZZ_SECONDS=n] [FUZZ_TARGETS="xml sasl fsm msg hello"]
#                        build the libFuzzer targets of tests/fuzz/ with
#                        clang (ASan+UBSan) in obj-fuzz/ and run each for
#                        n seconds (default 60); make check replays their
#                        seed corpora with the ordinary compiler

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
UNITDIR	?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SSHDCONFDIR ?= /etc/ssh/sshd_config.d
PKG_CONFIG ?= pkg-config

CC	?= cc
CFLAGS	?= -O2 -g
WARN	 = -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
	   -Wpointer-arith -Wcast-qual -Wformat=2
CPPFLAGS += -D_GNU_SOURCE -Icommon -Ipki -Idaemon -Ishell

ifeq ($(SAN),1)
O	 = obj-san
CFLAGS	+= -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
else
O	 = obj
endif

PKGS_COMMON = libbsd-overlay
PKGS_MMP    = $(PKGS_COMMON) libedit
PKGS_MMPD   = $(PKGS_COMMON) libevent libevent_openssl sqlite3 libssl \
	      libcrypto libxml-2.0 raft libuv
PKGS_CHECK  = $(PKGS_MMPD) check

pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1))
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1))

COMMON_SRCS = common/cmdtab.c common/log.c common/msg.c common/util.c \
	      common/xmalloc.c
MMP_SRCS    = shell/mmp.c shell/client.c shell/edit.c shell/json.c \
	      shell/json_grammar.c shell/json_value.c
MMPD_SRCS   = daemon/mmpd.c daemon/control.c daemon/db.c daemon/cmd.c \
	      daemon/db_config.c daemon/db_user.c daemon/db_backup.c \
	      daemon/db_offline.c daemon/xmpp/offline.c \
	      daemon/cmd_misc.c daemon/cmd_xmpp.c daemon/cmd_callbridge.c \
	      daemon/cmd_pki.c daemon/cmd_user.c daemon/cmd_sysuser.c \
	      daemon/worker.c daemon/tls.c daemon/reaper.c \
	      daemon/xml/tree.c daemon/xml/parser.c daemon/xml/scan.c \
	      daemon/xml/sax.c daemon/xmpp/server.c \
	      daemon/xmpp/stream.c daemon/xmpp/xio.c daemon/xmpp/c2s.c \
	      daemon/xmpp/comp.c daemon/xmpp/unsent.c daemon/xmpp/sm.c \
	      daemon/xmpp/router.c daemon/xmpp/presence.c daemon/xmpp/jid.c \
	      daemon/xmpp/carbons.c \
	      daemon/xmpp/conn.c daemon/xmpp/roster.c daemon/cluster/hooks.c \
	      daemon/xmpp/sasl.c daemon/addrkey.c daemon/addrlimit.c \
	      daemon/cluster/raft.c daemon/cluster/node.c \
	      daemon/cluster/replicate.c daemon/cluster/status.c \
	      daemon/cluster/req.c daemon/cluster/net.c \
	      daemon/cluster/hello.c daemon/cluster/dial.c daemon/cluster/trust.c \
	      daemon/cluster/fsm_codec.c daemon/cluster/fsm_snap.c \
	      daemon/cluster/fsm_secret.c daemon/cluster/fsm_session.c \
	      daemon/cluster/fsm_offline.c \
	      daemon/cluster/member.c daemon/cluster/submit.c \
	      daemon/cluster/uv.c daemon/cluster/fsm.c daemon/cluster/follower.c \
	      daemon/cluster/leader.c daemon/cluster/link.c daemon/cluster/fwd.c \
	      daemon/cluster/settle.c \
	      daemon/cluster/relay.c daemon/cluster/pseudo.c \
	      daemon/cluster/smtab.c daemon/cluster/smlead.c \
	      daemon/cluster/smup.c daemon/cluster/smcopy.c \
	      daemon/cluster/view.c daemon/cmd_cluster.c \
	      daemon/cmd_cluster_status.c \
	      daemon/cmd_backup.c daemon/cmd_dns.c daemon/dns.c \
	      daemon/cmd_syslog.c daemon/syslog_remote.c \
	      pki/pki.c pki/pki_attr.c pki/pki_gen.c pki/pki_cert.c \
	      pki/pki_chain.c pki/pki_conv.c

COMMON_OBJS = $(COMMON_SRCS:%.c=$(O)/%.o)
# The XMPP stream parser (xml/xml.h), for the tests that link it alone.
XP_OBJS     = $(O)/daemon/xml/parser.o $(O)/daemon/xml/scan.o \
	      $(O)/daemon/xml/sax.o
# mmp -j (shell/json_int.h).
JSON_OBJS   = $(O)/shell/json.o $(O)/shell/json_grammar.o \
	      $(O)/shell/json_value.o
MMP_OBJS    = $(MMP_SRCS:%.c=$(O)/%.o)
MMPD_OBJS   = $(MMPD_SRCS:%.c=$(O)/%.o)

UNIT_TESTS  = check_cmdtab check_msg check_db check_pki_attr check_pki_cert \
	      check_xml check_sasl check_cluster_fsm check_cluster_pin \
	      check_addrkey check_log check_cluster_view check_json check_logring \
	      check_router check_addrlimit check_cluster_link \
	      check_cluster_status check_cluster_session check_unsent \
	      check_cluster_smtab
UNIT_TESTS += check_control check_sm
UNIT_BINS   = $(UNIT_TESTS:%=$(O)/tests/unit/%)

ALL_OBJS = $(COMMON_OBJS) $(MMP_OBJS) $(MMPD_OBJS) \
	   $(UNIT_TESTS:%=$(O)/tests/unit/%.o) $(O)/tests/unit/stub_store.o

.PHONY: all check unit regress expect mantest run stop install uninstall \
	clean \
	valgrind regress-update setup bench interop layering faults

all: mmp mmpd

# The top-level binaries are copies of the variant just built, so that
# `make check SAN=1` and `make` never mix objects.
mmp: $(O)/mmp FORCE
	@cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }
mmpd: $(O)/mmpd FORCE
	@cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }
FORCE:

$(O)/mmp: $(COMMON_OBJS) $(MMP_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_MMP))

$(O)/mmpd: $(COMMON_OBJS) $(MMPD_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_MMPD)) -lresolv

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP \
	    $(call pc_cflags,$(PKGS_CHECK) libedit) -c -o $@ $<

# Every unit test's main() hands its suite to unit_run (tests/unit/unit.h):
# unit.o joins each test's objects ($^ of its own rule below).
$(UNIT_BINS): $(O)/tests/unit/unit.o
ALL_OBJS += $(O)/tests/unit/unit.o

$(O)/tests/unit/check_cmdtab: $(O)/tests/unit/check_cmdtab.o $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_msg: $(O)/tests/unit/check_msg.o $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_db: $(O)/tests/unit/check_db.o $(O)/daemon/db.o \
    $(O)/daemon/db_config.o $(O)/daemon/db_user.o $(O)/daemon/db_backup.o \
    $(O)/daemon/db_offline.o \
    $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))

$(O)/tests/unit/check_pki_attr: $(O)/tests/unit/check_pki_attr.o \
    $(O)/pki/pki_attr.o $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_pki_cert: $(O)/tests/unit/check_pki_cert.o \
    $(O)/pki/pki_cert.o $(O)/pki/pki_chain.o $(O)/pki/pki_conv.o \
    $(O)/pki/pki.o $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))

$(O)/tests/unit/check_xml: $(O)/tests/unit/check_xml.o $(O)/daemon/xml/tree.o \
    $(XP_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_sasl: $(O)/tests/unit/check_sasl.o \
    $(O)/daemon/xmpp/sasl.o $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
# The router, presence and roster code alone: a store in memory, no
# streams, no cluster.
$(O)/tests/unit/check_router: $(O)/tests/unit/check_router.o \
    $(O)/tests/unit/stub_store.o $(O)/daemon/xmpp/router.o \
    $(O)/daemon/xmpp/carbons.o \
    $(O)/daemon/xmpp/presence.o $(O)/daemon/xmpp/roster.o \
    $(O)/daemon/xmpp/offline.o \
    $(O)/daemon/xmpp/conn.o $(O)/daemon/xmpp/jid.o \
    $(O)/daemon/xml/tree.o $(XP_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))

# The replicated state machine, and the helpers its three tests share.
CFSM_OBJS   = $(O)/daemon/cluster/fsm.o $(O)/daemon/cluster/fsm_codec.o \
	      $(O)/daemon/cluster/fsm_snap.o $(O)/daemon/cluster/fsm_secret.o \
	      $(O)/daemon/cluster/fsm_session.o $(O)/daemon/cluster/fsm_offline.o
CFSM_TEST_OBJS = $(O)/tests/unit/cfsm_helpers.o $(CFSM_OBJS)
ALL_OBJS += $(O)/tests/unit/cfsm_helpers.o

$(O)/tests/unit/check_cluster_fsm: $(O)/tests/unit/check_cluster_fsm.o \
    $(CFSM_TEST_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_cluster_pin: $(O)/tests/unit/check_cluster_pin.o \
    $(CFSM_TEST_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_cluster_view: $(O)/tests/unit/check_cluster_view.o \
    $(CFSM_TEST_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_cluster_session: $(O)/tests/unit/check_cluster_session.o \
    $(CFSM_TEST_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_cluster_link: $(O)/tests/unit/check_cluster_link.o \
    $(O)/daemon/cluster/link.o $(O)/daemon/reaper.o $(O)/daemon/xml/tree.o \
    $(XP_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_cluster_smtab: $(O)/tests/unit/check_cluster_smtab.o \
    $(O)/daemon/cluster/smtab.o $(O)/daemon/xml/tree.o $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_unsent: $(O)/tests/unit/check_unsent.o \
    $(O)/daemon/xmpp/unsent.o $(O)/daemon/xml/tree.o $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_sm: $(O)/tests/unit/check_sm.o $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_cluster_status: $(O)/tests/unit/check_cluster_status.o \
    $(O)/daemon/cluster/status.o $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))

# --- fuzzing (tests/fuzz/README) ---
# Each target's LLVMFuzzerTestOneInput is linked twice: with replay.c by
# the ordinary compiler (make check, make check SAN=1 replay the seed
# corpora in tests/fuzz/corpus/<target>/), and with libFuzzer by clang
# (make fuzz, in a sub-make whose objects go to obj-fuzz/).
FUZZ_TARGETS ?= xml sasl fsm msg hello
FUZZ_SECONDS ?= 60
FUZZ_ALL     = xml sasl fsm msg hello
FUZZ_SUPPORT = $(O)/tests/fuzz/fuzz.o $(O)/common/xmalloc.o $(O)/common/util.o
FUZZ_OBJS_xml  = $(O)/daemon/xml/tree.o $(XP_OBJS)
FUZZ_OBJS_sasl = $(O)/daemon/xmpp/sasl.o
FUZZ_OBJS_fsm  = $(CFSM_OBJS)
FUZZ_OBJS_msg  = $(O)/common/msg.o
FUZZ_OBJS_hello = $(O)/daemon/cluster/hello.o
FUZZ_REPLAY  = $(FUZZ_ALL:%=$(O)/tests/fuzz/replay_%)
FUZZ_CFLAGS  = -O1 -g -fno-omit-frame-pointer \
	       -fsanitize=fuzzer-no-link,address,undefined \
	       -fno-sanitize-recover=undefined
FUZZ_LDFLAGS = -fsanitize=address,undefined

ALL_OBJS += $(FUZZ_ALL:%=$(O)/tests/fuzz/fuzz_%.o) $(O)/tests/fuzz/fuzz.o \
	    $(O)/tests/fuzz/replay.o

# make check runs tests/fuzz/replay (from tests/run-all) over these.
check: $(FUZZ_REPLAY)

$(O)/tests/fuzz/replay_xml: $(O)/tests/fuzz/fuzz_xml.o \
    $(O)/tests/fuzz/replay.o $(FUZZ_OBJS_xml) $(FUZZ_SUPPORT)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_MMPD))
$(O)/tests/fuzz/replay_sasl: $(O)/tests/fuzz/fuzz_sasl.o \
    $(O)/tests/fuzz/replay.o $(FUZZ_OBJS_sasl) $(FUZZ_SUPPORT)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_MMPD))
$(O)/tests/fuzz/replay_fsm: $(O)/tests/fuzz/fuzz_fsm.o \
    $(O)/tests/fuzz/replay.o $(FUZZ_OBJS_fsm) $(FUZZ_SUPPORT)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_MMPD))
$(O)/tests/fuzz/replay_msg: $(O)/tests/fuzz/fuzz_msg.o \
    $(O)/tests/fuzz/replay.o $(FUZZ_OBJS_msg) $(FUZZ_SUPPORT)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_MMPD))
$(O)/tests/fuzz/replay_hello: $(O)/tests/fuzz/fuzz_hello.o \
    $(O)/tests/fuzz/replay.o $(FUZZ_OBJS_hello) $(FUZZ_SUPPORT)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_MMPD))

# Only in the sub-make of make fuzz (CC=clang, O=obj-fuzz).
$(O)/tests/fuzz/fuzz_xml: $(O)/tests/fuzz/fuzz_xml.o $(FUZZ_OBJS_xml) \
    $(FUZZ_SUPPORT)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(call pc_libs,$(PKGS_MMPD))
$(O)/tests/fuzz/fuzz_sasl: $(O)/tests/fuzz/fuzz_sasl.o $(FUZZ_OBJS_sasl) \
    $(FUZZ_SUPPORT)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(call pc_libs,$(PKGS_MMPD))
$(O)/tests/fuzz/fuzz_fsm: $(O)/tests/fuzz/fuzz_fsm.o $(FUZZ_OBJS_fsm) \
    $(FUZZ_SUPPORT)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(call pc_libs,$(PKGS_MMPD))
$(O)/tests/fuzz/fuzz_msg: $(O)/tests/fuzz/fuzz_msg.o $(FUZZ_OBJS_msg) \
    $(FUZZ_SUPPORT)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(call pc_libs,$(PKGS_MMPD))
$(O)/tests/fuzz/fuzz_hello: $(O)/tests/fuzz/fuzz_hello.o \
    $(FUZZ_OBJS_hello) $(FUZZ_SUPPORT)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(call pc_libs,$(PKGS_MMPD))

.PHONY: fuzz fuzz-build fuzz-replay

fuzz-replay: $(FUZZ_REPLAY)
	@O=$(O) sh tests/fuzz/replay

fuzz-build: $(FUZZ_TARGETS:%=$(O)/tests/fuzz/fuzz_%)

fuzz:
	@$(MAKE) --no-print-directory O=obj-fuzz CC=clang \
	    CFLAGS="$(FUZZ_CFLAGS)" LDFLAGS="$(FUZZ_LDFLAGS)" SAN= \
	    FUZZ_TARGETS="$(FUZZ_TARGETS)" fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run $(FUZZ_TARGETS)
# --- end of fuzzing ---

$(O)/tests/unit/check_addrkey: $(O)/tests/unit/check_addrkey.o \
    $(O)/daemon/addrkey.o $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_addrlimit: $(O)/tests/unit/check_addrlimit.o \
    $(O)/daemon/addrlimit.o $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_log: $(O)/tests/unit/check_log.o $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_json: $(O)/tests/unit/check_json.o $(JSON_OBJS) \
    $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_logring: $(O)/tests/unit/check_logring.o \
    $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))
$(O)/tests/unit/check_control: $(O)/tests/unit/check_control.o \
    $(O)/daemon/control.o $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(PKGS_CHECK))

-include $(ALL_OBJS:.o=.d)

# The whole suite, in the order DESIGN.md gives; one summary line at the end.
check: all $(UNIT_BINS) $(O)/bench/xmppload
	@O=$(O) sh tests/run-all $(UNIT_BINS) tests/unit/xmppload-smoke \
	    tests/unit/syscalls-smoke tests/unit/headers.sh

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do $$t || exit 1; done

regress: all
	@sh tests/regress/run

regress-update: all
	@UPDATE=1 sh tests/regress/run

expect: all
	@sh tests/expect/run

interop: all
	@sh tests/interop/run

# The fault-injection test, one long run (make check runs its short form):
# make faults DURATION=<s> SEED=<n> [NODES=3|5] [KINDS=kill,pause,...].
faults: all
	@DURATION=$(DURATION) SEED=$(SEED) NODES=$(NODES) KINDS=$(KINDS) \
	    sh tests/faults/run long

mantest:
	@sh tests/mantest.sh

# No cluster in the XMPP core, no libraft outside the cluster (the raft
# part needs the objects). LAYERING_ALLOW="x.o" lets an object pass.
layering: all
	@O=$(O) sh tests/layering.sh

valgrind: all
	@rm -f $(O)/valgrind.*.log
	@MMPD_WRAPPER="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$(CURDIR)/$(O)/valgrind.%p.log" \
	    sh tests/regress/run && \
	    if cat $(O)/valgrind.*.log 2>/dev/null | grep -q .; then \
		cat $(O)/valgrind.*.log; exit 1; \
	    else echo "valgrind: no leaks or errors from mmpd"; fi

# Speed, side by side with a peer; never part of make check.
bench: all $(O)/bench/xmppload $(O)/bench/floor $(O)/bench/floordrive \
    $(O)/bench/malloc_count.so
	@sh bench/run

# The XMPP load generator of make bench (and of its smoke test).
XL_OBJS = $(O)/bench/xmppload_main.o $(O)/bench/xmppload_util.o \
	  $(O)/bench/xmppload_sess.o $(O)/bench/xmppload_client.o \
	  $(O)/bench/xmppload_run.o $(O)/bench/benchutil.o
$(O)/bench/xmppload: $(XL_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ \
	    $(call pc_libs,libevent libevent_openssl libssl libcrypto)

# The floor of make bench: a bare TLS relay and its driver.
$(O)/bench/floor: $(O)/bench/floor.o
	$(CC) $(LDFLAGS) -o $@ $^ \
	    $(call pc_libs,libevent libevent_openssl libssl libcrypto)
$(O)/bench/floordrive: $(O)/bench/floordrive.o $(O)/bench/benchutil.o
	$(CC) $(LDFLAGS) -o $@ $^ \
	    $(call pc_libs,libevent libevent_openssl libssl libcrypto)

# The allocation counter make bench preloads into each server; never
# built with the sanitizers (they replace malloc themselves).
$(O)/bench/malloc_count.so: bench/malloc_count.c
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O2 $(WARN) -o $@ bench/malloc_count.c -ldl

setup:
	@sh scripts/setup

# Set up, build, start a daemon with its state under ./run/, open the shell.
run: setup
	@$(MAKE) --no-print-directory all
	@sh scripts/run

# Stop the daemon that make run started.
stop:
	@if [ -f run/mmpd.pid ] && kill "$$(cat run/mmpd.pid)" 2>/dev/null; then \
		echo "stop: mmpd stopped"; rm -f run/mmpd.pid; \
	else echo "stop: no mmpd from make run is running"; fi

# The programs, their manuals, the systemd unit and the system user it
# runs as. On a live system (no DESTDIR) the user is created at once;
# `make uninstall` leaves the user and the data in /var/lib/mmp alone.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	    $(DESTDIR)$(SSHDCONFDIR)
	install -m 0755 mmp $(DESTDIR)$(BINDIR)/mmp
	install -m 0755 mmpd $(DESTDIR)$(SBINDIR)/mmpd
	install -m 0755 dist/mmp-sshroot $(DESTDIR)$(SBINDIR)/mmp-sshroot
	install -m 0644 man/mmp.8 man/mmpd.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/mmpd.service \
	    >$(DESTDIR)$(UNITDIR)/mmpd.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/mmpd.service.tmp
	mv -f $(DESTDIR)$(UNITDIR)/mmpd.service.tmp \
	    $(DESTDIR)$(UNITDIR)/mmpd.service
	install -m 0644 dist/mmp.sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/mmp.conf
	install -m 0644 dist/mmp.tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/mmp.conf
	install -m 0644 dist/sshd-mmp.conf $(DESTDIR)$(SSHDCONFDIR)/mmp.conf
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; \
	then systemd-sysusers $(SYSUSERSDIR)/mmp.conf && \
	    $(SBINDIR)/mmp-sshroot -m $(BINDIR)/mmp /srv/mmp && \
	    systemd-tmpfiles --create $(TMPFILESDIR)/mmp.conf && \
	    echo "install: now run: systemctl daemon-reload &&" \
		"systemctl enable --now mmpd && systemctl reload ssh"; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mmp $(DESTDIR)$(SBINDIR)/mmpd \
	    $(DESTDIR)$(MANDIR)/man8/mmp.8 $(DESTDIR)$(MANDIR)/man8/mmpd.8 \
	    $(DESTDIR)$(UNITDIR)/mmpd.service \
	    $(DESTDIR)$(SYSUSERSDIR)/mmp.conf \
	    $(DESTDIR)$(TMPFILESDIR)/mmp.conf \
	    $(DESTDIR)$(SSHDCONFDIR)/mmp.conf \
	    $(DESTDIR)$(SBINDIR)/mmp-sshroot

clean:
	rm -rf obj obj-san obj-fuzz mmp mmpd tests/regress/out
