// BGP message header (RFC 4271 §4.1) and stream framing.
//
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                           Marker (16 octets of 0xff)          |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Length               |      Type     |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Length counts the header; 19 <= Length <= 4096. The RFC 8654 extended
// message size (65535) is not supported.

import { BgpEncodeError, type BgpError, sessionReset } from './errors.ts';
import { ErrorCode, MessageHeaderSubcode, RouteRefreshSubcode } from './notification.ts';

export const MessageType = {
  OPEN: 1,
  UPDATE: 2,
  NOTIFICATION: 3,
  KEEPALIVE: 4,
  ROUTE_REFRESH: 5,
} as const;

export const HEADER_LENGTH = 19;
export const MAX_MESSAGE_LENGTH = 4096;
export const MARKER = Buffer.alloc(16, 0xff);

/** Minimum total message length per type (RFC 4271 §4.2-4.5, RFC 2918 §3). */
export const MIN_MESSAGE_LENGTH: Record<number, number> = {
  1: 29,
  2: 23,
  3: 21,
  4: 19,
  5: 23,
};

export interface MessageHeader {
  length: number;
  type: number;
}

function lengthData(length: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(length & 0xffff);
  return b;
}

/**
 * Validates the 19 header octets at buf[offset..]. Caller guarantees 19 octets.
 * RFC 4271 §6.1:
 *  - marker not all ones -> Connection Not Synchronized (no data)
 *  - length < 19, > 4096, or not valid for the type -> Bad Message Length (data = the length field)
 *  - unknown type -> Bad Message Type (data = the type octet)
 *  - RFC 7313 §5: ROUTE-REFRESH whose length is not 23 -> ROUTE-REFRESH Message Error /
 *    Invalid Message Length (data = the complete message, which the caller may not have yet:
 *    it is filled in by decodeMessage; framing reports it with the header only).
 */
export function checkHeader(buf: Buffer, offset = 0): { ok: true; header: MessageHeader } | { ok: false; error: BgpError } {
  if (buf.length - offset < HEADER_LENGTH) {
    return { ok: false, error: sessionReset(ErrorCode.MESSAGE_HEADER, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, lengthData(buf.length - offset), `header truncated: ${buf.length - offset} octets`) };
  }
  for (let i = 0; i < 16; i++) {
    if (buf[offset + i] !== 0xff) {
      return { ok: false, error: sessionReset(ErrorCode.MESSAGE_HEADER, MessageHeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, Buffer.alloc(0), 'RFC 4271 §6.1: marker is not all ones') };
    }
  }
  const length = (buf[offset + 16]! << 8) | buf[offset + 17]!;
  const type = buf[offset + 18]!;
  if (length < HEADER_LENGTH || length > MAX_MESSAGE_LENGTH) {
    return { ok: false, error: sessionReset(ErrorCode.MESSAGE_HEADER, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, lengthData(length), `RFC 4271 §6.1: message length ${length} outside 19..4096`) };
  }
  const min = MIN_MESSAGE_LENGTH[type];
  if (min === undefined) {
    return { ok: false, error: sessionReset(ErrorCode.MESSAGE_HEADER, MessageHeaderSubcode.BAD_MESSAGE_TYPE, Buffer.from([type]), `RFC 4271 §6.1: unknown message type ${type}`) };
  }
  if (type === MessageType.ROUTE_REFRESH && length !== 23) {
    return {
      ok: false,
      error: sessionReset(ErrorCode.ROUTE_REFRESH_MESSAGE, RouteRefreshSubcode.INVALID_MESSAGE_LENGTH, Buffer.from(buf.subarray(offset, offset + Math.min(length, buf.length - offset))), `RFC 7313 §5: ROUTE-REFRESH length ${length} != 23`),
    };
  }
  if (length < min || (type === MessageType.KEEPALIVE && length !== HEADER_LENGTH)) {
    return { ok: false, error: sessionReset(ErrorCode.MESSAGE_HEADER, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, lengthData(length), `RFC 4271 §6.1: length ${length} invalid for message type ${type}`) };
  }
  return { ok: true, header: { length, type } };
}

/** Prepends the header to a message body. */
export function frameMessage(type: number, body: Buffer): Buffer {
  const length = HEADER_LENGTH + body.length;
  if (length > MAX_MESSAGE_LENGTH) throw new BgpEncodeError(`message of ${length} octets exceeds ${MAX_MESSAGE_LENGTH}`);
  if (!Number.isInteger(type) || type < 0 || type > 255) throw new BgpEncodeError(`message type ${type} out of range`);
  const h = Buffer.alloc(HEADER_LENGTH, 0xff);
  h.writeUInt16BE(length, 16);
  h[18] = type;
  return Buffer.concat([h, body]);
}

export type FrameResult =
  | { status: 'incomplete'; need: number }
  | { status: 'frame'; type: number; message: Buffer; body: Buffer; next: number }
  | { status: 'error'; error: BgpError };

/**
 * Stream framing: looks at buf[offset..] and returns the next complete
 * message, or how many more octets are needed, or the header error (detected
 * as soon as the 19 header octets are in, without waiting for the body).
 * `message`/`body` are views into `buf` (no copy).
 */
export function readFrame(buf: Buffer, offset = 0): FrameResult {
  const avail = buf.length - offset;
  if (avail < HEADER_LENGTH) return { status: 'incomplete', need: HEADER_LENGTH - Math.max(0, avail) };
  const h = checkHeader(buf, offset);
  if (!h.ok) return { status: 'error', error: h.error };
  const { length, type } = h.header;
  if (avail < length) return { status: 'incomplete', need: length - avail };
  const message = buf.subarray(offset, offset + length);
  return { status: 'frame', type, message, body: message.subarray(HEADER_LENGTH), next: offset + length };
}
