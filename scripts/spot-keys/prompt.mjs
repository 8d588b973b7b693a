// spot-keys: questions on the terminal: the [y/N] confirmation of revoke and suspend, and the secret of
// `import` read from stdin (or typed without echo).

import { createInterface } from "node:readline";
import { red } from "./output.mjs";

function ask(question) {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer);
    });
  });
}

/**
 * Asks `question` unless --yes was given. False (the caller exits 7) when not confirmed, or when there
 * is no terminal to ask on: then `refusal` is printed; `declined` after a "no".
 */
export async function confirmed(values, { question, refusal, declined }) {
  if (values.yes) return true;
  if (!process.stdin.isTTY) {
    console.error(red(refusal));
    return false;
  }
  const answer = await ask(question);
  if (/^y(es)?$/i.test(answer.trim())) return true;
  console.error(declined);
  return false;
}

/** Reads the secret to import: the first line of stdin, or a prompt without echo on a terminal. */
export async function readSecret() {
  if (!process.stdin.isTTY) {
    let text = "";
    for await (const chunk of process.stdin) text += chunk;
    return text.split(/\r?\n/)[0].trim();
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  let prompted = false;
  rl._writeToOutput = (text) => {
    if (!prompted) {
      process.stderr.write(text);
      prompted = true;
    }
  };
  const answer = await new Promise((resolve) => rl.question("Secret to import (not shown): ", resolve));
  rl.close();
  process.stderr.write("\n");
  return answer.trim();
}
