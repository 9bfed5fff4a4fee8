// The configuration reference (key, default, meaning) derived from the schema, for the README and --help-config.
import { z } from 'zod';
import { configSchema } from './schema.js';

export interface ConfigKey {
  /** Dotted path, e.g. server.tls.cert_file */
  readonly key: string;
  /** Default value as it would be written in YAML. */
  readonly default: string;
  readonly description: string;
  /** JSON-schema types the key accepts, e.g. ['string', 'null']. */
  readonly types: readonly string[];
}

interface JsonSchemaNode {
  type?: string | string[];
  anyOf?: JsonSchemaNode[];
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchemaNode>;
}

/** Every leaf key of the schema, in declaration order. */
export function configReference(): ConfigKey[] {
  const root = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  const out: ConfigKey[] = [];
  const walk = (node: JsonSchemaNode, prefix: string): void => {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      const key = prefix ? `${prefix}.${name}` : name;
      if (child.properties) walk(child, key);
      else out.push({ key, default: JSON.stringify(child.default ?? null), description: child.description ?? '', types: typesOf(child) });
    }
  };
  walk(root, '');
  return out;
}

function typesOf(node: JsonSchemaNode): string[] {
  if (node.anyOf) return node.anyOf.flatMap(typesOf);
  if (node.type === undefined) return [];
  return Array.isArray(node.type) ? node.type : [node.type];
}

/** The reference as a Markdown table (the README embeds exactly this). */
export function configTable(): string {
  const rows = configReference().map((k) => `| \`${k.key}\` | \`${k.default}\` | ${k.description.replace(/\|/g, '\\|')} |`);
  return ['| key | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
