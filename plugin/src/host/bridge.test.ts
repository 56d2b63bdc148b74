import { describe, expect, it } from 'vitest';
import { HostBridge } from './bridge';

/** A bridge whose host clock advances by one millisecond per read, counting the reads. */
function clockBridge() {
  let reads = 0;
  const bridge = new HostBridge((name) => {
    if (name !== 'host_get_timestamp') throw new Error(`unexpected host call ${name}`);
    reads++;
    return String(1_000 + reads);
  });
  return { bridge, reads: () => reads };
}

describe('HostBridge.timestamp', () => {
  it('reads the host clock once per export call', () => {
    const { bridge, reads } = clockBridge();
    bridge.beginExportCall();
    expect([bridge.timestamp(), bridge.timestamp()]).toEqual([1_001, 1_001]);
    expect(reads()).toBe(1);
    bridge.beginExportCall();
    expect(bridge.timestamp()).toBe(1_002);
    expect(reads()).toBe(2);
  });

  it('reads it every time outside marked export calls', () => {
    const { bridge, reads } = clockBridge();
    expect([bridge.timestamp(), bridge.timestamp()]).toEqual([1_001, 1_002]);
    expect(reads()).toBe(2);
  });
});
