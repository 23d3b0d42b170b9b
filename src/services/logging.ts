/**
 * pino options shared by both roles (`npm start`, `npm run worker`) and by apps built
 * without a logger instance: JSON lines at LOG_LEVEL, and credentials never in the logs
 * (the Authorization and Cookie headers are redacted wherever a header object is logged).
 */
import type { LoggerOptions } from 'pino';

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'request.headers.authorization',
        'headers.authorization',
        'headers.cookie',
        'res.headers["set-cookie"]',
      ],
      censor: '[Redacted]',
    },
  };
}

