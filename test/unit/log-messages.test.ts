// Log lines keep a fixed message, with the details in fields: operators filter on `msg`.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { LOG } from '../../src/log-messages';

const root = join(__dirname, '..', '..');
const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every call `<...>log.<level>(...)` in the daemon's source, with its last argument (the message). */
function logCalls(): { where: string; message: ts.Expression }[] {
  const calls: { where: string; message: ts.Expression }[] = [];
  for (const path of sources(join(root, 'src'))) {
    const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression) &&
        LEVELS.has(node.expression.name.text) &&
        /\blog$/.test(node.expression.expression.getText(file)) &&
        node.arguments.length > 0
      ) {
        const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
        calls.push({ where: `${relative(root, path)}:${line + 1}`, message: node.arguments.at(-1)! });
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return calls;
}

test('every log line of the daemon has a fixed message: a LOG entry or a constant string', () => {
  const calls = logCalls();
  assert.ok(calls.length >= 40, `found only ${calls.length} log calls: the scan is broken`);
  const variable = calls.filter(
    ({ message }) =>
      !ts.isStringLiteral(message) &&
      !(
        ts.isPropertyAccessExpression(message) &&
        ts.isIdentifier(message.expression) &&
        message.expression.text === 'LOG'
      ),
  );
  assert.deepEqual(
    variable.map((c) => `${c.where}: ${c.message.getText()}`),
    [],
    'a variable sentence belongs in the field `explanation`, with a fixed message from src/log-messages.ts',
  );
});

test('the messages are distinct, and the README lists each of them', () => {
  const values = Object.values(LOG);
  assert.equal(new Set(values).size, values.length, 'two kinds of line share a message');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const missing = values.filter((m) => !readme.includes(`| \`${m}\` |`));
  assert.deepEqual(missing, [], 'README.md, section "Logs": a row per message');
});
