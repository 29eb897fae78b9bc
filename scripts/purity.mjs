// The deterministic cores (raft, paxos, locks) must never reach for I/O, a clock, randomness,
// timers or the process: that is what makes seeded simulation and exact replay possible.
// This module finds such reaches by walking the TypeScript syntax tree, so a forbidden word
// inside a comment or a string is not a violation, while `globalThis.Date` or
// `import("node:fs")` is.
import ts from "typescript";

/** Module specifiers a pure core may not import. */
const FORBIDDEN_MODULE = /^(node:.*|ws|level|classic-level|msgpackr|pino|fs|path|os|net|http|https|crypto|child_process|worker_threads|timers|perf_hooks|process|dgram|dns|tls|cluster|events|stream|util)(\/.*)?$/;

/** Global names a pure core may not touch at all. */
const FORBIDDEN_GLOBALS = new Set([
  "Date",
  "performance",
  "process",
  "setTimeout",
  "setInterval",
  "setImmediate",
  "clearTimeout",
  "clearInterval",
  "clearImmediate",
  "queueMicrotask",
  "require",
  "fetch",
  "crypto",
  "WebSocket",
  "Buffer",
  "global",
]);

/**
 * Returns every violation in one source file as `file:line:col message`.
 * @param {string} fileName
 * @param {string} sourceText
 * @returns {string[]}
 */
export function findViolations(fileName, sourceText) {
  const source = ts.createSourceFile(fileName, sourceText, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const violations = [];
  const report = (node, message) => {
    const { line, character } = source.getLineAndCharacterOfPosition(node.getStart(source));
    violations.push(`${fileName}:${line + 1}:${character + 1} ${message}`);
  };

  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      checkModule(node.moduleSpecifier, node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const expr = node.moduleReference.expression;
      if (ts.isStringLiteral(expr)) checkModule(expr, expr.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      report(node, "dynamic import() is I/O");
    } else if (ts.isIdentifier(node) && FORBIDDEN_GLOBALS.has(node.text) && isFreeReference(node)) {
      report(node, `uses ${node.text}`);
    } else if (ts.isPropertyAccessExpression(node) && isMathRandom(node)) {
      report(node, "uses Math.random (pass a seeded generator instead)");
    } else if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "globalThis") {
      report(node, `reaches through globalThis.${node.name.text}`);
    } else if (ts.isElementAccessExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "globalThis") {
      report(node, "reaches through globalThis[...]");
    } else if (isAsync(node)) {
      report(node, "async function (the cores are synchronous)");
    } else if (ts.isAwaitExpression(node)) {
      report(node, "await (the cores are synchronous)");
    }
    ts.forEachChild(node, visit);
  };

  const checkModule = (node, specifier) => {
    if (FORBIDDEN_MODULE.test(specifier)) report(node, `imports "${specifier}"`);
  };

  visit(source);
  return violations;
}

function isMathRandom(node) {
  return ts.isIdentifier(node.expression) && node.expression.text === "Math" && node.name.text === "random";
}

function isAsync(node) {
  const modifiers = ts.canHaveModifiers(node) ? ts.getModifiers(node) : undefined;
  return modifiers?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword) ?? false;
}

/**
 * An identifier is a free reference unless it is a property name (`x.Date`, `{ Date: 1 }`),
 * a declaration's own name, or part of a type (`type T = Date` still counts: a core that
 * names Date in its types is about to use it).
 */
function isFreeReference(node) {
  const parent = node.parent;
  if (!parent) return true;
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) return false;
  if (ts.isPropertyAssignment(parent) && parent.name === node) return false;
  if (ts.isPropertySignature(parent) && parent.name === node) return false;
  if (ts.isPropertyDeclaration(parent) && parent.name === node) return false;
  if (ts.isMethodDeclaration(parent) && parent.name === node) return false;
  if (ts.isMethodSignature(parent) && parent.name === node) return false;
  if (ts.isEnumMember(parent) && parent.name === node) return false;
  if (ts.isQualifiedName(parent) && parent.right === node) return false;
  return true;
}
