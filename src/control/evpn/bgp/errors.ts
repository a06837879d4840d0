// Error model shared by every BGP codec in this directory.
//
// Decoders never throw on peer input. Internally the bounds-checked Reader
// (wire.ts) throws WireTruncatedError and the per-attribute decoders throw
// AttrMalformed (attributes/types.ts);
// the public entry points (decodeMessage, decodeUpdateBody, decodeOpenBody, ...)
// catch them and return a classified result instead.
//
// Encoders work on our own typed objects: a value that cannot be put on the
// wire (an IPv4 string that is not one, a 25-bit VNI, an UPDATE over 4096
// octets) is a programming error and throws BgpEncodeError.

/** RFC 7606 §2 error-handling approaches, strongest first. */
export type ErrorAction = 'session-reset' | 'treat-as-withdraw' | 'attribute-discard';

/** Code/subcode/data of a NOTIFICATION to send (RFC 4271 §4.5). */
export interface NotificationData {
  code: number;
  subcode: number;
  data: Buffer;
}

/**
 * A classified decode error.
 *
 * `notification` is present exactly when `action` is 'session-reset': it is the
 * NOTIFICATION the session layer must send before closing the connection.
 */
export interface BgpError {
  action: ErrorAction;
  notification?: NotificationData;
  /** Human-readable, names the RFC section that decided the action. */
  reason: string;
  /** Path attribute type code the error is about, when there is one. */
  attributeCode?: number;
}

/** Strength order of RFC 7606 §3(h): the strongest action wins. */
export function actionStrength(a: ErrorAction): number {
  switch (a) {
    case 'session-reset':
      return 3;
    case 'treat-as-withdraw':
      return 2;
    case 'attribute-discard':
      return 1;
  }
}

/** Thrown by encoders for values that cannot be represented on the wire. */
export class BgpEncodeError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'BgpEncodeError';
  }
}

/** Internal: a read ran past the end of the bounded region. */
export class WireTruncatedError extends Error {
  constructor(
    readonly wanted: number,
    readonly available: number,
    readonly what: string,
  ) {
    super(`truncated ${what}: wanted ${wanted} octets, ${available} available`);
    this.name = 'WireTruncatedError';
  }
}

export function sessionReset(code: number, subcode: number, data: Buffer, reason: string, attributeCode?: number): BgpError {
  const e: BgpError = { action: 'session-reset', notification: { code, subcode, data }, reason };
  if (attributeCode !== undefined) e.attributeCode = attributeCode;
  return e;
}

/** Result of a decoder that either yields a value or a classified error. */
export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: BgpError };

/** Last-resort conversion of an unexpected exception (a codec bug) into a session reset. */
export function internalError(e: unknown): BgpError {
  const msg = e instanceof Error ? e.message : String(e);
  // RFC 4271 has no "internal error" code; Cease without a subcode is the
  // least misleading NOTIFICATION for "this speaker failed".
  return sessionReset(6, 0, Buffer.alloc(0), `internal: unexpected decoder exception: ${msg}`);
}
