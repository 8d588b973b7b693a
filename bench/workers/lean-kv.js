// KV stub for `npm run bench -- --lean` (plain `workerd serve`): answers the requests workerd's
// kvNamespace binding makes (GET https://fake-host/<url-encoded key>?urlencoded=true) from the
// JSON object in the SEED binding ({ key: value }). Reads only; anything else is 405.
let store = null;

export default {
  async fetch(request, env) {
    store ??= new Map(Object.entries(JSON.parse(env.SEED)));
    if (request.method !== "GET") return new Response("read-only KV stub", { status: 405 });
    const key = decodeURIComponent(new URL(request.url).pathname.slice(1));
    const value = store.get(key);
    return value === undefined ? new Response(null, { status: 404 }) : new Response(value);
  },
};
