// vxgate BGP-4 + EVPN wire codecs (Buffer <-> typed objects; no sockets).
//
// Entry points that never throw, whatever the input (every read is bounds
// checked; outcomes are classified errors carrying the NOTIFICATION to send):
//   readFrame, checkHeader               header.ts   stream framing, RFC 4271 §6.1
//   decodeMessage                        message.ts  any message, header included
//   decodeOpenBody                       open.ts     RFC 4271 §6.2 / RFC 5492
//   decodeUpdateBody                     update.ts   RFC 7606 classification (decision table there)
//   decodeNotificationBody               notification.ts
//   decodeRouteRefreshBody               route-refresh.ts
//   decodeEvpnNlri                       evpn-nlri.ts
// Building blocks (decodeRd, decodeCapabilities, decodePathAttributeValue,
// decodeExtCommunity) throw the internal WireTruncatedError / AttrMalformed
// and are meant to be called under one of the entry points above.
//
// Encoders (encodeMessage, encode*Body, encodePathAttribute, encodeEvpnRoute,
// ...) throw BgpEncodeError for values the wire cannot carry. For every
// decoded value v of input bytes b, encode(v) == b (received flags, reserved
// octets and unrecognized values are kept for that), and for values in
// canonical text form decode(encode(x)) deep-equals x.

export * from './errors.ts';
export * from './addr.ts';
export * from './rd.ts';
export * from './header.ts';
export * from './notification.ts';
export * from './capabilities.ts';
export * from './open.ts';
export * from './route-refresh.ts';
export * from './extcommunity.ts';
export * from './evpn-nlri.ts';
export * from './attributes/index.ts';
export * from './update.ts';
export * from './message.ts';
export { Reader } from './wire.ts';
