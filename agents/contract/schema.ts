/**
 * The contract between orchestrator and agents: the plan the agents run, the messages the two
 * agents exchange, the tagged lines the initiator prints, and the results document. Defined once with TypeBox, which gives both the
 * TypeScript types and the JSON Schema (shipped as results.schema.json) from one definition, and
 * validated at both ends.
 */
import { FormatRegistry, Type, TypeCompiler, type Static, type TSchema, type TypeCheck } from './typebox.js';
import { CHANNEL_IDS, DRIVER_IDS } from './channels.js';
import { MODE_IDS } from './modes.js';

// TypeBox checks formats only when told how; JSON Schema tools know date-time already.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) =>
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value),
  );
}

/** Bumped on any incompatible change to the plan, the agent lines or the results document. */
export const SCHEMA_VERSION = 1;

export const ChannelIdSchema = Type.Union(CHANNEL_IDS.map((id) => Type.Literal(id)));
export const ModeIdSchema = Type.Union(MODE_IDS.map((id) => Type.Literal(id)));
export const PinSchema = Type.Union([Type.Literal('same'), Type.Literal('split'), Type.Literal('none')]);
export const VerifySchema = Type.Union([Type.Literal('sample'), Type.Literal('full')]);
/** How tcp and uds are driven: blocking libc calls (koffi), or net.Socket as a Node sidecar would. */
export const DriverSchema = Type.Union(DRIVER_IDS.map((id) => Type.Literal(id)));
export type Driver = Static<typeof DriverSchema>;

/** Rate mode: intended send times evenly spaced, or a Poisson process (exponential gaps) of the same mean. */
export const ArrivalSchema = Type.Union([Type.Literal('uniform'), Type.Literal('poisson')]);
export type Arrival = Static<typeof ArrivalSchema>;
/**
 * Rate mode: what happens to a message whose send time has passed by more than one interval
 * (the previous reply came late): sent as soon as possible, behind the others (`queue`), or not
 * sent at all (`drop`, counted).
 */
export const OnLateSchema = Type.Union([Type.Literal('queue'), Type.Literal('drop')]);
export type OnLate = Static<typeof OnLateSchema>;

/** One case to measure: a channel in a mode at a message size. */
export const CaseSpecSchema = Type.Object({
  index: Type.Integer({ minimum: 0, description: 'position in the plan' }),
  channel: ChannelIdSchema,
  mode: ModeIdSchema,
  sizeBytes: Type.Integer({ minimum: 16, description: 'whole message on the wire, 16-byte header included' }),
  repeat: Type.Integer({ minimum: 0, description: 'which repetition of this channel/mode/size (0-based)' }),
  connections: Type.Optional(
    Type.Integer({
      minimum: 2,
      description:
        'parallel connections (sessions, queue pairs, rings: the registry says), each on a thread of its own; omitted for one',
    }),
  ),
  sessions: Type.Optional(
    Type.Integer({
      minimum: 2,
      description:
        'h2 and grpc: the sessions the connections (streams) are spread over, each on a thread of its own; omitted for one',
    }),
  ),
  inFlight: Type.Optional(
    Type.Integer({
      minimum: 2,
      description: 'h2 and grpc: requests outstanding per connection (concurrent streams); omitted for one',
    }),
  ),
  targetRatePerSec: Type.Optional(
    Type.Number({ exclusiveMinimum: 0, description: 'rate mode: the messages per second the initiator paces to' }),
  ),
  sweep: Type.Optional(
    Type.Boolean({
      description:
        'rate mode: a step of a sweep (rates ascending); once a step does not hold, ' +
        'the later steps of its channel, size, connections and repeat are skipped',
    }),
  ),
});
export type CaseSpec = Static<typeof CaseSpecSchema>;

