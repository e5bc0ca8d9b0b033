import pino, { type Logger } from 'pino';

/**
 * JSON logs on stdout. The API key is never handed to the logger; the redaction paths are a
 * second line of defence for objects that might carry request headers.
 */
export function createLogger(level: string): Logger {
  return pino({
    name: 'mass-autoscaler',
    level,
    redact: {
      paths: [
        'apiKey',
        '*.apiKey',
        'headers.authorization',
        'headers.Authorization',
        '*.headers.authorization',
        '*.headers.Authorization',
        'config.headers',
        '*.config.headers',
      ],
      censor: '[redacted]',
    },
  });
}
