// PMSI_TUNNEL (type 22, optional transitive; RFC 6514 §5):
//
//   Flags (1) | Tunnel Type (1) | MPLS Label (3) | Tunnel Identifier (variable)
//
// Flags: 0x01 = Leaf Information Required. For EVPN BUM flooding with
// ingress replication (RFC 7432 §11.2, RFC 8365 §5.1.3) Tunnel Type is 6 and
// the Tunnel Identifier is the originating VTEP's IPv4 or IPv6 address; the
// MPLS Label field carries the VNI in all 24 bits (see evpn-nlri.ts).
//
// Assisted replication (RFC 9574 §4): Tunnel Type 0x0A "Assisted-Replication
// Tunnel" on an AR-REPLICATOR's Replicator-AR route (a type-3 route whose
// Originating Router's IP, Tunnel Identifier and next hop are its AR-IP), and
// in the Flags octet (bit 0 = most significant):
//
//     0   1   2   3   4   5   6   7
//   +---+---+---+---+---+---+---+---+
//   | E |   |LIR| T     |BM | U | L |     E: Extension (RFC 7902), LIR: LIR-pF (RFC 8534)
//   +---+---+---+---+---+---+---+---+
//
//   T (bits 3-4, mask 0x18): 00 RNVE (no AR support), 01 AR-REPLICATOR (0x08),
//   10 AR-LEAF (0x10), 11 reserved; BM 0x04 / U 0x02: pruned flood lists.
// Those bits travel in `otherFlags`; arTypeOf / withArType read and set T.
// The AR tunnel identifier is typed like the ingress-replication one (4 or 16
// octets); other tunnel types keep their identifier raw.
//
// RFC 7606 does not give PMSI_TUNNEL its own §7 rule (it lists it among the
// attributes whose handling is already consistent with it). A malformed
// instance (shorter than 5 octets, or an ingress-replication endpoint that is
// not 4 or 16 octets) is handled with treat-as-withdraw: the attribute decides
// where BUM traffic is flooded, so discarding it is unsafe (RFC 7606 §8).

import { bytesToIp, ipToBytes } from '../addr.ts';
import { BgpEncodeError } from '../errors.ts';
import { UpdateSubcode } from '../notification.ts';
import { u24 } from '../wire.ts';
import { AttrCode, type AttributeCodec, AttrMalformed, OPTIONAL_TRANSITIVE, type WithFlags } from './types.ts';

/** RFC 6514 §5 / RFC 7524 tunnel types. */
export const PmsiTunnelType = {
  NO_TUNNEL_INFO: 0,
  RSVP_TE_P2MP: 1,
  MLDP_P2MP: 2,
  PIM_SSM: 3,
  PIM_SM: 4,
  BIDIR_PIM: 5,
  INGRESS_REPLICATION: 6,
  MLDP_MP2MP: 7,
  /** RFC 9574 §4: "Assisted-Replication Tunnel" (IANA PMSI tunnel type 0x0A). */
  ASSISTED_REPLICATION: 0x0a,
} as const;

export const PMSI_FLAG_LEAF_INFO_REQUIRED = 0x01;
/** RFC 9574 §4: the Assisted Replication Type (T) field, bits 3-4 of the Flags octet. */
export const PMSI_FLAG_AR_TYPE_MASK = 0x18;
export const PMSI_FLAG_AR_TYPE_SHIFT = 3;
/** RFC 9574 §4: values of the T field. */
export const PmsiArType = { RNVE: 0, AR_REPLICATOR: 1, AR_LEAF: 2 } as const;
export type PmsiArTypeValue = (typeof PmsiArType)[keyof typeof PmsiArType] | 3;

export type PmsiTunnel =
  | { type: 'ingress-replication'; endpoint: string }
  | { type: 'assisted-replication'; endpoint: string }
  | { type: 'raw'; tunnelType: number; id: Buffer };

export interface PmsiTunnelAttr extends WithFlags {
  type: 'pmsi-tunnel';
  leafInfoRequired: boolean;
  /** Flag bits other than L, present only when non-zero. */
  otherFlags?: number;
  /** Raw 24-bit MPLS Label field (the VNI for VXLAN: vniFromLabel). */
  label: number;
  tunnel: PmsiTunnel;
}

