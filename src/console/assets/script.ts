/**
 * The console's only script, served at CONSOLE_JS_PATH (CSP `script-src 'self'`: no inline script or
 * event handler anywhere). It wires the copy button of a new secret; every page works without it.
 */
export const CONSOLE_JS = `"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("copy-secret");
  var secret = document.getElementById("new-secret");
  if (!button || !secret) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var text = secret.textContent || "";
    var done = function (ok) { button.textContent = ok ? "Copied" : "Copy failed: select the secret and copy it"; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
    } else {
      done(false);
    }
  });
});
`;
