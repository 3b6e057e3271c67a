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
  afterLast,
  bodyOf,
  hostedServer,
  protocolChannel,
  protocolSocketPath,
  removeSocketFile,
  type Transport,
} from './http-exchange.js';
import {
  PeerError,
  type Channel,
  type ChannelContext,
  type EventLoopEndpoint,
  type Hosted,
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

/** The client's flow-control window for messages of `sizeBytes`: as `h2`'s. */
function clientWindowBytes(sizeBytes: number): number {
  return Math.min(2 ** 31 - 1, Math.max(1024 * 1024, 2 * sizeBytes));
}

/** The responder's side: calls in, answers out. */
class ServerEndpoint implements EventLoopEndpoint {
  readonly blocking = false;
  private readonly bodies: Bodies;
  /** Unary calls owed an answer, oldest first. */
  private readonly owed: sendUnaryData<Buffer>[] = [];
  private received = 0;
  /** Unary answers sent; a client-streaming call's answer traffic is counted per message received. */
  private answered = 0;

  constructor(
    private readonly transport: Transport,
    private readonly tally: SocketTally,
    peerTimeoutMs: number,
  ) {
    this.bodies = new Bodies(peerTimeoutMs, 'the initiator', () => transport === 'tcp' && tally.sampleNoDelay());
  }

  connectionLost(err: Error): void {
    this.bodies.fail(err);
  }

  /** A unary call (latency mode). */
  echo(call: ServerUnaryCall<Buffer, Buffer>, answer: sendUnaryData<Buffer>): void {
    this.received++;
    this.owed.push(answer);
    this.bodies.arrived([call.request]);
  }

  /** The client-streaming call (throughput mode): every message arrives on it. */
  drain(call: ServerReadableStream<Buffer, Buffer>, answer: sendUnaryData<Buffer>): void {
    call.on('data', (body: Buffer) => {
      this.received++;
      this.bodies.arrived([body]);
    });
    call.on('end', () => answer(null, EMPTY));
    call.on('error', (err) => this.bodies.fail(new PeerError(`gRPC stream: ${err.message}`)));
  }

  send(message: MessageBuffer): undefined {
    const answer = this.owed.shift();
    if (!answer) throw new Error('grpc: an answer with no call to answer');
    answer(null, bodyOf(message));
    this.answered++;
    return undefined;
  }

  receive(into: MessageBuffer): Promise<number> {
    return this.bodies.next(into);
  }

  details(): Record<string, number | string | boolean> {
    const answers = this.answered || this.received;
    return {
      ...this.tally.details('gRPC', this.transport, { requests: this.received, answers }),
      maxMessageBytes: -1,
    };
  }

  /** Ends the calls left unanswered (the end message's, in latency mode), so the client's close ends. */
  close(): void {
    for (const answer of this.owed.splice(0)) answer({ code: status.CANCELLED, details: 'the case is over' });
    this.bodies.fail(new PeerError('the gRPC server closed'));
  }
}

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

  constructor(
    private readonly client: Client,
    private readonly echoes: boolean,
    private readonly timeoutMs: number,
    private readonly transport: Transport,
    private readonly tally: SocketTally,
    private readonly windowBytes: number,
  ) {
    // The endpoint's watchdog, not a deadline (and a timer) per call, bounds every wait.
    this.bodies = new Bodies(timeoutMs, 'the responder', () => transport === 'tcp' && tally.sampleNoDelay());
  }

  send(message: MessageBuffer): Promise<void> | undefined {
    if (this.bodies.failure) throw this.bodies.failure;
    if (this.echoes) {
      const body = bodyOf(message);
      let answered!: () => void;
      this.last = new Promise((resolve) => (answered = resolve));
      this.client.makeUnaryRequest(ECHO_PATH, passThrough, passThrough, body, (err, reply) => {
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
    return this.client.makeClientStreamRequest(DRAIN_PATH, passThrough, passThrough, (err) => {
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

  /** Ends the stream, then closes the channel once the last call is answered, or after the timeout. */
  close(): void {
    this.bodies.close(new PeerError('the gRPC client closed'));
    this.stream?.end();
    afterLast(this.last, this.timeoutMs, () => {
      this.client.close();
      this.tally.close();
    });
  }
}

async function hostGrpc(transport: Transport, ctx: ChannelContext): Promise<Hosted> {
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
      socket.on('close', () => endpoint.connectionLost(new PeerError('the initiator closed the gRPC connection')));
      connected();
    },
  );
  const endpoint = new ServerEndpoint(transport, tally, ctx.peerTimeoutMs);
  const server = new Server(UNLIMITED);
  server.addService(PIPE, {
    Echo: (call: ServerUnaryCall<Buffer, Buffer>, answer: sendUnaryData<Buffer>) => endpoint.echo(call, answer),
    Drain: (call: ServerReadableStream<Buffer, Buffer>, answer: sendUnaryData<Buffer>) => endpoint.drain(call, answer),
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
  return hostedServer({ params, connection, endpoint, tally, path, closeServer }, ctx.peerTimeoutMs);
}

async function joinGrpc(transport: Transport, ctx: ChannelContext, params: JoinParams): Promise<ClientEndpoint> {
  const echoes = MODES[ctx.spec.mode].responderEchoes;
  const windowBytes = clientWindowBytes(ctx.spec.sizeBytes);
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
  return new ClientEndpoint(client, echoes, ctx.peerTimeoutMs, transport, tally, windowBytes);
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
    host: (ctx) => hostGrpc(transport, ctx),
    join: (ctx, params) => joinGrpc(transport, ctx, params),
  });

/** gRPC over TCP on 127.0.0.1. */
export const grpcChannel = rpcChannel('grpc', 'tcp');
/** gRPC over a Unix socket in the shared volume. */
export const grpcUdsChannel = rpcChannel('grpc-uds', 'uds');
