/** The page frame of every console screen: head (own CSS and JS only), navigation, who is signed in. */
import type { Child } from "hono/jsx";
import type { ConsoleSession } from "../env";
import { CONSOLE_CSS_PATH, CONSOLE_JS_PATH, CONSOLE_MOUNT } from "../paths";

export interface LayoutProps {
  title: string;
  session?: ConsoleSession | undefined;
  children?: Child;
}

export function Layout({ title, session, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>{`${title} · Spot Thought console`}</title>
        <link rel="stylesheet" href={CONSOLE_CSS_PATH} />
        <script src={CONSOLE_JS_PATH} defer></script>
      </head>
      <body>
        <header>
          <span class="brand">Spot Thought console</span>
          <nav aria-label="Console">
            <a href={`${CONSOLE_MOUNT}/`} data-testid="nav-keys">
              API keys
            </a>
            <a href={`${CONSOLE_MOUNT}/audit`} data-testid="nav-audit">
              Audit
            </a>
          </nav>
          {session ? (
            <span class="who" data-testid="signed-in-as">
              {session.actor.email ?? session.actor.sub}
              {session.canWrite ? "" : " (read only)"}
            </span>
          ) : null}
        </header>
        <main>
          <h1>{title}</h1>
          {children}
        </main>
        <footer>Every action here is an admin API call, recorded as an admin event like any other.</footer>
      </body>
    </html>
  );
}

/** The hidden CSRF field of every POST form. */
export function Csrf({ session }: { session: ConsoleSession }) {
  return <input type="hidden" name="csrf" value={session.csrf} />;
}

/** An ISO instant as `YYYY-MM-DD HH:mm:ss UTC` in a <time> element; "—" for none. */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="hint">—</span>;
  return <time datetime={iso}>{iso.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC")}</time>;
}
