// The timeline trace (timeline.h): per-thread record buffers and the Chrome
// trace-event writer.
#include "timeline.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "stream.h"
#include "sync.h"

namespace fastsync::timeline {

std::atomic<bool> g_on{false};

namespace {

constexpr int kThreadTrackBase = 1 << 20;  // stream tracks are stream indices below it

struct Record {
  char phase;  // 'X' span, 'i' memory point (and its counter)
  int track;
  const char* category;
  Name name;
  Name counter;  // 'i': the allocator's bytes-in-use counter
  int64_t ts;
  int64_t dur;
  uint64_t signal;
  uint64_t waits_for;
  int nargs;
  Arg args[2];
};

// One per thread that ever recorded; kept (by the registry) after the
// thread ends so stop() still finds what it recorded. A deque: growing it
// never copies what is recorded.
struct Buffer {
  alignas(64) sync::SpinMutex mutex;  // the owning thread, and start()/stop()
  std::deque<Record> records;
  int track;
  std::string thread_name;
};

// Guards the registry and the session fields below: start(), stop(), and a
// thread's first record.
std::mutex g_mutex;
std::vector<std::shared_ptr<Buffer>> g_buffers;
std::vector<std::function<void()>> g_hooks;
std::string g_path;
int64_t g_origin = 0;
std::atomic<uint64_t> g_next_signal{1};
std::atomic<uint64_t> g_session{0};

// Interned names: text by number, for the life of the process (a trace's
// names are few: primitives, and the runtime's own).
std::mutex g_names_mutex;
std::deque<std::string> g_names{""};
std::unordered_map<std::string, Name> g_name_ids;

thread_local std::shared_ptr<Buffer> t_buffer;
thread_local int t_task_stream = -1;

Buffer& buffer() {
  if (!t_buffer) {
    auto b = std::make_shared<Buffer>();
    char name[64] = {0};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    std::lock_guard lk(g_mutex);
    b->track = kThreadTrackBase + static_cast<int>(g_buffers.size());
    b->thread_name = "thread " + std::to_string(g_buffers.size() + 1) + " (" + name + ")";
    g_buffers.push_back(b);
    t_buffer = std::move(b);
  }
  return *t_buffer;
}

void push(const Record& r) {
  Buffer& b = buffer();
  std::lock_guard lk(b.mutex);
  b.records.push_back(r);
}

const std::string& name_text(Name n) {
  std::lock_guard lk(g_names_mutex);
  return g_names[n];
}

// JSON strings: primitive and stream names, escaped.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Nanoseconds as the format's microseconds, to the nanosecond.
std::string micros(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", static_cast<double>(ns) / 1000.0);
  return buf;
}

std::string track_name(int track) {
  if (track >= kThreadTrackBase) return "";
  const Stream& s = stream_state(track).stream;
  return std::string(s.device.type == Device::Type::gpu ? "gpu" : "cpu") + " stream " +
         std::to_string(track);
}

// Tracks become Chrome "threads" of one process: tid = track + 1; times
// count from the trace's start.
std::string where(int track, int64_t ts) {
  return "\"pid\":1,\"tid\":" + std::to_string(track + 1) + ",\"ts\":" + micros(ts - g_origin);
}

void write(const std::string& path, const std::vector<Record>& records,
           const std::vector<std::pair<int, std::string>>& threads) {
  std::ofstream f(path);
  if (!f) throw std::runtime_error("[trace] cannot write " + path);
  f << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  f << "{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":\"fastsync\"}}";
  // Track names: streams first (sorted by index), then threads.
  std::map<int, std::string> names;
  for (const Record& r : records) {
    if (r.track < kThreadTrackBase) names[r.track] = track_name(r.track);
  }
  for (const auto& [track, name] : threads) names[track] = name;
  for (const auto& [track, name] : names) {
    f << ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":" << track + 1
      << ",\"name\":\"thread_name\",\"args\":{\"name\":" << quoted(name) << "}}";
    f << ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":" << track + 1
      << ",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":" << track << "}}";
  }
  // Each signal (the first span that signals an id) and the waits for it.
  std::map<uint64_t, const Record*> signals;
  for (const Record& r : records) {
    if (r.signal) signals.emplace(r.signal, &r);
  }
  uint64_t arrow = 0;
  for (const Record& r : records) {
    f << ",\n{\"ph\":\"" << r.phase << "\",\"cat\":\"" << r.category
      << "\",\"name\":" << quoted(name_text(r.name)) << ",";
    if (r.phase == 'i') {
      // The allocator's bytes in use after this point, as a counter track.
      f << where(r.track, r.ts) << ",\"s\":\"t\",\"args\":{\"bytes\":" << r.args[0].value
        << ",\"in_use\":" << r.args[1].value << "}}";
      f << ",\n{\"ph\":\"C\",\"cat\":\"memory\",\"name\":" << quoted(name_text(r.counter))
        << ",\"pid\":1,\"ts\":" << micros(r.ts - g_origin)
        << ",\"args\":{\"bytes\":" << r.args[1].value << "}}";
      continue;
    }
    f << where(r.track, r.ts) << ",\"dur\":" << micros(r.dur) << ",\"args\":{";
    bool first = true;
    auto arg = [&](const char* key, int64_t v) {
      f << (first ? "" : ",") << "\"" << key << "\":" << v;
      first = false;
    };
    for (int i = 0; i < r.nargs; ++i) arg(r.args[i].key, r.args[i].value);
    if (r.signal) arg("signals", static_cast<int64_t>(r.signal));
    if (r.waits_for) arg("waits_for", static_cast<int64_t>(r.waits_for));
    auto from = r.waits_for ? signals.find(r.waits_for) : signals.end();
    if (from != signals.end()) {
      arg("released_by_track", from->second->track);
      arg("waited_ns", r.dur);
    }
    f << "}}";
    if (from != signals.end()) {
      // The arrow leaves the signal's span and lands on the wait's last
      // instant (bound to the enclosing slice on both ends).
      const Record& s = *from->second;
      ++arrow;
      f << ",\n{\"ph\":\"s\",\"cat\":\"flow\",\"name\":\"signal\",\"id\":" << arrow << ","
        << where(s.track, s.ts) << ",\"bp\":\"e\"}";
      f << ",\n{\"ph\":\"f\",\"cat\":\"flow\",\"name\":\"signal\",\"id\":" << arrow << ","
        << where(r.track, r.ts + (r.dur > 1 ? r.dur - 1 : 0)) << ",\"bp\":\"e\"}";
    }
  }
  f << "\n]}\n";
  if (!f) throw std::runtime_error("[trace] cannot write " + path);
}

}  // namespace

