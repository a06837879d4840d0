// UPDATE message (RFC 4271 §4.3) with RFC 7606 revised error handling.
//
//   Withdrawn Routes Length (2) | Withdrawn Routes (var) |
//   Total Path Attribute Length (2) | Path Attributes (var) | NLRI (var)
//
// Withdrawn Routes and NLRI are IPv4 unicast prefixes ("10.0.0.0/8"); EVPN
// routes travel in MP_REACH_NLRI / MP_UNREACH_NLRI (attributes/mp-nlri.ts).
// ADD-PATH (RFC 7911) encodings are not supported.
//
// decodeUpdateBody never throws. It returns either
//   { ok: true, update, discarded }   -- discarded lists attribute-discard decisions
//                                        (RFC 7606 §3(g) duplicates, §7.5-7.10 discards)
//   { ok: false, error }              -- error.action is 'treat-as-withdraw' (with
//                                        error.withdraw: every route the UPDATE carried,
//                                        RFC 7606 §2) or 'session-reset' (with the
//                                        NOTIFICATION to send)
//
// RFC 7606 decisions, in the order they are applied (each is also noted at the code):
//   §3(b)/RFC 4271 §6.3  Withdrawn Routes Length or Total Path Attribute Length
//                        overrunning the message          -> session reset (Malformed Attribute List)
//   §5.3, §3(j)          IPv4 Withdrawn Routes / NLRI syntax error (prefix length > 32,
//                        prefix overrunning the field)    -> session reset (Invalid Network Field)
//   §4                   an attribute header or value overrunning Total Path Attribute
//                        Length                           -> treat-as-withdraw, unless the
//                        attribute that cannot be parsed is MP_REACH/MP_UNREACH (§3(j): its NLRI
//                        cannot be located)                -> session reset
//   §3(g)                a repeated MP_REACH_NLRI or MP_UNREACH_NLRI -> session reset
//                        (Malformed Attribute List); any other repeated attribute: repeats
//                        discarded (the first is kept), processing continues
//   RFC 4271 §6.3        unrecognized well-known attribute -> session reset (RFC 7606 keeps it)
//   §7.x per attribute   malformed value -> the attribute's action (see each attributes/*.ts)
//   §3(c)                wrong Optional/Transitive bits -> treat-as-withdraw, except
//                        ATOMIC_AGGREGATE / AGGREGATOR (attribute-discard, per their §7.6/§7.7
//                        rule); MP_REACH/MP_UNREACH are still parsed so their routes can be withdrawn
//   §3(d)                missing ORIGIN / AS_PATH (and NEXT_HOP when there is IPv4 NLRI) on an
//                        UPDATE that announces routes     -> treat-as-withdraw
//   §3(h)                several errors: the strongest action wins
//   §5.2                 treat-as-withdraw on an UPDATE that carries no route at all
//                        (nothing to withdraw: the NLRI could not be located) -> session reset

import { bytesToIpv4, ipv4ToBytes } from './addr.ts';
import {
  AttrCode,
  AttrFlag,
  AttrMalformed,
  codecForCode,
  type DecodeContext,
  decodePathAttributeValue,
  encodePathAttributes,
  type MpReachAttr,
  type MpUnreachAttr,
  type PathAttribute,
  attributeName,
  flagsMatch,
} from './attributes/index.ts';
import { actionStrength, BgpEncodeError, type BgpError, type ErrorAction, internalError, type NotificationData, sessionReset, WireTruncatedError } from './errors.ts';
import { encodeEvpnRoute, type EvpnRoute } from './evpn-nlri.ts';
import { ErrorCode, MessageHeaderSubcode, UpdateSubcode } from './notification.ts';
import { Reader, u16 } from './wire.ts';

export interface UpdateMessage {
  type: 'update';
  /** IPv4 unicast prefixes, "a.b.c.d/len". */
  withdrawnRoutes: string[];
  /** In wire order. */
  attributes: PathAttribute[];
  /** IPv4 unicast prefixes, "a.b.c.d/len". */
  nlri: string[];
}

export interface UpdateDecodeOptions {
  /** The peer is external (default false: vxgate peers with route reflectors over iBGP). */
  ebgp?: boolean;
  /** With ebgp: check that the leftmost AS_PATH AS is this one (RFC 4271 §6.3). */
  peerAs?: number;
}

/** Every route an UPDATE carried, for treat-as-withdraw (RFC 7606 §2). */
export interface WithdrawSet {
  ipv4: string[];
  evpn: EvpnRoute[];
}

export interface UpdateError extends BgpError {
  /** With action 'treat-as-withdraw': the routes to treat as withdrawn. */
  withdraw?: WithdrawSet;
}

