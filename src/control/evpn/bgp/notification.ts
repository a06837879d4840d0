// NOTIFICATION message (RFC 4271 §4.5) and the registry of error codes and
// subcodes: RFC 4271 §4.5/§6, RFC 5492 (Unsupported Capability), RFC 4486
// (Cease subcodes), RFC 6608 (FSM error subcodes), RFC 7313 (ROUTE-REFRESH
// Message Error), RFC 9003 (Shutdown Communication).
//
//   0                   1                   2                   3
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | Error code    | Error subcode |   Data (variable)             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

import { BgpEncodeError, type DecodeResult, type NotificationData, sessionReset } from './errors.ts';

export const ErrorCode = {
  MESSAGE_HEADER: 1,
  OPEN_MESSAGE: 2,
  UPDATE_MESSAGE: 3,
  HOLD_TIMER_EXPIRED: 4,
  FSM: 5,
  CEASE: 6,
  ROUTE_REFRESH_MESSAGE: 7,
} as const;

/** RFC 4271 §6.1. */
export const MessageHeaderSubcode = {
  CONNECTION_NOT_SYNCHRONIZED: 1,
  BAD_MESSAGE_LENGTH: 2,
  BAD_MESSAGE_TYPE: 3,
} as const;

/** RFC 4271 §6.2, RFC 5492 §5 (7). 0 is "Unspecific" (IANA registry). */
export const OpenSubcode = {
  UNSPECIFIC: 0,
  UNSUPPORTED_VERSION_NUMBER: 1,
  BAD_PEER_AS: 2,
  BAD_BGP_IDENTIFIER: 3,
  UNSUPPORTED_OPTIONAL_PARAMETER: 4,
  /** Deprecated (was Authentication Failure). */
  DEPRECATED_5: 5,
  UNACCEPTABLE_HOLD_TIME: 6,
  UNSUPPORTED_CAPABILITY: 7,
} as const;

/** RFC 4271 §6.3. */
export const UpdateSubcode = {
  MALFORMED_ATTRIBUTE_LIST: 1,
  UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: 2,
  MISSING_WELL_KNOWN_ATTRIBUTE: 3,
  ATTRIBUTE_FLAGS_ERROR: 4,
  ATTRIBUTE_LENGTH_ERROR: 5,
  INVALID_ORIGIN_ATTRIBUTE: 6,
  /** Deprecated (was AS Routing Loop). */
  DEPRECATED_7: 7,
  INVALID_NEXT_HOP_ATTRIBUTE: 8,
  OPTIONAL_ATTRIBUTE_ERROR: 9,
  INVALID_NETWORK_FIELD: 10,
  MALFORMED_AS_PATH: 11,
} as const;

/** RFC 6608 §3. */
export const FsmSubcode = {
  UNSPECIFIED: 0,
  UNEXPECTED_MESSAGE_IN_OPENSENT: 1,
  UNEXPECTED_MESSAGE_IN_OPENCONFIRM: 2,
  UNEXPECTED_MESSAGE_IN_ESTABLISHED: 3,
} as const;

/** RFC 4486 §4 (and RFC 8538 for 9). */
export const CeaseSubcode = {
  MAXIMUM_NUMBER_OF_PREFIXES_REACHED: 1,
  ADMINISTRATIVE_SHUTDOWN: 2,
  PEER_DECONFIGURED: 3,
  ADMINISTRATIVE_RESET: 4,
  CONNECTION_REJECTED: 5,
  OTHER_CONFIGURATION_CHANGE: 6,
  CONNECTION_COLLISION_RESOLUTION: 7,
  OUT_OF_RESOURCES: 8,
  HARD_RESET: 9,
} as const;

/** RFC 7313 §5. */
export const RouteRefreshSubcode = {
  INVALID_MESSAGE_LENGTH: 1,
} as const;

export interface NotificationMessage {
  type: 'notification';
  code: number;
  subcode: number;
  data: Buffer;
}

