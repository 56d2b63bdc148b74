/**
 * host_secret_get/set/delete storage: values by key in memory, optionally
 * mirrored to a JSON file (written atomically, readable by the owner only).
 */
import fs from 'node:fs';
import { atomicWrite } from './workspace-fs';

/** Secrets in memory, optionally mirrored to a JSON file. */
export class SecretStore {
  private readonly values = new Map<string, string>();
  constructor(private readonly file: string | undefined) {
    if (file && fs.existsSync(file)) {
      const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') this.values.set(k, v);
    }
  }
  get(key: string): string | undefined {
    return this.values.get(key);
  }
  set(key: string, value: string | undefined): void {
    if (value === undefined) this.values.delete(key);
    else this.values.set(key, value);
    if (this.file) {
      const text = JSON.stringify(Object.fromEntries(this.values), null, 2);
      atomicWrite(this.file, Buffer.from(text, 'utf8'), 0o600);
    }
  }
}
