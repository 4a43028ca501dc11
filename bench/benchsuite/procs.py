# SPDX-License-Identifier: MIT
"""Process trees, CPU time and memory of servers, read from /proc."""
import os
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name, or None if the process is gone.

    The name may contain spaces and parentheses, so the split happens after its last ')'.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()
    except OSError:
        return None


def is_running(pid):
    """True unless the process is gone or a zombie (an exited server we have not reaped)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def group_members(pgid):
    """Live (non-zombie) processes of a process group. Orphaned zombies are skipped: PID 1 on
    these machines does not always reap them."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(entry)
            if fields is not None and int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry))
    return members


def descendants(root):
    """Every live (non-zombie) descendant of root: workers and their children."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(entry)
            if fields is not None and fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)


def process_ticks(pid):
    """utime+stime (stat fields 14, 15, all threads) plus cutime+cstime (16, 17), so a worker
    that exits and is reaped during a run still counts."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0
    return sum(int(v) for v in fields[11:15])


def tree_cpu_seconds(root):
    return sum(process_ticks(pid) for pid in [root] + descendants(root)) / CLK_TCK


def rss_kib(pid):
    """VmRSS of one process in KiB, or 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss(root):
    """{'master': KiB, 'workers': {pid: KiB}} for a server's process tree."""
    return {"master": rss_kib(root), "workers": {pid: rss_kib(pid) for pid in descendants(root)}}


def _cpu_idle_and_total():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return values[3] + values[4], sum(values[:8])  # idle + iowait; guest time is in user already


def idle_fraction(interval=1.0):
    """The share of all CPUs' time spent idle over the next interval seconds."""
    idle0, total0 = _cpu_idle_and_total()
    time.sleep(interval)
    idle1, total1 = _cpu_idle_and_total()
    return (idle1 - idle0) / max(1, total1 - total0)


def wait_for_quiet_machine(min_idle, max_wait, log):
    """Waits until the machine is mostly idle, so another job's load does not skew a run.

    Returns the last idle fraction measured; warns and goes on after max_wait seconds."""
    deadline = time.monotonic() + max_wait
    while True:
        idle = idle_fraction()
        if idle >= min_idle:
            return idle
        if time.monotonic() >= deadline:
            log(
                f"warning: the machine is busy (CPU idle {idle:.0%} < {min_idle:.0%} "
                f"after {max_wait:.0f} s); measuring anyway"
            )
            return idle
        log(f"waiting for a quiet machine (CPU idle {idle:.0%})")


def raise_nofile_limit():
    """Soft RLIMIT_NOFILE up to the hard limit; children (servers, wrk) inherit it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard
