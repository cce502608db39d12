#include "ops/einsum.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "ops/linalg.h"
#include "ops/ops.h"

namespace fastsync {

namespace {

// A label is a letter's character code; the axes an ellipsis covers are
// kEllipsis + k, k counted from the right, so they align across operands as
// broadcasting does.
using Label = int;
using Labels = std::vector<Label>;
using LabelSet = std::set<Label>;
constexpr Label kEllipsis = 256;

[[noreturn]] void fail(const std::string& why) { throw std::invalid_argument("[einsum] " + why); }

struct Spec {
  std::vector<Labels> inputs;  // one label per axis of each operand
  Labels output;
  std::map<Label, int64_t> sizes;  // each label's size, size-1 axes broadcast
  std::vector<std::string> terms;  // the input terms as written
  std::string output_term;
};

// The labels of one term; "..." becomes `ellipsis` axes (for an input, its
// rank minus its letters).
Labels parse_term(const std::string& term, int ndim, bool is_output, int out_rank,
                  bool& has_ellipsis) {
  Labels before, after;
  has_ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    char c = term[i];
    if (c == '.') {
      if (term.compare(i, 3, "...") != 0)
        fail("'.' must be part of an ellipsis '...' in '" + term + "'");
      if (has_ellipsis) fail("a term may contain one ellipsis, got '" + term + "'");
      has_ellipsis = true;
      i += 2;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      (has_ellipsis ? after : before).push_back(c);
    } else {
      fail(std::string("subscripts may contain only letters, ',', '->' and '...', got '") + c +
           "'");
    }
  }
  int letters = static_cast<int>(before.size() + after.size());
  int rank = 0;
  if (is_output) {
    rank = has_ellipsis ? out_rank : 0;
  } else if (has_ellipsis) {
    rank = ndim - letters;
    if (rank < 0) {
      fail("term '" + term + "' has " + std::to_string(letters) + " labels but its operand has " +
           std::to_string(ndim) + " dimensions");
    }
  } else if (letters != ndim) {
    fail("term '" + term + "' has " + std::to_string(letters) + " labels but its operand has " +
         std::to_string(ndim) + " dimensions");
  }
  Labels out = before;
  for (int k = rank - 1; k >= 0; --k) out.push_back(kEllipsis + k);
  out.insert(out.end(), after.begin(), after.end());
  return out;
}

Spec parse(std::string subscripts, const std::vector<array>& operands) {
  subscripts.erase(std::remove_if(subscripts.begin(), subscripts.end(),
                                  [](unsigned char c) { return std::isspace(c); }),
                   subscripts.end());
  if (operands.empty()) fail("at least one operand is required");
  Spec spec;
  size_t arrow = subscripts.find("->");
  std::string lhs = subscripts.substr(0, arrow);
  if (arrow != std::string::npos && subscripts.find("->", arrow + 2) != std::string::npos) {
    fail("subscripts may contain one '->', got '" + subscripts + "'");
  }
  size_t start = 0;
  while (true) {
    size_t comma = lhs.find(',', start);
    spec.terms.push_back(lhs.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (spec.terms.size() != operands.size()) {
    fail("the subscripts '" + subscripts + "' name " + std::to_string(spec.terms.size()) +
         " operands but " + std::to_string(operands.size()) + " were given");
  }
  int ell_rank = 0;
  std::map<Label, int> count;
  for (size_t i = 0; i < operands.size(); ++i) {
    bool ell;
    Labels labels = parse_term(spec.terms[i], operands[i].ndim(), false, 0, ell);
    std::map<Label, int64_t> own;
    for (size_t d = 0; d < labels.size(); ++d) {
      Label l = labels[d];
      int64_t n = operands[i].shape(static_cast<int>(d));
      if (l >= kEllipsis) ell_rank = std::max(ell_rank, l - kEllipsis + 1);
      ++count[l];
      auto [it, fresh] = own.emplace(l, n);
      if (!fresh && it->second != n) {
        fail("label '" + std::string(1, static_cast<char>(l)) + "' repeats in operand " +
             std::to_string(i) + " over axes of sizes " + std::to_string(it->second) + " and " +
             std::to_string(n));
      }
      auto g = spec.sizes.find(l);
      if (g == spec.sizes.end() || g->second == 1) {
        spec.sizes[l] = n;
      } else if (n != 1 && n != g->second) {
        std::string name = l >= kEllipsis ? "a broadcast (...) axis"
                                          : "label '" + std::string(1, static_cast<char>(l)) + "'";
        fail(name + " has size " + std::to_string(g->second) + " in one operand and " +
             std::to_string(n) + " in operand " + std::to_string(i));
      }
    }
    spec.inputs.push_back(std::move(labels));
  }
  if (arrow != std::string::npos) {
    spec.output_term = subscripts.substr(arrow + 2);
    bool ell;
    spec.output = parse_term(spec.output_term, 0, true, ell_rank, ell);
    if (!ell && ell_rank > 0) {
      fail("the operands have broadcast (...) axes but the output '" + spec.output_term +
           "' has no '...' to hold them");
    }
    LabelSet seen;
    for (Label l : spec.output) {
      if (!seen.insert(l).second) {
        fail("output label '" + std::string(1, static_cast<char>(l)) + "' appears more than once");
      }
      if (!spec.sizes.count(l)) {
        fail("output label '" + std::string(1, static_cast<char>(l)) +
             "' does not appear in any input");
      }
    }
  } else {
    // NumPy's implicit output: the broadcast axes, then the letters that
    // appear once, in alphabetical (character code) order.
    for (int k = ell_rank - 1; k >= 0; --k) spec.output.push_back(kEllipsis + k);
    for (auto [l, n] : count) {
      if (l < kEllipsis && n == 1) spec.output.push_back(l);
    }
  }
  return spec;
}

// --- NumPy's greedy contraction order ------------------------------------
// Reproduced step for step (its cost model, tie-breaking and memory limit),
// so einsum_path gives the path numpy.einsum_path gives.

double size_of(const LabelSet& s, const std::map<Label, int64_t>& sizes) {
  double n = 1;
  for (Label l : s) n *= static_cast<double>(sizes.at(l));
  return n;
}

struct Contraction {
  LabelSet result;
  std::vector<LabelSet> remaining;  // the other operands, then the result
  LabelSet removed;
  LabelSet contract;
};

Contraction find_contraction(const std::vector<int>& positions, const std::vector<LabelSet>& inputs,
                             const LabelSet& output) {
  Contraction c;
  LabelSet remain = output;
  for (int i = 0; i < static_cast<int>(inputs.size()); ++i) {
    if (std::find(positions.begin(), positions.end(), i) != positions.end()) {
      c.contract.insert(inputs[i].begin(), inputs[i].end());
    } else {
      c.remaining.push_back(inputs[i]);
      remain.insert(inputs[i].begin(), inputs[i].end());
    }
  }
  for (Label l : c.contract) (remain.count(l) ? c.result : c.removed).insert(l);
  c.remaining.push_back(c.result);
  return c;
}

double flop_count(const LabelSet& contract, bool inner, int terms,
                  const std::map<Label, int64_t>& sizes) {
  double factor = std::max(1, terms - 1) + (inner ? 1 : 0);
  return size_of(contract, sizes) * factor;
}

struct Candidate {
  double neg_removed;
  double cost;
  std::pair<int, int> pos;
  std::vector<LabelSet> sets;
  bool operator<(const Candidate& o) const {
    return neg_removed != o.neg_removed ? neg_removed < o.neg_removed : cost < o.cost;
  }
};

std::optional<Candidate> try_pair(std::pair<int, int> pos, const std::vector<LabelSet>& inputs,
                                  const LabelSet& output, const std::map<Label, int64_t>& sizes,
                                  double memory_limit, double path_cost, double naive_cost) {
  Contraction c = find_contraction({pos.first, pos.second}, inputs, output);
  double new_size = size_of(c.result, sizes);
  if (new_size > memory_limit) return std::nullopt;
  double removed =
      size_of(inputs[pos.first], sizes) + size_of(inputs[pos.second], sizes) - new_size;
  double cost = flop_count(c.contract, !c.removed.empty(), 2, sizes);
  if (path_cost + cost > naive_cost) return std::nullopt;
  return Candidate{-removed, cost, pos, std::move(c.remaining)};
}

std::vector<std::vector<int>> greedy_path(std::vector<LabelSet> inputs, const LabelSet& output,
                                          const std::map<Label, int64_t>& sizes,
                                          double memory_limit) {
  const int n = static_cast<int>(inputs.size());
  if (n == 1) return {{0}};
  if (n == 2) return {{0, 1}};
  std::vector<int> all(n);
  for (int i = 0; i < n; ++i) all[i] = i;
  Contraction naive = find_contraction(all, inputs, output);
  double naive_cost = flop_count(naive.contract, !naive.removed.empty(), n, sizes);

  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) pairs.emplace_back(i, j);
  }
  std::vector<Candidate> known;
  std::vector<std::vector<int>> path;
  double path_cost = 0;
  for (int step = 0; step < n - 1; ++step) {
    for (auto p : pairs) {
      const LabelSet& a = inputs[p.first];
      const LabelSet& b = inputs[p.second];
      bool disjoint = std::none_of(a.begin(), a.end(), [&](Label l) { return b.count(l); });
      if (disjoint) continue;  // outer products only when nothing else is left
      if (auto c = try_pair(p, inputs, output, sizes, memory_limit, path_cost, naive_cost)) {
        known.push_back(std::move(*c));
      }
    }
    if (known.empty()) {
      const int m = static_cast<int>(inputs.size());
      for (int i = 0; i < m; ++i) {
        for (int j = i + 1; j < m; ++j) {
          if (auto c =
                  try_pair({i, j}, inputs, output, sizes, memory_limit, path_cost, naive_cost)) {
            known.push_back(std::move(*c));
          }
        }
      }
      if (known.empty()) {
        std::vector<int> rest(m);
        for (int i = 0; i < m; ++i) rest[i] = i;
        path.push_back(rest);
        break;
      }
    }
    Candidate best = *std::min_element(known.begin(), known.end());
    // Keep the candidates that do not involve the contracted pair,
    // renumbered for the new list of operands.
    auto [bx, by] = best.pos;
    std::vector<Candidate> kept;
    for (Candidate& c : known) {
      auto [x, y] = c.pos;
      if (x == bx || x == by || y == bx || y == by) continue;
      c.sets.erase(c.sets.begin() + (by - (by > x) - (by > y)));
      c.sets.erase(c.sets.begin() + (bx - (bx > x) - (bx > y)));
      c.sets.insert(c.sets.end() - 1, best.sets.back());
      c.pos = {x - (x > bx) - (x > by), y - (y > bx) - (y > by)};
      kept.push_back(std::move(c));
    }
    known = std::move(kept);
    inputs = best.sets;
    const int last = static_cast<int>(inputs.size()) - 1;
    pairs.clear();
    for (int i = 0; i < last; ++i) pairs.emplace_back(i, last);
    path.push_back({bx, by});
    path_cost += best.cost;
  }
  return path;
}

std::vector<std::vector<int>> plan(const Spec& spec) {
  std::vector<LabelSet> sets;
  LabelSet all;
  double memory_limit = 1;
  auto term_size = [&](const Labels& ls) {
    double n = 1;
    for (Label l : ls) n *= static_cast<double>(spec.sizes.at(l));
    return n;
  };
  for (const Labels& ls : spec.inputs) {
    sets.emplace_back(ls.begin(), ls.end());
    all.insert(ls.begin(), ls.end());
    memory_limit = std::max(memory_limit, term_size(ls));
  }
  memory_limit = std::max(memory_limit, term_size(spec.output));
  LabelSet output(spec.output.begin(), spec.output.end());
  const int n = static_cast<int>(sets.size());
  if (n <= 2 || all == output) {
    std::vector<int> every(n);
    for (int i = 0; i < n; ++i) every[i] = i;
    return {every};
  }
  return greedy_path(std::move(sets), output, spec.sizes, memory_limit);
}

// --- execution -------------------------------------------------------------

struct Term {
  array a;
  Labels labels;
};

int index_of(const Labels& ls, Label l) {
  return static_cast<int>(std::find(ls.begin(), ls.end(), l) - ls.begin());
}

// Sums the axes whose labels are not in `keep`.
Term sum_except(Term t, const LabelSet& keep, const Stream& s) {
  std::vector<int> axes;
  Labels rest;
  for (int d = 0; d < static_cast<int>(t.labels.size()); ++d) {
    if (keep.count(t.labels[d])) {
      rest.push_back(t.labels[d]);
    } else {
      axes.push_back(d);
    }
  }
  if (axes.empty()) return t;
  return {sum(t.a, axes, false, s), rest};
}

// Takes the diagonal over each label the term repeats.
Term diagonals(Term t, const Stream& s) {
  for (bool again = true; again;) {
    again = false;
    for (int i = 0; i < static_cast<int>(t.labels.size()) && !again; ++i) {
      for (int j = i + 1; j < static_cast<int>(t.labels.size()); ++j) {
        if (t.labels[i] != t.labels[j]) continue;
        Label l = t.labels[i];
        t.a = diagonal(t.a, 0, i, j, s);  // the diagonal becomes the last axis
        t.labels.erase(t.labels.begin() + j);
        t.labels.erase(t.labels.begin() + i);
        t.labels.push_back(l);
        again = true;
        break;
      }
    }
  }
  return t;
}

// t's axes ordered as `order`; labels t lacks become size-1 axes.
array arrange(const Term& t, const Labels& order, const Stream& s) {
  std::vector<int> perm;
  for (Label l : order) {
    int i = index_of(t.labels, l);
    if (i < static_cast<int>(t.labels.size())) perm.push_back(i);
  }
  array a = transpose(t.a, perm, s);
  std::vector<int> missing;
  for (int d = 0; d < static_cast<int>(order.size()); ++d) {
    if (index_of(t.labels, order[d]) == static_cast<int>(t.labels.size())) missing.push_back(d);
  }
  return missing.empty() ? a : expand_dims(a, missing, s);
}

// Contracts two terms, keeping the labels in `keep` (the output's and those
// of operands still to come).
Term contract(Term x, Term y, const LabelSet& keep, const Spec& spec, const Stream& s) {
  LabelSet lx(x.labels.begin(), x.labels.end()), ly(y.labels.begin(), y.labels.end());
  LabelSet keep_x = keep, keep_y = keep;
  keep_x.insert(ly.begin(), ly.end());
  keep_y.insert(lx.begin(), lx.end());
  x = sum_except(std::move(x), keep_x, s);
  y = sum_except(std::move(y), keep_y, s);
  Labels batch, contracted, free_x, free_y;
  for (Label l : x.labels) {
    bool shared = index_of(y.labels, l) < static_cast<int>(y.labels.size());
    if (!shared) {
      free_x.push_back(l);
    } else {
      (keep.count(l) ? batch : contracted).push_back(l);
    }
  }
  for (Label l : y.labels) {
    if (index_of(x.labels, l) == static_cast<int>(x.labels.size())) free_y.push_back(l);
  }
  Labels result = batch;
  result.insert(result.end(), free_x.begin(), free_x.end());
  result.insert(result.end(), free_y.begin(), free_y.end());

  if (contracted.empty() || !is_inexact(x.a.dtype())) {
    // A broadcast product, then a sum over what it contracts.
    Labels order = result;
    order.insert(order.end(), contracted.begin(), contracted.end());
    array p = multiply(arrange(x, order, s), arrange(y, order, s), s);
    if (!contracted.empty()) {
      std::vector<int> axes;
      for (size_t i = result.size(); i < order.size(); ++i) axes.push_back(static_cast<int>(i));
      p = sum(p, axes, false, s);
    }
    return {p, result};
  }
  // (batch, M, K) @ (batch, K, N): the contracted axes broadcast to their
  // full size first, so that K agrees.
  auto own = [](const Term& t, Label l) { return t.a.shape(index_of(t.labels, l)); };
  auto full = [&](Term t) {
    Shape shape = t.a.shape();
    bool grow = false;
    for (Label l : contracted) {
      int i = index_of(t.labels, l);
      if (shape[i] != spec.sizes.at(l)) {
        shape[i] = spec.sizes.at(l);
        grow = true;
      }
    }
    if (grow) t.a = broadcast_to(t.a, shape, s);
    return t;
  };
  x = full(std::move(x));
  y = full(std::move(y));
  Labels ox = batch, oy = batch;
  ox.insert(ox.end(), free_x.begin(), free_x.end());
  ox.insert(ox.end(), contracted.begin(), contracted.end());
  oy.insert(oy.end(), contracted.begin(), contracted.end());
  oy.insert(oy.end(), free_y.begin(), free_y.end());
  Shape bx, by, fx, fy;
  int64_t m = 1, n = 1, k = 1;
  for (Label l : batch) {
    bx.push_back(own(x, l));
    by.push_back(own(y, l));
  }
  for (Label l : free_x) {
    fx.push_back(own(x, l));
    m *= fx.back();
  }
  for (Label l : free_y) {
    fy.push_back(own(y, l));
    n *= fy.back();
  }
  for (Label l : contracted) k *= spec.sizes.at(l);
  Shape sx = bx, sy = by;
  sx.insert(sx.end(), {m, k});
  sy.insert(sy.end(), {k, n});
  array p = matmul(reshape(arrange(x, ox, s), sx, s), reshape(arrange(y, oy, s), sy, s), s);
  Shape out(p.shape().begin(), p.shape().end() - 2);
  out.insert(out.end(), fx.begin(), fx.end());
  out.insert(out.end(), fy.begin(), fy.end());
  return {reshape(p, out, s), result};
}

std::string label_text(const Spec& spec, const Labels& ls) {
  // Broadcast axes print as letters no term uses, as NumPy does.
  LabelSet used;
  for (const Labels& l : spec.inputs) used.insert(l.begin(), l.end());
  std::string spare;
  for (char c : std::string("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
    if (!used.count(c)) spare.push_back(c);
  }
  std::string out;
  for (Label l : ls) {
    int k = l - kEllipsis;
    out.push_back(l < kEllipsis ? static_cast<char>(l)
                                : (k < static_cast<int>(spare.size()) ? spare[k] : '?'));
  }
  return out;
}

}  // namespace

array einsum(const std::string& subscripts, const std::vector<array>& operands, StreamOrDevice s) {
  Spec spec = parse(subscripts, operands);
  std::vector<std::vector<int>> path = plan(spec);
  Stream st = to_stream(s);
  Dtype t = operands[0].dtype();
  for (const array& a : operands) t = promote_types(t, a.dtype());
  std::vector<Term> terms;
  for (size_t i = 0; i < operands.size(); ++i) {
    array a = operands[i].dtype() == t ? operands[i] : astype(operands[i], t, st);
    terms.push_back(diagonals({a, spec.inputs[i]}, st));
  }
  const LabelSet output(spec.output.begin(), spec.output.end());
  for (const std::vector<int>& step : path) {
    std::vector<Term> picked, rest;
    for (int i = 0; i < static_cast<int>(terms.size()); ++i) {
      bool in = std::find(step.begin(), step.end(), i) != step.end();
      (in ? picked : rest).push_back(terms[i]);
    }
    // Fold the step's operands left to right, keeping whatever the output,
    // the other operands or the step's later operands still need.
    auto needed = [&](size_t from) {
      LabelSet keep = output;
      for (const Term& r : rest) keep.insert(r.labels.begin(), r.labels.end());
      for (size_t j = from; j < picked.size(); ++j) {
        keep.insert(picked[j].labels.begin(), picked[j].labels.end());
      }
      return keep;
    };
    Term acc = picked[0];
    if (picked.size() == 1) acc = sum_except(std::move(acc), needed(1), st);
    for (size_t j = 1; j < picked.size(); ++j) {
      acc = contract(std::move(acc), picked[j], needed(j + 1), spec, st);
    }
    rest.push_back(std::move(acc));
    terms = std::move(rest);
  }
  Term last = sum_except(std::move(terms.back()), output, st);
  array out = arrange(last, spec.output, st);
  // Sums of bool count (int32); NumPy's bool einsum is an or of ands.
  if (out.dtype() != t) out = astype(out, t, st);
  Shape shape;
  for (Label l : spec.output) shape.push_back(spec.sizes.at(l));
  return out.shape() == shape ? out : broadcast_to(out, shape, st);
}

std::pair<std::vector<std::vector<int>>, std::string> einsum_path(
    const std::string& subscripts, const std::vector<array>& operands) {
  Spec spec = parse(subscripts, operands);
  std::vector<std::vector<int>> path = plan(spec);
  // The report: each step's contraction and the cost of the path against
  // contracting everything at once.
  std::vector<Labels> terms = spec.inputs;
  LabelSet output(spec.output.begin(), spec.output.end());
  LabelSet every;
  for (const Labels& l : terms) every.insert(l.begin(), l.end());
  std::vector<LabelSet> sets;
  for (const Labels& l : terms) sets.emplace_back(l.begin(), l.end());
  std::vector<int> all(sets.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  Contraction naive = find_contraction(all, sets, output);
  double naive_cost =
      flop_count(naive.contract, !naive.removed.empty(), static_cast<int>(sets.size()), spec.sizes);
  double opt_cost = 0, largest = 0;
  std::string steps;
  for (const std::vector<int>& step : path) {
    Contraction c = find_contraction(step, sets, output);
    opt_cost +=
        flop_count(c.contract, !c.removed.empty(), static_cast<int>(step.size()), spec.sizes);
    largest = std::max(largest, size_of(c.result, spec.sizes));
    std::string lhs;
    for (size_t j = 0; j < step.size(); ++j) {
      lhs += (j ? "," : "") + label_text(spec, Labels(sets[step[j]].begin(), sets[step[j]].end()));
    }
    steps += "  " + lhs + "->" + label_text(spec, Labels(c.result.begin(), c.result.end())) + "\n";
    sets = c.remaining;
  }
  std::string lhs;
  for (size_t i = 0; i < terms.size(); ++i) lhs += (i ? "," : "") + label_text(spec, terms[i]);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "  Complete contraction:  %s->%s\n"
                "      Naive FLOP count:  %.3e\n"
                "  Optimized FLOP count:  %.3e\n"
                "   Theoretical speedup:  %.3f\n"
                "  Largest intermediate:  %.3e elements\n"
                "Steps:\n",
                lhs.c_str(), label_text(spec, spec.output).c_str(), naive_cost, opt_cost,
                opt_cost > 0 ? naive_cost / opt_cost : 1.0, largest);
  return {path, std::string(buf) + steps};
}

}  // namespace fastsync
