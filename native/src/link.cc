// Attachment: XDP links (BPF_LINK_CREATE/BPF_XDP), tcx links
// (BPF_TCX_INGRESS/EGRESS, kernel >= 6.6) and the netlink clsact + cls_bpf
// fallback; BpfLink pin/unpin/detach/close/openPinned.
#include "common.h"

#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lbt {

// Not in libbpf 1.1 / linux-libc-dev 6.1 headers.
static constexpr uint32_t kAttachTcxIngress = 46;
static constexpr uint32_t kAttachTcxEgress = 47;
static constexpr uint32_t kLinkTypeXdp = 6;
static constexpr uint32_t kLinkTypeTcx = 11;

static const char* KindName(LinkKind k) {
  switch (k) {
    case LinkKind::Xdp: return "xdp";
    case LinkKind::Tcx: return "tcx";
    case LinkKind::TcNetlink: return "tc-netlink";
  }
  return "?";
}

class NativeLink : public Napi::ObjectWrap<NativeLink> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeLink",
                       {
                           InstanceAccessor<&NativeLink::Kind>("kind"),
                           InstanceAccessor<&NativeLink::Mode>("mode"),
                           InstanceAccessor<&NativeLink::Ifindex>("ifindex"),
                           InstanceAccessor<&NativeLink::Direction>("direction"),
                           InstanceAccessor<&NativeLink::Fd>("fd"),
                           InstanceAccessor<&NativeLink::PinPath>("pinPath"),
                           InstanceAccessor<&NativeLink::Closed>("closed"),
                           InstanceAccessor<&NativeLink::TcInfo>("tc"),
                           InstanceMethod<&NativeLink::Info>("info"),
                           InstanceMethod<&NativeLink::Pin>("pin"),
                           InstanceMethod<&NativeLink::Unpin>("unpin"),
                           InstanceMethod<&NativeLink::Detach>("detach"),
                           InstanceMethod<&NativeLink::Update>("update"),
                           InstanceMethod<&NativeLink::Close>("close"),
                       });
  }

  explicit NativeLink(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeLink>(info) {
    if (info.Length() < 1 || !info[0].IsExternal())
      ThrowTypeError(info.Env(), "NativeLink cannot be constructed directly");
    init_ = *info[0].As<Napi::External<LinkInit>>().Data();
  }

  ~NativeLink() override { CloseFd(); }

 private:
  void CloseFd() {
    if (init_.fd >= 0) {
      close(init_.fd);
      init_.fd = -1;
    }
    closed_ = true;
  }

  std::string What() const {
    return std::string(KindName(init_.kind)) + " link on ifindex " + std::to_string(init_.ifindex);
  }

  void CheckOpen(Napi::Env env, const std::string& op) {
    if (closed_) ThrowClosed(env, op + " (" + What() + ")");
  }

  Napi::Value Kind(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), KindName(init_.kind)); }
  Napi::Value Mode(const Napi::CallbackInfo& info) {
    if (init_.mode.empty()) return info.Env().Undefined();
    return Napi::String::New(info.Env(), init_.mode);
  }
  Napi::Value Ifindex(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), init_.ifindex); }
  Napi::Value Direction(const Napi::CallbackInfo& info) {
    if (init_.direction.empty()) return info.Env().Undefined();
    return Napi::String::New(info.Env(), init_.direction);
  }
  Napi::Value Fd(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env(), "BpfLink.fd");
    return Napi::Number::New(info.Env(), init_.fd);
  }
  Napi::Value PinPath(const Napi::CallbackInfo& info) {
    if (init_.pinPath.empty()) return info.Env().Undefined();
    return Napi::String::New(info.Env(), init_.pinPath);
  }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }
  Napi::Value TcInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (init_.kind != LinkKind::TcNetlink) return env.Undefined();
    Napi::Object o = Napi::Object::New(env);
    o.Set("handle", Napi::Number::New(env, init_.tcHandle));
    o.Set("priority", Napi::Number::New(env, init_.tcPriority));
    return o;
  }

  // Live kernel view: { id, progId, ifindex } (ifindex 0 once detached).
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env, "BpfLink.info");
    if (init_.kind == LinkKind::TcNetlink)
      ThrowBpfError(env, "BpfLink.info", EOPNOTSUPP, "tc-netlink attachments have no link object");
    bpf_link_info li;
    memset(&li, 0, sizeof(li));
    uint32_t len = sizeof(li);
    int r = bpf_obj_get_info_by_fd(init_.fd, &li, &len);
    if (r < 0) ThrowBpfError(env, "bpf_obj_get_info_by_fd(" + What() + ")", ErrFromRet(r));
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", Napi::Number::New(env, li.id));
    o.Set("progId", Napi::Number::New(env, li.prog_id));
    // xdp.ifindex and tcx.ifindex share the first word of the union.
    o.Set("ifindex", Napi::Number::New(env, li.xdp.ifindex));
    return o;
  }

  Napi::Value Pin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = GetString(env, info[0], "path");
    CheckOpen(env, "pin link");
    if (init_.kind == LinkKind::TcNetlink)
      ThrowBpfError(env, "pin " + What() + " at '" + path + "'", EOPNOTSUPP,
                    "tc-netlink (clsact/cls_bpf) attachments have no bpf_link and cannot be pinned; "
                    "they persist on the interface until detach() (tcx links need kernel >= 6.6)");
    if (!init_.pinPath.empty())
      ThrowBpfError(env, "pin " + What() + " at '" + path + "'", EEXIST, "already pinned at '" + init_.pinPath + "'");
    PinFd(env, init_.fd, path, What());
    init_.pinPath = path;
    return env.Undefined();
  }

  Napi::Value Unpin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (init_.pinPath.empty()) ThrowBpfError(env, "unpin " + What(), ENOENT, "link is not pinned");
    UnpinPath(env, init_.pinPath, What());
    init_.pinPath.clear();
    return env.Undefined();
  }

  Napi::Value Detach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env, "detach link");
    LogCapture cap;
    if (init_.kind == LinkKind::TcNetlink) {
      bpf_tc_hook hook;
      memset(&hook, 0, sizeof(hook));
      hook.sz = sizeof(hook);
      hook.ifindex = init_.ifindex;
      hook.attach_point = init_.direction == "egress" ? BPF_TC_EGRESS : BPF_TC_INGRESS;
      bpf_tc_opts o;
      memset(&o, 0, sizeof(o));
      o.sz = sizeof(o);
      o.handle = init_.tcHandle;
      o.priority = init_.tcPriority;
      int r = bpf_tc_detach(&hook, &o);
      if (r < 0) ThrowBpfError(env, "detach " + What(), ErrFromRet(r), "", &cap.text);
    } else {
      int r = bpf_link_detach(init_.fd);
      if (r < 0) ThrowBpfError(env, "detach " + What(), ErrFromRet(r), "", &cap.text);
    }
    return env.Undefined();
  }

  // Swap the attached program atomically (BPF_LINK_UPDATE): no moment without
  // a program on the interface, which detach + attach would leave.
  Napi::Value Update(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t progFd = GetU32(env, info[0], "programFd");
    CheckOpen(env, "update link");
    if (init_.kind == LinkKind::TcNetlink)
      ThrowBpfError(env, "update " + What(), EOPNOTSUPP, "tc-netlink attachments have no bpf_link to update");
    LogCapture cap;
    int r = bpf_link_update(init_.fd, static_cast<int>(progFd), nullptr);
    if (r < 0) ThrowBpfError(env, "bpf_link_update(" + What() + ")", ErrFromRet(r), "", &cap.text);
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseFd();
    return info.Env().Undefined();
  }

  LinkInit init_;
  bool closed_ = false;
};

