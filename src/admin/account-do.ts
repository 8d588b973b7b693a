/**
 * `AccountKeys`: one Durable Object per account (named by the account id), the serialisation point
 * and source of truth for that account's keys (docs/storage.md "Durable Object storage").
 *
 * Workers KV has no transactions, so two admin operations on one account could otherwise read the
 * same state and overwrite each other. Here every mutation runs in one queue per object: the state
 * change is one synchronous SQLite transaction (key rows + an outbox row per KV record to write), then
 * the outbox is flushed to KV (`secret:<hash>` → the v1 record the request path reads). A KV write
 * that fails stays in the outbox and is retried by the object's alarm with backoff, so KV converges
 * on the object's state; the mutation itself is never lost.
 *
 * The object never sees a secret: the Worker generates and hashes it and passes the hash.
 * Methods are called over RPC and return plain objects; a business refusal is `{ ok: false, code }`.
 */
import { DurableObject } from "cloudflare:workers";
import type { KeyMode } from "../keys/format";
import { secretKvKey } from "../keys/hash";
import { randomBase62 } from "../keys/secret";
import { errorMessage, log } from "../log";
import {
  applyPolicyChange,
  KEY_ID_RANDOM_CHARS,
  type KeyView,
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
  actor: string;
}

export interface RevokeKeyInput {
  accountId: string;
  keyId: string;
  actor: string;
}

/** A mutation's result: `kvSynced` is false when a KV write is still pending (retried by the alarm). */
export type Mutation<T> = ({ ok: true; kvSynced: boolean } & T) | AccountOpError;

/** Backoff of the KV outbox retries: 5 s, 10 s, 20 s … capped at 300 s. */
export function outboxRetryDelayMs(attempts: number): number {
  return Math.min(5_000 * 2 ** Math.min(Math.max(attempts - 1, 0), 10), 300_000);
}

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
];

export class AccountKeys extends DurableObject<Env> {
  /** The mutation queue: each mutation (and each outbox flush) starts when the previous one ended. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    for (const statement of SCHEMA) ctx.storage.sql.exec(statement);
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

  /** Writes keys and queues their KV records, in one transaction. */
  #commit(keys: StoredKey[], accountId: string): void {
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec("INSERT OR IGNORE INTO meta (name, value) VALUES ('account_id', ?)", accountId);
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
          "INSERT INTO kv_outbox (key_id) VALUES (?) ON CONFLICT (key_id) DO UPDATE SET attempts = 0",
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

