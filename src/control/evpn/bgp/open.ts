// OPEN message (RFC 4271 §4.2) with Capabilities (RFC 5492).
//
//   Version (1) | My AS (2) | Hold Time (2) | BGP Identifier (4) |
//   Opt Parm Len (1) | Optional Parameters: { Parm Type (1) | Parm Length (1) | Parm Value }*
//
// Only Parm Type 2 (Capabilities) exists today; anything else is refused with
// OPEN Message Error / Unsupported Optional Parameter (RFC 4271 §6.2). The
// RFC 9072 extended optional parameter encoding is not supported (it shows up
// as Parm Type 255 and is refused the same way).

import { bytesToIpv4, ipv4ToBytes } from './addr.ts';
import { AS_TRANS, type Capability, capabilityCodeOf, decodeCapabilities, encodeCapabilities, encodeCapability } from './capabilities.ts';
import { BgpEncodeError, type BgpError, type DecodeResult, sessionReset, WireTruncatedError } from './errors.ts';
import { ErrorCode, MessageHeaderSubcode, OpenSubcode } from './notification.ts';
import { Reader, u16 } from './wire.ts';

export const BGP_VERSION = 4;
export const OPT_PARAM_CAPABILITIES = 2;

export interface OpenMessage {
  type: 'open';
  version: number;
  /** The 2-octet My AS field: AS_TRANS (23456) when the real AS does not fit (RFC 6793 §4.1). */
  myAs: number;
  holdTime: number;
  bgpId: string;
  /** All capabilities of all Capabilities parameters, in order. */
  capabilities: Capability[];
  /**
   * Number of capabilities in each Capabilities Optional Parameter, present
   * only when the layout is not "one capability per parameter" (the layout
   * FRR and GoBGP send, and the encoder's default).
   */
  capabilityGrouping?: number[];
}

export function encodeOpenBody(o: OpenMessage): Buffer {
  const grouping = o.capabilityGrouping ?? o.capabilities.map(() => 1);
  if (grouping.reduce((a, b) => a + b, 0) !== o.capabilities.length) {
    throw new BgpEncodeError('capabilityGrouping does not add up to the number of capabilities');
  }
  const params: Buffer[] = [];
  let i = 0;
  for (const n of grouping) {
    const v = encodeCapabilities(o.capabilities.slice(i, i + n));
    i += n;
    if (v.length > 255) throw new BgpEncodeError(`capabilities parameter of ${v.length} octets > 255`);
    params.push(Buffer.from([OPT_PARAM_CAPABILITIES, v.length]), v);
  }
  const opt = Buffer.concat(params);
  if (opt.length > 255) throw new BgpEncodeError(`optional parameters of ${opt.length} octets > 255 (RFC 9072 not supported)`);
  if (!Number.isInteger(o.version) || o.version < 0 || o.version > 255) throw new BgpEncodeError(`version ${o.version} out of range`);
  return Buffer.concat([Buffer.from([o.version]), u16(o.myAs, 'My AS'), u16(o.holdTime, 'Hold Time'), ipv4ToBytes(o.bgpId), Buffer.from([opt.length]), opt]);
}

function openError(subcode: number, reason: string, data: Buffer = Buffer.alloc(0)): { ok: false; error: BgpError } {
  return { ok: false, error: sessionReset(ErrorCode.OPEN_MESSAGE, subcode, data, reason) };
}

/**
 * Decodes an OPEN body (after the header) and applies the peer-independent
 * checks of RFC 4271 §6.2:
 *  - version != 4 -> Unsupported Version Number, data = 2-octet 4
 *  - My AS 0 (RFC 7607 §2) -> Bad Peer AS
 *  - Hold Time 1 or 2 -> Unacceptable Hold Time
 *  - BGP Identifier 0.0.0.0 (RFC 6286 §2.1: must be non-zero) -> Bad BGP Identifier
 *  - Optional Parameter type other than 2 -> Unsupported Optional Parameter
 *  - Opt Parm Len inconsistent with the message -> Message Header Error / Bad Message Length
 *  - a parameter or capability length overrunning its container -> OPEN Message Error / Unspecific (0)
 *  - 4-octet AS capability carrying AS 0 (RFC 7607 §2) -> Bad Peer AS
 * Peer-specific checks (expected AS, required capabilities, identifier
 * collision) are in validateOpen.
 */
