/**
 * A FAKE of the Kubernetes API, for what the real single-node test cluster cannot show on demand
 * (see test/kubernetes-fake.test.ts): a followed log closed by the API while the container runs,
 * one that goes silent without ending, and the API server going away mid-run. Everything else runs against the real
 * cluster (test/cluster/cluster.sh). It follows the API's semantics (Status objects for
 * 401/403/404/409/422, pod phases and container states, events, logs with follow, timestamps and
 * sinceTime, lists by label selector, a kubelet that waits for a ConfigMap volume, deletion) and
 * runs every pod it accepts for real: the ConfigMap and Pod go to `podman kube play`, container
 * states come from `podman inspect`, logs from `podman logs`. So the ConfigMap delivery, commands,
 * env and mounts podbench sends are proven end to end.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dumpYaml,
  type CoreV1Event,
  type V1ConfigMap,
  type V1ContainerStatus,
  type V1Pod,
} from '@kubernetes/client-node';
import { podman, spawnPodman } from '../../bench/targets/podman/podman-cli.js';

/** How the fake cluster behaves. */
export interface FakeClusterOptions {
  /** Namespaces that exist. */
  readonly namespaces?: readonly string[];
  /** Close the first followed log after this many lines while the container keeps running. */
  readonly cutLogAfterLines?: number;
  /**
   * Stop sending on the first followed log after this many lines, keeping the connection open —
   * a connection reset behind a proxy that client-node never sees end.
   */
  readonly stallLogAfterLines?: number;
}

interface PodRecord {
  pod: V1Pod;
  dir?: string;
  playing?: Promise<void>;
  pullError?: string;
  events: CoreV1Event[];
}

const status = (code: number, reason: string, message: string, details: object = {}) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  details,
  code,
});

