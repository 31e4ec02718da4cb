// test-support/module-log-hooks.mjs — module customization hooks (node:module register) that post the URL of every
// module resolved to the port they are given: what proxy/test/lazy-modules.test.ts reads to see which of
// Drawbridge's own modules a process loaded (ESM modules are not in require.cache).
let port;
export async function initialize(data) {
  port = data.port;
}
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  port.postMessage(result.url);
  return result;
}
