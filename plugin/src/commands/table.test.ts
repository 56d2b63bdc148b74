import { describe, expect, it } from 'vitest';
import { buildManifest } from '../manifest';
import { handledCommands, isKnownCommand } from './index';
import { ADVERTISED_COMMANDS, COMMAND_NAMES } from './table';

describe('the command table', () => {
  it('names each command once, and every name has a handler', () => {
    expect(new Set(COMMAND_NAMES).size).toBe(COMMAND_NAMES.length);
    const { own, stateful } = handledCommands();
    const handled = new Set([...own, ...stateful]);
    expect(COMMAND_NAMES.filter((name) => !handled.has(name))).toEqual([]);
    expect([...handled].filter((name) => !(COMMAND_NAMES as readonly string[]).includes(name))).toEqual([]);
    for (const name of COMMAND_NAMES) expect(isKnownCommand(name), name).toBe(true);
  });

  it('the manifest lists the advertised commands in the table order', () => {
    expect((buildManifest() as { commands: string[] }).commands).toEqual([...ADVERTISED_COMMANDS]);
    expect(ADVERTISED_COMMANDS).not.toContain('MaterializeWorkspace');
  });

  it('names that are not commands (inherited property names included) are unknown', () => {
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'Nope', '']) expect(isKnownCommand(name), name).toBe(false);
  });
});
