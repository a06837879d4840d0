// Whole-message codec: header + body dispatch for the five message types,
// and KEEPALIVE (RFC 4271 §4.4: a header with no body).

import { type BgpError, internalError, sessionReset } from './errors.ts';
import { checkHeader, frameMessage, HEADER_LENGTH, MessageType } from './header.ts';
import { decodeNotificationBody, encodeNotificationBody, ErrorCode, MessageHeaderSubcode, type NotificationMessage } from './notification.ts';
import { decodeOpenBody, encodeOpenBody, type OpenMessage } from './open.ts';
import { decodeRouteRefreshBody, encodeRouteRefreshBody, type RouteRefreshMessage } from './route-refresh.ts';
import { decodeUpdateBody, encodeUpdateBody, type UpdateDecodeOptions, type UpdateError, type UpdateMessage } from './update.ts';

export interface KeepaliveMessage {
  type: 'keepalive';
}

export type BgpMessage = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

export type MessageDecodeResult =
  | { ok: true; message: BgpMessage; /** UPDATE only: attribute-discard decisions. */ discarded: UpdateError[] }
  | { ok: false; error: UpdateError };

export function encodeMessage(m: BgpMessage): Buffer {
  switch (m.type) {
    case 'open':
      return frameMessage(MessageType.OPEN, encodeOpenBody(m));
    case 'update':
      return frameMessage(MessageType.UPDATE, encodeUpdateBody(m));
    case 'notification':
      return frameMessage(MessageType.NOTIFICATION, encodeNotificationBody(m));
    case 'keepalive':
      return frameMessage(MessageType.KEEPALIVE, Buffer.alloc(0));
    case 'route-refresh':
      return frameMessage(MessageType.ROUTE_REFRESH, encodeRouteRefreshBody(m));
  }
}

export function encodeKeepalive(): Buffer {
  return encodeMessage({ type: 'keepalive' });
}

function fail(error: BgpError): MessageDecodeResult {
  return { ok: false, error };
}

/**
 * Decodes exactly one message (header included; `buf` must be the whole
 * message, e.g. a frame from readFrame). Never throws.
 */
export function decodeMessage(buf: Buffer, opts: UpdateDecodeOptions = {}): MessageDecodeResult {
  try {
    const h = checkHeader(buf);
    if (!h.ok) return fail(h.error);
    const { length, type } = h.header;
    if (length !== buf.length) {
      const d = Buffer.alloc(2);
      d.writeUInt16BE(length);
      return fail(sessionReset(ErrorCode.MESSAGE_HEADER, MessageHeaderSubcode.BAD_MESSAGE_LENGTH, d, `header length ${length} but ${buf.length} octets given`));
    }
    const body = buf.subarray(HEADER_LENGTH);
    switch (type) {
      case MessageType.OPEN: {
        const r = decodeOpenBody(body);
        return r.ok ? { ok: true, message: r.value, discarded: [] } : fail(r.error);
      }
      case MessageType.UPDATE: {
        const r = decodeUpdateBody(body, opts);
        return r.ok ? { ok: true, message: r.update, discarded: r.discarded } : fail(r.error);
      }
      case MessageType.NOTIFICATION: {
        const r = decodeNotificationBody(body);
        return r.ok ? { ok: true, message: r.value, discarded: [] } : fail(r.error);
      }
      case MessageType.KEEPALIVE:
        return { ok: true, message: { type: 'keepalive' }, discarded: [] };
      case MessageType.ROUTE_REFRESH: {
        const r = decodeRouteRefreshBody(body, buf);
        return r.ok ? { ok: true, message: r.value, discarded: [] } : fail(r.error);
      }
      default:
        // checkHeader already refused unknown types.
        return fail(sessionReset(ErrorCode.MESSAGE_HEADER, MessageHeaderSubcode.BAD_MESSAGE_TYPE, Buffer.from([type]), `message type ${type}`));
    }
  } catch (e) {
    return fail(internalError(e));
  }
}