export function decodeOpenBody(body: Buffer): DecodeResult<OpenMessage> {
  try {
    const r = new Reader(body);
    if (body.length < 10) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(Math.min(0xffff, body.length + 19));
      return { ok: false, error: sessionReset(ErrorCode.MESSAGE_HEADER, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, len, `OPEN body of ${body.length} octets < 10`) };
    }
    const version = r.u8();
    const myAs = r.u16();
    const holdTime = r.u16();
    const idBytes = r.bytes(4);
    const optLen = r.u8();
    if (version !== BGP_VERSION) return openError(OpenSubcode.UNSUPPORTED_VERSION_NUMBER, `RFC 4271 §6.2: version ${version} not supported`, u16(BGP_VERSION));
    if (myAs === 0) return openError(OpenSubcode.BAD_PEER_AS, 'RFC 7607 §2: My AS is 0');
    if (holdTime === 1 || holdTime === 2) return openError(OpenSubcode.UNACCEPTABLE_HOLD_TIME, `RFC 4271 §6.2: hold time ${holdTime} (must be 0 or >= 3)`);
    if (idBytes.readUInt32BE(0) === 0) return openError(OpenSubcode.BAD_BGP_IDENTIFIER, 'RFC 6286 §2.1: BGP Identifier is 0');
    if (optLen !== r.remaining) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(Math.min(0xffff, body.length + 19));
      return {
        ok: false,
        error: sessionReset(ErrorCode.MESSAGE_HEADER, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, len, `OPEN Opt Parm Len ${optLen} but ${r.remaining} octets follow`),
      };
    }
    const capabilities: Capability[] = [];
    const grouping: number[] = [];
    while (!r.done) {
      if (r.remaining < 2) return openError(OpenSubcode.UNSPECIFIC, `optional parameter header truncated (${r.remaining} octet left)`);
      const ptype = r.u8();
      const plen = r.u8();
      if (plen > r.remaining) return openError(OpenSubcode.UNSPECIFIC, `optional parameter type ${ptype} length ${plen} overruns ${r.remaining} octets`);
      const pr = r.sub(plen);
      if (ptype !== OPT_PARAM_CAPABILITIES) {
        return openError(OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, `RFC 4271 §6.2: optional parameter type ${ptype} not supported`);
      }
      let caps: Capability[];
      try {
        caps = decodeCapabilities(pr);
      } catch (e) {
        if (e instanceof WireTruncatedError) return openError(OpenSubcode.UNSPECIFIC, `RFC 5492 §4: capability overruns its parameter: ${e.message}`);
        throw e;
      }
      for (const c of caps) {
        if (c.type === 'four-octet-as' && c.asn === 0) return openError(OpenSubcode.BAD_PEER_AS, 'RFC 7607 §2: 4-octet AS capability carries AS 0');
      }
      capabilities.push(...caps);
      grouping.push(caps.length);
    }
    const open: OpenMessage = { type: 'open', version, myAs, holdTime, bgpId: bytesToIpv4(idBytes), capabilities };
    if (grouping.some((n) => n !== 1)) open.capabilityGrouping = grouping;
    return { ok: true, value: open };
  } catch (e) {
    if (e instanceof WireTruncatedError) return openError(OpenSubcode.UNSPECIFIC, `OPEN truncated: ${e.message}`);
    throw e;
  }
}

/** The peer's real AS: the 4-octet AS capability if present, else My AS (RFC 6793 §4.1). */
export function peerAsOf(o: OpenMessage): number {
  for (const c of o.capabilities) if (c.type === 'four-octet-as') return c.asn;
  return o.myAs;
}

export interface OpenPolicy {
  /** Expected peer AS; mismatch -> Bad Peer AS. */
  peerAs?: number;
  /** Our BGP Identifier; an iBGP peer with the same one -> Bad BGP Identifier (RFC 6286 §2.2). */
  localBgpId?: string;
  /** The session is internal (peer AS = local AS). */
  ibgp?: boolean;
  /** Capabilities the session cannot run without (e.g. MP L2VPN/EVPN, 4-octet AS). */
  requiredCapabilities?: readonly Capability[];
  /** Smallest non-zero hold time accepted (RFC 4271 §6.2 allows refusing small values). */
  minHoldTime?: number;
}

function sameCapability(a: Capability, b: Capability): boolean {
  // A required 4-octet AS capability is satisfied by any ASN.
  if (a.type === 'four-octet-as' && b.type === 'four-octet-as') return true;
  return capabilityCodeOf(a) === capabilityCodeOf(b) && encodeCapability(a).equals(encodeCapability(b));
}

/**
 * Peer-specific OPEN checks; returns the session-reset error to send, or
 * undefined when the OPEN is acceptable.
 *  - expected AS (via the 4-octet AS capability when present) -> Bad Peer AS
 *  - My AS not AS_TRANS while the 4-octet AS needs it -> Bad Peer AS (RFC 6793 §4.1)
 *  - identifier equals ours on iBGP -> Bad BGP Identifier (RFC 6286 §2.2)
 *  - hold time below policy -> Unacceptable Hold Time
 *  - a required capability missing -> Unsupported Capability, data = the
 *    missing capability TLVs (RFC 5492 §5)
 */
export function validateOpen(o: OpenMessage, policy: OpenPolicy): BgpError | undefined {
  const as = peerAsOf(o);
  if (policy.peerAs !== undefined && as !== policy.peerAs) {
    return sessionReset(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_PEER_AS, Buffer.alloc(0), `RFC 4271 §6.2: peer AS ${as}, expected ${policy.peerAs}`);
  }
  if (as > 0xffff && o.myAs !== AS_TRANS) {
    return sessionReset(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_PEER_AS, Buffer.alloc(0), `RFC 6793 §4.1: 4-octet AS ${as} with My AS ${o.myAs} instead of AS_TRANS`);
  }
  if (policy.ibgp && policy.localBgpId !== undefined && o.bgpId === policy.localBgpId) {
    return sessionReset(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_BGP_IDENTIFIER, Buffer.alloc(0), `RFC 6286 §2.2: peer BGP Identifier ${o.bgpId} equals ours`);
  }
  if (policy.minHoldTime !== undefined && o.holdTime !== 0 && o.holdTime < policy.minHoldTime) {
    return sessionReset(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNACCEPTABLE_HOLD_TIME, Buffer.alloc(0), `hold time ${o.holdTime} below ${policy.minHoldTime}`);
  }
  const missing = (policy.requiredCapabilities ?? []).filter((req) => !o.capabilities.some((c) => sameCapability(req, c)));
  if (missing.length > 0) {
    return sessionReset(
      ErrorCode.OPEN_MESSAGE,
      OpenSubcode.UNSUPPORTED_CAPABILITY,
      encodeCapabilities(missing),
      `RFC 5492 §5: peer lacks required capabilities ${missing.map((c) => capabilityCodeOf(c)).join(',')}`,
    );
  }
  return undefined;
}
