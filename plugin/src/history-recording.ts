/**
 * History recording: opening the stored update history, and recording every
 * applied update (local or remote) with its time (from the host), origin,
 * files and, for a local one, this device.
 */
import { HistoryLog } from './core/history';
import { ORIGIN_LOCAL, ORIGIN_REMOTE, ORIGIN_SYNC, type UpdateOrigin } from './core/origin';
import type { HostBridge } from './host/bridge';
import type { Reports } from './reports';

/** The history's name of the workspace doc (body docs go by their keys). */
export const WORKSPACE_DOC_NAME = 'workspace';

/** History origin names, lowercase like the original's history entries. */
const HISTORY_ORIGIN_NAMES: Record<UpdateOrigin, string> = {
  [ORIGIN_LOCAL]: 'local',
  [ORIGIN_REMOTE]: 'remote',
  [ORIGIN_SYNC]: 'sync',
};

/**
 * The stored history, read on first use: problems found then are reported
 * like other storage errors, versions dropped for retention are logged.
 */
export function openHistory(host: HostBridge, read: (key: string) => Uint8Array | null, now: () => number, reports: Reports): HistoryLog {
  const history = HistoryLog.decode(read, now);
  history.onDropped = (doc, entries, reason) =>
    host.log('info', `[history] dropped the ${entries} oldest version${entries === 1 ? '' : 's'} of ${doc} for ${reason}; later versions are kept`);
  history.onLoadErrors = (errors) => {
    for (const problem of errors) reports.reportError(`history: ${problem}`);
  };
  return history;
}

/** The device a local update is recorded with. */
export interface RecordingDevice {
  readonly deviceId: string;
  readonly deviceName: string | null;
}

/** Records an applied update of `docName` in the history. */
export function recordUpdate(history: HistoryLog, device: RecordingDevice, docName: string, update: Uint8Array, origin: UpdateOrigin, files: string[]): void {
  const local = origin === ORIGIN_LOCAL;
  history.record(docName, update, HISTORY_ORIGIN_NAMES[origin], {
    filesChanged: files,
    deviceId: local ? device.deviceId : null,
    deviceName: local ? device.deviceName : null,
  });
}
