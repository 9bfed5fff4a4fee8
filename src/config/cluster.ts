// Config section `cluster:` (several relay instances acting as one).
import { z } from 'zod';

export const clusterSchema = z.strictObject({});