/** How every case is run. */
export const RunSettingsSchema = Type.Object({
  durationMs: Type.Integer({ minimum: 1 }),
  warmupMs: Type.Integer({ minimum: 0 }),
  verify: VerifySchema,
  pin: PinSchema,
  driver: Type.Optional(DriverSchema),
  connectTimeoutMs: Type.Integer({ minimum: 1, description: 'rendezvous deadline' }),
  peerTimeoutMs: Type.Integer({ minimum: 1, description: 'longest wait for the peer inside a case' }),
  arrival: Type.Optional(ArrivalSchema),
  onLate: Type.Optional(OnLateSchema),
  latencyLimitMs: Type.Optional(
    Type.Number({ exclusiveMinimum: 0, description: 'rate sweep: a step whose p99 latency passes this did not hold' }),
  ),
});
export type RunSettings = Static<typeof RunSettingsSchema>;

/** What both agents are given: the run id, settings and cases. */
export const PlanSchema = Type.Object({
  schemaVersion: Type.Literal(SCHEMA_VERSION),
  runId: Type.String({ pattern: '^[a-z0-9]{4,32}$' }),
  settings: RunSettingsSchema,
  cases: Type.Array(CaseSpecSchema),
});
export type Plan = Static<typeof PlanSchema>;

/** Where an agent ran during a case: the CPUs it may use and the one it was on. */
export const PlacementSchema = Type.Object({
  allowedCpus: Type.Array(Type.Integer()),
  cpuAtStart: Type.Integer(),
  cpuAtEnd: Type.Integer(),
});
export type Placement = Static<typeof PlacementSchema>;

/** CPU time an agent spent in the timed part of a case. */
export const CpuCostSchema = Type.Object({
  userUs: Type.Number(),
  systemUs: Type.Number(),
  perMessageUs: Type.Number({ description: '(user + system) / messages: per round trip in latency mode' }),
});
export type CpuCost = Static<typeof CpuCostSchema>;

export const LatencySummarySchema = Type.Object({
  p50: Type.Number(),
  p90: Type.Number(),
  p99: Type.Number(),
  p999: Type.Number(),
  max: Type.Number(),
  mean: Type.Number(),
  count: Type.Integer({ description: 'round trips recorded in the histogram' }),
});
export type LatencySummary = Static<typeof LatencySummarySchema>;

export const ThroughputSchema = Type.Object({
  bytesPerSec: Type.Number(),
  messagesPerSec: Type.Number(),
});

/**
 * What a channel that may lose datagrams (its registry entry says `lossy`) delivered: losses,
 * reordering and duplicates are counted, never failures. In latency mode they are round trips
 * (a round trip whose reply did not come within `timeoutMs` is lost and not recorded as a
 * latency), in throughput mode the messages the responder received.
 */
export const LossSchema = Type.Object({
  sent: Type.Integer({ minimum: 0, description: 'timed messages sent (latency mode: round trips begun)' }),
  lost: Type.Integer({ minimum: 0, description: 'sent and never received (latency mode: no reply in time)' }),
  reordered: Type.Integer({ minimum: 0, description: 'received after a message sent later' }),
  duplicated: Type.Integer({ minimum: 0, description: 'received again after their first arrival' }),
  lossRate: Type.Number({ minimum: 0, maximum: 1, description: 'lost / sent' }),
  timeoutMs: Type.Number({ description: 'how long a receive waited before its message counted as lost' }),
});
export type Loss = Static<typeof LossSchema>;

/**
 * What a rate-mode case paced and achieved. The case's `latencyNs` and `histogram` are the
 * corrected latency (reply − intended send); service time (reply − actual send) and send lag
 * (actual − intended send) have their own summaries and histograms here.
 */
