/**
 * `SecretClaims`: one Durable Object per secret hash (named `<hash>`), which records the one account
 * that owns that hash (docs/storage.md "Durable Object storage").
 *
 * The KV record of a secret is keyed by its hash alone, so two accounts holding the same secret
 * would overwrite each other's record: an imported legacy secret such as `sk_live_abcd` could end up
 * authenticating another account. Every new hash (create, rotate, import) is claimed here first; a
 * hash claimed by another account is refused with 409 `secret_already_registered`. A claim is never
 * released, so a revoked secret cannot be imported again anywhere.
 */
import { DurableObject } from "cloudflare:workers";

export class SecretClaims extends DurableObject<Env> {
  /**
   * Claims the hash this object is named after for `accountId`. Idempotent for the same account.
   * @returns true when `accountId` owns the hash (now or already), false when another account does
   */
  claim(accountId: string): boolean {
    // Synchronous storage calls: nothing can run between the read and the write.
    const owner = this.ctx.storage.kv.get<string>("owner");
    if (owner === undefined) {
      this.ctx.storage.kv.put("owner", accountId);
      return true;
    }
    return owner === accountId;
  }
}
