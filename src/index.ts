/**
 * The library's public entry point (`import { LinkSession } from 'tslink'`):
 * the session and its types, and the error type every input and link
 * problem is reported as.
 */
export {
  LinkSession,
  type SessionOptions,
  type LinkReport,
  type WorkCount,
  type InputId,
  type ByteRange,
  type ImageWriter,
  type FileIdentity,
  type InputBytes,
  type UnchangedInputOptions,
  type PriorImage,
  type OutputShadow,
  type StateOptions,
  type RecordStore,
} from './session/LinkSession.js';
export { LinkError } from './obj/LinkError.js';
export { VERSION } from './version.js';
