/**
 * `E2eeSelfTest {kdf?, nonces?, measure?}`: runs the end-to-end encryption
 * known answers, envelope and tamper checks inside the plugin
 * (common/src/e2ee/self-test.ts) and reports each check; `kdf` ("argon2id" or
 * "scrypt") also derives a key with that algorithm's default parameters and
 * reports its time, `nonces` (1..100000) draws that many nonces and returns
 * them, `measure` (1..20 runs) times envelope seal and open.
 */
import { measureEnvelopes, type EnvelopeTimings } from '../../../common/src/e2ee/measure';
import { runSelfTest, type SelfTestReport } from '../../../common/src/e2ee/self-test';
import { CommandError, optionalNumber, optionalString, type Params } from './params';

export type E2eeSelfTestResult = SelfTestReport & { envelopes: EnvelopeTimings | null };

const PARAMS = ['kdf', 'nonces', 'measure'];

export function e2eeSelfTest(p: Params): E2eeSelfTestResult {
  // A diagnostic that runs for seconds: a misspelt option is an error, not a silent full run.
  const unknown = Object.keys(p).filter((key) => !PARAMS.includes(key));
  if (unknown.length > 0) throw new CommandError(`Invalid parameter ${unknown[0]}: E2eeSelfTest takes ${PARAMS.join(', ')}`);
  const kdf = optionalString(p, 'kdf');
  if (kdf !== null && kdf !== 'argon2id' && kdf !== 'scrypt') throw new CommandError(`Invalid parameter kdf: expected "argon2id" or "scrypt", got "${kdf}"`);
  const nonces = optionalNumber(p, 'nonces');
  const measure = optionalNumber(p, 'measure');
  if (measure !== null && !(Number.isInteger(measure) && measure >= 1 && measure <= 20)) throw new CommandError(`Invalid parameter measure: expected an integer from 1 to 20, got ${measure}`);
  try {
    const report = runSelfTest({ kdf: kdf ?? undefined, nonces: nonces ?? undefined });
    return { ...report, envelopes: measure === null ? null : measureEnvelopes(() => Date.now(), measure) };
  } catch (e) {
    if (e instanceof RangeError) throw new CommandError(`E2eeSelfTest: ${e.message}`);
    throw e;
  }
}
