#!/usr/bin/env python3
# The "null receiver" of bench/evpn-routes.ts: a bare BGP speaker (L2VPN EVPN
# only, no RIB) that connects to gobgpd (retrying while gobgpd refuses),
# establishes, counts the type-2 NLRIs received on the session and reports
# when the target number ("target N" on stdin) has arrived. It does nothing
# with the routes, so it measures how fast gobgpd sends them.
#
# usage: bgp-sink.py PEER_IP ASN ROUTER_ID
#
# Events go to stdout as JSON lines; "t" is time.monotonic_ns() (CLOCK_MONOTONIC,
# the clock of node's process.hrtime.bigint()).
import json, socket, struct, sys, threading, time

MARKER = b"\xff" * 16
OPEN, UPDATE, NOTIFICATION, KEEPALIVE = 1, 2, 3, 4
AFI_L2VPN, SAFI_EVPN = 25, 70
AS_TRANS = 23456


def say(**ev):
    ev["t"] = time.monotonic_ns()
    sys.stdout.write(json.dumps(ev) + "\n")
    sys.stdout.flush()


def msg(kind, body):
    return MARKER + struct.pack("!HB", 19 + len(body), kind) + body


def open_msg(asn, router_id):
    caps = (
        struct.pack("!BBHBB", 1, 4, AFI_L2VPN, 0, SAFI_EVPN)  # multiprotocol L2VPN EVPN
        + struct.pack("!BBI", 65, 4, asn)  # 4-octet AS
        + struct.pack("!BB", 2, 0)  # route refresh
    )
    params = struct.pack("!BB", 2, len(caps)) + caps
    my_as = asn if asn < 65536 else AS_TRANS
    # hold time 90 s (gobgpd's write deadline is the negotiated hold time: 0 would fail every write)
    return msg(OPEN, struct.pack("!BHH4sB", 4, my_as, 90, socket.inet_aton(router_id), len(params)) + params)


class Reader:
    """BGP message framing over a socket, without re-copying the buffer per message."""

    def __init__(self, sock):
        self.sock, self.buf, self.pos = sock, bytearray(), 0

    def next(self):
        """-> (type, body) or None on EOF"""
        while True:
            avail = len(self.buf) - self.pos
            if avail >= 19:
                n = struct.unpack_from("!H", self.buf, self.pos + 16)[0]
                if avail >= n:
                    p = self.pos
                    self.pos += n
                    return self.buf[p + 18], bytes(self.buf[p + 19 : p + n])
            if self.pos:
                del self.buf[: self.pos]
                self.pos = 0
            d = self.sock.recv(1 << 20)
            if not d:
                return None
            self.buf += d


def establish(sock, reader, asn, router_id):
    sock.sendall(open_msg(asn, router_id))
    got_open = False
    while True:
        r = reader.next()
        if r is None:
            raise ConnectionError("closed during OPEN exchange")
        kind, body = r
        if kind == NOTIFICATION:
            raise ConnectionError("NOTIFICATION %d/%d during OPEN exchange" % (body[0], body[1]))
        if kind == OPEN:
            got_open = True
            sock.sendall(msg(KEEPALIVE, b""))
        elif kind == KEEPALIVE and got_open:
            lock = threading.Lock()

            def keepalive():
                try:
                    while True:
                        time.sleep(10)
                        with lock:
                            sock.sendall(msg(KEEPALIVE, b""))
                except OSError:
                    pass

            threading.Thread(target=keepalive, daemon=True).start()
            return


def sink(argv):
    peer, asn, router_id = argv[0], int(argv[1]), argv[2]
    target = [0]
    count = [0]
    armed = [False]

    def commands():
        # "target N": report "done" once N type-2 NLRIs have arrived (re-armed by
        # every new target); "count": report the count now
        for line in sys.stdin:
            w = line.split()
            if w and w[0] == "target":
                target[0] = int(w[1])
                armed[0] = True
            elif w and w[0] == "count":
                say(ev="count", n=count[0])

    threading.Thread(target=commands, daemon=True).start()
    while True:
        try:
            sock = socket.create_connection((peer, 179), timeout=2)
            sock.settimeout(None)
            reader = Reader(sock)
            establish(sock, reader, asn, router_id)
        except (OSError, ConnectionError):
            time.sleep(0.2)
            continue
        say(ev="established")
        n = 0
        first = None
        try:
            while True:
                r = reader.next()
                if r is None:
                    break
                kind, body = r
                if kind != UPDATE:
                    if kind == NOTIFICATION:
                        break
                    continue
                if first is None:
                    first = time.monotonic_ns()
                    say(ev="first-update")
                wl = struct.unpack_from("!H", body, 0)[0]
                al = struct.unpack_from("!H", body, 2 + wl)[0]
                p, end = 4 + wl, 4 + wl + al
                while p < end:
                    fl, code = body[p], body[p + 1]
                    if fl & 0x10:
                        ln = struct.unpack_from("!H", body, p + 2)[0]
                        v = p + 4
                    else:
                        ln = body[p + 2]
                        v = p + 3
                    if code == 14:
                        nhl = body[v + 3]
                        q = v + 5 + nhl
                        while q < v + ln:
                            if body[q] == 2:
                                n += 1
                            q += 2 + body[q + 1]
                    p = v + ln
                count[0] = n
                if armed[0] and target[0] and n >= target[0]:
                    armed[0] = False
                    say(ev="done", n=n, first=first)
        except OSError:
            pass
        sock.close()
        say(ev="closed", n=n)


if __name__ == "__main__":
    sink(sys.argv[1:])