export function encodeNotificationBody(n: { code: number; subcode: number; data?: Buffer }): Buffer {
  for (const [k, v] of [['code', n.code], ['subcode', n.subcode]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new BgpEncodeError(`NOTIFICATION ${k} ${v} out of range`);
  }
  return Buffer.concat([Buffer.from([n.code, n.subcode]), n.data ?? Buffer.alloc(0)]);
}

/** Body = everything after the 19-octet header. */
export function decodeNotificationBody(body: Buffer): DecodeResult<NotificationMessage> {
  if (body.length < 2) {
    // RFC 4271 §6.1: NOTIFICATION shorter than its minimum -> Bad Message Length.
    // (RFC 4271 §6.4: one must not answer a NOTIFICATION with a NOTIFICATION;
    // the session layer just closes, the classification is for logging.)
    const len = Buffer.alloc(2);
    len.writeUInt16BE(Math.min(0xffff, body.length + 19));
    return { ok: false, error: sessionReset(ErrorCode.MESSAGE_HEADER, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, len, `NOTIFICATION body of ${body.length} octets < 2`) };
  }
  return { ok: true, value: { type: 'notification', code: body[0]!, subcode: body[1]!, data: Buffer.from(body.subarray(2)) } };
}

export function notificationFrom(n: NotificationData): NotificationMessage {
  return { type: 'notification', code: n.code, subcode: n.subcode, data: Buffer.from(n.data) };
}

const CODE_NAMES: Record<number, string> = {
  1: 'Message Header Error',
  2: 'OPEN Message Error',
  3: 'UPDATE Message Error',
  4: 'Hold Timer Expired',
  5: 'Finite State Machine Error',
  6: 'Cease',
  7: 'ROUTE-REFRESH Message Error',
};

const SUBCODE_NAMES: Record<number, Record<number, string>> = {
  1: { 1: 'Connection Not Synchronized', 2: 'Bad Message Length', 3: 'Bad Message Type' },
  2: {
    0: 'Unspecific',
    1: 'Unsupported Version Number',
    2: 'Bad Peer AS',
    3: 'Bad BGP Identifier',
    4: 'Unsupported Optional Parameter',
    5: 'Deprecated (Authentication Failure)',
    6: 'Unacceptable Hold Time',
    7: 'Unsupported Capability',
  },
  3: {
    1: 'Malformed Attribute List',
    2: 'Unrecognized Well-known Attribute',
    3: 'Missing Well-known Attribute',
    4: 'Attribute Flags Error',
    5: 'Attribute Length Error',
    6: 'Invalid ORIGIN Attribute',
    7: 'Deprecated (AS Routing Loop)',
    8: 'Invalid NEXT_HOP Attribute',
    9: 'Optional Attribute Error',
    10: 'Invalid Network Field',
    11: 'Malformed AS_PATH',
  },
  5: {
    0: 'Unspecified Error',
    1: 'Receive Unexpected Message in OpenSent State',
    2: 'Receive Unexpected Message in OpenConfirm State',
    3: 'Receive Unexpected Message in Established State',
  },
  6: {
    1: 'Maximum Number of Prefixes Reached',
    2: 'Administrative Shutdown',
    3: 'Peer De-configured',
    4: 'Administrative Reset',
    5: 'Connection Rejected',
    6: 'Other Configuration Change',
    7: 'Connection Collision Resolution',
    8: 'Out of Resources',
    9: 'Hard Reset',
  },
  7: { 1: 'Invalid Message Length' },
};

/** "UPDATE Message Error / Malformed AS_PATH" (numbers for unknown values). */
export function describeNotification(code: number, subcode: number): string {
  const c = CODE_NAMES[code] ?? `code ${code}`;
  const s = SUBCODE_NAMES[code]?.[subcode] ?? (subcode === 0 ? 'Unspecific' : `subcode ${subcode}`);
  return `${c} / ${s}`;
}

/**
 * RFC 9003 Shutdown Communication: data of Cease / Administrative Shutdown or
 * Administrative Reset = 1-octet length + UTF-8 text (at most 255 octets).
 */
export function encodeShutdownCommunication(text: string): Buffer {
  const utf8 = Buffer.from(text, 'utf8');
  if (utf8.length > 255) throw new BgpEncodeError(`shutdown communication of ${utf8.length} octets > 255`);
  return Buffer.concat([Buffer.from([utf8.length]), utf8]);
}

/** Returns the text, or undefined if the data is not a well-formed RFC 9003 communication. */
export function decodeShutdownCommunication(data: Buffer): string | undefined {
  if (data.length < 1) return undefined;
  const n = data[0]!;
  if (n + 1 > data.length) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(1, 1 + n));
  } catch {
    return undefined;
  }
}
