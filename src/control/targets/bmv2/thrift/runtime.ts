// What a switch control plane needs from bmv2's runtime Thrift services, typed.
//
// Method names, field ids, types and enum values follow bmv2 1.15.5's IDL:
// thrift_src/standard.thrift (service "standard"), thrift_src/simple_pre_lag.thrift
// (service "simple_pre_lag", the PRE simple_switch registers) and
// targets/simple_switch/thrift/simple_switch.thrift (service "simple_switch").
//
// Keys and action data are Buffers in network byte order, (bits + 7) / 8
// bytes wide; building them is the caller's job. bmv2 returns action data in
// its shortest form (no leading zero bytes, at least one byte): fitWidth()
// restores the field width.
import { Bmv2Error, type ClientOptions, type ExceptionSpec, type Method, ThriftClient, defineMethod } from "./client.ts";
import { binary, bool, field, i16, i32, i64, list, map, optional, string, struct, type StructRead } from "./protocol.ts";

// ---------------------------------------------------------------------------
// IDL enums

export const TableOperationErrorCode = {
  TABLE_FULL: 1,
  INVALID_HANDLE: 2,
  EXPIRED_HANDLE: 3,
  COUNTERS_DISABLED: 4,
  METERS_DISABLED: 5,
  AGEING_DISABLED: 6,
  INVALID_TABLE_NAME: 7,
  INVALID_ACTION_NAME: 8,
  WRONG_TABLE_TYPE: 9,
  INVALID_MBR_HANDLE: 10,
  MBR_STILL_USED: 11,
  MBR_ALREADY_IN_GRP: 12,
  MBR_NOT_IN_GRP: 13,
  INVALID_GRP_HANDLE: 14,
  GRP_STILL_USED: 15,
  EMPTY_GRP: 16,
  DUPLICATE_ENTRY: 17,
  BAD_MATCH_KEY: 18,
  INVALID_METER_OPERATION: 19,
  DEFAULT_ACTION_IS_CONST: 20,
  DEFAULT_ENTRY_IS_CONST: 21,
  NO_DEFAULT_ENTRY: 22,
  INVALID_ACTION_PROFILE_NAME: 23,
  NO_ACTION_PROFILE_SELECTION: 24,
  IMMUTABLE_TABLE_ENTRIES: 25,
  BAD_ACTION_DATA: 26,
  NO_TABLE_KEY: 27,
  ERROR: 100,
} as const;

export const CounterOperationErrorCode = { INVALID_COUNTER_NAME: 1, INVALID_INDEX: 2, ERROR: 3 } as const;
export const SwapOperationErrorCode = { CONFIG_SWAP_DISABLED: 1, ONGOING_SWAP: 2, NO_ONGOING_SWAP: 3 } as const;
export const RegisterOperationErrorCode = { INVALID_REGISTER_NAME: 1, INVALID_INDEX: 2, ERROR: 3 } as const;
export const McOperationErrorCode = { TABLE_FULL: 1, INVALID_MGID: 2, INVALID_MGRP_HANDLE: 3, INVALID_L1_HANDLE: 4, ERROR: 5 } as const;
export const MirroringOperationErrorCode = { SESSION_NOT_FOUND: 1 } as const;
export const BmMatchParamType = { EXACT: 0, LPM: 1, TERNARY: 2, VALID: 3, RANGE: 4 } as const;
export const BmActionEntryType = { NONE: 0, ACTION_DATA: 1, MBR_HANDLE: 2, GRP_HANDLE: 3 } as const;

// Every bmv2 method declares its exception as field 1 ("ouch").
const tableEx: ExceptionSpec[] = [{ id: 1, name: "InvalidTableOperation", codes: TableOperationErrorCode }];
const counterEx: ExceptionSpec[] = [{ id: 1, name: "InvalidCounterOperation", codes: CounterOperationErrorCode }];
const swapEx: ExceptionSpec[] = [{ id: 1, name: "InvalidSwapOperation", codes: SwapOperationErrorCode }];
const registerEx: ExceptionSpec[] = [{ id: 1, name: "InvalidRegisterOperation", codes: RegisterOperationErrorCode }];
const mcEx: ExceptionSpec[] = [{ id: 1, name: "InvalidMcOperation", codes: McOperationErrorCode }];
const mirrorEx: ExceptionSpec[] = [{ id: 1, name: "InvalidMirroringOperation", codes: MirroringOperationErrorCode }];
const devMgrEx: ExceptionSpec[] = [{ id: 1, name: "InvalidDevMgrOperation", codes: { ERROR: 1 } }];

