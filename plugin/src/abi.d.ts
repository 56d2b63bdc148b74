// The plugin's whole Extism interface in one place.
//
// Exports: the named exports of plugin/src/index.ts (the build turns each into
// a wasm export `() -> i32`). Imports: the host functions below, namespace
// `extism:host/user`, each `(i64) -> i64` (Extism string in, string out; JSON
// shapes in README.md, "Host functions"). Only the ones the bundle
// really calls are imported; all of them go through plugin/src/host/bridge.ts.
declare module 'extism:host' {
  interface user {
    host_log(ptr: I64): I64;
    host_read_file(ptr: I64): I64;
    host_read_binary(ptr: I64): I64;
    host_list_files(ptr: I64): I64;
    host_file_exists(ptr: I64): I64;
    host_write_file(ptr: I64): I64;
    host_write_binary(ptr: I64): I64;
    host_delete_file(ptr: I64): I64;
    host_storage_get(ptr: I64): I64;
    host_storage_set(ptr: I64): I64;
    host_get_timestamp(ptr: I64): I64;
    host_http_request(ptr: I64): I64;
    host_ws_request(ptr: I64): I64;
    host_emit_event(ptr: I64): I64;
    host_get_runtime_context(ptr: I64): I64;
  }
}
