#!/usr/bin/env python3
"""Sorts `perf script` samples of the gateway into subsystems (bench/profile.sh calls it).

A sample belongs to the nearest owner on its stack, walking from the leaf towards the root: JSON parsing
under the validator counts as validation, socket writes under HttpClient as the upstream leg, a page
zeroed by ext4 under SQLite as the ledger. Samples with no owner on the stack go by thread name
(GC, JIT, the file watcher) or count as runtime/kernel.
usage: profile-subsystems.py PERF_SCRIPT_OUTPUT H2LOAD_OUTPUT COMMAND [SAMPLED_SECONDS FREQUENCY] [--beside PERF H2LOAD] > profile.md
With the sampled seconds and perf's frequency, each subsystem is also given in CPU microseconds per stream
(samples / frequency / streams sampled), a figure to set beside the bench's CPU per stream. With --beside, a second
profile (the bare YARP pass-through's, taken the same way) gets its own column and the difference.
"""
import collections, datetime, re, sys

# (subsystem, pattern over "symbol (dso)"), first match from the leaf wins; order breaks ties within a frame.
OWNERS = [
    ("JIT", r"libclrjit"),
    ("GC", r"\b(WKS|SVR)::|gc_heap|GCHeap::"),
    ("ledger: SQLite / Npgsql, commit and fsync", r"libe_sqlite3|\bsqlite3|Microsoft\.Data\.Sqlite|SQLitePCL|Npgsql"),
    ("ledger: OmniGateway.Usage", r"OmniGateway\.Usage"),
    ("logging: Serilog", r"Serilog|Microsoft\.Extensions\.Logging"),
    ("metrics: OpenTelemetry", r"OpenTelemetry|System\.Diagnostics\.Metrics"),
    ("validation", r"OmniGateway\.Validation"),
    ("auth and tenants", r"OmniGateway\.(Auth|Tenants)"),
    ("rate limiting", r"OmniGateway\.RateLimiting|System\.Threading\.RateLimiting"),
    ("relay and forwarder setup (OmniGateway.Proxy)", r"OmniGateway\.Proxy"),
    ("other OmniGateway", r"OmniGateway\."),
    ("YARP forwarder", r"Yarp\."),
    ("HttpClient (upstream leg)", r"System\.Net\.Http"),
    ("Kestrel and ASP.NET Core (client leg)", r"Microsoft\.AspNetCore"),
]
THREADS = [
    ("GC", r"GC"),
    ("JIT", r"Tiered|JIT"),
    ("configuration file watcher", r"File Watch"),
]
# A kernel sample whose user-space stack did not unwind (libc's syscall wrappers keep no frame pointer, so
# SQLite's fsync and Kestrel's sendto lose their callers) goes by the system call on its kernel stack.
KERNEL = [
    ("kernel: file writes, fsync and locks (the ledger's SQLite files)", r"__x64_sys_(fsync|fdatasync|pwrite64|pread64|fcntl|ftruncate|fallocate|write)\b"),
    ("kernel: socket I/O (both legs, loopback delivery included)", r"__x64_sys_(sendto|recvfrom|sendmsg|recvmsg|epoll_wait|epoll_pwait|accept4|connect)\b"),
    ("kernel: scheduler and wake-ups (sched_yield, futex)", r"__x64_sys_(sched_yield|futex|nanosleep|clock_nanosleep)\b"),
]
COMPILED = [(name, re.compile(p)) for name, p in OWNERS]
KERNEL_COMPILED = [(name, re.compile(p)) for name, p in KERNEL]
THREADS_COMPILED = [(name, re.compile(p)) for name, p in THREADS]

def samples(path):
    comm, frames = None, []
    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                if comm is not None:
                    yield comm, frames
                comm, frames = None, []
            elif not line[0].isspace():
                # "comm  pid/tid  time: period event:" — the thread name may contain spaces
                m = re.match(r"^(.*?)\s+\d+(/\d+)?\s", line)
                comm, frames = (m.group(1) if m else line.split()[0]), []
            else:
                parts = line.strip().split(None, 1)
                frames.append(parts[1] if len(parts) > 1 else parts[0])
    if comm is not None:
        yield comm, frames

def classify(comm, frames):
    for frame in frames:  # leaf first
        for name, pattern in COMPILED:
            if pattern.search(frame):
                return name
    for name, pattern in THREADS_COMPILED:
        if pattern.search(comm):
            return name
    if frames and "kernel" in frames[0]:
        for frame in frames:
            for name, pattern in KERNEL_COMPILED:
                if pattern.search(frame):
                    return name
        return "unowned: kernel (interrupts, page faults, preemption)"
    return "unowned: runtime, thread pool, libc"