/** The fake cluster: start it, point a kubeconfig at it, inspect what was created. */
export class FakeCluster {
  readonly pods = new Map<string, PodRecord>();
  readonly configMaps = new Map<string, V1ConfigMap>();
  /** Every request, as "METHOD path". */
  readonly requests: string[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly options: Required<FakeClusterOptions>;
  private readonly dir = mkdtempSync(join(tmpdir(), 'pbtest-kube-'));
  private logCut = false;
  private logStalled = false;
  url = '';

  constructor(options: FakeClusterOptions = {}) {
    this.options = { namespaces: ['default', 'bench'], cutLogAfterLines: 0, stallLogAfterLines: 0, ...options };
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => this.send(res, 500, status(500, 'InternalError', err.message)));
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** A kubeconfig for this cluster, with namespace `bench` in its context. */
  writeKubeconfig(): string {
    const path = join(this.dir, 'kubeconfig');
    writeFileSync(
      path,
      dumpYaml({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'tester', user: { token: 'test-token' } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'tester', namespace: 'bench' } }],
        'current-context': 'fake',
      }),
    );
    return path;
  }

  /** Drops every connection and stops answering: the API "goes away". */
  async goAway(): Promise<void> {
    // close() waits for open connections (a followed log never ends by itself): cut them first.
    const closed = new Promise<void>((r) => (this.server?.listening ? this.server.close(() => r()) : r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Stops the server and removes every pod it still runs. */
  async stop(): Promise<void> {
    await this.goAway();
    for (const name of [...this.pods.keys()]) await this.deletePod(name);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    if (res.headersSent) return void res.end();
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async body(req: IncomingMessage): Promise<unknown> {
    let text = '';
    for await (const chunk of req) text += chunk;
    return JSON.parse(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url!, this.url);
    const method = req.method!;
    this.requests.push(`${method} ${url.pathname}`);
    if (req.headers.authorization !== 'Bearer test-token')
      return this.send(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    if (url.pathname === '/version')
      return this.send(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-fake' });
    const nsOnly = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(url.pathname);
    if (nsOnly && method === 'GET') {
      if (!this.options.namespaces.includes(nsOnly[1]!))
        return this.send(res, 404, status(404, 'NotFound', `namespaces "${nsOnly[1]}" not found`));
      return this.send(res, 200, {
        kind: 'Namespace',
        apiVersion: 'v1',
        metadata: { name: nsOnly[1], labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
      });
    }
    if (url.pathname === '/api/v1/nodes' && method === 'GET') {
      // One node of this host's architecture, as the kubelet labels it.
      const arch = process.arch === 'x64' ? 'amd64' : process.arch;
      return this.send(res, 200, {
        kind: 'NodeList',
        apiVersion: 'v1',
        metadata: {},
        items: [
          {
            metadata: { name: 'fake-node', labels: { 'kubernetes.io/arch': arch } },
            spec: {},
            status: { nodeInfo: { architecture: arch } },
          },
        ],
      });
    }
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/(pods|configmaps|events)(?:\/([^/]+))?(?:\/(log))?$/.exec(url.pathname);
    if (!m) return this.send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const [, ns, resource, name, sub] = m as unknown as [
      string,
      string,
      string,
      string | undefined,
      string | undefined,
    ];
    if (!this.options.namespaces.includes(ns))
      return this.send(
        res,
        404,
        status(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' }),
      );

    if ((resource === 'pods' || resource === 'configmaps') && method === 'GET' && !name) {
      const all =
        resource === 'pods'
          ? await Promise.all([...this.pods.values()].map((r) => this.withStatus(r)))
          : [...this.configMaps.values()];
      const items = all.filter((o) =>
        matchesSelector(o.metadata?.labels ?? {}, url.searchParams.get('labelSelector') ?? ''),
      );
      return this.send(res, 200, {
        kind: resource === 'pods' ? 'PodList' : 'ConfigMapList',
        apiVersion: 'v1',
        metadata: {},
        items,
      });
    }
    if (resource === 'configmaps') {
      if (method === 'POST') {
        const cm = (await this.body(req)) as V1ConfigMap;
        const cmName = cm.metadata?.name ?? '';
        if (this.configMaps.has(cmName))
          return this.send(res, 409, status(409, 'AlreadyExists', `configmaps "${cmName}" already exists`));
        const size = JSON.stringify({ data: cm.data, binaryData: cm.binaryData }).length;
        if (size > 1024 * 1024)
          return this.send(
            res,
            422,
            status(422, 'Invalid', `ConfigMap "${cmName}" is invalid: []: Too long: must have at most 1048576 bytes`),
          );
        const stored = { ...cm, metadata: { ...cm.metadata, creationTimestamp: new Date() } };
        this.configMaps.set(cmName, stored);
        return this.send(res, 201, stored);
      }
      if (method === 'DELETE' && name) {
        if (!this.configMaps.delete(name))
          return this.send(res, 404, status(404, 'NotFound', `configmaps "${name}" not found`));
        return this.send(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success', metadata: {} });
      }
    }
    if (resource === 'events' && method === 'GET') {
      const involved = /involvedObject\.name=([^,]+)/.exec(url.searchParams.get('fieldSelector') ?? '')?.[1];
      const items = involved
        ? (this.pods.get(involved)?.events ?? [])
        : [...this.pods.values()].flatMap((p) => p.events);
      return this.send(res, 200, { kind: 'EventList', apiVersion: 'v1', metadata: {}, items });
    }
    if (resource === 'pods') {
      if (method === 'POST') return this.createPod(res, (await this.body(req)) as V1Pod);
      const record = name ? this.pods.get(name) : undefined;
      if (!record) return this.send(res, 404, status(404, 'NotFound', `pods "${name}" not found`));
      if (method === 'GET' && sub === 'log') return this.streamLog(req, res, record, url.searchParams);
      if (method === 'GET') return this.send(res, 200, await this.withStatus(record));
      if (method === 'DELETE') {
        const pod = await this.withStatus(record);
        await this.deletePod(name!);
        return this.send(res, 200, pod);
      }
    }
    return this.send(res, 405, status(405, 'MethodNotAllowed', `${method} is not supported on ${url.pathname}`));
  }

  private createPod(res: ServerResponse, pod: V1Pod): void {
    const name = pod.metadata?.name ?? '';
    if (this.pods.has(name)) return this.send(res, 409, status(409, 'AlreadyExists', `pods "${name}" already exists`));
    if (!pod.spec?.containers?.length)
      return this.send(res, 422, status(422, 'Invalid', `Pod "${name}" is invalid: spec.containers: Required value`));
    const record: PodRecord = {
      pod: {
        ...pod,
        metadata: { ...pod.metadata, uid: `uid-${name}`, creationTimestamp: new Date() },
        status: { phase: 'Pending' },
      },
      events: [],
    };
    this.pods.set(name, record);
    record.playing = this.play(record);
    this.send(res, 201, record.pod);
  }

  private event(name: string, reason: string, message: string, type = 'Normal'): CoreV1Event {
    return {
      involvedObject: { kind: 'Pod', name },
      reason,
      message,
      type,
      metadata: { name: `${name}.${reason}` },
    } as CoreV1Event;
  }

  /** Runs the pod with podman kube play (ConfigMaps it mounts included). */
  private async play(record: PodRecord): Promise<void> {
    const pod = record.pod;
    const cmNames = (pod.spec?.volumes ?? []).map((v) => v.configMap?.name).filter((n): n is string => Boolean(n));
    // Like the kubelet, wait for a ConfigMap volume whose ConfigMap does not exist yet.
    for (let waited = 0; !cmNames.every((n) => this.configMaps.has(n)) && waited < 120; waited++)
      await new Promise((r) => setTimeout(r, 250));
    const docs = [...cmNames.map((n) => this.configMaps.get(n)).filter(Boolean), { ...pod, status: undefined }];
    record.dir = mkdtempSync(join(this.dir, 'pod-'));
    const yaml = join(record.dir, 'pod.yaml');
    writeFileSync(yaml, docs.map((d) => dumpYaml(d)).join('---\n'));
    try {
      await podman(['kube', 'play', yaml]);
      record.events.push(this.event(pod.metadata!.name!, 'Started', 'Started containers'));
    } catch (err) {
      record.pullError = (err as Error).message;
      record.events.push(
        this.event(pod.metadata!.name!, 'Failed', `Failed to pull image: ${record.pullError}`, 'Warning'),
      );
    }
  }

  /** The pod with its status as the kubelet would report it. */
  private async withStatus(record: PodRecord): Promise<V1Pod> {
    const pod = record.pod;
    const name = pod.metadata!.name!;
    await record.playing;
    const containerStatuses: V1ContainerStatus[] = [];
    for (const c of pod.spec!.containers) {
      const base = { name: c.name, image: c.image!, imageID: '', ready: false, restartCount: 0 };
      if (record.pullError) {
        containerStatuses.push({ ...base, state: { waiting: { reason: 'ErrImagePull', message: record.pullError } } });
        continue;
      }
      const out = await podman([
        'inspect',
        '--format',
        '{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}',
        `${name}-${c.name}`,
      ]).catch(() => 'unknown 0 false');
      const [state, code, oom] = out.trim().split(' ');
      if (state === 'running')
        containerStatuses.push({ ...base, ready: true, started: true, state: { running: { startedAt: new Date() } } });
      else if (state === 'exited' || state === 'stopped') {
        const exitCode = Number(code);
        containerStatuses.push({
          ...base,
          state: {
            terminated: { exitCode, reason: oom === 'true' ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error' },
          },
        });
      } else containerStatuses.push({ ...base, state: { waiting: { reason: 'ContainerCreating' } } });
    }
    const terminated = containerStatuses.map((c) => c.state?.terminated);
    const phase = record.pullError
      ? 'Pending'
      : terminated.every(Boolean)
        ? terminated.every((t) => t!.exitCode === 0)
          ? 'Succeeded'
          : 'Failed'
        : containerStatuses.some((c) => c.state?.running)
          ? 'Running'
          : 'Pending';
    return { ...pod, status: { phase, containerStatuses, conditions: [{ type: 'PodScheduled', status: 'True' }] } };
  }

  private async streamLog(
    req: IncomingMessage,
    res: ServerResponse,
    record: PodRecord,
    params: URLSearchParams,
  ): Promise<void> {
    const container = params.get('container') ?? record.pod.spec!.containers[0]!.name;
    const current = await this.withStatus(record);
    const state = current.status?.containerStatuses?.find((c) => c.name === container)?.state;
    if (!state?.running && !state?.terminated) {
      return this.send(
        res,
        400,
        status(
          400,
          'BadRequest',
          `container "${container}" in pod "${record.pod.metadata!.name}" ` +
            `is waiting to start: ${state?.waiting?.reason ?? 'ContainerCreating'}`,
        ),
      );
    }
    // podman prints timestamps as the kubelet does (RFC 3339, UTC, nanoseconds) and filters --since as it does sinceTime.
    const args = [
      'logs',
      ...(params.get('follow') === 'true' ? ['--follow'] : []),
      ...(params.get('tailLines') ? ['--tail', params.get('tailLines')!] : []),
      ...(params.get('timestamps') === 'true' ? ['--timestamps'] : []),
      ...(params.get('sinceTime') ? ['--since', params.get('sinceTime')!] : []),
      `${record.pod.metadata!.name}-${container}`,
    ];
    const logs = spawnPodman(args);
    res.writeHead(200, { 'content-type': 'text/plain' });
    // Like the kubelet, serve the container's stdout and stderr as one log.
    logs.stdout!.pipe(res, { end: false });
    logs.stderr!.pipe(res, { end: false });
    logs.on('close', () => res.end());
    const following = params.get('follow') === 'true';
    if (following && this.options.cutLogAfterLines > 0 && !this.logCut) {
      // A stream that closes early, mid-line, while the container runs (as real API servers do).
      this.logCut = true;
      afterLines(logs.stdout!, this.options.cutLogAfterLines, () => {
        res.write('@@podbench {"type":"case","res'); // half a line, then the cut
        res.end();
        logs.kill();
      });
    }
    if (following && this.options.stallLogAfterLines > 0 && !this.logStalled) {
      // A stream that goes silent and never ends, as a reset connection behind a proxy does.
      this.logStalled = true;
      afterLines(logs.stdout!, this.options.stallLogAfterLines, () => {
        logs.stdout!.unpipe(res);
        logs.stderr!.unpipe(res);
      });
    }
    req.on('close', () => logs.kill());
  }

  private async deletePod(name: string): Promise<void> {
    const record = this.pods.get(name);
    if (!record) return;
    this.pods.delete(name);
    await record.playing;
    if (record.dir) {
      await podman(['kube', 'down', join(record.dir, 'pod.yaml')]).catch(() =>
        podman(['pod', 'rm', '--force', name]).catch(() => ''),
      );
      for (const v of record.pod.spec?.volumes ?? [])
        if (v.configMap?.name) await podman(['volume', 'rm', '--force', v.configMap.name]).catch(() => '');
    }
  }
}

/** Whether `labels` match a label selector of `key=value` and `key` (exists) terms, as the API matches them. */
function matchesSelector(labels: Record<string, string>, selector: string): boolean {
  return selector
    .split(',')
    .filter(Boolean)
    .every((term) => {
      const [key, value] = term.split('=');
      return value === undefined ? key! in labels : labels[key!] === value;
    });
}

/** Calls `action` once, when `stream` has delivered `count` lines. */
function afterLines(stream: NodeJS.ReadableStream, count: number, action: () => void): void {
  let lines = 0;
  const onData = (chunk: Buffer) => {
    lines += chunk.toString().split('\n').length - 1;
    if (lines < count) return;
    stream.off('data', onData);
    action();
  };
  stream.on('data', onData);
}
