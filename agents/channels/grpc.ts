/**
 * `grpc` and `grpc-uds`: gRPC with @grpc/grpc-js on both sides, over TCP on 127.0.0.1 or a Unix
 * socket in the shared volume, as service meshes, Dapr and OpenTelemetry collectors take calls
 * from their application. Latency mode makes one unary call per message, answered with the
 * message; throughput mode writes every message into one client-streaming call, which the
 * server answers once, at its end.
 *
 * The message bytes travel as they are: the service's serializers pass Buffers through, so no
 * protobuf encoding of podbench's own is in the timed path (gRPC's 5-byte length prefix and
 * HTTP/2's framing are). Message-size limits are lifted on both sides (grpc-js receives at most
 * 4 MiB by default) and the client's flow-control window is raised as `h2`'s is; grpc-js has no
 * option for its server's window, which stays at HTTP/2's 65,535 bytes, as in any grpc-js
 * service. Nagle is off on both sides (grpc-js sets TCP_NODELAY on its client's sockets; the
 * server's accepted sockets get it here, as node:http2 does not set it), and the case records
 * the options and what getsockopt reports.
 */
import {
  Client,
  Metadata,
  Server,
  ServerCredentials,
  credentials,
  status,
  type ClientWritableStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
} from '@grpc/grpc-js';
import type { Socket } from 'node:net';
import { MODES } from '../contract/modes.js';
import type { MessageBuffer } from '../measure/message.js';
import {
  Bodies,
  SocketTally,
  bodyOf,
  hostedServer,
  protocolChannel,
  protocolSocketPath,
  removeSocketFile,
  LaneCloser,
  type ExchangeCounts,
  type Transport,
} from './http-exchange.js';
import {
  PeerError,
  type Channel,
  type ChannelContext,
  type EventLoopEndpoint,
  type HostedLanes,
  type JoinParams,
} from './channel.js';

const ECHO_PATH = '/podbench.Pipe/Echo';
const DRAIN_PATH = '/podbench.Pipe/Drain';
const passThrough = (bytes: Buffer): Buffer => bytes;
const EMPTY = Buffer.alloc(0);

/** The service: Buffers in and out, unary for latency, client streaming for throughput. */
const PIPE: ServiceDefinition = {
  Echo: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  },
  Drain: {
    path: DRAIN_PATH,
    requestStream: true,
    responseStream: false,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  },
};

/** No message-size limit either way (the sizes are the case's). */
const UNLIMITED = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 } as const;

/** The client's flow-control window for messages of `sizeBytes` on `lanes` calls at once: as `h2`'s connection window. */
function clientWindowBytes(sizeBytes: number, lanes: number): number {
  return Math.min(2 ** 31 - 1, Math.max(1024 * 1024, 2 * lanes * sizeBytes));
}

/** The responder's side: calls in, answers out. */
class ServerEndpoint implements EventLoopEndpoint {
  readonly blocking = false;
  private readonly bodies: Bodies;
  /** Unary calls owed an answer, oldest first. */
  private readonly owed: sendUnaryData<Buffer>[] = [];

  /**
   * `counts.answered`: unary answers sent; a client-streaming call's answer traffic is counted
   * per message received.
   */
  constructor(
    private readonly transport: Transport,
    private readonly tally: SocketTally,
    private readonly counts: ExchangeCounts,
    peerTimeoutMs: number,
  ) {
    this.bodies = new Bodies(peerTimeoutMs, 'the initiator', () => transport === 'tcp' && tally.sampleNoDelay());
  }

  connectionLost(err: Error): void {
    this.bodies.fail(err);
  }

  /** A unary call (latency mode). */
  echo(call: ServerUnaryCall<Buffer, Buffer>, answer: sendUnaryData<Buffer>): void {
    this.counts.received++;
    this.owed.push(answer);
    this.bodies.arrived([call.request]);
  }

  /** The client-streaming call (throughput mode): every message arrives on it. */
  drain(call: ServerReadableStream<Buffer, Buffer>, answer: sendUnaryData<Buffer>): void {
    call.on('data', (body: Buffer) => {
      this.counts.received++;
      this.bodies.arrived([body]);
    });
    call.on('end', () => answer(null, EMPTY));
    call.on('error', (err) => this.bodies.fail(new PeerError(`gRPC stream: ${err.message}`)));
  }

  send(message: MessageBuffer): undefined {
    const answer = this.owed.shift();
    if (!answer) throw new Error('grpc: an answer with no call to answer');
    answer(null, bodyOf(message));
    this.counts.answered++;
    return undefined;
  }

