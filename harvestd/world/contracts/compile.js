// Compile every .sol file in a directory with the pinned solcjs (npm `solc`) and write
// {ContractName: {abi, bytecode}} as JSON. Imports resolve against node_modules.
// usage: node compile.js <sources-dir> <out.json> <node_modules-dir>
"use strict";
const fs = require("fs");
const path = require("path");

const [, , sourcesDir, outFile, nodeModules] = process.argv;
if (!sourcesDir || !outFile || !nodeModules) {
  console.error("usage: node compile.js <sources-dir> <out.json> <node_modules-dir>");
  process.exit(2);
}
const solc = require(path.join(path.resolve(nodeModules), "solc"));

const sources = {};
for (const name of fs.readdirSync(sourcesDir).sort()) {
  if (name.endsWith(".sol")) {
    sources[name] = { content: fs.readFileSync(path.join(sourcesDir, name), "utf8") };
  }
}

function findImports(importPath) {
  for (const base of [nodeModules, sourcesDir]) {
    const candidate = path.join(base, importPath);
    if (fs.existsSync(candidate)) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: "import not found: " + importPath };
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "paris",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length > 0) {
  for (const e of errors) console.error(e.formattedMessage || e.message);
  process.exit(1);
}
const contracts = {};
for (const file of Object.keys(sources)) {
  for (const [name, c] of Object.entries(output.contracts[file] || {})) {
    contracts[name] = { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object, source: file };
  }
}
const tmp = outFile + ".tmp-" + process.pid;
fs.writeFileSync(tmp, JSON.stringify(contracts));
fs.renameSync(tmp, outFile);
console.log("compiled " + Object.keys(contracts).join(", "));
