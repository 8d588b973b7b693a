/**
 * `AccountKeys`: one Durable Object per account (named by the account id), the serialisation point
 * and source of truth for that account's keys (docs/storage.md "Durable Object storage").
 *
 * Workers KV has no transactions, so two admin operations on one account could otherwise read the
 * same state and overwrite each other. Here every mutation runs in one queue per object: the state
 * change is one synchronous SQLite transaction (key rows + an outbox row per KV record to write), then
 * the outbox is flushed to KV (`secret:<hash>` → the v1 record the request path reads). A KV write
 * that fails stays in the outbox and is retried by the object's alarm with backoff, so KV converges
 * on the object's state; the mutation itself is never lost. A write KV refuses for good (see
 * {@link isPermanentKvWriteError}) is not retried: the key's older record is deleted (the edge must
 * not serve a state older than this object's), the row is marked failed, and the key's view says so
 * (`kv_sync: "failed"`, status `sync_failed`) until a later change of the key queues it again.
 *
 * Every "stop accepting" change (a revocation, a rotation's old key, an expiry changed by PATCH, an
 * account suspended or resumed) also goes into a second outbox, `feed_outbox`, in the same transaction,
 * and is published to the revocation feed (src/revocation/feed-do.ts) before the KV outbox is flushed
 * and before the answer, so every isolate refuses the key within seconds even while KV still serves
 * the old record. A publish that fails stays in that outbox (logged as `revocation_publish_failed`) and
 * is retried by the same alarm with the same backoff; the answer says `revocationPublished: false`.
 *
 * A suspended account (meta `suspended_at`) keeps its keys, but each of their KV records is written as
 * a v3 record carrying `account_suspended_at`, which the request path refuses; resuming writes them
 * back as v1/v2.
 *
 * The object never sees a secret: the Worker generates and hashes it and passes the hash.
 * Methods are called over RPC and return plain objects; a business refusal is `{ ok: false, code }`.
 */
import { DurableObject } from "cloudflare:workers";
import type { KeyMode } from "../keys/format";
import { secretKvKey } from "../keys/hash";
import { randomBase62 } from "../keys/secret";
import { errorMessage, log } from "../log";
import type { FeedChange } from "../revocation/feed";
import { FEED_OBJECT_NAME, MAX_CHANGES_PER_PUBLISH } from "../revocation/feed-do";
import {
  applyPolicyChange,
  KEY_ID_RANDOM_CHARS,
  type KeyView,
  type KvSync,
  keyEndMs,
  keyStatus,
  keyView,
  kvExpirationOf,
  kvRecordOf,
  overlapEnd,
  type PolicyChange,
  STORED_KEY_VERSION,
  type StoredKey,
  type StoredKeyPolicy,
  StoredKeySchema,
} from "./model";
import { isPermanentKvWriteError, kvSyncOf, outboxRetryDelayMs } from "./outbox";

/**
 * KV records one flush writes at most: a flush is one invocation (an admin request or an alarm), and
 * Workers allow 1,000 KV operations per invocation; a write may cost a put and a delete. The rest is
 * written by an alarm set at once (a suspension of a large account answers `kv_synced: false`).
 */
export const KV_WRITES_PER_FLUSH = 400;

/** Milliseconds one publish to the revocation feed may take before it counts as failed (and is retried). */
export const FEED_PUBLISH_TIMEOUT_MS = 3_000;

/** A refusal the admin API answers with its own error code (docs/errors.md). */
export interface AccountOpError {
  ok: false;
  code: "account_not_found" | "key_not_found" | "key_revoked" | "key_expired" | "key_already_rotated" | "secret_already_registered";
  message: string;
}

/** The hashed secret of a new key (made by the Worker; the object never sees the secret itself). */
export interface NewSecret {
  /** 64 lowercase hex characters: HMAC-SHA-256 of the secret. */
  secretHash: string;
  hashKeyId: string;
  secretHint: string | null;
  secretFormat: "checksum" | "legacy";
}

