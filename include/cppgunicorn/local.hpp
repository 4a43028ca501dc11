// SPDX-License-Identifier: MIT
// Per-thread isolated storage, werkzeug's Local and LocalStack in C++.
//
//   cppg::Local<int> counter;            // one int per thread, per Local object
//   counter.get() = 1;                   // this thread's value; other threads unaffected
//
//   cppg::LocalStack<Ctx> stack;         // one stack per thread
//   stack.push(ctx); stack.top(); stack.pop();
//
// Values live until their thread ends. Usable by app authors for their own per-thread state.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace cppg {

namespace detail {

// One map per thread: Local id -> that thread's value. Ids are never reused, so a value of a
// destroyed Local can never be mistaken for a newer one's.
inline std::unordered_map<uint64_t, std::shared_ptr<void>>& thread_values() {
    thread_local std::unordered_map<uint64_t, std::shared_ptr<void>> values;
    return values;
}

inline uint64_t next_local_id() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace detail

template <typename T>
class Local {
public:
    Local() : id_(detail::next_local_id()) {}
    Local(const Local&) = delete;
    Local& operator=(const Local&) = delete;

    // This thread's value, default-constructed on its first use in this thread.
    T& get() {
        auto& slot = detail::thread_values()[id_];
        if (!slot) slot = std::make_shared<T>();
        return *static_cast<T*>(slot.get());
    }
    // Whether this thread has touched its value yet.
    bool has_value() const { return detail::thread_values().count(id_) != 0; }
    // Drops this thread's value (the next get() starts fresh).
    void reset() { detail::thread_values().erase(id_); }

private:
    uint64_t id_;
};

template <typename T>
class LocalStack {
public:
    void push(std::shared_ptr<T> item) { local_.get().push_back(std::move(item)); }
    // Removes and returns the top, or nullptr when this thread's stack is empty.
    std::shared_ptr<T> pop() {
        auto& items = local_.get();
        if (items.empty()) return nullptr;
        auto top = std::move(items.back());
        items.pop_back();
        return top;
    }
    // The top of this thread's stack, or nullptr: a thread that never pushed sees nothing.
    T* top() {
        auto& items = local_.get();
        return items.empty() ? nullptr : items.back().get();
    }
    std::shared_ptr<T> top_shared() {
        auto& items = local_.get();
        return items.empty() ? nullptr : items.back();
    }
    size_t size() { return local_.get().size(); }

private:
    Local<std::vector<std::shared_ptr<T>>> local_;
};

}  // namespace cppg
