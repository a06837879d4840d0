// Static per-group remote entries of a Linux VXLAN device (VXLAN MDB, kernel
// 6.4+), programmed over rtnetlink. iproute2 learned `bridge mdb add dev vx0
// port vx0 grp G dst IP permanent` in 6.5; Debian 12 ships 6.1, whose bridge
// tool can neither add nor show such entries, so a short python3 script speaks
// the protocol itself:
//
//   RTM_NEWMDB / RTM_DELMDB (84 / 85), family AF_BRIDGE:
//     struct br_port_msg { u8 family; (3 pad) u32 ifindex = the vxlan device }
//     MDBA_SET_ENTRY (1): struct br_mdb_entry, exactly 28 bytes
//       { u32 ifindex = the vxlan device; u8 state = MDB_PERMANENT; u8 flags = 0;
//         u16 vid = 0; union { be32 ip4; in6_addr ip6; mac } u (16 bytes);
//         be16 proto = ETH_P_IP; (2 pad) }
//     MDBA_SET_ENTRY_ATTRS (2, nested):
//       MDBE_ATTR_DST (5): the remote VTEP, a 4-byte IPv4 address
//
// MDBE_ATTR_DST is not in Debian 12's linux-libc-dev (6.1): the kernel's
// include/uapi/linux/if_bridge.h numbers MDBE_ATTR_* as UNSPEC, SOURCE,
// SRC_LIST, GROUP_MODE, RTPROT, DST (5), DST_PORT, VNI, IFINDEX, SRC_VNI,
// STATE_MASK, and the dump's MDBA_MDB_EATTR_* as UNSPEC, TIMER, SRC_LIST,
// GROUP_MODE, SOURCE, RTPROT, DST (6), ... The vxlan driver parses the nested
// attributes strictly (an unknown number is refused, not ignored), so a wrong
// number shows up as an error here rather than as a silently wrong entry.
//
// The kernel's answer is always asked for (NLM_F_ACK) and checked: an error
// throws, with the extended-ACK message the kernel attached (NETLINK_EXT_ACK),
// e.g. "Replace not specified and MDB remote entry already exists".
import type { Lab } from "./netns.ts";
import { PYTHON } from "./proc.ts";