export interface CreateKeyInput extends NewSecret {
  accountId: string;
  mode: KeyMode;
  label: string | null;
  /** ISO 8601 UTC, or null for no expiry. */
  expiresAt: string | null;
  source: "generated" | "imported";
  /** `sub` of the admin token. */
  actor: string;
  /** The key's policy (normalised allowlist, rate limit override), or null for none. */
  policy: StoredKeyPolicy | null;
}

export interface RotateKeyInput extends NewSecret {
  accountId: string;
  keyId: string;
  /** Seconds the old key keeps working (0 = it ends now), capped by its own expiry. */
  overlapSeconds: number;
  /** Expiry of the new key (ISO 8601 UTC) or null for none. */
  expiresAt: string | null;
  /** Label of the new key; undefined keeps the old key's label. */
  label: string | null | undefined;
  actor: string;
}

export interface UpdateKeyInput {
  accountId: string;
  keyId: string;
  /** New label; undefined leaves it, null removes it. */
  label?: string | null;
  /** Policy fields to change (absent: unchanged; null: removed). */
  policy?: PolicyChange;
  /**
   * New expiry, ISO 8601 UTC (already checked against the bound of create); undefined leaves it, null
   * removes it. Refused for a revoked or expired key (`key_revoked`, `key_expired`).
   */
  expiresAt?: string | null;
  actor: string;
}

export interface RevokeKeyInput {
  accountId: string;
  keyId: string;
  actor: string;
}

export interface AccountStateInput {
  accountId: string;
  actor: string;
}

/** Result of a suspend or resume. */
export interface AccountSuspension {
  /** ISO 8601 UTC instant the account was suspended, or null when it is not (after the operation). */
  suspendedAt: string | null;
  /** True when the account already was in the asked state: nothing was changed, written or published. */
  already: boolean;
  /** Keys whose KV record was queued to be rewritten (every key of the account, or 0 when `already`). */
  keysRewritten: number;
}

/**
 * A mutation's result: `kvSynced` is true when the KV records of the keys it wrote (or, when it
 * changed nothing, of the key it named; for suspend/resume: of every key of the account) were
 * written before it answered; false while one is pending (retried by the alarm) or failed (the key's
 * view says which). `revocationPublished` is true when no feed change about those keys (by secret
 * hash; for suspend/resume: about the account) is waiting in `feed_outbox`, i.e. every one this or an
 * earlier operation queued is in the revocation feed; false while one waits for the alarm's retry.
 */
export type Mutation<T> = ({ ok: true; kvSynced: boolean; revocationPublished: boolean } & T) | AccountOpError;

