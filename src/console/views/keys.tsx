/** GET …/accounts/{account_id}/keys: the account's API keys, the create form and a roll form per key. */
import type { ConsoleSession } from "../env";
import { IDLE_AFTER_MS, type KeyView, OVERLAP_CHOICES, RATE_LIMIT_TIERS } from "../model";
import { keyPath, keysPath } from "../paths";
import { Csrf, Layout, Time } from "./layout";

export interface KeysPageProps {
  session: ConsoleSession;
  accountId: string;
  keys: KeyView[];
  suspendedAt: string | null;
  /** The account has no key yet (the API's 404 account_not_found). */
  empty: boolean;
  nowMs: number;
}

export function KeysPage({ session, accountId, keys, suspendedAt, empty, nowMs }: KeysPageProps) {
  return (
    <Layout title={`API keys of ${accountId}`} session={session}>
      {suspendedAt ? (
        <p class="banner bad" role="status" id="account-suspended" data-testid="account-suspended">
          This account is suspended since <Time iso={suspendedAt} />: every key of it answers 401 until it is resumed.
        </p>
      ) : null}
      {empty ? (
        <p data-testid="no-keys">This account has no keys yet.</p>
      ) : (
        <table id="keys-table" data-testid="keys-table">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Mode</th>
              <th scope="col">Status</th>
              <th scope="col">Label</th>
              <th scope="col">Secret hint</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">Policy</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <KeyRow keyView={key} session={session} nowMs={nowMs} />
            ))}
          </tbody>
        </table>
      )}
      {session.canWrite ? (
        <CreateForm session={session} accountId={accountId} />
      ) : (
        <p class="hint" data-testid="read-only">
          Your token may read keys but not change them: it lacks the keys:write permission, and its email, groups or service token are not
          in the admin writer lists.
        </p>
      )}
    </Layout>
  );
}

function KeyRow({ keyView: k, session, nowMs }: { keyView: KeyView; session: ConsoleSession; nowMs: number }) {
  const ended = k.status === "revoked" || k.status === "expired";
  return (
    <tr data-testid={`key-row-${k.key_id}`} id={`key-${k.key_id}`}>
      <td>
        <code>{k.key_id}</code>
        {k.replaces_key_id ? <div class="hint">replaces {k.replaces_key_id}</div> : null}
      </td>
      <td>{k.mode}</td>
      <td class={`status-${k.status}`} data-testid="key-status">
        {k.status}
        {k.kv_sync !== "synced" ? <div class="hint">KV {k.kv_sync}</div> : null}
      </td>
      <td data-testid="key-label">{k.label ?? <span class="hint">—</span>}</td>
      <td>{k.secret_hint ? <code>…{k.secret_hint}</code> : <span class="hint">—</span>}</td>
      <td>
        <Time iso={k.created_at} />
      </td>
      <td>
        {k.revoked_at ? (
          <span>
            revoked <Time iso={k.revoked_at} />
          </span>
        ) : (
          <Time iso={k.expires_at} />
        )}
      </td>
      <td data-testid="key-last-used">
        <LastUsed at={k.last_used_at ?? null} ip={k.last_used_ip ?? null} nowMs={nowMs} />
      </td>
      <td>
        <Policy keyView={k} />
      </td>
      <td>
        {session.canWrite && !ended ? (
          <>
            <a href={`${keyPath(k.account_id, k.key_id)}/edit`} data-testid={`edit-link-${k.key_id}`}>
              Edit
            </a>{" "}
            ·{" "}
            <a href={`${keyPath(k.account_id, k.key_id)}/revoke`} data-testid={`revoke-link-${k.key_id}`}>
              Revoke
            </a>
            {k.replaced_by_key_id === null ? (
              <form
                method="post"
                action={`${keyPath(k.account_id, k.key_id)}/roll`}
                class="inline"
                id={`roll-form-${k.key_id}`}
                data-testid={`roll-form-${k.key_id}`}
              >
                <Csrf session={session} />
                <label for={`overlap-${k.key_id}`} class="hint">
                  old secret works
                </label>
                <select name="overlap_seconds" id={`overlap-${k.key_id}`}>
                  {OVERLAP_CHOICES.map((choice) => (
                    <option value={String(choice.seconds)} selected={choice.seconds === 86_400}>
                      {choice.text}
                    </option>
                  ))}
                </select>
                <button type="submit" data-testid={`roll-${k.key_id}`}>
                  Roll
                </button>
              </form>
            ) : (
              <div class="hint">rolled to {k.replaced_by_key_id}</div>
            )}
          </>
        ) : (
          <span class="hint">—</span>
        )}
      </td>
    </tr>
  );
}

/** Last use: time and connecting IP, "never used", and an idle mark after 90 days. */
export function LastUsed({ at, ip, nowMs }: { at: string | null; ip: string | null; nowMs: number }) {
  if (!at) return <span class="hint">never used</span>;
  const idle = nowMs - Date.parse(at) > IDLE_AFTER_MS;
  return (
    <span>
      <Time iso={at} />
      {ip ? (
        <>
          {" "}
          from <code>{ip}</code>
        </>
      ) : null}
      {idle ? (
        <span class="idle" data-testid="idle-mark">
          {" "}
          idle 90+ days
        </span>
      ) : null}
    </span>
  );
}

function Policy({ keyView: k }: { keyView: KeyView }) {
  const allow = k.policy?.ip_allowlist ?? null;
  const rate = k.policy?.rate_limit_per_minute ?? null;
  return (
    <span>
      <span>{allow ? `IPs: ${allow.join(", ")}` : "any IP"}</span>
      <br />
      <span>{rate === null ? "default rate limit" : `${rate}/min`}</span>
    </span>
  );
}

function CreateForm({ session, accountId }: { session: ConsoleSession; accountId: string }) {
  return (
    <form method="post" action={keysPath(accountId)} id="create-key-form" data-testid="create-key-form">
      <h2>Create a key</h2>
      <Csrf session={session} />
      <fieldset>
        <label for="mode">Mode</label>
        <select name="mode" id="mode">
          <option value="live">live (sk_live_)</option>
          <option value="test">test (sk_test_, sandbox origins only)</option>
        </select>
        <label for="label">Label</label>
        <input type="text" name="label" id="label" maxlength={200} placeholder="billing service" />
        <label for="expires_at">Expires (UTC, optional)</label>
        <input type="datetime-local" name="expires_at" id="expires_at" />
        <KeyPolicyFields allowlist={null} rate={null} />
      </fieldset>
      <button type="submit" data-testid="create-key">
        Create key
      </button>
    </form>
  );
}

/** The allowed-IPs textarea and the rate-limit select (create and edit). */
export function KeyPolicyFields({ allowlist, rate }: { allowlist: string[] | null; rate: number | null }) {
  return (
    <>
      <label for="ip_allowlist">Allowed IPs (optional; one range or address per line, e.g. 203.0.113.0/24)</label>
      <textarea name="ip_allowlist" id="ip_allowlist">
        {(allowlist ?? []).join("\n")}
      </textarea>
      <label for="rate_limit_per_minute">Rate limit</label>
      <select name="rate_limit_per_minute" id="rate_limit_per_minute">
        <option value="" selected={rate === null}>
          default
        </option>
        {RATE_LIMIT_TIERS.map((tier) => (
          <option value={String(tier)} selected={rate === tier}>
            {`${tier} per minute`}
          </option>
        ))}
      </select>
    </>
  );
}
