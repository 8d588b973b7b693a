// Queue stub for `npm run bench -- --lean` (plain `workerd serve`): accepts what workerd's queue
// binding sends (POST /message, POST /batch) and drops it, answering the metadata the binding
// expects. There is no consumer in lean mode.
const accepted = { metadata: { metrics: { backlogCount: 0, backlogBytes: 0, oldestMessageTimestamp: 0 } } };

export default {
  async fetch(request) {
    if (request.method !== "POST") return new Response("queue stub", { status: 405 });
    await request.arrayBuffer();
    return Response.json(accepted);
  },
};
