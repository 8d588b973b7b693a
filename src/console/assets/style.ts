/** The console's stylesheet, served at CONSOLE_CSS_PATH (CSP `style-src 'self'`: no inline styles anywhere). */
export const CONSOLE_CSS = `:root { color-scheme: light dark; --fg: #1b1f24; --bg: #ffffff; --muted: #57606a; --line: #d0d7de; --warn: #9a6700; --bad: #cf222e; --ok: #1a7f37; --accent: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #8b949e; --line: #30363d; --warn: #d29922; --bad: #f85149; --ok: #3fb950; --accent: #4493f8; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header, main, footer { padding: 0.75rem 1.5rem; }
header { border-bottom: 1px solid var(--line); display: flex; gap: 1.5rem; align-items: baseline; flex-wrap: wrap; }
header .brand { font-weight: 600; }
header nav a { margin-right: 1rem; }
header .who { margin-left: auto; color: var(--muted); }
footer { color: var(--muted); border-top: 1px solid var(--line); font-size: 0.85rem; }
a { color: var(--accent); }
h1 { font-size: 1.4rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 0.5rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid var(--line); padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.9em; }
form.inline { display: inline-flex; gap: 0.25rem; align-items: center; }
fieldset { border: 1px solid var(--line); padding: 0.75rem 1rem; margin: 0 0 1rem; }
label { display: block; margin: 0.35rem 0 0.15rem; }
input, select, textarea, button { font: inherit; }
input[type=text], input[type=datetime-local], textarea, select { padding: 0.25rem 0.4rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); }
textarea { width: 100%; max-width: 32rem; min-height: 4rem; }
button { padding: 0.3rem 0.8rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); cursor: pointer; }
button.danger { border-color: var(--bad); color: var(--bad); }
.hint { color: var(--muted); font-size: 0.85rem; }
.banner { border: 1px solid var(--warn); border-left-width: 4px; padding: 0.5rem 0.75rem; margin: 0 0 1rem; }
.banner.bad { border-color: var(--bad); }
.status-active { color: var(--ok); }
.status-revoked, .status-expired, .status-sync_failed { color: var(--bad); }
.idle { color: var(--warn); font-weight: 600; }
.secret { display: flex; gap: 0.5rem; align-items: center; flex-wrap: wrap; margin: 0.5rem 0 1rem; }
.secret code { padding: 0.4rem 0.6rem; border: 1px dashed var(--warn); word-break: break-all; font-size: 1rem; }
dl.event { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 1rem; margin: 0; }
dl.event dt { color: var(--muted); }
dl.event dd { margin: 0; }
article.event { border: 1px solid var(--line); border-radius: 4px; padding: 0.5rem 0.75rem; margin: 0 0 0.75rem; }
.error { border: 1px solid var(--bad); border-left-width: 4px; padding: 0.5rem 0.75rem; }
`;