Napi::Object NewLink(Napi::Env env, LinkInit init) {
  return GetData(env)->linkCtor.New({Napi::External<LinkInit>::New(env, &init)});
}

// Interface name for messages; throws ENODEV if there is no such ifindex in
// our network namespace (the kernel would only say EINVAL).
static std::string IfName(Napi::Env env, const std::string& op, uint32_t ifindex) {
  char name[IF_NAMESIZE + 1] = {0};
  if (if_indextoname(ifindex, name) == nullptr)
    ThrowBpfError(env, op, ENODEV, "no interface with ifindex " + std::to_string(ifindex) + " in this network namespace");
  return name;
}

// ------------------------------------------------------------------- XDP

static int XdpLinkCreate(int progFd, uint32_t ifindex, uint32_t flags) {
  bpf_link_create_opts o;
  memset(&o, 0, sizeof(o));
  o.sz = sizeof(o);
  o.flags = flags;
  return bpf_link_create(progFd, static_cast<int>(ifindex), BPF_XDP, &o);
}

// Errors after which trying generic mode makes no sense.
static bool IsFinalXdpError(int err) {
  return err == EEXIST || err == EBUSY || err == EPERM || err == EACCES || err == ENODEV || err == EBADF;
}

Napi::Object AttachXdp(Napi::Env env, int progFd, const std::string& progName, uint32_t ifindex,
                       const std::string& mode) {
  std::string op = "attach XDP program '" + progName + "' to ifindex " + std::to_string(ifindex);
  if (ifindex == 0) ThrowTypeError(env, op + ": ifindex must be > 0");
  if (mode != "native" && mode != "generic" && mode != "auto")
    ThrowTypeError(env, op + ": mode must be 'native', 'generic' or 'auto'");
  op += " (" + IfName(env, op, ifindex) + ")";
  LogCapture cap;
  LinkInit li;
  li.kind = LinkKind::Xdp;
  li.ifindex = static_cast<int>(ifindex);
  if (mode == "native" || mode == "auto") {
    int fd = XdpLinkCreate(progFd, ifindex, XDP_FLAGS_DRV_MODE);
    if (fd >= 0) {
      li.fd = fd;
      li.mode = "native";
      return NewLink(env, li);
    }
    int err = ErrFromRet(fd);
    if (mode == "native" || IsFinalXdpError(err)) {
      std::string detail = mode == "native" ? "native (driver) mode" : "native mode (auto)";
      if (err == EOPNOTSUPP) detail += "; the driver has no native XDP support, try mode 'generic'";
      if (err == EEXIST || err == EBUSY) detail += "; another XDP program is already attached to this interface";
      ThrowBpfError(env, op, err, detail, &cap.text);
    }
    int fd2 = XdpLinkCreate(progFd, ifindex, XDP_FLAGS_SKB_MODE);
    if (fd2 < 0)
      ThrowBpfError(env, op, ErrFromRet(fd2),
                    "generic mode failed after native mode failed with " + ErrnoName(err), &cap.text);
    li.fd = fd2;
    li.mode = "generic";
    return NewLink(env, li);
  }
  int fd = XdpLinkCreate(progFd, ifindex, XDP_FLAGS_SKB_MODE);
  if (fd < 0) {
    int err = ErrFromRet(fd);
    std::string detail = "generic (skb) mode";
    if (err == EEXIST || err == EBUSY) detail += "; another XDP program is already attached to this interface";
    ThrowBpfError(env, op, err, detail, &cap.text);
  }
  li.fd = fd;
  li.mode = "generic";
  return NewLink(env, li);
}