export const RateSchema = Type.Object({
  targetPerSec: Type.Number({ description: 'the target rate' }),
  arrival: ArrivalSchema,
  onLate: OnLateSchema,
  intended: Type.Integer({ minimum: 0, description: 'messages whose intended send time fell in the timed part' }),
  sent: Type.Integer({ minimum: 0 }),
  completed: Type.Integer({ minimum: 0, description: 'replies received in time (a lossy channel loses some)' }),
  late: Type.Integer({
    minimum: 0,
    description: 'sent more than one mean interval after their intended time (they queued behind a late reply)',
  }),
  dropped: Type.Integer({
    minimum: 0,
    description: 'never sent: dropped as late (--on-late drop), or still queued when the timed part ended',
  }),
  intendedPerSec: Type.Number(),
  sentPerSec: Type.Number(),
  completedPerSec: Type.Number({ description: 'the achieved rate' }),
  held: Type.Boolean({
    description:
      'completed is at least 99 % of intended (uniform arrival: the target within one message; Poisson: the schedule drawn)',
  }),
  serviceNs: LatencySummarySchema,
  serviceHistogram: Type.String({ description: 'HdrHistogram of service time (reply − actual send, ns)' }),
  sendLagNs: LatencySummarySchema,
  sendLagHistogram: Type.String({ description: 'HdrHistogram of send lag (actual − intended send, ns)' }),
  pacerCpuUs: Type.Number({
    description: "the initiator's CPU time spent waiting for send times, left out of its CPU per message",
  }),
});
export type Rate = Static<typeof RateSchema>;

/** `interrupted`: a signal stopped the run during the case (written by the orchestrator). */
const CaseStatusSchema = Type.Union([
  Type.Literal('ok'),
  Type.Literal('skipped'),
  Type.Literal('failed'),
  Type.Literal('interrupted'),
]);

/** A finished case, as the initiator reports it and the results document stores it. */
export const CaseResultSchema = Type.Object({
  ...CaseSpecSchema.properties,
  status: CaseStatusSchema,
  reason: Type.Optional(Type.String({ description: 'why the case was skipped or failed' })),
  durationMs: Type.Number({ description: 'timed part, warm-up excluded' }),
  messages: Type.Integer({ description: 'timed messages the receiver got (latency mode: timed round trips)' }),
  bytes: Type.Integer({
    description:
      'bytes of timed messages (16-byte header included) that passed verification; latency mode counts both directions',
  }),
  errors: Type.Integer({ description: 'messages that failed verification (sequence, length or checksum)' }),
  verify: VerifySchema,
  latencyNs: Type.Optional(LatencySummarySchema),
  histogram: Type.Optional(
    Type.String({ description: 'HdrHistogram, compressed and base64-encoded (round trip, ns)' }),
  ),
  throughput: Type.Optional(ThroughputSchema),
  loss: Type.Optional(LossSchema),
  rate: Type.Optional(RateSchema),
  cpu: Type.Optional(Type.Object({ initiator: CpuCostSchema, responder: CpuCostSchema })),
  placement: Type.Optional(Type.Object({ initiator: PlacementSchema, responder: PlacementSchema })),
  details: Type.Optional(
    Type.Record(Type.String(), Type.Union([Type.Number(), Type.String(), Type.Boolean()]), {
      description: 'channel facts that shape the number, e.g. queue depth, futex wake-ups, filesystem type',
    }),
  ),
});
export type CaseResult = Static<typeof CaseResultSchema>;

/** Where the agents ran: the facts that decide the numbers. */
export const EnvironmentSchema = Type.Object({
  hostname: Type.String(),
  kernel: Type.String(),
  arch: Type.String(),
  cpuModel: Type.String(),
  cpuCount: Type.Integer(),
  memoryBytes: Type.Number(),
  nodeVersion: Type.String(),
  cgroup: Type.Object({
    cpuLimitCores: Type.Union([Type.Number(), Type.Null()]),
    memoryLimitBytes: Type.Union([Type.Number(), Type.Null()]),
  }),
  devShmBytes: Type.Union([Type.Number(), Type.Null()]),
  limits: Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()]), {
    description:
      'kernel limits by sysctl or rlimit name: fs.mqueue.*, kernel.msg*, RLIMIT_MSGQUEUE, fs.pipe-max-size, net.*, kernel.sem',
  }),
  dirs: Type.Record(Type.String(), Type.Object({ path: Type.String(), fsType: Type.String() })),
});
export type Environment = Static<typeof EnvironmentSchema>;

/**
 * The Kubernetes node the pod ran on, as the orchestrator read it from the API (kubernetes
 * target). The versions come from the Node object, which needs `get nodes` (the ClusterRole in
 * manifests/node-reader.yaml); without it only the name and QoS class are known.
 */
