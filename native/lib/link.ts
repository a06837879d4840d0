import { addon, type NativeLink, type NativeLinkInfo } from "./native.ts";
import { checkInternal, HANDLE, INTERNAL } from "./internal.ts";
import type { BpfProgram } from "./program.ts";

export type LinkKind = "xdp" | "tcx" | "tc-netlink";
export type XdpMode = "native" | "generic";

/**
 * An attachment of a program to an interface.
 * - kind 'xdp': XDP bpf_link (mode says native or generic)
 * - kind 'tcx': tcx bpf_link (kernel >= 6.6), pinnable
 * - kind 'tc-netlink': clsact + cls_bpf filter (fallback); no fd, not pinnable,
 *   stays attached until detach() (close() leaves it in place)
 */
export class BpfLink {
  readonly #h: NativeLink;

  /** @internal */
  constructor(token: typeof INTERNAL, h: NativeLink) {
    checkInternal(token, "BpfLink");
    this.#h = h;
  }

  /** @internal */
  get [HANDLE](): NativeLink {
    return this.#h;
  }

  get kind(): LinkKind {
    return this.#h.kind;
  }
  /** XDP links: the mode the kernel accepted. */
  get mode(): XdpMode | undefined {
    return this.#h.mode;
  }
  get ifindex(): number {
    return this.#h.ifindex;
  }
  /** TC links: 'ingress' or 'egress'. */
  get direction(): "ingress" | "egress" | undefined {
    return this.#h.direction;
  }
  /** Link fd (-1 for tc-netlink). Throws once closed. */
  get fd(): number {
    return this.#h.fd;
  }
  /** Where this link is pinned (set by pin() or openPinned()). */
  get pinPath(): string | undefined {
    return this.#h.pinPath;
  }
  get closed(): boolean {
    return this.#h.closed;
  }
  /** tc-netlink: the filter's handle and priority. */
  get tc(): { handle: number; priority: number } | undefined {
    return this.#h.tc;
  }

  /** Kernel view of an fd-based link: ids and the ifindex (0 once detached). */
  info(): NativeLinkInfo {
    return this.#h.info();
  }

  pin(path: string): void {
    this.#h.pin(path);
  }

  /** Removes the pin created by pin() (or the one openPinned() used). */
  unpin(): void {
    this.#h.unpin();
  }

  /** Detaches the program from the interface (bpf_link_detach / bpf_tc_detach). */
  detach(): void {
    this.#h.detach();
  }

  /** Replaces the attached program atomically (BPF_LINK_UPDATE; xdp and tcx links only). */
  update(program: BpfProgram): void {
    this.#h.update(program.fd);
  }

  /** Drops our fd. An unpinned xdp/tcx link is detached by the kernel when its last fd goes; a pinned one stays. */
  close(): void {
    this.#h.close();
  }

  static openPinned(path: string): BpfLink {
    return new BpfLink(INTERNAL, addon.openPinnedLink(path));
  }
}
