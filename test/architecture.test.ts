import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layers of docs/design.md and ../shared/ARCHITECTURE.md, checked on the source: imports point downward only
 * and nothing imports in a circle (type-only imports count: a circle of types is still two modules that cannot be
 * understood apart). Reads the files as text; needs no stack.
 */
const SRC = resolve(import.meta.dirname, '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Module -> the modules of src it imports (relative specifiers only; `.js` in a specifier names the `.ts` file). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => m[1]!);
    graph.set(
      relative(SRC, file),
      specs.map((s) => relative(SRC, resolve(dirname(file), s.replace(/\.js$/, '.ts')))),
    );
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'visiting') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

const layer = (module: string) => module.split('/')[0]!;

describe('architecture', () => {
  const graph = importGraph();

  it('has no import cycles in src', () => {
    expect(cycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('keeps src/domain pure: it imports nothing outside the domain', () => {
    const out = [...graph].flatMap(([from, tos]) => (layer(from) === 'domain' ? tos.filter((t) => layer(t) !== 'domain').map((t) => `${from} -> ${t}`) : []));
    expect(out).toEqual([]);
  });

  it('keeps activities, workflows, ports and adapters out of the process layer (src/main) and the API', () => {
    const lower = new Set(['activities', 'workflows', 'ports', 'adapters', 'domain', 'client']);
    const out = [...graph].flatMap(([from, tos]) =>
      lower.has(layer(from)) ? tos.filter((t) => ['main', 'api', 'cli', 'web'].includes(layer(t))).map((t) => `${from} -> ${t}`) : [],
    );
    expect(out).toEqual([]);
  });

  it('keeps src/config on the domain: it imports nothing from the layers that read the configuration', () => {
    const out = [...graph].flatMap(([from, tos]) => (layer(from) === 'config' ? tos.filter((t) => !['config', 'domain'].includes(layer(t))).map((t) => `${from} -> ${t}`) : []));
    expect(out).toEqual([]);
  });

  it('workflow files import activities by type only and no Node built-ins', () => {
    const bad: string[] = [];
    for (const file of sources(join(SRC, 'workflows'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
        const [, typeOnly, spec] = m;
        if (spec!.startsWith('node:') || ['fs', 'path', 'crypto', 'os', 'http', 'https', 'net', 'child_process'].includes(spec!)) bad.push(`${relative(SRC, file)}: ${spec}`);
        if (/\/activities\//.test(spec!) && !typeOnly) bad.push(`${relative(SRC, file)}: value import of ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('keeps Ed25519 out of the workflow sandbox: nothing the workflow bundle loads reaches node:crypto signing or @noble/curves', () => {
    // Value imports only: a type import is erased and never bundled.
    const loaded = new Set<string>();
    const visit = (module: string) => {
      if (loaded.has(module)) return;
      loaded.add(module);
      const text = readFileSync(join(SRC, module), 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s)?[^;]*?from\s+'([^']+)'/gms)) {
        const [, typeOnly, spec] = m;
        if (typeOnly) continue;
        if (spec!.startsWith('.')) visit(relative(SRC, resolve(dirname(join(SRC, module)), spec!.replace(/\.js$/, '.ts'))));
        else if (spec!.startsWith('@noble/curves')) loaded.add(`${module} -> ${spec}`);
      }
    };
    visit('workflows/index.ts');
    expect(loaded.size).toBeGreaterThan(10);
    expect([...loaded].filter((m) => m === 'domain/ed25519.ts' || m.includes('@noble/curves'))).toEqual([]);
  });
});