int64_t now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Track stream_track(int stream_index) { return Track{stream_index}; }

Track current_track() {
  if (t_task_stream >= 0) return Track{t_task_stream};
  return Track{buffer().track};
}

TaskScope::TaskScope(int stream_index) : saved_(std::exchange(t_task_stream, stream_index)) {}
TaskScope::~TaskScope() { t_task_stream = saved_; }

Name intern(const std::string& name) {
  std::lock_guard lk(g_names_mutex);
  auto [it, fresh] = g_name_ids.try_emplace(name, static_cast<Name>(g_names.size()));
  if (fresh) g_names.push_back(name);
  return it->second;
}

Name intern(const char* name) {
  // Names repeat (one per primitive): a small per-thread cache by address,
  // checked against the text (an address may be reused for another name).
  struct Entry {
    const char* ptr = nullptr;
    std::string text;
    Name id = 0;
  };
  thread_local Entry cache[64];
  Entry& e = cache[(reinterpret_cast<uintptr_t>(name) >> 3) % 64];
  if (e.ptr == name && e.text == name) return e.id;
  e.ptr = name;
  e.text = name;
  e.id = intern(e.text);
  return e.id;
}

void span(const Span& s, std::initializer_list<Arg> args) {
  Record r{
      'X',      s.track.id,  s.category, s.name, 0, s.begin, s.end > s.begin ? s.end - s.begin : 0,
      s.signal, s.waits_for, 0,          {}};
  for (const Arg& a : args) {
    if (r.nargs < 2) r.args[r.nargs++] = a;
  }
  push(r);
}

void memory(Track t, Name name, Name counter, int64_t bytes, int64_t in_use) {
  Record r{'i',
           t.id,
           "memory",
           name,
           counter,
           now(),
           0,
           0,
           0,
           2,
           {{"bytes", bytes}, {"in_use", in_use}}};
  push(r);
}

uint64_t new_signal_id() { return g_next_signal.fetch_add(1, std::memory_order_relaxed); }

void start(const std::string& path) {
  std::lock_guard lk(g_mutex);
  if (g_on.load()) throw std::logic_error("[trace] a trace is already recording into " + g_path);
  // The file is written at stop(): a path that cannot take it fails now, not
  // after the work it was to record.
  if (!std::ofstream(path)) throw std::runtime_error("[trace] cannot write " + path);
  for (auto& b : g_buffers) {
    std::lock_guard blk(b->mutex);
    b->records.clear();
  }
  g_path = path;
  g_origin = now();
  g_session.fetch_add(1);
  g_on.store(true);
}

std::string stop() {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard lk(g_mutex);
    if (!g_on.load()) throw std::logic_error("[trace] no trace is recording");
    g_on.store(false);
    hooks = g_hooks;
  }
  // Outside the lock: a hook records (a thread's first record takes it).
  for (auto& h : hooks) h();
  std::lock_guard lk(g_mutex);
  std::vector<Record> records;
  std::vector<std::pair<int, std::string>> threads;
  for (auto& b : g_buffers) {
    std::lock_guard blk(b->mutex);
    if (b->records.empty()) continue;
    bool own_track = false;
    for (auto& r : b->records) {
      own_track |= r.track == b->track;
      records.push_back(r);
    }
    b->records.clear();
    if (own_track) threads.emplace_back(b->track, b->thread_name);
  }
  std::stable_sort(records.begin(), records.end(),
                   [](const Record& a, const Record& b) { return a.ts < b.ts; });
  write(g_path, records, threads);
  return g_path;
}

uint64_t session() { return g_session.load(std::memory_order_relaxed); }

void on_stop(std::function<void()> hook) {
  std::lock_guard lk(g_mutex);
  g_hooks.push_back(std::move(hook));
}

}  // namespace fastsync::timeline
