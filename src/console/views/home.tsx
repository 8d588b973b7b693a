/** GET /__spot/console/: open an account's keys, or the audit trail. */
import type { ConsoleSession } from "../env";
import { CONSOLE_MOUNT } from "../paths";
import { Layout } from "./layout";

export function HomePage({ session }: { session: ConsoleSession }) {
  return (
    <Layout title="API keys" session={session}>
      <form method="get" action={`${CONSOLE_MOUNT}/accounts`} id="open-account-form" data-testid="open-account-form">
        <label for="account_id">Account id</label>
        <input type="text" id="account_id" name="account_id" required placeholder="acct_42" pattern="acct_[A-Za-z0-9]{1,64}" />{" "}
        <button type="submit" data-testid="open-account">
          Open its keys
        </button>
        <p class="hint">The account id is the X-Spot-Api-Key of its keys: acct_ followed by letters or digits.</p>
      </form>
      <h2>Also</h2>
      <ul>
        <li>
          <a href={`${CONSOLE_MOUNT}/audit`}>Audit trail</a>: find a request by its X-Request-Id, or search by account, key, address,
          outcome and time.
        </li>
        <li>
          The same actions from a terminal: <code>npx spot-keys</code> (docs/cli.md).
        </li>
      </ul>
    </Layout>
  );
}
