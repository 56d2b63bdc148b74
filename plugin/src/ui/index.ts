/**
 * HTML of the plugin's iframe tabs (`sync.snapshots`, `sync.history`):
 * self-contained pages (inline style and script, no network) that speak the
 * host's postMessage protocol through bridge.js.
 */
import bridge from './bridge.js.txt';
import style from './style.css';
import historyHtml from './history.html';
import snapshotsHtml from './snapshots.html';

function assemble(template: string): string {
  return template.replace('/*STYLE*/', () => style).replace('/*BRIDGE*/', () => bridge);
}

const COMPONENTS: Record<string, string> = {
  'sync.snapshots': snapshotsHtml,
  'sync.history': historyHtml,
};

/** The HTML for a component id, or null when the plugin has no such component. */
export function componentHtml(componentId: string): string | null {
  const template = COMPONENTS[componentId];
  return template === undefined ? null : assemble(template);
}
