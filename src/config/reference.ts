// The configuration reference (key, default, meaning) derived from the schema, for the README and --help-config.
import { z } from 'zod';
import { configSchema } from './schema.js';

export interface ConfigKey {
  /** Dotted path, e.g. server.tls.cert_file */
  readonly key: string;
  /** Default value as it would be written in YAML. */
  readonly default: string;
  readonly description: string;
}

interface JsonSchemaNode {
  type?: string | string[];
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
      else out.push({ key, default: JSON.stringify(child.default ?? null), description: child.description ?? '' });
    }
  };
  walk(root, '');
  return out;
}

/** The reference as a Markdown table (the README embeds exactly this). */
export function configTable(): string {
  const rows = configReference().map((k) => `| \`${k.key}\` | \`${k.default}\` | ${k.description.replace(/\|/g, '\\|')} |`);
  return ['| key | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