export const ClusterNodeSchema = Type.Object({
  name: Type.String(),
  qosClass: Type.Optional(Type.String({ description: "the pod's QoS class: Guaranteed when requests = limits" })),
  kubeletVersion: Type.Optional(Type.String()),
  containerRuntimeVersion: Type.Optional(Type.String({ description: 'e.g. containerd://1.6.20' })),
  kernelVersion: Type.Optional(Type.String()),
  osImage: Type.Optional(Type.String()),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
  unreadable: Type.Optional(Type.String({ description: 'why the Node object could not be read' })),
});
export type ClusterNode = Static<typeof ClusterNodeSchema>;

/** The cost of the measurement itself, measured in the agent with tinybench. */
export const HarnessFloorSchema = Type.Object({
  clockReadNs: Type.Number({ description: 'mean cost of one clock read' }),
  emptyIntervalNs: Type.Optional(
    Type.Number({
      description: 'median of what an interval with nothing in it reads: the clock cost inside every latency sample',
    }),
  ),
  sampleStoreNs: Type.Optional(
    Type.Number({ description: 'cost of keeping one sample inside the timed loop (a store into the batch)' }),
  ),
  histogramRecordNs: Type.Number({
    description: 'cost of one HDR histogram insert, paid between round trips when a batch is flushed',
  }),
  ffiCallNs: Type.Number(),
  pacer: Type.Optional(
    Type.Object(
      {
        sendLagP50Ns: Type.Number({ description: 'how late the pacer alone sends, median' }),
        sendLagP99Ns: Type.Number(),
        cpuPerWaitNs: Type.Number({ description: 'thread CPU time of one wait (sleep, then spin) between sends' }),
        ratePerSec: Type.Number({ description: 'the rate it paced to' }),
      },
      {
        description:
          'rate mode: the pacer pacing nothing, the floor of every send lag (measured when the plan has rate cases)',
      },
    ),
  ),
  payloadCopyNs: Type.Record(Type.String(), Type.Number(), { description: 'by message size in bytes' }),
});
export type HarnessFloor = Static<typeof HarnessFloorSchema>;

/** One tagged line on the initiator's stdout. */
export const AgentEventSchema = Type.Union([
  Type.Object({ type: Type.Literal('hello'), schemaVersion: Type.Integer(), runId: Type.String() }),
  Type.Object({ type: Type.Literal('environment'), environment: EnvironmentSchema }),
  Type.Object({ type: Type.Literal('floor'), floor: HarnessFloorSchema }),
  Type.Object({ type: Type.Literal('case-start'), case: CaseSpecSchema }),
  Type.Object({ type: Type.Literal('case'), result: CaseResultSchema }),
  Type.Object({ type: Type.Literal('done') }),
  Type.Object({ type: Type.Literal('fatal'), message: Type.String() }),
]);
export type AgentEvent = Static<typeof AgentEventSchema>;

/** What the responder counted in a case, sent to the initiator after it. */
export const ResponderReportSchema = Type.Object({
  messages: Type.Integer({ minimum: 0 }),
  bytes: Type.Integer({ minimum: 0 }),
  errors: Type.Integer({ minimum: 0 }),
  firstError: Type.Optional(Type.String()),
  spanMs: Type.Number({ description: 'first to last timed message received (throughput mode)' }),
  arrivals: Type.Optional(
    Type.Object(
      { reordered: Type.Integer({ minimum: 0 }), duplicated: Type.Integer({ minimum: 0 }) },
      { description: 'a lossy channel: timed messages that arrived out of order or again' },
    ),
  ),
  cpu: Type.Object({ userUs: Type.Number(), systemUs: Type.Number() }),
  placement: PlacementSchema,
  details: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String(), Type.Boolean()])),
});
export type ResponderReport = Static<typeof ResponderReportSchema>;

/** What the responder hands the initiator to join a channel (a port, a path, queue names). */
export const JoinParamsSchema = Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()]));

const caseIndex = Type.Integer({ minimum: 0 });

