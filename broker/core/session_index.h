// SessionIndex: the sessions by client id, as an intrusive chained hash table.
//
// A broker holds one session per client id, most of them idle, and std::unordered_map spent
// a 48-byte node per entry on top of the session. Here the chain link lives in the Session
// (index_next) and the key is the Session's own client_id, so an entry costs a share of the
// bucket array (4 to 8 bytes) and nothing is allocated per session. Iteration yields
// (client id, Session*) pairs, as the map did. Does not own the sessions (session_slots).
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/core/session.h"

namespace herald::core {

class SessionIndex {
public:
    size_t size() const { return size_; }
    size_t count(std::string_view client_id) const { return find(client_id) ? 1 : 0; }

    Session* find(std::string_view client_id) const {
        if (buckets_.empty()) return nullptr;
        for (Session* s = buckets_[bucket(client_id)]; s; s = s->index_next)
            if (s->client_id == client_id) return s;
        return nullptr;
    }

    // `s` must not be in the index, nor any session with its client id.
    void insert(Session* s) {
        if (size_ + 1 > 2 * buckets_.size()) grow();
        Session*& head = buckets_[bucket(s->client_id)];
        s->index_next = head;
        head = s;
        ++size_;
    }

    void erase(Session* s) {
        if (buckets_.empty()) return;
        for (Session** link = &buckets_[bucket(s->client_id)]; *link; link = &(*link)->index_next) {
            if (*link == s) {
                *link = s->index_next;
                s->index_next = nullptr;
                --size_;
                return;
            }
        }
    }

    class iterator {
    public:
        iterator(const std::vector<Session*>* buckets, size_t bucket)
            : buckets_(buckets), bucket_(bucket) {
            settle();
        }
        std::pair<std::string_view, Session*> operator*() const {
            return {session_->client_id, session_};
        }
        iterator& operator++() {
            session_ = session_->index_next;
            if (!session_) {
                ++bucket_;
                settle();
            }
            return *this;
        }
        bool operator!=(const iterator& o) const {
            return bucket_ != o.bucket_ || session_ != o.session_;
        }
        bool operator==(const iterator& o) const { return !(*this != o); }

    private:
        void settle() {  // to the first session at or after bucket_
            session_ = nullptr;
            while (bucket_ < buckets_->size() && !(session_ = (*buckets_)[bucket_])) ++bucket_;
        }
        const std::vector<Session*>* buckets_;
        size_t bucket_;
        Session* session_ = nullptr;
    };
    // Not valid across insert/erase.
    iterator begin() const { return iterator(&buckets_, 0); }
    iterator end() const { return iterator(&buckets_, buckets_.size()); }

private:
    size_t bucket(std::string_view client_id) const {
        return std::hash<std::string_view>{}(client_id) & (buckets_.size() - 1);
    }

    // Doubles the buckets (a power of two), keeping the load at most 2: chains of two on
    // average cost little (a lookup happens per CONNECT) and halve the bucket array.
    void grow() {
        std::vector<Session*> old(buckets_.empty() ? 16 : buckets_.size() * 2, nullptr);
        old.swap(buckets_);
        for (Session* head : old) {
            while (head) {
                Session* next = head->index_next;
                Session*& slot = buckets_[bucket(head->client_id)];
                head->index_next = slot;
                slot = head;
                head = next;
            }
        }
    }

    std::vector<Session*> buckets_;
    size_t size_ = 0;
};

}  // namespace herald::core
