// Module-private plumbing shared by the wrapper classes (not exported from index.ts).

/** Passed to wrapper constructors: only this package can create wrappers around native handles. */
export const INTERNAL: unique symbol = Symbol("libbpf-ts-bindings.internal");
/** Property under which a wrapper exposes its native handle to sibling classes. */
export const HANDLE: unique symbol = Symbol("libbpf-ts-bindings.handle");

export function checkInternal(token: unknown, cls: string): void {
  if (token !== INTERNAL) {
    throw new TypeError(`${cls} cannot be constructed directly; use the static open*/factory methods`);
  }
}
