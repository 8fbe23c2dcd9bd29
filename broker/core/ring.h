// Ring<T>: a FIFO on a circular buffer that owns no storage while empty.
//
// Sessions keep their outgoing inflight window and their queue in these. std::deque would do,
// but libstdc++'s deque allocates ~600 bytes as soon as it is constructed, and most of a
// broker's sessions are idle with both empty. A Ring is one pointer wide (its capacity, head
// and size live in front of the entries) and null until first used; storage grows by
// doubling and is kept while in use (no allocation per message in the steady state), and
// released when the ring empties after holding many entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace herald::core {

template <typename T>
class Ring {
public:
    Ring() = default;
    Ring(Ring&& o) noexcept : block_(std::exchange(o.block_, nullptr)) {}
    Ring& operator=(Ring&& o) noexcept {
        if (this != &o) {
            clear();
            block_ = std::exchange(o.block_, nullptr);
        }
        return *this;
    }
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;
    ~Ring() { clear(); }

    bool empty() const { return size() == 0; }
    size_t size() const { return block_ ? block_->size : 0; }

    T& operator[](size_t i) { return *slot(i); }
    const T& operator[](size_t i) const { return *slot(i); }
    T& front() { return *slot(0); }

    void push_back(T value) {
        if (!block_ || block_->size == block_->capacity) grow();
        new (slot(block_->size)) T(std::move(value));
        ++block_->size;
    }

    void pop_front() {
        slot(0)->~T();  // drops what it holds (a message reference) now
        block_->head = (block_->head + 1) & (block_->capacity - 1);
        if (--block_->size == 0) {
            block_->head = 0;
            if (block_->capacity > kKeepCapacity) clear();
        }
    }

    // Removes entry i, keeping the order of the rest (acks usually match near the front, so
    // the entries before i are the ones moved).
    void erase_at(size_t i) {
        for (size_t k = i; k > 0; --k) *slot(k) = std::move(*slot(k - 1));
        pop_front();
    }

    void clear() {
        if (!block_) return;
        for (uint32_t i = 0; i < block_->size; ++i) slot(i)->~T();
        ::operator delete(block_);
        block_ = nullptr;
    }

    // Range-for over the entries, oldest first.
    template <typename R, typename V>
    class Iter {
    public:
        Iter(R* ring, size_t i) : ring_(ring), i_(i) {}
        V& operator*() const { return (*ring_)[i_]; }
        V* operator->() const { return &(*ring_)[i_]; }
        Iter& operator++() {
            ++i_;
            return *this;
        }
        bool operator!=(const Iter& o) const { return i_ != o.i_; }

    private:
        R* ring_;
        size_t i_;
    };
    Iter<Ring, T> begin() { return {this, 0}; }
    Iter<Ring, T> end() { return {this, size()}; }
    Iter<const Ring, const T> begin() const { return {this, 0}; }
    Iter<const Ring, const T> end() const { return {this, size()}; }

private:
    static constexpr uint32_t kFirstCapacity = 4;  // power of two (index masking)
    static constexpr uint32_t kKeepCapacity = 64;  // more than this is freed once empty

    // One allocation: this header, then `capacity` slots of T (live ones constructed).
    struct Block {
        uint32_t capacity;
        uint32_t head;
        uint32_t size;
    };
    static constexpr size_t kSlotsOffset =
        (sizeof(Block) + alignof(T) - 1) / alignof(T) * alignof(T);
    static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);

    T* slots() const {
        return reinterpret_cast<T*>(reinterpret_cast<char*>(block_) + kSlotsOffset);
    }
    T* slot(size_t i) const { return slots() + ((block_->head + i) & (block_->capacity - 1)); }

    void grow() {
        const uint32_t size = block_ ? block_->size : 0;
        const uint32_t capacity = block_ ? block_->capacity * 2 : kFirstCapacity;
        auto* block = static_cast<Block*>(::operator new(kSlotsOffset + capacity * sizeof(T)));
        block->capacity = capacity;
        block->head = 0;
        block->size = size;
        T* to = reinterpret_cast<T*>(reinterpret_cast<char*>(block) + kSlotsOffset);
        for (uint32_t i = 0; i < size; ++i) {
            new (to + i) T(std::move(*slot(i)));
            slot(i)->~T();
        }
        if (block_) ::operator delete(block_);
        block_ = block;
    }

    Block* block_ = nullptr;  // null while the ring has never held anything (or was cleared)
};

}  // namespace herald::core
