/** The answer of create and roll: the new secret, shown in this one response only (never stored, never redirected to). */
import type { ConsoleSession } from "../env";
import type { KeyView } from "../model";
import { keysPath } from "../paths";
import { Layout, Time } from "./layout";

/** The admin API's warning (src/admin/routes/keys.ts), word for word. */
export const SECRET_WARNING = "Store this secret now: it is shown only this once and cannot be recovered.";

export function NewSecretPage({
  session,
  title,
  keyView,
  secret,
  previous,
}: {
  session: ConsoleSession;
  title: string;
  keyView: KeyView;
  secret: string;
  previous?: KeyView | undefined;
}) {
  return (
    <Layout title={title} session={session}>
      <p class="banner" role="alert" data-testid="secret-warning">
        {SECRET_WARNING}
      </p>
      <div class="secret">
        <code id="new-secret" data-testid="new-secret">
          {secret}
        </code>
        <button type="button" id="copy-secret" data-testid="copy-secret">
          Copy
        </button>
      </div>
      <dl class="event">
        <dt>Account</dt>
        <dd>
          <code>{keyView.account_id}</code> (the X-Spot-Api-Key)
        </dd>
        <dt>Key</dt>
        <dd>
          <code data-testid="new-key-id">{keyView.key_id}</code> ({keyView.mode})
        </dd>
        <dt>Label</dt>
        <dd>{keyView.label ?? "—"}</dd>
        <dt>Expires</dt>
        <dd>
          <Time iso={keyView.expires_at} />
        </dd>
        {previous ? (
          <>
            <dt>Old key</dt>
            <dd data-testid="previous-key">
              <code>{previous.key_id}</code> works until <Time iso={previous.expires_at} />
            </dd>
          </>
        ) : null}
      </dl>
      <p>
        <a href={keysPath(keyView.account_id)}>Back to the keys of {keyView.account_id}</a> (the secret is not shown there)
      </p>
    </Layout>
  );
}
