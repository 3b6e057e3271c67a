/**
 * A stand-in for a registry that refuses pulls as Docker Hub does once its rate limit is reached:
 * every request gets 429 Too Many Requests with Hub's error body and headers. No real registry can
 * be reached here; this one listens on 127.0.0.1, which containerd reaches over plain HTTP, so the
 * real kubelet and containerd pull from it, fail, retry and back off as they would against Hub.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running stand-in registry. */
export interface RateLimitedRegistry {
  /** host:port, to prefix image names with. */
  readonly host: string;
  /** How many requests it answered. */
  requests(): number;
  close(): Promise<void>;
}

/** Starts the registry on a free loopback port. */
export async function startRateLimitedRegistry(): Promise<RateLimitedRegistry> {
  let count = 0;
  const server: Server = createServer((req, res) => {
    count++;
    req.resume();
    res.writeHead(429, {
      'content-type': 'application/json',
      'docker-distribution-api-version': 'registry/2.0',
      'ratelimit-limit': '100;w=21600',
      'ratelimit-remaining': '0;w=21600',
    });
    res.end(
      JSON.stringify({
        errors: [
          {
            code: 'TOOMANYREQUESTS',
            message:
              'You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit',
          },
        ],
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    requests: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
