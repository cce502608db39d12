// The shared dlopen search (dynlib.h).
#include "dynlib.h"

#include <sys/stat.h>

#include <cstdlib>

namespace fastsync::dynlib {

namespace {

std::string dlerror_text() {
  const char* e = dlerror();
  return e ? e : "unknown error";
}

// One line of "Tried:": dlerror's message usually names the path already.
std::string tried_line(const std::string& path, const std::string& reason) {
  return "\n  " + (reason.rfind(path, 0) == 0 ? reason : path + ": " + reason);
}

}  // namespace

void* Symbols::find(const char* name, bool required) {
  void* p = dlsym(handle_, name);
  if (!p && required && missing_.empty()) missing_ = name;
  return p;
}

std::optional<Library> load(const std::vector<Candidate>& candidates,
                            const std::function<void(Symbols&)>& resolve, const Describe& describe,
                            std::string* why) {
  std::string tried;
  for (const auto& cand : candidates) {
    dlerror();
    void* h = nullptr;
    if (cand.already_loaded) {
      h = dlopen(cand.path.c_str(), cand.flags | RTLD_NOLOAD);
      if (!h) continue;  // not in the process: not worth listing
    } else {
      bool preloaded = true;
      for (const auto& pre : cand.preload) {
        if (!dlopen(pre.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
          tried += tried_line(pre, dlerror_text());
          preloaded = false;
          break;
        }
      }
      if (!preloaded) continue;
      h = dlopen(cand.path.c_str(), cand.flags);
      if (!h) {
        tried += tried_line(cand.path, dlerror_text());
        continue;
      }
    }
    Symbols sym(h);
    resolve(sym);
    if (!sym.missing().empty()) {
      // Left loaded: see dynlib.h.
      tried += "\n  " + cand.path + ": loaded, but it has no symbol " + sym.missing() + " (" +
               describe.needs + ")";
      continue;
    }
    return Library{h, cand.path};
  }
  *why = "cannot load " + describe.name +
         ". Tried:" + (tried.empty() ? std::string("\n  (nothing found)") : tried) + "\n" +
         describe.hint;
  return std::nullopt;
}

std::vector<PathEntry> path_entries(const char* var) {
  std::vector<PathEntry> out;
  const char* env = std::getenv(var);
  if (!env || !*env) return out;
  std::string s = env;
  for (size_t start = 0; start <= s.size();) {
    size_t end = s.find(':', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) {
      std::string entry = s.substr(start, end - start);
      bool dir = is_dir(entry);
      out.push_back({std::move(entry), dir});
    }
    start = end + 1;
  }
  return out;
}

bool is_dir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

}  // namespace fastsync::dynlib