  receive(into: MessageBuffer): Promise<number> {
    return this.bodies.next(into);
  }

  details(): Record<string, number | string | boolean> {
    const answers = this.counts.answered || this.counts.received;
    return {
      ...this.tally.details('gRPC', this.transport, { requests: this.counts.received, answers }),
      maxMessageBytes: -1,
    };
  }

  /** Ends the calls left unanswered (the end message's, in latency mode), so the client's close ends. */
  close(): void {
    for (const answer of this.owed.splice(0)) answer({ code: status.CANCELLED, details: 'the case is over' });
    this.bodies.fail(new PeerError('the gRPC server closed'));
  }
}

/** The metadata key that names a call's lane when a channel carries several. */
const LANE_KEY = 'x-podbench-lane';

/** The lane a call says it is on (0 when it says none). */
const laneOf = (call: { metadata: Metadata }): number => Number(call.metadata.get(LANE_KEY)[0] ?? 0);

/** The initiator's side: a unary call per message, or one client-streaming call for them all. */
class ClientEndpoint implements EventLoopEndpoint {
  readonly blocking = false;
  private readonly bodies: Bodies;
  /** Settles when the last unary call or the stream is answered. */
  private last: Promise<void> | undefined;
  private stream: ClientWritableStream<Buffer> | undefined;
  private readonly onAnswer = (err: Error | null, body?: Buffer): void => {
    if (err) this.bodies.fail(new PeerError(`gRPC: ${err.message}`));
    else if (body) this.bodies.arrived([body]);
  };

  private closed = false;
  /** The lane's metadata, made once (grpc-js copies it into each call). */
  private readonly metadata = new Metadata();

  constructor(
    private readonly client: Client,
    private readonly echoes: boolean,
    timeoutMs: number,
    private readonly transport: Transport,
    private readonly tally: SocketTally,
    private readonly windowBytes: number,
    lane: number | undefined,
    private readonly closer: LaneCloser,
  ) {
    // Only a client with several lanes names them: one lane's calls stay as a client's are.
    if (lane !== undefined) this.metadata.set(LANE_KEY, String(lane));
    // The endpoint's watchdog, not a deadline (and a timer) per call, bounds every wait.
    this.bodies = new Bodies(timeoutMs, 'the responder', () => transport === 'tcp' && tally.sampleNoDelay());
  }

  send(message: MessageBuffer): Promise<void> | undefined {
    if (this.bodies.failure) throw this.bodies.failure;
    if (this.echoes) {
      const body = bodyOf(message);
      let answered!: () => void;
      this.last = new Promise((resolve) => (answered = resolve));
      this.client.makeUnaryRequest(ECHO_PATH, passThrough, passThrough, body, this.metadata, (err, reply) => {
        answered();
        this.onAnswer(err, reply);
      });
      return undefined;
    }
    this.stream ??= this.openStream();
    // A copy: the stream takes messages without answers, and grpc-js frames each on a later turn
    // of the event loop, after the loop has stamped the next one into its buffer.
    return this.stream.write(Buffer.from(message.bytes))
      ? undefined
      : this.bodies.guard(new Promise((resolve) => this.stream!.once('drain', resolve)));
  }

  private openStream(): ClientWritableStream<Buffer> {
    let answered!: () => void;
    this.last = new Promise((resolve) => (answered = resolve));
    return this.client.makeClientStreamRequest(DRAIN_PATH, passThrough, passThrough, this.metadata, (err) => {
      answered();
      if (err) this.onAnswer(err);
    });
  }

  receive(into: MessageBuffer): Promise<number> {
    return this.bodies.next(into);
  }

  details(): Record<string, number | string | boolean> {
    return {
      ...this.tally.details('gRPC', this.transport),
      maxMessageBytes: -1,
      flowControlWindowBytes: this.windowBytes,
    };
  }

