// Load an XForm in ODK Web Forms' engine (@getodk/xforms-engine), independently of pyxform.
//
// Usage: node load.mjs FORM.xml [--set /root/path=value ...] [--payload OUT.xml]
//
// Loads the form, creates an instance, applies the --set answers in order (to open groups
// gated by relevance and to drive repeat counts), adds one entry to every repeat the user
// controls, switches to every language and reads every label, then prepares the submission
// payload. That evaluates every relevant, constraint, required and calculate expression.
// Prints one JSON object on stdout; exits 1 with the error on stderr when anything fails.

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The engine's bundled XPath parser expects CommonJS's __dirname.
globalThis.__dirname = path.dirname(fileURLToPath(import.meta.url));

const { JSDOM } = await import('jsdom');
const { window } = new JSDOM('');
for (const name of ['DOMParser', 'XMLSerializer', 'Node', 'Document', 'Element', 'XPathResult']) {
  globalThis[name] ??= window[name];
}
globalThis.document ??= window.document;
const { loadForm } = await import('@getodk/xforms-engine');

function parseArgs(argv) {
  const args = { form: null, sets: [], payload: null };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--set') {
      const [ref, ...rest] = argv[++i].split('=');
      args.sets.push([ref, rest.join('=')]);
    } else if (argv[i] === '--payload') {
      args.payload = argv[++i];
    } else {
      args.form = argv[i];
    }
  }
  if (!args.form) throw new Error('usage: node load.mjs FORM.xml [--set ref=value] [--payload OUT]');
  return args;
}

function* walk(node) {
  yield node;
  for (const sub of node.currentState.children ?? []) yield* walk(sub);
}

function find(root, ref) {
  for (const node of walk(root)) {
    if (node.currentState.reference.replace(/\[\d+\]/g, '') === ref) return node;
  }
  throw new Error(`no node ${ref}`);
}

function answer(root, ref, value) {
  const node = find(root, ref);
  if (node.nodeType === 'select') {
    const values = value.split(' ').filter(Boolean);
    if (typeof node.selectValues === 'function' && values.length !== 1) node.selectValues(values);
    else node.selectValue(values[0] ?? null);
  } else if (node.nodeType === 'input' || node.nodeType === 'range') {
    node.setValue(value);
  } else {
    throw new Error(`cannot answer ${ref} (${node.nodeType})`);
  }
}

function addRepeatEntries(root) {
  const added = [];
  for (const node of walk(root)) {
    if (node.nodeType === 'repeat-range:uncontrolled') {
      node.addInstances();
      added.push(node.currentState.reference);
    }
  }
  return added;
}

function readLabels(root) {
  const languages = {};
  const options = root.languages.filter((l) => !l.isSyntheticDefault);
  for (const language of options.length ? options : root.languages) {
    root.setLanguage(language);
    const missing = [];
    let labelled = 0;
    for (const node of walk(root)) {
      const label = node.currentState.label;
      if (label) {
        labelled += 1;
        if (!label.asString.trim()) missing.push(node.currentState.reference);
      }
      for (const option of node.currentState.valueOptions ?? []) {
        if (option?.label && !option.label.asString.trim()) missing.push(`${node.currentState.reference}#${option.value}`);
      }
    }
    languages[language.language || '(default)'] = { labelled, missing };
  }
  return languages;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const xml = await readFile(args.form, 'utf8');
  const form = await loadForm(xml);
  if (form.status === 'failure') throw form.error;
  const instance = form.createInstance();
  const root = instance.root;
  for (const [ref, value] of args.sets) answer(root, ref, value);
  const repeats = addRepeatEntries(root);
  const languages = readLabels(root);
  const counts = {};
  for (const node of walk(root)) counts[node.nodeType] = (counts[node.nodeType] ?? 0) + 1;
  const payload = await root.prepareInstancePayload();
  const file = payload.data[0].get('xml_submission_file');
  const submission = await file.text();
  if (args.payload) await writeFile(args.payload, submission);
  const result = {
    status: form.status,
    warnings: form.warnings,
    title: root.definition.form?.title ?? null,
    languages,
    counts,
    repeatsAdded: repeats,
    payloadStatus: payload.status,
    violations: (payload.violations ?? []).map((v) => v.reference),
    submissionBytes: submission.length,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
