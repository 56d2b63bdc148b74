/**
 * Control texts that only tell the host something, while the session is
 * active: server progress, peers joining and leaving, the focus list. Each
 * becomes one sync event; the session acts on the others itself.
 */
import type { ControlMessage } from '../../../common/src/wire/control';
import type { SyncEvent } from '../../../common/src/wire/events';

/** The event a control text stands for, or null when it stands for none. */
export function controlEvent(msg: ControlMessage): SyncEvent | null {
  switch (msg.type) {
    case 'sync_progress':
      return { type: 'progress', completed: msg.completed, total: msg.total };
    case 'peer_joined':
      return { type: 'peerJoined', peer_count: msg.peer_count };
    case 'peer_left':
      return { type: 'peerLeft', peer_count: msg.peer_count };
    case 'focus_list_changed':
      return { type: 'focusListChanged', files: msg.files };
    default:
      return null;
  }
}
