#!/usr/bin/env python3
"""Memory and restart figures of many distinct titles (issue 10, defect 6).

Starts a JetStream nats-server and `marquee serve` (durable mode) in a
temporary directory, publishes impressions that name N new titles (default
725,000, each title once, spread over 1,000 users), and reports:

  - marquee's RSS after start, after the impressions are applied, and after
    a graceful restart once it serves again;
  - restart-to-serving: from starting the process to the first trending
    answer that is not 503 (the stream is caught up, trending restored).

Only the standard library: the NATS protocol is spoken over a socket.

    tools/bounded_titles_bench.py --marquee build/marquee [--titles 725000]
        [--users 1000] [--set KEY=VALUE ...] [--keep DIR]

Each --set becomes MARQUEE_<SECTION>_<KEY>=VALUE for the service (for
example --set passivation.max_titles=100000). Prints one JSON object.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class nats:
    """A minimal NATS client: publish, and request with one inbox."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
        self._line()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,'
                          b'"headers":true,"no_responders":true}\r\n'
                          b"SUB _bench.inbox.* 1\r\nPING\r\n")
        self._until_pong()
        self.pending = []
        self.n = 0

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("NATS connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _until_pong(self):
        while True:
            line = self._line()
            if line == b"PONG":
                return
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise RuntimeError(line.decode())

    def publish(self, subject, body):
        self.pending.append(b"PUB %s %d\r\n%s\r\n" %
                            (subject.encode(), len(body), body))
        if len(self.pending) >= 512:
            self.flush()

    def flush(self):
        if self.pending:
            self.sock.sendall(b"".join(self.pending))
            self.pending = []

    def sync(self):
        self.flush()
        self.sock.sendall(b"PING\r\n")
        self._until_pong()

    def request(self, subject, body=b"", timeout=5.0):
        """The reply's (headers, body), or None on timeout."""
        self.flush()
        self.n += 1
        inbox = "_bench.inbox.%d" % self.n
        self.sock.sendall(b"PUB %s %s %d\r\n%s\r\n" %
                          (subject.encode(), inbox.encode(), len(body), body))
        self.sock.settimeout(timeout)
        try:
            while True:
                line = self._line()
                if line == b"PING":
                    self.sock.sendall(b"PONG\r\n")
                    continue
                parts = line.split()
                if parts[0] == b"MSG" and parts[1].decode() == inbox:
                    return b"", self._read(int(parts[-1]))
                if parts[0] == b"HMSG" and parts[1].decode() == inbox:
                    hlen, total = int(parts[-2]), int(parts[-1])
                    data = self._read(total)
                    return data[:hlen], data[hlen:]
                if parts[0] in (b"MSG", b"HMSG"):  # an older reply
                    self._read(int(parts[-1]))
        except socket.timeout:
            return None
        finally:
            self.sock.settimeout(None)


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def start_marquee(args, port, data_dir, log):
    env = dict(os.environ)
    env["MARQUEE_SERVICE_DATA_DIR"] = data_dir
    env["MARQUEE_SERVICE_INSTANCE_ID"] = "bench"
    env["MARQUEE_SERVICE_LOG_LEVEL"] = "info"
    for kv in args.set:
        key, value = kv.split("=", 1)
        env["MARQUEE_" + key.replace(".", "_").upper()] = value
    return subprocess.Popen(
        [args.marquee, "serve", "--nats-url", "nats://127.0.0.1:%d" % port],
        env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_serving(nc, proc, timeout=600.0):
    """Seconds until a trending request is answered without an error."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError("marquee exited with %d" % proc.returncode)
        reply = nc.request("marquee.v1.rec.trending", b"{}", timeout=0.5)
        # No responders (a status header, no body) or an error (503 while
        # replaying) is not serving yet.
        if (reply is not None and reply[1].startswith(b"{\"window\"") and
                b"Nats-Service-Error-Code" not in reply[0]):
            return time.monotonic() - start
        time.sleep(0.02)
    raise RuntimeError("marquee did not serve within %d s" % timeout)


def stats(nc):
    reply = nc.request("marquee.v1.admin.bench.stats", b"", timeout=10.0)
    return json.loads(reply[1]) if reply and reply[1] else {}


def wait_applied(nc, sequence, timeout=1800.0):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if stats(nc).get("ingest", {}).get("applied", 0) >= sequence:
            return time.monotonic() - start
        time.sleep(0.5)
    raise RuntimeError("not applied through %d in time" % sequence)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=600)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--marquee", required=True)
    ap.add_argument("--nats-server", default="nats-server")
    ap.add_argument("--titles", type=int, default=725_000)
    ap.add_argument("--users", type=int, default=1_000)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--keep", help="work directory to keep (default: temp)")
    args = ap.parse_args()

    work = args.keep or tempfile.mkdtemp(prefix="marquee-bench-")
    os.makedirs(work, exist_ok=True)
    port = free_port()
    log = open(os.path.join(work, "marquee.log"), "ab")
    server = subprocess.Popen(
        [args.nats_server, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd",
         os.path.join(work, "nats")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = {"titles": args.titles, "users": args.users, "set": args.set}
    marquee = None
    try:
        time.sleep(0.5)
        nc = nats(port)
        t0 = time.monotonic()
        marquee = start_marquee(args, port, os.path.join(work, "data"), log)
        out["first_start_to_serving_s"] = round(wait_serving(nc, marquee), 3)
        out["rss_after_start_mb"] = round(rss_bytes(marquee.pid) / 2**20, 1)
        ts = int(time.time() * 1000) - 3_600_000
        t0 = time.monotonic()
        for i in range(args.titles):
            body = b'{"title":"bench-t%d","ts":%d,"position":%d}' % (
                i, ts + i // 1000, i % 40)
            nc.publish("marquee.v1.events.impression.bench-u%d" %
                       (i % args.users), body)
        nc.sync()
        out["publish_s"] = round(time.monotonic() - t0, 1)
        wait_applied(nc, args.titles)
        out["applied_s"] = round(time.monotonic() - t0, 1)
        # Wait for the checkpoint that covers every impression (taken within
        # checkpoint.interval_ms), and the passivation after it.
        deadline = time.monotonic() + 120
        while (stats(nc).get("ingest", {}).get("checkpoint", 0) < args.titles
               and time.monotonic() < deadline):
            time.sleep(0.5)
        time.sleep(2)
        out["checkpointed_s"] = round(time.monotonic() - t0, 1)
        s = stats(nc)
        out["rss_after_impressions_mb"] = round(
            rss_bytes(marquee.pid) / 2**20, 1)
        out["live_titles_after_impressions"] = s.get("actors", {}).get("title")
        t0 = time.monotonic()
        stop(marquee)
        out["graceful_stop_s"] = round(time.monotonic() - t0, 1)
        marquee = start_marquee(args, port, os.path.join(work, "data"), log)
        out["restart_to_serving_s"] = round(wait_serving(nc, marquee), 3)
        out["rss_after_restart_mb"] = round(rss_bytes(marquee.pid) / 2**20, 1)
        s = stats(nc)
        out["live_titles_after_restart"] = s.get("actors", {}).get("title")
        # One title, only ever shown, asked for after the restart.
        reply = nc.request("marquee.v1.admin.bench.title",
                           b'{"id":"bench-t12345"}', timeout=10.0)
        dump = json.loads(reply[1]) if reply else {}
        out["bench_t12345_impressions_after_restart"] = dump.get("impressions")
        stop(marquee)
        marquee = None
    finally:
        if marquee is not None:
            marquee.kill()
        server.terminate()
        server.wait()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    out["machine"] = "%d cores, %s" % (os.cpu_count(), os.uname().release)
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