// ---------------------------------------------------------------------------
// IDL structs

const DevMgrPortInfo = struct("DevMgrPortInfo", {
  port_num: field(1, i32),
  iface_name: field(2, string),
  is_up: field(3, bool),
  extra: field(4, map(string, string)),
});

const BmMatchParam = struct("BmMatchParam", {
  type: field(1, i32),
  exact: optional(2, struct("BmMatchParamExact", { key: field(1, binary) })),
  lpm: optional(3, struct("BmMatchParamLPM", { key: field(1, binary), prefix_length: field(2, i32) })),
  ternary: optional(4, struct("BmMatchParamTernary", { key: field(1, binary), mask: field(2, binary) })),
  valid: optional(5, struct("BmMatchParamValid", { key: field(1, bool) })),
  range: optional(6, struct("BmMatchParamRange", { start: field(1, binary), end_: field(2, binary) })),
});
const BmMatchParams = list(BmMatchParam);
const BmActionData = list(binary);
const BmAddEntryOptions = struct("BmAddEntryOptions", { priority: optional(1, i32) });
const BmCounterValue = struct("BmCounterValue", { bytes: field(1, i64), packets: field(2, i64) });
const BmActionEntry = struct("BmActionEntry", {
  action_type: field(1, i32),
  action_name: optional(2, string),
  action_data: optional(3, BmActionData),
  mbr_handle: optional(4, i32),
  grp_handle: optional(5, i32),
});
const BmMtEntry = struct("BmMtEntry", {
  match_key: field(1, BmMatchParams),
  options: field(2, BmAddEntryOptions),
  entry_handle: field(3, i32),
  action_entry: field(4, BmActionEntry),
  life: optional(5, struct("BmMtEntryLife", { timeout_ms: field(1, i32), time_since_hit_ms: field(2, i32) })),
});
const BmConfig = struct("BmConfig", {
  device_id: field(1, i64),
  thrift_port: field(2, i32),
  notifications_socket: optional(3, string),
  elogger_socket: optional(4, string),
  debugger_socket: optional(5, string),
});
const MirroringSessionConfig = struct("MirroringSessionConfig", { port: optional(1, i32), mgid: optional(2, i32) });

// ---------------------------------------------------------------------------
// IDL methods (only those the control plane uses; add more the same way)

const STD = "standard";
const cxt_id = field(1, i32);
const table_name = field(2, string);