/** One message on the control connection between the agents (JSON lines, never in a timed loop). */
export const ControlMessageSchema = Type.Union([
  Type.Object({ type: Type.Literal('hello'), runId: Type.String(), schemaVersion: Type.Integer() }),
  Type.Object({ type: Type.Literal('open'), index: caseIndex }),
  Type.Object({
    type: Type.Literal('ready'),
    index: caseIndex,
    params: JoinParamsSchema,
    // The other connections' parameters, in order, when the case has several.
    more: Type.Optional(Type.Array(JoinParamsSchema)),
  }),
  Type.Object({ type: Type.Literal('report'), index: caseIndex, report: ResponderReportSchema }),
  Type.Object({ type: Type.Literal('failed'), index: caseIndex, reason: Type.String() }),
  // A lossy channel's end of case: its last datagram (the end flag) may be lost.
  Type.Object({ type: Type.Literal('end'), index: caseIndex, sent: Type.Integer({ minimum: 0 }) }),
  Type.Object({ type: Type.Literal('bye') }),
]);
export type ControlMessage = Static<typeof ControlMessageSchema>;

/** The prefix that marks a line of the initiator's stdout as an {@link AgentEvent}. */
export const EVENT_TAG = '@@podbench ';

/** The results document (results.json). */
export const ResultsDocumentSchema = Type.Object(
  {
    schemaVersion: Type.Literal(SCHEMA_VERSION),
    run: Type.Object({
      id: Type.String(),
      startedAt: Type.String({ format: 'date-time' }),
      finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
      podbenchVersion: Type.String(),
      target: Type.String(),
      label: Type.Optional(Type.String()),
      settings: RunSettingsSchema,
      plannedCases: Type.Integer(),
      complete: Type.Boolean({ description: 'false while running or when interrupted' }),
      incompleteReason: Type.Optional(Type.String()),
    }),
    environment: Type.Optional(EnvironmentSchema),
    node: Type.Optional(ClusterNodeSchema),
    harnessFloor: Type.Optional(HarnessFloorSchema),
    cases: Type.Array(CaseResultSchema),
  },
  { $id: 'urn:podbench:results:1', title: 'podbench results' },
);
export type ResultsDocument = Static<typeof ResultsDocumentSchema>;

/** The results document's JSON Schema as shipped in results.schema.json (a test keeps them equal). */
export function resultsJsonSchema(): string {
  return `${JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...ResultsDocumentSchema }, null, 2)}\n`;
}

/** A value that does not match its schema: `message` lists the first problems with their paths. */
export class ContractError extends Error {
  constructor(what: string, problems: string) {
    super(`${what} does not match the podbench schema: ${problems}`);
    this.name = 'ContractError';
  }
}

/** A compiled validator that throws {@link ContractError} naming what was validated. */
export interface Validator<T> {
  (value: unknown, what: string): T;
}

function validator<S extends TSchema>(schema: S): Validator<Static<S>> {
  let compiled: TypeCheck<S> | undefined;
  return (value, what) => {
    compiled ??= TypeCompiler.Compile(schema);
    if (compiled.Check(value)) return value;
    const problems = [...compiled.Errors(value)]
      .slice(0, 3)
      .map((e) => `${e.path || '/'} ${e.message}`)
      .join('; ');
    throw new ContractError(what, problems);
  };
}

export const validatePlan = validator(PlanSchema);
export const validateAgentEvent = validator(AgentEventSchema);
export const validateResultsDocument = validator(ResultsDocumentSchema);

/** Each control message's validator by its `type`, so a problem is named inside the right kind of message. */
const CONTROL_VALIDATORS = new Map<unknown, Validator<ControlMessage>>(
  ControlMessageSchema.anyOf.map((schema) => [
    schema.properties.type.const,
    validator(schema as TSchema) as Validator<ControlMessage>,
  ]),
);

/** Checks a control message against the contract; throws {@link ContractError} naming the problem. */
export function validateControlMessage(value: unknown, what: string): ControlMessage {
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  const check = CONTROL_VALIDATORS.get(type);
  if (!check)
    throw new ContractError(
      what,
      `/type ${JSON.stringify(type) ?? 'is missing'}: expected one of ${[...CONTROL_VALIDATORS.keys()].join(', ')}`,
    );
  return check(value, what);
}
