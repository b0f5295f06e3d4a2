#!/usr/bin/python3
"""make bench: what a server spends over a window of a driver's run.

    measure.py -p PID -o OUT.json [-m MALLOC_FILE] [-e REGEX] [-d DELAY]
               [-w SECS] [-x DRIVER_STDOUT] -- DRIVER ARGS...

Runs the driver (xmppload, tsung or floordrive), copying its standard
error to ours. The window opens DELAY seconds after a line of its standard
error matches REGEX (or after its start without -e) and lasts SECS. Over
the window it takes, for the server PID: CPU user and system seconds from
/proc/PID/stat, system calls from `perf stat -e raw_syscalls:sys_enter -p
PID` (strace -c -f if perf cannot), heap allocations from the counters of
bench/malloc_count.so (MALLOC_FILE) and RSS. The per-message figures are
made by bench/report.sh from these and from the driver's own count of
messages in the window. Bounded: the driver is stopped (SIGTERM, then
SIGKILL) after 900 s.
"""
import getopt
import json
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time

MAX_SECS = 900
TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """(user, system) CPU seconds of pid, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    v = s[s.rindex(")") + 2:].split()
    return int(v[11]) / TCK, int(v[12]) / TCK


def proc_rss(pid):
    """Resident set in KiB, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def mallocs(path):
    """The counters of bench/malloc_count.so, or None."""
    try:
        with open(path, "rb") as f:
            b = f.read(56)
    except (OSError, TypeError):
        return None
    if len(b) < 56 or b[:8] != b"mallocnt":
        return None
    v = struct.unpack("=6Q", b[8:56])
    return dict(zip(("malloc", "calloc", "realloc", "memalign", "free"),
                    v[:5]))


def syscalls(pid, secs):
    """System calls of pid over secs seconds, and the tool that counted."""
    try:
        p = subprocess.run(["perf", "stat", "-x,", "-e",
                            "raw_syscalls:sys_enter", "-p", str(pid),
                            "--", "sleep", str(secs)],
                           capture_output=True, text=True, timeout=secs + 30)
        for line in p.stderr.splitlines():
            f = line.split(",")
            if len(f) > 2 and "raw_syscalls:sys_enter" in line and \
                    f[0].strip().isdigit():
                return int(f[0]), "perf"
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        p = subprocess.Popen(["strace", "-c", "-f", "-p", str(pid)],
                             stderr=subprocess.PIPE, text=True)
        time.sleep(secs)
        p.send_signal(signal.SIGINT)
        out = p.communicate(timeout=30)[1]
        for line in out.splitlines():
            if line.strip().endswith("total"):
                return int(line.split()[2]), "strace"
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        pass
    return None, None


def main():
    opts, cmd = getopt.getopt(sys.argv[1:], "d:e:m:o:p:w:x:")
    o = dict(opts)
    pid = int(o["-p"])
    delay = float(o.get("-d", "1"))
    secs = float(o.get("-w", "5"))
    pat = re.compile(o["-e"]) if "-e" in o else None
    mfile = o.get("-m")
    stdout = open(o["-x"], "w") if "-x" in o else subprocess.DEVNULL
    t_start = time.monotonic()
    drv = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE,
                           text=True, errors="replace")
    go = threading.Event()
    if pat is None:
        go.set()

    def pump():
        for line in drv.stderr:
            sys.stderr.write(line)
            sys.stderr.flush()
            if pat is not None and pat.search(line):
                go.set()
    th = threading.Thread(target=pump, daemon=True)
    th.start()

    def stop_driver():
        if drv.poll() is None:
            drv.terminate()
            try:
                drv.wait(20)
            except subprocess.TimeoutExpired:
                drv.kill()
                drv.wait()

    r = {"pid": pid, "window_s": None}
    while not go.wait(0.1):
        if drv.poll() is not None or time.monotonic() - t_start > MAX_SECS:
            break
    if go.is_set() and drv.poll() is None:
        time.sleep(delay)
        c0, m0, t0 = proc_cpu(pid), mallocs(mfile), time.monotonic()
        r["t_open_s"] = t0 - t_start
        n, tool = syscalls(pid, secs)
        c1, m1, t1 = proc_cpu(pid), mallocs(mfile), time.monotonic()
        r.update({"window_s": t1 - t0, "syscalls": n, "syscall_tool": tool,
                  "rss_kib": proc_rss(pid)})
        if c0 and c1:
            r["cpu_user_s"] = c1[0] - c0[0]
            r["cpu_sys_s"] = c1[1] - c0[1]
        if m0 and m1:
            r["allocs"] = sum(m1[k] - m0[k] for k in
                              ("malloc", "calloc", "realloc", "memalign"))
            r["malloc_counts"] = {k: m1[k] - m0[k] for k in m1}
    left = MAX_SECS - (time.monotonic() - t_start)
    try:
        drv.wait(max(left, 1))
    except subprocess.TimeoutExpired:
        sys.stderr.write("measure: driver over %d s: stopped\n" % MAX_SECS)
        stop_driver()
    th.join(5)
    r["driver_status"] = drv.returncode
    with open(o["-o"], "w") as f:
        json.dump(r, f)
        f.write("\n")
    if r["window_s"] is None:
        sys.stderr.write("measure: the window never opened\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