export const standard = {
  bm_mt_get_num_entries: defineMethod(STD, "bm_mt_get_num_entries", { cxt_id, table_name }, i64, tableEx),
  bm_mt_clear_entries: defineMethod(STD, "bm_mt_clear_entries", { cxt_id, table_name, reset_default_entry: field(3, bool) }, null, tableEx),
  bm_mt_add_entry: defineMethod(
    STD,
    "bm_mt_add_entry",
    { cxt_id, table_name, match_key: field(3, BmMatchParams), action_name: field(4, string), action_data: field(5, BmActionData), options: field(6, BmAddEntryOptions) },
    i32,
    tableEx,
  ),
  bm_mt_set_default_action: defineMethod(
    STD,
    "bm_mt_set_default_action",
    { cxt_id, table_name, action_name: field(3, string), action_data: field(4, BmActionData) },
    null,
    tableEx,
  ),
  bm_mt_reset_default_entry: defineMethod(STD, "bm_mt_reset_default_entry", { cxt_id, table_name }, null, tableEx),
  bm_mt_delete_entry: defineMethod(STD, "bm_mt_delete_entry", { cxt_id, table_name, entry_handle: field(3, i32) }, null, tableEx),
  bm_mt_modify_entry: defineMethod(
    STD,
    "bm_mt_modify_entry",
    { cxt_id, table_name, entry_handle: field(3, i32), action_name: field(4, string), action_data: field(5, BmActionData) },
    null,
    tableEx,
  ),
  bm_mt_set_entry_ttl: defineMethod(STD, "bm_mt_set_entry_ttl", { cxt_id, table_name, entry_handle: field(3, i32), timeout_ms: field(4, i32) }, null, tableEx),
  bm_mt_read_counter: defineMethod(STD, "bm_mt_read_counter", { cxt_id, table_name, entry_handle: field(3, i32) }, BmCounterValue, tableEx),
  bm_mt_reset_counters: defineMethod(STD, "bm_mt_reset_counters", { cxt_id, table_name }, null, tableEx),
  bm_mt_get_entries: defineMethod(STD, "bm_mt_get_entries", { cxt_id, table_name }, list(BmMtEntry), tableEx),
  bm_mt_get_entry: defineMethod(STD, "bm_mt_get_entry", { cxt_id, table_name, entry_handle: field(3, i32) }, BmMtEntry, tableEx),
  bm_mt_get_default_entry: defineMethod(STD, "bm_mt_get_default_entry", { cxt_id, table_name }, BmActionEntry, tableEx),
  bm_mt_get_entry_from_key: defineMethod(
    STD,
    "bm_mt_get_entry_from_key",
    { cxt_id, table_name, match_key: field(3, BmMatchParams), options: field(4, BmAddEntryOptions) },
    BmMtEntry,
    tableEx,
  ),
  bm_counter_read: defineMethod(STD, "bm_counter_read", { cxt_id, counter_name: field(2, string), index: field(3, i32) }, BmCounterValue, counterEx),
  bm_counter_reset_all: defineMethod(STD, "bm_counter_reset_all", { cxt_id, counter_name: field(2, string) }, null, counterEx),
  bm_counter_write: defineMethod(
    STD,
    "bm_counter_write",
    { cxt_id, counter_name: field(2, string), index: field(3, i32), value: field(4, BmCounterValue) },
    null,
    counterEx,
  ),
  bm_load_new_config: defineMethod(STD, "bm_load_new_config", { config_str: field(1, string) }, null, swapEx),
  bm_swap_configs: defineMethod(STD, "bm_swap_configs", {}, null, swapEx),
  bm_register_read: defineMethod(STD, "bm_register_read", { cxt_id, register_array_name: field(2, string), idx: field(3, i32) }, i64, registerEx),
  bm_register_read_all: defineMethod(STD, "bm_register_read_all", { cxt_id, register_array_name: field(2, string) }, list(i64), registerEx),
  bm_register_write: defineMethod(
    STD,
    "bm_register_write",
    { cxt_id, register_array_name: field(2, string), index: field(3, i32), value: field(4, i64) },
    null,
    registerEx,
  ),
  bm_register_reset: defineMethod(STD, "bm_register_reset", { cxt_id, register_array_name: field(2, string) }, null, registerEx),
  bm_mgmt_get_info: defineMethod(STD, "bm_mgmt_get_info", {}, BmConfig),
  bm_dev_mgr_add_port: defineMethod(STD, "bm_dev_mgr_add_port", { iface_name: field(1, string), port_num: field(2, i32), pcap_path: field(3, string) }, null, devMgrEx),
  bm_dev_mgr_remove_port: defineMethod(STD, "bm_dev_mgr_remove_port", { port_num: field(1, i32) }, null, devMgrEx),
  bm_dev_mgr_show_ports: defineMethod(STD, "bm_dev_mgr_show_ports", {}, list(DevMgrPortInfo), devMgrEx),
  bm_reset_state: defineMethod(STD, "bm_reset_state", {}, null),
  bm_get_config: defineMethod(STD, "bm_get_config", {}, string),
  bm_get_config_md5: defineMethod(STD, "bm_get_config_md5", {}, binary),
};

/** The PRE methods; same field ids in "simple_pre" except that it has no lag map (ignored there). */
function preMethods(service: "simple_pre_lag" | "simple_pre") {
  const portMapField = field(3, string);
  const lagMapField = field(4, string);
  return {
    bm_mc_mgrp_create: defineMethod(service, "bm_mc_mgrp_create", { cxt_id, mgrp: field(2, i32) }, i32, mcEx),
    bm_mc_mgrp_destroy: defineMethod(service, "bm_mc_mgrp_destroy", { cxt_id, mgrp_handle: field(2, i32) }, null, mcEx),
    bm_mc_node_create: defineMethod(service, "bm_mc_node_create", { cxt_id, rid: field(2, i32), port_map: portMapField, lag_map: lagMapField }, i32, mcEx),
    bm_mc_node_associate: defineMethod(service, "bm_mc_node_associate", { cxt_id, mgrp_handle: field(2, i32), l1_handle: field(3, i32) }, null, mcEx),
    bm_mc_node_dissociate: defineMethod(service, "bm_mc_node_dissociate", { cxt_id, mgrp_handle: field(2, i32), l1_handle: field(3, i32) }, null, mcEx),
    bm_mc_node_destroy: defineMethod(service, "bm_mc_node_destroy", { cxt_id, l1_handle: field(2, i32) }, null, mcEx),
    bm_mc_node_update: defineMethod(service, "bm_mc_node_update", { cxt_id, l1_handle: field(2, i32), port_map: portMapField, lag_map: lagMapField }, null, mcEx),
    bm_mc_set_lag_membership: defineMethod(service, "bm_mc_set_lag_membership", { cxt_id, lag_index: field(2, i16), port_map: field(3, string) }, null, mcEx),
    bm_mc_get_entries: defineMethod(service, "bm_mc_get_entries", { cxt_id }, string, mcEx),
  };
}

