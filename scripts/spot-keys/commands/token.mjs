// spot-keys token: prints a dev admin token for the local server (minted from .wrangler/admin-dev-key.json).

import { mintDevToken } from "../../admin-client.mjs";
import { EXIT } from "../errors.mjs";
import { noPositionals } from "../values.mjs";

export default {
  name: "token",
  summary: "print a local dev admin token (10 minutes; needs npm start to have run)",
  usage: ["spot-keys token [--read-only]"],
  options: {
    "read-only": { type: "boolean", default: false, help: "a token with keys:read only, not keys:write (enough for the audit searches)" },
  },
  example: "SPOT_ADMIN_TOKEN=$(spot-keys token --read-only) spot-keys audit --since 10m",

  async run(values, positionals) {
    noPositionals(positionals);
    console.log(await mintDevToken({ readOnly: values["read-only"] }));
    return EXIT.ok;
  },
};
