/**
 * The revocation feed (docs/storage.md "Revocation feed"): an ordered, short-lived log of "stop
 * accepting" changes that every isolate follows in the background, so a revoked or shortened key and a
 * suspended account are refused everywhere within seconds, even while Workers KV still serves the old
 * record (KV propagation is about 60 s, the isolate cache 30 s). Pure: the entry format, the window
 * readers receive, and how an isolate folds entries into what it must refuse.
 *
 * Two kinds of entry, each about one subject; for a subject the entry with the highest `seq` wins:
 *   key      the key whose secret hashes to `secret_hash` must be refused from `not_after_ms` on
 *            (revocation: the revocation instant; a rotation: the end of the overlap; an expiry
 *            changed by PATCH: the new `expires_at`); `not_after_ms: null` lifts an earlier entry
 *            (the key's end moved later or went away: KV is the truth again)
 *   account  every key of `account_id` is refused while `suspended` is true; false lifts it
 *
 * An entry is kept {@link FEED_RETENTION_MS}: far longer than KV needs to show the same change
 * everywhere, after which KV alone is right (the Durable Object writes KV as well: docs/storage.md).
 */
import * as z from "zod";
import { API_KEY_PATTERN } from "../keys/format";

/** Milliseconds an entry stays in the feed: 10 minutes (KV propagation ≈ 60 s + isolate cache ≤ 30 s, with a wide margin). */
export const FEED_RETENTION_MS = 10 * 60_000;

/** Schema version of {@link FeedWindow}; a change is a migration (readers refuse what they do not know). */
export const FEED_WINDOW_VERSION = 1;

const SecretHash = z.string().regex(/^[0-9a-f]{64}$/);
const EpochMs = z.number().int().nonnegative();

export const KeyFeedEntrySchema = z.strictObject({
  seq: z.number().int().positive(),
  kind: z.literal("key"),
  secret_hash: SecretHash,
  /** Epoch ms from which the key is refused; null lifts an earlier entry for the same hash. */
  not_after_ms: EpochMs.nullable(),
  /** Epoch ms when the change was published. */
  at_ms: EpochMs,
});

export const AccountFeedEntrySchema = z.strictObject({
  seq: z.number().int().positive(),
  kind: z.literal("account"),
  account_id: z.string().regex(API_KEY_PATTERN),
  suspended: z.boolean(),
  at_ms: EpochMs,
});

export const FeedEntrySchema = z.discriminatedUnion("kind", [KeyFeedEntrySchema, AccountFeedEntrySchema]);
export type FeedEntry = z.infer<typeof FeedEntrySchema>;
export type KeyFeedEntry = z.infer<typeof KeyFeedEntrySchema>;
export type AccountFeedEntry = z.infer<typeof AccountFeedEntrySchema>;

/** A change to publish: an entry without its `seq` and `at_ms`, which the feed assigns. */
export type FeedChange =
  | { kind: "key"; secret_hash: string; not_after_ms: number | null }
  | { kind: "account"; account_id: string; suspended: boolean };

/** What a reader gets: every entry of the last {@link FEED_RETENTION_MS}, oldest first. */
export const FeedWindowSchema = z.strictObject({
  v: z.literal(FEED_WINDOW_VERSION),
  /** The highest seq ever assigned (0 before the first entry); entries may be fewer after pruning. */
  head_seq: z.number().int().nonnegative(),
  /** Epoch ms when the feed made this window. */
  generated_at_ms: EpochMs,
  /** Milliseconds entries are kept. */
  retention_ms: z.number().int().positive(),
  entries: z.array(FeedEntrySchema),
});
export type FeedWindow = z.infer<typeof FeedWindowSchema>;

/**
 * What an isolate must refuse on top of KV, folded from the feed entries it has seen. Mutable, one per
 * isolate; {@link applyFeedWindow} updates it, {@link feedRefusal} reads it on the request path (two Map
 * lookups).
 */
export interface FeedView {
  /** Highest seq applied (0: nothing yet). */
  seq: number;
  /** Per secret hash: the winning key entry. */
  keys: Map<string, KeyFeedEntry>;
  /** Per account: the winning account entry. */
  accounts: Map<string, AccountFeedEntry>;
}

export function emptyFeedView(): FeedView {
  return { seq: 0, keys: new Map(), accounts: new Map() };
}

/**
 * Folds a window into the view: entries above `view.seq` are applied in seq order (a later entry for a
 * subject replaces an earlier one), and entries older than the retention are dropped from the view
 * (KV shows their change by then).
 * @param nowMs current time, epoch milliseconds
 * @returns the secret hashes and account ids whose entry changed (the caller evicts them from its key cache)
 */
export function applyFeedWindow(view: FeedView, window: FeedWindow, nowMs: number): { keys: string[]; accounts: string[] } {
  const changedKeys: string[] = [];
  const changedAccounts: string[] = [];
  for (const entry of window.entries) {
    if (entry.seq <= view.seq) continue;
    if (entry.kind === "key") {
      const held = view.keys.get(entry.secret_hash);
      if (held === undefined || held.seq < entry.seq) {
        view.keys.set(entry.secret_hash, entry);
        changedKeys.push(entry.secret_hash);
      }
    } else {
      const held = view.accounts.get(entry.account_id);
      if (held === undefined || held.seq < entry.seq) {
        view.accounts.set(entry.account_id, entry);
        changedAccounts.push(entry.account_id);
      }
    }
  }
  view.seq = Math.max(view.seq, window.head_seq);
  const oldest = nowMs - window.retention_ms;
  for (const [hash, entry] of view.keys) if (entry.at_ms < oldest) view.keys.delete(hash);
  for (const [account, entry] of view.accounts) if (entry.at_ms < oldest) view.accounts.delete(account);
  return { keys: changedKeys, accounts: changedAccounts };
}

/** Why the feed refuses a key that KV may still accept; the request path answers 401 `invalid_credentials` either way. */
export type FeedRefusal = "key_ended" | "account_suspended";

/**
 * The request path's check (after the KV record is found): refused when the feed says the key ended at
 * or before `nowMs`, or its account is suspended.
 * @param nowMs current time, epoch milliseconds
 */
export function feedRefusal(view: FeedView, secretHash: string, accountId: string, nowMs: number): FeedRefusal | null {
  if (view.keys.size > 0) {
    const entry = view.keys.get(secretHash);
    if (entry !== undefined && entry.not_after_ms !== null && entry.not_after_ms <= nowMs) return "key_ended";
  }
  if (view.accounts.size > 0 && view.accounts.get(accountId)?.suspended === true) return "account_suspended";
  return null;
}