export type UpdateDecodeResult = { ok: true; update: UpdateMessage; discarded: UpdateError[] } | { ok: false; error: UpdateError };

// ------------------------------------------------------------ IPv4 prefixes

class PrefixSyntax extends Error {}

/** "10.0.0.0/8" -> length octet + ceil(len/8) address octets (RFC 4271 §4.3). */
export function encodeIpv4Prefix(p: string): Buffer {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(p);
  if (!m || Number(m[2]) > 32) throw new BgpEncodeError(`not an IPv4 prefix: ${JSON.stringify(p)}`);
  const len = Number(m[2]);
  const addr = ipv4ToBytes(m[1]!);
  return Buffer.concat([Buffer.from([len]), addr.subarray(0, Math.ceil(len / 8))]);
}

function decodeIpv4Prefixes(buf: Buffer): string[] {
  const r = new Reader(buf);
  const out: string[] = [];
  while (!r.done) {
    const len = r.u8();
    if (len > 32) throw new PrefixSyntax(`prefix length ${len} > 32`);
    const n = Math.ceil(len / 8);
    if (n > r.remaining) throw new PrefixSyntax(`prefix /${len} needs ${n} octets, ${r.remaining} left`);
    const a = Buffer.alloc(4);
    r.bytes(n).copy(a);
    out.push(`${bytesToIpv4(a)}/${len}`);
  }
  return out;
}

// ------------------------------------------------------------ encode

export function encodeUpdateBody(u: UpdateMessage): Buffer {
  const w = Buffer.concat(u.withdrawnRoutes.map(encodeIpv4Prefix));
  const a = encodePathAttributes(u.attributes);
  const n = Buffer.concat(u.nlri.map(encodeIpv4Prefix));
  if (w.length > 0xffff || a.length > 0xffff) throw new BgpEncodeError('UPDATE field longer than 65535 octets');
  return Buffer.concat([u16(w.length), w, u16(a.length), a, n]);
}

// ------------------------------------------------------------ decode

interface Issue {
  action: ErrorAction;
  reason: string;
  attributeCode?: number;
  notification: NotificationData;
}

const EMPTY = Buffer.alloc(0);

function publish(i: Issue, withdraw?: WithdrawSet): UpdateError {
  const e: UpdateError = { action: i.action, reason: i.reason };
  if (i.attributeCode !== undefined) e.attributeCode = i.attributeCode;
  if (i.action === 'session-reset') e.notification = i.notification;
  if (withdraw) e.withdraw = withdraw;
  return e;
}

function reset(subcode: number, data: Buffer, reason: string, attributeCode?: number): UpdateDecodeResult {
  return { ok: false, error: sessionReset(ErrorCode.UPDATE_MESSAGE, subcode, data, reason, attributeCode) };
}

function isMp(code: number): boolean {
  return code === AttrCode.MP_REACH_NLRI || code === AttrCode.MP_UNREACH_NLRI;
}

/** Decodes an UPDATE body (everything after the 19-octet header). Never throws. */
export function decodeUpdateBody(body: Buffer, opts: UpdateDecodeOptions = {}): UpdateDecodeResult {
  try {
    return decodeUpdateInner(body, { ebgp: opts.ebgp ?? false, ...(opts.peerAs !== undefined ? { peerAs: opts.peerAs } : {}) });
  } catch (e) {
    return { ok: false, error: internalError(e) };
  }
}

