// What npm start prints with: colours (only on a terminal, never with NO_COLOR), the step and warning
// lines, and StartError, a failure whose message is shown as it is (no stack trace).

export const useColor = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const paint = (code) => (text) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text);
export const bold = paint("1");
export const dim = paint("2");
export const green = paint("32");
export const yellow = paint("33");
export const red = paint("31");
export const cyan = paint("36");

export const step = (text) => console.log(`${cyan("▸")} ${text}`);
export const warn = (text) => console.warn(`${yellow("!")} ${text}`);

export class StartError extends Error {
  name = "StartError";
}

export function indent(text, prefix) {
  return text
    .split("\n")
    .map((line) => `${prefix}${line}`)
    .join("\n");
}
