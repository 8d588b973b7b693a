import { describe, expect, it } from "vitest";
import {
  applyFeedWindow,
  emptyFeedView,
  FEED_RETENTION_MS,
  type FeedEntry,
  type FeedWindow,
  feedRefusal,
} from "../../../src/revocation/feed";

const H1 = "a".repeat(64);
const H2 = "b".repeat(64);
const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);

const windowOf = (entries: FeedEntry[], head = entries.at(-1)?.seq ?? 0): FeedWindow => ({
  v: 1,
  head_seq: head,
  generated_at_ms: NOW,
  retention_ms: FEED_RETENTION_MS,
  entries,
});
const keyEntry = (seq: number, hash: string, notAfter: number | null, at = NOW - 1000): FeedEntry => ({
  seq,
  kind: "key",
  secret_hash: hash,
  not_after_ms: notAfter,
  at_ms: at,
});
const accountEntry = (seq: number, account: string, suspended: boolean, at = NOW - 1000): FeedEntry => ({
  seq,
  kind: "account",
  account_id: account,
  suspended,
  at_ms: at,
});

describe("the feed view", () => {
  it("refuses a key from its not_after instant on, and every key of a suspended account", () => {
    const view = emptyFeedView();
    const changed = applyFeedWindow(
      view,
      windowOf([keyEntry(1, H1, NOW - 5), keyEntry(2, H2, NOW + 60_000), accountEntry(3, "acct_x", true)]),
      NOW,
    );
    expect(changed).toEqual({ keys: [H1, H2], accounts: ["acct_x"] });
    expect(view.seq).toBe(3);
    expect(feedRefusal(view, H1, "acct_1", NOW)).toBe("key_ended");
    expect(feedRefusal(view, H2, "acct_1", NOW)).toBeNull();
    expect(feedRefusal(view, H2, "acct_1", NOW + 60_000)).toBe("key_ended");
    expect(feedRefusal(view, "c".repeat(64), "acct_x", NOW)).toBe("account_suspended");
  });

  it("the latest entry for a subject wins: a lifted key or a resumed account is no longer refused", () => {
    const view = emptyFeedView();
    applyFeedWindow(view, windowOf([keyEntry(1, H1, NOW - 5), accountEntry(2, "acct_x", true)]), NOW);
    applyFeedWindow(
      view,
      windowOf([keyEntry(1, H1, NOW - 5), accountEntry(2, "acct_x", true), keyEntry(3, H1, null), accountEntry(4, "acct_x", false)]),
      NOW,
    );
    expect(feedRefusal(view, H1, "acct_x", NOW)).toBeNull();
  });

  it("applies only entries it has not seen, and forgets entries past the retention (KV shows them by then)", () => {
    const view = emptyFeedView();
    applyFeedWindow(view, windowOf([keyEntry(5, H1, NOW - 5)]), NOW);
    expect(applyFeedWindow(view, windowOf([keyEntry(5, H1, NOW - 5)]), NOW)).toEqual({ keys: [], accounts: [] });
    applyFeedWindow(view, windowOf([], 5), NOW + FEED_RETENTION_MS + 1000);
    expect(view.keys.size).toBe(0);
    expect(feedRefusal(view, H1, "acct_1", NOW + FEED_RETENTION_MS + 1000)).toBeNull();
  });
});
