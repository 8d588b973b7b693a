import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FeedWindowSchema } from "../../src/revocation/feed";
import { FEED_OBJECT_NAME } from "../../src/revocation/feed-do";

const feed = () => env.REVOCATION_FEED.get(env.REVOCATION_FEED.idFromName(FEED_OBJECT_NAME));

describe("the RevocationFeed Durable Object", () => {
  it("orders published changes and serves them as a window readers validate", async () => {
    const before = await feed().window();
    const { seq } = await feed().publish([
      { kind: "key", secret_hash: "d".repeat(64), not_after_ms: 1 },
      { kind: "account", account_id: "acct_feed", suspended: true },
    ]);
    expect(seq).toBe(before.head_seq + 2);
    const window = FeedWindowSchema.parse(await feed().window());
    expect(window.head_seq).toBe(seq);
    expect(window.entries.slice(-2)).toMatchObject([
      { seq: seq - 1, kind: "key", secret_hash: "d".repeat(64), not_after_ms: 1 },
      { seq, kind: "account", account_id: "acct_feed", suspended: true },
    ]);
  });

  it("an empty publish writes nothing and gives the head seq", async () => {
    const { seq } = await feed().publish([{ kind: "account", account_id: "acct_feed2", suspended: false }]);
    expect(await feed().publish([])).toEqual({ seq });
    expect((await feed().window()).head_seq).toBe(seq);
  });
});
