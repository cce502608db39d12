#include "backend/common/flow.h"

#include <algorithm>
#include <unordered_set>

#include "array.h"

namespace fastsync {

void Flow::push(uint64_t position, bool copy, const std::vector<std::shared_ptr<Data>>& ins,
                const std::vector<std::shared_ptr<Data>>& outs) {
  std::lock_guard lk(m_);
  const size_t first = ins_.size();
  for (auto& d : ins) {
    // An op declares an input once per kernel that reads it, and the
    // driver once more: log each buffer once.
    if (!d || std::any_of(ins_.begin() + first, ins_.end(),
                          [&](const Ref& r) { return r.key == d.get(); })) {
      continue;
    }
    ins_.push_back({d.get(), d});
  }
  for (auto& d : outs) {
    if (d) outs_.push_back({d.get(), d});
  }
  ops_.push_back(
      {position, static_cast<uint32_t>(ins_.size()), static_cast<uint32_t>(outs_.size()), copy});
}

void Flow::add(uint64_t position, const std::vector<std::shared_ptr<Data>>& ins,
               const std::vector<std::shared_ptr<Data>>& outs) {
  push(position, false, ins, outs);
}

void Flow::copy(const std::shared_ptr<Data>& in, const std::shared_ptr<Data>& out) {
  push(0, true, {in}, {out});
}

void Flow::close() {
  std::lock_guard lk(m_);
  closed_ = true;
}

size_t Flow::size() const {
  std::lock_guard lk(m_);
  return ops_.size();
}

void Flow::fail(uint64_t position, const scheduler::ErrorRef& e) { fail(position, position, e); }

void Flow::fail(uint64_t first, uint64_t last, const scheduler::ErrorRef& e) {
  std::lock_guard lk(m_);
  failed_.push_back({first, last, e});
}

void Flow::taint(const std::weak_ptr<Data>& d, const Data* key, const scheduler::ErrorRef& e) {
  std::lock_guard lk(m_);
  spoiled_.emplace(key, Spoiled{d, e});
}

void Flow::absorb(const Flow& source) {
  if (&source == this) return;
  std::unordered_map<const Data*, Spoiled> found;
  {
    std::lock_guard lk(source.m_);
    found = source.spoiled_;
  }
  std::lock_guard lk(m_);
  // Only what an op here may read: a live buffer, or a dead one an op
  // logged already read (no later op can read it). So a loop that keeps
  // failing does not carry every earlier failure from flow to flow.
  std::unordered_set<const Data*> read;
  bool read_known = false;
  for (auto& [key, s] : found) {
    if (spoiled_.count(key)) continue;
    if (s.pin.expired()) {
      if (!read_known) {
        for (auto& r : ins_) read.insert(r.key);
        read_known = true;
      }
      if (!read.count(key)) continue;
    }
    spoiled_.emplace(key, std::move(s));
  }
}

scheduler::ErrorRef Flow::failure(const Op& op) const {
  if (op.copy) return nullptr;
  for (auto& f : failed_) {
    if (f.first <= op.position && op.position <= f.last) return f.error;
  }
  return nullptr;
}

scheduler::ErrorRef Flow::spoiled(const Ref& r) const {
  // Not the buffer's own flag: it may have been spoiled after this op read
  // it (donated to a later op that failed). What arrived spoiled is in the
  // set already (absorb, taint).
  auto it = spoiled_.find(r.key);
  return it != spoiled_.end() ? it->second.error : nullptr;
}

void Flow::spoil(const Ref& r, const scheduler::ErrorRef& e) {
  spoiled_.emplace(r.key, Spoiled{r.pin, e});
  if (auto d = r.pin.lock()) d->spoil(e);
}

void Flow::walk(size_t end) {
  std::lock_guard lk(m_);
  end = std::min(end, ops_.size());
  if (walked_ >= end) return;
  // Nothing failed and nothing arrived spoiled: no op can be spoiled (what
  // was spoiled elsewhere arrives through a probe's absorb or taint).
  if (!failed_.empty() || !spoiled_.empty()) {
    for (size_t i = walked_; i < end; ++i) {
      const Op& op = ops_[i];
      uint32_t in0 = i ? ops_[i - 1].ins_end : 0, out0 = i ? ops_[i - 1].outs_end : 0;
      scheduler::ErrorRef e = failure(op);
      for (uint32_t k = in0; !e && k < op.ins_end; ++k) e = spoiled(ins_[k]);
      if (!e) continue;
      for (uint32_t k = out0; k < op.outs_end; ++k) spoil(outs_[k], e);
    }
  }
  walked_ = end;
  if (closed_ && walked_ == ops_.size()) {
    // Settled to the end: only the spoiled set is asked for from now on.
    std::vector<Op>().swap(ops_);
    std::vector<Ref>().swap(ins_);
    std::vector<Ref>().swap(outs_);
    walked_ = 0;
  }
}

}  // namespace fastsync
