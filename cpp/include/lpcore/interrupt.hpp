// Cooperative interruption of the long loops. A fit's trip counts come from
// the user (epoch_length, max_iter, the size of X), and so do the timing
// harness's (reps, inner), so every loop that runs them must be stoppable:
// the caller may install a check (SolverConfig::interrupt_check, the bench
// functions' `interrupt`; the Python bindings install PyErr_CheckSignals, so
// Ctrl-C raises KeyboardInterrupt), and the loops count their work here and
// poll the check once every kPollWork units (one unit: one coordinate read
// or updated).
#pragma once

#include <cstddef>
#include <exception>
#include <functional>

namespace lpcore {

// Thrown out of a polled loop (fit(), the timing harness) when the check asked
// to stop; the loop's state is lost.
struct Interrupted : std::exception {
  const char* what() const noexcept override { return "lpcore: interrupted"; }
};

using InterruptCheck = std::function<bool()>;

// The work an epoch counts beyond its rows and steps, so that a fit of many
// tiny epochs is polled too.
constexpr std::size_t kEpochWork = 256;

class InterruptPoll {
 public:
  static constexpr std::size_t kPollWork = std::size_t{1} << 24;

  explicit InterruptPoll(const InterruptCheck& check) : check_(check) {}

  // Counts `units` of work; polls once kPollWork have accumulated.
  void add(std::size_t units) {
    if (!check_) return;
    done_ += units;
    if (done_ < kPollWork) return;
    done_ = 0;
    if (check_()) throw Interrupted();
  }

 private:
  InterruptCheck check_;
  std::size_t done_ = 0;
};

}  // namespace lpcore
