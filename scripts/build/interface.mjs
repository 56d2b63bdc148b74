// Reads a wasm module's imports and exports (with function signatures) and
// checks them against plugin/wasm-interface.json, the table of what an Extism
// host provides: the kernel's `extism:host/env` functions, WASI preview 1, and
// `extism:host/user` functions of type (i64) -> i64.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths.mjs';

const VALTYPES = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };
const KINDS = ['func', 'table', 'memory', 'global', 'tag'];

/** Parses the type, import, function and export sections of a wasm binary. */
export function readInterface(bytes) {
  const buf = Buffer.from(bytes);
  if (buf.readUInt32LE(0) !== 0x6d736100) throw new Error('not a wasm module');
  let pos = 8;
  const u32 = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = buf[pos++];
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  };
  const name = () => {
    const len = u32();
    const s = buf.toString('utf8', pos, pos + len);
    pos += len;
    return s;
  };
  const types = [];
  const imports = [];
  const exports = [];
  const funcTypes = [];
  while (pos < buf.length) {
    const id = buf[pos++];
    const size = u32();
    const end = pos + size;
    if (id === 1) {
      for (let n = u32(); n > 0; n--) {
        if (buf[pos++] !== 0x60) throw new Error('unexpected type form');
        const params = [];
        for (let p = u32(); p > 0; p--) params.push(VALTYPES[buf[pos++]]);
        const results = [];
        for (let r = u32(); r > 0; r--) results.push(VALTYPES[buf[pos++]]);
        types.push(`(${params.join(',')})->(${results.join(',')})`);
      }
    } else if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        const module = name();
        const field = name();
        const kind = buf[pos++];
        let type = null;
        if (kind === 0) {
          type = types[u32()];
          funcTypes.push(type);
        } else {
          pos = end; // only functions are expected; the check reports the kind
          imports.push({ module, name: field, kind: KINDS[kind], type });
          break;
        }
        imports.push({ module, name: field, kind: KINDS[kind], type });
      }
    } else if (id === 3) {
      for (let n = u32(); n > 0; n--) funcTypes.push(types[u32()]);
    } else if (id === 7) {
      for (let n = u32(); n > 0; n--) {
        const field = name();
        const kind = buf[pos++];
        const index = u32();
        exports.push({ name: field, kind: KINDS[kind], type: kind === 0 ? funcTypes[index] : null });
      }
    }
    pos = end;
  }
  return { imports, exports };
}

export function loadInterfaceTable() {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'plugin', 'wasm-interface.json'), 'utf8'));
}

/** Lists every way the module departs from the table (empty = conforms). */
export function interfaceProblems(iface, table, { exportNames, hostNames, preinitialised = true }) {
  const problems = [];
  for (const imp of iface.imports) {
    const where = `import ${imp.module}.${imp.name}`;
    if (imp.kind !== 'func') {
      problems.push(`${where}: kind ${imp.kind}, only functions may be imported`);
      continue;
    }
    if (imp.module === 'extism:host/user') {
      if (imp.type !== table.user) problems.push(`${where}: type ${imp.type}, expected ${table.user}`);
      if (hostNames && !hostNames.includes(imp.name)) problems.push(`${where}: not a host function the plugin uses`);
      continue;
    }
    const expected = table.imports[imp.module]?.[imp.name];
    if (!expected) problems.push(`${where}: not provided by Extism hosts`);
    else if (expected !== imp.type) problems.push(`${where}: type ${imp.type}, expected ${expected}`);
  }
  if (hostNames) {
    const imported = new Set(iface.imports.filter((i) => i.module === 'extism:host/user').map((i) => i.name));
    for (const h of hostNames) if (!imported.has(h)) problems.push(`host function ${h} is used but not imported`);
  }
  const exported = new Map(iface.exports.map((e) => [e.name, e]));
  for (const name of exportNames ?? []) {
    const e = exported.get(name);
    if (!e) problems.push(`export ${name} missing`);
    else if (e.type !== table.export) problems.push(`export ${name}: type ${e.type}, expected ${table.export}`);
  }
  for (const e of iface.exports) {
    const initExport = e.name === 'wizer.initialize' && !preinitialised;
    if (table.forbiddenExports.includes(e.name) && !initExport) problems.push(`export ${e.name} must not exist`);
    else if (!initExport && !(exportNames ?? []).includes(e.name) && !table.allowedExtraExports.includes(e.name)) {
      problems.push(`unexpected export ${e.name}`);
    }
  }
  if (!exported.has('memory')) problems.push('export memory missing');
  if (preinitialised && exported.has('wizer.initialize')) problems.push('wizer.initialize still exported');
  return problems;
}

/** Throws if the built module does not match the table. */
export function checkInterface(file, expectations) {
  const problems = interfaceProblems(readInterface(fs.readFileSync(file)), loadInterfaceTable(), expectations);
  if (problems.length) throw new Error(`${file} does not match plugin/wasm-interface.json:\n  ${problems.join('\n  ')}`);
}
