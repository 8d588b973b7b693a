/** Revoke (confirmation, then done) and edit (label and policy) of one key. */
import type { ConsoleSession } from "../env";
import type { KeyView } from "../model";
import { keyPath, keysPath } from "../paths";
import { KeyPolicyFields } from "./keys";
import { Csrf, Layout, Time } from "./layout";

export function RevokeConfirmPage({ session, keyView: k }: { session: ConsoleSession; keyView: KeyView }) {
  return (
    <Layout title={`Revoke ${k.key_id}?`} session={session}>
      <p>
        Revoke key <code data-testid="revoke-key-id">{k.key_id}</code>
        {k.label ? (
          <>
            {" "}
            (label <strong data-testid="revoke-key-label">{k.label}</strong>)
          </>
        ) : null}{" "}
        of account <code>{k.account_id}</code>? It stops working within seconds everywhere, and cannot be used again.
      </p>
      <form method="post" action={`${keyPath(k.account_id, k.key_id)}/revoke`} id="revoke-form" data-testid="revoke-form">
        <Csrf session={session} />
        <button type="submit" class="danger" id="revoke-confirm" data-testid="revoke-confirm">
          Revoke {k.key_id}
        </button>{" "}
        <a href={keysPath(k.account_id)} data-testid="revoke-cancel">
          Cancel
        </a>
      </form>
    </Layout>
  );
}

export function RevokedPage({ session, keyView: k, already }: { session: ConsoleSession; keyView: KeyView; already: boolean }) {
  return (
    <Layout title={`Key ${k.key_id} revoked`} session={session}>
      <p role="status" data-testid="revoked">
        {already ? "This key was already revoked" : "Revoked"} (<Time iso={k.revoked_at} />
        ). Requests with its secret are refused.
      </p>
      <p>
        <a href={keysPath(k.account_id)}>Back to the keys of {k.account_id}</a>
      </p>
    </Layout>
  );
}

export function EditPage({ session, keyView: k }: { session: ConsoleSession; keyView: KeyView }) {
  return (
    <Layout title={`Edit ${k.key_id}`} session={session}>
      <form method="post" action={`${keyPath(k.account_id, k.key_id)}/edit`} id="edit-key-form" data-testid="edit-key-form">
        <Csrf session={session} />
        <fieldset>
          <label for="label">Label (empty: none)</label>
          <input type="text" name="label" id="label" maxlength={200} value={k.label ?? ""} />
          <KeyPolicyFields allowlist={k.policy?.ip_allowlist ?? null} rate={k.policy?.rate_limit_per_minute ?? null} />
        </fieldset>
        <button type="submit" data-testid="save-key">
          Save
        </button>{" "}
        <a href={keysPath(k.account_id)}>Cancel</a>
      </form>
    </Layout>
  );
}

export function EditedPage({ session, keyView: k, changed }: { session: ConsoleSession; keyView: KeyView; changed: string[] }) {
  return (
    <Layout title={`Key ${k.key_id} saved`} session={session}>
      <p role="status" data-testid="saved">
        {changed.length === 0 ? "Nothing changed." : `Changed: ${changed.join(", ")}.`}
      </p>
      <p>
        <a href={keysPath(k.account_id)}>Back to the keys of {k.account_id}</a>
      </p>
    </Layout>
  );
}