export const simplePreLag = preMethods("simple_pre_lag");
export const simplePre = preMethods("simple_pre");

const SS = "simple_switch";
export const simpleSwitch = {
  mirroring_session_add: defineMethod(SS, "mirroring_session_add", { mirror_id: field(1, i32), config: field(2, MirroringSessionConfig) }, null, mirrorEx),
  mirroring_session_delete: defineMethod(SS, "mirroring_session_delete", { mirror_id: field(1, i32) }, null, mirrorEx),
  mirroring_session_get: defineMethod(SS, "mirroring_session_get", { mirror_id: field(1, i32) }, MirroringSessionConfig, mirrorEx),
  get_time_elapsed_us: defineMethod(SS, "get_time_elapsed_us", {}, i64),
  get_time_since_epoch_us: defineMethod(SS, "get_time_since_epoch_us", {}, i64),
};

// ---------------------------------------------------------------------------
// Friendly types

export type MatchParam =
  | { kind: "exact"; key: Buffer }
  | { kind: "lpm"; key: Buffer; prefixLength: number }
  | { kind: "ternary"; key: Buffer; mask: Buffer }
  | { kind: "valid"; valid: boolean }
  | { kind: "range"; start: Buffer; end: Buffer };

export const match = {
  exact: (key: Buffer): MatchParam => ({ kind: "exact", key }),
  lpm: (key: Buffer, prefixLength: number): MatchParam => ({ kind: "lpm", key, prefixLength }),
  ternary: (key: Buffer, mask: Buffer): MatchParam => ({ kind: "ternary", key, mask }),
  valid: (valid: boolean): MatchParam => ({ kind: "valid", valid }),
  range: (start: Buffer, end: Buffer): MatchParam => ({ kind: "range", start, end }),
};

export type ActionEntry =
  | { kind: "action"; name: string; data: Buffer[] }
  | { kind: "member"; member: number }
  | { kind: "group"; group: number }
  /** no default entry configured */
  | { kind: "none" };

export interface TableEntry {
  handle: number;
  key: MatchParam[];
  /** as bmv2 reports it (it keeps one for every entry; meaningful for ternary/range tables) */
  priority?: number;
  action: ActionEntry;
  /** only for entries with a TTL (ageing) */
  life?: { timeoutMs: number; timeSinceHitMs: number };
}

export interface CounterValue {
  packets: bigint;
  bytes: bigint;
}

export interface SwitchInfo {
  deviceId: bigint;
  thriftPort: number;
  notificationsSocket?: string;
  eventLoggerSocket?: string;
  debuggerSocket?: string;
}

export interface MirroringSession {
  /** egress port of the copies */
  port?: number;
  /** or a multicast group to replicate them to */
  mgid?: number;
}

/** bmv2's multicast dump (bm_mc_get_entries), as simple_pre writes it. */
export interface McDump {
  mgrps: { id: number; l1_handles: number[] }[];
  l1_handles: { handle: number; rid: number; l2_handle: number }[];
  l2_handles: { handle: number; ports: number[]; lags: number[] }[];
  lags?: { id: number; ports: number[] }[];
}

// ---------------------------------------------------------------------------
// Helpers

/** The largest port/LAG index a PRE map holds (bmv2's PORT_MAP_SIZE / LAG_MAP_SIZE is 512). */
export const MAX_PRE_PORT = 511;

/**
 * bmv2's port (or LAG) map string: one '0'/'1' per port, port 0 the LAST
 * character (the server builds a std::bitset from it). [0, 2] -> "101";
 * [] -> "" (no ports). Like runtime_CLI.py, the string is as long as the
 * highest port needs.
 */
