#!/usr/bin/env python3
"""Runs `detector demo ... -realtime` with a consumer that is slower than the
producer by construction, whatever the machine's speed (tests/cli_demo.sh).

  demo_blocked_consumer.py FIFO LOGFILE DEMO_COMMAND...

The demo's -log is the FIFO FIFO, its pipe shrunk to one 4 KiB page, and
nothing reads it until the demo's capture thread has ended: after a few
frames the display thread blocks writing the log, inference blocks handing
it the next frame, and every frame the capture reads after that must be
dropped (docs/DEMO.md: a live source never waits). The capture thread is
the one demo thread that can end while the display is blocked; its end is
seen as a thread of /proc/PID/task going away. If -realtime made the
capture wait for the consumer instead, it never ends and this fails after
60 s (RT_WAIT). Then the log is drained (to FIFO.txt) and the demo runs to
its end; its stdout and stderr go to LOGFILE. Exit status: the demo's, or 1.
"""
import array
import fcntl
import os
import subprocess
import sys
import termios
import time

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux


def main():
    fifo, out, cmd = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3:]
    limit = float(os.environ.get("RT_WAIT", "60"))
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader exists: the demo's open returns
    fcntl.fcntl(fd, F_SETPIPE_SZ, 4096)
    with open(out, "w") as f:
        p = subprocess.Popen(cmd + ["-log", fifo], stdout=f, stderr=subprocess.STDOUT)
    try:
        return watch(p, fd, fifo, limit)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def watch(p, fd, fifo, limit):
    def tids():
        try:
            return set(os.listdir("/proc/%d/task" % p.pid))
        except FileNotFoundError:
            return set()

    def log_open():  # the demo opens its -log after loading, before its threads start
        try:
            return any(os.readlink("/proc/%d/fd/%s" % (p.pid, f)) == fifo
                       for f in os.listdir("/proc/%d/fd" % p.pid))
        except OSError:
            return False

    t0 = time.time()
    while not log_open():
        if p.poll() is not None or time.time() - t0 > limit:
            print("FAIL: the demo never opened its -log %s" % fifo)
            return 1
        time.sleep(0.001)
    seen, ended, t1 = tids(), None, time.time()
    while p.poll() is None and time.time() - t1 < limit:
        now = tids()
        if seen - now:
            ended = time.time() - t1
            break
        seen |= now
        time.sleep(0.001)
    n = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, n)
    unread = n[0]
    os.set_blocking(fd, True)
    chunks = []
    while True:  # EOF when the demo closes its log
        b = os.read(fd, 65536)
        if not b:
            break
        chunks.append(b)
    rc = p.wait(timeout=limit)
    with open(fifo + ".txt", "wb") as f:
        f.write(b"".join(chunks))
    if ended is None:
        print("FAIL: the capture thread did not end while the display was blocked (%.0f s): "
              "-realtime waits for the consumer instead of dropping frames" % limit)
        return 1
    print("blocked consumer: the capture ended %.2f s after the log opened, %d bytes of log "
          "unread then (the pipe holds 4096)" % (ended, unread))
    return rc


if __name__ == "__main__":
    sys.exit(main())
