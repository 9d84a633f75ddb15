// check-schema.mjs: validate evalrun's JSON Schemas and the files they
// describe with ajv (draft 2020-12, ajv-formats, strict mode). Run by
// scripts/check-schema.sh, which installs ajv, ajv-formats and yaml into a
// temporary directory and passes that directory first:
//
//   node check-schema.mjs MODULES_DIR REPO_ROOT SCENARIO_SCHEMA CONFIG_SCHEMA
//
// Scenario schema: every document of examples/*.yaml and of
// testdata/scenarios/valid must pass, the yaml blocks of docs/scenarios.md
// (but those marked <!-- invalid --> and the evalrun.yaml ones) and the
// scenario blocks of README.md and docs/targets.md must pass, every file of
// testdata/scenarios/invalid must fail. Config schema: testdata/config/valid
// must pass, testdata/config/invalid must fail, the "# evalrun.yaml" blocks
// of docs/config.md and docs/scenarios.md and the "targets:" blocks of
// docs/targets.md must pass.
// Exit 0 when all of that holds.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [modules, root, scenarioSchemaPath, configSchemaPath] = process.argv.slice(2);
const require = createRequire(path.join(modules, "node_modules", "x.js"));
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default;
const YAML = require("yaml");

function compile(file) {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  try {
    return ajv.compile(JSON.parse(fs.readFileSync(file, "utf8")));
  } catch (e) {
    console.log(`FAIL ${path.basename(file)} does not compile in strict mode: ${e.message}`);
    process.exitCode = 1;
    return null;
  }
}

// docs returns the JSON values of the YAML documents of src.
function docs(src) {
  const out = [];
  for (const d of YAML.parseAllDocuments(src)) {
    if (d.errors.length) throw new Error(d.errors[0].message);
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(JSON.parse(JSON.stringify(v)));
  }
  return out;
}

let passed = 0;
function check(validate, name, src, wantValid) {
  if (!validate) return;
  let problems = [];
  try {
    for (const [i, v] of docs(src).entries()) {
      if (!validate(v)) {
        problems.push(`document ${i + 1}: ` + validate.errors.map((e) => `${e.instancePath || "/"} ${e.message}`).join("; "));
      }
    }
  } catch (e) {
    problems.push(`YAML: ${e.message}`);
  }
  const valid = problems.length === 0;
  if (valid === wantValid) {
    passed++;
    return;
  }
  process.exitCode = 1;
  console.log(wantValid ? `FAIL ${name}: rejected: ${problems.join(" | ")}` : `FAIL ${name}: accepted, want rejected`);
}

function files(dir, recursive) {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return [];
  return fs
    .readdirSync(abs, { recursive, withFileTypes: false })
    .map(String)
    .filter((f) => /\.ya?ml$/.test(f) && !f.split(path.sep).some((p) => p.startsWith("_") || p.startsWith(".")))
    .sort()
    .map((f) => path.join(dir, f));
}

const scenario = compile(scenarioSchemaPath);
const config = compile(configSchemaPath);
const read = (f) => fs.readFileSync(path.join(root, f), "utf8");

let n = 0;
for (const f of [...files("examples", false), ...files("testdata/scenarios/valid", true)]) {
  check(scenario, f, read(f), true);
  n++;
}
for (const f of files("testdata/scenarios/invalid", false)) {
  check(scenario, f, read(f), false);
  n++;
}
const md = read("docs/scenarios.md");
let block = 0;
for (const m of md.matchAll(/(<!-- invalid -->\n)?```yaml\n([\s\S]*?)```/g)) {
  block++;
  if (m[1] || m[2].startsWith("# evalrun.yaml")) continue;
  check(scenario, `docs/scenarios.md yaml block ${block}`, m[2], true);
  n++;
}
for (const doc of ["README.md", "docs/targets.md"]) {
  let k = 0;
  for (const m of read(doc).matchAll(/```yaml\n((?:name|turns):[\s\S]*?)```/g)) {
    k++;
    check(scenario, `${doc} scenario block ${k}`, m[1], true);
    n++;
  }
}
for (const f of files("testdata/config/valid", false)) {
  check(config, f, read(f), true);
  n++;
}
for (const f of files("testdata/config/invalid", false)) {
  check(config, f, read(f), false);
  n++;
}
for (const doc of ["docs/config.md", "docs/scenarios.md", "docs/targets.md"]) {
  let k = 0;
  for (const m of read(doc).matchAll(/```yaml\n((?:# evalrun.yaml|targets:)\n[\s\S]*?)```/g)) {
    k++;
    check(config, `${doc} evalrun.yaml block ${k}`, m[1], true);
    n++;
  }
}
console.log(`check-schema: ${passed} of ${n} checks as expected (ajv ${require("ajv/package.json").version}, ajv-formats ${require("ajv-formats/package.json").version}, strict mode)`);
