/**
 * The revocation feed's Durable Object (docs/storage.md "Revocation feed"): one instance for the whole
 * deployment (named {@link FEED_OBJECT_NAME}), the single writer that orders "stop accepting" changes.
 * The account Durable Objects publish into it (src/admin/account-do.ts); isolates read its window
 * through the Cache API of their location (src/revocation/follower.ts), so it serves about one read per
 * location per cache TTL whatever the number of isolates.
 *
 * Storage: SQLite, one row per entry; entries older than FEED_RETENTION_MS are pruned on every write
 * and read. Sequence numbers only grow (SQLite AUTOINCREMENT never reuses one, even after pruning).
 */
import { DurableObject } from "cloudflare:workers";
import { FEED_RETENTION_MS, FEED_WINDOW_VERSION, type FeedChange, type FeedEntry, type FeedWindow } from "./feed";

/** The name of the one feed object (`REVOCATION_FEED.idFromName`). */
export const FEED_OBJECT_NAME = "global";

/** Changes one publish call may carry (a suspension of a large account is split by the caller). */
export const MAX_CHANGES_PER_PUBLISH = 1_000;

const SCHEMA = `CREATE TABLE IF NOT EXISTS feed (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  kind         TEXT    NOT NULL,   -- key | account
  subject      TEXT    NOT NULL,   -- secret hash (key) or account id (account)
  not_after_ms INTEGER,            -- key: refused from this instant on; NULL lifts
  suspended    INTEGER,            -- account: 1 suspended, 0 resumed
  at_ms        INTEGER NOT NULL    -- when it was published
)`;

interface FeedRow {
  seq: number;
  kind: string;
  subject: string;
  not_after_ms: number | null;
  suspended: number | null;
  at_ms: number;
  [key: string]: SqlStorageValue;
}

export class RevocationFeed extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(SCHEMA);
  }

  /**
   * Appends changes in the order given, in one transaction.
   * @returns the seq of the last entry written (for no changes: the head seq, nothing written)
   * @throws Error when `changes` is longer than {@link MAX_CHANGES_PER_PUBLISH} (a caller bug)
   */
  async publish(changes: FeedChange[]): Promise<{ seq: number }> {
    if (changes.length > MAX_CHANGES_PER_PUBLISH) throw new Error(`publish takes at most ${MAX_CHANGES_PER_PUBLISH} changes`);
    if (changes.length === 0) return { seq: this.#head() };
    const nowMs = Date.now();
    let seq = 0;
    this.ctx.storage.transactionSync(() => {
      for (const change of changes) {
        const row =
          change.kind === "key"
            ? this.ctx.storage.sql.exec<{ seq: number }>(
                "INSERT INTO feed (kind, subject, not_after_ms, suspended, at_ms) VALUES ('key', ?, ?, NULL, ?) RETURNING seq",
                change.secret_hash,
                change.not_after_ms,
                nowMs,
              )
            : this.ctx.storage.sql.exec<{ seq: number }>(
                "INSERT INTO feed (kind, subject, not_after_ms, suspended, at_ms) VALUES ('account', ?, NULL, ?, ?) RETURNING seq",
                change.account_id,
                change.suspended ? 1 : 0,
                nowMs,
              );
        seq = row.one().seq;
      }
      this.#prune(nowMs);
    });
    return { seq };
  }

  /** Every entry of the last FEED_RETENTION_MS, oldest first, and the highest seq ever assigned. */
  async window(): Promise<FeedWindow> {
    const nowMs = Date.now();
    this.#prune(nowMs);
    const rows = this.ctx.storage.sql
      .exec<FeedRow>("SELECT seq, kind, subject, not_after_ms, suspended, at_ms FROM feed ORDER BY seq")
      .toArray();
    return {
      v: FEED_WINDOW_VERSION,
      head_seq: this.#head(),
      generated_at_ms: nowMs,
      retention_ms: FEED_RETENTION_MS,
      entries: rows.map(entryOf),
    };
  }

  /** The highest seq ever assigned, 0 before the first. */
  #head(): number {
    return this.ctx.storage.sql.exec<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'feed'").toArray()[0]?.seq ?? 0;
  }

  #prune(nowMs: number): void {
    this.ctx.storage.sql.exec("DELETE FROM feed WHERE at_ms < ?", nowMs - FEED_RETENTION_MS);
  }
}

function entryOf(row: FeedRow): FeedEntry {
  return row.kind === "key"
    ? { seq: row.seq, kind: "key", secret_hash: row.subject, not_after_ms: row.not_after_ms, at_ms: row.at_ms }
    : { seq: row.seq, kind: "account", account_id: row.subject, suspended: row.suspended === 1, at_ms: row.at_ms };
}
