import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { ActionableError, EXIT, runProgram } from './errors';

function program(): Command {
  const p = new Command('tool').exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  p.command('run')
    .requiredOption('--dir <dir>', 'a folder')
    .action((opts: { dir: string }) => {
      if (opts.dir === 'refused') throw new ActionableError('refused', EXIT.access);
    });
  return p;
}

describe('runProgram exit codes', () => {
  it.each([
    ['an unknown option', ['run', '--dir', 'd', '--bogus']],
    ['a missing required option', ['run']],
    ['an unknown command', ['nope']],
  ])('%s is bad usage (2)', async (_what, args) => {
    expect(await runProgram(program(), ['node', 'tool', ...args])).toBe(EXIT.usage);
  });

  it('help exits 0, a run 0, an ActionableError its own code', async () => {
    expect(await runProgram(program(), ['node', 'tool', 'run', '--help'])).toBe(EXIT.ok);
    expect(await runProgram(program(), ['node', 'tool', 'run', '--dir', 'd'])).toBe(EXIT.ok);
    const stderr = process.stderr.write;
    process.stderr.write = () => true;
    try {
      expect(await runProgram(program(), ['node', 'tool', 'run', '--dir', 'refused'])).toBe(EXIT.access);
    } finally {
      process.stderr.write = stderr;
    }
  });
});