  /** Ends the stream; the client closes once every lane has and their last calls are answered. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.bodies.close(new PeerError('the gRPC client closed'));
    this.stream?.end();
    this.closer.laneClosed(this.last);
  }
}

async function hostGrpc(transport: Transport, ctx: ChannelContext, lanes: number): Promise<HostedLanes> {
  const path = transport === 'uds' ? protocolSocketPath(ctx, 'grpc') : undefined;
  let port = -1;
  let connected!: () => void;
  const connection = new Promise<void>((resolve) => (connected = resolve));
  const tally = new SocketTally(
    'server',
    (listener) => {
      const address = listener?.address();
      return path ? address === path : typeof address === 'object' && address?.port === port;
    },
    (socket: Socket) => {
      socket.setNoDelay(true);
      // grpc-js tells a handler nothing when its client's connection goes: the socket does.
      socket.on('close', () =>
        endpoints.forEach((e) => e.connectionLost(new PeerError('the initiator closed the gRPC connection'))),
      );
      connected();
    },
  );
  const counts: ExchangeCounts = { received: 0, answered: 0 };
  const endpoints = Array.from(
    { length: lanes },
    () => new ServerEndpoint(transport, tally, counts, ctx.peerTimeoutMs),
  );
  const laneEndpoint = (call: { metadata: Metadata }, answer: sendUnaryData<Buffer>): ServerEndpoint | undefined => {
    const endpoint = endpoints[laneOf(call)];
    if (!endpoint) answer({ code: status.INVALID_ARGUMENT, details: `no lane ${laneOf(call)}` });
    return endpoint;
  };
  const server = new Server(UNLIMITED);
  server.addService(PIPE, {
    Echo: (call: ServerUnaryCall<Buffer, Buffer>, answer: sendUnaryData<Buffer>) =>
      laneEndpoint(call, answer)?.echo(call, answer),
    Drain: (call: ServerReadableStream<Buffer, Buffer>, answer: sendUnaryData<Buffer>) =>
      laneEndpoint(call, answer)?.drain(call, answer),
  });
  if (path) removeSocketFile(path);
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(path ? `unix:${path}` : '127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
  } catch (err) {
    server.forceShutdown();
    tally.close();
    throw err;
  }
  const params: JoinParams = path ? { path } : { port };
  const closeServer = () => server.forceShutdown();
  return hostedServer({ params, connection, endpoints, tally, path, closeServer }, ctx.peerTimeoutMs);
}

async function joinGrpc(
  transport: Transport,
  ctx: ChannelContext,
  params: JoinParams,
  lanes: number,
): Promise<ClientEndpoint[]> {
  const echoes = MODES[ctx.spec.mode].responderEchoes;
  const windowBytes = clientWindowBytes(ctx.spec.sizeBytes, lanes);
  const tally = new SocketTally('client');
  const target = transport === 'uds' ? `unix:${String(params.path)}` : `127.0.0.1:${Number(params.port)}`;
  const client = new Client(target, credentials.createInsecure(), {
    ...UNLIMITED,
    'grpc-node.flow_control_window': windowBytes,
  });
  try {
    await new Promise<void>((resolve, reject) =>
      client.waitForReady(Date.now() + ctx.peerTimeoutMs, (err) =>
        err ? reject(new PeerError(`gRPC: no connection within ${ctx.peerTimeoutMs} ms (${err.message})`)) : resolve(),
      ),
    );
  } catch (err) {
    client.close();
    tally.close();
    throw err;
  }
  const closer = new LaneCloser(lanes, ctx.peerTimeoutMs, () => {
    client.close();
    tally.close();
  });
  return Array.from(
    { length: lanes },
    (_, lane) =>
      new ClientEndpoint(
        client,
        echoes,
        ctx.peerTimeoutMs,
        transport,
        tally,
        windowBytes,
        lanes > 1 ? lane : undefined,
        closer,
      ),
  );
}

const rpcChannel = (id: 'grpc' | 'grpc-uds', transport: Transport): Channel =>
  protocolChannel(id, transport, 'grpc', {
    probe: async (scratchDir) => {
      const server = new Server();
      const address = transport === 'uds' ? `unix:${scratchDir}/probe.sock` : '127.0.0.1:0';
      await new Promise<number>((resolve, reject) =>
        server.bindAsync(address, ServerCredentials.createInsecure(), (err, bound) =>
          err ? reject(err) : resolve(bound),
        ),
      );
      server.forceShutdown();
      return `@grpc/grpc-js listens on ${transport === 'uds' ? 'a Unix socket in the temp directory' : '127.0.0.1'}`;
    },
    lanes: {
      hostLanes: (ctx, lanes) => hostGrpc(transport, ctx, lanes),
      joinLanes: (ctx, params, lanes) => joinGrpc(transport, ctx, params, lanes),
    },
  });

/** gRPC over TCP on 127.0.0.1. */
export const grpcChannel = rpcChannel('grpc', 'tcp');
/** gRPC over a Unix socket in the shared volume. */
export const grpcUdsChannel = rpcChannel('grpc-uds', 'uds');
