import { addon, type NativeObject } from "./native.ts";
import { checkInternal, INTERNAL } from "./internal.ts";
import { BpfError } from "./errors.ts";
import { BpfMap } from "./map.ts";
import { BpfProgram } from "./program.ts";

export interface OpenOptions {
  /** Directory for maps declared with LIBBPF_PIN_BY_NAME (libbpf pin_root_path). */
  pinRoot?: string;
}

/**
 * An ELF BPF object (bpf_object). open → [reuseMap] → load → use → close.
 * Programs and maps handed out stay valid until close(); afterwards every
 * use of them throws a BpfError (EBADF). If the object is dropped without
 * close(), it is freed once it and all its programs/maps are garbage.
 */
export class BpfObject {
  readonly #h: NativeObject;
  readonly #programs: BpfProgram[];
  readonly #maps: BpfMap[];

  /** @internal */
  constructor(token: typeof INTERNAL, h: NativeObject) {
    checkInternal(token, "BpfObject");
    this.#h = h;
    this.#programs = h.programs().map((p) => new BpfProgram(INTERNAL, p));
    this.#maps = h.maps().map((m) => new BpfMap(INTERNAL, m));
  }

  static openFile(path: string, opts: OpenOptions = {}): BpfObject {
    return new BpfObject(INTERNAL, addon.openFile(path, opts.pinRoot));
  }

  static openBuffer(buf: Uint8Array, name?: string, opts: OpenOptions = {}): BpfObject {
    return new BpfObject(INTERNAL, addon.openBuffer(buf, name, opts.pinRoot));
  }

  get name(): string {
    return this.#h.name;
  }
  get loaded(): boolean {
    return this.#h.loaded;
  }
  get closed(): boolean {
    return this.#h.closed;
  }

  #live(what: string): void {
    if (this.#h.closed) throw BpfError.closed(`BpfObject.${what} (object '${this.#h.name}')`);
  }

  /**
   * Before load(): use the map pinned at pinnedPath instead of creating
   * mapName (bpf_map__reuse_fd). Throws BpfError EINVAL if the pinned map's
   * type/key/value/max_entries/flags differ from the object's definition.
   */
  reuseMap(mapName: string, pinnedPath: string): void {
    this.#h.reuseMap(mapName, pinnedPath);
  }

  /** Creates maps and loads programs; on failure the BpfError's log holds the verifier log. */
  load(): void {
    this.#h.load();
  }

  get programs(): BpfProgram[] {
    this.#live("programs");
    return [...this.#programs];
  }

  program(name: string): BpfProgram {
    this.#live("program");
    const p = this.#programs.find((x) => x.name === name);
    if (!p) {
      throw new BpfError(
        `object '${this.#h.name}' has no program '${name}' (has: ${this.#programs.map((x) => x.name).join(", ") || "none"}) [ENOENT]`,
        { errno: 2, code: "ENOENT", op: `find program '${name}'` },
      );
    }
    return p;
  }

  /** All maps, including libbpf's internal .rodata/.data/.bss maps. */
  get maps(): BpfMap[] {
    this.#live("maps");
    return [...this.#maps];
  }

  map(name: string): BpfMap {
    this.#live("map");
    const m = this.#maps.find((x) => x.name === name);
    if (!m) {
      throw new BpfError(
        `object '${this.#h.name}' has no map '${name}' (has: ${this.#maps.map((x) => x.name).join(", ") || "none"}) [ENOENT]`,
        { errno: 2, code: "ENOENT", op: `find map '${name}'` },
      );
    }
    return m;
  }

  /** Frees the bpf_object (programs/maps fds). Links and pins keep what they reference alive. Idempotent. */
  close(): void {
    this.#h.close();
  }
}