function decodeUpdateInner(body: Buffer, ctx: DecodeContext): UpdateDecodeResult {
  if (body.length < 4) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(Math.min(0xffff, body.length + 19));
    return { ok: false, error: sessionReset(ErrorCode.MESSAGE_HEADER, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, len, `UPDATE body of ${body.length} octets < 4`) };
  }
  // RFC 4271 §6.3 / RFC 7606 §3(b): the two length fields must fit the message;
  // otherwise nothing can be located -> session reset, Malformed Attribute List.
  const wrLen = body.readUInt16BE(0);
  if (2 + wrLen + 2 > body.length) {
    return reset(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, EMPTY, `RFC 4271 §6.3: Withdrawn Routes Length ${wrLen} overruns the ${body.length}-octet UPDATE body`);
  }
  const taLen = body.readUInt16BE(2 + wrLen);
  const attrStart = 4 + wrLen;
  const attrEnd = attrStart + taLen;
  if (attrEnd > body.length) {
    return reset(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, EMPTY, `RFC 4271 §6.3: Withdrawn Routes Length ${wrLen} + Total Path Attribute Length ${taLen} + 23 exceeds the message length ${body.length + 19}`);
  }

  // RFC 7606 §5.3 + §3(j): a syntactically wrong Withdrawn Routes or NLRI field
  // means the routes cannot be reliably enumerated, so treat-as-withdraw is
  // impossible -> session reset, Invalid Network Field (RFC 4271 §6.3).
  let withdrawnRoutes: string[];
  let nlri: string[];
  try {
    withdrawnRoutes = decodeIpv4Prefixes(body.subarray(2, 2 + wrLen));
  } catch (e) {
    if (e instanceof PrefixSyntax) return reset(UpdateSubcode.INVALID_NETWORK_FIELD, EMPTY, `RFC 7606 §5.3: Withdrawn Routes: ${e.message}`);
    throw e;
  }
  try {
    nlri = decodeIpv4Prefixes(body.subarray(attrEnd));
  } catch (e) {
    if (e instanceof PrefixSyntax) return reset(UpdateSubcode.INVALID_NETWORK_FIELD, EMPTY, `RFC 7606 §5.3: NLRI: ${e.message}`);
    throw e;
  }

  const attributes: PathAttribute[] = [];
  const discarded: UpdateError[] = [];
  const issues: Issue[] = [];
  const seen = new Set<number>();
  let mpReach: MpReachAttr | undefined;
  let mpUnreach: MpUnreachAttr | undefined;
  let framing: string | undefined;

  let pos = attrStart;
  while (pos < attrEnd) {
    const start = pos;
    const left = attrEnd - pos;
    // RFC 7606 §4, second case: fewer than 3 octets (4 with Extended Length)
    // left for an attribute header.
    if (left < 3) {
      framing = `${left} octet(s) left at the end of the path attributes, too few for an attribute header`;
      break;
    }
    const flags = body[pos]!;
    const code = body[pos + 1]!;
    const hdr = flags & AttrFlag.EXTENDED_LENGTH ? 4 : 3;
    if (left < hdr) {
      framing = `${left} octets left, too few for an extended-length header (attribute ${code})`;
      break;
    }
    const len = hdr === 4 ? body.readUInt16BE(pos + 2) : body[pos + 2]!;
    // RFC 7606 §4, first case: the attribute's length overruns Total Path Attribute Length.
    if (len > left - hdr) {
      if (isMp(code)) {
        // §3(j): the MP_REACH/MP_UNREACH we know is there cannot be parsed, so
        // its NLRI cannot be located: treat-as-withdraw is impossible.
        return reset(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, EMPTY, `RFC 7606 §4 + §3(j): ${attributeName(code)} length ${len} overruns the path attributes (${left - hdr} octets left)`, code);
      }
      framing = `${attributeName(code)} length ${len} overruns the path attributes (${left - hdr} octets left)`;
      break;
    }
    const raw = body.subarray(start, pos + hdr + len);
    const value = raw.subarray(hdr);
    pos += hdr + len;

    // RFC 7606 §3(g): duplicates.
    if (seen.has(code)) {
      if (isMp(code)) {
        return reset(UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, EMPTY, `RFC 7606 §3(g): ${attributeName(code)} appears more than once`, code);
      }
      discarded.push({ action: 'attribute-discard', reason: `RFC 7606 §3(g): repeated ${attributeName(code)} discarded, the first occurrence is kept`, attributeCode: code });
      continue;
    }
    seen.add(code);

    const codec = codecForCode(code);
    if (!codec) {
      if ((flags & AttrFlag.OPTIONAL) === 0) {
        // RFC 4271 §6.3 (not revised by RFC 7606): unrecognized well-known attribute.
        return reset(UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, Buffer.from(raw), `RFC 4271 §6.3: unrecognized well-known attribute ${code}`, code);
      }
      // Unrecognized optional: kept raw with its flags (RFC 4271 §5; see attributes/unknown.ts).
      attributes.push(decodePathAttributeValue(flags, code, value, ctx));
      continue;
    }

    let attr: PathAttribute;
    try {
      attr = decodePathAttributeValue(flags, code, value, ctx);
    } catch (e) {
      let m: AttrMalformed;
      if (e instanceof AttrMalformed) m = e;
      else if (e instanceof WireTruncatedError) m = new AttrMalformed(UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, e.message);
      else throw e;
      const action = m.opts.action ?? codec.malformed;
      const issue: Issue = {
        action,
        reason: `${codec.section}: ${m.message} -> ${action}`,
        attributeCode: code,
        notification: { code: ErrorCode.UPDATE_MESSAGE, subcode: m.subcode, data: m.opts.noData ? EMPTY : Buffer.from(raw) },
      };
      // §3(h): session reset is the strongest action; nothing else can change it.
      if (action === 'session-reset') return { ok: false, error: publish(issue) };
      if (action === 'attribute-discard') discarded.push(publish(issue));
      else issues.push(issue);
      continue;
    }

    if (attr.type === 'mp-reach') mpReach = attr;
    if (attr.type === 'mp-unreach') mpUnreach = attr;

    // RFC 7606 §3(c): Optional/Transitive bits in conflict with the attribute's definition.
    if (!flagsMatch(flags, codec.flags)) {
      const action = codec.flagError ?? codec.malformed;
      const issue: Issue = {
        action,
        reason: `RFC 7606 §3(c): ${codec.name} flags 0x${flags.toString(16).padStart(2, '0')} conflict with its Optional/Transitive definition -> ${action}`,
        attributeCode: code,
        notification: { code: ErrorCode.UPDATE_MESSAGE, subcode: UpdateSubcode.ATTRIBUTE_FLAGS_ERROR, data: Buffer.from(raw) },
      };
      if (action === 'session-reset') return { ok: false, error: publish(issue) };
      if (action === 'attribute-discard') discarded.push(publish(issue));
      else issues.push(issue);
      continue;
    }
    attributes.push(attr);
  }

  if (framing !== undefined) {
    // RFC 7606 §4: treat-as-withdraw, relying on Total Path Attribute Length
    // to locate the NLRI field (already parsed above). MP_REACH/MP_UNREACH
    // are sent first (§5.1), so one not seen before the error is taken as
    // absent; if no route was located at all, §5.2 below escalates.
    issues.push({
      action: 'treat-as-withdraw',
      reason: `RFC 7606 §4: ${framing} -> treat-as-withdraw`,
      notification: { code: ErrorCode.UPDATE_MESSAGE, subcode: UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, data: EMPTY },
    });
  } else {
    // RFC 7606 §3(d): missing well-known mandatory attributes on an UPDATE
    // that announces routes. RFC 4760 §3: with MP_REACH_NLRI, ORIGIN and
    // AS_PATH are required and NEXT_HOP is not (unless there is IPv4 NLRI).
    const required: number[] = [];
    if (nlri.length > 0) required.push(AttrCode.ORIGIN, AttrCode.AS_PATH, AttrCode.NEXT_HOP);
    else if (mpReach) required.push(AttrCode.ORIGIN, AttrCode.AS_PATH);
    for (const code of required) {
      if (!seen.has(code)) {
        issues.push({
          action: 'treat-as-withdraw',
          reason: `RFC 7606 §3(d): missing well-known mandatory ${attributeName(code)} -> treat-as-withdraw`,
          attributeCode: code,
          notification: { code: ErrorCode.UPDATE_MESSAGE, subcode: UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE, data: Buffer.from([code]) },
        });
      }
    }
  }

  if (issues.length === 0) {
    return { ok: true, update: { type: 'update', withdrawnRoutes, attributes, nlri }, discarded };
  }

  // §3(h): strongest action (only treat-as-withdraw can be left here).
  issues.sort((a, b) => actionStrength(b.action) - actionStrength(a.action));
  const first = issues[0]!;
  const more = issues.length > 1 ? ` (+${issues.length - 1} more: ${issues.slice(1).map((i) => i.reason).join('; ')})` : '';
  const withdraw: WithdrawSet = {
    ipv4: [...withdrawnRoutes, ...nlri],
    evpn: [...(mpUnreach?.family === 'evpn' ? mpUnreach.routes : []), ...(mpReach?.family === 'evpn' ? mpReach.routes : [])],
  };
  const rawMpRoutes = (mpReach?.family === 'raw' && mpReach.nlri.length > 0) || (mpUnreach?.family === 'raw' && mpUnreach.withdrawn.length > 0);
  if (withdraw.ipv4.length === 0 && withdraw.evpn.length === 0 && !rawMpRoutes) {
    // RFC 7606 §5.2: attributes but no NLRI located: treat-as-withdraw has
    // nothing to act on and the NLRI might be hidden -> session reset.
    return {
      ok: false,
      error: publish({ ...first, action: 'session-reset', reason: `RFC 7606 §5.2: no NLRI could be located; escalated to session reset: ${first.reason}${more}` }),
    };
  }
  return { ok: false, error: publish({ ...first, reason: first.reason + more }, withdraw) };
}