  #newKeyId(): string {
    for (;;) {
      const id = `key_${randomBase62(KEY_ID_RANDOM_CHARS)}`;
      if (this.ctx.storage.sql.exec("SELECT 1 FROM keys WHERE key_id = ?", id).toArray().length === 0) return id;
    }
  }

  /**
   * Writes every queued KV record, each as the key's current state. Runs inside the queue only.
   * @returns true when the outbox is empty afterwards; otherwise an alarm is set to retry
   */
  async #flush(): Promise<boolean> {
    const rows = this.ctx.storage.sql.exec<{ key_id: string; attempts: number }>("SELECT key_id, attempts FROM kv_outbox").toArray();
    let maxAttempts = 0;
    for (const row of rows) {
      const key = this.#read(row.key_id);
      if (key === null) {
        this.ctx.storage.sql.exec("DELETE FROM kv_outbox WHERE key_id = ?", row.key_id);
        continue;
      }
      try {
        const expiration = kvExpirationOf(key, Date.now());
        await this.env.KEYS.put(secretKvKey(key.secret_hash), JSON.stringify(kvRecordOf(key)), expiration === null ? {} : { expiration });
        this.ctx.storage.sql.exec("DELETE FROM kv_outbox WHERE key_id = ?", row.key_id);
      } catch (err) {
        const attempts = row.attempts + 1;
        maxAttempts = Math.max(maxAttempts, attempts);
        this.ctx.storage.sql.exec("UPDATE kv_outbox SET attempts = ? WHERE key_id = ?", attempts, row.key_id);
        log("error", "key_kv_write_failed", { account_id: key.account_id, key_id: key.key_id, attempts, error: errorMessage(err) });
      }
    }
    if (maxAttempts === 0) return true;
    await this.ctx.storage.setAlarm(Date.now() + outboxRetryDelayMs(maxAttempts));
    return false;
  }

  /** Retries the KV writes still in the outbox. */
  override async alarm(): Promise<void> {
    await this.#serialize(() => this.#flush());
  }

  /** Every key of the account, oldest first, as public views (no secret hash). */
  listKeys(accountId: string): KeyView[] {
    this.#checkAccount(accountId);
    const now = Date.now();
    return this.#all().map((key) => keyView(key, now));
  }

  /** One key as a public view, or why there is none. */
  getKey(accountId: string, keyId: string): { ok: true; key: KeyView } | AccountOpError {
    this.#checkAccount(accountId);
    const key = this.#read(keyId);
    return key === null ? this.#notFound(keyId) : { ok: true, key: keyView(key, Date.now()) };
  }

  /** `account_not_found` while the account has no key at all, else `key_not_found`. */
  #notFound(keyId: string): AccountOpError {
    if (this.ctx.storage.sql.exec("SELECT 1 FROM keys LIMIT 1").toArray().length === 0) {
      return refuse("account_not_found", "This account has no keys.");
    }
    return refuse("key_not_found", `No key ${keyId} in this account.`);
  }

  /** Number of KV records still waiting to be written (operations, tests). */
  pendingKvWrites(): number {
    return this.ctx.storage.sql.exec("SELECT 1 FROM kv_outbox").toArray().length;
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
      const kvSynced = await this.#flush();
      return { ok: true, kvSynced, key: keyView(key, now) } as const;
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
      this.#commit([retired, fresh], input.accountId);
      const kvSynced = await this.#flush();
      return { ok: true, kvSynced, key: keyView(fresh, now), previous: keyView(retired, now) } as const;
    });
  }

  /**
   * Changes a key's label and/or policy (PATCH semantics: absent fields unchanged, null removes) and
   * rewrites its KV record (v1 without a policy, v2 with one). A change that changes nothing writes
   * nothing. Allowed in every status: the record of a revoked or expired key keeps refusing it.
   */
  updateKey(input: UpdateKeyInput): Promise<Mutation<{ key: KeyView; changed: string[] }>> {
    return this.#serialize(async () => {
      this.#checkAccount(input.accountId);
      const key = this.#read(input.keyId);
      if (key === null) return this.#notFound(input.keyId);
      const now = Date.now();
      const { policy, changed } =
        input.policy === undefined ? { policy: key.policy, changed: [] } : applyPolicyChange(key.policy, input.policy);
      const label = input.label === undefined ? key.label : input.label;
      if (label !== key.label) changed.unshift("label");
      if (changed.length === 0) {
        const kvSynced = await this.#flush();
        return { ok: true, kvSynced, key: keyView(key, now), changed } as const;
      }
      const updated: StoredKey = { ...key, label, policy };
      this.#commit([updated], input.accountId);
      const kvSynced = await this.#flush();
      return { ok: true, kvSynced, key: keyView(updated, now), changed } as const;
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
        const kvSynced = await this.#flush();
        return { ok: true, kvSynced, key: keyView(key, now), alreadyRevoked: true } as const;
      }
      const revoked: StoredKey = { ...key, status: "revoked", revoked_at: new Date(now).toISOString() };
      this.#commit([revoked], input.accountId);
      const kvSynced = await this.#flush();
      return { ok: true, kvSynced, key: keyView(revoked, now), alreadyRevoked: false } as const;
    });
  }
}

function refuse(code: AccountOpError["code"], message: string): AccountOpError {
  return { ok: false, code, message };
}
