// Error reporting: errno names, BpfError construction and the capture of
// libbpf's print output (which carries the verifier log on load failures).
#include "common.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>

namespace lbt {

// ------------------------------------------------------------ libbpf print

static thread_local LogCapture* g_capture = nullptr;
static bool g_debug = false;

LogCapture::LogCapture() : prev_(g_capture) { g_capture = this; }
LogCapture::~LogCapture() { g_capture = prev_; }

static int PrintFn(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !g_debug) return 0;
  va_list copy;
  va_copy(copy, args);
  char small[512];
  int n = vsnprintf(small, sizeof(small), fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  std::string msg;
  if (static_cast<size_t>(n) < sizeof(small)) {
    msg.assign(small, static_cast<size_t>(n));
  } else {
    // Verifier logs arrive as one huge %s: format into an exact-size buffer.
    msg.resize(static_cast<size_t>(n) + 1);
    va_copy(copy, args);
    vsnprintf(&msg[0], msg.size(), fmt, copy);
    va_end(copy);
    msg.resize(static_cast<size_t>(n));
  }
  if (g_capture != nullptr) {
    g_capture->text += msg;
    if (g_debug) fputs(msg.c_str(), stderr);
  } else if (level == LIBBPF_WARN || g_debug) {
    fputs(msg.c_str(), stderr);
  }
  return 0;
}

void InstallLibbpfPrint() {
  // Process-wide, once, even if several worker threads load the addon.
  static std::once_flag once;
  std::call_once(once, []() {
    const char* dbg = getenv("LIBBPF_TS_DEBUG");
    g_debug = dbg != nullptr && dbg[0] != '\0' && strcmp(dbg, "0") != 0;
    libbpf_set_print(PrintFn);
  });
}

// ------------------------------------------------------------ errno naming

std::string ErrnoName(int err) {
  switch (err) {
    // Kernel-internal codes that leak out of bpf(2) and glibc cannot name.
    case 512: return "ERESTARTSYS";
    case 515: return "ENOIOCTLCMD";
    case 517: return "EPROBE_DEFER";
    case 524: return "ENOTSUPP";
    case 525: return "ETOOSMALL";
    case 527: return "EBADTYPE";
    // libbpf's own codes.
    case LIBBPF_ERRNO__LIBELF: return "LIBBPF_ERRNO__LIBELF";
    case LIBBPF_ERRNO__FORMAT: return "LIBBPF_ERRNO__FORMAT";
    case LIBBPF_ERRNO__KVERSION: return "LIBBPF_ERRNO__KVERSION";
    case LIBBPF_ERRNO__ENDIAN: return "LIBBPF_ERRNO__ENDIAN";
    case LIBBPF_ERRNO__INTERNAL: return "LIBBPF_ERRNO__INTERNAL";
    case LIBBPF_ERRNO__RELOC: return "LIBBPF_ERRNO__RELOC";
    case LIBBPF_ERRNO__LOAD: return "LIBBPF_ERRNO__LOAD";
    case LIBBPF_ERRNO__VERIFY: return "LIBBPF_ERRNO__VERIFY";
    case LIBBPF_ERRNO__PROG2BIG: return "LIBBPF_ERRNO__PROG2BIG";
    case LIBBPF_ERRNO__KVER: return "LIBBPF_ERRNO__KVER";
    case LIBBPF_ERRNO__PROGTYPE: return "LIBBPF_ERRNO__PROGTYPE";
    case LIBBPF_ERRNO__WRNGPID: return "LIBBPF_ERRNO__WRNGPID";
    case LIBBPF_ERRNO__INVSEQ: return "LIBBPF_ERRNO__INVSEQ";
    case LIBBPF_ERRNO__NLPARSE: return "LIBBPF_ERRNO__NLPARSE";
    default: break;
  }
  const char* name = strerrorname_np(err);  // glibc >= 2.32
  if (name != nullptr) return name;
  return "E" + std::to_string(err);
}

std::string ErrnoMessage(int err) {
  char buf[256];
  buf[0] = '\0';
  if (err == 524) return "Operation not supported by this kernel/map (ENOTSUPP)";
  libbpf_strerror(err, buf, sizeof(buf));
  if (buf[0] == '\0') return "error " + std::to_string(err);
  return buf;
}

// Pulls the interesting lines out of a captured libbpf log for the error
// message: libbpf's own warnings plus the tail of each verifier log block.
static std::string SummarizeLog(const std::string& log) {
  std::istringstream in(log);
  std::string line;
  std::vector<std::string> out;
  std::vector<std::string> verifier;
  bool inVerifier = false;
  auto flushVerifier = [&]() {
    // The last lines before "processed N insns" usually state the reason.
    std::vector<std::string> useful;
    for (const auto& l : verifier) {
      if (l.empty() || l.rfind("processed ", 0) == 0 || l.rfind("verification time", 0) == 0 ||
          l.rfind("stack depth", 0) == 0)
        continue;
      useful.push_back(l);
    }
    size_t from = useful.size() > 2 ? useful.size() - 2 : 0;
    for (size_t i = from; i < useful.size(); i++) out.push_back("verifier: " + useful[i]);
    verifier.clear();
  };
  while (std::getline(in, line)) {
    if (line.find("-- BEGIN PROG LOAD LOG --") != std::string::npos) {
      inVerifier = true;
      continue;
    }
    if (line.find("-- END PROG LOAD LOG --") != std::string::npos) {
      inVerifier = false;
      flushVerifier();
      continue;
    }
    if (inVerifier) {
      verifier.push_back(line);
      continue;
    }
    if (line.empty()) continue;
    // Skip libbpf's "failed to load object" echo of the error we report anyway.
    out.push_back(line);
  }
  if (inVerifier) flushVerifier();
  if (out.size() > 8) out.erase(out.begin(), out.end() - 8);
  std::string s;
  for (const auto& l : out) {
    s += "\n  ";
    s += l;
  }
  return s;
}

void ThrowBpfError(Napi::Env env, const std::string& op, int err, const std::string& detail,
                   const std::string* log) {
  std::string code = ErrnoName(err);
  std::string message = op + ": " + ErrnoMessage(err) + " [" + code + "]";
  if (!detail.empty()) message += ": " + detail;
  if (log != nullptr && !log->empty()) message += SummarizeLog(*log);

  Napi::Object init = Napi::Object::New(env);
  init.Set("errno", Napi::Number::New(env, err));
  init.Set("code", Napi::String::New(env, code));
  init.Set("op", Napi::String::New(env, op));
  if (log != nullptr && !log->empty()) init.Set("log", Napi::String::New(env, *log));

  AddonData* data = GetData(env);
  if (data != nullptr && !data->errorClass.IsEmpty()) {
    Napi::Value e = data->errorClass.New({Napi::String::New(env, message), init});
    throw Napi::Error(env, e);
  }
  Napi::Error e = Napi::Error::New(env, message);
  Napi::Object eo = e.Value();
  eo.Set("name", Napi::String::New(env, "BpfError"));
  for (const char* k : {"errno", "code", "op", "log"}) {
    if (init.Has(k)) eo.Set(k, init.Get(k));
  }
  throw e;
}

void ThrowTypeError(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}

void ThrowClosed(Napi::Env env, const std::string& what) {
  ThrowBpfError(env, what, EBADF, "object is closed");
}

}  // namespace lbt