const SCRIPT = String.raw`
import errno, json, os, socket, struct, sys

SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 270, 10, 11
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x01, 0x04, 0x300
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
NLMSGERR_ATTR_MSG = 1
NLA_F_NESTED, NLA_TYPE_MASK = 0x8000, 0x3fff
RTM_NEWMDB, RTM_DELMDB, RTM_GETMDB = 84, 85, 86
AF_BRIDGE = 7
MDBA_SET_ENTRY, MDBA_SET_ENTRY_ATTRS = 1, 2
MDBE_ATTR_DST = 5
MDBA_MDB, MDBA_MDB_ENTRY, MDBA_MDB_ENTRY_INFO = 1, 1, 1
MDBA_MDB_EATTR_DST = 6
MDB_PERMANENT = 1
ETH_P_IP = 0x0800
BR_MDB_ENTRY_LEN = 28

def attr(kind, payload):
    a = struct.pack("=HH", 4 + len(payload), kind) + payload
    return a + b"\0" * (-len(a) % 4)

def attrs(buf):
    off = 0
    while off + 4 <= len(buf):
        n, kind = struct.unpack_from("=HH", buf, off)
        if n < 4:
            break
        yield kind & NLA_TYPE_MASK, buf[off + 4:off + n]
        off += (n + 3) & ~3

def mdb_entry(ifindex, group):
    # u32 ifindex, u8 state, u8 flags, u16 vid, 16-byte address union, be16 proto, 2 pad
    e = struct.pack("=IBBH", ifindex, MDB_PERMANENT, 0, 0) + socket.inet_aton(group) + b"\0" * 12
    e += struct.pack("!H", ETH_P_IP) + b"\0\0"
    assert len(e) == BR_MDB_ENTRY_LEN
    return e

def message(kind, flags, seq, body):
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body

def ack_error(msg):
    # struct nlmsgerr { int error; struct nlmsghdr msg; (payload unless capped) } then TLVs
    flags = struct.unpack_from("=H", msg, 6)[0]
    err = struct.unpack_from("=i", msg, 16)[0]
    text = ""
    if flags & NLM_F_ACK_TLVS:
        orig_len = struct.unpack_from("=I", msg, 20)[0]
        off = 16 + 4 + (16 if flags & NLM_F_CAPPED else orig_len)
        off = (off + 3) & ~3
        for kind, val in attrs(msg[off:]):
            if kind == NLMSGERR_ATTR_MSG:
                text = val.rstrip(b"\0").decode()
    return err, text

def messages(buf):
    off = 0
    while off + 16 <= len(buf):
        n, kind, flags, seq, pid = struct.unpack_from("=IHHII", buf, off)
        yield kind, seq, buf[off:off + n]
        off += (n + 3) & ~3

def main():
    op, dev = sys.argv[1], sys.argv[2]
    ifindex = socket.if_nametoindex(dev)
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
    s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    s.bind((0, 0))
    bpm = struct.pack("=B3xI", AF_BRIDGE, ifindex)
    seq = 1
    if op in ("add", "del"):
        group, dst = sys.argv[3], sys.argv[4]
        body = bpm + attr(MDBA_SET_ENTRY, mdb_entry(ifindex, group))
        body += attr(MDBA_SET_ENTRY_ATTRS | NLA_F_NESTED, attr(MDBE_ATTR_DST, socket.inet_aton(dst)))
        kind = RTM_NEWMDB if op == "add" else RTM_DELMDB
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE | NLM_F_EXCL if op == "add" else 0)
        s.sendto(message(kind, flags, seq, body), (0, 0))
        while True:
            for kind, rseq, msg in messages(s.recv(65536)):
                if kind != NLMSG_ERROR or rseq != seq:
                    continue
                err, text = ack_error(msg)
                if err:
                    name = "RTM_NEWMDB" if op == "add" else "RTM_DELMDB"
                    sys.stderr.write("%s %s grp %s dst %s: %s (%s)%s\n" % (name, dev, group, dst, os.strerror(-err), errno.errorcode.get(-err, str(-err)), ": " + text if text else ""))
                    sys.exit(1)
                print("ok")
                return
    elif op == "show":
        s.sendto(message(RTM_GETMDB, NLM_F_REQUEST | NLM_F_DUMP, seq, struct.pack("=B3xI", AF_BRIDGE, 0)), (0, 0))
        out = []
        while True:
            for kind, rseq, msg in messages(s.recv(1 << 20)):
                if kind == NLMSG_DONE:
                    print(json.dumps(out))
                    return
                if kind == NLMSG_ERROR:
                    err, text = ack_error(msg)
                    sys.stderr.write("RTM_GETMDB dump: %s %s\n" % (os.strerror(-err), text))
                    sys.exit(1)
                if kind != RTM_NEWMDB or struct.unpack_from("=I", msg, 20)[0] != ifindex:
                    continue
                for k1, mdb in attrs(msg[24:]):
                    if k1 != MDBA_MDB:
                        continue
                    for k2, ent in attrs(mdb):
                        if k2 != MDBA_MDB_ENTRY:
                            continue
                        for k3, info in attrs(ent):
                            if k3 != MDBA_MDB_ENTRY_INFO or len(info) < BR_MDB_ENTRY_LEN:
                                continue
                            port, state = struct.unpack_from("=IB", info, 0)
                            proto = struct.unpack_from("!H", info, 24)[0]
                            row = {"port": port, "permanent": state == MDB_PERMANENT,
                                   "group": socket.inet_ntoa(info[8:12]) if proto == ETH_P_IP else None}
                            for k4, val in attrs(info[BR_MDB_ENTRY_LEN:]):
                                if k4 == MDBA_MDB_EATTR_DST and len(val) == 4:
                                    row["dst"] = socket.inet_ntoa(val)
                            out.append(row)
    else:
        sys.exit("usage: add|del|show DEV [GROUP DST]")

main()
`;

export interface VxlanMdbEntry {
  group: string;
  /** the remote VTEP copies of the group go to */
  dst: string;
}

/** Runs the script in `ns`; a refusal by the kernel (or any failure) throws with the script's own message. */
function run(lab: Lab, ns: string, args: string[]): string {
  const r = lab.run(ns, PYTHON, ["-c", SCRIPT, ...args]);
  if (r.status !== 0) throw new Error(`vxlan MDB ${args.join(" ")} in netns ${ns}: ${r.stderr.trim() || r.signal || `exit ${r.status}`}`);
  return r.stdout;
}

/** Add a permanent (*, G) entry `group` -> `dst` to the VXLAN device `dev` in `ns` (RTM_NEWMDB, create-exclusive). */
export function vxlanMdbAdd(lab: Lab, ns: string, dev: string, e: VxlanMdbEntry): void {
  run(lab, ns, ["add", dev, e.group, e.dst]);
}

/** Remove the remote `dst` from the entry `group` of `dev` (RTM_DELMDB). */
export function vxlanMdbDel(lab: Lab, ns: string, dev: string, e: VxlanMdbEntry): void {
  run(lab, ns, ["del", dev, e.group, e.dst]);
}

export interface VxlanMdbRow extends VxlanMdbEntry {
  /** ifindex of the port (the vxlan device itself) */
  port: number;
  permanent: boolean;
}

/** The IPv4 entries of `dev`'s MDB as the kernel dumps them (RTM_GETMDB), one row per (group, remote). */
export function vxlanMdbShow(lab: Lab, ns: string, dev: string): VxlanMdbRow[] {
  return JSON.parse(run(lab, ns, ["show", dev])) as VxlanMdbRow[];
}
