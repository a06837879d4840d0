// Attributes this codec does not interpret (RFC 4271 §5, §9.1.3 rules for
// unrecognized attributes).
//
//  - Unrecognized well-known (Optional bit 0): the UPDATE is refused with
//    UPDATE Message Error / Unrecognized Well-known Attribute, data = the
//    attribute (RFC 4271 §6.3; RFC 7606 does not revise this) -> session reset.
//  - Unrecognized optional transitive: kept with its flags and value and
//    passed on with the Partial bit set (RFC 4271 §5 / §9.1.3).
//  - Unrecognized optional non-transitive: kept (so encode(decode(x)) is
//    exact) but never propagated; prepareForPropagation drops it.

import { BgpEncodeError } from '../errors.ts';
import { AttrFlag } from './types.ts';

export interface UnknownAttr {
  type: 'unknown';
  code: number;
  /** The flags octet as received (Extended Length is recomputed on encode when the value needs it). */
  flags: number;
  value: Buffer;
}

export function checkUnknown(a: UnknownAttr): void {
  if (!Number.isInteger(a.code) || a.code < 0 || a.code > 255) throw new BgpEncodeError(`attribute code ${a.code} out of range`);
  if (!Number.isInteger(a.flags) || a.flags < 0 || a.flags > 255) throw new BgpEncodeError(`attribute flags ${a.flags} out of range`);
}

/**
 * What an unknown attribute becomes when the route is advertised to another
 * peer: undefined (dropped) for an optional non-transitive one, a copy with
 * the Partial bit set for an optional transitive one (RFC 4271 §5: "If an
 * optional transitive attribute is unrecognized, the Partial bit in the
 * attribute flags octet is set to 1, and the attribute is retained for
 * propagation to other BGP speakers").
 */
export function propagateUnknown(a: UnknownAttr): UnknownAttr | undefined {
  if ((a.flags & AttrFlag.OPTIONAL) === 0) return undefined; // never decoded successfully anyway
  if ((a.flags & AttrFlag.TRANSITIVE) === 0) return undefined;
  return { ...a, value: Buffer.from(a.value), flags: a.flags | AttrFlag.PARTIAL };
}
