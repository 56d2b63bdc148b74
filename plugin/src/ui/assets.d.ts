// Text assets bundled by esbuild's text loader (see scripts/build/generate.mjs).
declare module '*.html' {
  const text: string;
  export default text;
}
declare module '*.css' {
  const text: string;
  export default text;
}
declare module '*.txt' {
  const text: string;
  export default text;
}