// -------------------------------------------------------------------- TC

static bool TcxUnavailable(int err) {
  // Pre-6.6 kernels reject the unknown attach type with EINVAL.
  return err == EINVAL || err == EOPNOTSUPP || err == 524 /* ENOTSUPP */ || err == E2BIG;
}

Napi::Object AttachTc(Napi::Env env, int progFd, const std::string& progName, uint32_t ifindex,
                      const std::string& direction, uint32_t priority, const std::string& via) {
  std::string op = "attach TC program '" + progName + "' to ifindex " + std::to_string(ifindex) + " " + direction;
  if (ifindex == 0) ThrowTypeError(env, op + ": ifindex must be > 0");
  if (direction != "ingress" && direction != "egress")
    ThrowTypeError(env, op + ": direction must be 'ingress' or 'egress'");
  if (via != "auto" && via != "tcx" && via != "netlink")
    ThrowTypeError(env, op + ": via must be 'auto', 'tcx' or 'netlink'");
  if (priority > 0xffff) ThrowTypeError(env, op + ": priority must be in [0, 65535]");
  op = "attach TC program '" + progName + "' to " + IfName(env, op, ifindex) + " (ifindex " + std::to_string(ifindex) +
       ") " + direction;
  bool ingress = direction == "ingress";
  LogCapture cap;
  LinkInit li;
  li.ifindex = static_cast<int>(ifindex);
  li.direction = direction;

  int tcxErr = 0;
  if (via != "netlink") {
    bpf_link_create_opts o;
    memset(&o, 0, sizeof(o));
    o.sz = sizeof(o);
    int fd = bpf_link_create(progFd, static_cast<int>(ifindex),
                             static_cast<enum bpf_attach_type>(ingress ? kAttachTcxIngress : kAttachTcxEgress), &o);
    if (fd >= 0) {
      li.kind = LinkKind::Tcx;
      li.fd = fd;
      return NewLink(env, li);
    }
    tcxErr = ErrFromRet(fd);
    if (via == "tcx" || !TcxUnavailable(tcxErr))
      ThrowBpfError(env, op, tcxErr, "tcx link", &cap.text);
  }

  bpf_tc_hook hook;
  memset(&hook, 0, sizeof(hook));
  hook.sz = sizeof(hook);
  hook.ifindex = static_cast<int>(ifindex);
  hook.attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  int r = bpf_tc_hook_create(&hook);  // creates clsact if missing
  if (r < 0 && r != -EEXIST)
    ThrowBpfError(env, op, ErrFromRet(r),
                  "creating clsact qdisc" + (tcxErr ? " (after tcx failed with " + ErrnoName(tcxErr) + ")" : std::string()),
                  &cap.text);
  bpf_tc_opts o;
  memset(&o, 0, sizeof(o));
  o.sz = sizeof(o);
  o.prog_fd = progFd;
  if (priority > 0) {
    // A fixed slot: re-attaching (e.g. after a restart) replaces the filter.
    o.priority = priority;
    o.handle = 1;
    o.flags = BPF_TC_F_REPLACE;
  }
  r = bpf_tc_attach(&hook, &o);
  if (r < 0)
    ThrowBpfError(env, op, ErrFromRet(r),
                  "cls_bpf filter" + (tcxErr ? " (after tcx failed with " + ErrnoName(tcxErr) + ")" : std::string()),
                  &cap.text);
  li.kind = LinkKind::TcNetlink;
  li.tcHandle = o.handle;
  li.tcPriority = o.priority;
  return NewLink(env, li);
}