/**
 * The tables. `CREATE TABLE IF NOT EXISTS` also creates a table added since (`feed_outbox`, issue 13) in
 * an object made before, on its next start; later columns of existing tables are added by {@link ADDED_COLUMNS}.
 */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS keys (
     key_id      TEXT PRIMARY KEY,
     secret_hash TEXT NOT NULL UNIQUE,
     created_at  TEXT NOT NULL,
     record      TEXT NOT NULL
   )`,
  `CREATE TABLE IF NOT EXISTS kv_outbox (
     key_id   TEXT PRIMARY KEY,
     attempts INTEGER NOT NULL DEFAULT 0
   )`,
  `CREATE TABLE IF NOT EXISTS meta (
     name  TEXT PRIMARY KEY,
     value TEXT NOT NULL
   )`,
  // Changes still to publish to the revocation feed, oldest first (src/revocation/feed.ts FeedChange).
  `CREATE TABLE IF NOT EXISTS feed_outbox (
     seq          INTEGER PRIMARY KEY AUTOINCREMENT,
     kind         TEXT    NOT NULL,
     subject      TEXT    NOT NULL,
     not_after_ms INTEGER,
     suspended    INTEGER,
     attempts     INTEGER NOT NULL DEFAULT 0
   )`,
];

/** A `feed_outbox` row: `kind` key (subject: secret hash, `not_after_ms`) or account (subject: account id, `suspended` 0/1). */
interface FeedOutboxRow {
  seq: number;
  kind: string;
  subject: string;
  not_after_ms: number | null;
  suspended: number | null;
  attempts: number;
  [key: string]: SqlStorageValue;
}

/** What a mutation commits besides key rows: feed changes to publish, and the account's suspension. */
interface CommitExtras {
  /** Queued in `feed_outbox`, in this order. */
  feed?: FeedChange[];
  /** ISO 8601 UTC: the account is suspended from then; null: resumed; undefined: unchanged. */
  suspendedAt?: string | null;
}

/**
 * Columns added to existing tables since, in order (docs/storage.md "Migration note (KV write
 * failures)"). Rows written before read the column's default.
 * - `kv_outbox.failed_at`: ISO 8601 UTC when KV refused the record for good (not retried); NULL: pending.
 */
const ADDED_COLUMNS: readonly { table: string; column: string; definition: string }[] = [
  { table: "kv_outbox", column: "failed_at", definition: "TEXT" },
];

/**
 * Creates the object's tables or brings existing ones up to date; idempotent, run by the constructor
 * (inside a transaction). Exported for the migration test.
 */
export function migrateAccountKeysSchema(sql: SqlStorage): void {
  for (const statement of SCHEMA) sql.exec(statement);
  for (const { table, column, definition } of ADDED_COLUMNS) {
    const columns = sql.exec<{ name: string }>(`PRAGMA table_info(${table})`).toArray();
    if (!columns.some((c) => c.name === column)) sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
  }
}

export class AccountKeys extends DurableObject<Env> {
  /** The mutation queue: each mutation (and each outbox flush) starts when the previous one ended. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.transactionSync(() => migrateAccountKeysSchema(ctx.storage.sql));
  }

  /** Runs `work` after every mutation queued before it; the queue keeps going when one fails. */
  #serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(work, work);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #read(keyId: string): StoredKey | null {
    const row = this.ctx.storage.sql.exec<{ record: string }>("SELECT record FROM keys WHERE key_id = ?", keyId).toArray()[0];
    return row ? StoredKeySchema.parse(JSON.parse(row.record)) : null;
  }

  #all(): StoredKey[] {
    return this.ctx.storage.sql
      .exec<{ record: string }>("SELECT record FROM keys ORDER BY created_at, key_id")
      .toArray()
      .map((row) => StoredKeySchema.parse(JSON.parse(row.record)));
  }

  #hashTaken(secretHash: string): boolean {
    return this.ctx.storage.sql.exec("SELECT 1 FROM keys WHERE secret_hash = ?", secretHash).toArray().length > 0;
  }

  /** Writes keys, queues their KV records and the feed changes, and sets the suspension, in one transaction. */
  #commit(keys: StoredKey[], accountId: string, extras: CommitExtras = {}): void {
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec("INSERT OR IGNORE INTO meta (name, value) VALUES ('account_id', ?)", accountId);
      if (extras.suspendedAt === null) this.ctx.storage.sql.exec("DELETE FROM meta WHERE name = 'suspended_at'");
      if (typeof extras.suspendedAt === "string") {
        this.ctx.storage.sql.exec(
          "INSERT INTO meta (name, value) VALUES ('suspended_at', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
          extras.suspendedAt,
        );
      }
      for (const change of extras.feed ?? []) {
        this.ctx.storage.sql.exec(
          "INSERT INTO feed_outbox (kind, subject, not_after_ms, suspended) VALUES (?, ?, ?, ?)",
          change.kind,
          change.kind === "key" ? change.secret_hash : change.account_id,
          change.kind === "key" ? change.not_after_ms : null,
          change.kind === "account" ? (change.suspended ? 1 : 0) : null,
        );
      }
      for (const key of keys) {
        const checked = StoredKeySchema.parse(key);
        this.ctx.storage.sql.exec(
          "INSERT INTO keys (key_id, secret_hash, created_at, record) VALUES (?, ?, ?, ?) ON CONFLICT (key_id) DO UPDATE SET record = excluded.record",
          checked.key_id,
          checked.secret_hash,
          checked.created_at,
          JSON.stringify(checked),
        );
        this.ctx.storage.sql.exec(
          "INSERT INTO kv_outbox (key_id) VALUES (?) ON CONFLICT (key_id) DO UPDATE SET attempts = 0, failed_at = NULL",
          checked.key_id,
        );
      }
    });
  }

  /** The account this object serves must be the one asked for (the object is named by it). */
  #checkAccount(accountId: string): void {
    const row = this.ctx.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE name = 'account_id'").toArray()[0];
    if (row && row.value !== accountId) throw new Error("account Durable Object addressed with another account id");
  }

  /** ISO 8601 UTC instant the account was suspended, or null when it is not. */
  #suspendedAt(): string | null {
    return this.ctx.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE name = 'suspended_at'").toArray()[0]?.value ?? null;
  }

  #newKeyId(): string {
    for (;;) {
      const id = `key_${randomBase62(KEY_ID_RANDOM_CHARS)}`;
      if (this.ctx.storage.sql.exec("SELECT 1 FROM keys WHERE key_id = ?", id).toArray().length === 0) return id;
    }
  }

  /**
   * Writes every pending KV record, each as the key's current state (the account's suspension
   * included). Runs inside the queue only. A transient failure stays pending, to be retried by the
   * alarm ({@link #flushOutboxes} sets it). A write KV refuses for good
   * is given up once the key's older record is deleted (fail closed: the edge then knows no record
   * rather than an outdated one): the row is marked failed and logged once as `key_kv_write_abandoned`;
   * while that delete fails too, the row stays pending.
   * Writes at most {@link KV_WRITES_PER_FLUSH} records.
   * @returns the highest attempt count of the rows that failed (0: none), and whether rows were left for the next flush
   */
  async #flush(): Promise<{ attempts: number; more: boolean }> {
    const suspendedAt = this.#suspendedAt();
    const rows = this.ctx.storage.sql
      .exec<{ key_id: string; attempts: number }>("SELECT key_id, attempts FROM kv_outbox WHERE failed_at IS NULL")
      .toArray();
    let maxAttempts = 0;
    for (const row of rows.slice(0, KV_WRITES_PER_FLUSH)) {
      const key = this.#read(row.key_id);
      if (key === null) {
        this.ctx.storage.sql.exec("DELETE FROM kv_outbox WHERE key_id = ?", row.key_id);
        continue;
      }
      const name = secretKvKey(key.secret_hash);
      const attempts = row.attempts + 1;
      const fields = { account_id: key.account_id, key_id: key.key_id, attempts };
      try {
        const expiration = kvExpirationOf(key, Date.now());
        await this.env.KEYS.put(name, JSON.stringify(kvRecordOf(key, suspendedAt)), expiration === null ? {} : { expiration });
        this.ctx.storage.sql.exec("DELETE FROM kv_outbox WHERE key_id = ?", row.key_id);
        continue;
      } catch (err) {
        if (!isPermanentKvWriteError(err)) {
          log("error", "key_kv_write_failed", { ...fields, permanent: false, error: errorMessage(err) });
        } else if (await this.#deleteRecord(name, fields, err)) {
          this.ctx.storage.sql.exec(
            "UPDATE kv_outbox SET attempts = ?, failed_at = ? WHERE key_id = ?",
            attempts,
            new Date().toISOString(),
            row.key_id,
          );
          log("error", "key_kv_write_abandoned", { ...fields, error: errorMessage(err), kv_record: "deleted" });
          continue;
        }
      }
      maxAttempts = Math.max(maxAttempts, attempts);
      this.ctx.storage.sql.exec("UPDATE kv_outbox SET attempts = ? WHERE key_id = ?", attempts, row.key_id);
    }
    return { attempts: maxAttempts, more: rows.length > KV_WRITES_PER_FLUSH };
  }

  /**
   * Publishes the feed outbox to the revocation feed, oldest first, in calls of at most
   * MAX_CHANGES_PER_PUBLISH; a published call's rows are deleted. Runs inside the queue only. On a
   * failure the rest stays queued in order (nothing later is published before it), is logged as
   * `revocation_publish_failed` (account, changes pending, attempts, error; never a secret hash) and
   * retried by the alarm. A call that succeeded but whose answer was lost publishes its changes twice:
   * harmless, the same subject and value.
   * @returns the attempt count of the rows still pending (0: none)
   */
  async #flushFeed(): Promise<number> {
    const rows = this.ctx.storage.sql
      .exec<FeedOutboxRow>("SELECT seq, kind, subject, not_after_ms, suspended, attempts FROM feed_outbox ORDER BY seq")
      .toArray();
    if (rows.length === 0) return 0;
    for (let start = 0; start < rows.length; start += MAX_CHANGES_PER_PUBLISH) {
      const chunk = rows.slice(start, start + MAX_CHANGES_PER_PUBLISH);
      const first = chunk[0] as FeedOutboxRow;
      const last = chunk[chunk.length - 1] as FeedOutboxRow;
      try {
        const feed = this.env.REVOCATION_FEED.get(this.env.REVOCATION_FEED.idFromName(FEED_OBJECT_NAME));
        await withTimeout(feed.publish(chunk.map(feedChangeOf)), FEED_PUBLISH_TIMEOUT_MS);
        this.ctx.storage.sql.exec("DELETE FROM feed_outbox WHERE seq BETWEEN ? AND ?", first.seq, last.seq);
      } catch (err) {
        const attempts = Math.max(...rows.slice(start).map((row) => row.attempts)) + 1;
        this.ctx.storage.sql.exec("UPDATE feed_outbox SET attempts = attempts + 1 WHERE seq >= ?", first.seq);
        log("error", "revocation_publish_failed", {
          account_id: this.#accountId(),
          pending: rows.length - start,
          attempts,
          error: errorMessage(err),
        });
        return attempts;
      }
    }
    return 0;
  }

  /**
   * Flushes both outboxes, the feed first (a "stop accepting" change reaches the isolates before, or
   * with, its KV record), and sets the alarm for the sooner retry when either still holds rows: after
   * the backoff of the failures, or at once when KV records were only left over (none failed).
   */
  async #flushOutboxes(): Promise<void> {
    const feedAttempts = await this.#flushFeed();
    const kv = await this.#flush();
    const delays = [feedAttempts, kv.attempts].filter((attempts) => attempts > 0).map(outboxRetryDelayMs);
    if (kv.more && kv.attempts === 0) delays.push(0);
    if (delays.length > 0) await this.ctx.storage.setAlarm(Date.now() + Math.min(...delays));
  }

  #accountId(): string | null {
    return this.ctx.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE name = 'account_id'").toArray()[0]?.value ?? null;
  }

  /**
   * Deletes a key's KV record after KV refused its new state for good.
   * @returns false (logged as `key_kv_write_failed`, to be retried) when the delete failed
   */
  async #deleteRecord(name: string, fields: Record<string, unknown>, writeError: unknown): Promise<boolean> {
    try {
      await this.env.KEYS.delete(name);
      return true;
    } catch (err) {
      log("error", "key_kv_write_failed", {
        ...fields,
        permanent: true,
        error: errorMessage(writeError),
        delete_error: errorMessage(err),
      });
      return false;
    }
  }

  /** Where a key's KV record stands, from its outbox row. */
  #kvSync(keyId: string): KvSync {
    return kvSyncOf(
      this.ctx.storage.sql.exec<{ failed_at: string | null }>("SELECT failed_at FROM kv_outbox WHERE key_id = ?", keyId).toArray()[0],
    );
  }

  /**
   * Flushes both outboxes, then whether the KV records of `keys` are all written, and whether no feed
   * change about them (or, with `account`, about the account) is still waiting to be published.
   */
  async #settle(keys: StoredKey[], account = false): Promise<{ kvSynced: boolean; revocationPublished: boolean }> {
    await this.#flushOutboxes();
    const waiting = this.ctx.storage.sql.exec<{ kind: string; subject: string }>("SELECT kind, subject FROM feed_outbox").toArray();
    const hashes = new Set(keys.map((key) => key.secret_hash));
    return {
      kvSynced: keys.every((key) => this.#kvSync(key.key_id) === "synced"),
      revocationPublished: !waiting.some((row) => (row.kind === "key" ? hashes.has(row.subject) : account)),
    };
  }

  #view(key: StoredKey, nowMs: number): KeyView {
    return keyView(key, nowMs, this.#kvSync(key.key_id));
  }

  /** Retries the feed publishes and KV writes still in the outboxes. */
  override async alarm(): Promise<void> {
    await this.#serialize(() => this.#flushOutboxes());
  }

  /**
   * Every key of the account, oldest first, as public views (no secret hash), and when the account
   * was suspended (ISO 8601 UTC; null: not suspended).
   */
  listKeys(accountId: string): { keys: KeyView[]; suspendedAt: string | null } {
    this.#checkAccount(accountId);
    const now = Date.now();
    const outbox = new Map(
      this.ctx.storage.sql
        .exec<{ key_id: string; failed_at: string | null }>("SELECT key_id, failed_at FROM kv_outbox")
        .toArray()
        .map((row) => [row.key_id, row]),
    );
    return { keys: this.#all().map((key) => keyView(key, now, kvSyncOf(outbox.get(key.key_id)))), suspendedAt: this.#suspendedAt() };
  }

  /** One key as a public view, or why there is none. */
  getKey(accountId: string, keyId: string): { ok: true; key: KeyView } | AccountOpError {
    this.#checkAccount(accountId);
    const key = this.#read(keyId);
    return key === null ? this.#notFound(keyId) : { ok: true, key: this.#view(key, Date.now()) };
  }

  /** `account_not_found` while the account has no key at all, else `key_not_found`. */
  #notFound(keyId: string): AccountOpError {
    if (this.ctx.storage.sql.exec("SELECT 1 FROM keys LIMIT 1").toArray().length === 0) {
      return refuse("account_not_found", "This account has no keys.");
    }
    return refuse("key_not_found", `No key ${keyId} in this account.`);
  }

  /** Number of KV records still waiting to be written (operations, tests); failed ones are not waiting. */
  pendingKvWrites(): number {
    return this.ctx.storage.sql.exec("SELECT 1 FROM kv_outbox WHERE failed_at IS NULL").toArray().length;
  }

  /** Number of changes still waiting to be published to the revocation feed (operations, tests). */
  pendingFeedChanges(): number {
    return this.ctx.storage.sql.exec("SELECT 1 FROM feed_outbox").toArray().length;
  }

  /** Creates a key (generated or imported secret) and writes its KV record. */
  createKey(input: CreateKeyInput): Promise<Mutation<{ key: KeyView }>> {
    return this.#serialize(async () => {
      this.#checkAccount(input.accountId);
      if (this.#hashTaken(input.secretHash)) {
        return { ok: false, code: "secret_already_registered", message: "This secret already belongs to a key of this account." } as const;
      }
      const now = Date.now();
      const key: StoredKey = {
        v: STORED_KEY_VERSION,
        key_id: this.#newKeyId(),
        account_id: input.accountId,
        mode: input.mode,
        label: input.label,
        status: "active",
        created_at: new Date(now).toISOString(),
        expires_at: input.expiresAt,
        revoked_at: null,
        secret_hash: input.secretHash,
        hash_key_id: input.hashKeyId,
        secret_hint: input.secretHint,
        secret_format: input.secretFormat,
        source: input.source,
        replaces_key_id: null,
        replaced_by_key_id: null,
        rotated_at: null,
        created_by: input.actor,
        policy: input.policy,
      };
      this.#commit([key], input.accountId);
      const settled = await this.#settle([key]);
      return { ok: true, ...settled, key: this.#view(key, now) } as const;
    });
  }

  /**
   * Rotation: a new key (new secret, same account, mode and policy) replaces `keyId`; the old key
   * keeps working until the overlap ends, never beyond its own expiry. Refused (409) for a revoked,
   * expired or already rotated key.
   */
  rotateKey(input: RotateKeyInput): Promise<Mutation<{ key: KeyView; previous: KeyView }>> {
    return this.#serialize(async () => {
      this.#checkAccount(input.accountId);
      const old = this.#read(input.keyId);
      if (old === null) return this.#notFound(input.keyId);
      const now = Date.now();
      const status = keyStatus(old, now);
      if (status === "revoked")
        return refuse("key_revoked", `Key ${old.key_id} is revoked: a revoked key cannot be rotated; create a new key.`);
      if (status === "expired")
        return refuse("key_expired", `Key ${old.key_id} has expired: an expired key cannot be rotated; create a new key.`);
      if (old.replaced_by_key_id !== null) {
        return refuse(
          "key_already_rotated",
          `Key ${old.key_id} was already rotated to ${old.replaced_by_key_id}: rotate that key instead.`,
        );
      }
      if (this.#hashTaken(input.secretHash)) {
        return refuse("secret_already_registered", "This secret already belongs to a key of this account.");
      }
      const nowIso = new Date(now).toISOString();
      const fresh: StoredKey = {
        ...old,
        key_id: this.#newKeyId(),
        label: input.label === undefined ? old.label : input.label,
        status: "active",
        created_at: nowIso,
        expires_at: input.expiresAt,
        revoked_at: null,
        secret_hash: input.secretHash,
        hash_key_id: input.hashKeyId,
        secret_hint: input.secretHint,
        secret_format: input.secretFormat,
        source: "generated",
        replaces_key_id: old.key_id,
        replaced_by_key_id: null,
        rotated_at: null,
        created_by: input.actor,
      };
      const retired: StoredKey = {
        ...old,
        expires_at: overlapEnd(old, input.overlapSeconds, now),
        replaced_by_key_id: fresh.key_id,
        rotated_at: nowIso,
      };
      // The old key's end, for the isolates; the new key needs no entry (KV has no record of it to serve stale).
      const feed: FeedChange[] = [{ kind: "key", secret_hash: retired.secret_hash, not_after_ms: keyEndMs(retired) }];
      this.#commit([retired, fresh], input.accountId, { feed });
      const settled = await this.#settle([retired, fresh]);
      return { ok: true, ...settled, key: this.#view(fresh, now), previous: this.#view(retired, now) } as const;
    });
  }

  /**
   * Changes a key's label, expiry and/or policy (PATCH semantics: absent fields unchanged, null
   * removes) and rewrites its KV record (v1 without a policy, v2 with one, v3 while the account is
   * suspended) with its KV expiration. A change that changes nothing writes nothing. Label and policy
   * may change in every status (the record of a revoked or expired key keeps refusing it); the expiry
   * only of a key neither revoked nor expired (409 `key_revoked` / `key_expired`: an ended key is not
   * revived). A changed expiry is published to the revocation feed (the key's new end, or null).
   */
  updateKey(input: UpdateKeyInput): Promise<Mutation<{ key: KeyView; changed: string[] }>> {
    return this.#serialize(async () => {
      this.#checkAccount(input.accountId);
      const key = this.#read(input.keyId);
      if (key === null) return this.#notFound(input.keyId);
      const now = Date.now();
      if (input.expiresAt !== undefined) {
        const status = keyStatus(key, now);
        if (status === "revoked") return refuse("key_revoked", `Key ${key.key_id} is revoked: its expiry cannot be changed.`);
        if (status === "expired") {
          return refuse("key_expired", `Key ${key.key_id} has expired: its expiry cannot be changed; create a new key.`);
        }
      }
      const { policy, changed: policyChanged } =
        input.policy === undefined ? { policy: key.policy, changed: [] } : applyPolicyChange(key.policy, input.policy);
      const label = input.label === undefined ? key.label : input.label;
      const expiresAt = input.expiresAt === undefined ? key.expires_at : input.expiresAt;
      const changed = [
        ...(label !== key.label ? ["label"] : []),
        ...(sameInstant(expiresAt, key.expires_at) ? [] : ["expires_at"]),
        ...policyChanged,
      ];
      if (changed.length === 0) {
        const settled = await this.#settle([key]);
        return { ok: true, ...settled, key: this.#view(key, now), changed } as const;
      }
      const updated: StoredKey = { ...key, label, policy, expires_at: changed.includes("expires_at") ? expiresAt : key.expires_at };
      const end = keyEndMs(updated);
      const feed: FeedChange[] = end === keyEndMs(key) ? [] : [{ kind: "key", secret_hash: updated.secret_hash, not_after_ms: end }];
      this.#commit([updated], input.accountId, { feed });
      const settled = await this.#settle([updated]);
      return { ok: true, ...settled, key: this.#view(updated, now), changed } as const;
    });
  }

  /** Revokes a key; revoking a revoked key changes nothing and succeeds (idempotent). */
  revokeKey(input: RevokeKeyInput): Promise<Mutation<{ key: KeyView; alreadyRevoked: boolean }>> {
    return this.#serialize(async () => {
      this.#checkAccount(input.accountId);
      const key = this.#read(input.keyId);
      if (key === null) return this.#notFound(input.keyId);
      const now = Date.now();
      if (key.status === "revoked") {
        const settled = await this.#settle([key]);
        return { ok: true, ...settled, key: this.#view(key, now), alreadyRevoked: true } as const;
      }
      const revoked: StoredKey = { ...key, status: "revoked", revoked_at: new Date(now).toISOString() };
      const feed: FeedChange[] = [{ kind: "key", secret_hash: revoked.secret_hash, not_after_ms: keyEndMs(revoked) }];
      this.#commit([revoked], input.accountId, { feed });
      const settled = await this.#settle([revoked]);
      return { ok: true, ...settled, key: this.#view(revoked, now), alreadyRevoked: false } as const;
    });
  }

  /**
   * Suspends the account: every key is refused by the request path (the feed's account entry within
   * seconds; each key's KV record rewritten as v3) until {@link resumeAccount}. The keys themselves
   * are unchanged. Idempotent: suspending a suspended account changes and publishes nothing
   * (`already`). `account_not_found` while the account has no key.
   */
  suspendAccount(input: AccountStateInput): Promise<Mutation<AccountSuspension>> {
    return this.#setSuspended(input, true);
  }

  /** Lifts a suspension: the feed's account entry says so and the KV records go back to v1/v2. Idempotent like suspend. */
  resumeAccount(input: AccountStateInput): Promise<Mutation<AccountSuspension>> {
    return this.#setSuspended(input, false);
  }

  #setSuspended(input: AccountStateInput, suspend: boolean): Promise<Mutation<AccountSuspension>> {
    return this.#serialize(async () => {
      this.#checkAccount(input.accountId);
      const keys = this.#all();
      if (keys.length === 0) return refuse("account_not_found", "This account has no keys.");
      const current = this.#suspendedAt();
      if ((current !== null) === suspend) {
        const settled = await this.#settle(keys, true);
        return { ok: true, ...settled, suspendedAt: current, already: true, keysRewritten: 0 } as const;
      }
      const suspendedAt = suspend ? new Date().toISOString() : null;
      const feed: FeedChange[] = [{ kind: "account", account_id: input.accountId, suspended: suspend }];
      this.#commit(keys, input.accountId, { feed, suspendedAt });
      const settled = await this.#settle(keys, true);
      return { ok: true, ...settled, suspendedAt, already: false, keysRewritten: keys.length } as const;
    });
  }
}

function refuse(code: AccountOpError["code"], message: string): AccountOpError {
  return { ok: false, code, message };
}

/** `promise`, or a rejection once `ms` milliseconds have passed without it settling. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** Whether two optional ISO 8601 instants name the same instant (null: none). */
function sameInstant(a: string | null, b: string | null): boolean {
  return a === null || b === null ? a === b : Date.parse(a) === Date.parse(b);
}

/** The feed change a `feed_outbox` row holds. */
function feedChangeOf(row: FeedOutboxRow): FeedChange {
  return row.kind === "key"
    ? { kind: "key", secret_hash: row.subject, not_after_ms: row.not_after_ms }
    : { kind: "account", account_id: row.subject, suspended: row.suspended === 1 };
}