export function portMap(ports: readonly number[]): string {
  if (ports.length === 0) return "";
  const set = new Set<number>();
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 0 || p > MAX_PRE_PORT) throw new RangeError(`portMap: ${p} is not a port in [0, ${MAX_PRE_PORT}]`);
    set.add(p);
  }
  const max = Math.max(...set);
  const chars = new Array<string>(max + 1).fill("0");
  for (const p of set) chars[max - p] = "1";
  return chars.join("");
}

/** Left-pads bmv2's shortest-form action data back to `bytes` wide; throws if it does not fit. */
export function fitWidth(value: Buffer, bytes: number): Buffer {
  let start = 0;
  while (value.length - start > bytes && value[start] === 0) start++;
  const v = value.subarray(start);
  if (v.length > bytes) throw new RangeError(`fitWidth: ${value.toString("hex")} does not fit in ${bytes} bytes`);
  if (v.length === bytes) return Buffer.from(v);
  const out = Buffer.alloc(bytes);
  v.copy(out, bytes - v.length);
  return out;
}

type WireMatchParam = StructRead<(typeof BmMatchParam)["fields"]>;

function toWire(p: MatchParam): WireMatchParam {
  switch (p.kind) {
    case "exact":
      return { type: BmMatchParamType.EXACT, exact: { key: p.key } };
    case "lpm":
      return { type: BmMatchParamType.LPM, lpm: { key: p.key, prefix_length: p.prefixLength } };
    case "ternary":
      return { type: BmMatchParamType.TERNARY, ternary: { key: p.key, mask: p.mask } };
    case "valid":
      return { type: BmMatchParamType.VALID, valid: { key: p.valid } };
    case "range":
      return { type: BmMatchParamType.RANGE, range: { start: p.start, end_: p.end } };
  }
}

function fromWire(p: WireMatchParam): MatchParam {
  const missing = (what: string): never => {
    throw new Error(`BmMatchParam of type ${p.type} lacks its ${what} part`);
  };
  switch (p.type) {
    case BmMatchParamType.EXACT:
      return { kind: "exact", key: (p.exact ?? missing("exact")).key };
    case BmMatchParamType.LPM: {
      const l = p.lpm ?? missing("lpm");
      return { kind: "lpm", key: l.key, prefixLength: l.prefix_length };
    }
    case BmMatchParamType.TERNARY: {
      const t = p.ternary ?? missing("ternary");
      return { kind: "ternary", key: t.key, mask: t.mask };
    }
    case BmMatchParamType.VALID:
      return { kind: "valid", valid: (p.valid ?? missing("valid")).key };
    case BmMatchParamType.RANGE: {
      const r = p.range ?? missing("range");
      return { kind: "range", start: r.start, end: r.end_ };
    }
    default:
      throw new Error(`unknown BmMatchParamType ${p.type}`);
  }
}

function actionFromWire(a: StructRead<(typeof BmActionEntry)["fields"]>): ActionEntry {
  switch (a.action_type) {
    case BmActionEntryType.ACTION_DATA:
      return { kind: "action", name: a.action_name ?? "", data: a.action_data ?? [] };
    case BmActionEntryType.MBR_HANDLE:
      return { kind: "member", member: a.mbr_handle ?? -1 };
    case BmActionEntryType.GRP_HANDLE:
      return { kind: "group", group: a.grp_handle ?? -1 };
    case BmActionEntryType.NONE:
      return { kind: "none" };
    default:
      throw new Error(`unknown BmActionEntryType ${a.action_type}`);
  }
}

function entryFromWire(e: StructRead<(typeof BmMtEntry)["fields"]>): TableEntry {
  const out: TableEntry = { handle: e.entry_handle, key: e.match_key.map(fromWire), action: actionFromWire(e.action_entry) };
  if (e.options.priority !== undefined) out.priority = e.options.priority;
  if (e.life) out.life = { timeoutMs: e.life.timeout_ms, timeSinceHitMs: e.life.time_since_hit_ms };
  return out;
}

function safeNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new RangeError(`${what}: ${v} is beyond a safe integer`);
  return Number(v);
}

// ---------------------------------------------------------------------------
// The runtime

export interface RuntimeOptions {
  /** bmv2 context (cxt_id); simple_switch has one, 0 */
  cxtId?: number;
  /** PRE service name; simple_switch registers "simple_pre_lag" */
  pre?: "simple_pre_lag" | "simple_pre";
}

/**
 * Typed calls on one connection. Every method returns at once with a promise;
 * issue many before awaiting them and they travel pipelined (see client.ts).
 * Declared IDL exceptions reject with Bmv2Error.
 */