// ------------------------------------------------------------ openPinned

static Napi::Value OpenPinnedLink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = GetString(env, info[0], "path");
  int fd = OpenPinnedFd(env, path, "link");
  // Read into a raw buffer: the 6.1 uapi struct lacks the tcx member.
  union {
    bpf_link_info li;
    uint8_t raw[256];
  } u;
  memset(&u, 0, sizeof(u));
  uint32_t len = sizeof(u);
  int r = bpf_obj_get_info_by_fd(fd, &u, &len);
  if (r < 0) {
    int err = ErrFromRet(r);
    close(fd);
    ThrowBpfError(env, "open pinned link '" + path + "'", err, "bpf_obj_get_info_by_fd failed");
  }
  LinkInit li;
  li.fd = fd;
  li.pinPath = path;
  if (u.li.type == kLinkTypeXdp) {
    li.kind = LinkKind::Xdp;
    li.ifindex = static_cast<int>(u.li.xdp.ifindex);
    if (li.ifindex > 0) {
      bpf_xdp_query_opts q;
      memset(&q, 0, sizeof(q));
      q.sz = sizeof(q);
      LogCapture cap;
      if (bpf_xdp_query(li.ifindex, 0, &q) == 0) {
        if (q.drv_prog_id == u.li.prog_id) li.mode = "native";
        else if (q.skb_prog_id == u.li.prog_id) li.mode = "generic";
      }
    }
  } else if (u.li.type == kLinkTypeTcx) {
    li.kind = LinkKind::Tcx;
    uint32_t ifindex, attachType;
    memcpy(&ifindex, u.raw + 16, 4);  // tcx.ifindex
    memcpy(&attachType, u.raw + 20, 4);  // tcx.attach_type
    li.ifindex = static_cast<int>(ifindex);
    li.direction = attachType == kAttachTcxEgress ? "egress" : "ingress";
  } else {
    close(fd);
    ThrowBpfError(env, "open pinned link '" + path + "'", EINVAL,
                  "link type " + std::to_string(u.li.type) + " is not an XDP or tcx link");
  }
  return NewLink(env, li);
}

void InitLink(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Function ctor = NativeLink::Define(env);
  data->linkCtor = Napi::Persistent(ctor);
  exports.Set("NativeLink", ctor);
  exports.Set("openPinnedLink", Napi::Function::New(env, OpenPinnedLink, "openPinnedLink"));
}

}  // namespace lbt
