// Queue stub for test/runtime/ (plain `workerd serve`): answers what workerd's queue binding sends
// (POST /message, POST /batch) as the lean bench stub does, and first passes each request on to the
// test's collector (COLLECTOR_URL), which decodes the audit messages.
const accepted = { metadata: { metrics: { backlogCount: 0, backlogBytes: 0, oldestMessageTimestamp: 0 } } };

export default {
  async fetch(request, env) {
    if (request.method !== "POST") return new Response("queue stub", { status: 405 });
    const bytes = new Uint8Array(await request.arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 8192) binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
    const path = new URL(request.url).pathname;
    const headers = Object.fromEntries(request.headers);
    await fetch(env.COLLECTOR_URL, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ path, headers, body: btoa(binary) }),
    });
    return Response.json(accepted);
  },
};