export class Bmv2Runtime {
  readonly cxtId: number;
  private readonly pre: ReturnType<typeof preMethods>;

  constructor(
    readonly client: ThriftClient,
    opts: RuntimeOptions = {},
  ) {
    this.cxtId = opts.cxtId ?? 0;
    this.pre = opts.pre === "simple_pre" ? simplePre : simplePreLag;
  }

  static async connect(opts: ClientOptions & RuntimeOptions = {}): Promise<Bmv2Runtime> {
    return new Bmv2Runtime(await ThriftClient.connect(opts), opts);
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private call<A, R>(m: Method<A, R>, args: A): Promise<R> {
    return this.client.call(m, args);
  }

  // Match tables ----------------------------------------------------------------

  /** bm_mt_add_entry: the new entry's handle. */
  addEntry(table: string, key: readonly MatchParam[], action: string, data: readonly Buffer[], opts: { priority?: number } = {}): Promise<number> {
    return this.call(standard.bm_mt_add_entry, {
      cxt_id: this.cxtId,
      table_name: table,
      match_key: key.map(toWire),
      action_name: action,
      action_data: data,
      options: opts.priority === undefined ? {} : { priority: opts.priority },
    });
  }

  /** bm_mt_modify_entry: new action for an existing entry. */
  modifyEntry(table: string, handle: number, action: string, data: readonly Buffer[]): Promise<void> {
    return this.call(standard.bm_mt_modify_entry, { cxt_id: this.cxtId, table_name: table, entry_handle: handle, action_name: action, action_data: data });
  }

  /** bm_mt_delete_entry */
  deleteEntry(table: string, handle: number): Promise<void> {
    return this.call(standard.bm_mt_delete_entry, { cxt_id: this.cxtId, table_name: table, entry_handle: handle });
  }

  /** bm_mt_set_default_action */
  setDefaultAction(table: string, action: string, data: readonly Buffer[]): Promise<void> {
    return this.call(standard.bm_mt_set_default_action, { cxt_id: this.cxtId, table_name: table, action_name: action, action_data: data });
  }

  /** bm_mt_reset_default_entry */
  resetDefaultEntry(table: string): Promise<void> {
    return this.call(standard.bm_mt_reset_default_entry, { cxt_id: this.cxtId, table_name: table });
  }

  /** bm_mt_get_default_entry ({kind: "none"} when none is configured) */
  async getDefaultEntry(table: string): Promise<ActionEntry> {
    return actionFromWire(await this.call(standard.bm_mt_get_default_entry, { cxt_id: this.cxtId, table_name: table }));
  }

  /** bm_mt_get_entries. Note: bmv2 answers an unknown table with an empty list, not an error. */
  async getEntries(table: string): Promise<TableEntry[]> {
    return (await this.call(standard.bm_mt_get_entries, { cxt_id: this.cxtId, table_name: table })).map(entryFromWire);
  }

  /** bm_mt_get_entry */
  async getEntry(table: string, handle: number): Promise<TableEntry> {
    return entryFromWire(await this.call(standard.bm_mt_get_entry, { cxt_id: this.cxtId, table_name: table, entry_handle: handle }));
  }

  /** bm_mt_get_entry_from_key: the entry with exactly this key (Bmv2Error BAD_MATCH_KEY / INVALID_HANDLE-like codes if none). */
  async getEntryByKey(table: string, key: readonly MatchParam[], opts: { priority?: number } = {}): Promise<TableEntry> {
    const options = opts.priority === undefined ? {} : { priority: opts.priority };
    return entryFromWire(await this.call(standard.bm_mt_get_entry_from_key, { cxt_id: this.cxtId, table_name: table, match_key: key.map(toWire), options }));
  }

  /** bm_mt_get_num_entries */
  async getNumEntries(table: string): Promise<number> {
    return safeNumber(await this.call(standard.bm_mt_get_num_entries, { cxt_id: this.cxtId, table_name: table }), "bm_mt_get_num_entries");
  }

  /** bm_mt_clear_entries */
  clearEntries(table: string, resetDefaultEntry = false): Promise<void> {
    return this.call(standard.bm_mt_clear_entries, { cxt_id: this.cxtId, table_name: table, reset_default_entry: resetDefaultEntry });
  }

  /** bm_mt_set_entry_ttl (the table must support ageing: AGEING_DISABLED otherwise) */
  setEntryTtl(table: string, handle: number, timeoutMs: number): Promise<void> {
    return this.call(standard.bm_mt_set_entry_ttl, { cxt_id: this.cxtId, table_name: table, entry_handle: handle, timeout_ms: timeoutMs });
  }

  // Counters and registers -------------------------------------------------------

  /** bm_mt_read_counter: a direct counter of a table entry. */
  readDirectCounter(table: string, handle: number): Promise<CounterValue> {
    return this.call(standard.bm_mt_read_counter, { cxt_id: this.cxtId, table_name: table, entry_handle: handle });
  }

  /** bm_mt_reset_counters: every direct counter of a table. */
  resetDirectCounters(table: string): Promise<void> {
    return this.call(standard.bm_mt_reset_counters, { cxt_id: this.cxtId, table_name: table });
  }

  /** bm_counter_read: one cell of a counter array. */
  readCounter(counter: string, index: number): Promise<CounterValue> {
    return this.call(standard.bm_counter_read, { cxt_id: this.cxtId, counter_name: counter, index });
  }

  /** bm_counter_reset_all */
  resetCounter(counter: string): Promise<void> {
    return this.call(standard.bm_counter_reset_all, { cxt_id: this.cxtId, counter_name: counter });
  }

  /** bm_counter_write */
  writeCounter(counter: string, index: number, value: CounterValue): Promise<void> {
    return this.call(standard.bm_counter_write, { cxt_id: this.cxtId, counter_name: counter, index, value });
  }

  /** bm_register_read (bmv2 returns the low 64 bits of wider registers) */
  readRegister(register: string, index: number): Promise<bigint> {
    return this.call(standard.bm_register_read, { cxt_id: this.cxtId, register_array_name: register, idx: index });
  }

  /** bm_register_read_all */
  readRegisterAll(register: string): Promise<bigint[]> {
    return this.call(standard.bm_register_read_all, { cxt_id: this.cxtId, register_array_name: register });
  }

  /** bm_register_write */
  writeRegister(register: string, index: number, value: bigint | number): Promise<void> {
    return this.call(standard.bm_register_write, { cxt_id: this.cxtId, register_array_name: register, index, value });
  }

  /** bm_register_reset: every cell to 0 */
  resetRegister(register: string): Promise<void> {
    return this.call(standard.bm_register_reset, { cxt_id: this.cxtId, register_array_name: register });
  }

  // Configuration and management -------------------------------------------------

  /** bm_get_config: the running bmv2 JSON. */
  getConfig(): Promise<string> {
    return this.call(standard.bm_get_config, {});
  }

  /** bm_get_config_md5: the 16-byte MD5 of the running JSON. */
  getConfigMd5(): Promise<Buffer> {
    return this.call(standard.bm_get_config_md5, {});
  }

  /** bm_load_new_config: stage a JSON; swapConfigs() makes it live (simple_switch needs --enable-swap). */
  loadNewConfig(json: string): Promise<void> {
    return this.call(standard.bm_load_new_config, { config_str: json });
  }

  /** bm_swap_configs */
  swapConfigs(): Promise<void> {
    return this.call(standard.bm_swap_configs, {});
  }

  /** bm_reset_state: empties every table, counter, register and PRE group. */
  resetState(): Promise<void> {
    return this.call(standard.bm_reset_state, {});
  }

  /** bm_dev_mgr_show_ports: the switch's ports (number, interface). */
  async showPorts(): Promise<{ port: number; iface: string; up: boolean }[]> {
    const list_ = await this.call(standard.bm_dev_mgr_show_ports, {});
    return list_.map((p) => ({ port: p.port_num, iface: p.iface_name, up: p.is_up }));
  }

  /** bm_dev_mgr_add_port: bind another interface as port `port`. */
  addPort(iface: string, port: number): Promise<void> {
    return this.call(standard.bm_dev_mgr_add_port, { iface_name: iface, port_num: port, pcap_path: "" });
  }

  /** bm_dev_mgr_remove_port */
  removePort(port: number): Promise<void> {
    return this.call(standard.bm_dev_mgr_remove_port, { port_num: port });
  }

  /** bm_mgmt_get_info */
  async getInfo(): Promise<SwitchInfo> {
    const c = await this.call(standard.bm_mgmt_get_info, {});
    const info: SwitchInfo = { deviceId: c.device_id, thriftPort: c.thrift_port };
    if (c.notifications_socket !== undefined) info.notificationsSocket = c.notifications_socket;
    if (c.elogger_socket !== undefined) info.eventLoggerSocket = c.elogger_socket;
    if (c.debugger_socket !== undefined) info.debuggerSocket = c.debugger_socket;
    return info;
  }

  // Packet replication engine ----------------------------------------------------

  /** bm_mc_mgrp_create: the group's handle (bmv2 uses the mgid itself). */
  mcGroupCreate(mgid: number): Promise<number> {
    return this.call(this.pre.bm_mc_mgrp_create, { cxt_id: this.cxtId, mgrp: mgid });
  }

  /** bm_mc_mgrp_destroy */
  mcGroupDestroy(groupHandle: number): Promise<void> {
    return this.call(this.pre.bm_mc_mgrp_destroy, { cxt_id: this.cxtId, mgrp_handle: groupHandle });
  }

  /** bm_mc_node_create: a node (copies with egress_rid `rid` to these ports/LAGs); its L1 handle. */
  mcNodeCreate(rid: number, ports: readonly number[], lags: readonly number[] = []): Promise<number> {
    return this.call(this.pre.bm_mc_node_create, { cxt_id: this.cxtId, rid, port_map: portMap(ports), lag_map: portMap(lags) });
  }

  /** bm_mc_node_update: replaces the node's ports and LAGs. */
  mcNodeUpdate(nodeHandle: number, ports: readonly number[], lags: readonly number[] = []): Promise<void> {
    return this.call(this.pre.bm_mc_node_update, { cxt_id: this.cxtId, l1_handle: nodeHandle, port_map: portMap(ports), lag_map: portMap(lags) });
  }

  /** bm_mc_node_associate: add a node to a group. */
  mcNodeAssociate(groupHandle: number, nodeHandle: number): Promise<void> {
    return this.call(this.pre.bm_mc_node_associate, { cxt_id: this.cxtId, mgrp_handle: groupHandle, l1_handle: nodeHandle });
  }

  /** bm_mc_node_dissociate */
  mcNodeDissociate(groupHandle: number, nodeHandle: number): Promise<void> {
    return this.call(this.pre.bm_mc_node_dissociate, { cxt_id: this.cxtId, mgrp_handle: groupHandle, l1_handle: nodeHandle });
  }

  /** bm_mc_node_destroy */
  mcNodeDestroy(nodeHandle: number): Promise<void> {
    return this.call(this.pre.bm_mc_node_destroy, { cxt_id: this.cxtId, l1_handle: nodeHandle });
  }

  /** bm_mc_set_lag_membership (simple_pre_lag only) */
  mcSetLagMembership(lagIndex: number, ports: readonly number[]): Promise<void> {
    return this.call(this.pre.bm_mc_set_lag_membership, { cxt_id: this.cxtId, lag_index: lagIndex, port_map: portMap(ports) });
  }

  /** bm_mc_get_entries, raw JSON text. */
  mcGetEntriesJson(): Promise<string> {
    return this.call(this.pre.bm_mc_get_entries, { cxt_id: this.cxtId });
  }

  /** bm_mc_get_entries, parsed. */
  async mcGetEntries(): Promise<McDump> {
    const text = await this.mcGetEntriesJson();
    try {
      return JSON.parse(text) as McDump;
    } catch (e) {
      throw new Error(`bm_mc_get_entries: reply is not JSON: ${(e as Error).message}`);
    }
  }

  // simple_switch ------------------------------------------------------------------

  /** mirroring_session_add: clone session `id` sends copies to a port or a multicast group (replaces an existing one). */
  mirroringSessionAdd(id: number, session: MirroringSession): Promise<void> {
    return this.call(simpleSwitch.mirroring_session_add, { mirror_id: id, config: session });
  }

  /** mirroring_session_delete (Bmv2Error SESSION_NOT_FOUND if absent) */
  mirroringSessionDelete(id: number): Promise<void> {
    return this.call(simpleSwitch.mirroring_session_delete, { mirror_id: id });
  }

  /** mirroring_session_get (Bmv2Error SESSION_NOT_FOUND if absent) */
  mirroringSessionGet(id: number): Promise<MirroringSession> {
    return this.call(simpleSwitch.mirroring_session_get, { mirror_id: id });
  }

  /** get_time_elapsed_us: microseconds since the switch started. */
  getTimeElapsedUs(): Promise<bigint> {
    return this.call(simpleSwitch.get_time_elapsed_us, {});
  }
}

export { Bmv2Error };
