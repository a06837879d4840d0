// The vocabulary for declaring a fast-path table once. A declaration gives the
// key and value fields in C order; layout() computes offsets with C's natural
// alignment and refuses declarations with implicit holes, so the C struct the
// emitter writes and the bytes the TS codec reads cannot disagree.

export type ScalarType = "u8" | "u16" | "u32" | "u64" | "be16" | "be32";
/** ipv4: network-order address (C __be32, TS dotted string); mac: 6 bytes (C __u8[6], TS "aa:bb:..") */
export type FieldType = ScalarType | "ipv4" | "mac" | { pad: number };

export interface FieldDecl {
  name: string;
  type: FieldType;
  doc?: string;
}

/** devmap_hash: ports an XDP program may redirect into (bpf_redirect_map), keyed by ifindex. */
export type MapKind = "hash" | "array" | "percpu_array" | "ringbuf" | "devmap_hash";

export interface StructDecl {
  /** C struct name without the "struct " prefix. */
  name: string;
  fields: readonly FieldDecl[];
}

export interface TableDecl {
  /** Logical name used by the runtime and the CLI. */
  name: string;
  /** Name of the map in the ELF and in bpffs (kernel limit: 15 characters). */
  mapName: string;
  kind: MapKind;
  key?: StructDecl;
  value?: StructDecl;
  doc: string;
}

export interface FieldLayout {
  name: string;
  type: FieldType;
  offset: number;
  size: number;
}

export interface StructLayout {
  name: string;
  size: number;
  align: number;
  fields: FieldLayout[];
}

export function fieldSize(t: FieldType): number {
  if (typeof t === "object") return t.pad;
  switch (t) {
    case "u8":
      return 1;
    case "u16":
    case "be16":
      return 2;
    case "u32":
    case "be32":
    case "ipv4":
      return 4;
    case "u64":
      return 8;
    case "mac":
      return 6;
  }
}

export function fieldAlign(t: FieldType): number {
  if (typeof t === "object" || t === "mac") return 1;
  return fieldSize(t);
}

export function layout(decl: StructDecl): StructLayout {
  let offset = 0;
  let align = 1;
  const fields: FieldLayout[] = [];
  const seen = new Set<string>();
  for (const f of decl.fields) {
    if (seen.has(f.name)) throw new Error(`struct ${decl.name}: field ${f.name} declared twice`);
    seen.add(f.name);
    const a = fieldAlign(f.type);
    if (offset % a !== 0) {
      throw new Error(
        `struct ${decl.name}: field ${f.name} at offset ${offset} is not ${a}-byte aligned; declare explicit padding`,
      );
    }
    const size = fieldSize(f.type);
    fields.push({ name: f.name, type: f.type, offset, size });
    offset += size;
    align = Math.max(align, a);
  }
  if (offset % align !== 0) {
    throw new Error(`struct ${decl.name}: size ${offset} leaves ${align - (offset % align)} bytes of tail padding; declare it`);
  }
  return { name: decl.name, size: offset, align, fields };
}