// ------------------------------------------------------------ helpers

/** RFC 4724 §2 End-of-RIB: an empty UPDATE (IPv4 unicast) or one holding only an empty MP_UNREACH_NLRI. */
export function isEndOfRib(u: UpdateMessage): { afi: number; safi: number } | undefined {
  if (u.withdrawnRoutes.length || u.nlri.length) return undefined;
  if (u.attributes.length === 0) return { afi: 1, safi: 1 };
  if (u.attributes.length !== 1) return undefined;
  const a = u.attributes[0]!;
  if (a.type !== 'mp-unreach') return undefined;
  if (a.family === 'evpn') return a.routes.length === 0 ? { afi: 25, safi: 70 } : undefined;
  return a.withdrawn.length === 0 ? { afi: a.afi, safi: a.safi } : undefined;
}

/** The EVPN routes an UPDATE announces and withdraws. */
export function evpnRoutesOf(u: UpdateMessage): { announced: EvpnRoute[]; withdrawn: EvpnRoute[]; nextHop?: string } {
  const out: { announced: EvpnRoute[]; withdrawn: EvpnRoute[]; nextHop?: string } = { announced: [], withdrawn: [] };
  for (const a of u.attributes) {
    if (a.type === 'mp-reach' && a.family === 'evpn') {
      out.announced.push(...a.routes);
      out.nextHop = a.nextHop;
    }
    if (a.type === 'mp-unreach' && a.family === 'evpn') out.withdrawn.push(...a.routes);
  }
  return out;
}

