/** Sending a page: the doctype, the status, and the error page every refusal uses. */
import type { Context } from "hono";
import type { ConsoleEnv } from "../env";
import { CONSOLE_MOUNT } from "../paths";
import { Layout } from "./layout";

/** Answers with a whole page (`<!DOCTYPE html>` + the element) and this status. */
export async function renderPage(
  c: Context<ConsoleEnv>,
  status: number,
  page: { toString(): string | Promise<string> },
): Promise<Response> {
  const html = `<!DOCTYPE html>${await page.toString()}`;
  return c.html(html, status as 200);
}

export interface ErrorDetails {
  code?: string | undefined;
  param?: string | undefined;
  requestId?: string | undefined;
  back?: { href: string; text: string } | undefined;
}

/** The error page: a title, a readable message, the admin API's code, field and request id when there are. */
export function ErrorView({ message, details }: { message: string; details?: ErrorDetails }) {
  return (
    <div class="error" role="alert" id="console-error" data-testid="console-error">
      <p data-testid="error-message">{message}</p>
      {details?.code ? (
        <p class="hint">
          Code <code data-testid="error-code">{details.code}</code>
          {details.param ? (
            <>
              {" "}
              about <code>{details.param}</code>
            </>
          ) : null}
          {details.requestId ? (
            <>
              {" "}
              · request id <code>{details.requestId}</code>
            </>
          ) : null}
        </p>
      ) : null}
      <p>
        <a href={details?.back?.href ?? `${CONSOLE_MOUNT}/`}>{details?.back?.text ?? "Back to the console"}</a>
      </p>
    </div>
  );
}

/** Answers a refusal or failure with the error page, status kept. */
export function renderError(
  c: Context<ConsoleEnv>,
  status: number,
  title: string,
  message: string,
  details?: ErrorDetails,
): Promise<Response> {
  const session = c.get("consoleSession");
  return renderPage(
    c,
    status,
    <Layout title={title} session={session}>
      <ErrorView message={message} {...(details ? { details } : {})} />
    </Layout>,
  );
}