def tally(perf):
    """Samples per subsystem, per subsystem in the kernel, per thread name, and in all."""
    by_subsystem, by_thread, kernel = collections.Counter(), collections.Counter(), collections.Counter()
    total = 0
    for comm, frames in samples(perf):
        total += 1
        name = classify(comm, frames)
        by_subsystem[name] += 1
        by_thread[comm] += 1
        if frames and "kernel" in frames[0]:
            kernel[name] += 1
    return by_subsystem, by_thread, kernel, total

def load_rate(h2load):
    text = open(h2load, errors="replace").read()
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", text)
    ok = re.search(r"(\d+) succeeded", text)
    return (float(rate.group(1)) if rate else None), (ok.group(1) if ok else "?")

def main():
    args = sys.argv[1:]
    beside = None
    if "--beside" in args:
        at = args.index("--beside")
        beside = args[at + 1:at + 3]
        del args[at:at + 3]
    perf, h2load, command = args[0], args[1], args[2]
    seconds, frequency = (float(args[3]), float(args[4])) if len(args) > 4 else (None, None)
    by_subsystem, by_thread, kernel, total = tally(perf)
    rate, ok = load_rate(h2load)
    out = []
    out.append("# Gateway CPU profile by subsystem")
    out.append("")
    out.append(f"Taken {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC with `{command}` "
               "(perf record -F 499 -g on every gateway thread, DOTNET_PerfMapEnabled=1 and DOTNET_EnableWriteXorExecute=0 for named JIT frames; "
               "h2load, 32 connections, 12 text deltas per stream, no event delay; SQLite ledger under the content root).")
    out.append(f"{total} samples; load during sampling: {rate if rate else '?'} streams/s, {ok} streams.")
    out.append("A sample belongs to the nearest owner on its stack, from the leaf up (bench/profile-subsystems.py);")
    out.append("\"in kernel\" is the part of it spent in the kernel (fsync, socket I/O, page zeroing, wake-ups).")
    # CPU µs per stream: each sample stands for 1/frequency seconds of one thread's CPU.
    per_stream = 1e6 / frequency / (rate * seconds) if seconds and rate else None
    yarp = None
    if beside and per_stream:
        yarp_subsystem, _, _, yarp_total = tally(beside[0])
        yarp_rate, yarp_ok = load_rate(beside[1])
        if yarp_rate:
            yarp = (yarp_subsystem, yarp_total, 1e6 / frequency / (yarp_rate * seconds))
            out.append(f"Beside it, the bare YARP pass-through (bench/OmniGateway.Bench.PassThrough) sampled the same way right after: "
                       f"{yarp_total} samples at {yarp_rate} streams/s. Perf's own overhead rises with the sampled process's CPU, "
                       "so both columns read high against bench/run.sh's figures from /proc; their difference is what the gateway adds.")
    out.append("")
    if yarp:
        yarp_subsystem, yarp_total, yarp_per_stream = yarp
        out.append("| subsystem | share of samples | of which in kernel | CPU µs per stream | bare YARP, µs per stream | gateway − YARP |")
        out.append("|---|---:|---:|---:|---:|---:|")
        # In the gateway's order; what only YARP has comes last.
        for name in [n for n, _ in by_subsystem.most_common()] + [n for n in yarp_subsystem if n not in by_subsystem]:
            ours, theirs = by_subsystem[name] * per_stream, yarp_subsystem[name] * yarp_per_stream
            out.append(f"| {name} | {100 * by_subsystem[name] / max(1, total):.1f} % | {100 * kernel[name] / max(1, total):.1f} % "
                       f"| {ours:.1f} | {theirs:.1f} | {ours - theirs:+.1f} |")
        ours, theirs = total * per_stream, yarp_total * yarp_per_stream
        out.append(f"| **all** | 100 % | {100 * sum(kernel.values()) / max(1, total):.1f} % | {ours:.1f} | {theirs:.1f} | {ours - theirs:+.1f} |")
    else:
        out.append("| subsystem | share of samples | of which in kernel | CPU µs per stream |")
        out.append("|---|---:|---:|---:|")
        for name, count in by_subsystem.most_common():
            micros = f"{count * per_stream:.1f}" if per_stream else "?"
            out.append(f"| {name} | {100 * count / max(1, total):.1f} % | {100 * kernel[name] / max(1, total):.1f} % | {micros} |")
        if per_stream:
            out.append(f"| **all** | 100 % | {100 * sum(kernel.values()) / max(1, total):.1f} % | {total * per_stream:.1f} |")
    out.append("")
    out.append("By thread:")
    out.append("")
    out.append("| thread | share of samples |")
    out.append("|---|---:|")
    threads = collections.Counter()
    for comm, count in by_thread.items():
        threads[re.sub(r"\s*#?\d+$", "", comm)] += count
    for comm, count in threads.most_common(10):
        out.append(f"| `{comm}` | {100 * count / max(1, total):.1f} % |")
    print("\n".join(out))

main()
