// ROUTE-REFRESH message (RFC 2918 §3), with the RFC 7313 §3 message subtype
// in the formerly reserved octet (0 normal, 1 BoRR, 2 EoRR):
//
//   AFI (2) | Reserved / Message Subtype (1) | SAFI (1)

import { BgpEncodeError, type DecodeResult, sessionReset } from './errors.ts';
import { ErrorCode, RouteRefreshSubcode } from './notification.ts';
import { u16 } from './wire.ts';

export const RouteRefreshSubtype = { NORMAL: 0, BEGIN_OF_ROUTE_REFRESH: 1, END_OF_ROUTE_REFRESH: 2 } as const;

export interface RouteRefreshMessage {
  type: 'route-refresh';
  afi: number;
  safi: number;
  /** RFC 7313 subtype, present only when non-zero. */
  subtype?: number;
}

export function encodeRouteRefreshBody(m: RouteRefreshMessage): Buffer {
  const st = m.subtype ?? 0;
  for (const [k, v] of [['subtype', st], ['SAFI', m.safi]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new BgpEncodeError(`ROUTE-REFRESH ${k} ${v} out of range`);
  }
  return Buffer.concat([u16(m.afi, 'AFI'), Buffer.from([st, m.safi])]);
}

/** RFC 7313 §5: a body that is not 4 octets -> ROUTE-REFRESH Message Error / Invalid Message Length (data = the message). */
export function decodeRouteRefreshBody(body: Buffer, wholeMessage?: Buffer): DecodeResult<RouteRefreshMessage> {
  if (body.length !== 4) {
    return {
      ok: false,
      error: sessionReset(ErrorCode.ROUTE_REFRESH_MESSAGE, RouteRefreshSubcode.INVALID_MESSAGE_LENGTH, Buffer.from(wholeMessage ?? body), `RFC 7313 §5: ROUTE-REFRESH body of ${body.length} octets != 4`),
    };
  }
  const m: RouteRefreshMessage = { type: 'route-refresh', afi: body.readUInt16BE(0), safi: body[3]! };
  if (body[2]) m.subtype = body[2];
  return { ok: true, value: m };
}