/** The RFC 9574 T field of a PMSI Tunnel attribute (0 = RNVE when no such bit is set). */
export function arTypeOf(a: Pick<PmsiTunnelAttr, 'otherFlags'>): PmsiArTypeValue {
  return (((a.otherFlags ?? 0) & PMSI_FLAG_AR_TYPE_MASK) >> PMSI_FLAG_AR_TYPE_SHIFT) as PmsiArTypeValue;
}

/** The same attribute with its RFC 9574 T field set to `t` (other flag bits kept). */
export function withArType<A extends PmsiTunnelAttr>(a: A, t: PmsiArTypeValue): A {
  const other = ((a.otherFlags ?? 0) & ~PMSI_FLAG_AR_TYPE_MASK) | (t << PMSI_FLAG_AR_TYPE_SHIFT);
  const { otherFlags: _drop, ...rest } = a;
  return (other ? { ...rest, otherFlags: other } : rest) as A;
}

export const pmsiTunnelCodec: AttributeCodec<PmsiTunnelAttr> = {
  code: AttrCode.PMSI_TUNNEL,
  type: 'pmsi-tunnel',
  name: 'PMSI_TUNNEL',
  flags: OPTIONAL_TRANSITIVE,
  malformed: 'treat-as-withdraw',
  section: 'RFC 6514 §5 / RFC 7606 §8',
  decode(value) {
    if (value.length < 5) throw new AttrMalformed(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `PMSI_TUNNEL length ${value.length} < 5`);
    const f = value[0]!;
    const tunnelType = value[1]!;
    const label = (value[2]! << 16) | (value[3]! << 8) | value[4]!;
    const id = Buffer.from(value.subarray(5));
    let tunnel: PmsiTunnel;
    if (tunnelType === PmsiTunnelType.INGRESS_REPLICATION) {
      if (id.length !== 4 && id.length !== 16) {
        throw new AttrMalformed(UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, `PMSI_TUNNEL ingress replication endpoint of ${id.length} octets (4 or 16)`);
      }
      tunnel = { type: 'ingress-replication', endpoint: bytesToIp(id) };
    } else if (tunnelType === PmsiTunnelType.ASSISTED_REPLICATION && (id.length === 4 || id.length === 16)) {
      // any other length stays raw: this codec does not judge a tunnel type it did not have before
      tunnel = { type: 'assisted-replication', endpoint: bytesToIp(id) };
    } else {
      tunnel = { type: 'raw', tunnelType, id };
    }
    const a: PmsiTunnelAttr = { type: 'pmsi-tunnel', leafInfoRequired: (f & PMSI_FLAG_LEAF_INFO_REQUIRED) !== 0, label, tunnel };
    if (f & ~PMSI_FLAG_LEAF_INFO_REQUIRED) a.otherFlags = f & ~PMSI_FLAG_LEAF_INFO_REQUIRED;
    return a;
  },
  encode(a) {
    const other = a.otherFlags ?? 0;
    if (!Number.isInteger(other) || other < 0 || other > 0xff || other & PMSI_FLAG_LEAF_INFO_REQUIRED) throw new BgpEncodeError(`PMSI otherFlags ${other} invalid`);
    const f = other | (a.leafInfoRequired ? PMSI_FLAG_LEAF_INFO_REQUIRED : 0);
    if (a.tunnel.type === 'ingress-replication') {
      return Buffer.concat([Buffer.from([f, PmsiTunnelType.INGRESS_REPLICATION]), u24(a.label, 'PMSI label'), ipToBytes(a.tunnel.endpoint)]);
    }
    if (a.tunnel.type === 'assisted-replication') {
      return Buffer.concat([Buffer.from([f, PmsiTunnelType.ASSISTED_REPLICATION]), u24(a.label, 'PMSI label'), ipToBytes(a.tunnel.endpoint)]);
    }
    const t = a.tunnel.tunnelType;
    if (!Number.isInteger(t) || t < 0 || t > 255) throw new BgpEncodeError(`PMSI tunnel type ${t} out of range`);
    return Buffer.concat([Buffer.from([f, t]), u24(a.label, 'PMSI label'), a.tunnel.id]);
  },
};
