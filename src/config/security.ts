// Config sections `security:` and `limits:` (admission control and abuse resistance). Every control is off by default.
import { z } from 'zod';

export const securitySchema = z.strictObject({});

export const limitsSchema = z.strictObject({});
