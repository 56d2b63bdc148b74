import { describe, expect, it } from 'vitest';
import { decodeBase64 } from '../base64';
import { KDF_KNOWN_ANSWERS, KNOWN_ANSWERS } from './known-answers';
import { runSelfTest } from './self-test';

describe('the e2ee self-test in Node', () => {
  it('passes every known answer, envelope and nonce check, and times both KDFs', () => {
    for (const kdf of ['argon2id', 'scrypt'] as const) {
      const report = runSelfTest({ kdf, nonces: 2000 });
      expect(report.checks.filter((c) => !c.pass)).toEqual([]);
      expect(report.passed).toBe(true);
      expect(report.kdf?.params.alg).toBe(kdf);
      expect(report.checks.find((c) => c.name === KDF_KNOWN_ANSWERS[kdf].name)?.output).toBe(KDF_KNOWN_ANSWERS[kdf].expected);
      expect(decodeBase64(report.nonces!)).toHaveLength(2000 * 24);
    }
  });

  it('reports a vector whose bytes differ as failed, with what it computed', () => {
    const vector = KNOWN_ANSWERS.find((k) => k.name.startsWith('HMAC'))!;
    const expected = vector.expected;
    vector.expected = expected.replace(/^5/, '6');
    try {
      const report = runSelfTest();
      expect(report.passed).toBe(false);
      expect(report.checks.find((c) => c.name === vector.name)).toMatchObject({ pass: false, output: expected });
    } finally {
      vector.expected = expected;
    }
  });

  it('refuses a nonce count out of range', () => {
    expect(() => runSelfTest({ nonces: 100_001 })).toThrow(/from 1 to 100000/);
  });
});
