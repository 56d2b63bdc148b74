/**
 * The sync wire formats, shared by the plugin, the host harness and the
 * server: action envelope, v2 frames and doc ids, y-sync messages, text
 * control messages and sync events. See PROTOCOL.md for the byte grammar.
 */
export * from './envelope';
export * from './events';
export * from './frame';
export * from './sync';
export * from './control';
export {
  encodeUtf8,
  decodeValidUtf8,
  tryDecodeUtf8,
  findUtf8Problem,
  describeUtf8Problem,
  type Utf8Problem,
} from './utf8';