// ------------------------------------------------------------ builders

function packRoutes(routes: readonly EvpnRoute[], fixed: number, maxLength: number): EvpnRoute[][] {
  const batches: EvpnRoute[][] = [];
  let cur: EvpnRoute[] = [];
  let curLen = 0;
  for (const r of routes) {
    const n = encodeEvpnRoute(r).length;
    if (cur.length > 0 && fixed + curLen + n > maxLength) {
      batches.push(cur);
      cur = [];
      curLen = 0;
    }
    if (fixed + n > maxLength) throw new BgpEncodeError(`EVPN route of ${n} octets cannot fit a ${maxLength}-octet UPDATE`);
    cur.push(r);
    curLen += n;
  }
  if (cur.length > 0) batches.push(cur);
  return batches;
}

/**
 * UPDATEs announcing EVPN routes with one next hop and one attribute set,
 * split so that each message fits maxLength (4096). MP_REACH_NLRI is the
 * first attribute (RFC 7606 §5.1). `attributes` must not contain MP attributes.
 */
export function buildEvpnUpdates(
  a: { nextHop: string; linkLocalNextHop?: string; routes: readonly EvpnRoute[]; attributes: readonly PathAttribute[] },
  maxLength = 4096,
): UpdateMessage[] {
  if (a.attributes.some((x) => x.type === 'mp-reach' || x.type === 'mp-unreach')) throw new BgpEncodeError('attributes must not include MP_REACH/MP_UNREACH');
  const mpOf = (routes: EvpnRoute[]): MpReachAttr => {
    const mp: MpReachAttr = { type: 'mp-reach', family: 'evpn', nextHop: a.nextHop, routes };
    if (a.linkLocalNextHop !== undefined) mp.linkLocalNextHop = a.linkLocalNextHop;
    return mp;
  };
  const mk = (routes: EvpnRoute[]): UpdateMessage => ({ type: 'update', withdrawnRoutes: [], attributes: [mpOf(routes), ...a.attributes], nlri: [] });
  // header + the two length fields + the other attributes + an empty MP_REACH (+1: its length may need 2 octets)
  const fixed = 19 + 4 + encodePathAttributes(a.attributes).length + encodePathAttributes([mpOf([])]).length + 1;
  return packRoutes(a.routes, fixed, maxLength).map(mk);
}

/** UPDATEs withdrawing EVPN routes (MP_UNREACH_NLRI only), split to fit maxLength. */
export function buildEvpnWithdrawals(routes: readonly EvpnRoute[], maxLength = 4096): UpdateMessage[] {
  const mk = (rs: EvpnRoute[]): UpdateMessage => ({ type: 'update', withdrawnRoutes: [], attributes: [{ type: 'mp-unreach', family: 'evpn', routes: rs }], nlri: [] });
  const fixed = 19 + 4 + 4 + 3; // header, length fields, extended-length MP_UNREACH header, AFI/SAFI
  return packRoutes(routes, fixed, maxLength).map(mk);
}

/** RFC 4724 §2 End-of-RIB marker for L2VPN EVPN. */
export function evpnEndOfRib(): UpdateMessage {
  return { type: 'update', withdrawnRoutes: [], attributes: [{ type: 'mp-unreach', family: 'evpn', routes: [] }], nlri: [] };
}
