// Run tdxsim's core under Pyodide in Node.js, offline: core.py with this repository's tdxsim package.
//
// Usage: node tests/pyodide/run.mjs INPUTS.json REPORT.json
// The npm package `pyodide` (pinned by package-lock.json; `npm ci --prefix tests/pyodide`) carries the whole
// runtime and the standard library, so nothing is fetched: no CDN, no micropip. The package's .py files, examples/
// and core.py are copied into Pyodide's in-memory file system under /repo, the inputs beside them; core.py writes
// its report there and this script copies it out. On stdout: one JSON line with Python's version and the timings.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const [inputs, reportOut] = process.argv.slice(2);
if (!inputs || !reportOut) {
  process.stderr.write("usage: node tests/pyodide/run.mjs INPUTS.json REPORT.json\n");
  process.exit(2);
}

const t0 = performance.now();
const py = await loadPyodide({
  stdout: (line) => process.stderr.write(`pyodide: ${line}\n`),
  stderr: (line) => process.stderr.write(`pyodide: ${line}\n`),
});
const loaded = performance.now();

// Copy a host folder into Pyodide's FS; only the files `keep` accepts (skips __pycache__ and the like).
function copyTree(hostDir, fsDir, keep) {
  py.FS.mkdirTree(fsDir);
  for (const entry of fs.readdirSync(hostDir, { withFileTypes: true })) {
    const from = path.join(hostDir, entry.name);
    const to = `${fsDir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== "__pycache__") copyTree(from, to, keep);
    } else if (keep(entry.name)) {
      py.FS.writeFile(to, fs.readFileSync(from));
    }
  }
}
copyTree(path.join(repo, "tdxsim"), "/repo/tdxsim", (name) => name.endsWith(".py"));
copyTree(path.join(repo, "examples"), "/repo/examples", (name) => name.endsWith(".json"));
py.FS.mkdirTree("/repo/tests/pyodide");
py.FS.writeFile("/repo/tests/pyodide/core.py", fs.readFileSync(path.join(here, "core.py")));
py.FS.writeFile("/repo/inputs.json", fs.readFileSync(inputs));

const t1 = performance.now();
try {
  py.runPython(`
import runpy, sys
sys.argv = ["core.py", "/repo", "/repo/inputs.json", "/repo/report.json"]
runpy.run_path("/repo/tests/pyodide/core.py", run_name="__main__")
`);
} catch (err) {
  process.stderr.write(`run.mjs: core.py failed under Pyodide:\n${err.message}\n`); // the Python traceback
  process.exit(1);
}
const ran = performance.now();
fs.writeFileSync(reportOut, py.FS.readFile("/repo/report.json"));

const version = py.runPython("import sys; sys.version.split()[0]");
const info = {
  python: version,
  pyodide: py.version,
  platform: py.runPython("import sys; sys.platform"),
  // The host's errno numbers, which tdxsim must not use: Emscripten's, not Linux's.
  host_errno: JSON.parse(py.runPython("import errno, json; json.dumps({'EAGAIN': errno.EAGAIN, 'EOPNOTSUPP': errno.EOPNOTSUPP})")),
  load_s: +((loaded - t0) / 1000).toFixed(2),
  run_s: +((ran - t1) / 1000).toFixed(2),
};
process.stdout.write(JSON.stringify(info) + "\n");
