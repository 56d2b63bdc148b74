import { describe, expect, it } from 'vitest';
import { afterDeletedTextRemoved, deferredSeedOutcome, planLocalBody, reusedPathEdit, type LocalBodyPlan } from './reconcile';

/** A lazy argument a decision must not read: reading it fails the test. */
const unread = (what: string) => (): never => {
  throw new Error(`${what} was read`);
};
const value =
  <T>(v: T) =>
  (): T =>
    v;

describe('planLocalBody', () => {
  const cases: { name: string; linked: boolean; entryDeleted: boolean; online?: boolean; docEmpty?: boolean; plan: LocalBodyPlan }[] = [
    { name: 'not linked: into the doc now', linked: false, entryDeleted: false, plan: 'apply-now' },
    { name: 'not linked, deleted entry at the path: into the doc now', linked: false, entryDeleted: true, plan: 'apply-now' },
    { name: 'linked, deleted entry at the path: replaces the deleted text', linked: true, entryDeleted: true, plan: 'replace-deleted' },
    { name: 'linked, online: into the doc now', linked: true, entryDeleted: false, online: true, plan: 'apply-now' },
    { name: 'linked, offline, doc with text: into the doc now', linked: true, entryDeleted: false, online: false, docEmpty: false, plan: 'apply-now' },
    { name: 'linked, offline, empty doc: waits for the server', linked: true, entryDeleted: false, online: false, docEmpty: true, plan: 'wait-for-server' },
  ];
  it.each(cases)('$name', ({ linked, entryDeleted, online, docEmpty, plan }) => {
    const s = {
      linked,
      entryDeleted,
      online: online === undefined ? unread('online') : value(online),
      docEmpty: docEmpty === undefined ? unread('docEmpty') : value(docEmpty),
    };
    expect(planLocalBody(s)).toBe(plan);
  });
});

describe('reusedPathEdit', () => {
  it.each([
    { oldDocHere: true, docEmpty: undefined, edit: 'replace-whole' },
    { oldDocHere: false, docEmpty: false, edit: 'minimal-edit' },
    { oldDocHere: false, docEmpty: true, edit: 'none' },
  ] as const)('old doc here: $oldDocHere, empty: $docEmpty -> $edit', ({ oldDocHere, docEmpty, edit }) => {
    expect(reusedPathEdit({ oldDocHere, docEmpty: docEmpty === undefined ? unread('docEmpty') : value(docEmpty) })).toBe(edit);
  });
});

describe('deferredSeedOutcome', () => {
  it.each([
    { file: null, server: undefined, outcome: 'none' },
    { file: '', server: undefined, outcome: 'none' },
    { file: 'mine\n', server: '', outcome: 'seed' },
    { file: 'same\n', server: 'same\n', outcome: 'none' },
    { file: 'mine\n', server: 'theirs\n', outcome: 'conflict-copy' },
  ] as const)('file $file, server $server -> $outcome', ({ file, server, outcome }) => {
    expect(deferredSeedOutcome(file, server === undefined ? unread('serverBody') : value(server))).toBe(outcome);
  });
});

describe('afterDeletedTextRemoved', () => {
  it.each([
    { file: 'new\n', foreign: '', current: '', outcome: 'set' },
    { file: 'new\n', foreign: ' \n', current: 'left\n', outcome: 'set' },
    { file: 'same\n', foreign: '', current: 'same\n', outcome: 'none' },
    { file: 'mine\n', foreign: 'theirs\n', current: 'theirs\n', outcome: 'conflict-copy' },
    { file: 'mine\n', foreign: 'theirs\n', current: 'theirs\nmine\n', outcome: 'none' },
    { file: '', foreign: 'theirs\n', current: 'theirs\n', outcome: 'none' },
  ] as const)('file $file, foreign $foreign, now $current -> $outcome', ({ file, foreign, current, outcome }) => {
    expect(afterDeletedTextRemoved(file, foreign, current)).toBe(outcome);
  });
});
